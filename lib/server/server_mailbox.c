/*
 * server_mailbox.c - asks the LMTP mail store (mx_server_set_lmtp) whether
 * a local recipient exists, as Postfix's address verification asks a
 * next hop: LHLO, MAIL FROM:<>, RCPT TO, then QUIT, never DATA (the
 * client side of lib/smtp in its verify mode).  A 2xx takes the
 * recipient, a 5xx refuses it with 550 5.1.1; anything else (a 4xx, a
 * store that is down or slow) takes it, because a store that is down
 * must delay mail, not refuse it: its reply after the message decides
 * then.  Answers are cached (known VERIFY_KNOWN_TTL s, unknown
 * VERIFY_UNKNOWN_TTL s) in a small table with one slot per hash, so
 * memory is fixed and a flood of made-up names only evicts.  It never
 * writes mail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "connect.h"
#include "server_clients.h"
#include "server_mailbox.h"
#include "smtp_session.h"

#define VERIFY_KNOWN_TTL   600
#define VERIFY_UNKNOWN_TTL 60
#define VERIFY_TIMEOUT_MS  10000

struct mailbox_ask {
	mx_server *srv;
	struct sconn *conn; /* NULL once the client left */
	mailbox_done_fn done;
	char addr[321];
	const char *rcpts[1];
	struct smtp_txn txn;
	struct smtp_session *session;
};

static const char UNKNOWN[] =
    "550 5.1.1 Recipient address rejected: User unknown in local recipient table";

static struct mailbox_slot *
slot_of(mx_server *srv, const char *addr)
{
	size_t h = 5381;

	for (const char *p = addr; *p != '\0'; p++)
		h = h * 33 + (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	return &srv->mailbox_cache[h % SERVER_MAILBOX_SLOTS];
}

static bool
cached(mx_server *srv, const char *addr, const char **no)
{
	const struct mailbox_slot *s = slot_of(srv, addr);

	if (s->until <= (int64_t)time(NULL) || strcasecmp(s->addr, addr) != 0)
		return false;
	*no = s->known ? NULL : UNKNOWN;
	return true;
}

static void
remember(mx_server *srv, const char *addr, bool known)
{
	struct mailbox_slot *s = slot_of(srv, addr);

	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->known = known;
	s->until = (int64_t)time(NULL) + (known ? VERIFY_KNOWN_TTL : VERIFY_UNKNOWN_TTL);
}

static void
answer(struct mailbox_ask *v, const char *no)
{
	struct sconn *c = v->conn;

	if (c == NULL)
		return;
	c->mailbox = NULL;
	v->conn = NULL;
	v->done(c, v->addr, no);
}

/* The session is gone (after QUIT, or it failed): nothing refers to v. */
static void
on_closed(void *arg)
{
	free(arg);
}

static void
on_session(const struct smtp_session_result *res, void *arg)
{
	struct mailbox_ask *v = arg;
	int class = res->n_rcpts > 0 ? res->rcpts[0].class : 0;

	if (class == 2 || class == 5)
		remember(v->srv, v->addr, class == 2);
	if (class == 5)
		server_log(v->srv, "reject: RCPT to <%s>: the mail store says %s", v->addr,
		    res->rcpts[0].text);
	answer(v, class == 5 ? UNKNOWN : NULL);
}

static void
on_connect(const struct connect_result *res, void *arg)
{
	struct mailbox_ask *v = arg;
	struct smtp_session_opts opts = { 0 };
	unsigned ms = VERIFY_TIMEOUT_MS;

	if (res->fd < 0) {
		answer(v, NULL); /* the store is down: the queue waits for it */
		free(v);
		return;
	}
	opts.timeouts = (struct smtp_timeouts){ ms, ms, ms, ms, ms, ms, ms, ms, ms };
	opts.peer_name = v->srv->lmtp.text;
	opts.lmtp = true;
	opts.verify = true;
	opts.closed = on_closed;
	if (smtp_session_start(v->srv->base, res->fd, &v->txn, &opts, on_session, v, &v->session) !=
	    MX_OK) {
		answer(v, NULL);
		free(v);
	}
}

static bool
start(struct sconn *c, const char *addr, mailbox_done_fn done)
{
	struct mailbox_ask *v = calloc(1, sizeof(*v));
	struct connect_opts opts;
	struct connect_race *race = NULL;

	if (v == NULL)
		return false;
	*v = (struct mailbox_ask){ .srv = c->srv, .conn = c, .done = done };
	snprintf(v->addr, sizeof(v->addr), "%s", addr);
	v->rcpts[0] = v->addr;
	v->txn = (struct smtp_txn){
		.helo = c->srv->hostname, .mail_from = "", .rcpts = v->rcpts, .n_rcpts = 1
	};
	connect_opts_default(&opts);
	opts.connect_timeout_ms = opts.deadline_ms = VERIFY_TIMEOUT_MS;
	if (connect_race_start(c->srv->base, &c->srv->lmtp.addr, &c->srv->lmtp.len, 1, &opts,
		on_connect, v, &race) != MX_OK) {
		free(v);
		return false;
	}
	c->mailbox = v;
	return true;
}

bool
mailbox_check(struct sconn *c, const char *addr, mailbox_done_fn done, const char **no)
{
	*no = NULL;
	if (!c->srv->lmtp_set || cached(c->srv, addr, no))
		return true;
	return !start(c, addr, done);
}

void
mailbox_forget(struct sconn *c)
{
	if (c->mailbox != NULL)
		c->mailbox->conn = NULL;
	c->mailbox = NULL;
}
