/*
 * smtp_session.c - the client side of one SMTP transaction on one
 * connected socket (RFC 5321 with RFC 3207 STARTTLS, RFC 2920
 * PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8).
 * A state machine of small reply handlers over a libevent bufferevent;
 * replies are read by smtp_reply.c, TLS is set up by tls.c.  It owns the
 * socket (closed when it ends) and its per-recipient results; it never
 * resolves names or chooses hosts, and never retries: deliver.c does.
 *
 * Rules (RFC 5321 4.2.1, 4.5.4.1, 3.1): a 4xx anywhere, a 5xx greeting, a
 * dropped connection or a timeout fail this host for now (try the next);
 * a 5xx to MAIL, DATA or the final dot is permanent for the transaction;
 * a 5xx to RCPT is permanent for that recipient only.  A reply that
 * arrives before its command (outside a PIPELINING group) is a protocol
 * error and fails this host for now (reply_early).
 *
 * With opts.lmtp the same machine speaks LMTP (RFC 2033): LHLO, and after
 * the final dot one reply per accepted recipient, in order (lmtp_dot);
 * a recipient answered before a failure keeps its answer.  With
 * opts.verify the transaction stops after RCPT (address verification).
 *
 * With opts.keep a connection outlives its transaction: idle after a
 * transaction the server answered in step, parked by a connection cache,
 * and given the next transaction with RSET first (RFC 5321 4.1.1.5).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mstime.h"
#include "smtp_reply.h"
#include "smtp_session.h"
#include "strbuf.h"

#define MIN(a, b)  ((a) < (b) ? (a) : (b))
#define READ_CHUNK 4096
/* The message goes out a chunk at a time, read when the socket's queue
 * falls to BODY_LOW, into BODY_SLOTS buffers that the output queue
 * references rather than copies: memory stays the same whatever the
 * message's size, and nothing is allocated per chunk. */
#define BODY_SLOTS 4
#define BODY_LOW   PAYLOAD_CHUNK
#define BODY_HIGH  ((size_t)BODY_SLOTS * PAYLOAD_CHUNK)

/*
 * The chunk buffers.  The output queue may outlive the session (libevent
 * frees a bufferevent late when it is in use), so the pool has its own
 * count: one for the session, one per chunk still queued; the last to let
 * go frees it.
 */
struct body_pool {
	unsigned refs;
	bool busy[BODY_SLOTS];
	uint8_t buf[BODY_SLOTS][PAYLOAD_CHUNK];
};

enum state {
	S_GREETING,
	S_EHLO,
	S_HELO,
	S_STARTTLS,
	S_HANDSHAKE,
	S_EHLO_TLS,
	S_MAIL,
	S_RCPT,
	S_DATA,
	S_DOT,
	S_QUIT,
	S_BODY, /* the message going out, before the dot */
	S_IDLE, /* opts.keep: between transactions */
};

struct smtp_session {
	struct event_base *base;
	struct bufferevent *bev;
	struct event *timer;
	const struct smtp_txn *txn;
	struct smtp_session_opts opts;
	smtp_done_cb done;
	void *arg;
	enum state state;
	struct smtp_reply_reader reader;
	struct smtp_ehlo ehlo;
	size_t next_rcpt; /* the RCPT reply expected next */
	size_t owed;      /* replies owed for what was sent (the greeting counts) */
	size_t accepted;  /* recipients with a 2xx to RCPT */
	size_t dot_next;  /* LMTP: the recipient the next final reply is for */
	bool pipelined;   /* MAIL, RCPTs and DATA went out together */
	bool finished;    /* the caller has the result */
	bool closing;     /* freed at the next turn of the loop */
	struct event *reaper;
	bool rset_owed;         /* the reply to RSET comes before the others */
	bool parked;            /* idle, owned by a cache: no QUIT after done */
	void *closed_arg;       /* opts.closed's argument */
	size_t body_pos;        /* octets of the payload queued so far */
	struct body_pool *pool; /* while the message goes out */
	struct smtp_session_result result;
};

