/*
 * check_probes.c - probes shared between checks (`mx check --bulk
 * --smtp`): a cache of what each (MX host, address) said, so that a
 * provider's servers named by a thousand domains are probed once.  A run
 * (struct shared_probe) gets every target's result: from the cache, from
 * a probe another run has under way (it waits for it), or from its own
 * probe of the rest (probe.c).  Its callback always runs from the loop,
 * never from inside a start or a wake-up.  Owns the cache's entries and
 * each run's bookkeeping; never judges a result (check_smtp.c does).
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "check_probes.h"

#define BUCKETS     4096
#define ENTRIES_MAX 16384 /* past this, targets are probed without sharing */

struct entry;

/* A run waiting for another run's probe of target i. */
struct waiter {
	struct shared_probe *sp;
	size_t i;
	struct entry *e; /* NULL once woken or unlinked */
	struct waiter *next;
};

struct entry {
	char host[NAME_TEXT_MAX];
	struct ip_addr addr;
	uint16_t port;
	bool done;
	struct shared_probe *owner; /* probing it, while !done */
	struct probe_result r;
	struct waiter *waiters;
	struct entry *next;
};

struct mx_check_probes {
	struct entry *bucket[BUCKETS];
	size_t n_entries;
	unsigned long probed, reused;
};

struct shared_probe {
	struct mx_check_probes *cache;
	struct probe *probe;
	struct event *done_ev;
	size_t pending; /* own probe (1) plus waiters */
	bool lost;      /* a probe waited for was cancelled */
	struct probe_result *results;
	size_t n_own;
	size_t own[LIVE_PROBES_MAX];              /* target index of each own probe */
	struct entry *own_entry[LIVE_PROBES_MAX]; /* NULL: not shared */
	struct probe_target own_targets[LIVE_PROBES_MAX];
	struct waiter waiters[LIVE_PROBES_MAX];
	size_t n_waiters;
	shared_probe_cb cb;
	void *arg;
};

mx_err
mx_check_probes_new(mx_check_probes **out)
{
	if (out == NULL)
		return MX_ERR_INVALID;
	*out = calloc(1, sizeof(**out));
	return *out ? MX_OK : MX_ERR_NOMEM;
}

void
mx_check_probes_free(mx_check_probes *p)
{
	if (p == NULL)
		return;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct entry *e = p->bucket[b], *next; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(p);
}

void
mx_check_probes_stats(const mx_check_probes *p, unsigned long *probed, unsigned long *reused)
{
	*probed = p ? p->probed : 0;
	*reused = p ? p->reused : 0;
}

static size_t
bucket_of(const struct probe_target *t)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *s = t->host; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	for (size_t k = 0; k < sizeof(t->addr.bytes); k++)
		h = (h ^ t->addr.bytes[k]) * 1099511628211ull;
	return (size_t)((h ^ t->port) % BUCKETS);
}

static struct entry **
find(struct mx_check_probes *p, const struct probe_target *t)
{
	struct entry **e = &p->bucket[bucket_of(t)];

	for (; *e != NULL; e = &(*e)->next)
		if ((*e)->port == t->port && (*e)->addr.family == t->addr.family &&
		    memcmp((*e)->addr.bytes, t->addr.bytes, sizeof(t->addr.bytes)) == 0 &&
		    strcmp((*e)->host, t->host) == 0)
			return e;
	return e;
}

static void
schedule_if_done(struct shared_probe *sp)
{
	static const struct timeval now = { 0, 0 };

	if (sp->pending == 0)
		evtimer_add(sp->done_ev, &now);
}

/* Hands r (NULL: the probe was cancelled) to everyone waiting on e. */
static void
wake(struct entry *e, const struct probe_result *r)
{
	struct waiter *w = e->waiters;

	e->waiters = NULL;
	while (w != NULL) {
		struct waiter *next = w->next;
		w->e = NULL;
		if (r != NULL)
			w->sp->results[w->i] = *r;
		else
			w->sp->lost = true;
		w->sp->pending--;
		schedule_if_done(w->sp);
		w = next;
	}
}

