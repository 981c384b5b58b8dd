/*
 * test_route.c - lib/route.c, the RFC 5321 routing policy, driven with
 * hand-made struct answer values (no network, no wire format): every rule
 * of the head comment of route.c.  Sorting and the per-host shuffle (fixed
 * per seed whatever the record order, varying across seeds), implicit MX,
 * NXDOMAIN, null MX alone and mixed, CNAME and IP-literal targets, bad
 * names, no-address versus tempfail hosts and the domain verdict, DNSSEC
 * (bogus answers and the aggregate), --prefer, self pruning and loops,
 * duplicates, timeouts, TTLs, and the plan getters of plan.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "answer.h"
#include "name.h"
#include "route.h"
#include "strbuf.h"

#define DOMAIN "example.test"

/* ---- answers by hand ------------------------------------------------- */

/*
 * An MX answer from "PREF NAME, PREF NAME, ..." ("." for a null MX).
 * TTLs are 3600; names that are not host names get bad_name, as
 * answer_parse would give them.  Free with answer_clear.
 */
static void
mx_answer(struct answer *a, const char *spec)
{
	char buf[2048], *save = NULL;

	memset(a, 0, sizeof(*a));
	a->kind = ANSWER_RECORDS;
	a->canonical = DOMAIN;
	snprintf(buf, sizeof(buf), "%s", spec);
	a->mx = calloc(64, sizeof(*a->mx));
	assert_non_null(a->mx);
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		struct answer_mx *m = &a->mx[a->n_mx++];
		unsigned pref;
		char name[NAME_TEXT_MAX];
		assert_true(a->n_mx <= 64);
		assert_int_equal(sscanf(tok, " %u %1000s", &pref, name), 2);
		m->preference = (uint16_t)pref;
		m->ttl = 3600;
		if (strcmp(name, ".") == 0) {
			m->is_null = true;
			m->exchange = "";
			continue;
		}
		assert_non_null(m->exchange = answer_text(a, name));
		m->bad_name = name_check_hostname(name) != NULL;
	}
}

/* An address answer from "ADDR ADDR ..." (one family), all with ttl. */
static void
addr_answer(struct answer *a, const char *spec, uint32_t ttl)
{
	char buf[1024], *save = NULL;

	memset(a, 0, sizeof(*a));
	a->kind = ANSWER_RECORDS;
	a->addrs = calloc(ANSWER_MAX_ADDRS, sizeof(*a->addrs));
	assert_non_null(a->addrs);
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		struct ip_addr *ad = &a->addrs[a->n_addrs++];
		ad->family = strchr(tok, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(ad->family, tok, ad->bytes), 1);
		inet_ntop(ad->family, ad->bytes, ad->text, sizeof(ad->text));
		ad->ttl = ttl;
	}
}

static void
kind_answer(struct answer *a, answer_kind kind)
{
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	if (kind == ANSWER_TEMPFAIL)
		a->why = "the resolver answered SERVFAIL";
}

/* ---- plans ------------------------------------------------------------ */

/*
 * Plans and policies alive in the running test; the teardown frees what
 * a failed assertion left behind, so a failure is not also a leak.
 */
#define MAX_LIVE 8
static mx_plan *live_plans[MAX_LIVE];
static mx_policy *live_policies[MAX_LIVE];

static void
track(void **slots, void *p)
{
	for (size_t i = 0; i < MAX_LIVE; i++) {
		if (slots[i] == NULL) {
			slots[i] = p;
			return;
		}
	}
	fail_msg("more than %d live objects in one test", MAX_LIVE);
}

static void
untrack(void **slots, const void *p)
{
	for (size_t i = 0; i < MAX_LIVE; i++)
		if (slots[i] == p)
			slots[i] = NULL;
}

static void
drop_plan(mx_plan *plan)
{
	untrack((void **)live_plans, plan);
	mx_plan_free(plan);
}

static void
drop_policy(mx_policy *pol)
{
	untrack((void **)live_policies, pol);
	mx_policy_free(pol);
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < MAX_LIVE; i++) {
		mx_plan_free(live_plans[i]);
		mx_policy_free(live_policies[i]);
		live_plans[i] = NULL;
		live_policies[i] = NULL;
	}
	return 0;
}

static mx_policy *
policy(uint64_t seed)
{
	mx_policy *p = NULL;

	assert_int_equal(mx_policy_new(&p), MX_OK);
	track((void **)live_policies, p);
	mx_policy_set_seed(p, seed);
	return p;
}

/* Step 1 for domain with the given MX answer (which is cleared). */
static mx_plan *
route_as(const char *domain, struct answer *mx, const mx_policy *pol)
{
	mx_plan *plan = NULL;

	assert_int_equal(plan_new(domain, &plan), MX_OK);
	track((void **)live_plans, plan);
	assert_int_equal(route_from_mx(plan, mx, pol), MX_OK);
	answer_clear(mx);
	return plan;
}

static mx_plan *
route(const char *mx_spec, const mx_policy *pol)
{
	struct answer a;

	mx_answer(&a, mx_spec);
	return route_as(DOMAIN, &a, pol);
}

/* Step 2 for host i (the answer is cleared). */
static void
feed(mx_plan *plan, size_t i, uint16_t qtype, struct answer *a, const mx_policy *pol)
{
	assert_int_equal(route_add_addresses(plan, i, qtype, a, pol), MX_OK);
	answer_clear(a);
}

static void
feed_addrs(
    mx_plan *plan, size_t i, uint16_t qtype, const char *spec, uint32_t ttl, const mx_policy *pol)
{
	struct answer a;

	addr_answer(&a, spec, ttl);
	feed(plan, i, qtype, &a, pol);
}

static void
feed_kind(mx_plan *plan, size_t i, uint16_t qtype, answer_kind kind, const mx_policy *pol)
{
	struct answer a;

	kind_answer(&a, kind);
	feed(plan, i, qtype, &a, pol);
}

/* Index of the host called name; fails the test when absent. */
static size_t
host_index(const mx_plan *plan, const char *name)
{
	for (size_t i = 0; i < mx_plan_host_count(plan); i++)
		if (strcmp(mx_host_name(mx_plan_host(plan, i)), name) == 0)
			return i;
	fail_msg("no host %s in the plan", name);
	return 0;
}

static const mx_host *
host(const mx_plan *plan, const char *name)
{
	return mx_plan_host(plan, host_index(plan, name));
}

/* The hosts, in order, as "name name ...". */
static const char *
order(const mx_plan *plan, char *buf, size_t size)
{
	struct strbuf sb;

	strbuf_init(&sb, buf, size);
	for (size_t i = 0; i < mx_plan_host_count(plan); i++)
		strbuf_printf(&sb, "%s%s", i ? " " : "", mx_host_name(mx_plan_host(plan, i)));
	return buf;
}

/* The problems of a set, as "name name ..." in enum order. */
static const char *
plan_problems(const mx_plan *plan, char *buf, size_t size)
{
	struct strbuf sb;

	strbuf_init(&sb, buf, size);
	for (size_t i = 0; i < mx_plan_problem_count(plan); i++)
		strbuf_printf(&sb, "%s%s", i ? " " : "", mx_problem_name(mx_plan_problem(plan, i)));
	return buf;
}

static const char *
host_problems(const mx_host *h, char *buf, size_t size)
{
	struct strbuf sb;

	strbuf_init(&sb, buf, size);
	for (size_t i = 0; i < mx_host_problem_count(h); i++)
		strbuf_printf(&sb, "%s%s", i ? " " : "", mx_problem_name(mx_host_problem(h, i)));
	return buf;
}

