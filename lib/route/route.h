/*
 * route.h - RFC 5321 section 5.1 routing policy as pure functions over
 * parsed answers (struct answer) and a plan.  No I/O: lookup.c feeds the
 * answers in, tests and fuzzers feed them in directly.
 */
#ifndef MX_ROUTE_H
#define MX_ROUTE_H

#include "answer.h"
#include "plan.h"

#define ROUTE_MAX_LOCAL_NAMES 32

struct mx_policy {
	uint64_t seed;
	bool seeded;
	mx_family_pref prefer;
	unsigned timeout_ms;
	size_t n_local;
	/* ROUTE_MAX_LOCAL_NAMES slots, allocated with the first name: a policy
	 * is copied into every lookup, and most have no local names. */
	char (*local)[MX_DOMAIN_MAX + 1];
};

/* A deep copy (dst is overwritten) and the release of what it holds. */
mx_err policy_copy(mx_policy *dst, const mx_policy *src);
void policy_release(mx_policy *p);

/*
 * Step 1: the MX answer.  Either decides the plan (nxdomain, null MX,
 * tempfail, loop: plan->decided) or lists the hosts in delivery order,
 * marking those that need address lookups (host->need_addresses).
 */
mx_err route_from_mx(mx_plan *plan, const struct answer *mx,
    const mx_policy *policy);
/* Step 2: one address answer (qtype A or AAAA) for host i. */
mx_err route_add_addresses(mx_plan *plan, size_t i, uint16_t qtype,
    const struct answer *addr, const mx_policy *policy);
/* Step 3: host and domain statuses, the reason; call once at the end. */
void route_finish(mx_plan *plan);

#endif