static void finish(struct smtp_session *s, enum smtp_outcome outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void
smtp_timeouts_default(struct smtp_timeouts *t)
{
	/* RFC 5321 4.5.3.2: greeting 5 min, MAIL 5, RCPT 5, DATA 2, data
	 * block 3, final dot 10; EHLO and STARTTLS as a command, 5 min. */
	*t = (struct smtp_timeouts){
		.greeting = 300000,
		.ehlo = 300000,
		.starttls = 300000,
		.mail = 300000,
		.rcpt = 300000,
		.data = 120000,
		.block = 180000,
		.final_dot = 600000,
		.quit = 10000,
	};
}

static void
arm(struct smtp_session *s, unsigned ms)
{
	struct timeval tv = ms_timeval(ms);

	evtimer_add(s->timer, &tv);
}

static void
show(struct smtp_session *s, char dir, const char *line, size_t len)
{
	if (s->opts.transcript != NULL)
		s->opts.transcript(dir, line, len, s->opts.transcript_arg);
}

static void
send_line(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Commands are built from checked addresses: no CR or LF can be in them. */
static void
send_line(struct smtp_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 3;
	show(s, '>', line, (size_t)n);
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): sent by length */
	memcpy(line + n, "\r\n", 2);
	bufferevent_write(s->bev, line, (size_t)n + 2);
	s->owed++; /* every line sent, the final "." too, gets one reply */
}

static void
keep_reply(char *dst, const struct smtp_reply *reply)
{
	snprintf(dst, SMTP_TEXT_MAX, "%u%s%s %s", reply->code, reply->enhanced[0] ? " " : "",
	    reply->enhanced, reply->text);
	/* Multi-line texts become one line for logs; what a log cannot show
	 * safely (controls, DEL, 8-bit octets) becomes '?'. */
	for (char *p = dst; *p != '\0'; p++) {
		if (*p == '\n')
			*p = ' ';
		else if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	}
}

static void
pool_release(struct body_pool *pool)
{
	if (pool != NULL && --pool->refs == 0)
		free(pool);
}

/* evbuffer's word that a chunk went out (or was dropped). */
static void
on_chunk_done(const void *data, size_t len, void *arg)
{
	struct body_pool *pool = arg;
	size_t slot = (size_t)((const uint8_t *)data - pool->buf[0]) / PAYLOAD_CHUNK;

	(void)len;
	pool->busy[slot] = false;
	pool_release(pool);
}

static void
free_session(struct smtp_session *s)
{
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->reaper != NULL)
		event_free(s->reaper);
	smtp_reply_reader_clear(&s->reader);
	pool_release(s->pool);
	free(s->result.rcpts);
	free(s);
}

static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	void (*closed)(void *) = s->opts.closed;
	void *closed_arg = s->closed_arg;

	(void)fd;
	(void)what;
	free_session(s);
	if (closed != NULL)
		closed(closed_arg);
}

/* Frees the session from the event loop, never under a caller's feet. */
static void
close_session(struct smtp_session *s)
{
	struct timeval now = { 0, 0 };

	s->closing = true;
	evtimer_del(s->timer);
	bufferevent_disable(s->bev, EV_READ);
	evtimer_add(s->reaper, &now);
}

/*
 * Hands the result to the caller, once.  After a completed transaction
 * the session lingers to say QUIT properly; otherwise it closes.
 * Recipients without a final answer stay pending (class 0 or 4).
 */
static void
finish(struct smtp_session *s, enum smtp_outcome outcome, const char *fmt, ...)
{
	va_list ap;

	if (s->finished)
		return;
	s->finished = true;
	s->result.outcome = outcome;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(s->result.text, sizeof(s->result.text), fmt, ap);
		va_end(ap);
	}
	s->done(&s->result, s->arg);
	if (!s->finished)
		return; /* parked and given the next transaction from inside done */
	if (s->state == S_IDLE && s->parked)
		return;
	if (s->state == S_IDLE) { /* nobody wanted it: QUIT as usual */
		s->state = S_QUIT;
		send_line(s, "QUIT");
	}
	if (s->state == S_QUIT)
		arm(s, s->opts.timeouts.quit);
	else
		close_session(s);
}

/* opts.keep: the transaction is over and the server is in step. */
static void
go_idle(struct smtp_session *s, enum smtp_outcome outcome)
{
	evtimer_del(s->timer);
	s->state = S_IDLE;
	s->result.reusable = true;
	finish(s, outcome, NULL);
}

/* Decides on a reply that ends the transaction for this host. */
static void
fail_on(struct smtp_session *s, const struct smtp_reply *reply, const char *stage)
{
	s->result.stage = stage;
	s->result.code = reply->code;
	snprintf(s->result.enhanced, sizeof(s->result.enhanced), "%s", reply->enhanced);
	keep_reply(s->result.text, reply);
	/* Only MAIL, DATA and the final dot judge the message; a 5xx to the
	 * greeting (RFC 5321 3.1), EHLO, HELO or STARTTLS refuses this host. */
	if (smtp_reply_permanent(reply) &&
	    (s->state == S_MAIL || s->state == S_DATA || s->state == S_DOT))
		finish(s, SMTP_PERMANENT, NULL);
	else
		finish(s, SMTP_TRY_NEXT, NULL);
}

