/*
 * lookup.c - one domain's plan, from the MX query through the address
 * queries to the finished plan, against a deadline.  It drives route.c
 * with the answers resolver.c hands back; it owns the plan until the
 * caller's callback takes it.  Also the synchronous wrapper.  The policy
 * it copies into every lookup is policy.c's.
 */
#include <assert.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver.h"
#include "why.h"
#include "route.h"

#define LOOKUP_INLINE_QUERIES 10 /* A and AAAA of five hosts: nearly all domains */

/*
 * A lookup is a few kilobytes.  Allocated and freed once per domain, with
 * a thousand in flight, blocks of that size kept glibc's allocator busy
 * splitting and merging chunks (more so the more are in flight); finished
 * lookups go back to the resolver (resolver_spare_give) and are reused as
 * they are, address queries of the first five hosts included (those of
 * more take a block of over a kilobyte, where glibc first merges its free
 * lists: that was one domain in seven), and so is the deadline's event,
 * which lives in the same block (lookup_deadline).
 */
struct lookup {
	mx_resolver *r;
	mx_plan *plan;
	mx_policy policy;
	mx_route_cb cb;
	void *arg;
	bool deadline_set; /* the event is assigned (and maybe pending) */
	struct query mxq;
	struct query *addrq; /* two per host: A then AAAA; inline_q or heap */
	size_t n_addrq;
	size_t pending;
	struct resolver_work work; /* cancelled by mx_resolver_free */
	/* Not zeroed on reuse: start_address_queries zeroes what it uses. */
	struct query inline_q[LOOKUP_INLINE_QUERIES];
};

/* The deadline's event, after the struct (its size is libevent's to say). */
#define LOOKUP_EVENT_AT ((sizeof(struct lookup) + 15) & ~(size_t)15)

static size_t
lookup_block_size(void)
{
	return LOOKUP_EVENT_AT + event_get_struct_event_size();
}

static struct event *
lookup_deadline(struct lookup *lk)
{
	return (struct event *)(void *)((char *)lk + LOOKUP_EVENT_AT);
}

static void
lookup_free(struct lookup *lk)
{
	resolver_work_remove(lk->r, &lk->work);
	if (lk->deadline_set)
		event_del(lookup_deadline(lk));
	for (size_t i = 0; i < lk->n_addrq; i++)
		answer_clear(&lk->addrq[i].answer);
	answer_clear(&lk->mxq.answer);
	if (lk->addrq != lk->inline_q)
		free(lk->addrq);
	mx_plan_free(lk->plan);
	policy_release(&lk->policy);
	resolver_spare_give(lk->r, lk, lookup_block_size());
}

/* mx_resolver_free: every query withdrawn, the plan freed, no callback. */
static void
lookup_cancel(struct resolver_work *w)
{
	struct lookup *lk = (struct lookup *)(void *)((char *)w - offsetof(struct lookup, work));

	resolver_cancel(lk->r, &lk->mxq);
	for (size_t i = 0; i < lk->n_addrq; i++)
		resolver_cancel(lk->r, &lk->addrq[i]);
	resolver_lookup_add(lk->r, -1);
	lookup_free(lk);
}

/* The lookup is released before the callback, which may start others. */
static void
lookup_finish(struct lookup *lk)
{
	mx_plan *plan = lk->plan;
	mx_route_cb cb = lk->cb;
	void *arg = lk->arg;

	route_finish(plan);
	lk->plan = NULL;
	resolver_lookup_add(lk->r, -1);
	lookup_free(lk);
	cb(plan, arg);
}

/* name: the plan's domain or one of its hosts' names (lives as long as lk). */
static void
query_init(struct query *q, struct lookup *lk, const char *name, uint16_t qtype, size_t host,
    query_done_fn done)
{
	/* Domains and the exchanges that need addresses are host names. */
	assert(strlen(name) <= MX_DOMAIN_MAX);
	q->name = name;
	q->qtype = qtype;
	q->owner = lk;
	q->host = host;
	q->done = done;
	q->state = Q_IDLE;
}

static void
on_address(struct query *q)
{
	struct lookup *lk = q->owner;

	if (route_add_addresses(lk->plan, q->host, q->qtype, &q->answer, &lk->policy) != MX_OK) {
		/* Recorded as a temporary failure: that path allocates nothing. */
		answer_clear(&q->answer);
		answer_set_failure(&q->answer, "out of memory", false);
		route_add_addresses(lk->plan, q->host, q->qtype, &q->answer, &lk->policy);
	}
	answer_clear(&q->answer);
	if (--lk->pending == 0)
		lookup_finish(lk);
}