#define ASSERT_PLAN_PROBLEMS(plan, want)                                                           \
	do {                                                                                       \
		char pb_[256];                                                                     \
		assert_string_equal(plan_problems((plan), pb_, sizeof(pb_)), (want));              \
	} while (0)

#define ASSERT_HOST_PROBLEMS(h, want)                                                              \
	do {                                                                                       \
		char pb_[256];                                                                     \
		assert_string_equal(host_problems((h), pb_, sizeof(pb_)), (want));                 \
	} while (0)

#define ASSERT_ORDER(plan, want)                                                                   \
	do {                                                                                       \
		char ob_[2048];                                                                    \
		assert_string_equal(order((plan), ob_, sizeof(ob_)), (want));                      \
	} while (0)

/* The host's addresses, as "addr addr ...". */
static const char *
addresses(const mx_host *h, char *buf, size_t size)
{
	struct strbuf sb;

	strbuf_init(&sb, buf, size);
	for (size_t i = 0; i < mx_host_address_count(h); i++)
		strbuf_printf(&sb, "%s%s", i ? " " : "", mx_host_address(h, i));
	return buf;
}

#define ASSERT_ADDRS(h, want)                                                                      \
	do {                                                                                       \
		char ab_[1024];                                                                    \
		assert_string_equal(addresses((h), ab_, sizeof(ab_)), (want));                     \
	} while (0)

/* ---- rule 1: order ------------------------------------------------------ */

static void
test_sort_by_preference(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("30 c.example.test, 10 a.example.test, "
			      "20 b.example.test, 65535 z.example.test, 0 first.example.test",
	    pol);

	(void)state;
	assert_false(plan->decided);
	assert_false(mx_plan_implicit_mx(plan));
	ASSERT_ORDER(plan,
	    "first.example.test a.example.test b.example.test "
	    "c.example.test z.example.test");
	assert_int_equal(mx_host_preference(mx_plan_host(plan, 0)), 0);
	assert_int_equal(mx_host_preference(mx_plan_host(plan, 4)), 65535);
	for (size_t i = 0; i < 5; i++) {
		assert_true(plan->hosts[i].need_addresses);
		assert_int_equal(mx_host_ttl(mx_plan_host(plan, i)), 3600);
	}
	ASSERT_PLAN_PROBLEMS(plan, "");
	drop_plan(plan);
	drop_policy(pol);
}

#define N_EQUAL 4
static const char *const equal_hosts[N_EQUAL] = { "a.example.test", "b.example.test",
	"c.example.test", "d.example.test" };

/* The MX spec of the equal hosts in the order perm gives, among others. */
static void
equal_spec(char *buf, size_t size, const int perm[N_EQUAL])
{
	snprintf(buf, size,
	    "30 z.example.test, 10 %s, 10 %s, 5 best.example.test, "
	    "10 %s, 10 %s",
	    equal_hosts[perm[0]], equal_hosts[perm[1]], equal_hosts[perm[2]], equal_hosts[perm[3]]);
}

/* All 24 permutations of 0..3, by Heap's algorithm. */
static size_t
permutations(int out[24][N_EQUAL])
{
	int a[N_EQUAL] = { 0, 1, 2, 3 }, c[N_EQUAL] = { 0 };
	size_t n = 0;

	memcpy(out[n++], a, sizeof(a));
	for (int i = 0; i < N_EQUAL;) {
		if (c[i] < i) {
			int j = i % 2 == 0 ? 0 : c[i], t = a[j];
			a[j] = a[i];
			a[i] = t;
			memcpy(out[n++], a, sizeof(a));
			c[i]++;
			i = 0;
		} else {
			c[i++] = 0;
		}
	}
	return n;
}

static void
test_shuffle_deterministic(void **state)
{
	int perms[24][N_EQUAL];
	size_t n = permutations(perms);

	(void)state;
	assert_int_equal(n, 24);
	for (uint64_t seed = 0; seed < 50; seed++) {
		mx_policy *pol = policy(seed);
		char first[1024] = "", spec[512], got[1024];
		for (size_t p = 0; p < n; p++) {
			mx_plan *plan;
			equal_spec(spec, sizeof(spec), perms[p]);
			plan = route(spec, pol);
			order(plan, got, sizeof(got));
			if (p == 0)
				memcpy(first, got, sizeof(got));
			else if (strcmp(first, got) != 0)
				fail_msg("seed %llu: \"%s\" then \"%s\" for records "
					 "in another order",
				    (unsigned long long)seed, first, got);
			/* The groups keep their places. */
			assert_string_equal(
			    mx_host_name(mx_plan_host(plan, 0)), "best.example.test");
			assert_string_equal(mx_host_name(mx_plan_host(plan, 5)), "z.example.test");
			for (size_t i = 1; i <= 4; i++)
				assert_int_equal(mx_host_preference(mx_plan_host(plan, i)), 10);
			drop_plan(plan);
		}
		drop_policy(pol);
	}
}

static void
test_shuffle_varies(void **state)
{
	static const int identity[N_EQUAL] = { 0, 1, 2, 3 };
	char orders[50][1024], spec[512];
	size_t firsts[N_EQUAL] = { 0 }, distinct = 0;

	(void)state;
	equal_spec(spec, sizeof(spec), identity);
	for (uint64_t seed = 0; seed < 50; seed++) {
		mx_policy *pol = policy(seed * 7919 + 3);
		mx_plan *plan = route(spec, pol);
		bool seen = false;
		order(plan, orders[seed], sizeof(orders[seed]));
		for (uint64_t k = 0; k < seed && !seen; k++)
			seen = strcmp(orders[k], orders[seed]) == 0;
		distinct += !seen;
		for (size_t h = 0; h < N_EQUAL; h++)
			firsts[h] +=
			    strcmp(mx_host_name(mx_plan_host(plan, 1)), equal_hosts[h]) == 0;
		drop_plan(plan);
		drop_policy(pol);
	}
	assert_true(distinct > 1);
	for (size_t h = 0; h < N_EQUAL; h++)
		if (firsts[h] == 0)
			fail_msg("%s never came first among equals in 50 seeds", equal_hosts[h]);
}

/* The shuffle moves hosts, not the addresses of a host. */
static void
test_shuffle_per_host(void **state)
{
	(void)state;
	for (uint64_t seed = 0; seed < 20; seed++) {
		mx_policy *pol = policy(seed);
		mx_plan *plan = route("10 a.example.test, 10 b.example.test", pol);
		for (size_t i = 0; i < 2; i++) {
			feed_addrs(plan, i, RR_TYPE_A, "192.0.2.3 192.0.2.1 192.0.2.2", 60, pol);
			feed_addrs(plan, i, RR_TYPE_AAAA, "2001:db8::9 2001:db8::1", 60, pol);
		}
		route_finish(plan);
		for (size_t i = 0; i < 2; i++)
			ASSERT_ADDRS(mx_plan_host(plan, i),
			    "2001:db8::9 2001:db8::1 "
			    "192.0.2.3 192.0.2.1 192.0.2.2");
		drop_plan(plan);
		drop_policy(pol);
	}
}

