/*
 * test_dot_round_trip.c - RFC 5321 4.5.2 transparency, both ends of mx
 * (REFERENCES.md Part 3 (a) row 14): 10^5 pseudo-random bodies full of
 * ".", "..", "..." and dotted lines are framed as the client sends them
 * (lib/mail/message.c: CRLF lines, dot-stuffed, then ".\r\n") and read
 * back by the server's reader (lib/serve/smtp_cmd.c), fed in random
 * pieces so that CRLF and the dots fall on every piece boundary: the
 * lines it hands out are the body, byte for byte, and the end of DATA
 * comes exactly after the last octet.  Fixed seed; no I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message.h"
#include "smtp_cmd.h"

#define BODIES   100000
#define BODY_MAX 4096

static uint64_t seed = 14;

static uint32_t
rnd(uint32_t n)
{
	seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17; /* xorshift64 */
	return (uint32_t)(seed % n);
}

/* A header, an empty line, then lines made of pieces chosen to be hard. */
static size_t
random_body(char *b)
{
	static const char *const pieces[] = { ".", "..", "...", ".x", "x.", "", ". .", ".\t", "a" };
	size_t n = (size_t)snprintf(b, BODY_MAX, "Subject: r\r\n\r\n");
	unsigned lines = 1 + rnd(30);

	for (unsigned i = 0; i < lines && n + 100 < BODY_MAX; i++) {
		if (rnd(10) < 6) {
			const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
			memcpy(b + n, p, strlen(p));
			n += strlen(p);
		} else {
			for (unsigned k = rnd(3); k > 0; k--)
				b[n++] = '.';
			for (unsigned k = rnd(60); k > 0; k--)
				b[n++] = "ab. "[rnd(4)];
		}
		b[n++] = '\r', b[n++] = '\n';
	}
	return n;
}

/* The server's reader over wire[0..len), in random pieces: the lines. */
static size_t
unframe(const char *wire, size_t len, char *out)
{
	static struct smtp_cmd r; /* big: not on the stack */
	size_t at = 0, n = 0;
	bool ended = false;

	smtp_cmd_init(&r);
	smtp_cmd_start_data(&r, SIZE_MAX);
	while (at < len) {
		size_t piece = 1 + rnd(rnd(2) ? 3 : 64), took;
		smtp_cmd_event ev;
		if (piece > len - at)
			piece = len - at;
		took = smtp_cmd_feed(&r, wire + at, piece, &ev);
		at += took;
		assert_false(ended); /* nothing after the end */
		assert_true(
		    ev == SMTP_CMD_MORE || ev == SMTP_CMD_DATA_LINE || ev == SMTP_CMD_DATA_END);
		if (ev == SMTP_CMD_DATA_LINE) {
			assert_int_equal(r.data_fault, SMTP_DATA_OK);
			memcpy(out + n, r.line, r.len);
			n += r.len;
			out[n++] = '\r', out[n++] = '\n';
		}
		ended |= ev == SMTP_CMD_DATA_END;
	}
	assert_true(ended);
	return n;
}

static void
test_round_trip(void **state)
{
	static char body[BODY_MAX], wire[2 * BODY_MAX], back[2 * BODY_MAX];
	static const struct message_options opt = { .dot_is_content = true };

	(void)state;
	for (unsigned i = 0; i < BODIES; i++) {
		size_t len = random_body(body), wlen, blen;
		struct message *m = NULL;
		struct message_error err;
		assert_int_equal(message_parse(body, len, &opt, &m, &err), MESSAGE_OK);
		memcpy(wire, m->data, m->len);
		memcpy(wire + m->len, ".\r\n", 3);
		wlen = m->len + 3;
		message_free(m);
		blen = unframe(wire, wlen, back);
		assert_int_equal(blen, len);
		assert_memory_equal(back, body, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
