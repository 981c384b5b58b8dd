/*
 * policy.h - the insides of mx_policy (policy.c), shared by the files that
 * read a policy (route.c) and copy it (lookup.c).  Never installed.
 */
#ifndef MX_POLICY_H
#define MX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"

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

#endif