/* Same seed, same domain: same order, from one plan to the next. */
static void
test_seed_repeatable(void **state)
{
	mx_policy *pol = policy(42);
	char a[1024], b[1024];
	mx_plan *p1, *p2;

	(void)state;
	p1 = route("10 a.example.test, 10 b.example.test, 10 c.example.test, "
		   "10 d.example.test, 10 e.example.test",
	    pol);
	p2 = route("10 a.example.test, 10 b.example.test, 10 c.example.test, "
		   "10 d.example.test, 10 e.example.test",
	    pol);
	assert_string_equal(order(p1, a, sizeof(a)), order(p2, b, sizeof(b)));
	drop_plan(p1);
	drop_plan(p2);
	drop_policy(pol);
}

/* ---- rule 2: implicit MX, NXDOMAIN --------------------------------------- */

static void
test_implicit_mx(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;
	const mx_host *h;

	(void)state;
	kind_answer(&a, ANSWER_NODATA);
	plan = route_as(DOMAIN, &a, pol);
	assert_false(plan->decided);
	assert_true(mx_plan_implicit_mx(plan));
	assert_int_equal(mx_plan_host_count(plan), 1);
	h = mx_plan_host(plan, 0);
	assert_string_equal(mx_host_name(h), DOMAIN);
	assert_int_equal(mx_host_preference(h), 0);
	assert_true(plan->hosts[0].need_addresses);
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 300, pol);
	feed_kind(plan, 0, RR_TYPE_AAAA, ANSWER_NODATA, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_OK);
	assert_int_equal(mx_host_status_of(h), MX_HOST_OK);
	ASSERT_ADDRS(h, "192.0.2.1");
	ASSERT_HOST_PROBLEMS(h, "");
	assert_string_equal(
	    mx_plan_reason(plan), "1 of 1 MX host usable (implicit MX: the domain's own address)");
	drop_plan(plan);

	/* No address either: the domain cannot receive mail, for good. */
	kind_answer(&a, ANSWER_NODATA);
	plan = route_as(DOMAIN, &a, pol);
	feed_kind(plan, 0, RR_TYPE_A, ANSWER_NODATA, pol);
	feed_kind(plan, 0, RR_TYPE_AAAA, ANSWER_NXDOMAIN, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_NO_MAIL_HOST);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 0)), MX_HOST_NO_ADDRESS);
	assert_string_equal(mx_plan_reason(plan),
	    DOMAIN " has neither MX nor "
		   "address records: it cannot receive mail");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_nxdomain(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;

	(void)state;
	kind_answer(&a, ANSWER_NXDOMAIN);
	a.security = SEC_SECURE;
	plan = route_as(DOMAIN, &a, pol);
	assert_true(plan->decided);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_NXDOMAIN);
	assert_int_equal(mx_plan_host_count(plan), 0);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_NXDOMAIN);
	assert_string_equal(mx_plan_reason(plan), DOMAIN " does not exist (NXDOMAIN)");
	assert_int_equal(mx_plan_dnssec(plan), MX_DNSSEC_SECURE);
	ASSERT_PLAN_PROBLEMS(plan, "");
	assert_true(mx_status_permanent(mx_plan_status(plan)));
	drop_plan(plan);
	drop_policy(pol);
}

/* ---- rule 3: null MX ---------------------------------------------------- */

static void
test_null_mx(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan;

	(void)state;
	plan = route("0 .", pol);
	assert_true(plan->decided);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_NULL_MX);
	assert_int_equal(mx_plan_host_count(plan), 0);
	ASSERT_PLAN_PROBLEMS(plan, "");
	assert_string_equal(mx_plan_reason(plan),
	    DOMAIN " publishes a null MX "
		   "(RFC 7505): it accepts no mail");
	drop_plan(plan);

	plan = route("10 .", pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_NULL_MX);
	ASSERT_PLAN_PROBLEMS(plan, "null-mx-preference");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_null_mx_mixed(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("0 ., 10 mx.example.test", pol);

	(void)state;
	assert_false(plan->decided);
	assert_int_equal(mx_plan_host_count(plan), 1);
	ASSERT_ORDER(plan, "mx.example.test");
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 60, pol);
	feed_kind(plan, 0, RR_TYPE_AAAA, ANSWER_NODATA, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_OK);
	ASSERT_PLAN_PROBLEMS(plan, "null-mx-mixed");
	drop_plan(plan);

	plan = route("20 mx.example.test, 5 .", pol);
	assert_int_equal(mx_plan_host_count(plan), 1);
	ASSERT_PLAN_PROBLEMS(plan, "null-mx-mixed null-mx-preference");
	drop_plan(plan);
	drop_policy(pol);
}

/* ---- rule 4: CNAME and IP literal targets ------------------------------------ */

static void
test_cname_target(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("10 alias.example.test, 20 mx.example.test", pol);
	struct answer a;

	(void)state;
	addr_answer(&a, "192.0.2.1", 60);
	a.cname_hops = 1;
	a.canonical = "real.example.test";
	feed(plan, 0, RR_TYPE_A, &a, pol);
	addr_answer(&a, "2001:db8::1", 60);
	a.cname_hops = 1;
	a.canonical = "real.example.test";
	feed(plan, 0, RR_TYPE_AAAA, &a, pol);
	feed_addrs(plan, 1, RR_TYPE_A, "192.0.2.2", 60, pol);
	feed_kind(plan, 1, RR_TYPE_AAAA, ANSWER_NODATA, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_OK);
	assert_int_equal(mx_host_status_of(host(plan, "alias.example.test")), MX_HOST_OK);
	ASSERT_HOST_PROBLEMS(host(plan, "alias.example.test"), "cname-target");
	ASSERT_ADDRS(host(plan, "alias.example.test"), "2001:db8::1 192.0.2.1");
	assert_string_equal(mx_host_reason(host(plan, "alias.example.test")),
	    "the exchange is an alias of real.example.test; MX must not point "
	    "to a CNAME (RFC 2181 10.3)");
	ASSERT_HOST_PROBLEMS(host(plan, "mx.example.test"), "");
	ASSERT_PLAN_PROBLEMS(plan, "");
	drop_plan(plan);

	/* The domain itself may be a CNAME: no problem for an implicit MX. */
	kind_answer(&a, ANSWER_NODATA);
	a.cname_hops = 1;
	a.canonical = "real.example.test";
	plan = route_as(DOMAIN, &a, pol);
	assert_string_equal(mx_plan_canonical(plan), "real.example.test");
	addr_answer(&a, "192.0.2.1", 60);
	a.cname_hops = 1;
	feed(plan, 0, RR_TYPE_A, &a, pol);
	addr_answer(&a, "2001:db8::1", 60);
	a.cname_hops = 2;
	feed(plan, 0, RR_TYPE_AAAA, &a, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_OK);
	ASSERT_HOST_PROBLEMS(mx_plan_host(plan, 0), "");
	drop_plan(plan);
	drop_policy(pol);
}

/*
 * Names far longer than a host name (escaped bad names reach ~1020
 * bytes) come through whole: plans keep text in a store, not in buffers
 * sized for the usual case.
 */
