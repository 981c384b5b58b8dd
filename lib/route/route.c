/*
 * route.c - the routing policy: what a sending agent does with the DNS
 * answers for a mail domain.  Pure functions over parsed answers; no I/O,
 * no clock, no global state (the shuffle's generator lives on the stack).
 *
 * The rules, each with its source:
 *  1. Look up MX; sort by preference, lowest first (RFC 5321 5.1).  Hosts
 *     of equal preference go in random order, per host, not per address
 *     (RFC 5321 5.1 "randomize"); the generator is seeded from the policy
 *     seed and the domain, so a seed gives one order whatever order the
 *     answer listed the records in (they are sorted by name first).
 *  2. No MX records (NODATA): implicit MX, the domain itself at
 *     preference 0 (RFC 5321 5.1).  NXDOMAIN: the domain does not exist.
 *  3. A lone "MX 0 ." is a null MX: no mail accepted (RFC 7505 3).  Null
 *     beside real MX records is an error: the null record is ignored and
 *     "null-mx-mixed" reported (RFC 7505 3 says it must stand alone).
 *  4. An exchange that is a CNAME is followed to its addresses and
 *     reported "cname-target" (RFC 2181 10.3 forbids it).  An exchange
 *     written as an IP address is not used ("ip-literal-target"; RFC 5321
 *     5.1 requires a host name).  The domain itself may be a CNAME.
 *  5. Every host's A and AAAA are looked up; a host with none is
 *     "no-address", one whose lookup failed for now is "tempfail"; its
 *     addresses go preferred family first (RFC 6724: IPv6 by default).
 *  6. A local name among the hosts prunes it and every host of equal or
 *     higher preference; nothing left means the mail loops back to this
 *     host (RFC 5321 5.1, "MUST ... discard" those records).
 *  7. Temporary never becomes permanent: any temporary failure that could
 *     hide a usable host makes the domain "tempfail", never "nxdomain" or
 *     "no-mail-host".  A REFUSED (or any rcode but NOERROR and NXDOMAIN)
 *     from the resolver is temporary too (answer.c, resolver.c, stub.c).
 *  8. Data that DNSSEC marks bogus is never used: it counts as a
 *     temporary failure and is reported "dnssec-bogus".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"
#include "route.h"

#define FAMILY_BIT_A    1u
#define FAMILY_BIT_AAAA 2u

/* splitmix64: tiny, seedable, good enough to shuffle a handful of hosts. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* FNV-1a: mixes the domain into the seed so domains shuffle independently. */
static uint64_t
hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static void
add_problem(problem_set *set, mx_problem p)
{
	*set |= PROBLEM_BIT(p);
}

static void
decide(mx_plan *plan, mx_status status)
{
	plan->status = status;
	plan->decided = true;
}

