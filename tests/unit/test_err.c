/*
 * test_err.c - lib/err.c and the problem sets of plan.c: the message of
 * every mx_err (never NULL, out of range included), their classes, the
 * stable names of every status, host status, DNSSEC verdict and problem
 * (unique, "unknown" out of range), and which statuses are temporary or
 * permanent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mx.h"
#include "plan.h"

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(mx_strerror(MX_OK), "success");
	assert_string_equal(mx_strerror(MX_ERR_NOMEM), "out of memory");
	assert_string_equal(mx_strerror(MX_ERR_INVALID), "invalid argument");
	assert_string_equal(mx_strerror(MX_ERR_BAD_DOMAIN), "malformed domain, address or message");
	assert_string_equal(mx_strerror(MX_ERR_CONFIG), "configuration failed (resolver, trust anchor or CA file)");
	assert_string_equal(mx_strerror(MX_ERR_SYSTEM),
	    "system error (sockets or event loop)");
	assert_string_equal(mx_strerror(MX_ERR_BUSY),
	    "resolver already in use: configure it first");
	assert_string_equal(mx_strerror((mx_err)99), "unknown error");
	assert_string_equal(mx_strerror((mx_err)-1), "unknown error");
	for (int e = -5; e < 300; e++) {
		const char *s = mx_strerror((mx_err)e);
		assert_non_null(s);
		assert_true(s[0] != '\0');
	}
}

static void
test_classify(void **state)
{
	(void)state;
	assert_int_equal(mx_err_classify(MX_OK), MX_CLASS_NONE);
	assert_int_equal(mx_err_classify(MX_ERR_NOMEM), MX_CLASS_TEMPORARY);
	assert_int_equal(mx_err_classify(MX_ERR_SYSTEM), MX_CLASS_TEMPORARY);
	assert_int_equal(mx_err_classify(MX_ERR_BAD_DOMAIN), MX_CLASS_PERMANENT);
	assert_int_equal(mx_err_classify(MX_ERR_INVALID), MX_CLASS_USAGE);
	assert_int_equal(mx_err_classify(MX_ERR_CONFIG), MX_CLASS_USAGE);
	assert_int_equal(mx_err_classify(MX_ERR_BUSY), MX_CLASS_USAGE);
	assert_int_equal(mx_err_classify((mx_err)99), MX_CLASS_USAGE);

	assert_false(mx_err_temporary(MX_OK));
	assert_true(mx_err_temporary(MX_ERR_NOMEM));
	assert_true(mx_err_temporary(MX_ERR_SYSTEM));
	assert_false(mx_err_temporary(MX_ERR_BAD_DOMAIN));
	assert_false(mx_err_temporary(MX_ERR_INVALID));
	assert_false(mx_err_temporary(MX_ERR_CONFIG));
	assert_false(mx_err_temporary(MX_ERR_BUSY));
}

static void
test_problem_names(void **state)
{
	static const char *const want[MX_PROBLEM_COUNT_] = {
		"null-mx-mixed", "null-mx-preference", "duplicate-host",
		"dnssec-bogus", "cname-target", "ip-literal-target", "bad-hostname",
		"cname-loop", "address-tempfail", "local-name",
		"not-better-than-self", "timeout",
	};

	(void)state;
	assert_int_equal(MX_PROBLEM_COUNT_, 12);
	for (int p = 0; p < MX_PROBLEM_COUNT_; p++) {
		assert_string_equal(mx_problem_name((mx_problem)p), want[p]);
		for (int q = 0; q < p; q++)
			assert_string_not_equal(mx_problem_name((mx_problem)p),
			    mx_problem_name((mx_problem)q));
	}
	assert_string_equal(mx_problem_name(MX_PROBLEM_COUNT_), "unknown");
	assert_string_equal(mx_problem_name((mx_problem)-1), "unknown");
	assert_string_equal(mx_problem_name((mx_problem)1000), "unknown");
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(mx_status_name(MX_STATUS_OK), "ok");
	assert_string_equal(mx_status_name(MX_STATUS_NULL_MX), "null-mx");
	assert_string_equal(mx_status_name(MX_STATUS_NXDOMAIN), "nxdomain");
	assert_string_equal(mx_status_name(MX_STATUS_NO_MAIL_HOST), "no-mail-host");
	assert_string_equal(mx_status_name(MX_STATUS_TEMPFAIL), "tempfail");
	assert_string_equal(mx_status_name(MX_STATUS_LOOP), "loop");
	assert_string_equal(mx_status_name((mx_status)6), "unknown");
	assert_string_equal(mx_status_name((mx_status)-1), "unknown");

	assert_string_equal(mx_host_status_name(MX_HOST_OK), "ok");
	assert_string_equal(mx_host_status_name(MX_HOST_NO_ADDRESS), "no-address");
	assert_string_equal(mx_host_status_name(MX_HOST_TEMPFAIL), "tempfail");
	assert_string_equal(mx_host_status_name(MX_HOST_IP_LITERAL), "ip-literal");
	assert_string_equal(mx_host_status_name(MX_HOST_PRUNED), "pruned");
	assert_string_equal(mx_host_status_name(MX_HOST_BAD_NAME), "bad-name");
	assert_string_equal(mx_host_status_name((mx_host_status)6), "unknown");

	assert_string_equal(mx_dnssec_name(MX_DNSSEC_INDETERMINATE), "indeterminate");
	assert_string_equal(mx_dnssec_name(MX_DNSSEC_INSECURE), "insecure");
	assert_string_equal(mx_dnssec_name(MX_DNSSEC_SECURE), "secure");
	assert_string_equal(mx_dnssec_name(MX_DNSSEC_BOGUS), "bogus");
	assert_string_equal(mx_dnssec_name((mx_dnssec)4), "unknown");
}

static void
test_status_classes(void **state)
{
	(void)state;
	assert_false(mx_status_temporary(MX_STATUS_OK));
	assert_false(mx_status_permanent(MX_STATUS_OK));
	assert_true(mx_status_temporary(MX_STATUS_TEMPFAIL));
	assert_false(mx_status_permanent(MX_STATUS_TEMPFAIL));
	for (mx_status s = MX_STATUS_NULL_MX; s <= MX_STATUS_LOOP; s++) {
		if (s == MX_STATUS_TEMPFAIL)
			continue;
		assert_true(mx_status_permanent(s));
		assert_false(mx_status_temporary(s));
	}
}

static void
test_problem_sets(void **state)
{
	problem_set set = PROBLEM_BIT(MX_PROBLEM_TIMEOUT) |
	    PROBLEM_BIT(MX_PROBLEM_NULL_MX_MIXED) | PROBLEM_BIT(MX_PROBLEM_DNSSEC_BOGUS);

	(void)state;
	assert_int_equal(problem_set_count(0), 0);
	assert_int_equal(problem_set_count(set), 3);
	assert_int_equal(problem_set_nth(set, 0), MX_PROBLEM_NULL_MX_MIXED);
	assert_int_equal(problem_set_nth(set, 1), MX_PROBLEM_DNSSEC_BOGUS);
	assert_int_equal(problem_set_nth(set, 2), MX_PROBLEM_TIMEOUT);
	assert_int_equal(problem_set_nth(set, 3), MX_PROBLEM_COUNT_);
	assert_int_equal(problem_set_nth(0, 0), MX_PROBLEM_COUNT_);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_problem_names),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_status_classes),
		cmocka_unit_test(test_problem_sets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
