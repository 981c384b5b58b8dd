/*
 * conncache.c - parked SMTP sessions by destination (see conncache.h).
 * A parked entry has its own idle timer; the session tells the cache
 * when the server drops it (smtp_session_park's closed callback), and the
 * entry goes.  Linear search: the cache holds at most CONNCACHE_MAX.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mstime.h"
#include "conncache.h"
#include "smtp_session.h"

struct parked {
	struct conncache *c;
	struct parked *next;
	char key[MX_DOMAIN_MAX + 8];
	struct smtp_session *s;
	struct conncache_peer peer;
	struct event *timer;
	bool quitting; /* QUIT sent; gone when closed runs */
};

struct conncache {
	struct event_base *base;
	struct conncache_limits limits;
	struct parked *list;
	size_t n;
	struct conncache_stats st;
};

void
conncache_limits_default(struct conncache_limits *l)
{
	*l = (struct conncache_limits){
		.idle_ms = 2000, .reuse_ms = 300000, .reuse_count = 0, .max = 100
	};
}

mx_err
conncache_new(
    struct event_base *base, const struct conncache_limits *limits, struct conncache **out)
{
	struct conncache *c;

	if (base == NULL || out == NULL)
		return MX_ERR_INVALID;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MX_ERR_NOMEM;
	c->base = base;
	if (limits != NULL)
		conncache_set_limits(c, limits);
	else
		conncache_limits_default(&c->limits);
	*out = c;
	return MX_OK;
}

void
conncache_set_limits(struct conncache *c, const struct conncache_limits *limits)
{
	c->limits = *limits;
	if (c->limits.max > CONNCACHE_MAX)
		c->limits.max = CONNCACHE_MAX;
}

static void
unlink_entry(struct parked *p)
{
	struct conncache *c = p->c;

	for (struct parked **pp = &c->list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			c->n--;
			break;
		}
	}
	event_free(p->timer);
	free(p);
}

/* The session is gone (server hung up, or our QUIT was answered). */
static void
on_closed(void *arg)
{
	struct parked *p = arg;

	if (!p->quitting)
		p->c->st.dropped++;
	unlink_entry(p);
}

static void
quit_entry(struct parked *p)
{
	if (p->quitting)
		return;
	p->quitting = true;
	evtimer_del(p->timer);
	smtp_session_quit(p->s); /* on_closed follows from the loop */
}

static void
on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct parked *p = arg;

	(void)fd;
	(void)what;
	p->c->st.expired++;
	quit_entry(p);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
allowed(const struct conncache *c, const struct conncache_peer *peer)
{
	if (c->n >= c->limits.max || c->limits.idle_ms == 0)
		return false;
	if (c->limits.reuse_count > 0 && peer->transactions >= c->limits.reuse_count)
		return false;
	return (now_s() - peer->opened) * 1000.0 < (double)c->limits.reuse_ms;
}

bool
conncache_put(
    struct conncache *c, const char *key, struct smtp_session *s, const struct conncache_peer *peer)
{
	struct timeval tv;
	struct parked *p;

	if (c == NULL || key == NULL || s == NULL || strlen(key) >= sizeof(p->key) ||
	    !allowed(c, peer) || (p = calloc(1, sizeof(*p))) == NULL)
		return false;
	if ((p->timer = evtimer_new(c->base, on_idle, p)) == NULL) {
		free(p);
		return false;
	}
	p->c = c;
	p->s = s;
	p->peer = *peer;
	memcpy(p->key, key, strlen(key) + 1);
	tv = ms_timeval(c->limits.idle_ms);
	evtimer_add(p->timer, &tv);
	smtp_session_park(s, on_closed, p);
	p->next = c->list;
	c->list = p;
	c->n++;
	c->st.parked++;
	return true;
}

struct smtp_session *
conncache_take(struct conncache *c, const char *key, struct conncache_peer *peer)
{
	struct parked *p;
	struct smtp_session *s;

	if (c == NULL || key == NULL)
		return NULL;
	for (p = c->list; p != NULL; p = p->next)
		if (!p->quitting && strcmp(p->key, key) == 0)
			break;
	if (p == NULL)
		return NULL;
	s = p->s;
	*peer = p->peer;
	smtp_session_park(s, NULL, NULL); /* no longer the cache's to hear of */
	/* The taker gives the session its own closed callback (smtp_session_next). */
	unlink_entry(p);
	c->st.reused++;
	return s;
}

void
conncache_flush(struct conncache *c)
{
	if (c == NULL)
		return;
	for (struct parked *p = c->list; p != NULL; p = p->next)
		quit_entry(p);
}

void
conncache_free(struct conncache *c)
{
	struct parked *p, *next;

	if (c == NULL)
		return;
	for (p = c->list; p != NULL; p = next) {
		next = p->next;
		/* Freed now: the session must not call back into the cache, and
		 * closes without waiting for QUIT's reply (the caller's loop
		 * frees it at its next turn). */
		smtp_session_park(p->s, NULL, NULL);
		smtp_session_cancel(p->s);
		event_free(p->timer);
		free(p);
	}
	free(c);
}

void
conncache_get_stats(const struct conncache *c, struct conncache_stats *out)
{
	*out = c->st;
	out->idle = c->n;
}