static void
send_ehlo(struct smtp_session *s, enum state next)
{
	s->state = next;
	send_line(s, "%s %s", s->opts.lmtp ? "LHLO" : "EHLO", s->txn->helo);
	arm(s, s->opts.timeouts.ehlo);
}

static void
send_mail(struct smtp_session *s)
{
	char params[96];
	struct strbuf sb;

	/* at most 43 bytes: never cut */
	strbuf_init(&sb, params, sizeof(params));
	if (s->ehlo.has_size)
		strbuf_printf(&sb, " SIZE=%zu", s->txn->size);
	if (s->txn->needs_8bitmime && s->ehlo.eightbitmime)
		strbuf_add(&sb, " BODY=8BITMIME");
	if (s->txn->needs_smtputf8)
		strbuf_add(&sb, " SMTPUTF8");
	s->state = S_MAIL;
	send_line(s, "MAIL FROM:<%s>%s", s->txn->mail_from, params);
	arm(s, s->opts.timeouts.mail);
}

static void
send_rcpt(struct smtp_session *s, size_t i)
{
	send_line(s, "RCPT TO:<%s>", s->txn->rcpts[i]);
	arm(s, s->opts.timeouts.rcpt);
}

/* Whether the transaction fits what EHLO offered (no I/O, no callback). */
static bool
txn_fits(const struct smtp_session *s)
{
	return !(s->ehlo.has_size && s->ehlo.size > 0 && s->txn->size > s->ehlo.size) &&
	    !(s->txn->needs_smtputf8 && !s->ehlo.smtputf8);
}

/* After EHLO: what the server offers decides what can be sent. */
static bool
can_send(struct smtp_session *s)
{
	if (s->ehlo.has_size && s->ehlo.size > 0 && s->txn->size > s->ehlo.size) {
		s->result.stage = "EHLO";
		snprintf(s->result.enhanced, sizeof(s->result.enhanced), "5.3.4");
		finish(s, SMTP_PERMANENT,
		    "message of %zu octets exceeds the server's SIZE "
		    "limit of %llu",
		    s->txn->size, (unsigned long long)s->ehlo.size);
		return false;
	}
	if (s->txn->needs_smtputf8 && !s->ehlo.smtputf8) {
		s->result.stage = "EHLO";
		snprintf(s->result.enhanced, sizeof(s->result.enhanced), "5.6.7");
		finish(s, SMTP_PERMANENT,
		    "the message needs SMTPUTF8, which the server "
		    "does not offer (RFC 6531 3.4)");
		return false;
	}
	return true;
}

/* Address verification: opts.verify (the LMTP store asked at RCPT) or a
 * transaction without a payload (a backup MX asking a better one). */
static bool
ends_before_data(const struct smtp_session *s)
{
	return s->opts.verify || s->txn->payload == NULL;
}

static void
start_transaction(struct smtp_session *s)
{
	if (s->txn->payload == NULL && s->txn->n_rcpts == 0) {
		/* A reachability probe: the server greeted and answered EHLO. */
		s->result.stage = "EHLO";
		s->state = S_QUIT;
		send_line(s, "QUIT");
		finish(s, SMTP_COMPLETED, NULL);
		return;
	}
	if (!can_send(s))
		return;
	send_mail(s);
	if (!s->ehlo.pipelining)
		return;
	/* RFC 2920: MAIL, every RCPT and DATA in one go (no DATA for a
	 * verification probe, which ends before it). */
	s->pipelined = true;
	for (size_t i = 0; i < s->txn->n_rcpts; i++)
		send_rcpt(s, i);
	if (!ends_before_data(s))
		send_line(s, "DATA");
}

static bool
starttls_wanted(struct smtp_session *s)
{
	if (s->opts.tls_client == NULL)
		return false;
	return s->ehlo.starttls || s->opts.tls != TLS_MAY;
}

static void
after_ehlo(struct smtp_session *s)
{
	if (s->state == S_EHLO && starttls_wanted(s)) {
		if (!s->ehlo.starttls) {
			s->result.stage = "EHLO";
			finish(s, SMTP_TRY_NEXT,
			    "TLS is required (%s) but the server does "
			    "not offer STARTTLS",
			    s->opts.tls == TLS_DANE ? "DANE" : "policy");
			return;
		}
		s->state = S_STARTTLS;
		send_line(s, "STARTTLS");
		arm(s, s->opts.timeouts.starttls);
		return;
	}
	start_transaction(s);
}

static void
on_greeting(struct smtp_session *s, const struct smtp_reply *r)
{
	if (!smtp_reply_positive(r)) {
		fail_on(s, r, "greeting");
		return;
	}
	send_ehlo(s, S_EHLO);
}

