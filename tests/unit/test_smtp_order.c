/*
 * test_smtp_order.c - smtp_session.c over an AF_UNIX socketpair: a
 * scripted server on the other end (on the same event loop) writes each
 * of its replies once the client has sent so many lines, so that several
 * replies can be put in one write on purpose.  What it checks: a reply
 * that arrives before the command it would answer is a protocol error
 * (temporary, next host), while the replies of a PIPELINING group (RFC
 * 2920) may come together, and what follows the final dot's reply cannot
 * undo a message the server took.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "payload.h"
#include "smtp_session.h"

/* One write of the server, made once the client has sent `after` lines. */
struct step {
	size_t after;
	const char *bytes;
};

struct run {
	struct event_base *base;
	struct event *ev;
	int fd; /* the server's end */
	const struct step *steps;
	size_t n_steps, next;
	size_t lines; /* lines the client sent so far */
	bool done;
	struct smtp_session_result result;
	struct smtp_rcpt_result rcpt;
	bool closed;
};

static void
server_write(struct run *r)
{
	while (r->next < r->n_steps && r->lines >= r->steps[r->next].after) {
		const char *b = r->steps[r->next++].bytes;
		assert_int_equal(write(r->fd, b, strlen(b)), (ssize_t)strlen(b));
	}
}

