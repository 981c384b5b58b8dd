/*
 * test_smtp_session.c - lib/smtp/smtp_session.c, the client side of one
 * SMTP transaction, against a scripted server: a thread on the other end
 * of an AF_UNIX socketpair that answers each command with a canned reply
 * and writes down the conversation as it saw it.  No root, no sandbox,
 * no network.  One table row per server script, with the outcome, the
 * stage, the code, each recipient's fate and the conversation it expects:
 * greetings (220, 421, 554), EHLO with HELO as fallback, PIPELINING,
 * SIZE, 8BITMIME, SMTPUTF8, MAIL/RCPT/DATA/final-dot replies (2xx, 4xx,
 * 5xx, per recipient), a dropped connection and each stage's timeout.
 * Apart from the table: the body goes out as given (dot-stuffed) and ends
 * with the final dot only once; and a kept connection (opts.keep) carries
 * a second transaction after RSET, pipelined or not, and reports a server
 * that dropped it while idle as TRY_NEXT at RSET.  Probes without a
 * message end before DATA: RCPT then QUIT, or EHLO then QUIT.  LMTP
 * (opts.lmtp): LHLO, no HELO fallback, one reply per accepted recipient
 * after the dot, a reply kept when the connection fails before the next
 * one; and the verify mode (opts.verify): MAIL and RCPT, never DATA.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/util.h>

#include "payload.h"
#include "smtp_session.h"

#define MAX_RCPTS 3
#define HANGUP    "\001hangup" /* as a reply: the server closes instead */
#define SLOW_MS   10000        /* a stage's timeout when it is not the one tested */
#define SHORT_MS  200          /* the timeout of the stage a row tests */

/* ---- the scripted server ------------------------------------------------- */

/* Canned replies, one per command (NULL: say nothing, wait for the end). */
struct script {
	const char *greeting, *ehlo, *helo, *mail;
	const char *rcpt[MAX_RCPTS];
	const char *data, *dot, *quit;
	const char *rset; /* NULL: 250 */
};

struct server {
	int fd;
	const struct script *sc;
	size_t n_rcpt; /* RCPT commands answered so far */
	bool in_data;
	bool gone;       /* hung up on the client */
	char log[2048];  /* "> command" and "< code" lines, as the server saw them */
	char body[2048]; /* the data as it came over the wire, without the final dot */
	size_t body_len;
};