static void
on_ehlo(struct smtp_session *s, const struct smtp_reply *r)
{
	if (smtp_reply_positive(r)) {
		smtp_ehlo_parse(r, &s->ehlo);
		after_ehlo(s);
		return;
	}
	/* An old server without ESMTP: HELO, and none of the extensions
	 * (LMTP has no HELO: RFC 2033 4.1). */
	if (s->state == S_EHLO && smtp_reply_permanent(r) && !starttls_wanted(s) && !s->opts.lmtp) {
		s->state = S_HELO;
		memset(&s->ehlo, 0, sizeof(s->ehlo));
		send_line(s, "HELO %s", s->txn->helo);
		arm(s, s->opts.timeouts.ehlo);
		return;
	}
	fail_on(s, r, s->state == S_EHLO_TLS ? "EHLO after STARTTLS" : "EHLO");
}

static void
on_helo(struct smtp_session *s, const struct smtp_reply *r)
{
	if (!smtp_reply_positive(r)) {
		fail_on(s, r, "HELO");
		return;
	}
	start_transaction(s);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg);
static void on_read(struct bufferevent *bev, void *arg);

/*
 * Acknowledge what was read at once (TCP_QUICKACK, re-armed at every read
 * since Linux clears it).  A server that writes its replies to a
 * pipelined group one by one with Nagle on (Postfix's smtpd, Python's
 * socketserver) holds each reply after the first until that first is
 * acknowledged, and a client with nothing to send delays its ACK by 40 ms:
 * on a reused session that was every message (bench/daemon-throughput,
 * Postfix smtpd with STARTTLS: 402 messages/s over 20 sessions; 998 with
 * this).  Not a TCP socket (LMTP over a unix one): the call fails, unheeded.
 */
static void
ack_now(struct bufferevent *bev)
{
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}
static void on_write(struct bufferevent *bev, void *arg);

static void
start_tls(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct bufferevent *tls;
	struct tls_client *client;
	const char *why = NULL;
	SSL *ssl = NULL;

	/* Anything that came with the 220 was sent before TLS: it is not
	 * the server's word under TLS (CVE-2011-0411), so it is dropped. */
	evbuffer_drain(in, evbuffer_get_length(in));
	if ((client = s->opts.tls_client(s->opts.tls_ctx)) == NULL) {
		s->result.stage = "STARTTLS";
		finish(s, SMTP_TRY_NEXT,
		    "TLS set-up failed: no TLS client (trust store "
		    "or CA file unreadable)");
		return;
	}
	if (tls_session_new(client, s->opts.peer_name, s->opts.tls, s->opts.tlsa, s->opts.n_tlsa,
		&ssl, &why) != MX_OK) {
		s->result.stage = "STARTTLS";
		finish(s, SMTP_TRY_NEXT, "TLS set-up failed: %s", why ? why : "unknown");
		return;
	}
	tls = bufferevent_openssl_filter_new(
	    s->base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		/* Not SSL_free: some libevent 2.1 releases free it on this path,
		 * and a leak when out of memory beats a double free. */
		s->result.stage = "STARTTLS";
		finish(s, SMTP_TRY_NEXT, "TLS set-up failed: out of memory");
		return;
	}
	s->bev = tls;
	s->state = S_HANDSHAKE;
	bufferevent_setcb(tls, on_read, on_write, on_tls_event, s);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	arm(s, s->opts.timeouts.starttls);
}

static void
on_starttls(struct smtp_session *s, const struct smtp_reply *r)
{
	if (smtp_reply_positive(r)) {
		start_tls(s);
		return;
	}
	fail_on(s, r, "STARTTLS");
}

static void
on_handshake_done(struct smtp_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	const char *why = NULL;

	if (!tls_session_check(ssl, s->opts.tls, &s->result.tls_facts, &why)) {
		s->result.stage = "TLS";
		finish(s, SMTP_TRY_NEXT, "TLS peer not authenticated: %s", why ? why : "?");
		return;
	}
	s->result.tls = true;
	/* RFC 3207 4.2: forget what EHLO said before TLS, ask again. */
	memset(&s->ehlo, 0, sizeof(s->ehlo));
	send_ehlo(s, S_EHLO_TLS);
}

