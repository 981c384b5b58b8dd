/*
 * test_dsn.c - the non-delivery report (lib/dsn.c): its RFC 3464 fields,
 * the returned header without the wire's stuffing, refusal of fields with
 * line breaks, and a result that message_parse accepts for the wire.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsn.h"
#include "message.h"

static const char original[] =
    "From: a@example.org\r\nSubject: the report\r\n..dotted: no\r\n\r\nbody\r\n..x\r\n";

static struct dsn_rcpt rcpt = {
	.address = "z@example.net",
	.status = "5.1.1",
	.diagnostic = "550 5.1.1 no such user",
	.smtp_reply = true,
	.remote_mta = "mx.example.net",
	.last_attempt = 1795000000,
};

static struct dsn_report
report(void)
{
	return (struct dsn_report){ .reporting_mta = "mta.example.org",
		.queue_id = "ID123",
		.sender = "a@example.org",
		.arrival = 1794990000,
		.now = 1795000000,
		.lifetime_hours = 120,
		.rcpts = &rcpt,
		.n_rcpts = 1,
		.original = (const uint8_t *)original,
		.original_len = sizeof(original) - 1 };
}

static char *
compose(const struct dsn_report *r)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(dsn_compose(r, &text, &len), MX_OK);
	assert_int_equal(strlen(text), len);
	return text;
}

static void
test_fields(void **state)
{
	struct dsn_report r = report();
	char *t = compose(&r);

	(void)state;
	assert_non_null(strstr(t, "To: <a@example.org>\n"));
	assert_non_null(strstr(t, "Auto-Submitted: auto-replied\n"));
	assert_non_null(strstr(t, "Content-Type: multipart/report; report-type=delivery-status;"));
	assert_non_null(strstr(t, "Reporting-MTA: dns; mta.example.org\n"));
	assert_non_null(strstr(t,
	    "\nFinal-Recipient: rfc822; z@example.net\nAction: failed\n"
	    "Status: 5.1.1\nRemote-MTA: dns; mx.example.net\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 no such user\n"));
	assert_non_null(strstr(t, "Date: Wed, 18 Nov 2026 11:06:40 +0000\n"));
	assert_null(strstr(t, "could not be delivered within"));
	free(t);
}

static void
test_returned_header_is_unstuffed_and_stops_at_the_body(void **state)
{
	struct dsn_report r = report();
	char *t = compose(&r);

	(void)state;
	assert_non_null(strstr(t,
	    "text/rfc822-headers\n\nFrom: a@example.org\n"
	    "Subject: the report\n.dotted: no\n\n--ID123"));
	assert_null(strstr(t, "body"));
	assert_null(strstr(t, "\r"));
	free(t);
}

static void
test_expired_and_non_smtp_reason(void **state)
{
	struct dsn_rcpt r2 = rcpt;
	struct dsn_report r = report();
	char *t;

	(void)state;
	r2.smtp_reply = false;
	r2.remote_mta = "";
	r2.status = "4.4.1";
	r2.diagnostic = "connecting to the MX hosts failed (refused)";
	r.rcpts = &r2;
	r.expired = true;
	t = compose(&r);
	assert_non_null(strstr(t, "could not be delivered within 120 hours"));
	assert_non_null(strstr(t, "Status: 4.4.1\nDiagnostic-Code: X-mxkit; connecting"));
	assert_null(strstr(t, "Remote-MTA"));
	free(t);
}

static void
test_line_breaks_refused(void **state)
{
	struct dsn_rcpt r2 = rcpt;
	struct dsn_report r = report();
	char *t = NULL;
	size_t len;

	(void)state;
	r2.diagnostic = "550 no\r\nBcc: victim@example.com";
	r.rcpts = &r2;
	assert_int_equal(dsn_compose(&r, &t, &len), MX_ERR_INVALID);
	assert_null(t);
	r = report();
	r.sender = "a@example.org\nBcc: x@example.com";
	assert_int_equal(dsn_compose(&r, &t, &len), MX_ERR_INVALID);
	r = report();
	r.sender = ""; /* never a report to the null sender */
	assert_int_equal(dsn_compose(&r, &t, &len), MX_ERR_INVALID);
	r = report();
	r.n_rcpts = 0;
	assert_int_equal(dsn_compose(&r, &t, &len), MX_ERR_INVALID);
}

static void
test_long_header_is_capped_and_the_result_is_a_valid_message(void **state)
{
	size_t n = DSN_HEADER_MAX * 2, len = 0;
	char *big = malloc(n + 8), *t = NULL;
	struct dsn_report r = report();
	struct message *m = NULL;

	(void)state;
	assert_non_null(big);
	{
		static const char line[] = "X-Filler: 0123456789012345678901234567890123456789\r\n";
		size_t step = sizeof(line) - 1;

		n -= n % step;
		for (size_t i = 0; i < n; i += step)
			memcpy(big + i, line, step);
	}
	r.original = (const uint8_t *)big;
	r.original_len = n;
	assert_int_equal(dsn_compose(&r, &t, &len), MX_OK);
	assert_true(len < DSN_HEADER_MAX + 4096);
	assert_int_equal(message_parse(t, len, NULL, &m, NULL), MESSAGE_OK);
	assert_false(m->eight_bit);
	message_free(m);
	free(t);
	free(big);
}

/*
 * DSN_ORIGINAL_MAX is enough: the queue gives dsn_compose only that much
 * of a message (cut after a LF), and the report is the same as from the
 * whole, for the worst header (short stuffed lines, ".x") and for a long
 * header of full-length lines.
 */
static void
test_original_max_is_enough(void **state)
{
	static const char *const lines[] = { ".x\r\n", NULL };
	size_t n = DSN_ORIGINAL_MAX * 3;
	char *big = malloc(n), *whole = NULL, *part = NULL;
	size_t wlen = 0, plen = 0, cut;
	struct dsn_report r = report();

	(void)state;
	assert_non_null(big);
	for (int k = 0; k < 2; k++) {
		size_t step = lines[k] ? strlen(lines[k]) : 1000;
		for (size_t i = 0; i + step <= n; i += step) {
			if (lines[k])
				memcpy(big + i, lines[k], step);
			else {
				memset(big + i, 'y', step - 2);
				memcpy(big + i, "X-Y: ", 5);
				memcpy(big + i + step - 2, "\r\n", 2);
			}
		}
		r.original = (const uint8_t *)big;
		r.original_len = n - n % step;
		assert_int_equal(dsn_compose(&r, &whole, &wlen), MX_OK);
		for (cut = DSN_ORIGINAL_MAX; big[cut - 1] != '\n'; cut--)
			;
		r.original_len = cut;
		assert_int_equal(dsn_compose(&r, &part, &plen), MX_OK);
		assert_int_equal(plen, wlen);
		assert_memory_equal(part, whole, wlen);
		free(whole);
		free(part);
	}
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_returned_header_is_unstuffed_and_stops_at_the_body),
		cmocka_unit_test(test_expired_and_non_smtp_reason),
		cmocka_unit_test(test_line_breaks_refused),
		cmocka_unit_test(test_long_header_is_capped_and_the_result_is_a_valid_message),
		cmocka_unit_test(test_original_max_is_enough),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