static void
test_long_names(void **state)
{
	mx_policy *pol = policy(1);
	char name[1001], spec[1040];
	struct answer a;
	mx_plan *plan;

	(void)state;
	for (size_t i = 0; i < sizeof(name) - 1; i++)
		name[i] = i % 50 == 49 ? '.' : (char)('a' + i % 26);
	name[sizeof(name) - 1] = '\0';
	snprintf(spec, sizeof(spec), "10 %s, 20 mx.example.test", name);
	mx_answer(&a, spec);
	a.cname_hops = 1;
	a.canonical = name;
	plan = route_as(DOMAIN, &a, pol);
	assert_string_equal(mx_plan_canonical(plan), name);
	assert_int_equal(mx_plan_host_count(plan), 2);
	assert_string_equal(mx_host_name(mx_plan_host(plan, 0)), name);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 0)), MX_HOST_BAD_NAME);
	assert_string_equal(mx_host_name(mx_plan_host(plan, 1)), "mx.example.test");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_canonical(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;

	(void)state;
	mx_answer(&a, "10 mx.example.test");
	a.cname_hops = 2;
	a.canonical = "b.example.test";
	plan = route_as(DOMAIN, &a, pol);
	assert_string_equal(mx_plan_canonical(plan), "b.example.test");
	assert_string_equal(mx_plan_domain(plan), DOMAIN);
	drop_plan(plan);

	/* No canonical in the answer: the domain. */
	mx_answer(&a, "10 mx.example.test");
	a.canonical = "";
	plan = route_as(DOMAIN, &a, pol);
	assert_string_equal(mx_plan_canonical(plan), DOMAIN);
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_ip_literal_target(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("10 192.0.2.1, 20 2001\\058db8\\058\\0581, "
			      "30 \\058\\058ffff\\058192.0.2.9, 40 192.0.2.1.example.test",
	    pol);
	const mx_host *h;

	(void)state;
	ASSERT_ORDER(plan,
	    "192.0.2.1 2001\\058db8\\058\\0581 "
	    "\\058\\058ffff\\058192.0.2.9 192.0.2.1.example.test");
	for (size_t i = 0; i < 3; i++) {
		h = mx_plan_host(plan, i);
		assert_int_equal(mx_host_status_of(h), MX_HOST_IP_LITERAL);
		ASSERT_HOST_PROBLEMS(h, "ip-literal-target");
		assert_string_equal(mx_host_reason(h),
		    "the exchange is written as an "
		    "IP address; an MX record must name a host (RFC 5321 5.1)");
		assert_false(plan->hosts[i].need_addresses);
	}
	assert_true(plan->hosts[3].need_addresses);
	feed_kind(plan, 3, RR_TYPE_A, ANSWER_NXDOMAIN, pol);
	feed_kind(plan, 3, RR_TYPE_AAAA, ANSWER_NXDOMAIN, pol);
	route_finish(plan);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(mx_host_status_of(mx_plan_host(plan, i)), MX_HOST_IP_LITERAL);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 3)), MX_HOST_NO_ADDRESS);
	ASSERT_HOST_PROBLEMS(mx_plan_host(plan, 3), "");
	assert_int_equal(mx_plan_status(plan), MX_STATUS_NO_MAIL_HOST);
	assert_string_equal(mx_plan_reason(plan),
	    "none of the MX hosts of " DOMAIN " has an address or a usable name");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_bad_names(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("10 mx\\032a.example.test, 20 mx\\0951.example.test, "
			      "30 -mx.example.test, 40 good.example.test",
	    pol);

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(mx_host_status_of(mx_plan_host(plan, i)), MX_HOST_BAD_NAME);
		ASSERT_HOST_PROBLEMS(mx_plan_host(plan, i), "bad-hostname");
		assert_string_equal(mx_host_reason(mx_plan_host(plan, i)),
		    "the exchange "
		    "is not a valid host name (letters, digits and inner hyphens only)");
		assert_false(plan->hosts[i].need_addresses);
	}
	feed_addrs(plan, 3, RR_TYPE_AAAA, "2001:db8::25", 60, pol);
	feed_kind(plan, 3, RR_TYPE_A, ANSWER_NODATA, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_OK);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 0)), MX_HOST_BAD_NAME);
	assert_string_equal(mx_plan_reason(plan), "1 of 4 MX hosts usable");
	drop_plan(plan);

	/* Only bad names: nothing to try, for good. */
	plan = route("10 mx\\032a.example.test", pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_NO_MAIL_HOST);
	drop_plan(plan);
	drop_policy(pol);
}

/* ---- rules 5 and 7: addresses, temporary failures ---------------------------- */

/*
 * One table row per case: the MX answer, the address answers each host
 * gets, and what the plan and its hosts then say.  A field left NULL (or
 * CHECK_NOT, ANY_STATUS) is not asserted in that row.
 */
#define ADDR(h, t, text)                                                                           \
	{                                                                                          \
		h, RR_TYPE_##t, ANSWER_RECORDS, text                                               \
	}
#define KIND(h, t, k)                                                                              \
	{                                                                                          \
		h, RR_TYPE_##t, ANSWER_##k, NULL                                                   \
	}
#define MAX_FEEDS 6

enum check { CHECK_NOT, CHECK_TEMPORARY, CHECK_PERMANENT };

struct feed_row {
	size_t host;
	uint16_t qtype;
	answer_kind kind;
	const char *addrs; /* ANSWER_RECORDS: these, TTL 60 */
};

#define ANY_STATUS (-1)

struct host_want {
	int status; /* an mx_host_status, or ANY_STATUS */
	const char *problems, *addrs, *reason;
	bool has_reason; /* only that the reason is not "" */
};

struct fate {
	const char *name;
	const char *mx;
	struct feed_row feeds[MAX_FEEDS];
	size_t n_feeds;
	mx_status status;
	enum check permanence;
	const char *reason;
	bool finish_twice; /* route_finish is once and for all */
	struct host_want hosts[3];
	size_t n_hosts;
};