/* Queues the message up to BODY_HIGH octets, then the dot once all is in. */
static void
pump_body(struct smtp_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	const struct payload *p = s->txn->payload;
	ssize_t n;

	size_t slot;

	while (s->body_pos < payload_len(p)) {
		for (slot = 0; slot < BODY_SLOTS && s->pool->busy[slot]; slot++)
			;
		if (slot == BODY_SLOTS)
			return; /* on_write calls again when the queue is low */
		if ((n = payload_read(p, s->body_pos, s->pool->buf[slot], PAYLOAD_CHUNK)) <= 0) {
			s->result.stage = "end of data";
			finish(s, SMTP_TRY_NEXT, "reading the message to send failed: %s",
			    strerror(n == 0 ? EIO : errno));
			return;
		}
		/* Taken before it is added: a TLS filter may send it, and call
		 * on_chunk_done, from inside evbuffer_add_reference. */
		s->pool->busy[slot] = true;
		s->pool->refs++;
		if (evbuffer_add_reference(
			out, s->pool->buf[slot], (size_t)n, on_chunk_done, s->pool) != 0) {
			s->pool->busy[slot] = false;
			s->pool->refs--;
			s->result.stage = "end of data";
			finish(s, SMTP_TRY_NEXT, "out of memory sending the message");
			return;
		}
		s->body_pos += (size_t)n;
	}
	send_line(s, ".");
	/* LMTP: one reply per accepted recipient (RFC 2033 4.2). */
	if (s->opts.lmtp)
		s->owed += s->accepted - 1;
	s->dot_next = 0;
	s->state = S_DOT;
	arm(s, s->opts.timeouts.final_dot);
}

static void
send_body(struct smtp_session *s)
{
	struct timeval block = ms_timeval(s->opts.timeouts.block);
	struct bufferevent *raw = bufferevent_get_underlying(s->bev);

	/* malloc, not calloc: 256 KiB that calloc would zero (and so make
	 * resident) for each session sending, where a small message touches
	 * a page; refs and busy are set below. */
	if ((s->pool = malloc(sizeof(*s->pool))) == NULL) {
		s->result.stage = "end of data";
		finish(s, SMTP_TRY_NEXT, "out of memory sending the message");
		return;
	}
	/* RFC 5321 4.5.3.2.5: each block must go out within its time. */
	bufferevent_set_timeouts(s->bev, NULL, &block);
	bufferevent_setwatermark(s->bev, EV_WRITE, BODY_LOW, 0);
	/* Under TLS the filter moves records to the socket's bufferevent as
	 * fast as we give them; its high mark holds them back there too. */
	if (raw != NULL)
		bufferevent_setwatermark(raw, EV_WRITE, BODY_LOW, BODY_HIGH);
	s->pool->refs = 1;
	memset(s->pool->busy, 0, sizeof(s->pool->busy));
	show(s, '>', "(message)", 9);
	evtimer_del(s->timer); /* the block timeout watches the writes now */
	s->state = S_BODY;
	s->body_pos = 0;
	pump_body(s);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	if (s->state == S_BODY && !s->finished && !s->closing)
		pump_body(s);
}

/* Verification only: the replies to RCPT are the answer. */
static void
end_verify(struct smtp_session *s)
{
	s->result.stage = "RCPT";
	if (s->opts.keep) {
		go_idle(s, SMTP_COMPLETED);
		return;
	}
	s->state = S_QUIT;
	send_line(s, "QUIT");
	finish(s, SMTP_COMPLETED, NULL);
}

static void
after_rcpts(struct smtp_session *s)
{
	if (ends_before_data(s)) {
		end_verify(s);
		return;
	}
	if (s->accepted == 0) {
		/* Nobody to send to here: the pipelined DATA gets its refusal,
		 * which says nothing about the message. */
		s->result.stage = "RCPT";
		if (s->opts.keep && !s->pipelined) {
			go_idle(s, SMTP_COMPLETED);
			return;
		}
		s->state = S_QUIT;
		send_line(s, "QUIT");
		finish(s, SMTP_COMPLETED, NULL);
		return;
	}
	s->state = S_DATA;
	if (!s->pipelined)
		send_line(s, "DATA");
	arm(s, s->opts.timeouts.data);
}

static void
on_mail(struct smtp_session *s, const struct smtp_reply *r)
{
	if (!smtp_reply_positive(r)) {
		fail_on(s, r, "MAIL");
		return;
	}
	s->state = S_RCPT;
	s->next_rcpt = 0;
	if (!s->pipelined)
		send_rcpt(s, 0);
}

static void
on_rcpt(struct smtp_session *s, const struct smtp_reply *r)
{
	struct smtp_rcpt_result *rr = &s->result.rcpts[s->next_rcpt];

	rr->class = (int)(r->code / 100);
	rr->code = r->code;
	snprintf(rr->enhanced, sizeof(rr->enhanced), "%s", r->enhanced);
	keep_reply(rr->text, r);
	s->accepted += smtp_reply_positive(r);
	if (++s->next_rcpt < s->txn->n_rcpts) {
		if (!s->pipelined)
			send_rcpt(s, s->next_rcpt);
		return;
	}
	after_rcpts(s);
}

