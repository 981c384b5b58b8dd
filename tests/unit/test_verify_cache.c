/*
 * test_verify_cache.c - lib/verify/verify_cache.c, the answers of
 * recipient verification: kept until their expiry and not a second
 * after, replaced in place, the oldest dropped first when full (a
 * replaced answer counts as new), many addresses sharing buckets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "verify_cache.h"

static void
test_expiry(void **state)
{
	struct verify_cache *c;

	(void)state;
	assert_int_equal(verify_cache_new(4, &c), MX_OK);
	assert_true(verify_cache_put(c, "a@x.test", VERIFY_ACCEPTED, 100));
	assert_true(verify_cache_put(c, "b@x.test", VERIFY_REFUSED, 50));
	assert_int_equal(verify_cache_get(c, "a@x.test", 99), VERIFY_ACCEPTED);
	assert_int_equal(verify_cache_get(c, "b@x.test", 49), VERIFY_REFUSED);
	assert_int_equal(verify_cache_get(c, "B@x.test", 49), VERIFY_UNKNOWN);
	assert_int_equal(verify_cache_get(c, "b@x.test", 50), VERIFY_UNKNOWN);
	assert_int_equal(verify_cache_count(c), 1); /* the expired one is gone */
	assert_int_equal(verify_cache_get(c, "a@x.test", 100), VERIFY_UNKNOWN);
	assert_int_equal(verify_cache_count(c), 0);
	verify_cache_free(c);
}

static void
test_bound(void **state)
{
	struct verify_cache *c;
	char addr[64];

	(void)state;
	assert_int_equal(verify_cache_new(3, &c), MX_OK);
	assert_true(verify_cache_put(c, "1@x.test", VERIFY_ACCEPTED, 1000));
	assert_true(verify_cache_put(c, "2@x.test", VERIFY_ACCEPTED, 1000));
	assert_true(verify_cache_put(c, "3@x.test", VERIFY_ACCEPTED, 1000));
	assert_true(verify_cache_put(c, "1@x.test", VERIFY_REFUSED, 1000)); /* now the newest */
	assert_true(verify_cache_put(c, "4@x.test", VERIFY_ACCEPTED, 1000));
	assert_int_equal(verify_cache_count(c), 3);
	assert_int_equal(verify_cache_get(c, "2@x.test", 0), VERIFY_UNKNOWN);
	assert_int_equal(verify_cache_get(c, "1@x.test", 0), VERIFY_REFUSED);
	assert_int_equal(verify_cache_get(c, "3@x.test", 0), VERIFY_ACCEPTED);
	verify_cache_free(c);
	assert_int_equal(verify_cache_new(1000, &c), MX_OK);
	for (int i = 0; i < 5000; i++) {
		snprintf(addr, sizeof(addr), "user%d@x.test", i);
		assert_true(
		    verify_cache_put(c, addr, i % 2 ? VERIFY_ACCEPTED : VERIFY_REFUSED, 10));
	}
	assert_int_equal(verify_cache_count(c), 1000);
	assert_int_equal(verify_cache_get(c, "user3999@x.test", 0), VERIFY_UNKNOWN);
	assert_int_equal(verify_cache_get(c, "user4000@x.test", 0), VERIFY_REFUSED);
	assert_int_equal(verify_cache_get(c, "user4999@x.test", 0), VERIFY_ACCEPTED);
	verify_cache_free(c);
	assert_int_equal(verify_cache_new(0, &c), MX_ERR_INVALID);
	verify_cache_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests_name("verify_cache", tests, NULL, NULL);
}
