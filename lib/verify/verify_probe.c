/*
 * verify_probe.c - one probe of a domain's better MX hosts (see
 * verify_probe.h): the plan from lookup.c, the addresses of the hosts
 * better than this one, a connection race over them (connect.c), and one
 * session of smtp_session.c with no message: RCPT TO then QUIT, or EHLO
 * then QUIT.  A host that fails before RCPT is answered (refused, timed
 * out, 4xx greeting) gives way to the next address; a RCPT reply is the
 * answer.  It owns its race and session; it is registered with the
 * resolver as work, so that a probe left running when the resolver goes
 * is freed with it.  No STARTTLS: no message goes, only an address.
 */
#include <event2/event.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"
#include "mstime.h"
#include "resolver.h"
#include "smtp_session.h"
#include "verify_probe.h"

#define PROBE_ADDRS_MAX 64 /* addresses of better hosts tried at most */

struct verify_probe {
	struct resolver_work work; /* freed by mx_resolver_free when still here */
	mx_resolver *r;
	struct event_base *base;
	verify_cb cb; /* NULL once reported or cancelled */
	void *arg;
	bool in_route; /* the plan is still coming: freed when it comes */
	bool ping;
	char domain[MX_DOMAIN_MAX + 1];
	char rcpt[321];
	const char *rcpts[1];
	char helo[MX_DOMAIN_MAX + 1];
	struct sockaddr_storage self[VERIFY_SELF_MAX];
	size_t n_self;
	uint16_t port;
	unsigned deadline_ms;
	struct sockaddr_storage addrs[PROBE_ADDRS_MAX];
	socklen_t lens[PROBE_ADDRS_MAX];
	char hosts[PROBE_ADDRS_MAX][MX_DOMAIN_MAX + 1];
	size_t n, next, cur;
	struct connect_race *race;
	struct smtp_session *session;
	struct event *deadline;
	struct smtp_txn txn;
	struct verify_result res;
};

const char *
verify_answer_name(enum verify_answer answer)
{
	switch (answer) {
	case VERIFY_ACCEPTED: return "accepted";
	case VERIFY_REFUSED: return "refused";
	default: return "unknown";
	}
}

mx_err
verify_policy_new(const char *hostname, mx_policy **out)
{
	mx_err err = mx_policy_new(out);

	if (err == MX_OK)
		(void)mx_policy_add_local_name(*out, hostname);
	return err;
}

void
verify_policy_free(mx_policy *policy)
{
	mx_policy_free(policy);
}

static void
probe_stop_io(struct verify_probe *p)
{
	connect_race_cancel(p->race);
	p->race = NULL;
	if (p->session != NULL)
		smtp_session_cancel(p->session);
	p->session = NULL;
	if (p->deadline != NULL)
		event_del(p->deadline);
}

static void
probe_free(struct verify_probe *p)
{
	probe_stop_io(p);
	resolver_work_remove(p->r, &p->work);
	if (p->deadline != NULL)
		event_free(p->deadline);
	free(p);
}

/* mx_resolver_free: everything released, no callback. */
static void
probe_work_cancel(struct resolver_work *w)
{
	probe_free(
	    (struct verify_probe *)(void *)((char *)w - offsetof(struct verify_probe, work)));
}

/* The answer goes to the owner once; the probe goes once nothing of it
 * is pending (a DNS lookup cannot be withdrawn: its callback frees it). */
static void
probe_report(struct verify_probe *p, enum verify_answer answer, const char *fmt, const char *s)
{
	verify_cb cb = p->cb;

	probe_stop_io(p);
	p->res.answer = answer;
	if (fmt != NULL)
		snprintf(p->res.text, sizeof(p->res.text), fmt, s);
	p->cb = NULL;
	if (cb != NULL)
		cb(&p->res, p->arg);
	if (!p->in_route)
		probe_free(p);
}

void
verify_probe_cancel(struct verify_probe *p)
{
	if (p == NULL)
		return;
	p->cb = NULL;
	probe_stop_io(p);
	if (!p->in_route)
		probe_free(p);
}