static void
on_data(struct smtp_session *s, const struct smtp_reply *r)
{
	if (r->code == 354) {
		send_body(s);
		return;
	}
	fail_on(s, r, "DATA");
}

static void
set_final(struct smtp_rcpt_result *rr, const struct smtp_reply *r)
{
	rr->class = (int)(r->code / 100);
	rr->final = true;
	rr->code = r->code;
	snprintf(rr->enhanced, sizeof(rr->enhanced), "%s", r->enhanced);
	keep_reply(rr->text, r);
}

/* The transaction is over and the server in step: idle, or QUIT. */
static void
end_transaction(struct smtp_session *s, enum smtp_outcome outcome)
{
	if (s->opts.keep) {
		go_idle(s, outcome);
		return;
	}
	s->state = S_QUIT;
	send_line(s, "QUIT");
	finish(s, outcome, NULL);
}

/*
 * RFC 2033 4.2: the reply for the next recipient accepted at RCPT.  Each
 * is final for that recipient alone, so the transaction as a whole is
 * COMPLETED: the classes say who was delivered (2), who waits (4) and
 * who bounces (5).
 */
static void
lmtp_dot(struct smtp_session *s, const struct smtp_reply *r)
{
	while (s->dot_next < s->txn->n_rcpts && s->result.rcpts[s->dot_next].class != 2)
		s->dot_next++;
	if (s->dot_next < s->txn->n_rcpts)
		set_final(&s->result.rcpts[s->dot_next++], r);
	s->result.stage = "end of data";
	s->result.code = r->code;
	keep_reply(s->result.text, r);
	if (s->owed > 0)
		return; /* more recipients' replies to come */
	end_transaction(s, SMTP_COMPLETED);
}

static void
on_dot(struct smtp_session *s, const struct smtp_reply *r)
{
	if (s->opts.lmtp) {
		lmtp_dot(s, r);
		return;
	}
	/* The final reply is each accepted recipient's answer (RFC 5321 4.1.1.4). */
	for (size_t i = 0; i < s->txn->n_rcpts; i++)
		if (s->result.rcpts[i].class == 2)
			set_final(&s->result.rcpts[i], r);
	s->result.stage = "end of data";
	s->result.code = r->code;
	keep_reply(s->result.text, r);
	if (smtp_reply_temporary(r)) {
		finish(s, SMTP_TRY_NEXT, NULL);
		return;
	}
	end_transaction(s, smtp_reply_permanent(r) ? SMTP_PERMANENT : SMTP_COMPLETED);
}

static void
show_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	for (size_t i = 0; i < r->n_lines && s->opts.transcript != NULL; i++) {
		char line[SMTP_REPLY_LINE_MAX + 8];
		/* As the server wrote it: the reader strips the enhanced code. */
		int n = snprintf(line, sizeof(line), "%u%c%s%s%s", r->code,
		    i + 1 < r->n_lines ? '-' : ' ', r->enhanced, r->enhanced[0] ? " " : "",
		    r->lines[i]);
		show(s, '<', line, (size_t)MIN((size_t)n, sizeof(line) - 1));
	}
}

/* The reply to RSET on a reused connection; any refusal ends this one. */
static void
on_rset(struct smtp_session *s, const struct smtp_reply *r)
{
	s->rset_owed = false;
	if (!smtp_reply_positive(r)) {
		s->result.stage = "RSET";
		s->result.code = r->code;
		snprintf(s->result.enhanced, sizeof(s->result.enhanced), "%s", r->enhanced);
		keep_reply(s->result.text, r);
		finish(s, SMTP_TRY_NEXT, NULL);
		return;
	}
	if (s->state == S_IDLE) /* not pipelined: the transaction starts now */
		start_transaction(s);
}

static void
handle(struct smtp_session *s, const struct smtp_reply *r)
{
	if (s->rset_owed) {
		on_rset(s, r);
		return;
	}
	switch (s->state) {
	case S_GREETING: on_greeting(s, r); break;
	case S_EHLO:
	case S_EHLO_TLS: on_ehlo(s, r); break;
	case S_HELO: on_helo(s, r); break;
	case S_STARTTLS: on_starttls(s, r); break;
	case S_MAIL: on_mail(s, r); break;
	case S_RCPT: on_rcpt(s, r); break;
	case S_DATA: on_data(s, r); break;
	case S_DOT: on_dot(s, r); break;
	case S_QUIT: close_session(s); break; /* the reply to QUIT */
	case S_BODY:
		/* A reply before the dot answers nothing we sent: the server is
		 * out of step, and this host failed for now. */
		s->result.stage = "end of data";
		s->result.code = r->code;
		keep_reply(s->result.text, r);
		finish(s, SMTP_TRY_NEXT, NULL);
		break;
	default: break;
	}
}