static const struct fate fates[] = {
	{ "no address vs tempfail: a mix is temporary",
	    "10 gone.example.test, 20 down.example.test",
	    { KIND(0, A, NODATA), KIND(0, AAAA, NXDOMAIN), KIND(1, A, TEMPFAIL),
		KIND(1, AAAA, TEMPFAIL) },
	    4, MX_STATUS_TEMPFAIL, CHECK_TEMPORARY,
	    "no MX host of " DOMAIN " has an address now: address lookups failed temporarily",
	    false,
	    { { MX_HOST_NO_ADDRESS, "", NULL, "no such host (NXDOMAIN)", false },
		{ MX_HOST_TEMPFAIL, "", NULL,
		    "A lookup failed: the resolver answered SERVFAIL; "
		    "AAAA lookup failed: the resolver answered SERVFAIL",
		    false } },
	    2 },
	{ "one family tempfail, the other has an address", "10 mx.example.test",
	    { ADDR(0, A, "192.0.2.1"), KIND(0, AAAA, TEMPFAIL) }, 2, MX_STATUS_OK, CHECK_NOT,
	    "1 of 1 MX host usable", false,
	    { { MX_HOST_OK, "address-tempfail", "192.0.2.1", NULL, false } }, 1 },
	{ "no address in one family, a failure in the other: temporary", "10 mx.example.test",
	    { KIND(0, A, NODATA), KIND(0, AAAA, TEMPFAIL) }, 2, MX_STATUS_TEMPFAIL, CHECK_NOT, NULL,
	    false, { { MX_HOST_TEMPFAIL, NULL, NULL, NULL, false } }, 1 },
	{ "all tempfail", "10 a.example.test, 20 b.example.test, 30 c.example.test",
	    { KIND(0, A, TEMPFAIL), KIND(0, AAAA, TEMPFAIL), KIND(1, A, TEMPFAIL),
		KIND(1, AAAA, TEMPFAIL), KIND(2, A, TEMPFAIL), KIND(2, AAAA, TEMPFAIL) },
	    6, MX_STATUS_TEMPFAIL, CHECK_NOT, NULL, false,
	    { { MX_HOST_TEMPFAIL, NULL, NULL, NULL, false },
		{ MX_HOST_TEMPFAIL, NULL, NULL, NULL, false },
		{ MX_HOST_TEMPFAIL, NULL, NULL, NULL, false } },
	    3 },
	{ "answers that never came count as temporary failures",
	    "10 a.example.test, 20 b.example.test",
	    { KIND(0, A, NODATA), KIND(0, AAAA, NODATA), KIND(1, A, NODATA) }, 3,
	    MX_STATUS_TEMPFAIL, CHECK_NOT, NULL, false,
	    { { MX_HOST_NO_ADDRESS, NULL, NULL, NULL, false },
		{ MX_HOST_TEMPFAIL, NULL, NULL, NULL, false } },
	    2 },
	{ "all no address: for good", "10 a.example.test, 20 b.example.test",
	    { KIND(0, A, NODATA), KIND(0, AAAA, NODATA), KIND(1, A, NXDOMAIN),
		KIND(1, AAAA, NODATA) },
	    4, MX_STATUS_NO_MAIL_HOST, CHECK_PERMANENT,
	    "none of the MX hosts of " DOMAIN " has an address or a usable name", false,
	    { { ANY_STATUS, NULL, NULL, "the host has no A or AAAA records", false },
		{ ANY_STATUS, NULL, NULL, "no such host (NXDOMAIN)", false } },
	    2 },
	{ "one usable host is enough, whatever the others did",
	    "10 a.example.test, 20 b.example.test, 30 c.example.test",
	    { KIND(0, A, TEMPFAIL), KIND(0, AAAA, TEMPFAIL), KIND(1, A, NXDOMAIN),
		KIND(1, AAAA, NXDOMAIN), ADDR(2, A, "192.0.2.30"), KIND(2, AAAA, NODATA) },
	    6, MX_STATUS_OK, CHECK_NOT, "1 of 3 MX hosts usable", true,
	    { { MX_HOST_TEMPFAIL, NULL, NULL, NULL, false },
		{ MX_HOST_NO_ADDRESS, NULL, NULL, NULL, false },
		{ MX_HOST_OK, NULL, NULL, NULL, false } },
	    3 },
	/* A family whose answer never came is a temporary failure, and an
	 * unusable host always says why (mx_host_reason: "" only when nothing). */
	{ "an unanswered host has a reason", "10 a.example.test", { KIND(0, A, NODATA) }, 1,
	    MX_STATUS_TEMPFAIL, CHECK_NOT, NULL, false,
	    { { MX_HOST_TEMPFAIL, NULL, NULL, NULL, true } }, 1 },
};

static void
expect_host(const mx_host *h, const struct host_want *w)
{
	if (w->status != ANY_STATUS)
		assert_int_equal(mx_host_status_of(h), w->status);
	if (w->problems != NULL)
		ASSERT_HOST_PROBLEMS(h, w->problems);
	if (w->addrs != NULL)
		ASSERT_ADDRS(h, w->addrs);
	if (w->reason != NULL)
		assert_string_equal(mx_host_reason(h), w->reason);
	if (w->has_reason)
		assert_true(mx_host_reason(h)[0] != '\0');
}

static void
test_fate(void **state)
{
	const struct fate *row = *state;
	mx_policy *pol = policy(1);
	mx_plan *plan = route(row->mx, pol);

	for (size_t i = 0; i < row->n_feeds; i++) {
		const struct feed_row *f = &row->feeds[i];
		if (f->addrs != NULL)
			feed_addrs(plan, f->host, f->qtype, f->addrs, 60, pol);
		else
			feed_kind(plan, f->host, f->qtype, f->kind, pol);
	}
	route_finish(plan);
	for (size_t i = 0; i < row->n_hosts; i++)
		expect_host(mx_plan_host(plan, i), &row->hosts[i]);
	assert_int_equal(mx_plan_status(plan), row->status);
	if (row->permanence == CHECK_TEMPORARY)
		assert_true(mx_status_temporary(mx_plan_status(plan)));
	if (row->permanence == CHECK_PERMANENT)
		assert_true(mx_status_permanent(mx_plan_status(plan)));
	if (row->reason != NULL)
		assert_string_equal(mx_plan_reason(plan), row->reason);
	if (row->finish_twice) {
		route_finish(plan);
		assert_int_equal(mx_plan_status(plan), row->status);
	}
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_mx_tempfail(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;

	(void)state;
	kind_answer(&a, ANSWER_TEMPFAIL);
	plan = route_as(DOMAIN, &a, pol);
	assert_true(plan->decided);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_TEMPFAIL);
	assert_int_equal(mx_plan_host_count(plan), 0);
	ASSERT_PLAN_PROBLEMS(plan, "");
	assert_string_equal(mx_plan_reason(plan),
	    "the MX lookup for " DOMAIN " failed for now: the resolver answered SERVFAIL");
	drop_plan(plan);

	/* A CNAME loop. */
	kind_answer(&a, ANSWER_TEMPFAIL);
	a.cname_loop = true;
	plan = route_as(DOMAIN, &a, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_TEMPFAIL);
	ASSERT_PLAN_PROBLEMS(plan, "cname-loop");
	drop_plan(plan);

	/* An address lookup looping. */
	plan = route("10 mx.example.test", pol);
	kind_answer(&a, ANSWER_TEMPFAIL);
	a.cname_loop = true;
	feed(plan, 0, RR_TYPE_A, &a, pol);
	feed_kind(plan, 0, RR_TYPE_AAAA, ANSWER_NODATA, pol);
	route_finish(plan);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 0)), MX_HOST_TEMPFAIL);
	ASSERT_HOST_PROBLEMS(mx_plan_host(plan, 0), "cname-loop");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_timeout(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;

	(void)state;
	answer_set_failure(&a, "no answer before the deadline", true);
	plan = route_as(DOMAIN, &a, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_TEMPFAIL);
	ASSERT_PLAN_PROBLEMS(plan, "timeout");
	assert_string_equal(mx_plan_reason(plan),
	    "the MX lookup for " DOMAIN " failed for now: no answer before the deadline");
	assert_int_equal(mx_plan_dnssec(plan), MX_DNSSEC_INDETERMINATE);
	drop_plan(plan);

	plan = route("10 mx.example.test", pol);
	feed_kind(plan, 0, RR_TYPE_A, ANSWER_NODATA, pol);
	answer_set_failure(&a, "no answer before the deadline", true);
	feed(plan, 0, RR_TYPE_AAAA, &a, pol);
	route_finish(plan);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 0)), MX_HOST_TEMPFAIL);
	ASSERT_HOST_PROBLEMS(mx_plan_host(plan, 0), "timeout");
	assert_string_equal(mx_host_reason(mx_plan_host(plan, 0)),
	    "AAAA lookup failed: no answer before the deadline");
	assert_int_equal(mx_plan_status(plan), MX_STATUS_TEMPFAIL);
	drop_plan(plan);
	drop_policy(pol);
}

/* ---- rule 8 and the DNSSEC verdict --------------------------------------------- */