static void
on_server_read(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	char buf[4096];
	ssize_t n;

	(void)what;
	if ((n = read(fd, buf, sizeof(buf))) <= 0) {
		event_del(r->ev);
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		r->lines += buf[i] == '\n';
	server_write(r);
}

static void
on_done(const struct smtp_session_result *res, void *arg)
{
	struct run *r = arg;

	r->done = true;
	r->result = *res;
	r->result.rcpts = NULL;
	r->rcpt = res->rcpts[0];
}

static void
on_closed(void *arg)
{
	struct run *r = arg;

	r->closed = true;
	event_base_loopbreak(r->base);
}

/* Runs one session against the script; the result is in *r. */
static void
run_script(struct run *r, const struct step *steps, size_t n_steps)
{
	static const char *const rcpts[] = { "rcpt@example.test" };
	static const uint8_t body[] = "Subject: t\r\n\r\nhello\r\n";
	struct payload payload;
	struct smtp_txn txn = {
		.helo = "client.test",
		.mail_from = "from@example.test",
		.rcpts = rcpts,
		.n_rcpts = 1,
		.payload = &payload,
		.size = sizeof(body) - 1,
	};
	struct smtp_session_opts opts = {
		.peer_name = "server.test", .tls = TLS_MAY, .closed = on_closed
	};
	struct timeval limit = { 5, 0 };
	int sv[2];

	memset(r, 0, sizeof(*r));
	assert_int_equal(payload_init(&payload, body, sizeof(body) - 1, -1, 0, 0), MX_OK);
	smtp_timeouts_default(&opts.timeouts);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_non_null(r->base = event_base_new());
	r->fd = sv[1];
	r->steps = steps;
	r->n_steps = n_steps;
	r->ev = event_new(r->base, r->fd, EV_READ | EV_PERSIST, on_server_read, r);
	event_add(r->ev, NULL);
	server_write(r); /* the greeting */
	assert_int_equal(smtp_session_start(r->base, sv[0], &txn, &opts, on_done, r, NULL), MX_OK);
	event_base_loopexit(r->base, &limit);
	event_base_dispatch(r->base);
	assert_true(r->done);
	assert_true(r->closed);
	event_free(r->ev);
	close(r->fd);
	event_base_free(r->base);
	payload_clear(&payload);
}

static void
assert_early(const struct run *r, const char *stage)
{
	assert_int_equal(r->result.outcome, SMTP_TRY_NEXT);
	assert_string_equal(r->result.stage, stage);
	assert_string_equal(r->result.enhanced, "4.5.0");
	if (strstr(r->result.text, "protocol error: reply before command") == NULL)
		fail_msg("reason \"%s\"", r->result.text);
}

#define N(a)       (sizeof(a) / sizeof((a)[0]))
#define EHLO_PLAIN "250-server.test\r\n250 8BITMIME\r\n"
#define EHLO_PIPE  "250-server.test\r\n250 PIPELINING\r\n"

/* The case: 354 and 250 in one write, the body never read. */
static void
test_354_with_250(void **state)
{
	static const struct step s[] = { { 0, "220 hi\r\n" }, { 1, EHLO_PLAIN },
		{ 2, "250 ok\r\n" }, { 3, "250 ok\r\n" }, { 4, "354 go\r\n250 ok\r\n" } };
	struct run r;

	(void)state;
	run_script(&r, s, N(s));
	assert_early(&r, "DATA");
	/* The body was never sent: DATA was the client's last line. */
	assert_int_equal(r.lines, 4);
}

static void
test_354_with_250_pipelined(void **state)
{
	static const struct step s[] = { { 0, "220 hi\r\n" }, { 1, EHLO_PIPE },
		{ 4, "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n" } };
	struct run r;

	(void)state;
	run_script(&r, s, N(s));
	assert_early(&r, "DATA");
	assert_int_equal(r.lines, 4);
}

static void
test_greeting_then_more(void **state)
{
	static const struct step s[] = { { 0, "220 hi\r\n250 unsolicited\r\n" },
		{ 1, EHLO_PLAIN } };
	struct run r;

	(void)state;
	run_script(&r, s, N(s));
	assert_early(&r, "greeting");
	assert_int_equal(r.lines, 0);
}

static void
test_ehlo_then_more(void **state)
{
	static const struct step s[] = { { 0, "220 hi\r\n" },
		{ 1, EHLO_PLAIN "250 unsolicited\r\n" } };
	struct run r;

	(void)state;
	run_script(&r, s, N(s));
	assert_early(&r, "EHLO");
	assert_int_equal(r.lines, 1);
}

static void
test_two_replies_to_one_rcpt(void **state)
{
	static const struct step s[] = { { 0, "220 hi\r\n" }, { 1, EHLO_PLAIN },
		{ 2, "250 ok\r\n" }, { 3, "250 ok\r\n250 again\r\n" } };
	struct run r;

	(void)state;
	run_script(&r, s, N(s));
	assert_early(&r, "RCPT");
	assert_int_equal(r.lines, 3);
}

/* A partial line counts too: those bytes came before any command. */
static void
test_partial_extra_line(void **state)
{
	static const struct step s[] = { { 0, "220 hi\r\n25" }, { 1, EHLO_PLAIN } };
	struct run r;

	(void)state;
	run_script(&r, s, N(s));
	assert_early(&r, "greeting");
}

/* RFC 2920: a group's replies may come together; the body follows. */
static void
test_pipelined_group_together(void **state)
{
	static const struct step s[] = { { 0, "220 hi\r\n" }, { 1, EHLO_PIPE },
		{ 4, "250 ok\r\n250 ok\r\n354 go\r\n" }, { 8, "250 queued\r\n" },
		{ 9, "221 bye\r\n" } };
	struct run r;

	(void)state;
	run_script(&r, s, N(s));
	assert_int_equal(r.result.outcome, SMTP_COMPLETED);
	assert_int_equal(r.rcpt.class, 2);
	assert_int_equal(r.lines, 9); /* 4, three body lines, ".", QUIT */
}

/* After the final dot's 250, more bytes cannot undo the message taken. */
static void
test_dot_reply_then_more(void **state)
{
	static const struct step s[] = { { 0, "220 hi\r\n" }, { 1, EHLO_PLAIN },
		{ 2, "250 ok\r\n" }, { 3, "250 ok\r\n" }, { 4, "354 go\r\n" },
		{ 8, "250 queued\r\n221 early bye\r\n" } };
	struct run r;

	(void)state;
	run_script(&r, s, N(s));
	assert_int_equal(r.result.outcome, SMTP_COMPLETED);
	assert_int_equal(r.rcpt.class, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_354_with_250),
		cmocka_unit_test(test_354_with_250_pipelined),
		cmocka_unit_test(test_greeting_then_more),
		cmocka_unit_test(test_ehlo_then_more),
		cmocka_unit_test(test_two_replies_to_one_rcpt),
		cmocka_unit_test(test_partial_extra_line),
		cmocka_unit_test(test_pipelined_group_together),
		cmocka_unit_test(test_dot_reply_then_more),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