static bool
is_self(const struct verify_probe *p, const struct sockaddr_storage *a)
{
	for (size_t i = 0; i < p->n_self; i++) {
		const struct sockaddr_storage *s = &p->self[i];
		if (s->ss_family != a->ss_family)
			continue;
		if (a->ss_family == AF_INET &&
		    memcmp(&((const struct sockaddr_in *)(const void *)s)->sin_addr,
			&((const struct sockaddr_in *)(const void *)a)->sin_addr, 4) == 0)
			return true;
		if (a->ss_family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)(const void *)s)->sin6_addr,
			&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

/* The lowest preference of a host that is this host by address (RFC
 * 5321 5.1: it and every host not better are dropped); 65536: none. */
static unsigned
self_preference(const struct verify_probe *p, const mx_plan *plan)
{
	unsigned cut = 65536;

	for (size_t h = 0; h < mx_plan_host_count(plan); h++) {
		const mx_host *host = mx_plan_host(plan, h);
		for (size_t i = 0; i < mx_host_address_count(host); i++) {
			struct sockaddr_storage ss;
			if (mx_host_address_sockaddr(host, i, p->port, &ss) > 0 &&
			    is_self(p, &ss) && mx_host_preference(host) < cut)
				cut = mx_host_preference(host);
		}
	}
	return cut;
}

/* The addresses of the usable hosts better than this one, plan order. */
static void
collect(struct verify_probe *p, const mx_plan *plan)
{
	unsigned cut = self_preference(p, plan);

	for (size_t h = 0; h < mx_plan_host_count(plan); h++) {
		const mx_host *host = mx_plan_host(plan, h);
		if (mx_host_status_of(host) != MX_HOST_OK || mx_host_preference(host) >= cut)
			continue;
		for (size_t i = 0; i < mx_host_address_count(host) && p->n < PROBE_ADDRS_MAX; i++) {
			p->lens[p->n] = mx_host_address_sockaddr(host, i, p->port, &p->addrs[p->n]);
			if (p->lens[p->n] == 0)
				continue;
			snprintf(p->hosts[p->n], sizeof(p->hosts[0]), "%s", mx_host_name(host));
			p->n++;
		}
	}
}

static void race_from(struct verify_probe *p, size_t from);

static void
on_session(const struct smtp_session_result *r, void *arg)
{
	struct verify_probe *p = arg;
	const struct smtp_rcpt_result *rr = r->n_rcpts > 0 ? &r->rcpts[0] : NULL;

	p->session = NULL; /* it frees itself after this callback */
	snprintf(p->res.host, sizeof(p->res.host), "%s", p->hosts[p->cur]);
	if (p->ping && r->outcome == SMTP_COMPLETED) {
		probe_report(p, VERIFY_ACCEPTED, "%s answered", p->hosts[p->cur]);
		return;
	}
	if (rr != NULL && rr->class != 0) {
		p->res.code = rr->code;
		probe_report(p,
		    rr->class == 2       ? VERIFY_ACCEPTED
			: rr->class == 5 ? VERIFY_REFUSED
					 : VERIFY_UNKNOWN,
		    "%s", rr->text);
		return;
	}
	if (r->outcome == SMTP_PERMANENT) { /* MAIL FROM:<> refused: it cannot tell */
		probe_report(p, VERIFY_UNKNOWN, "%s", r->text);
		return;
	}
	p->res.host[0] = '\0';
	race_from(p, p->cur + 1);
}

static void
on_connect(const struct connect_result *cr, void *arg)
{
	struct verify_probe *p = arg;
	struct smtp_session_opts so = { 0 };

	p->race = NULL;
	if (cr->fd < 0) {
		probe_report(p, VERIFY_UNKNOWN, "no better MX host of %s answers", p->domain);
		return;
	}
	p->cur = p->next + cr->index;
	smtp_timeouts_default(&so.timeouts);
	so.peer_name = p->hosts[p->cur];
	so.tls = TLS_MAY;
	if (smtp_session_start(p->base, cr->fd, &p->txn, &so, on_session, p, &p->session) != MX_OK)
		probe_report(p, VERIFY_UNKNOWN, "%s", "out of memory for the SMTP session");
}

static void
race_from(struct verify_probe *p, size_t from)
{
	struct connect_opts co;

	if (from >= p->n) {
		probe_report(p, VERIFY_UNKNOWN, "no better MX host of %s answers", p->domain);
		return;
	}
	connect_opts_default(&co);
	co.deadline_ms = p->deadline_ms;
	co.connect_timeout_ms =
	    p->deadline_ms < co.connect_timeout_ms ? p->deadline_ms : co.connect_timeout_ms;
	p->next = from;
	if (connect_race_start(p->base, p->addrs + from, p->lens + from, p->n - from, &co,
		on_connect, p, &p->race) != MX_OK)
		probe_report(p, VERIFY_UNKNOWN, "%s", "cannot start connecting");
}

static void
on_plan(mx_plan *plan, void *arg)
{
	struct verify_probe *p = arg;

	p->in_route = false;
	if (p->cb == NULL) { /* reported (deadline) or cancelled meanwhile */
		mx_plan_free(plan);
		probe_free(p);
		return;
	}
	collect(p, plan);
	if (p->n == 0) {
		snprintf(p->res.text, sizeof(p->res.text),
		    "no MX host of %s is better than this one%s%s", p->domain,
		    mx_plan_status(plan) == MX_STATUS_OK ? "" : ": ",
		    mx_plan_status(plan) == MX_STATUS_OK ? "" : mx_plan_reason(plan));
		mx_plan_free(plan);
		probe_report(p, VERIFY_UNKNOWN, NULL, NULL);
		return;
	}
	mx_plan_free(plan);
	race_from(p, 0);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct verify_probe *p = arg;

	(void)fd, (void)what;
	probe_report(
	    p, VERIFY_UNKNOWN, "no answer from the better MX hosts of %s in time", p->domain);
}

static void
probe_fill(
    struct verify_probe *p, const struct verify_probe_opts *o, const char *domain, const char *rcpt)
{
	p->r = o->resolver;
	p->base = resolver_base(o->resolver);
	p->ping = rcpt == NULL;
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
	snprintf(p->rcpt, sizeof(p->rcpt), "%s", rcpt ? rcpt : "");
	snprintf(p->helo, sizeof(p->helo), "%s", o->helo);
	p->n_self = o->n_self < VERIFY_SELF_MAX ? o->n_self : VERIFY_SELF_MAX;
	if (p->n_self > 0)
		memcpy(p->self, o->self, p->n_self * sizeof(*p->self));
	p->port = o->port;
	p->deadline_ms = o->deadline_ms;
	p->rcpts[0] = p->rcpt;
	p->txn.helo = p->helo;
	p->txn.mail_from = "";
	p->txn.rcpts = p->rcpts;
	p->txn.n_rcpts = p->ping ? 0 : 1;
	p->work.cancel = probe_work_cancel;
}

mx_err
verify_probe_start(const struct verify_probe_opts *o, const char *domain, const char *rcpt,
    verify_cb cb, void *arg, struct verify_probe **out)
{
	struct verify_probe *p;
	struct timeval tv;

	*out = NULL;
	if (o->deadline_ms == 0 || strlen(domain) > MX_DOMAIN_MAX || (rcpt && strlen(rcpt) > 320))
		return MX_ERR_INVALID;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MX_ERR_NOMEM;
	probe_fill(p, o, domain, rcpt);
	p->cb = cb;
	p->arg = arg;
	tv = ms_timeval(o->deadline_ms);
	if ((p->deadline = evtimer_new(p->base, on_deadline, p)) == NULL ||
	    evtimer_add(p->deadline, &tv) != 0 ||
	    mx_route_start(o->resolver, o->policy, domain, on_plan, p, NULL) != MX_OK) {
		probe_free(p);
		return MX_ERR_SYSTEM;
	}
	p->in_route = true;
	resolver_work_add(p->r, &p->work);
	*out = p;
	return MX_OK;
}