/* families_pending: bit 0 A, bit 1 AAAA (plan.h). */
static unsigned
family_bit(uint16_t qtype)
{
	return qtype == RR_TYPE_A ? 1u : 2u;
}

/*
 * Routes host i's addresses of one family from the MX reply's additional
 * section, if it holds any (answer.c keeps only those of in-bailiwick
 * exchanges); that family is then not asked.  One missing there still
 * is: the additional section is a courtesy, its silence proves nothing.
 */
static mx_err
glue_family(struct lookup *lk, const struct answer *mx, size_t i, uint16_t qtype)
{
	struct ip_addr found[ANSWER_MAX_ADDRS];
	struct answer a;
	size_t n = 0;

	for (size_t g = 0; g < mx->n_glue && n < ANSWER_MAX_ADDRS; g++)
		if (mx->glue[g].qtype == qtype &&
		    strcmp(mx->mx[mx->glue[g].mx].exchange, lk->plan->hosts[i].name) == 0)
			found[n++] = mx->glue[g].addr;
	if (n == 0)
		return MX_OK;
	memset(&a, 0, sizeof(a));
	a.kind = ANSWER_RECORDS;
	a.security = mx->security;
	a.addrs = found;
	a.n_addrs = n;
	return route_add_addresses(lk->plan, i, qtype, &a, &lk->policy);
}

static mx_err
use_glue(struct lookup *lk, const struct answer *mx)
{
	mx_err err = MX_OK;

	for (size_t i = 0; i < lk->plan->n_hosts && err == MX_OK; i++) {
		if (!lk->plan->hosts[i].need_addresses)
			continue;
		if ((err = glue_family(lk, mx, i, RR_TYPE_A)) == MX_OK)
			err = glue_family(lk, mx, i, RR_TYPE_AAAA);
	}
	return err;
}

static void
add_address_query(struct lookup *lk, size_t i, uint16_t qtype)
{
	if (lk->plan->hosts[i].families_pending & family_bit(qtype))
		query_init(
		    &lk->addrq[lk->n_addrq++], lk, lk->plan->hosts[i].name, qtype, i, on_address);
}

/* A and AAAA of every host that needs them, but what glue already gave. */
static mx_err
start_address_queries(struct lookup *lk)
{
	mx_plan *plan = lk->plan;
	size_t n = 0;

	for (size_t i = 0; i < plan->n_hosts; i++)
		if (plan->hosts[i].need_addresses)
			n += (size_t)__builtin_popcount(plan->hosts[i].families_pending & 3u);
	if (n == 0)
		return MX_OK;
	if (n <= LOOKUP_INLINE_QUERIES)
		lk->addrq = lk->inline_q;
	else if ((lk->addrq = malloc(n * sizeof(*lk->addrq))) == NULL)
		return MX_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		query_clear(&lk->addrq[i]);
	for (size_t i = 0; i < plan->n_hosts; i++) {
		if (!plan->hosts[i].need_addresses)
			continue;
		add_address_query(lk, i, RR_TYPE_A);
		add_address_query(lk, i, RR_TYPE_AAAA);
	}
	lk->pending = n;
	for (size_t i = 0; i < lk->n_addrq; i++)
		resolver_submit(lk->r, &lk->addrq[i]);
	return MX_OK;
}

static void
on_mx(struct query *q)
{
	struct lookup *lk = q->owner;
	mx_err err;

	lk->pending--;
	err = route_from_mx(lk->plan, &q->answer, &lk->policy);
	if (err == MX_OK && !lk->plan->decided && resolver_uses_glue(lk->r))
		err = use_glue(lk, &q->answer);
	answer_clear(&q->answer);
	if (err == MX_OK && !lk->plan->decided)
		err = start_address_queries(lk);
	if (err != MX_OK) {
		lk->plan->decided = true;
		lk->plan->status = MX_STATUS_TEMPFAIL;
		plan_set_reason(lk->plan, "out of memory while routing %s", lk->plan->domain);
	}
	if (lk->pending == 0)
		lookup_finish(lk);
}

/*
 * The deadline: whatever has not answered is a temporary failure.  An
 * address answer already back but not yet delivered is used as it is; an
 * MX answer is not, since it would start queries past the deadline.
 */
