/*
 * test_smtp_reply.c - lib/smtp_reply.c: single and multi-line replies,
 * the bare final "250", enhanced status codes (present, absent, wrong
 * class, malformed, on later lines), every framing error (short lines,
 * bad digits, mismatched continuation codes, bare LF, bare CR, NUL), the
 * bounds (line octets, lines, reply octets, memory while no CRLF comes),
 * where consumption stops, pipelined replies, take and clear, the class
 * helpers and EHLO parsing of real servers' replies.  Every single-reply
 * case is also fed split at every position and byte by byte, and must
 * come out identical.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_reply.h"

#define IN(lit) (const uint8_t *)(lit), sizeof(lit) - 1

/* ---- running the reader ---------------------------------------------- */

struct run {
	enum smtp_reply_state state;
	size_t consumed;
	const char *why;
	struct smtp_reply reply; /* when DONE */
};

/*
 * Feeds in[0..len): first in[0..split), then the rest in pieces of step
 * octets (0: all at once), until DONE or ERROR; takes a DONE reply.
 */
static void
run_split(const uint8_t *in, size_t len, size_t split, size_t step, struct run *out)
{
	struct smtp_reply_reader r;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	smtp_reply_reader_init(&r);
	while (pos < len && smtp_reply_state(&r) == SMTP_REPLY_INCOMPLETE) {
		size_t piece = pos < split ? split - pos : step ? step : len - pos;
		if (piece > len - pos)
			piece = len - pos;
		pos += smtp_reply_feed(&r, in + pos, piece);
		assert_true(r.text_cap <= SMTP_REPLY_MAX_OCTETS);
		assert_true(r.line_octets <= SMTP_REPLY_LINE_MAX);
	}
	out->state = smtp_reply_state(&r);
	out->consumed = pos;
	out->why = smtp_reply_why(&r);
	if (out->state == SMTP_REPLY_DONE)
		assert_int_equal(smtp_reply_take(&r, &out->reply), MX_OK);
	smtp_reply_reader_clear(&r);
}

static void
assert_same(const struct run *a, const struct run *b)
{
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->consumed, b->consumed);
	assert_ptr_equal(a->why, b->why);
	assert_int_equal(a->reply.code, b->reply.code);
	assert_string_equal(a->reply.enhanced, b->reply.enhanced);
	assert_int_equal(a->reply.n_lines, b->reply.n_lines);
	if (a->state != SMTP_REPLY_DONE)
		return;
	assert_string_equal(a->reply.text, b->reply.text);
	for (size_t i = 0; i < a->reply.n_lines; i++)
		assert_string_equal(a->reply.lines[i], b->reply.lines[i]);
}

/* The lines, joined with '\n', are the text; the array ends with NULL. */
static void
assert_lines_are_text(const struct smtp_reply *rep)
{
	const char *t = rep->text;

	assert_non_null(rep->lines);
	assert_null(rep->lines[rep->n_lines]);
	for (size_t i = 0; i < rep->n_lines; i++) {
		size_t n = strlen(rep->lines[i]);
		assert_memory_equal(t, rep->lines[i], n);
		t += n;
		assert_true(*t == (i + 1 < rep->n_lines ? '\n' : '\0'));
		t++;
	}
}

/*
 * Reads in at once, then split at every position and byte by byte; all
 * must agree.  Leaves the at-once run in *whole.
 */
static void
run_everywhere(const uint8_t *in, size_t len, struct run *whole)
{
	struct run other;

	run_split(in, len, 0, 0, whole);
	if (whole->state == SMTP_REPLY_DONE)
		assert_lines_are_text(&whole->reply);
	for (size_t split = 1; split <= len; split++) {
		run_split(in, len, split, 0, &other);
		assert_same(whole, &other);
		smtp_reply_clear(&other.reply);
	}
	run_split(in, len, 0, 1, &other);
	assert_same(whole, &other);
	smtp_reply_clear(&other.reply);
}

static void
expect_reply(const uint8_t *in, size_t len, unsigned code, const char *enhanced, const char *text,
    size_t n_lines)
{
	struct run w;

	run_everywhere(in, len, &w);
	if (w.state != SMTP_REPLY_DONE)
		fail_msg("not DONE (%d): %s", w.state, w.why ? w.why : "-");
	assert_int_equal(w.consumed, len);
	assert_int_equal(w.reply.code, code);
	assert_string_equal(w.reply.enhanced, enhanced);
	assert_string_equal(w.reply.text, text);
	assert_int_equal(w.reply.n_lines, n_lines);
	smtp_reply_clear(&w.reply);
}