static void
test_bogus_mx(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;

	(void)state;
	mx_answer(&a, "10 evil.example.test");
	a.security = SEC_BOGUS;
	a.why = "signature expired";
	plan = route_as(DOMAIN, &a, pol);
	assert_true(plan->decided);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_TEMPFAIL);
	assert_int_equal(mx_plan_host_count(plan), 0);
	ASSERT_PLAN_PROBLEMS(plan, "dnssec-bogus");
	assert_int_equal(mx_plan_dnssec(plan), MX_DNSSEC_BOGUS);
	assert_string_equal(mx_plan_reason(plan),
	    "the MX records of " DOMAIN " failed DNSSEC validation: signature expired");
	drop_plan(plan);

	/* Bogus NXDOMAIN is no NXDOMAIN. */
	kind_answer(&a, ANSWER_NXDOMAIN);
	a.security = SEC_BOGUS;
	plan = route_as(DOMAIN, &a, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_TEMPFAIL);
	ASSERT_PLAN_PROBLEMS(plan, "dnssec-bogus");
	assert_string_equal(
	    mx_plan_reason(plan), "the MX records of " DOMAIN " failed DNSSEC validation");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_bogus_address(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("10 a.example.test, 20 b.example.test", pol);
	struct answer a;

	(void)state;
	/* a: both families bogus, addresses and all. */
	addr_answer(&a, "192.0.2.66", 60);
	a.security = SEC_BOGUS;
	feed(plan, 0, RR_TYPE_A, &a, pol);
	addr_answer(&a, "2001:db8::66", 60);
	a.security = SEC_BOGUS;
	feed(plan, 0, RR_TYPE_AAAA, &a, pol);
	/* b: A secure, AAAA bogus. */
	addr_answer(&a, "192.0.2.2", 60);
	a.security = SEC_SECURE;
	feed(plan, 1, RR_TYPE_A, &a, pol);
	addr_answer(&a, "2001:db8::66", 60);
	a.security = SEC_BOGUS;
	feed(plan, 1, RR_TYPE_AAAA, &a, pol);
	route_finish(plan);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 0)), MX_HOST_TEMPFAIL);
	ASSERT_HOST_PROBLEMS(mx_plan_host(plan, 0), "dnssec-bogus");
	ASSERT_ADDRS(mx_plan_host(plan, 0), "");
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 1)), MX_HOST_OK);
	ASSERT_HOST_PROBLEMS(mx_plan_host(plan, 1), "dnssec-bogus address-tempfail");
	ASSERT_ADDRS(mx_plan_host(plan, 1), "192.0.2.2");
	ASSERT_PLAN_PROBLEMS(plan, "dnssec-bogus");
	assert_int_equal(mx_plan_status(plan), MX_STATUS_OK);
	assert_int_equal(mx_plan_dnssec(plan), MX_DNSSEC_BOGUS);
	drop_plan(plan);

	/* The only host bogus: the domain fails for now. */
	plan = route("10 a.example.test", pol);
	addr_answer(&a, "192.0.2.66", 60);
	a.security = SEC_BOGUS;
	feed(plan, 0, RR_TYPE_A, &a, pol);
	feed_kind(plan, 0, RR_TYPE_AAAA, ANSWER_NODATA, pol);
	route_finish(plan);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 0)), MX_HOST_TEMPFAIL);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_TEMPFAIL);
	drop_plan(plan);
	drop_policy(pol);
}

/* The verdict over an MX answer and host a's A and AAAA answers. */
static mx_dnssec
verdict(answer_security mx, answer_security a4, answer_security a6)
{
	mx_policy *pol = policy(1);
	mx_plan *plan;
	struct answer a;
	mx_dnssec d;

	mx_answer(&a, "10 a.example.test");
	a.security = mx;
	plan = route_as(DOMAIN, &a, pol);
	if (!plan->decided) {
		addr_answer(&a, "192.0.2.1", 60);
		a.security = a4;
		feed(plan, 0, RR_TYPE_A, &a, pol);
		kind_answer(&a, ANSWER_NODATA);
		a.security = a6;
		feed(plan, 0, RR_TYPE_AAAA, &a, pol);
	}
	route_finish(plan);
	d = mx_plan_dnssec(plan);
	drop_plan(plan);
	drop_policy(pol);
	return d;
}

/* Secure MX and A answers, and an AAAA lookup that failed (no security). */
static mx_dnssec
verdict_tempfail_aaaa(void)
{
	mx_policy *pol = policy(1);
	mx_plan *plan;
	struct answer a;
	mx_dnssec d;

	mx_answer(&a, "10 a.example.test");
	a.security = SEC_SECURE;
	plan = route_as(DOMAIN, &a, pol);
	addr_answer(&a, "192.0.2.1", 60);
	a.security = SEC_SECURE;
	feed(plan, 0, RR_TYPE_A, &a, pol);
	feed_kind(plan, 0, RR_TYPE_AAAA, ANSWER_TEMPFAIL, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_OK);
	d = mx_plan_dnssec(plan);
	drop_plan(plan);
	drop_policy(pol);
	return d;
}

/* The DNSSEC verdict over an MX answer and host a's A and AAAA answers. */
static const struct {
	answer_security mx, a4, a6;
	mx_dnssec want;
} verdicts[] = {
	{ SEC_SECURE, SEC_SECURE, SEC_SECURE, MX_DNSSEC_SECURE },
	{ SEC_SECURE, SEC_INSECURE, SEC_SECURE, MX_DNSSEC_INSECURE },
	{ SEC_INSECURE, SEC_SECURE, SEC_SECURE, MX_DNSSEC_INSECURE },
	{ SEC_INSECURE, SEC_INSECURE, SEC_INSECURE, MX_DNSSEC_INSECURE },
	{ SEC_SECURE, SEC_SECURE, SEC_UNKNOWN, MX_DNSSEC_INDETERMINATE },
	{ SEC_INSECURE, SEC_UNKNOWN, SEC_INSECURE, MX_DNSSEC_INDETERMINATE },
	{ SEC_UNKNOWN, SEC_UNKNOWN, SEC_UNKNOWN, MX_DNSSEC_INDETERMINATE },
	{ SEC_UNKNOWN, SEC_BOGUS, SEC_INSECURE, MX_DNSSEC_BOGUS },
	{ SEC_SECURE, SEC_SECURE, SEC_BOGUS, MX_DNSSEC_BOGUS },
	{ SEC_BOGUS, SEC_SECURE, SEC_SECURE, MX_DNSSEC_BOGUS },
};

static void
test_dnssec_aggregate(void **state)
{
	mx_plan *plan;

	(void)state;
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		assert_int_equal(
		    verdict(verdicts[i].mx, verdicts[i].a4, verdicts[i].a6), verdicts[i].want);
	/* A failed answer was not used: it says nothing about DNSSEC. */
	assert_int_equal(verdict_tempfail_aaaa(), MX_DNSSEC_SECURE);
	/* No answer at all. */
	assert_int_equal(plan_new(DOMAIN, &plan), MX_OK);
	track((void **)live_plans, plan);
	assert_int_equal(mx_plan_dnssec(plan), MX_DNSSEC_INDETERMINATE);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_TEMPFAIL);
	drop_plan(plan);
}

/* ---- rule 5: family order --------------------------------------------------- */