static void
expire(struct lookup *lk, struct query *q, bool use_arrived)
{
	bool arrived = q->state == Q_COMPLETED;
	char servers[160], why[300];

	resolver_cancel(lk->r, q);
	if (arrived && !use_arrived)
		answer_clear(&q->answer);
	/* Name who was asked: "the deadline" alone reads as a slow domain when
	 * the resolver itself is down or unreachable. */
	snprintf(why, sizeof(why), "no answer from %s before the deadline",
	    resolver_servers_text(lk->r, servers, sizeof(servers)));
	if (!arrived || !use_arrived)
		answer_set_failure(&q->answer, why, true);
	q->state = Q_DONE;
	q->done(q);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct lookup *lk = arg;
	size_t left, n;

	(void)fd;
	(void)what;
	if (lk->mxq.state != Q_DONE) {
		expire(lk, &lk->mxq, false);
		return;
	}
	/* The last expire() frees lk: count down instead of reading it. */
	left = lk->pending;
	n = lk->n_addrq;
	for (size_t i = 0; left > 0 && i < n; i++) {
		if (lk->addrq[i].state == Q_DONE)
			continue;
		left--;
		expire(lk, &lk->addrq[i], true);
	}
}

static mx_err
lookup_new(mx_resolver *r, const mx_policy *policy, const char *domain, struct lookup **out)
{
	struct lookup *lk = resolver_spare_take(r, lookup_block_size());
	mx_err err;

	if (lk == NULL && (lk = malloc(lookup_block_size())) == NULL)
		return MX_ERR_NOMEM;
	memset(lk, 0, offsetof(struct lookup, inline_q));
	lk->r = r;
	if ((err = policy_copy(&lk->policy, policy)) != MX_OK ||
	    (err = plan_new(domain, &lk->plan)) != MX_OK)
		goto fail;
	if (evtimer_assign(lookup_deadline(lk), resolver_base(r), on_deadline, lk) != 0) {
		err = MX_ERR_SYSTEM;
		goto fail;
	}
	lk->deadline_set = true;
	if (evtimer_add(lookup_deadline(lk), resolver_deadline_tv(r, policy->timeout_ms)) != 0) {
		err = MX_ERR_SYSTEM;
		goto fail;
	}
	*out = lk;
	return MX_OK;
fail:
	lookup_free(lk);
	return err;
}

mx_err
mx_route_start(mx_resolver *r, const mx_policy *policy, const char *domain, mx_route_cb cb,
    void *arg, mx_why *why)
{
	char canon[MX_DOMAIN_MAX + 1];
	struct lookup *lk;
	mx_err err;

	why_clear(why);
	if (r == NULL || policy == NULL || domain == NULL || cb == NULL)
		return why_set(why, MX_ERR_INVALID, "a NULL argument");
	if ((err = mx_domain_from_arg(domain, canon, why)) != MX_OK)
		return err;
	if ((err = resolver_ready(r, why)) != MX_OK)
		return err;
	if ((err = lookup_new(r, policy, canon, &lk)) != MX_OK)
		return why_set(why, err, "cannot start the lookup: %s", mx_strerror(err));
	lk->cb = cb;
	lk->arg = arg;
	lk->pending = 1;
	lk->work.cancel = lookup_cancel;
	resolver_work_add(r, &lk->work);
	resolver_lookup_add(r, 1);
	query_init(&lk->mxq, lk, lk->plan->domain, RR_TYPE_MX, 0, on_mx);
	resolver_submit(r, &lk->mxq);
	return MX_OK;
}

static void
keep_plan(mx_plan *plan, void *arg)
{
	*(mx_plan **)arg = plan;
}

mx_err
mx_route_lookup(
    mx_resolver *r, const mx_policy *policy, const char *domain, mx_plan **out, mx_why *why)
{
	mx_plan *plan = NULL;
	mx_err err;

	why_clear(why);
	if (out == NULL)
		return why_set(why, MX_ERR_INVALID, "nowhere to put the plan (out is NULL)");
	*out = NULL;
	if ((err = mx_route_start(r, policy, domain, keep_plan, &plan, why)) != MX_OK)
		return err;
	while (plan == NULL)
		if (event_base_loop(resolver_base(r), EVLOOP_ONCE) < 0)
			return why_set(why, MX_ERR_SYSTEM, "the event loop failed");
	*out = plan;
	return MX_OK;
}