/* ERROR, with the offending octet at consumed - 1 and why containing what. */
static void
expect_error(const uint8_t *in, size_t len, size_t consumed, const char *what)
{
	struct run w;

	run_everywhere(in, len, &w);
	assert_int_equal(w.state, SMTP_REPLY_ERROR);
	assert_int_equal(w.consumed, consumed);
	assert_non_null(w.why);
	if (strstr(w.why, what) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", w.why, what);
}

static void
expect_incomplete(const uint8_t *in, size_t len)
{
	struct run w;

	run_everywhere(in, len, &w);
	assert_int_equal(w.state, SMTP_REPLY_INCOMPLETE);
	assert_int_equal(w.consumed, len);
	assert_null(w.why);
}

/* ---- well-formed replies --------------------------------------------- */

static void
test_single_line(void **state)
{
	(void)state;
	expect_reply(IN("250 OK\r\n"), 250, "", "OK", 1);
	expect_reply(
	    IN("220 mx.example.org ESMTP Postfix\r\n"), 220, "", "mx.example.org ESMTP Postfix", 1);
	expect_reply(IN("354 End data with <CR><LF>.<CR><LF>\r\n"), 354, "",
	    "End data with <CR><LF>.<CR><LF>", 1);
	expect_reply(IN("421 4.7.0 Try again later\r\n"), 421, "4.7.0", "Try again later", 1);
	expect_reply(IN("559 x\r\n"), 559, "", "x", 1);
	/* The text is kept as sent: tabs, extra spaces, 8-bit octets. */
	expect_reply(IN("250  two\tspaces \xc3\xa9 \r\n"), 250, "", " two\tspaces \xc3\xa9 ", 1);
}

static void
test_multi_line(void **state)
{
	struct run w;

	(void)state;
	run_everywhere(IN("250-first\r\n250-second\r\n250 last\r\n"), &w);
	assert_int_equal(w.state, SMTP_REPLY_DONE);
	assert_int_equal(w.reply.code, 250);
	assert_string_equal(w.reply.text, "first\nsecond\nlast");
	assert_int_equal(w.reply.n_lines, 3);
	assert_string_equal(w.reply.lines[0], "first");
	assert_string_equal(w.reply.lines[1], "second");
	assert_string_equal(w.reply.lines[2], "last");
	assert_null(w.reply.lines[3]);
	smtp_reply_clear(&w.reply);
	/* Empty texts, "-" and " " with nothing after. */
	expect_reply(IN("250-\r\n250-\r\n250 \r\n"), 250, "", "\n\n", 3);
}

static void
test_bare_code(void **state)
{
	struct run w;

	(void)state;
	run_everywhere(IN("250\r\n"), &w);
	assert_int_equal(w.state, SMTP_REPLY_DONE);
	assert_int_equal(w.reply.code, 250);
	assert_string_equal(w.reply.text, "");
	assert_int_equal(w.reply.n_lines, 1);
	assert_string_equal(w.reply.lines[0], "");
	smtp_reply_clear(&w.reply);
	expect_reply(IN("250 \r\n"), 250, "", "", 1);
	expect_reply(IN("250-a\r\n250\r\n"), 250, "", "a\n", 2);
	expect_reply(IN("554\r\n"), 554, "", "", 1);
}

/* ---- enhanced status codes --------------------------------------------- */

static void
test_enhanced_present(void **state)
{
	struct run w;

	(void)state;
	expect_reply(IN("250 2.1.5 Ok\r\n"), 250, "2.1.5", "Ok", 1);
	expect_reply(IN("250 2.0.0\r\n"), 250, "2.0.0", "", 1);
	expect_reply(IN("250 2.0.0 \r\n"), 250, "2.0.0", "", 1);
	expect_reply(IN("550 5.999.999 odd\r\n"), 550, "5.999.999", "odd", 1);
	expect_reply(IN("451 4.03.0 leading zero\r\n"), 451, "4.03.0", "leading zero", 1);
	/* Only one space goes with the code. */
	expect_reply(IN("250 2.1.5  Ok\r\n"), 250, "2.1.5", " Ok", 1);
	/* RFC 2034: on every line; stripped from each. */
	run_everywhere(IN("550-5.1.1 The email account that you tried to reach does\r\n"
			  "550-5.1.1 not exist.\r\n"
			  "550 5.1.1 https://support.example/answer/6596 x-y.9 - gsmtp\r\n"),
	    &w);
	assert_int_equal(w.state, SMTP_REPLY_DONE);
	assert_int_equal(w.reply.code, 550);
	assert_string_equal(w.reply.enhanced, "5.1.1");
	assert_string_equal(w.reply.lines[0], "The email account that you tried to reach does");
	assert_string_equal(w.reply.lines[1], "not exist.");
	assert_string_equal(w.reply.lines[2], "https://support.example/answer/6596 x-y.9 - gsmtp");
	smtp_reply_clear(&w.reply);
	expect_reply(IN("250-2.0.0 a\r\n250 2.0.0\r\n"), 250, "2.0.0", "a\n", 2);
}

static void
test_enhanced_absent(void **state)
{
	(void)state;
	expect_reply(IN("250 Ok\r\n"), 250, "", "Ok", 1);
	/* The class must be the reply's first digit. */
	expect_reply(IN("250 5.1.1 Ok\r\n"), 250, "", "5.1.1 Ok", 1);
	expect_reply(IN("550 2.1.5 no\r\n"), 550, "", "2.1.5 no", 1);
	/* RFC 3463 has classes 2, 4 and 5 only. */
	expect_reply(IN("354 3.0.0 go ahead\r\n"), 354, "", "3.0.0 go ahead", 1);
	/* Malformed. */
	expect_reply(IN("250 2.1 Ok\r\n"), 250, "", "2.1 Ok", 1);
	expect_reply(IN("250 2.1\r\n"), 250, "", "2.1", 1);
	expect_reply(IN("250 2.1.5Ok\r\n"), 250, "", "2.1.5Ok", 1);
	expect_reply(IN("250 2.1.5.7 x\r\n"), 250, "", "2.1.5.7 x", 1);
	expect_reply(IN("250 2.1000.5 x\r\n"), 250, "", "2.1000.5 x", 1);
	expect_reply(IN("250 2.1.5000 x\r\n"), 250, "", "2.1.5000 x", 1);
	expect_reply(IN("250 2..5 x\r\n"), 250, "", "2..5 x", 1);
	expect_reply(IN("250 2.1. x\r\n"), 250, "", "2.1. x", 1);
	expect_reply(IN("250 .2.1.5 x\r\n"), 250, "", ".2.1.5 x", 1);
	expect_reply(IN("250 2.a.5 x\r\n"), 250, "", "2.a.5 x", 1);
	expect_reply(IN("250 2.1.5\tx\r\n"), 250, "", "2.1.5\tx", 1);
	expect_reply(IN("250  2.1.5 x\r\n"), 250, "", " 2.1.5 x", 1);
}

static void
test_enhanced_later_lines(void **state)
{
	(void)state;
	/* Only the first line gives the code. */
	expect_reply(IN("250-a\r\n250 2.0.0 b\r\n"), 250, "", "a\n2.0.0 b", 2);
	/* A later line's other code is information and stays. */
	expect_reply(IN("250-2.1.5 a\r\n250 2.0.0 b\r\n"), 250, "2.1.5", "a\n2.0.0 b", 2);
	/* A line without the code keeps its text. */
	expect_reply(IN("550-5.7.1 a\r\n550 b\r\n"), 550, "5.7.1", "a\nb", 2);
	expect_reply(IN("550-5.7.1 a\r\n550 5.7.10 b\r\n"), 550, "5.7.1", "a\n5.7.10 b", 2);
}

/* ---- framing errors ---------------------------------------------------- */

static void
test_mismatched_continuation(void **state)
{
	(void)state;
	/* OpenSMTPD CVE-2020-8794: a later line must not start another reply. */
	expect_error(IN("250-ok\r\n550 no\r\n"), 11, "differs");
	expect_error(IN("250-ok\r\n251 no\r\n"), 11, "differs");
	expect_error(IN("250-ok\r\n250-ok\r\n220 no\r\n"), 19, "differs");
	/* The continuation need not repeat the hyphen to mismatch. */
	expect_error(IN("250-ok\r\n251-no\r\n250 ok\r\n"), 11, "differs");
}

static void
test_short_line(void **state)
{
	(void)state;
	expect_error(IN("25\r\n"), 4, "shorter");
	expect_error(IN("2\r\n"), 3, "shorter");
	expect_error(IN("\r\n"), 2, "shorter");
	expect_error(IN("250-ok\r\n25\r\n"), 12, "shorter");
	expect_error(IN("250-ok\r\n\r\n"), 10, "shorter");
}

static void
test_bad_digits(void **state)
{
	(void)state;
	expect_error(IN("abc OK\r\n"), 1, "not 3 digits");
	expect_error(IN("2x0 OK\r\n"), 2, "not 3 digits");
	expect_error(IN("25x OK\r\n"), 3, "not 3 digits");
	expect_error(IN("HTTP/1.1 400 Bad Request\r\n"), 1, "not 3 digits");
	expect_error(IN("SSH-2.0-OpenSSH_9.2\r\n"), 1, "not 3 digits");
	expect_error(IN(" 250 OK\r\n"), 1, "not 3 digits");
	/* First digit 2-5 only. */
	expect_error(IN("150 OK\r\n"), 1, "not 3 digits");
	expect_error(IN("650 OK\r\n"), 1, "not 3 digits");
	expect_error(IN("050 OK\r\n"), 1, "not 3 digits");
	expect_error(IN("950 OK\r\n"), 1, "not 3 digits");
	/* Second digit 0-5 only. */
	expect_error(IN("260 OK\r\n"), 2, "not 3 digits");
	expect_error(IN("290 OK\r\n"), 2, "not 3 digits");
	expect_error(IN("250-ok\r\n2a0 OK\r\n"), 10, "not 3 digits");
	expect_error(IN("250-ok\r\n150 OK\r\n"), 9, "not 3 digits");
	/* Third digit 0-9. */
	expect_reply(IN("259 OK\r\n"), 259, "", "OK", 1);
	expect_reply(IN("200 OK\r\n"), 200, "", "OK", 1);
	expect_reply(IN("559 OK\r\n"), 559, "", "OK", 1);
	expect_error(IN("599 OK\r\n"), 2, "not 3 digits");
}

static void
test_bad_separator(void **state)
{
	(void)state;
	expect_error(IN("250x\r\n"), 4, "neither");
	expect_error(IN("250\tOK\r\n"), 4, "neither");
	expect_error(IN("2500 OK\r\n"), 4, "neither");
	expect_error(IN("250-ok\r\n250_ok\r\n"), 12, "neither");
}

static void
test_bare_lf(void **state)
{
	(void)state;
	expect_error(IN("250 OK\n"), 7, "bare LF");
	expect_error(IN("250\n"), 4, "bare LF");
	expect_error(IN("25\n"), 3, "bare LF");
	expect_error(IN("250-a\r\n250 b\n"), 13, "bare LF");
	expect_error(IN("250-a\n250 b\r\n"), 6, "bare LF");
	expect_error(IN("\n"), 1, "bare LF");
}

static void
test_bare_cr(void **state)
{
	(void)state;
	expect_error(IN("250 O\rK\r\n"), 7, "bare CR");
	expect_error(IN("250 OK\r\r\n"), 8, "bare CR");
	expect_error(IN("250\r250 OK\r\n"), 5, "bare CR");
	expect_incomplete(IN("2\r"));
	expect_incomplete(IN("250 OK\r"));
	expect_error(IN("250 OK\r\0"), 8, "bare CR");
}

static void
test_nul(void **state)
{
	(void)state;
	expect_error(IN("250 O\0K\r\n"), 6, "NUL");
	expect_error(IN("2\0"), 2, "NUL");
	expect_error(IN("\0"), 1, "NUL");
	expect_error(IN("250 OK\0\r\n"), 7, "NUL");
	expect_error(IN("250-a\r\n\0"), 8, "NUL");
}

static void
test_incomplete(void **state)
{
	(void)state;
	expect_incomplete(IN(""));
	expect_incomplete(IN("2"));
	expect_incomplete(IN("250"));
	expect_incomplete(IN("250 OK"));
	expect_incomplete(IN("250-a\r\n"));
	expect_incomplete(IN("250-a\r\n250 b"));
	expect_incomplete(IN("250-a\r\n250 b\r"));
}

/* ---- bounds ------------------------------------------------------------ */

/* "250 " then fill to total octets (CRLF included) if crlf, else no CRLF. */
static uint8_t *
long_line(size_t total, bool crlf, char sep)
{
	uint8_t *p = malloc(total);

	assert_non_null(p);
	memset(p, 'a', total);
	memcpy(p, "250 ", 4);
	p[3] = (uint8_t)sep;
	if (crlf)
		memcpy(p + total - 2, "\r\n", 2);
	return p;
}

static void
test_line_limit(void **state)
{
	uint8_t *p;
	struct run w;

	(void)state;
	/* Exactly SMTP_REPLY_LINE_MAX octets, CRLF included: accepted. */
	p = long_line(SMTP_REPLY_LINE_MAX, true, ' ');
	run_split(p, SMTP_REPLY_LINE_MAX, 0, 0, &w);
	assert_int_equal(w.state, SMTP_REPLY_DONE);
	assert_int_equal(strlen(w.reply.text), SMTP_REPLY_LINE_MAX - 6);
	smtp_reply_clear(&w.reply);
	free(p);
	/* One more: the octet that cannot fit before the CRLF is refused. */
	p = long_line(SMTP_REPLY_LINE_MAX + 1, true, ' ');
	run_split(p, SMTP_REPLY_LINE_MAX + 1, 0, 0, &w);
	assert_int_equal(w.state, SMTP_REPLY_ERROR);
	assert_int_equal(w.consumed, SMTP_REPLY_LINE_MAX - 1);
	assert_non_null(strstr(w.why, "longer than 2048"));
	free(p);
}

/* A 1 MiB line that never ends: an ERROR before octet 2049, small memory. */
static void
test_endless_line(void **state)
{
	const size_t mib = 1u << 20;
	const size_t steps[] = { 1, 64 * 1024, 1u << 20 };
	uint8_t *p = long_line(mib, false, ' ');

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct smtp_reply_reader r;
		size_t pos = 0;
		smtp_reply_reader_init(&r);
		while (pos < mib && smtp_reply_state(&r) == SMTP_REPLY_INCOMPLETE) {
			size_t piece = steps[i] < mib - pos ? steps[i] : mib - pos;
			pos += smtp_reply_feed(&r, p + pos, piece);
			assert_true(r.text_cap <= SMTP_REPLY_LINE_MAX);
		}
		assert_int_equal(smtp_reply_state(&r), SMTP_REPLY_ERROR);
		assert_true(pos < SMTP_REPLY_LINE_MAX + 1);
		assert_int_equal(pos, SMTP_REPLY_LINE_MAX - 1);
		assert_int_equal(smtp_reply_feed(&r, p + pos, mib - pos), 0);
		smtp_reply_reader_clear(&r);
	}
	free(p);
}

