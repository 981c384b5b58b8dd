/*
 * query.c - one-shot questions through the resolver (see query.h): the
 * same transport, cap on queries in flight and deadline as a plan's own
 * queries, for records a plan does not carry.  Owns the query until its
 * callback has run or it is cancelled.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound-event.h>
#include <unbound.h>

#include "mstime.h"
#include "query.h"

/* A question's name as oneshot_start is given it, and the dot. */
#define ONESHOT_NAME_MAX (MX_DOMAIN_MAX + 2)

struct oneshot {
	struct query q;
	char name[ONESHOT_NAME_MAX]; /* q.name */
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
oneshot_start(mx_resolver *r, const char *name, uint16_t qtype, unsigned timeout_ms, oneshot_cb cb,
    void *arg, struct oneshot **out)
{
	struct timeval tv = ms_timeval(timeout_ms);
	struct oneshot *o;
	mx_err err;

	if (out != NULL)
		*out = NULL;
	if ((err = resolver_ready(r, NULL)) != MX_OK)
		return err;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return MX_ERR_NOMEM;
	o->r = r;
	o->cb = cb;
	o->arg = arg;
	/* A name too long for DNS (a TLSA name over a long host) is not asked. */
	o->q.name = o->name;
	if ((size_t)snprintf(o->name, sizeof(o->name), "%s.", name) >= sizeof(o->name)) {
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

/* ---- raw questions ------------------------------------------------------ */

struct rawquery {
	mx_resolver *r;
	int async_id;
	bool on_wire;
	struct event *deadline; /* also hands the answer back from the loop */
	uint8_t *wire;
	size_t len;
	int rcode;
	answer_security sec;
	char why[160];
	rawquery_cb cb;
	void *arg;
};

static void
rawquery_free(struct rawquery *q)
{
	if (q->deadline != NULL)
		event_free(q->deadline);
	free(q->wire);
	free(q);
}

/* The deadline, or the answer being handed back (then on_wire is false). */
static void
raw_finish(evutil_socket_t fd, short what, void *arg)
{
	struct rawquery *q = arg;

	(void)fd;
	(void)what;
	if (q->on_wire) {
		ub_cancel(resolver_unbound(q->r), q->async_id);
		q->on_wire = false;
		q->rcode = -1;
		snprintf(q->why, sizeof(q->why), "no answer before the deadline");
	}
	resolver_lookup_add(q->r, -1);
	q->cb(q->wire, q->len, q->rcode, q->sec, q->why, q->arg);
	rawquery_free(q);
}

/* libunbound's callback: keep a copy, answer from the loop. */
static void
raw_answer(void *arg, int rcode, void *packet, int len, int sec, char *why_bogus, int ratelimited)
{
	struct rawquery *q = arg;
	struct timeval now = { 0, 0 };

	(void)ratelimited;
	q->on_wire = false;
	q->rcode = rcode;
	q->sec = resolver_security(q->r, sec);
	if (sec == 1) {
		snprintf(q->why, sizeof(q->why), "%s",
		    why_bogus ? why_bogus : "DNSSEC validation failed");
	} else if (packet != NULL && len > 0 && (q->wire = malloc((size_t)len)) != NULL) {
		memcpy(q->wire, packet, (size_t)len);
		q->len = (size_t)len;
	} else {
		snprintf(q->why, sizeof(q->why), "%s",
		    rcode == 2       ? "SERVFAIL"
			: rcode == 5 ? "REFUSED"
				     : "no reply");
	}
	evtimer_del(q->deadline);
	evtimer_add(q->deadline, &now);
}

mx_err
rawquery_start(mx_resolver *r, const char *name, uint16_t qtype, unsigned timeout_ms,
    rawquery_cb cb, void *arg, struct rawquery **out)
{
	struct timeval tv = ms_timeval(timeout_ms);
	struct rawquery *q;
	mx_err err;

	if (out != NULL)
		*out = NULL;
	if ((err = resolver_ready(r, NULL)) != MX_OK)
		return err;
	if (resolver_unbound(r) == NULL)
		return MX_ERR_INVALID;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return MX_ERR_NOMEM;
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	q->deadline = evtimer_new(resolver_base(r), raw_finish, q);
	if (q->deadline == NULL || evtimer_add(q->deadline, &tv) != 0) {
		rawquery_free(q);
		return MX_ERR_SYSTEM;
	}
	q->on_wire = true;
	if (ub_resolve_event(resolver_unbound(r), name, qtype, 1, q, raw_answer, &q->async_id) !=
	    0) {
		rawquery_free(q);
		return MX_ERR_SYSTEM;
	}
	resolver_lookup_add(r, 1);
	if (out != NULL)
		*out = q;
	return MX_OK;
}

void
rawquery_cancel(struct rawquery *q)
{
	if (q == NULL)
		return;
	if (q->on_wire)
		ub_cancel(resolver_unbound(q->r), q->async_id);
	resolver_lookup_add(q->r, -1);
	rawquery_free(q);
}
