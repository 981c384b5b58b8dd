/*
 * policy.c - the routing policy object (mx_policy): the seed of the
 * shuffle among equal preferences, the address family preferred, the
 * lookup deadline and the names the local host goes by (RFC 5321 section
 * 5.1: MX hosts from its own preference on are dropped).  Settings only:
 * route.c reads them, lookup.c copies them into every lookup.  No I/O but
 * the seed's getrandom.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "policy.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS     (24u * 3600u * 1000u)

mx_err
mx_policy_new(mx_policy **out)
{
	mx_policy *p;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MX_ERR_NOMEM;
	p->timeout_ms = DEFAULT_TIMEOUT_MS;
	/* Unseeded, each policy shuffles differently; a weak seed is no harm. */
	if (getrandom(&p->seed, sizeof(p->seed), GRND_NONBLOCK) != sizeof(p->seed))
		p->seed = (uint64_t)(uintptr_t)p ^ (uint64_t)time(NULL);
	*out = p;
	return MX_OK;
}

void
mx_policy_free(mx_policy *policy)
{
	if (policy == NULL)
		return;
	policy_release(policy);
	free(policy);
}

mx_err
policy_copy(mx_policy *dst, const mx_policy *src)
{
	*dst = *src;
	dst->local = NULL;
	if (src->n_local == 0)
		return MX_OK;
	if ((dst->local = malloc(ROUTE_MAX_LOCAL_NAMES * sizeof(*dst->local))) == NULL)
		return MX_ERR_NOMEM;
	memcpy(dst->local, src->local, src->n_local * sizeof(*dst->local));
	return MX_OK;
}

void
policy_release(mx_policy *p)
{
	free(p->local);
	p->local = NULL;
	p->n_local = 0;
}

void
mx_policy_set_seed(mx_policy *policy, uint64_t seed)
{
	policy->seed = seed;
	policy->seeded = true;
}

void
mx_policy_set_prefer(mx_policy *policy, mx_family_pref pref)
{
	policy->prefer = pref;
}

mx_err
mx_policy_add_local_name(mx_policy *policy, const char *name)
{
	char canon[MX_DOMAIN_MAX + 1];

	if (policy == NULL || name == NULL)
		return MX_ERR_INVALID;
	if (mx_domain_from_arg(name, canon, NULL) != MX_OK)
		return MX_ERR_BAD_DOMAIN;
	if (policy->n_local == ROUTE_MAX_LOCAL_NAMES)
		return MX_ERR_INVALID;
	if (policy->local == NULL &&
	    (policy->local = malloc(ROUTE_MAX_LOCAL_NAMES * sizeof(*policy->local))) == NULL)
		return MX_ERR_NOMEM;
	memcpy(policy->local[policy->n_local++], canon, sizeof(canon));
	return MX_OK;
}

mx_err
mx_policy_set_timeout_ms(mx_policy *policy, unsigned ms)
{
	if (policy == NULL || ms == 0 || ms > MAX_TIMEOUT_MS)
		return MX_ERR_INVALID;
	policy->timeout_ms = ms;
	return MX_OK;
}