/* n lines of "250-x\r\n", the last one "250 x\r\n" when final. */
static uint8_t *
many_lines(size_t n, bool final, size_t *len)
{
	uint8_t *p = malloc(n * 7);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		memcpy(p + 7 * i, "250-x\r\n", 7);
	if (final)
		p[7 * (n - 1) + 3] = ' ';
	*len = n * 7;
	return p;
}

static void
test_line_count_limit(void **state)
{
	size_t len;
	uint8_t *p;
	struct run w;

	(void)state;
	p = many_lines(SMTP_REPLY_MAX_LINES, true, &len);
	run_split(p, len, 0, 0, &w);
	assert_int_equal(w.state, SMTP_REPLY_DONE);
	assert_int_equal(w.reply.n_lines, SMTP_REPLY_MAX_LINES);
	assert_int_equal(strlen(w.reply.text), 2 * SMTP_REPLY_MAX_LINES - 1);
	assert_lines_are_text(&w.reply);
	smtp_reply_clear(&w.reply);
	free(p);
	/* 10^5 continuation lines: refused once the 1000th is not the last. */
	p = many_lines(100000, false, &len);
	for (size_t step = 1; step <= len; step *= 97) {
		run_split(p, len, 0, step, &w);
		assert_int_equal(w.state, SMTP_REPLY_ERROR);
		assert_int_equal(w.consumed, 7 * SMTP_REPLY_MAX_LINES);
		assert_non_null(strstr(w.why, "more than 1000 lines"));
	}
	free(p);
}

