/*
 * test_err.c - lib/base/err.c and the problem sets of plan.c: a table of
 * every mx_err with its class and message (never NULL, out of range
 * included), the stable names of every status, host status, DNSSEC
 * verdict and problem (unique, "unknown" out of range), and which
 * statuses are temporary or permanent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mx.h"
#include "plan.h"

/* Every code: its class and its message.  A code added to mx.h without a
 * row here fails test_table_is_complete. */
static const struct {
	mx_err err;
	mx_err_class class_;
	const char *message;
} errors[] = {
	{ MX_OK, MX_CLASS_NONE, "success" },
	{ MX_ERR_NOMEM, MX_CLASS_TEMPORARY, "out of memory" },
	{ MX_ERR_INVALID, MX_CLASS_USAGE, "invalid argument" },
	{ MX_ERR_BAD_DOMAIN, MX_CLASS_PERMANENT, "malformed domain name" },
	{ MX_ERR_CONFIG, MX_CLASS_CONFIG,
	    "configuration failed (resolver, trust anchor or CA file)" },
	{ MX_ERR_SYSTEM, MX_CLASS_TEMPORARY, "system error (sockets, disk or event loop)" },
	{ MX_ERR_BUSY, MX_CLASS_USAGE, "resolver already in use: configure it first" },
	{ MX_ERR_NOT_FOUND, MX_CLASS_NOT_FOUND, "not found" },
	{ MX_ERR_TOO_BIG, MX_CLASS_PERMANENT, "message too big" },
	{ MX_ERR_CORRUPT, MX_CLASS_PERMANENT, "corrupt file" },
	{ MX_ERR_BAD_ADDRESS, MX_CLASS_PERMANENT, "malformed address" },
	{ MX_ERR_BAD_MESSAGE, MX_CLASS_PERMANENT, "malformed message" },
	{ MX_ERR_BAD_ZONE, MX_CLASS_PERMANENT, "malformed zone file" },
	{ MX_ERR_LOCKED, MX_CLASS_TEMPORARY, "in use by another process" },
};
#define N_ERRORS (sizeof(errors) / sizeof(errors[0]))

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ERRORS; i++) {
		mx_err e = errors[i].err;
		assert_int_equal(e, (mx_err)i); /* numbers never move */
		assert_string_equal(mx_strerror(e), errors[i].message);
		assert_int_equal(mx_err_classify(e), errors[i].class_);
		assert_int_equal(mx_err_temporary(e), errors[i].class_ == MX_CLASS_TEMPORARY);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(mx_strerror(e), errors[k].message);
	}
}

/* Past the table's end is unknown: a code mx.h has and the table lacks. */
static void
test_table_is_complete(void **state)
{
	(void)state;
	assert_string_equal(mx_strerror((mx_err)N_ERRORS), "unknown error");
	assert_int_equal(mx_err_classify((mx_err)N_ERRORS), MX_CLASS_USAGE);
	assert_string_equal(mx_strerror((mx_err)99), "unknown error");
	assert_string_equal(mx_strerror((mx_err)-1), "unknown error");
	assert_int_equal(mx_err_classify((mx_err)-1), MX_CLASS_USAGE);
	for (int e = -5; e < 300; e++) {
		const char *s = mx_strerror((mx_err)e);
		assert_non_null(s);
		assert_true(s[0] != '\0');
	}
}

static void
test_problem_names(void **state)
{
	static const char *const want[MX_PROBLEM_COUNT_] = {
		"null-mx-mixed",
		"null-mx-preference",
		"duplicate-host",
		"dnssec-bogus",
		"cname-target",
		"ip-literal-target",
		"bad-hostname",
		"cname-loop",
		"address-tempfail",
		"local-name",
		"not-better-than-self",
		"timeout",
	};

	(void)state;
	assert_int_equal(MX_PROBLEM_COUNT_, 12);
	for (int p = 0; p < MX_PROBLEM_COUNT_; p++) {
		assert_string_equal(mx_problem_name((mx_problem)p), want[p]);
		for (int q = 0; q < p; q++)
			assert_string_not_equal(
			    mx_problem_name((mx_problem)p), mx_problem_name((mx_problem)q));
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
	problem_set set = PROBLEM_BIT(MX_PROBLEM_TIMEOUT) | PROBLEM_BIT(MX_PROBLEM_NULL_MX_MIXED) |
	    PROBLEM_BIT(MX_PROBLEM_DNSSEC_BOGUS);

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
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_is_complete),
		cmocka_unit_test(test_problem_names),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_status_classes),
		cmocka_unit_test(test_problem_sets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
