/*
 * query.c - one-shot questions through the resolver (see query.h): the
 * same transport, cap on queries in flight and deadline as a plan's own
 * queries, for records a plan does not carry.  Owns the query until its
 * callback has run or it is cancelled.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "query.h"

struct oneshot {
	struct query q;
	mx_resolver *r;
	struct event *deadline;
	oneshot_cb cb;
	void *arg;
};

static void
oneshot_free(struct oneshot *o)
{
	answer_clear(&o->q.answer);
	if (o->deadline != NULL)
		event_free(o->deadline);
	free(o);
}

static void
finish(struct oneshot *o)
{
	resolver_lookup_add(o->r, -1);
	o->cb(&o->q.answer, o->arg);
	oneshot_free(o);
}

static void
on_done(struct query *q)
{
	finish(q->owner);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct oneshot *o = arg;
	bool arrived = o->q.state == Q_COMPLETED;

	(void)fd;
	(void)what;
	resolver_cancel(o->r, &o->q);
	if (!arrived)
		answer_set_failure(&o->q.answer, "no answer before the deadline", true);
	finish(o);
}

mx_err
oneshot_start(mx_resolver *r, const char *name, uint16_t qtype,
    unsigned timeout_ms, oneshot_cb cb, void *arg, struct oneshot **out)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct oneshot *o;
	mx_err err;

	if (out != NULL)
		*out = NULL;
	if ((err = resolver_ready(r)) != MX_OK)
		return err;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return MX_ERR_NOMEM;
	o->r = r;
	o->cb = cb;
	o->arg = arg;
	/* A name too long for DNS (a TLSA name over a long host) is not asked. */
	if ((size_t)snprintf(o->q.name, sizeof(o->q.name), "%s.", name) >= sizeof(o->q.name)) {
		oneshot_free(o);
		return MX_ERR_BAD_DOMAIN;
	}
	o->q.qtype = qtype;
	o->q.owner = o;
	o->q.done = on_done;
	o->deadline = evtimer_new(resolver_base(r), on_deadline, o);
	if (o->deadline == NULL || evtimer_add(o->deadline, &tv) != 0) {
		oneshot_free(o);
		return MX_ERR_SYSTEM;
	}
	resolver_lookup_add(r, 1);
	resolver_submit(r, &o->q);
	if (out != NULL)
		*out = o;
	return MX_OK;
}

void
oneshot_cancel(struct oneshot *o)
{
	if (o == NULL)
		return;
	resolver_cancel(o->r, &o->q);
	resolver_lookup_add(o->r, -1);
	oneshot_free(o);
}
