/*
 * test_resolver_free.c - mx_resolver_free with work in flight: 50 plan
 * lookups started with mx_route_start, on both transports, against the
 * sandbox's resolver and against its black hole (127.0.0.99, where every
 * query surely stays in flight), some still in the resolver's own queue
 * (max_inflight 8), the loop run once or not at all, then the resolver
 * freed.  No callback may run, and ASan's leak checker (on in
 * scripts/test) must find nothing at exit: a lookup, plan, policy copy,
 * query or transport ticket left behind fails the test.  Needs the
 * sandbox: outside it skips (77), or fails with MX_REQUIRE_SANDBOX=1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mx.h"

#define LOOKUPS 50

/* Names the sandbox serves: with MX records, without, and that do not exist. */
static const char *const names[] = {
	"ok.send.test", "signed.test", "bogus.test", "partial.test",
	"check.test", "nxdomain.test", "example.test",
};

struct run {
	mx_transport transport;
	const char *server;   /* NULL: the sandbox's resolver */
	unsigned turns;       /* mx_resolver_run_once calls before the free */
	unsigned max_inflight; /* 0: the default */
};

static int called;

static void
on_plan(mx_plan *plan, void *arg)
{
	(void)arg;
	called++;
	mx_plan_free(plan);
}

static void
start_and_free(const struct run *run)
{
	mx_resolver *r = NULL;
	mx_policy *pol = NULL;
	mx_why why;
	char name[64];

	called = 0;
	assert_int_equal(mx_resolver_new(&r), MX_OK);
	assert_int_equal(mx_resolver_add_server(r, run->server ? run->server :
	    getenv("MX_SANDBOX_RESOLVER")), MX_OK);
	assert_int_equal(mx_resolver_set_trust_anchor(r, getenv("MX_SANDBOX_ANCHOR")), MX_OK);
	assert_int_equal(mx_resolver_set_transport(r, run->transport), MX_OK);
	if (run->max_inflight > 0)
		assert_int_equal(mx_resolver_set_max_inflight(r, run->max_inflight), MX_OK);
	assert_int_equal(mx_policy_new(&pol), MX_OK);
	for (int i = 0; i < LOOKUPS; i++) {
		/* Half the names again, half new: cache hits and misses alike. */
		if (i % 2 == 0)
			snprintf(name, sizeof(name), "%s", names[(size_t)i / 2 %
			    (sizeof(names) / sizeof(names[0]))]);
		else
			snprintf(name, sizeof(name), "n%d.example.test", i);
		assert_int_equal(mx_route_start(r, pol, name, on_plan, NULL, &why), MX_OK);
		assert_string_equal(why.text, "");
	}
	for (unsigned t = 0; t < run->turns; t++)
		assert_int_equal(mx_resolver_run_once(r), MX_OK);
	mx_policy_free(pol); /* the lookups copied it */
	mx_resolver_free(r);
	/* Cancelled lookups never call back, not even from the free. */
	if (run->turns == 0)
		assert_int_equal(called, 0);
}

/* The black hole never answers: every lookup is surely still in flight. */
static void
test_black_hole(void **state)
{
	(void)state;
	for (int t = 0; t < 2; t++) {
		struct run run = {(mx_transport)t, "127.0.0.99", 1, 0};
		start_and_free(&run);
		assert_int_equal(called, 0);
		run.turns = 0;
		start_and_free(&run);
		run.max_inflight = 8; /* 42 wait in the resolver's queue */
		start_and_free(&run);
		assert_int_equal(called, 0);
	}
}

/* The sandbox's resolver: some answers back, some on their way. */
static void
test_sandbox_resolver(void **state)
{
	(void)state;
	for (int t = 0; t < 2; t++) {
		for (unsigned turns = 0; turns < 3; turns++) {
			struct run run = {(mx_transport)t, NULL, turns, 0};
			start_and_free(&run);
			run.max_inflight = 8;
			start_and_free(&run);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_black_hole),
		cmocka_unit_test(test_sandbox_resolver),
	};

	if (getenv("MX_SANDBOX") == NULL) {
		const char *req = getenv("MX_REQUIRE_SANDBOX");

		fprintf(stderr, "test_resolver_free: needs the sandbox (tests/sandbox/sandbox run)\n");
		return req != NULL && strcmp(req, "1") == 0 ? 1 : 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