static void
test_octet_limit(void **state)
{
	const size_t lines = SMTP_REPLY_MAX_OCTETS / SMTP_REPLY_LINE_MAX;
	size_t len = (lines + 1) * SMTP_REPLY_LINE_MAX;
	uint8_t *p = malloc(len);
	struct run w;

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i <= lines; i++) {
		uint8_t *l = long_line(SMTP_REPLY_LINE_MAX, true, '-');
		memcpy(p + i * SMTP_REPLY_LINE_MAX, l, SMTP_REPLY_LINE_MAX);
		free(l);
	}
	/* Exactly SMTP_REPLY_MAX_OCTETS, the last line final: accepted. */
	p[(lines - 1) * SMTP_REPLY_LINE_MAX + 3] = ' ';
	run_split(p, lines * SMTP_REPLY_LINE_MAX, 0, 0, &w);
	assert_int_equal(w.state, SMTP_REPLY_DONE);
	assert_int_equal(w.reply.n_lines, lines);
	smtp_reply_clear(&w.reply);
	/* One octet more is refused at that octet. */
	p[(lines - 1) * SMTP_REPLY_LINE_MAX + 3] = '-';
	run_split(p, len, 0, 0, &w);
	assert_int_equal(w.state, SMTP_REPLY_ERROR);
	assert_int_equal(w.consumed, SMTP_REPLY_MAX_OCTETS + 1);
	assert_non_null(strstr(w.why, "longer than 65536"));
	free(p);
}

