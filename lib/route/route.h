/*
 * route.h - RFC 5321 section 5.1 routing policy as pure functions over
 * parsed answers (struct answer) and a plan.  No I/O: lookup.c feeds the
 * answers in, tests and fuzzers feed them in directly.
 */
#ifndef MX_ROUTE_H
#define MX_ROUTE_H

#include "answer.h"
#include "plan.h"
#include "policy.h"

/*
 * Step 1: the MX answer.  Either decides the plan (nxdomain, null MX,
 * tempfail, loop: plan->decided) or lists the hosts in delivery order,
 * marking those that need address lookups (host->need_addresses).
 */
mx_err route_from_mx(mx_plan *plan, const struct answer *mx, const mx_policy *policy);
/* Step 2: one address answer (qtype A or AAAA) for host i. */
mx_err route_add_addresses(
    mx_plan *plan, size_t i, uint16_t qtype, const struct answer *addr, const mx_policy *policy);
/* Step 3: host and domain statuses, the reason; call once at the end. */
void route_finish(mx_plan *plan);

#endif
