/*
 * daemon_sender.c - what the daemon's deliveries go through (struct dgen:
 * a sender and its resolver): the caller's first one, then those that
 * SIGHUP's settings make (mx_daemon_set_sender).  New entry passes take
 * the newest; a replaced one lives until the passes begun with it are
 * done, then it is freed (when the daemon owns it) from an event of its
 * own, never from inside a delivery's callback, whose caller may still
 * use the sender.  It never delivers and never schedules.
 */
#include <event2/event.h>
#include <stdlib.h>

#include "conncache.h"
#include "daemon_sender.h"
#include "daemon_state.h"
#include "resolver.h"
#include "sender.h"
#include "why.h"

mx_err
daemon_gen_init(mx_daemon *d, mx_sender *sender, mx_resolver *resolver)
{
	if ((d->gen = calloc(1, sizeof(*d->gen))) == NULL)
		return MX_ERR_NOMEM;
	*d->gen = (struct dgen){ .sender = sender, .resolver = resolver };
	d->sender = sender;
	d->resolver = resolver;
	return MX_OK;
}

static void
gen_free(struct dgen *g)
{
	if (g->owned) {
		mx_sender_free(g->sender); /* before its resolver */
		mx_resolver_free(g->resolver);
	}
	free(g);
}

/* Frees the replaced gens no pass uses any more. */
static void
gen_reap(mx_daemon *d)
{
	struct dgen **pp = &d->replaced;

	while (*pp != NULL) {
		struct dgen *g = *pp;
		if (g->active > 0) {
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		gen_free(g);
	}
}

static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gen_reap(arg);
}

mx_err
daemon_gen_watch(mx_daemon *d)
{
	d->reap = evtimer_new(d->base, on_reap, d);
	return d->reap != NULL ? MX_OK : MX_ERR_NOMEM;
}

void
daemon_gen_begin(mx_daemon *d, struct dentry *e)
{
	e->gen = d->gen;
	e->gen->active++;
}

void
daemon_gen_end(mx_daemon *d, struct dentry *e)
{
	struct timeval now = { 0, 0 };

	if (e->gen == NULL)
		return;
	e->gen->active--;
	if (e->gen != d->gen && e->gen->active == 0 && d->reap != NULL)
		evtimer_add(d->reap, &now);
	e->gen = NULL;
}

/* At the end: everything, the loop stopped (mx_daemon_free). */
void
daemon_gen_clear(mx_daemon *d)
{
	if (d->reap != NULL)
		event_free(d->reap);
	d->reap = NULL;
	while (d->replaced != NULL) {
		struct dgen *g = d->replaced;
		d->replaced = g->next;
		gen_free(g);
	}
	if (d->gen != NULL)
		gen_free(d->gen);
	d->gen = NULL;
}

struct event_base *
mx_daemon_event_base(mx_daemon *d)
{
	return d != NULL ? d->base : NULL;
}

mx_err
mx_daemon_set_sender(mx_daemon *d, mx_sender *sender, mx_resolver *resolver, mx_why *why)
{
	struct dgen *g;
	mx_err err;

	why_clear(why);
	if (d == NULL || sender == NULL || resolver == NULL || sender->resolver != resolver ||
	    resolver_base(resolver) != d->base)
		return why_set(why, MX_ERR_INVALID,
		    "the sender must use the resolver, made on the daemon's event loop");
	if ((err = resolver_ready(resolver, why)) != MX_OK)
		return err;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	*g = (struct dgen){ .sender = sender, .resolver = resolver, .owned = true };
	sender_set_cache(sender, d->cache);
	d->gen->next = d->replaced;
	d->replaced = d->gen;
	d->gen = g;
	d->sender = sender;
	d->resolver = resolver;
	/* Connections kept were opened with the old settings (TLS, HELO). */
	if (d->cache != NULL)
		conncache_flush(d->cache);
	gen_reap(d); /* from a signal's or the caller's turn: no delivery's call */
	return MX_OK;
}