/* ---- consumption, pipelining, take ----------------------------------- */

static void
test_stops_after_reply(void **state)
{
	static const uint8_t in[] = "220 2.0.0 Ready to start TLS\r\n\x16\x03\x01\x02\x00";
	const size_t reply_len = strlen("220 2.0.0 Ready to start TLS\r\n");
	struct smtp_reply_reader r;
	struct smtp_reply rep;

	(void)state;
	smtp_reply_reader_init(&r);
	assert_int_equal(smtp_reply_feed(&r, in, sizeof(in) - 1), reply_len);
	assert_int_equal(smtp_reply_state(&r), SMTP_REPLY_DONE);
	/* Nothing more is consumed until the reply is taken. */
	assert_int_equal(smtp_reply_feed(&r, in + reply_len, 3), 0);
	assert_null(smtp_reply_why(&r));
	assert_int_equal(smtp_reply_take(&r, &rep), MX_OK);
	assert_int_equal(rep.code, 220);
	assert_string_equal(rep.enhanced, "2.0.0");
	assert_string_equal(rep.text, "Ready to start TLS");
	assert_int_equal(smtp_reply_state(&r), SMTP_REPLY_INCOMPLETE);
	assert_null(r.text);
	smtp_reply_clear(&rep);
	smtp_reply_reader_clear(&r);
}