static const char *
stage_name(enum state st)
{
	static const char *const names[] = { "greeting", "EHLO", "HELO", "STARTTLS",
		"TLS handshake", "EHLO after STARTTLS", "MAIL", "RCPT", "DATA", "end of data",
		"QUIT", "end of data", "RSET" };

	return names[st];
}

/*
 * Takes one reply off what is owed; true when it came before its command.
 * A reply answers a command already sent (RFC 5321 4.2; RFC 2920 3.1
 * lets MAIL, RCPT and DATA go out together, and then their replies may
 * come together).  Bytes still unread once every owed reply is in were
 * written before the server saw our next command: a server that sends
 * "354" and "250" in one go never read the body it accepts.  Two
 * exceptions: what follows the 220 to STARTTLS is dropped unread
 * (start_tls), and what follows the reply to the final dot cannot undo
 * a message the server took after the dot went out.
 */
static bool
reply_early(struct smtp_session *s, struct evbuffer *in)
{
	if (s->owed == 0)
		return true;
	s->owed--;
	return s->owed == 0 && evbuffer_get_length(in) > 0 && s->state != S_STARTTLS &&
	    s->state != S_DOT;
}

static void
fail_early(struct smtp_session *s)
{
	if (s->finished) {
		close_session(s);
		return;
	}
	s->result.stage = stage_name(s->state);
	s->result.code = 0;
	snprintf(s->result.enhanced, sizeof(s->result.enhanced), "4.5.0");
	finish(s, SMTP_TRY_NEXT,
	    "protocol error: reply before command (the server "
	    "sent more replies than commands during %s)",
	    stage_name(s->state));
}

/* Feeds what arrived to the reply reader, one reply at a time. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;

	ack_now(bev);

	while (!s->closing && (len = evbuffer_get_length(in)) > 0 && s->state != S_HANDSHAKE) {
		size_t chunk = MIN(len, (size_t)READ_CHUNK);
		const uint8_t *data = evbuffer_pullup(in, (ev_ssize_t)chunk);
		size_t used = smtp_reply_feed(&s->reader, data, chunk);
		struct smtp_reply reply;
		evbuffer_drain(in, used);
		if (smtp_reply_state(&s->reader) == SMTP_REPLY_ERROR) {
			if (s->finished) {
				close_session(s);
				return;
			}
			s->result.stage = stage_name(s->state);
			finish(s, SMTP_TRY_NEXT, "malformed reply: %s", smtp_reply_why(&s->reader));
			return;
		}
		if (smtp_reply_state(&s->reader) != SMTP_REPLY_DONE)
			continue;
		if (smtp_reply_take(&s->reader, &reply) != MX_OK) {
			finish(s, SMTP_TRY_NEXT, "out of memory");
			return;
		}
		show_reply(s, &reply);
		if (reply_early(s, in)) {
			smtp_reply_clear(&reply);
			fail_early(s);
			return;
		}
		handle(s, &reply);
		smtp_reply_clear(&reply);
		/* STARTTLS swapped the bufferevent: stop reading the old one. */
		if (s->closing || s->bev != bev)
			return;
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	if (s->finished) {
		if (!s->closing)
			close_session(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		s->result.stage = stage_name(s->state);
		finish(s, SMTP_TRY_NEXT, "timed out sending the message");
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		s->result.stage = stage_name(s->state);
		finish(s, SMTP_TRY_NEXT, "the server closed the connection during %s",
		    stage_name(s->state));
	}
}

static void
on_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	if ((what & BEV_EVENT_CONNECTED) && s->state == S_HANDSHAKE) {
		on_handshake_done(s);
		return;
	}
	if (s->state == S_HANDSHAKE && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		const char *why = NULL;
		tls_session_check(
		    bufferevent_openssl_get_ssl(bev), s->opts.tls, &s->result.tls_facts, &why);
		s->result.stage = "TLS handshake";
		finish(s, SMTP_TRY_NEXT, "TLS handshake failed: %s", why ? why : "no reason given");
		return;
	}
	on_event(bev, what, arg);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)fd;
	(void)what;
	if (s->finished) {
		close_session(s);
		return;
	}
	s->result.stage = stage_name(s->state);
	finish(s, SMTP_TRY_NEXT, "timed out waiting for the reply to %s", stage_name(s->state));
}

