/*
 * resolver.h - the query layer between lookup.c and libunbound: one
 * query in, one parsed answer out, with a cap on queries in flight.
 * Answers are always handed back from the event loop, never from inside
 * resolver_submit, so callers may submit in loops without reentrancy.
 */
#ifndef MX_RESOLVER_H
#define MX_RESOLVER_H

#include <sys/queue.h>

#include "transport.h"

/*
 * Work the resolver must be able to end: a lookup, with its queries and
 * its plan.  mx_resolver_free calls cancel for each still registered,
 * after taking it off the list; cancel withdraws its queries
 * (resolver_cancel) and frees what it owns, calling back no one.
 */
struct resolver_work {
	LIST_ENTRY(resolver_work) link;
	void (*cancel)(struct resolver_work *w);
	bool listed;
};

void resolver_submit(mx_resolver *r, struct query *q);
/* Withdraws a query not yet done; its done function will not be called. */
void resolver_cancel(mx_resolver *r, struct query *q);
struct event_base *resolver_base(mx_resolver *r);
struct timeval;
/* The timeval to evtimer_add a lookup's deadline of ms with (see
 * resolver.c); the resolver keeps it. */
const struct timeval *resolver_deadline_tv(mx_resolver *r, unsigned ms);
/* Registers w (its cancel set) until resolver_work_remove; removing one
 * not listed is a no-op. */
void resolver_work_add(mx_resolver *r, struct resolver_work *w);
void resolver_work_remove(mx_resolver *r, struct resolver_work *w);
/* Counts lookups for mx_resolver_run. */
void resolver_lookup_add(mx_resolver *r, int delta);
/* Whether plans take addresses from an MX reply's additional section
 * (answer_glue): the stub transport only. */
bool resolver_uses_glue(const mx_resolver *r);
/* The resolvers asked, as text for a message, in buf. */
const char *resolver_servers_text(const mx_resolver *r, char *buf, size_t size);
/*
 * Spare blocks for lookup.c to reuse, all of one size (its struct lookup):
 * take gives one or NULL; give keeps one, or frees it once as many are
 * kept as queries may be in flight.  The resolver frees them with itself.
 */
void *resolver_spare_take(mx_resolver *r, size_t size);
void resolver_spare_give(mx_resolver *r, void *block, size_t size);
/* Applies the configuration on first use; why (may be NULL) says what
 * is wrong with it. */
mx_err resolver_ready(mx_resolver *r, mx_why *why);
/* For questions outside the query queue (query.c's raw form): the
 * libunbound context, NULL with the stub transport, and how sure
 * DNSSEC is of an answer with libunbound's "sec" value. */
struct ub_ctx *resolver_unbound(mx_resolver *r);
answer_security resolver_security(const mx_resolver *r, int sec);

#endif