static void
test_pipelined(void **state)
{
	static const uint8_t in[] =
	    "250 2.1.0 Ok\r\n"
	    "250 2.1.5 Ok\r\n"
	    "550-5.1.1 <nobody@example.org>: Recipient address rejected:\r\n"
	    "550 5.1.1 User unknown in virtual mailbox table\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n";
	static const unsigned codes[] = { 250, 250, 550, 354 };
	const size_t len = sizeof(in) - 1;

	(void)state;
	for (size_t step = 1; step <= len; step++) {
		struct smtp_reply_reader r;
		size_t pos = 0, n = 0;
		smtp_reply_reader_init(&r);
		while (pos < len) {
			size_t piece = step < len - pos ? step : len - pos;
			size_t used = 0;
			while (used < piece) {
				struct smtp_reply rep;
				used += smtp_reply_feed(&r, in + pos + used, piece - used);
				if (smtp_reply_state(&r) != SMTP_REPLY_DONE) {
					assert_int_equal(
					    smtp_reply_state(&r), SMTP_REPLY_INCOMPLETE);
					assert_int_equal(used, piece);
					continue;
				}
				assert_int_equal(smtp_reply_take(&r, &rep), MX_OK);
				assert_true(n < 4);
				assert_int_equal(rep.code, codes[n]);
				if (n == 2) {
					assert_string_equal(rep.enhanced, "5.1.1");
					assert_string_equal(
					    rep.lines[1], "User unknown in virtual mailbox table");
				}
				n++;
				smtp_reply_clear(&rep);
			}
			pos += piece;
		}
		assert_int_equal(n, 4);
		assert_int_equal(smtp_reply_state(&r), SMTP_REPLY_INCOMPLETE);
		smtp_reply_reader_clear(&r);
	}
}

static void
test_take_and_clear(void **state)
{
	struct smtp_reply_reader r;
	struct smtp_reply rep;

	(void)state;
	smtp_reply_reader_init(&r);
	memset(&rep, 0xff, sizeof(rep));
	assert_int_equal(smtp_reply_take(&r, &rep), MX_ERR_INVALID);
	assert_int_equal(rep.code, 0);
	assert_null(rep.text);
	assert_null(rep.lines);
	/* A partly read reply is released by clear (ASan checks the leak). */
	assert_int_equal(smtp_reply_feed(&r, IN("250-a long first line\r\n250 b")), 28);
	assert_int_equal(smtp_reply_take(&r, &rep), MX_ERR_INVALID);
	smtp_reply_reader_clear(&r);
	assert_int_equal(smtp_reply_state(&r), SMTP_REPLY_INCOMPLETE);
	/* After an ERROR nothing is consumed, and take refuses. */
	assert_int_equal(smtp_reply_feed(&r, IN("250-a\r\n550 b\r\n")), 10);
	assert_int_equal(smtp_reply_state(&r), SMTP_REPLY_ERROR);
	assert_int_equal(smtp_reply_feed(&r, IN("250 ok\r\n")), 0);
	assert_int_equal(smtp_reply_take(&r, &rep), MX_ERR_INVALID);
	assert_non_null(smtp_reply_why(&r));
	smtp_reply_reader_clear(&r);
	assert_null(smtp_reply_why(&r));
	/* Feeding nothing is fine. */
	assert_int_equal(smtp_reply_feed(&r, NULL, 0), 0);
	smtp_reply_clear(NULL);
	smtp_reply_reader_clear(NULL);
	memset(&rep, 0, sizeof(rep));
	smtp_reply_clear(&rep);
}