static void
on_own(const struct probe_target *targets, const struct probe_result *results, size_t n, void *arg)
{
	struct shared_probe *sp = arg;

	(void)targets;
	sp->probe = NULL;
	for (size_t k = 0; k < n && k < sp->n_own; k++) {
		struct entry *e = sp->own_entry[k];
		sp->results[sp->own[k]] = results[k];
		if (e == NULL)
			continue;
		e->r = results[k];
		e->done = true;
		e->owner = NULL;
		sp->own_entry[k] = NULL;
		wake(e, &e->r);
	}
	sp->pending--;
	schedule_if_done(sp);
}

static void
on_done_ev(evutil_socket_t fd, short what, void *arg)
{
	struct shared_probe *sp = arg;

	(void)fd;
	(void)what;
	/* Everything is woken and our probe has ended: nothing left to unlink. */
	sp->cb(!sp->lost, sp->arg);
	event_free(sp->done_ev);
	free(sp);
}

/* Where target i's result comes from: the cache, a waiter, or our probe. */
static void
place(struct shared_probe *sp, const struct probe_target *t, size_t i)
{
	struct mx_check_probes *p = sp->cache;
	struct entry **slot = p ? find(p, t) : NULL, *e = slot ? *slot : NULL;
	struct waiter *w;

	if (e != NULL && e->done) {
		sp->results[i] = e->r;
		p->reused++;
		return;
	}
	if (e != NULL) {
		w = &sp->waiters[sp->n_waiters++];
		*w = (struct waiter){ sp, i, e, e->waiters };
		e->waiters = w;
		sp->pending++;
		p->reused++;
		return;
	}
	if (slot != NULL && p->n_entries < ENTRIES_MAX && (e = calloc(1, sizeof(*e))) != NULL) {
		memcpy(e->host, t->host, sizeof(e->host));
		e->addr = t->addr;
		e->port = t->port;
		e->owner = sp;
		*slot = e;
		p->n_entries++;
	}
	if (p != NULL)
		p->probed++;
	sp->own[sp->n_own] = i;
	sp->own_entry[sp->n_own] = e;
	sp->own_targets[sp->n_own++] = *t;
}

mx_err
shared_probe_start(struct mx_check_probes *cache, struct event_base *base,
    const struct probe_config *cfg, const struct probe_target *targets, size_t n,
    struct probe_result *results, shared_probe_cb cb, void *arg, struct shared_probe **out)
{
	struct shared_probe *sp;
	mx_err err;

	if (n > LIVE_PROBES_MAX || (sp = calloc(1, sizeof(*sp))) == NULL)
		return MX_ERR_NOMEM;
	*sp = (struct shared_probe){ .cache = cache, .results = results, .cb = cb, .arg = arg };
	if ((sp->done_ev = evtimer_new(base, on_done_ev, sp)) == NULL) {
		free(sp);
		return MX_ERR_SYSTEM;
	}
	for (size_t i = 0; i < n; i++)
		place(sp, &targets[i], i);
	sp->pending++; /* our own probe, even of nothing: it calls back from the loop */
	err = probe_start(base, cfg, sp->own_targets, sp->n_own, on_own, sp, &sp->probe);
	if (err != MX_OK) {
		sp->pending--;
		shared_probe_cancel(sp);
		return err;
	}
	*out = sp;
	return MX_OK;
}

static void
unlink_waiter(struct waiter *w)
{
	struct waiter **p;

	if (w->e == NULL)
		return;
	for (p = &w->e->waiters; *p != NULL; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	w->e = NULL;
}

void
shared_probe_cancel(struct shared_probe *sp)
{
	if (sp == NULL)
		return;
	probe_cancel(sp->probe);
	for (size_t k = 0; k < sp->n_own; k++) {
		struct entry *e = sp->own_entry[k], **slot;
		if (e == NULL)
			continue;
		/* Never probed to the end: forgotten, and its waiters told. */
		slot = find(sp->cache, &sp->own_targets[k]);
		if (*slot == e)
			*slot = e->next;
		sp->cache->n_entries--;
		wake(e, NULL);
		free(e);
	}
	for (size_t k = 0; k < sp->n_waiters; k++)
		unlink_waiter(&sp->waiters[k]);
	event_free(sp->done_ev);
	free(sp);
}