static int
compare_hosts(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;

	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
shuffle_equal_preferences(mx_plan *plan, uint64_t seed)
{
	uint64_t state = seed ^ hash_name(plan->domain);
	size_t start = 0, end;

	while (start < plan->n_hosts) {
		for (end = start + 1; end < plan->n_hosts &&
		     plan->hosts[end].preference == plan->hosts[start].preference;
		     end++)
			;
		for (size_t i = end - 1; i > start; i--) {
			size_t j = start + (size_t)(next_random(&state) % (i - start + 1));
			struct mx_host tmp = plan->hosts[i];
			plan->hosts[i] = plan->hosts[j];
			plan->hosts[j] = tmp;
		}
		start = end;
	}
}

/* Keeps the first (most preferred) listing of each host. */
static void
drop_duplicates(mx_plan *plan)
{
	size_t kept = 0;

	for (size_t i = 0; i < plan->n_hosts; i++) {
		bool dup = false;
		for (size_t j = 0; j < kept && !dup; j++)
			dup = strcmp(plan->hosts[j].name, plan->hosts[i].name) == 0;
		if (dup) {
			add_problem(&plan->problems, MX_PROBLEM_DUPLICATE_HOST);
			continue;
		}
		plan->hosts[kept++] = plan->hosts[i];
	}
	plan->n_hosts = kept;
}

/* "2001\058db8\058\0581" is how dname_text escapes "2001:db8::1". */
static bool
is_escaped_ip_literal(const char *name)
{
	char buf[64];
	size_t o = 0;

	if (strchr(name, '\\') == NULL)
		return false; /* nothing escaped: name_is_ip_literal has judged it */
	for (const char *p = name; *p != '\0' && o + 1 < sizeof(buf); o++) {
		if (strncmp(p, "\\058", 4) == 0) {
			buf[o] = ':';
			p += 4;
		} else {
			buf[o] = *p++;
		}
	}
	buf[o] = '\0';
	return name_is_ip_literal(buf);
}

static void
classify_exchange(mx_plan *plan, struct mx_host *h, bool bad_name)
{
	if (name_is_ip_literal(h->name) || is_escaped_ip_literal(h->name)) {
		h->status = MX_HOST_IP_LITERAL;
		add_problem(&h->problems, MX_PROBLEM_IP_LITERAL_TARGET);
		host_add_reason(plan, h,
		    "the exchange is written as an IP address; "
		    "an MX record must name a host (RFC 5321 5.1)");
	} else if (bad_name) {
		h->status = MX_HOST_BAD_NAME;
		add_problem(&h->problems, MX_PROBLEM_BAD_HOSTNAME);
		host_add_reason(plan, h,
		    "the exchange is not a valid host name "
		    "(letters, digits and inner hyphens only)");
	} else {
		h->need_addresses = true;
		h->families_pending = FAMILY_BIT_A | FAMILY_BIT_AAAA;
	}
}

static bool
is_local(const mx_policy *policy, const char *name)
{
	for (size_t i = 0; i < policy->n_local; i++)
		if (name_equal(policy->local[i], name))
			return true;
	return false;
}

/* Rule 6: prune this host and everything not better than it. */
static void
prune_self(mx_plan *plan, const mx_policy *policy)
{
	uint32_t self = UINT32_MAX;
	size_t left = 0;

	for (size_t i = 0; i < plan->n_hosts; i++)
		if (is_local(policy, plan->hosts[i].name) && plan->hosts[i].preference < self)
			self = plan->hosts[i].preference;
	if (self == UINT32_MAX)
		return;
	for (size_t i = 0; i < plan->n_hosts; i++) {
		struct mx_host *h = &plan->hosts[i];
		if (h->preference < self) {
			left++;
			continue;
		}
		h->status = MX_HOST_PRUNED;
		h->need_addresses = false;
		h->families_pending = 0;
		if (is_local(policy, h->name)) {
			add_problem(&h->problems, MX_PROBLEM_LOCAL_NAME);
			host_add_reason(plan, h, "this host (a --local-name)");
		} else {
			add_problem(&h->problems, MX_PROBLEM_NOT_BETTER_THAN_SELF);
			host_add_reason(plan, h,
			    "preference %u is not better than this "
			    "host's %u (RFC 5321 5.1)",
			    h->preference, (unsigned)self);
		}
	}
	if (left == 0) {
		decide(plan, MX_STATUS_LOOP);
		plan_set_reason(plan,
		    "the best MX host of %s is this host "
		    "(preference %u): mail would loop back to myself",
		    plan->domain, (unsigned)self);
	}
}

static mx_err
add_hosts(mx_plan *plan, const struct answer *mx, const mx_policy *policy)
{
	size_t n_real = 0;

	for (size_t i = 0; i < mx->n_mx; i++)
		n_real += mx->mx[i].is_null ? 0 : 1;
	if ((plan->hosts = plan_alloc(plan, (n_real ? n_real : 1) * sizeof(*plan->hosts))) == NULL)
		return MX_ERR_NOMEM;
	for (size_t i = 0; i < mx->n_mx; i++) {
		const struct answer_mx *m = &mx->mx[i];
		const char *name;
		struct mx_host *h;
		if (m->is_null)
			continue;
		if ((name = plan_text(plan, m->exchange)) == NULL)
			return MX_ERR_NOMEM;
		h = &plan->hosts[plan->n_hosts++];
		host_init(h, name);
		h->preference = m->preference;
		h->ttl = m->ttl;
		classify_exchange(plan, h, m->bad_name);
	}
	qsort(plan->hosts, plan->n_hosts, sizeof(*plan->hosts), compare_hosts);
	drop_duplicates(plan);
	shuffle_equal_preferences(plan, policy->seed);
	return MX_OK;
}

/* Rule 3. Returns true when the domain is null MX, decided. */
static bool
judge_null_mx(mx_plan *plan, const struct answer *mx)
{
	size_t n_null = 0;

	for (size_t i = 0; i < mx->n_mx; i++) {
		if (!mx->mx[i].is_null)
			continue;
		n_null++;
		if (mx->mx[i].preference != 0)
			add_problem(&plan->problems, MX_PROBLEM_NULL_MX_PREFERENCE);
	}
	if (n_null == 0)
		return false;
	if (n_null < mx->n_mx) {
		add_problem(&plan->problems, MX_PROBLEM_NULL_MX_MIXED);
		return false;
	}
	decide(plan, MX_STATUS_NULL_MX);
	plan_set_reason(
	    plan, "%s publishes a null MX (RFC 7505): it accepts no mail", plan->domain);
	return true;
}

static mx_err
implicit_mx(mx_plan *plan)
{
	struct mx_host *h;

	if ((plan->hosts = plan_alloc(plan, sizeof(*plan->hosts))) == NULL)
		return MX_ERR_NOMEM;
	plan->implicit_mx = true;
	plan->n_hosts = 1;
	h = &plan->hosts[0];
	host_init(h, plan->domain);
	h->need_addresses = true;
	h->families_pending = FAMILY_BIT_A | FAMILY_BIT_AAAA;
	return MX_OK;
}

static void
mx_tempfail(mx_plan *plan, const struct answer *mx)
{
	decide(plan, MX_STATUS_TEMPFAIL);
	if (mx->security == SEC_BOGUS) {
		add_problem(&plan->problems, MX_PROBLEM_DNSSEC_BOGUS);
		plan_set_reason(plan, "the MX records of %s failed DNSSEC validation%s%s",
		    plan->domain, answer_why(mx)[0] ? ": " : "", answer_why(mx));
		return;
	}
	if (mx->cname_loop)
		add_problem(&plan->problems, MX_PROBLEM_CNAME_LOOP);
	if (mx->timed_out)
		add_problem(&plan->problems, MX_PROBLEM_TIMEOUT);
	plan_set_reason(plan, "the MX lookup for %s failed for now: %s", plan->domain,
	    answer_why(mx)[0] ? answer_why(mx) : "no answer");
}

mx_err
route_from_mx(mx_plan *plan, const struct answer *mx, const mx_policy *policy)
{
	mx_err err = MX_OK;

	/* A failed answer was not used: it says nothing about DNSSEC. */
	if (mx->security == SEC_BOGUS || mx->kind == ANSWER_TEMPFAIL) {
		if (mx->security == SEC_BOGUS)
			plan_note_security(plan, SEC_BOGUS);
		mx_tempfail(plan, mx);
		return MX_OK;
	}
	plan_note_security(plan, mx->security);
	plan->mx_security = mx->security;
	if (answer_canonical(mx)[0] != '\0' && strcmp(answer_canonical(mx), plan->domain) != 0 &&
	    (plan->canonical = plan_text(plan, answer_canonical(mx))) == NULL) {
		plan->canonical = plan->domain;
		return MX_ERR_NOMEM;
	}
	switch (mx->kind) {
	case ANSWER_NXDOMAIN:
		decide(plan, MX_STATUS_NXDOMAIN);
		plan_set_reason(plan, "%s does not exist (NXDOMAIN)", plan->domain);
		return MX_OK;
	case ANSWER_NODATA: err = implicit_mx(plan); break;
	default:
		if (judge_null_mx(plan, mx))
			return MX_OK;
		err = add_hosts(plan, mx, policy);
		break;
	}
	if (err == MX_OK)
		prune_self(plan, policy);
	return err;
}

/*
 * Puts the new addresses before the others when their family is
 * preferred.  The merged list is a new block of the plan's store (the
 * old one stays there unused: a host gets at most two answers).
 */
static mx_err
merge_addresses(mx_plan *plan, struct mx_host *h, const struct answer *addr, bool first)
{
	size_t n = h->n_addrs + addr->n_addrs;
	struct ip_addr *all;

	if (addr->n_addrs == 0)
		return MX_OK;
	if ((all = plan_alloc(plan, n * sizeof(*all))) == NULL)
		return MX_ERR_NOMEM;
	memcpy(all + (first ? 0 : h->n_addrs), addr->addrs, addr->n_addrs * sizeof(*all));
	if (h->n_addrs > 0)
		memcpy(all + (first ? addr->n_addrs : 0), h->addrs, h->n_addrs * sizeof(*all));
	h->addrs = all;
	h->n_addrs = n;
	return MX_OK;
}

static void
note_address_failure(mx_plan *plan, struct mx_host *h, unsigned bit, const struct answer *addr)
{
	h->families_tempfail |= bit;
	/* Kept per family and written out in finish_host, so the reason does
	 * not depend on which answer arrived first. */
	host_set_family_why(plan, h, bit == FAMILY_BIT_A ? 0 : 1,
	    answer_why(addr)[0] ? answer_why(addr) : "no answer");
	if (addr->security == SEC_BOGUS) {
		add_problem(&h->problems, MX_PROBLEM_DNSSEC_BOGUS);
		add_problem(&plan->problems, MX_PROBLEM_DNSSEC_BOGUS);
	}
	if (addr->cname_loop)
		add_problem(&h->problems, MX_PROBLEM_CNAME_LOOP);
	if (addr->timed_out)
		add_problem(&h->problems, MX_PROBLEM_TIMEOUT);
}

mx_err
route_add_addresses(
    mx_plan *plan, size_t i, uint16_t qtype, const struct answer *addr, const mx_policy *policy)
{
	struct mx_host *h;
	unsigned bit = qtype == RR_TYPE_A ? FAMILY_BIT_A : FAMILY_BIT_AAAA;
	bool preferred;

	if (i >= plan->n_hosts)
		return MX_ERR_INVALID;
	h = &plan->hosts[i];
	h->families_pending &= ~bit;
	if (addr->security == SEC_BOGUS || addr->kind == ANSWER_TEMPFAIL) {
		if (addr->security == SEC_BOGUS)
			plan_note_security(plan, SEC_BOGUS);
		note_address_failure(plan, h, bit, addr);
		return MX_OK;
	}
	plan_note_security(plan, addr->security);
	h->addrs_secure = (h->addrs_seen ? h->addrs_secure : true) && addr->security == SEC_SECURE;
	h->addrs_seen = true;
	h->nxdomain |= addr->kind == ANSWER_NXDOMAIN;
	/* An alias is an error whether or not it leads to an address. */
	if (addr->cname_hops > 0 && !plan->implicit_mx &&
	    !(h->problems & PROBLEM_BIT(MX_PROBLEM_CNAME_TARGET))) {
		add_problem(&h->problems, MX_PROBLEM_CNAME_TARGET);
		host_add_reason(plan, h,
		    "the exchange is an alias of %s; MX must not "
		    "point to a CNAME (RFC 2181 10.3)",
		    answer_canonical(addr));
	}
	if (addr->kind != ANSWER_RECORDS)
		return MX_OK;
	if (plan->implicit_mx) {
		for (size_t k = 0; k < addr->n_addrs; k++) {
			if (!h->ttl_set || addr->addrs[k].ttl < h->ttl)
				h->ttl = addr->addrs[k].ttl;
			h->ttl_set = true;
		}
	}
	preferred = (policy->prefer == MX_PREFER_IPV4) == (qtype == RR_TYPE_A);
	return merge_addresses(plan, h, addr, preferred);
}

static void
finish_host(mx_plan *plan, struct mx_host *h)
{
	if (!h->need_addresses)
		return;
	/* A family still owed here never answered: it failed for now. */
	h->families_tempfail |= h->families_pending;
	h->families_pending = 0;
	for (int f = 0; f < 2; f++)
		if (h->families_tempfail & (f == 0 ? FAMILY_BIT_A : FAMILY_BIT_AAAA))
			host_add_reason(plan, h, "%s lookup failed: %s", f == 0 ? "A" : "AAAA",
			    h->family_why[f][0] ? h->family_why[f] : "no answer");
	if (h->n_addrs > 0) {
		h->status = MX_HOST_OK;
		if (h->families_tempfail)
			add_problem(&h->problems, MX_PROBLEM_ADDRESS_TEMPFAIL);
	} else if (h->families_tempfail) {
		h->status = MX_HOST_TEMPFAIL;
	} else {
		h->status = MX_HOST_NO_ADDRESS;
		host_add_reason(plan, h,
		    h->nxdomain ? "no such host (NXDOMAIN)" : "the host has no A or AAAA records");
	}
}

static char *
put_text(char *p, const char *s)
{
	size_t n = strlen(s);

	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the caller ends the text */
	memcpy(p, s, n);
	return p + n;
}

static char *
put_count(char *p, size_t v)
{
	char digits[24], *d = digits + sizeof(digits);

	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	memcpy(p, d, (size_t)(digits + sizeof(digits) - d));
	return p + (digits + sizeof(digits) - d);
}

/*
 * "N of M MX hosts usable", written without printf: every routable plan
 * has it, and vsnprintf was 4 % of the bulk path's instructions.
 */
static void
ok_reason(mx_plan *plan, size_t usable)
{
	char buf[128], *p = buf;

	p = put_count(p, usable);
	p = put_text(p, " of ");
	p = put_count(p, plan->n_hosts);
	p = put_text(p, plan->n_hosts == 1 ? " MX host usable" : " MX hosts usable");
	if (plan->implicit_mx)
		p = put_text(p, " (implicit MX: the domain's own address)");
	*p = '\0';
	plan_set_reason_text(plan, buf);
}

static void
finish_reason(mx_plan *plan, size_t usable)
{
	if (plan->status == MX_STATUS_OK)
		ok_reason(plan, usable);
	else if (plan->status == MX_STATUS_TEMPFAIL)
		plan_set_reason(plan,
		    "no MX host of %s has an address now: "
		    "address lookups failed temporarily",
		    plan->domain);
	else if (plan->implicit_mx)
		plan_set_reason(plan,
		    "%s has neither MX nor address records: "
		    "it cannot receive mail",
		    plan->domain);
	else
		plan_set_reason(plan,
		    "none of the MX hosts of %s has an address "
		    "or a usable name",
		    plan->domain);
}

void
route_finish(mx_plan *plan)
{
	size_t usable = 0, temp = 0;

	if (plan->decided)
		return;
	for (size_t i = 0; i < plan->n_hosts; i++) {
		finish_host(plan, &plan->hosts[i]);
		usable += plan->hosts[i].status == MX_HOST_OK;
		temp += plan->hosts[i].status == MX_HOST_TEMPFAIL;
	}
	if (usable > 0)
		plan->status = MX_STATUS_OK;
	else if (temp > 0)
		plan->status = MX_STATUS_TEMPFAIL;
	else
		plan->status = MX_STATUS_NO_MAIL_HOST;
	plan->decided = true;
	finish_reason(plan, usable);
}