static void
test_classes(void **state)
{
	static const struct {
		unsigned code;
		bool pos, mid, temp, perm;
	} cases[] = {
		{ 220, true, false, false, false },
		{ 250, true, false, false, false },
		{ 354, false, true, false, false },
		{ 421, false, false, true, false },
		{ 452, false, false, true, false },
		{ 550, false, false, false, true },
		{ 554, false, false, false, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_reply rep = { .code = cases[i].code };
		assert_int_equal(smtp_reply_positive(&rep), cases[i].pos);
		assert_int_equal(smtp_reply_intermediate(&rep), cases[i].mid);
		assert_int_equal(smtp_reply_temporary(&rep), cases[i].temp);
		assert_int_equal(smtp_reply_permanent(&rep), cases[i].perm);
	}
}

/* ---- EHLO -------------------------------------------------------------- */

static bool
ehlo_of(const uint8_t *in, size_t len, struct smtp_ehlo *e)
{
	struct run w;
	bool ok;

	run_everywhere(in, len, &w);
	assert_int_equal(w.state, SMTP_REPLY_DONE);
	ok = smtp_ehlo_parse(&w.reply, e);
	smtp_reply_clear(&w.reply);
	return ok;
}

static void
test_ehlo_postfix(void **state)
{
	struct smtp_ehlo e;

	(void)state;
	assert_true(ehlo_of(IN("250-mail.example.org\r\n"
			       "250-PIPELINING\r\n"
			       "250-SIZE 10240000\r\n"
			       "250-VRFY\r\n"
			       "250-ETRN\r\n"
			       "250-STARTTLS\r\n"
			       "250-ENHANCEDSTATUSCODES\r\n"
			       "250-8BITMIME\r\n"
			       "250-DSN\r\n"
			       "250-SMTPUTF8\r\n"
			       "250 CHUNKING\r\n"),
	    &e));
	assert_true(e.pipelining && e.starttls && e.enhancedstatuscodes && e.eightbitmime &&
	    e.smtputf8 && e.chunking);
	assert_true(e.has_size);
	assert_int_equal(e.size, 10240000);
}

static void
test_ehlo_exim(void **state)
{
	struct smtp_ehlo e;

	(void)state;
	assert_true(ehlo_of(IN("250-mx.example.net Hello client.example.com [192.0.2.1]\r\n"
			       "250-SIZE 52428800\r\n"
			       "250-8BITMIME\r\n"
			       "250-PIPELINING\r\n"
			       "250-PIPE_CONNECT\r\n"
			       "250-CHUNKING\r\n"
			       "250-PRDR\r\n"
			       "250 HELP\r\n"),
	    &e));
	assert_true(e.pipelining && e.eightbitmime && e.chunking);
	assert_false(e.starttls || e.smtputf8 || e.enhancedstatuscodes);
	assert_true(e.has_size);
	assert_int_equal(e.size, 52428800);
}

static void
test_ehlo_gmail_like(void **state)
{
	struct smtp_ehlo e;

	(void)state;
	assert_true(ehlo_of(IN("250-mx.google.example at your service, [192.0.2.1]\r\n"
			       "250-SIZE 35882577\r\n"
			       "250-8BITMIME\r\n"
			       "250-STARTTLS\r\n"
			       "250-ENHANCEDSTATUSCODES\r\n"
			       "250-PIPELINING\r\n"
			       "250-CHUNKING\r\n"
			       "250 SMTPUTF8\r\n"),
	    &e));
	assert_true(e.pipelining && e.starttls && e.enhancedstatuscodes && e.eightbitmime &&
	    e.smtputf8 && e.chunking);
	assert_true(e.has_size);
	assert_int_equal(e.size, 35882577);
}

static void
test_ehlo_lowercase_and_old(void **state)
{
	struct smtp_ehlo e;

	(void)state;
	assert_true(ehlo_of(IN("250-old.example.com Hello\r\n"
			       "250-AUTH=LOGIN PLAIN\r\n"
			       "250-AUTH LOGIN PLAIN\r\n"
			       "250-size\r\n"
			       "250-pipelining\r\n"
			       "250-StartTLS\r\n"
			       "250-8bitmime\r\n"
			       "250 X-EXPS GSSAPI NTLM\r\n"),
	    &e));
	assert_true(e.pipelining && e.starttls && e.eightbitmime);
	assert_false(e.smtputf8 || e.chunking || e.enhancedstatuscodes);
	assert_true(e.has_size);
	assert_int_equal(e.size, 0);
}

static void
test_ehlo_size(void **state)
{
	static const struct {
		const char *in;
		bool has;
		uint64_t size;
	} cases[] = {
		{ "250-a\r\n250 SIZE 0\r\n", true, 0 },
		{ "250-a\r\n250 SIZE 35882577\r\n", true, 35882577 },
		{ "250-a\r\n250 SIZE abc\r\n", true, 0 },
		{ "250-a\r\n250 SIZE\r\n", true, 0 },
		{ "250-a\r\n250 SIZE \r\n", true, 0 },
		{ "250-a\r\n250 SIZE 12abc\r\n", true, 0 },
		{ "250-a\r\n250 SIZE -1\r\n", true, 0 },
		{ "250-a\r\n250 SIZE 1 2\r\n", true, 0 },
		{ "250-a\r\n250 SIZE 100 \r\n", true, 0 },
		{ "250-a\r\n250 SIZE  100\r\n", true, 0 },
		{ "250-a\r\n250 SIZE 18446744073709551615\r\n", true, UINT64_MAX },
		{ "250-a\r\n250 SIZE 18446744073709551616\r\n", true, 0 },
		{ "250-a\r\n250 SIZE 000000000000000000001\r\n", true, 0 },
		{ "250-a\r\n250 SIZE 00000000000000000001\r\n", true, 1 },
		{ "250-a\r\n250-SIZE 10\r\n250 SIZE 20\r\n", true, 10 },
		{ "250-a\r\n250 SIZEX 10\r\n", false, 0 },
		{ "250-a\r\n250 SIZE=10\r\n", false, 0 },
		{ "250-a\r\n250 PIPELINING\r\n", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_ehlo e;
		assert_true(ehlo_of((const uint8_t *)cases[i].in, strlen(cases[i].in), &e));
		if (e.has_size != cases[i].has || e.size != cases[i].size)
			fail_msg("%s: has_size %d size %llu", cases[i].in, e.has_size,
			    (unsigned long long)e.size);
	}
}

static void
test_ehlo_not_extensions(void **state)
{
	struct smtp_ehlo e;

	(void)state;
	/* The first line is the greeting, never an extension. */
	assert_true(ehlo_of(IN("250 PIPELINING\r\n"), &e));
	assert_false(e.pipelining);
	assert_true(ehlo_of(IN("250-STARTTLS\r\n250 SIZE 5\r\n"), &e));
	assert_false(e.starttls);
	assert_true(e.has_size);
	/* Whole keywords only, followed by a space or the end. */
	assert_true(ehlo_of(IN("250-a\r\n250-STARTTLSX\r\n250-X-STARTTLS\r\n"
			       "250-STARTTLS=1\r\n250- STARTTLS\r\n250 -CHUNKING\r\n"),
	    &e));
	assert_false(e.starttls || e.chunking);
	assert_true(ehlo_of(IN("250-a\r\n250 STARTTLS \r\n"), &e));
	assert_true(e.starttls);
	/* Not a 250: nothing. */
	assert_false(ehlo_of(IN("550-a\r\n550 STARTTLS\r\n"), &e));
	assert_false(e.starttls);
	assert_false(ehlo_of(IN("251-a\r\n251 STARTTLS\r\n"), &e));
	assert_false(e.starttls);
	/* An enhanced code on the first line strips it from the rest too. */
	assert_true(ehlo_of(IN("250-2.0.0 a\r\n250 2.0.0 CHUNKING\r\n"), &e));
	assert_true(e.chunking);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_line),
		cmocka_unit_test(test_multi_line),
		cmocka_unit_test(test_bare_code),
		cmocka_unit_test(test_enhanced_present),
		cmocka_unit_test(test_enhanced_absent),
		cmocka_unit_test(test_enhanced_later_lines),
		cmocka_unit_test(test_mismatched_continuation),
		cmocka_unit_test(test_short_line),
		cmocka_unit_test(test_bad_digits),
		cmocka_unit_test(test_bad_separator),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_bare_cr),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_endless_line),
		cmocka_unit_test(test_line_count_limit),
		cmocka_unit_test(test_octet_limit),
		cmocka_unit_test(test_stops_after_reply),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_take_and_clear),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_ehlo_postfix),
		cmocka_unit_test(test_ehlo_exim),
		cmocka_unit_test(test_ehlo_gmail_like),
		cmocka_unit_test(test_ehlo_lowercase_and_old),
		cmocka_unit_test(test_ehlo_size),
		cmocka_unit_test(test_ehlo_not_extensions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