static void
check_prefer(mx_family_pref pref, bool a_first, const char *want)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("10 mx.example.test", pol);
	const mx_host *h;

	mx_policy_set_prefer(pol, pref);
	for (int k = 0; k < 2; k++) {
		if ((k == 0) == a_first)
			feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.2 192.0.2.1", 60, pol);
		else
			feed_addrs(plan, 0, RR_TYPE_AAAA, "2001:db8::2 2001:db8::1", 60, pol);
	}
	route_finish(plan);
	h = mx_plan_host(plan, 0);
	ASSERT_ADDRS(h, want);
	assert_int_equal(mx_host_address_family(h, 0), pref == MX_PREFER_IPV4 ? AF_INET : AF_INET6);
	assert_int_equal(mx_host_address_family(h, 3), pref == MX_PREFER_IPV4 ? AF_INET6 : AF_INET);
	drop_plan(plan);
	drop_policy(pol);
}

#define V6_FIRST "2001:db8::2 2001:db8::1 192.0.2.2 192.0.2.1"
#define V4_FIRST "192.0.2.2 192.0.2.1 2001:db8::2 2001:db8::1"

/* --prefer decides, not the order in which the families answered. */
static const struct {
	mx_family_pref pref;
	bool a_first;
	const char *want;
} prefers[] = {
	{ MX_PREFER_IPV6, true, V6_FIRST },
	{ MX_PREFER_IPV6, false, V6_FIRST },
	{ MX_PREFER_IPV4, true, V4_FIRST },
	{ MX_PREFER_IPV4, false, V4_FIRST },
};

static void
test_prefer(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(prefers) / sizeof(prefers[0]); i++)
		check_prefer(prefers[i].pref, prefers[i].a_first, prefers[i].want);
}

static void
test_prefer_default_is_ipv6(void **state)
{
	mx_policy *pol = NULL;
	mx_plan *plan;

	(void)state;
	assert_int_equal(mx_policy_new(&pol), MX_OK);
	track((void **)live_policies, pol);
	plan = route("10 mx.example.test", pol);
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 60, pol);
	feed_addrs(plan, 0, RR_TYPE_AAAA, "2001:db8::1", 60, pol);
	route_finish(plan);
	ASSERT_ADDRS(mx_plan_host(plan, 0), "2001:db8::1 192.0.2.1");
	drop_plan(plan);
	drop_policy(pol);
}

/* ---- rule 6: this host --------------------------------------------------------- */

static void
test_self_pruning(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan;
	const mx_host *h;

	(void)state;
	assert_int_equal(mx_policy_add_local_name(pol, "MX2.Example.TEST."), MX_OK);
	plan = route("10 mx1.example.test, 20 mx2.example.test, 30 mx3.example.test, "
		     "20 peer.example.test",
	    pol);
	assert_false(plan->decided);
	assert_int_equal(mx_plan_host_count(plan), 4);
	assert_string_equal(mx_host_name(mx_plan_host(plan, 0)), "mx1.example.test");
	assert_true(plan->hosts[0].need_addresses);
	for (size_t i = 1; i < 4; i++)
		assert_false(plan->hosts[i].need_addresses);
	h = host(plan, "mx2.example.test");
	assert_int_equal(mx_host_status_of(h), MX_HOST_PRUNED);
	ASSERT_HOST_PROBLEMS(h, "local-name");
	assert_string_equal(mx_host_reason(h), "this host (a --local-name)");
	h = host(plan, "peer.example.test");
	assert_int_equal(mx_host_status_of(h), MX_HOST_PRUNED);
	ASSERT_HOST_PROBLEMS(h, "not-better-than-self");
	assert_string_equal(
	    mx_host_reason(h), "preference 20 is not better than this host's 20 (RFC 5321 5.1)");
	h = host(plan, "mx3.example.test");
	assert_int_equal(mx_host_status_of(h), MX_HOST_PRUNED);
	ASSERT_HOST_PROBLEMS(h, "not-better-than-self");
	assert_string_equal(
	    mx_host_reason(h), "preference 30 is not better than this host's 20 (RFC 5321 5.1)");
	assert_string_equal(mx_host_reason(mx_plan_host(plan, 0)), "");
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 60, pol);
	feed_kind(plan, 0, RR_TYPE_AAAA, ANSWER_NODATA, pol);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_OK);
	assert_int_equal(mx_host_status_of(mx_plan_host(plan, 0)), MX_HOST_OK);
	assert_int_equal(mx_host_status_of(host(plan, "mx3.example.test")), MX_HOST_PRUNED);
	ASSERT_ADDRS(host(plan, "mx3.example.test"), "");
	assert_string_equal(mx_plan_reason(plan), "1 of 4 MX hosts usable");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_self_is_best(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan;

	(void)state;
	assert_int_equal(mx_policy_add_local_name(pol, "other.invalid"), MX_OK);
	assert_int_equal(mx_policy_add_local_name(pol, "mx1.example.test"), MX_OK);
	plan = route("20 mx2.example.test, 10 mx1.example.test", pol);
	assert_true(plan->decided);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_LOOP);
	assert_true(mx_status_permanent(MX_STATUS_LOOP));
	assert_int_equal(mx_host_status_of(host(plan, "mx1.example.test")), MX_HOST_PRUNED);
	ASSERT_HOST_PROBLEMS(host(plan, "mx1.example.test"), "local-name");
	assert_int_equal(mx_host_status_of(host(plan, "mx2.example.test")), MX_HOST_PRUNED);
	ASSERT_HOST_PROBLEMS(host(plan, "mx2.example.test"), "not-better-than-self");
	assert_string_equal(mx_plan_reason(plan),
	    "the best MX host of " DOMAIN
	    " is this host (preference 10): mail would loop back to myself");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_implicit_mx_self(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;

	(void)state;
	assert_int_equal(mx_policy_add_local_name(pol, "Example.Test"), MX_OK);
	kind_answer(&a, ANSWER_NODATA);
	plan = route_as(DOMAIN, &a, pol);
	assert_true(plan->decided);
	route_finish(plan);
	assert_int_equal(mx_plan_status(plan), MX_STATUS_LOOP);
	assert_true(mx_plan_implicit_mx(plan));
	ASSERT_HOST_PROBLEMS(mx_plan_host(plan, 0), "local-name");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_local_names_policy(void **state)
{
	mx_policy *pol = policy(1);
	char name[32];

	(void)state;
	assert_int_equal(mx_policy_add_local_name(pol, "bad name"), MX_ERR_BAD_DOMAIN);
	assert_int_equal(mx_policy_add_local_name(pol, NULL), MX_ERR_INVALID);
	assert_int_equal(mx_policy_add_local_name(NULL, "a.test"), MX_ERR_INVALID);
	for (int i = 0; i < ROUTE_MAX_LOCAL_NAMES; i++) {
		snprintf(name, sizeof(name), "h%d.test", i);
		assert_int_equal(mx_policy_add_local_name(pol, name), MX_OK);
	}
	assert_int_equal(mx_policy_add_local_name(pol, "one-too-many.test"), MX_ERR_INVALID);
	assert_int_equal(mx_policy_set_timeout_ms(pol, 0), MX_ERR_INVALID);
	assert_int_equal(mx_policy_set_timeout_ms(pol, 5000), MX_OK);
	assert_int_equal(pol->timeout_ms, 5000);
	assert_int_equal(mx_policy_new(NULL), MX_ERR_INVALID);
	drop_policy(pol);
	mx_policy_free(NULL);
}

/* ---- duplicates, TTLs ------------------------------------------------------------ */

static void
test_duplicate_host(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("20 a.example.test, 30 b.example.test, 10 a.example.test, "
			      "40 a.example.test",
	    pol);

	(void)state;
	ASSERT_ORDER(plan, "a.example.test b.example.test");
	assert_int_equal(mx_host_preference(mx_plan_host(plan, 0)), 10);
	assert_int_equal(mx_host_preference(mx_plan_host(plan, 1)), 30);
	ASSERT_PLAN_PROBLEMS(plan, "duplicate-host");
	ASSERT_HOST_PROBLEMS(mx_plan_host(plan, 0), "");
	drop_plan(plan);

	/* At equal preference too. */
	plan = route("10 a.example.test, 10 a.example.test", pol);
	ASSERT_ORDER(plan, "a.example.test");
	ASSERT_PLAN_PROBLEMS(plan, "duplicate-host");
	drop_plan(plan);
	drop_policy(pol);
}

static void
test_host_ttl(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;

	(void)state;
	/* An MX host keeps the TTL of its MX record. */
	mx_answer(&a, "10 mx.example.test");
	a.mx[0].ttl = 300;
	plan = route_as(DOMAIN, &a, pol);
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 5, pol);
	feed_addrs(plan, 0, RR_TYPE_AAAA, "2001:db8::1", 7, pol);
	route_finish(plan);
	assert_int_equal(mx_host_ttl(mx_plan_host(plan, 0)), 300);
	drop_plan(plan);

	/* An implicit MX takes the lowest address TTL. */
	kind_answer(&a, ANSWER_NODATA);
	plan = route_as(DOMAIN, &a, pol);
	addr_answer(&a, "192.0.2.1 192.0.2.2", 300);
	a.addrs[1].ttl = 100;
	feed(plan, 0, RR_TYPE_A, &a, pol);
	feed_addrs(plan, 0, RR_TYPE_AAAA, "2001:db8::1", 200, pol);
	route_finish(plan);
	assert_int_equal(mx_host_ttl(mx_plan_host(plan, 0)), 100);
	drop_plan(plan);

	kind_answer(&a, ANSWER_NODATA);
	plan = route_as(DOMAIN, &a, pol);
	feed_addrs(plan, 0, RR_TYPE_AAAA, "2001:db8::1", 50, pol);
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 900, pol);
	route_finish(plan);
	assert_int_equal(mx_host_ttl(mx_plan_host(plan, 0)), 50);
	drop_plan(plan);
	drop_policy(pol);
}