mx_err
smtp_session_start(struct event_base *base, int fd, const struct smtp_txn *txn,
    const struct smtp_session_opts *opts, smtp_done_cb done, void *arg, struct smtp_session **out)
{
	struct smtp_session *s;

	if (out != NULL)
		*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return MX_ERR_NOMEM;
	}
	s->base = base;
	s->txn = txn;
	s->opts = *opts;
	s->done = done;
	s->arg = arg;
	s->closed_arg = arg;
	s->result.transactions = 1;
	smtp_reply_reader_init(&s->reader);
	s->result.n_rcpts = txn->n_rcpts;
	s->result.rcpts = calloc(txn->n_rcpts ? txn->n_rcpts : 1, sizeof(*s->result.rcpts));
	s->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->timer = evtimer_new(base, on_timeout, s);
	s->reaper = evtimer_new(base, on_reap, s);
	if (s->result.rcpts == NULL || s->bev == NULL || s->timer == NULL || s->reaper == NULL) {
		if (s->bev == NULL)
			close(fd);
		free_session(s);
		return MX_ERR_NOMEM;
	}
	s->state = S_GREETING;
	s->owed = 1; /* the greeting */
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	arm(s, opts->timeouts.greeting);
	if (out != NULL)
		*out = s;
	return MX_OK;
}

void
smtp_session_cancel(struct smtp_session *s)
{
	if (s == NULL || s->closing)
		return;
	s->finished = true; /* no callback from here on */
	close_session(s);
}

void
smtp_session_park(struct smtp_session *s, void (*closed)(void *arg), void *arg)
{
	if (s == NULL)
		return;
	if (s->parked) { /* a new owner of a parked session, even one saying QUIT */
		s->opts.closed = closed;
		s->closed_arg = arg;
		return;
	}
	if (s->state != S_IDLE || s->closing)
		return;
	s->parked = true;
	s->opts.closed = closed;
	s->closed_arg = arg;
	s->opts.transcript = NULL;
	s->done = NULL;
	s->arg = NULL;
}

/* The per-transaction part of the session, for the next one. */
static mx_err
reset_for(struct smtp_session *s, const struct smtp_txn *txn)
{
	struct smtp_rcpt_result *rcpts = calloc(txn->n_rcpts ? txn->n_rcpts : 1, sizeof(*rcpts));
	struct smtp_session_result old = s->result;

	if (rcpts == NULL)
		return MX_ERR_NOMEM;
	free(s->result.rcpts);
	s->result = (struct smtp_session_result){ .rcpts = rcpts,
		.n_rcpts = txn->n_rcpts,
		.tls = old.tls,
		.tls_facts = old.tls_facts,
		.transactions = old.transactions + 1 };
	pool_release(s->pool);
	s->pool = NULL;
	s->txn = txn;
	s->accepted = 0;
	s->dot_next = 0;
	s->next_rcpt = 0;
	s->pipelined = false;
	s->body_pos = 0;
	return MX_OK;
}

mx_err
smtp_session_next(struct smtp_session *s, const struct smtp_txn *txn,
    const struct smtp_session_opts *opts, smtp_done_cb done, void *arg)
{
	mx_err err;

	if (s == NULL || txn == NULL || opts == NULL || done == NULL || !s->parked ||
	    s->state != S_IDLE || s->closing)
		return MX_ERR_INVALID;
	if ((err = reset_for(s, txn)) != MX_OK)
		return err;
	s->opts.timeouts = opts->timeouts;
	s->opts.transcript = opts->transcript;
	s->opts.transcript_arg = opts->transcript_arg;
	s->opts.closed = opts->closed;
	s->opts.keep = opts->keep;
	s->opts.verify = opts->verify;
	s->done = done;
	s->arg = arg;
	s->closed_arg = arg;
	s->parked = false;
	s->finished = false;
	s->rset_owed = true;
	send_line(s, "RSET");
	/* RFC 2920 3.1: RSET may open a pipelined group.  A transaction that
	 * will not fit waits for RSET's reply, so done never runs from here. */
	if (s->ehlo.pipelining && txn_fits(s))
		start_transaction(s);
	else
		arm(s, s->opts.timeouts.mail);
	return MX_OK;
}

void
smtp_session_quit(struct smtp_session *s)
{
	if (s == NULL || s->closing)
		return;
	if (s->state != S_IDLE || !s->parked) {
		smtp_session_cancel(s);
		return;
	}
	s->finished = true;
	s->state = S_QUIT;
	send_line(s, "QUIT");
	arm(s, s->opts.timeouts.quit);
}