static void say(struct server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct server *srv, const char *fmt, ...)
{
	size_t o = strlen(srv->log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(srv->log + o, sizeof(srv->log) - o, fmt, ap);
	va_end(ap);
}

static void
reply(struct server *srv, const char *text)
{
	if (text == NULL || srv->gone)
		return;
	if (strcmp(text, HANGUP) == 0) {
		say(srv, "< (hangs up)\n");
		shutdown(srv->fd, SHUT_RDWR);
		srv->gone = true;
		return;
	}
	say(srv, "< %.3s\n", text);
	/* The client may be gone already: no SIGPIPE, and no matter. */
	(void)send(srv->fd, text, strlen(text), MSG_NOSIGNAL);
}

/* The canned reply to one command line. */
static const char *
answer(struct server *srv, const char *line)
{
	const struct script *sc = srv->sc;

	if (strncmp(line, "EHLO ", 5) == 0 || strncmp(line, "LHLO ", 5) == 0)
		return sc->ehlo;
	if (strncmp(line, "HELO ", 5) == 0)
		return sc->helo;
	if (strncmp(line, "MAIL ", 5) == 0) {
		srv->n_rcpt = 0; /* a new transaction: its own RCPT replies */
		return sc->mail;
	}
	if (strcmp(line, "RSET") == 0)
		return sc->rset ? sc->rset : "250 2.0.0 reset\r\n";
	if (strncmp(line, "RCPT ", 5) == 0)
		return srv->n_rcpt < MAX_RCPTS ? sc->rcpt[srv->n_rcpt++] : NULL;
	if (strcmp(line, "DATA") == 0) {
		srv->in_data = sc->data != NULL && strncmp(sc->data, "354", 3) == 0;
		return sc->data;
	}
	if (strcmp(line, "QUIT") == 0)
		return sc->quit;
	return "500 5.5.1 unknown command\r\n";
}

/* One line (without CRLF); the replies it calls for are queued in order. */
static void
take_line(struct server *srv, const char *line, size_t len, const char **queue, size_t *n)
{
	char text[1024];

	if (srv->in_data) {
		if (len == 1 && line[0] == '.') {
			srv->in_data = false;
			say(srv, "> (data)\n");
			queue[(*n)++] = srv->sc->dot;
			return;
		}
		assert_true(srv->body_len + len + 2 < sizeof(srv->body));
		memcpy(srv->body + srv->body_len, line, len);
		memcpy(srv->body + srv->body_len + len, "\r\n", 2);
		srv->body_len += len + 2;
		return;
	}
	snprintf(text, sizeof(text), "%.*s", (int)len, line);
	say(srv, "> %s\n", text);
	queue[(*n)++] = answer(srv, text);
}

/*
 * Reads what the client sends, a batch at a time: what arrives within
 * 20 ms of the first byte counts as sent together, so commands the client
 * pipelined are logged before any reply to them.
 */
static ssize_t
read_batch(int fd, char *buf, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t got = 0, n;

	while ((size_t)got < size) {
		n = read(fd, buf + got, size - (size_t)got);
		if (n <= 0)
			return got > 0 ? got : n;
		got += n;
		if (poll(&p, 1, 20) != 1)
			break;
	}
	return got;
}

static void *
serve(void *arg)
{
	struct server *srv = arg;
	char buf[8192];
	size_t len = 0;
	ssize_t n;

	reply(srv, srv->sc->greeting);
	while (!srv->gone && (n = read_batch(srv->fd, buf + len, sizeof(buf) - len)) > 0) {
		const char *queue[64];
		size_t nq = 0, start = 0;
		len += (size_t)n;
		for (size_t i = 0; i + 1 < len; i++) {
			if (buf[i] != '\r' || buf[i + 1] != '\n')
				continue;
			if (nq < 64)
				take_line(srv, buf + start, i - start, queue, &nq);
			start = i + 2;
			i++;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		for (size_t i = 0; i < nq; i++)
			reply(srv, queue[i]);
	}
	close(srv->fd);
	return NULL;
}

/* ---- the client ------------------------------------------------------------- */

struct run {
	struct event_base *base;
	int done_calls;
	struct smtp_session_result res;
	struct smtp_rcpt_result rcpts[MAX_RCPTS];
	char stage[64];
	bool closed;
	double elapsed_ms;
};

static void
on_done(const struct smtp_session_result *res, void *arg)
{
	struct run *r = arg;

	r->done_calls++;
	r->res = *res;
	snprintf(r->stage, sizeof(r->stage), "%s", res->stage ? res->stage : "(none)");
	assert_true(res->n_rcpts <= MAX_RCPTS);
	memcpy(r->rcpts, res->rcpts, res->n_rcpts * sizeof(*res->rcpts));
	r->res.rcpts = r->rcpts;
}

static void
on_closed(void *arg)
{
	struct run *r = arg;

	r->closed = true;
	event_base_loopexit(r->base, NULL);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *const rcpt_names[MAX_RCPTS] = { "a@dst.test", "b@dst.test", "c@dst.test" };

/* The mode of the sessions converse starts (the LMTP tests set them). */
static bool lmtp_mode, verify_mode;

/* One session against srv's script, to its end (the socket closed). */
static void
converse(
    struct server *srv, const struct smtp_txn *txn, const struct smtp_timeouts *t, struct run *r)
{
	struct smtp_session_opts opts;
	struct timeval guard = { 20, 0 };
	pthread_t thread;
	int sv[2];
	double t0;

	memset(r, 0, sizeof(*r));
	memset(&opts, 0, sizeof(opts));
	opts.timeouts = *t;
	opts.peer_name = "mx.dst.test";
	opts.tls = TLS_MAY; /* and no tls_client: no STARTTLS */
	opts.closed = on_closed;
	opts.lmtp = lmtp_mode;
	opts.verify = verify_mode;
	assert_non_null(r->base = event_base_new());
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	srv->fd = sv[1];
	assert_int_equal(pthread_create(&thread, NULL, serve, srv), 0);
	t0 = now_ms();
	assert_int_equal(smtp_session_start(r->base, sv[0], txn, &opts, on_done, r, NULL), MX_OK);
	/* A session that never ends would hang the test: the guard ends the loop. */
	assert_int_equal(event_base_loopexit(r->base, &guard), 0);
	assert_int_equal(event_base_dispatch(r->base), 0);
	r->elapsed_ms = now_ms() - t0;
	event_base_free(r->base);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_true(r->closed);
	assert_int_equal(r->done_calls, 1);
}

/* ---- the table ---------------------------------------------------------------- */

#define MSG      "Subject: t\r\n\r\nhello\r\n"
#define MSG_8BIT "Subject: t\r\n\r\nh\xc3\xa9llo\r\n"

#define OK         "250 2.0.0 ok\r\n"
#define EHLO_PLAIN "250 mx.dst.test\r\n"
#define EHLO_PIPE  "250-mx.dst.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
#define GO         "354 go ahead\r\n"
#define BYE        "221 2.0.0 bye\r\n"
/* A server that answers everything with yes. */
#define HAPPY                                                                                      \
	.greeting = "220 mx.dst.test ESMTP\r\n", .ehlo = EHLO_PLAIN,                               \
	.helo = "250 mx.dst.test\r\n", .mail = OK, .rcpt = { OK, OK, OK }, .data = GO,             \
	.dot = "250 2.0.0 queued as 1\r\n", .quit = BYE

/* The conversation up to DATA of a plain session with one recipient. */
#define UP_TO_RCPT1                                                                                \
	"< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n< 250\n"                      \
	"> RCPT TO:<a@dst.test>\n"

enum stage_timeout { T_NONE, T_GREETING, T_EHLO, T_MAIL, T_RCPT, T_DATA, T_DOT };

struct row {
	const char *name;
	struct script sc;
	size_t n_rcpts;
	const char *data; /* NULL: MSG */
	bool needs_8bitmime, needs_smtputf8;
	enum stage_timeout short_stage;
	/* What the client concludes. */
	enum smtp_outcome outcome;
	const char *stage;
	unsigned code;
	const char *enhanced; /* NULL: not checked */
	const char *text;     /* the start of the result's text; NULL: not checked */
	int rcpt_class[MAX_RCPTS];
	unsigned rcpt_code[MAX_RCPTS];
	/* The conversation as the server saw it; one ending in '*' is only its
	 * start (what a client does after a failure is not pinned down here). */
	const char *conversation;
};

/* Each script is HAPPY with one reply changed: later designators override
 * earlier ones on purpose (C17 6.7.9p19). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct row rows[] = {
	{ "plain, two recipients accepted", { HAPPY }, 2, NULL, false, false, T_NONE,
	    SMTP_COMPLETED, "end of data", 250, NULL, "250 2.0.0 queued as 1", { 2, 2, 0 },
	    { 250, 250, 0 },
	    UP_TO_RCPT1 "< 250\n> RCPT TO:<b@dst.test>\n< 250\n> DATA\n< 354\n"
			"> (data)\n< 250\n> QUIT\n< 221\n" },
	{ "greeting 421: try the next host",
	    { HAPPY, .greeting = "421 4.3.2 busy, come back later\r\n" }, 1, NULL, false, false,
	    T_NONE, SMTP_TRY_NEXT, "greeting", 421, "4.3.2", "421 4.3.2 busy", { 0 }, { 0 },
	    "< 421\n*" },
	{ "greeting 554: refused here, not for good (RFC 5321 3.1)",
	    { HAPPY, .greeting = "554 5.7.1 no service\r\n" }, 1, NULL, false, false, T_NONE,
	    SMTP_TRY_NEXT, "greeting", 554, "5.7.1", "554 5.7.1 no service", { 0 }, { 0 },
	    "< 554\n*" },
	{ "EHLO 502: HELO instead", { HAPPY, .ehlo = "502 5.5.1 what?\r\n" }, 1, NULL, false, false,
	    T_NONE, SMTP_COMPLETED, "end of data", 250, NULL, NULL, { 2 }, { 250 },
	    "< 220\n> EHLO client.test\n< 502\n> HELO client.test\n< 250\n"
	    "> MAIL FROM:<s@src.test>\n< 250\n> RCPT TO:<a@dst.test>\n< 250\n> DATA\n"
	    "< 354\n> (data)\n< 250\n> QUIT\n< 221\n" },
	{ "EHLO 421: no HELO, the next host", { HAPPY, .ehlo = "421 4.7.0 closing\r\n" }, 1, NULL,
	    false, false, T_NONE, SMTP_TRY_NEXT, "EHLO", 421, NULL, "421 4.7.0 closing", { 0 },
	    { 0 }, "< 220\n> EHLO client.test\n< 421\n*" },
	{ "EHLO and HELO refused: the next host",
	    { HAPPY, .ehlo = "500 no\r\n", .helo = "550 5.7.1 go away\r\n" }, 1, NULL, false, false,
	    T_NONE, SMTP_TRY_NEXT, "HELO", 550, "5.7.1", "550 5.7.1 go away", { 0 }, { 0 },
	    "< 220\n> EHLO client.test\n< 500\n> HELO client.test\n< 550\n*" },
	{ "PIPELINING: MAIL, every RCPT and DATA in one go", { HAPPY, .ehlo = EHLO_PIPE }, 2, NULL,
	    false, false, T_NONE, SMTP_COMPLETED, "end of data", 250, NULL, NULL, { 2, 2 },
	    { 250, 250 },
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n"
	    "> RCPT TO:<a@dst.test>\n> RCPT TO:<b@dst.test>\n> DATA\n< 250\n< 250\n< 250\n"
	    "< 354\n> (data)\n< 250\n> QUIT\n< 221\n" },
	{ "SIZE offered: MAIL says the size; 8BITMIME offered: BODY=8BITMIME",
	    { HAPPY, .ehlo = "250-mx.dst.test\r\n250-SIZE 1000\r\n250 8BITMIME\r\n" }, 1, MSG_8BIT,
	    true, false, T_NONE, SMTP_COMPLETED, "end of data", 250, NULL, NULL, { 2 }, { 250 },
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test> SIZE=22 BODY=8BITMIME\n"
	    "< 250\n> RCPT TO:<a@dst.test>\n< 250\n> DATA\n< 354\n> (data)\n< 250\n"
	    "> QUIT\n< 221\n" },
	{ "8BITMIME offered, a 7-bit message: no BODY parameter",
	    { HAPPY, .ehlo = "250-mx.dst.test\r\n250 8BITMIME\r\n" }, 1, NULL, false, false, T_NONE,
	    SMTP_COMPLETED, "end of data", 250, NULL, NULL, { 2 }, { 250 },
	    UP_TO_RCPT1 "< 250\n> DATA\n< 354\n> (data)\n< 250\n> QUIT\n< 221\n" },
	{ "over the SIZE limit: permanent before MAIL",
	    { HAPPY, .ehlo = "250-mx.dst.test\r\n250 SIZE 10\r\n" }, 1, NULL, false, false, T_NONE,
	    SMTP_PERMANENT, "EHLO", 0, "5.3.4",
	    "message of 21 octets exceeds the server's SIZE limit of 10", { 0 }, { 0 },
	    "< 220\n> EHLO client.test\n< 250\n*" },
	{ "SMTPUTF8 needed, not offered: permanent before MAIL", { HAPPY }, 1, NULL, false, true,
	    T_NONE, SMTP_PERMANENT, "EHLO", 0, "5.6.7", "the message needs SMTPUTF8", { 0 }, { 0 },
	    "< 220\n> EHLO client.test\n< 250\n*" },
	{ "SMTPUTF8 needed and offered: MAIL says so",
	    { HAPPY, .ehlo = "250-mx.dst.test\r\n250 SMTPUTF8\r\n" }, 1, NULL, false, true, T_NONE,
	    SMTP_COMPLETED, "end of data", 250, NULL, NULL, { 2 }, { 250 },
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test> SMTPUTF8\n< 250\n"
	    "> RCPT TO:<a@dst.test>\n< 250\n> DATA\n< 354\n> (data)\n< 250\n> QUIT\n< 221\n" },
	{ "MAIL 451: the next host", { HAPPY, .mail = "451 4.3.0 try later\r\n" }, 2, NULL, false,
	    false, T_NONE, SMTP_TRY_NEXT, "MAIL", 451, "4.3.0", "451 4.3.0 try later", { 0, 0 },
	    { 0, 0 }, "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n< 451\n*" },
	{ "MAIL 550: permanent for the message", { HAPPY, .mail = "550 5.7.1 sender refused\r\n" },
	    1, NULL, false, false, T_NONE, SMTP_PERMANENT, "MAIL", 550, "5.7.1",
	    "550 5.7.1 sender refused", { 0 }, { 0 },
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n< 550\n*" },
	{ "RCPT 250, 450, 550: each recipient its own fate",
	    { HAPPY, .rcpt = { OK, "450 4.2.0 mailbox busy\r\n", "550 5.1.1 no such user\r\n" } },
	    3, NULL, false, false, T_NONE, SMTP_COMPLETED, "end of data", 250, NULL, NULL,
	    { 2, 4, 5 }, { 250, 450, 550 },
	    UP_TO_RCPT1 "< 250\n> RCPT TO:<b@dst.test>\n< 450\n> RCPT TO:<c@dst.test>\n"
			"< 550\n> DATA\n< 354\n> (data)\n< 250\n> QUIT\n< 221\n" },
	{ "every RCPT refused: no DATA, QUIT",
	    { HAPPY, .rcpt = { "550 5.1.1 no\r\n", "451 4.3.0 later\r\n" } }, 2, NULL, false, false,
	    T_NONE, SMTP_COMPLETED, "RCPT", 0, NULL, NULL, { 5, 4 }, { 550, 451 },
	    UP_TO_RCPT1 "< 550\n> RCPT TO:<b@dst.test>\n< 451\n> QUIT\n< 221\n" },
	{ "pipelined, every RCPT refused: DATA's refusal says nothing",
	    { HAPPY, .ehlo = EHLO_PIPE, .rcpt = { "550 5.1.1 no\r\n" },
		.data = "554 5.5.1 no valid recipients\r\n" },
	    1, NULL, false, false, T_NONE, SMTP_COMPLETED, "RCPT", 0, NULL, NULL, { 5 }, { 550 },
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n"
	    "> RCPT TO:<a@dst.test>\n> DATA\n< 250\n< 550\n< 554\n*" },
	{ "DATA 554: permanent", { HAPPY, .data = "554 5.6.0 no\r\n" }, 1, NULL, false, false,
	    T_NONE, SMTP_PERMANENT, "DATA", 554, "5.6.0", "554 5.6.0 no", { 2 }, { 250 },
	    UP_TO_RCPT1 "< 250\n> DATA\n< 554\n*" },
	{ "DATA 451: the next host", { HAPPY, .data = "451 4.3.0 later\r\n" }, 1, NULL, false,
	    false, T_NONE, SMTP_TRY_NEXT, "DATA", 451, "4.3.0", NULL, { 2 }, { 250 },
	    UP_TO_RCPT1 "< 250\n> DATA\n< 451\n*" },
	{ "final dot 452: accepted recipients pending, the next host",
	    { HAPPY, .rcpt = { OK, "550 5.1.1 no\r\n" }, .dot = "452 4.3.1 disk full\r\n" }, 2,
	    NULL, false, false, T_NONE, SMTP_TRY_NEXT, "end of data", 452, NULL,
	    "452 4.3.1 disk full", { 4, 5 }, { 452, 550 },
	    UP_TO_RCPT1 "< 250\n> RCPT TO:<b@dst.test>\n< 550\n> DATA\n< 354\n> (data)\n"
			"< 452\n*" },
	{ "final dot 554: refused for good, then QUIT", { HAPPY, .dot = "554 5.7.1 spam\r\n" }, 1,
	    NULL, false, false, T_NONE, SMTP_PERMANENT, "end of data", 554, NULL, "554 5.7.1 spam",
	    { 5 }, { 554 }, UP_TO_RCPT1 "< 250\n> DATA\n< 354\n> (data)\n< 554\n> QUIT\n< 221\n" },
	{ "the server hangs up after MAIL", { HAPPY, .mail = HANGUP }, 1, NULL, false, false,
	    T_NONE, SMTP_TRY_NEXT, "MAIL", 0, NULL, "the server closed the connection during MAIL",
	    { 0 }, { 0 },
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n< (hangs up)\n" },
	{ "silent greeting: its own timeout", { HAPPY, .greeting = NULL }, 1, NULL, false, false,
	    T_GREETING, SMTP_TRY_NEXT, "greeting", 0, NULL,
	    "timed out waiting for the reply to greeting", { 0 }, { 0 }, "*" },
	{ "silent EHLO: its own timeout", { HAPPY, .ehlo = NULL }, 1, NULL, false, false, T_EHLO,
	    SMTP_TRY_NEXT, "EHLO", 0, NULL, "timed out waiting for the reply to EHLO", { 0 }, { 0 },
	    "< 220\n> EHLO client.test\n*" },
	{ "silent MAIL: its own timeout", { HAPPY, .mail = NULL }, 1, NULL, false, false, T_MAIL,
	    SMTP_TRY_NEXT, "MAIL", 0, NULL, "timed out waiting for the reply to MAIL", { 0 }, { 0 },
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n*" },
	{ "silent RCPT: its own timeout", { HAPPY, .rcpt = { OK, NULL } }, 2, NULL, false, false,
	    T_RCPT, SMTP_TRY_NEXT, "RCPT", 0, NULL, "timed out waiting for the reply to RCPT",
	    { 2, 0 }, { 250, 0 }, UP_TO_RCPT1 "< 250\n> RCPT TO:<b@dst.test>\n*" },
	{ "silent DATA: its own timeout", { HAPPY, .data = NULL }, 1, NULL, false, false, T_DATA,
	    SMTP_TRY_NEXT, "DATA", 0, NULL, "timed out waiting for the reply to DATA", { 2 },
	    { 250 }, UP_TO_RCPT1 "< 250\n> DATA\n*" },
	{ "silent after the final dot: its own timeout", { HAPPY, .dot = NULL }, 1, NULL, false,
	    false, T_DOT, SMTP_TRY_NEXT, "end of data", 0, NULL,
	    "timed out waiting for the reply to end of data", { 2 }, { 250 },
	    UP_TO_RCPT1 "< 250\n> DATA\n< 354\n> (data)\n*" },
};
#pragma GCC diagnostic pop

static void
timeouts_for(enum stage_timeout st, struct smtp_timeouts *t)
{
	*t = (struct smtp_timeouts){ SLOW_MS, SLOW_MS, SLOW_MS, SLOW_MS, SLOW_MS, SLOW_MS, SLOW_MS,
		SLOW_MS, SLOW_MS };
	switch (st) {
	case T_GREETING: t->greeting = SHORT_MS; break;
	case T_EHLO: t->ehlo = SHORT_MS; break;
	case T_MAIL: t->mail = SHORT_MS; break;
	case T_RCPT: t->rcpt = SHORT_MS; break;
	case T_DATA: t->data = SHORT_MS; break;
	case T_DOT: t->final_dot = SHORT_MS; break;
	case T_NONE: break;
	}
}

static void
expect_conversation(const char *log, const char *want)
{
	size_t n = strlen(want);

	if (n > 0 && want[n - 1] == '*') {
		if (strncmp(log, want, n - 1) != 0)
			fail_msg("conversation:\n%s\nwanted it to start with:\n%.*s", log,
			    (int)(n - 1), want);
		return;
	}
	assert_string_equal(log, want);
}

static void
test_script(void **state)
{
	const struct row *row = *state;
	const char *data = row->data ? row->data : MSG;
	struct payload payload;
	struct smtp_txn txn = {
		.helo = "client.test",
		.mail_from = "s@src.test",
		.rcpts = rcpt_names,
		.n_rcpts = row->n_rcpts,
		.payload = &payload,
		.size = strlen(data),
		.needs_8bitmime = row->needs_8bitmime,
		.needs_smtputf8 = row->needs_smtputf8,
	};
	struct server srv = { .sc = &row->sc };
	struct smtp_timeouts t;
	struct run r;

	assert_int_equal(
	    payload_init(&payload, (const uint8_t *)data, strlen(data), -1, 0, 0), MX_OK);
	timeouts_for(row->short_stage, &t);
	converse(&srv, &txn, &t, &r);
	payload_clear(&payload);
	assert_int_equal(r.res.outcome, row->outcome);
	assert_string_equal(r.stage, row->stage);
	assert_int_equal(r.res.code, row->code);
	if (row->enhanced != NULL)
		assert_string_equal(r.res.enhanced, row->enhanced);
	if (row->text != NULL && strncmp(r.res.text, row->text, strlen(row->text)) != 0)
		fail_msg("text \"%s\", wanted it to start with \"%s\"", r.res.text, row->text);
	assert_false(r.res.tls);
	assert_int_equal(r.res.n_rcpts, row->n_rcpts);
	for (size_t i = 0; i < row->n_rcpts; i++) {
		assert_int_equal(r.rcpts[i].class, row->rcpt_class[i]);
		assert_int_equal(r.rcpts[i].code, row->rcpt_code[i]);
	}
	expect_conversation(srv.log, row->conversation);
	/* Refused before MAIL: no MAIL went out. */
	if (row->outcome == SMTP_PERMANENT && strcmp(row->stage, "EHLO") == 0)
		assert_null(strstr(srv.log, "> MAIL"));
	/* A stage's own timeout ends it, not another's (SLOW_MS). */
	if (row->short_stage != T_NONE)
		assert_true(r.elapsed_ms < SLOW_MS / 2);
	if (row->outcome == SMTP_COMPLETED && strcmp(row->stage, "end of data") == 0)
		assert_memory_equal(srv.body, data, strlen(data));
}

/* ---- the body on the wire ---------------------------------------------------- */

/*
 * The message as message.c hands it over: lines that began with a dot
 * have a second one (RFC 5321 4.5.2).  It goes out as it is, and only the
 * final dot ends it: the server's data is the stuffed text, and removing
 * the stuffing gives back the original.
 */
static void
test_dot_stuffed_body(void **state)
{
	static const char original[] = "Subject: dots\r\n\r\n.\r\n.hidden\r\n..two\r\nend\r\n";
	static const char stuffed[] = "Subject: dots\r\n\r\n..\r\n..hidden\r\n...two\r\nend\r\n";
	static const struct script sc = { HAPPY };
	const char *const rcpt[] = { "a@dst.test" };
	struct payload payload;
	struct smtp_txn txn = {
		.helo = "client.test",
		.mail_from = "s@src.test",
		.rcpts = rcpt,
		.n_rcpts = 1,
		.payload = &payload,
		.size = strlen(original),
	};
	struct server srv = { .sc = &sc };
	struct smtp_timeouts t;
	struct run r;
	char unstuffed[sizeof(original)];
	size_t o = 0;

	(void)state;
	assert_int_equal(
	    payload_init(&payload, (const uint8_t *)stuffed, strlen(stuffed), -1, 0, 0), MX_OK);
	timeouts_for(T_NONE, &t);
	converse(&srv, &txn, &t, &r);
	payload_clear(&payload);
	assert_int_equal(r.res.outcome, SMTP_COMPLETED);
	assert_int_equal(srv.body_len, strlen(stuffed));
	assert_memory_equal(srv.body, stuffed, strlen(stuffed));
	/* The receiving side's transparency rule: drop one leading dot. */
	for (size_t i = 0; i < srv.body_len; i++) {
		bool line_start = i == 0 || srv.body[i - 1] == '\n';
		if (line_start && srv.body[i] == '.')
			continue;
		assert_true(o < sizeof(unstuffed) - 1);
		unstuffed[o++] = srv.body[i];
	}
	unstuffed[o] = '\0';
	assert_string_equal(unstuffed, original);
	assert_non_null(strstr(srv.log, "> (data)\n< 250\n> QUIT\n"));
}

/* ---- probes: no message ---------------------------------------------------- */

/*
 * A transaction without a payload is a probe that ends before DATA:
 * with a recipient, address verification (MAIL FROM:<>, RCPT, QUIT; no
 * DATA even when pipelined), the RCPT reply the answer; without one, a
 * reachability probe (EHLO, QUIT).
 */
static void
probe_run(const struct script *sc, size_t n_rcpts, struct server *srv, struct run *r)
{
	const char *const rcpt[] = { "a@dst.test" };
	struct smtp_txn txn = { .helo = "client.test", .mail_from = "", .rcpts = rcpt };
	struct smtp_timeouts t;

	txn.n_rcpts = n_rcpts;
	memset(srv, 0, sizeof(*srv));
	srv->sc = sc;
	timeouts_for(T_NONE, &t);
	converse(srv, &txn, &t, r);
}

static void
test_probe_verify(void **state)
{
	static const struct script plain = { .greeting = "220 mx.dst.test ESMTP\r\n",
		.ehlo = EHLO_PLAIN,
		.mail = OK,
		.rcpt = { "550 5.1.1 no such user\r\n" },
		.quit = BYE };
	static const struct script piped = { .greeting = "220 mx.dst.test ESMTP\r\n",
		.ehlo = EHLO_PIPE,
		.mail = OK,
		.rcpt = { OK },
		.data = GO,
		.quit = BYE };
	struct server srv;
	struct run r;

	(void)state;
	probe_run(&plain, 1, &srv, &r);
	assert_int_equal(r.res.outcome, SMTP_COMPLETED);
	assert_int_equal(r.rcpts[0].class, 5);
	assert_int_equal(r.rcpts[0].code, 550);
	assert_string_equal(srv.log,
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<>\n< 250\n"
	    "> RCPT TO:<a@dst.test>\n< 550\n> QUIT\n< 221\n");
	probe_run(&piped, 1, &srv, &r);
	assert_int_equal(r.res.outcome, SMTP_COMPLETED);
	assert_int_equal(r.rcpts[0].class, 2);
	assert_null(strstr(srv.log, "DATA"));
	assert_string_equal(srv.log,
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<>\n> RCPT "
	    "TO:<a@dst.test>\n< 250\n< 250\n> QUIT\n< 221\n");
}

static void
test_probe_reachability(void **state)
{
	static const struct script sc = { HAPPY };
	struct server srv;
	struct run r;

	(void)state;
	probe_run(&sc, 0, &srv, &r);
	assert_int_equal(r.res.outcome, SMTP_COMPLETED);
	assert_string_equal(r.stage, "EHLO");
	assert_string_equal(srv.log, "< 220\n> EHLO client.test\n< 250\n> QUIT\n< 221\n");
}

/* ---- two transactions on one connection ------------------------------------ */

struct reuse {
	struct run r;
	struct smtp_txn txn2;
	struct smtp_session_opts opts;
	struct smtp_session *s;
	int closed_calls;
	struct smtp_session_result res2;
	char stage2[64];
	bool park_second; /* park the second too, then smtp_session_quit */
};

static void on_done2(const struct smtp_session_result *res, void *arg);

static void
on_parked_closed(void *arg)
{
	struct reuse *u = arg;

	u->closed_calls++;
	event_base_loopexit(u->r.base, NULL);
}

static void
start_second(evutil_socket_t fd, short what, void *arg)
{
	struct reuse *u = arg;

	(void)fd;
	(void)what;
	assert_int_equal(smtp_session_next(u->s, &u->txn2, &u->opts, on_done2, u), MX_OK);
}

static void
quit_parked(evutil_socket_t fd, short what, void *arg)
{
	struct reuse *u = arg;

	(void)fd;
	(void)what;
	smtp_session_quit(u->s);
}

static void
on_done1(const struct smtp_session_result *res, void *arg)
{
	struct reuse *u = arg;

	assert_int_equal(res->outcome, SMTP_COMPLETED);
	assert_true(res->reusable);
	assert_int_equal(res->transactions, 1);
	u->r.done_calls++;
	smtp_session_park(u->s, on_parked_closed, u);
	assert_int_equal(event_base_once(u->r.base, -1, EV_TIMEOUT, start_second, u, NULL), 0);
}

static void
on_done2(const struct smtp_session_result *res, void *arg)
{
	struct reuse *u = arg;

	u->r.done_calls++;
	u->res2 = *res;
	snprintf(u->stage2, sizeof(u->stage2), "%s", res->stage ? res->stage : "(none)");
	if (u->park_second && res->reusable) {
		smtp_session_park(u->s, on_parked_closed, u);
		assert_int_equal(
		    event_base_once(u->r.base, -1, EV_TIMEOUT, quit_parked, u, NULL), 0);
	}
}

/* Two transactions against sc; the conversation as the server saw it. */
static void
converse_twice(struct server *srv, struct reuse *u, struct payload *payload)
{
	static const char *const rcpt2[] = { "b@dst.test", "c@dst.test" };
	struct smtp_txn txn1 = {
		.helo = "client.test",
		.mail_from = "s@src.test",
		.rcpts = rcpt_names,
		.n_rcpts = 1,
		.payload = payload,
		.size = strlen(MSG),
	};
	struct timeval guard = { 20, 0 };
	pthread_t thread;
	int sv[2];

	u->txn2 = txn1;
	u->txn2.mail_from = "t@src.test";
	u->txn2.rcpts = rcpt2;
	u->txn2.n_rcpts = 2;
	timeouts_for(T_NONE, &u->opts.timeouts);
	u->opts.peer_name = "mx.dst.test";
	u->opts.tls = TLS_MAY;
	u->opts.keep = true;
	u->opts.closed = on_parked_closed;
	assert_non_null(u->r.base = event_base_new());
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	srv->fd = sv[1];
	assert_int_equal(pthread_create(&thread, NULL, serve, srv), 0);
	assert_int_equal(
	    smtp_session_start(u->r.base, sv[0], &txn1, &u->opts, on_done1, u, &u->s), MX_OK);
	assert_int_equal(event_base_loopexit(u->r.base, &guard), 0);
	assert_int_equal(event_base_dispatch(u->r.base), 0);
	event_base_free(u->r.base);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(u->r.done_calls, 2);
	assert_int_equal(u->closed_calls, 1);
}

#define FIRST_TXN                                                                                  \
	"< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n< 250\n"                      \
	"> RCPT TO:<a@dst.test>\n< 250\n> DATA\n< 354\n> (data)\n< 250\n"

struct reuse_row {
	const char *name;
	struct script sc;
	bool park_second;
	enum smtp_outcome outcome2;
	const char *stage2;
	const char *conversation;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct reuse_row reuse_rows[] = {
	{ "kept: RSET, then the second transaction, then QUIT", { HAPPY }, false, SMTP_COMPLETED,
	    "end of data",
	    FIRST_TXN "> RSET\n< 250\n> MAIL FROM:<t@src.test>\n< 250\n> RCPT TO:<b@dst.test>\n"
		      "< 250\n> RCPT TO:<c@dst.test>\n< 250\n> DATA\n< 354\n> (data)\n< 250\n"
		      "> QUIT\n< 221\n" },
	{ "kept, PIPELINING: RSET opens the pipelined group",
	    { HAPPY, .ehlo = "250-mx.dst.test\r\n250 PIPELINING\r\n" }, false, SMTP_COMPLETED,
	    "end of data",
	    "< 220\n> EHLO client.test\n< 250\n> MAIL FROM:<s@src.test>\n"
	    "> RCPT TO:<a@dst.test>\n> DATA\n< 250\n< 250\n< 354\n> (data)\n< 250\n"
	    "> RSET\n> MAIL FROM:<t@src.test>\n> RCPT TO:<b@dst.test>\n> RCPT TO:<c@dst.test>\n"
	    "> DATA\n< 250\n< 250\n< 250\n< 250\n< 354\n> (data)\n< 250\n> QUIT\n< 221\n" },
	{ "kept, parked again, then smtp_session_quit", { HAPPY }, true, SMTP_COMPLETED,
	    "end of data", FIRST_TXN "> RSET\n< 250\n*" },
	{ "dropped while idle: TRY_NEXT at RSET", { HAPPY, .rset = HANGUP }, false, SMTP_TRY_NEXT,
	    "RSET", FIRST_TXN "> RSET\n< (hangs up)\n" },
	{ "RSET refused: TRY_NEXT at RSET", { HAPPY, .rset = "421 4.3.2 closing\r\n" }, false,
	    SMTP_TRY_NEXT, "RSET", FIRST_TXN "> RSET\n< 421\n*" },
};
#pragma GCC diagnostic pop

static void
test_reuse(void **state)
{
	const struct reuse_row *row = *state;
	struct server srv = { .sc = &row->sc };
	struct payload payload;
	struct reuse u;

	memset(&u, 0, sizeof(u));
	u.park_second = row->park_second;
	assert_int_equal(
	    payload_init(&payload, (const uint8_t *)MSG, strlen(MSG), -1, 0, 0), MX_OK);
	converse_twice(&srv, &u, &payload);
	payload_clear(&payload);
	assert_int_equal(u.res2.outcome, row->outcome2);
	assert_string_equal(u.stage2, row->stage2);
	if (row->outcome2 == SMTP_COMPLETED) {
		assert_int_equal(u.res2.transactions, 2);
		assert_int_equal(u.res2.n_rcpts, 2);
	}
	if (row->park_second)
		assert_non_null(strstr(srv.log, "> QUIT\n< 221\n"));
	expect_conversation(srv.log, row->conversation);
}

/* ---- LMTP (RFC 2033) and verification ------------------------------------ */

/* Scripts are HAPPY with a field or two changed, as in the table. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"

/* The three-recipient transaction of txn_for's callers, run in a mode. */
static void
run_mode(const struct script *sc, size_t n_rcpts, bool lmtp, bool verify, enum stage_timeout st,
    struct server *srv, struct run *r)
{
	struct payload payload;
	struct smtp_txn txn = { .helo = "client.test",
		.mail_from = "s@src.test",
		.rcpts = rcpt_names,
		.n_rcpts = n_rcpts,
		.payload = &payload,
		.size = strlen(MSG) };
	struct smtp_timeouts t;

	assert_int_equal(
	    payload_init(&payload, (const uint8_t *)MSG, strlen(MSG), -1, 0, 0), MX_OK);
	timeouts_for(st, &t);
	*srv = (struct server){ .sc = sc };
	lmtp_mode = lmtp;
	verify_mode = verify;
	converse(srv, &txn, &t, r);
	lmtp_mode = verify_mode = false;
	payload_clear(&payload);
}

/* RFC 2033 4.2: one reply per recipient accepted at RCPT, in order, each its own. */
static void
test_lmtp_replies(void **state)
{
	const struct script sc = { HAPPY, .ehlo = EHLO_PIPE,
		.rcpt = { OK, "550 5.1.1 unknown\r\n", OK },
		.dot = "250 2.0.0 a saved\r\n452 4.2.2 c is full\r\n" };
	struct server srv;
	struct run r;

	(void)state;
	run_mode(&sc, 3, true, false, T_NONE, &srv, &r);
	assert_int_equal(r.res.outcome, SMTP_COMPLETED);
	assert_int_equal(r.rcpts[0].class, 2);
	assert_true(r.rcpts[0].final);
	assert_int_equal(r.rcpts[1].class, 5);
	assert_false(r.rcpts[1].final); /* refused at RCPT: no reply after the dot */
	assert_int_equal(r.rcpts[2].class, 4);
	assert_int_equal(r.rcpts[2].code, 452);
	assert_true(r.rcpts[2].final);
	expect_conversation(srv.log, "< 220\n> LHLO client.test\n*");
	assert_non_null(strstr(srv.log, "> QUIT\n"));
}

/* A reply after the dot stays the recipient's when the next one never comes. */
static void
test_lmtp_drop_between_replies(void **state)
{
	const struct script sc = { HAPPY, .ehlo = EHLO_PIPE, .dot = "250 2.0.0 a saved\r\n" };
	struct server srv;
	struct run r;

	(void)state;
	run_mode(&sc, 2, true, false, T_DOT, &srv, &r);
	assert_int_equal(r.res.outcome, SMTP_TRY_NEXT);
	assert_string_equal(r.stage, "end of data");
	assert_int_equal(r.rcpts[0].class, 2);
	assert_true(r.rcpts[0].final);
	assert_false(r.rcpts[1].final); /* accepted at RCPT, fate unknown */
}

/* LMTP has no HELO: a refused LHLO fails the server for now. */
static void
test_lmtp_no_helo(void **state)
{
	const struct script sc = { HAPPY, .ehlo = "500 5.5.1 what\r\n" };
	struct server srv;
	struct run r;

	(void)state;
	run_mode(&sc, 1, true, false, T_NONE, &srv, &r);
	assert_int_equal(r.res.outcome, SMTP_TRY_NEXT);
	assert_null(strstr(srv.log, "HELO client"));
}

/* Verification: MAIL and RCPT (pipelined), then QUIT; never DATA. */
static void
test_verify(void **state)
{
	const struct script sc = { HAPPY, .ehlo = EHLO_PIPE,
		.rcpt = { OK, "550 5.1.1 unknown\r\n" } };
	struct server srv;
	struct run r;

	(void)state;
	run_mode(&sc, 2, true, true, T_NONE, &srv, &r);
	assert_int_equal(r.res.outcome, SMTP_COMPLETED);
	assert_int_equal(r.rcpts[0].class, 2);
	assert_int_equal(r.rcpts[1].class, 5);
	assert_null(strstr(srv.log, "DATA"));
	assert_non_null(strstr(srv.log, "> QUIT\n"));
}
#pragma GCC diagnostic pop

int
main(void)
{
	struct CMUnitTest
	    tests[sizeof(rows) / sizeof(rows[0]) + 7 + sizeof(reuse_rows) / sizeof(reuse_rows[0])];
	size_t n = 0;

	/* The scripted server may hang up under the client's feet. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		tests[n++] =
		    (struct CMUnitTest){ rows[i].name, test_script, NULL, NULL, (void *)&rows[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_dot_stuffed_body);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_probe_verify);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_probe_reachability);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_lmtp_replies);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_lmtp_drop_between_replies);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_lmtp_no_helo);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_verify);
	for (size_t i = 0; i < sizeof(reuse_rows) / sizeof(reuse_rows[0]); i++)
		tests[n++] = (struct CMUnitTest){ reuse_rows[i].name, test_reuse, NULL, NULL,
			(void *)&reuse_rows[i] };
	return _cmocka_run_group_tests("smtp_session", tests, n, NULL, NULL);
}