/* A TTL of zero is the lowest TTL too, whatever comes after it. */
static void
test_implicit_mx_ttl_zero(void **state)
{
	mx_policy *pol = policy(1);
	struct answer a;
	mx_plan *plan;

	(void)state;
	kind_answer(&a, ANSWER_NODATA);
	plan = route_as(DOMAIN, &a, pol);
	feed_addrs(plan, 0, RR_TYPE_AAAA, "2001:db8::1", 300, pol);
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 0, pol);
	route_finish(plan);
	assert_int_equal(mx_host_ttl(mx_plan_host(plan, 0)), 0);
	drop_plan(plan);

	kind_answer(&a, ANSWER_NODATA);
	plan = route_as(DOMAIN, &a, pol);
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 0, pol);
	feed_addrs(plan, 0, RR_TYPE_AAAA, "2001:db8::1", 300, pol);
	route_finish(plan);
	assert_int_equal(mx_host_ttl(mx_plan_host(plan, 0)), 0);
	drop_plan(plan);

	kind_answer(&a, ANSWER_NODATA);
	plan = route_as(DOMAIN, &a, pol);
	addr_answer(&a, "192.0.2.1 192.0.2.2", 0);
	a.addrs[1].ttl = 600;
	feed(plan, 0, RR_TYPE_A, &a, pol);
	feed_kind(plan, 0, RR_TYPE_AAAA, ANSWER_NODATA, pol);
	route_finish(plan);
	assert_int_equal(mx_host_ttl(mx_plan_host(plan, 0)), 0);
	drop_plan(plan);
	drop_policy(pol);
}

/* ---- plan getters (plan.c) ------------------------------------------------------ */

static void
test_getters(void **state)
{
	mx_policy *pol = policy(1);
	mx_plan *plan = route("10 mx.example.test", pol);
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
	const mx_host *h;
	char text[INET6_ADDRSTRLEN];

	(void)state;
	feed_addrs(plan, 0, RR_TYPE_A, "192.0.2.1", 60, pol);
	feed_addrs(plan, 0, RR_TYPE_AAAA, "2001:db8::1", 60, pol);
	route_finish(plan);
	assert_int_equal(
	    route_add_addresses(plan, 1, RR_TYPE_A, &(struct answer){ .kind = ANSWER_NODATA }, pol),
	    MX_ERR_INVALID);
	assert_null(mx_plan_host(plan, 1));
	h = mx_plan_host(plan, 0);
	assert_int_equal(mx_host_address_count(h), 2);
	assert_null(mx_host_address(h, 2));
	assert_int_equal(mx_host_address_family(h, 2), AF_UNSPEC);
	assert_int_equal(mx_host_address_sockaddr(h, 2, 25, &ss), 0);
	assert_int_equal(mx_host_address_sockaddr(h, 0, 25, NULL), 0);

	assert_int_equal(mx_host_address_sockaddr(h, 0, 25, &ss), sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 25);
	inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
	assert_string_equal(text, "2001:db8::1");

	assert_int_equal(mx_host_address_sockaddr(h, 1, 587, &ss), sizeof(struct sockaddr_in));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 587);
	inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
	assert_string_equal(text, "192.0.2.1");

	assert_int_equal(mx_plan_problem(plan, 0), MX_PROBLEM_COUNT_);
	assert_int_equal(mx_host_problem(h, 0), MX_PROBLEM_COUNT_);
	drop_plan(plan);
	mx_plan_free(NULL);
	drop_policy(pol);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
	static const struct CMUnitTest fixed[] = {
		T(test_sort_by_preference),
		T(test_shuffle_deterministic),
		T(test_shuffle_varies),
		T(test_shuffle_per_host),
		T(test_seed_repeatable),
		T(test_implicit_mx),
		T(test_nxdomain),
		T(test_null_mx),
		T(test_null_mx_mixed),
		T(test_cname_target),
		T(test_canonical),
		T(test_long_names),
		T(test_ip_literal_target),
		T(test_bad_names),
		T(test_mx_tempfail),
		T(test_timeout),
		T(test_bogus_mx),
		T(test_bogus_address),
		T(test_dnssec_aggregate),
		T(test_prefer),
		T(test_prefer_default_is_ipv6),
		T(test_self_pruning),
		T(test_self_is_best),
		T(test_implicit_mx_self),
		T(test_local_names_policy),
		T(test_duplicate_host),
		T(test_host_ttl),
		T(test_implicit_mx_ttl_zero),
		T(test_getters),
	};
	enum {
		N_FIXED = sizeof(fixed) / sizeof(fixed[0]),
		N_FATES = sizeof(fates) / sizeof(fates[0])
	};
	struct CMUnitTest tests[N_FIXED + N_FATES];

	memcpy(tests, fixed, sizeof(fixed));
	/* One test per row of the table, named by it, the row as its state. */
	for (size_t i = 0; i < N_FATES; i++)
		tests[N_FIXED + i] = (struct CMUnitTest){ fates[i].name, test_fate, NULL, teardown,
			(void *)&fates[i] };
	return _cmocka_run_group_tests("test_route", tests, N_FIXED + N_FATES, NULL, NULL);
}
