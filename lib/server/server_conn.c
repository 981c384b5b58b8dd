/*
 * server_conn.c - one client's connection (see server_conn.h): the
 * greeting (held back greet_pause_ms from clients outside the relay
 * networks, and refused to one that talks first), the bytes handed to
 * smtpd_session.c, the command timer (RFC 5321 4.5.3.2), STARTTLS with
 * the buffered input thrown away at the switch (CVE-2011-0411), the
 * recipients judged by relay.c, the message kept in memory then in an
 * unlinked file, the Received line, and the staging for the group
 * commit.  It never makes a message durable itself (server_commit.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "payload.h"
#include "server_clients.h"
#include "server_commit.h"
#include "server_conn.h"
#include "server_mailbox.h"
#include "server_verify.h"
#include "strbuf.h"

#define CONN_READ_HIGH    65536 /* input kept while a verdict or a commit is pending */
#define CONN_LINGER_TICKS 250   /* 20 ms each: 5 s for the last reply to leave */

static void conn_read(struct bufferevent *bev, void *arg);

static void
conn_free(struct sconn *c)
{
	mx_server *srv = c->srv;

	server_log(srv, "disconnect from %s", c->peer_text);
	verify_forget(c);
	commit_forget(c);
	mailbox_forget(c);
	if (c->counted)
		clients_remove(srv, (struct sockaddr *)&c->peer);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->fd >= 0)
		close(c->fd);
	free(c->mem);
	free(c->rcpts);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->sessions--;
	free(c);
}

void
sconn_free_all(mx_server *srv)
{
	while (srv->conns != NULL)
		conn_free(srv->conns);
}

/* Nothing replied is still waiting to go out (under TLS, in the TLS
 * layer or in the socket's bufferevent below it). */
static bool
flushed(struct sconn *c)
{
	struct bufferevent *under = bufferevent_get_underlying(c->bev);

	return evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
	    (under == NULL || evbuffer_get_length(bufferevent_get_output(under)) == 0);
}

/* Closes once what was replied has gone out (checked by conn_write and,
 * for the TLS layer's last bytes, by the timer; at most CONN_LINGER_TICKS). */
static void
conn_close(struct sconn *c)
{
	struct timeval tick = { 0, 20000 };

	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (flushed(c) || ++c->linger > CONN_LINGER_TICKS) {
		conn_free(c);
		return;
	}
	evtimer_add(c->timer, &tick);
}

static void
timer_arm(struct sconn *c)
{
	struct timeval tv = { .tv_sec = c->srv->timeout_s };

	evtimer_add(c->timer, &tv);
}

/* ---- the session's hooks --------------------------------------------- */

/*
 * A reply goes to the socket at once when nothing is queued before it
 * (in the clear; TLS replies go through OpenSSL's bufferevent): libevent
 * would otherwise turn EV_WRITE on (epoll_ctl), wait a loop pass for the
 * socket to be writable, write, and turn it off again (epoll_ctl), for
 * each of a message's six or seven replies.  What the socket does not
 * take now is queued as before, in order.
 */
static void
hook_reply(void *arg, const char *text, size_t len)
{
	struct sconn *c = arg;
	ssize_t n = 0;

	/* No layer under it: the plain socket's bufferevent, never TLS's. */
	if (bufferevent_get_underlying(c->bev) == NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		n = send(bufferevent_getfd(c->bev), text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			n = 0; /* EAGAIN, or an error the bufferevent reports */
	}
	if ((size_t)n < len)
		bufferevent_write(c->bev, text + n, len - (size_t)n);
}

static void
hook_reset(void *arg)
{
	struct sconn *c = arg;

	c->sender[0] = '\0';
	c->n_rcpts = 0;
	c->mem_len = c->file_len = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void
hook_mail(void *arg, const char *sender)
{
	struct sconn *c = arg;

	hook_reset(c);
	snprintf(c->sender, sizeof(c->sender), "%s", sender);
}

static bool
keep_rcpt(struct sconn *c, const char *addr)
{
	if (c->n_rcpts == c->cap_rcpts) {
		size_t cap = c->cap_rcpts ? c->cap_rcpts * 2 : 4;
		void *p = reallocarray(c->rcpts, cap, sizeof(*c->rcpts));
		if (p == NULL)
			return false;
		c->rcpts = p;
		c->cap_rcpts = cap;
	}
	snprintf(c->rcpts[c->n_rcpts++], sizeof(c->rcpts[0]), "%s", addr);
	return true;
}

static void
rcpt_logged(struct sconn *c, const char *path, const char *no)
{
	if (no != NULL)
		server_log(c->srv, "NOQUEUE: reject: RCPT from %s: %s; from=<%s> to=<%.320s>",
		    c->peer_text, no, c->sender, path);
}

/* The verdict on a recipient: kept when nothing says no. */
static void
verdict(struct sconn *c, const char *addr, const char *no, struct smtpd_verdict *v)
{
	if (no == NULL && !keep_rcpt(c, addr))
		no = "452 4.3.1 Insufficient system resources";
	v->ok = no == NULL;
	snprintf(v->reply, sizeof(v->reply), "%s", no ? no : "250 2.1.5 Ok");
}

/* A recipient's answer came from the loop: a backup domain's better MX
 * host (server_verify.c) or the LMTP store (server_mailbox.c). */
static void
rcpt_answered(struct sconn *c, const char *addr, const char *no)
{
	struct smtpd_verdict v;

	verdict(c, addr, no, &v);
	rcpt_logged(c, addr, v.ok ? NULL : v.reply);
	smtpd_session_rcpt_done(&c->s, &v);
	if (c->s.state == SMTPD_READY) {
		timer_arm(c);
		conn_read(c->bev, c); /* what the client pipelined meanwhile */
	}
}

/* The RCPT waits for its answer, whose question has its own deadline. */
static bool
rcpt_waits(struct sconn *c)
{
	evtimer_del(c->timer);
	return false;
}

static bool
hook_rcpt(void *arg, const char *path, struct smtpd_verdict *v)
{
	struct sconn *c = arg;
	char addr[321];
	const char *no = NULL;
	enum relay_class k = relay_judge(&c->srv->relay, c->trusted, path, addr);

	if (k == RELAY_DENIED)
		no = "554 5.7.1 Relay access denied";
	else if (k == RELAY_BAD)
		no = "501 5.1.3 Bad recipient address syntax";
	else if ((k == RELAY_BACKUP && !verify_rcpt(c, addr, &no, rcpt_answered)) ||
	    (k == RELAY_LOCAL && !mailbox_check(c, addr, rcpt_answered, &no)))
		return rcpt_waits(c); /* rcpt_answered replies */
	verdict(c, addr, no, v);
	if (k == RELAY_BACKUP || k == RELAY_LOCAL)
		rcpt_logged(c, addr, v->ok ? NULL : v->reply);
	if (k == RELAY_DENIED)
		server_log(c->srv,
		    "reject: RCPT from %s: 554 5.7.1 <%.320s>: Relay access denied; "
		    "from=<%s>",
		    c->peer_text, path, c->sender);
	return true;
}

static bool
hook_data_start(void *arg)
{
	struct sconn *c = arg;

	if (c->mem == NULL && (c->mem = malloc(SERVER_MEM_DATA)) == NULL)
		return false;
	c->mem_len = c->file_len = 0;
	return true;
}

/* The memory part is full: it and what follows go to an unlinked file. */
static bool
spill(struct sconn *c, const char *p, size_t n)
{
	if (c->fd < 0 && (c->fd = payload_tmpfile()) < 0)
		return false;
	for (int part = 0; part < 2; part++) {
		const char *q = part == 0 ? c->mem : p;
		size_t left = part == 0 ? c->mem_len : n;
		while (left > 0) {
			ssize_t w = write(c->fd, q, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return false;
			q += w;
			left -= (size_t)w;
			c->file_len += (size_t)w;
		}
	}
	c->mem_len = 0;
	return true;
}

static bool
hook_data_write(void *arg, const char *p, size_t n)
{
	struct sconn *c = arg;

	if (c->mem_len + n <= SERVER_MEM_DATA) {
		memcpy(c->mem + c->mem_len, p, n);
		c->mem_len += n;
		return true;
	}
	return spill(c, p, n);
}

/* "Received:" with the client, the protocol (RFC 3848) and TLS details. */
static size_t
received(struct sconn *c, char *out, size_t size)
{
	SSL *ssl = c->s.tls ? bufferevent_openssl_get_ssl(c->bev) : NULL;
	char date[64], tls[256] = "";
	time_t now = time(NULL);
	struct tm tm;
	struct strbuf sb;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", localtime_r(&now, &tm));
	if (ssl != NULL) {
		int bits = 0, alg = SSL_get_cipher_bits(ssl, &bits);
		snprintf(tls, sizeof(tls), "\r\n\t(using %s with cipher %s (%d/%d bits))",
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl), alg, bits);
	}
	strbuf_init(&sb, out, size);
	strbuf_printf(&sb, "Received: from %s (%s)\r\n\tby %s (mx) with %s%s%s", c->s.helo,
	    c->peer_text, c->srv->hostname, c->s.esmtp ? "ESMTP" : "SMTP", ssl ? "S" : "", tls);
	if (c->n_rcpts == 1)
		strbuf_printf(&sb, "\r\n\tfor <%s>", c->rcpts[0]);
	strbuf_printf(&sb, "; %s\r\n", date);
	return sb.len;
}

static void
committed(struct sconn *c, bool ok, const char *id, const char *why)
{
	if (ok)
		server_log(c->srv, "%s: client=%s, from=<%s>, nrcpt=%zu", id, c->peer_text,
		    c->sender, c->n_rcpts);
	smtpd_session_data_done(&c->s, ok, id, why);
	if (c->s.state == SMTPD_READY) {
		timer_arm(c);
		conn_read(c->bev, c); /* what the client pipelined meanwhile */
	}
}

/* The envelope and the payload (Received, then the message) to stage. */
static mx_err
stage(struct sconn *c, const char **why)
{
	struct spool_entry e = { 0 };
	char head[SERVER_RECEIVED_MAX];
	size_t hlen = received(c, head, sizeof(head));
	struct payload pl = { .fd = -1 };
	mx_err err = MX_ERR_SYSTEM;

	*why = "cannot write the message's temporary file";
	if (c->fd < 0) { /* all in memory: Received in front of it */
		char *all = malloc(hlen + c->mem_len);
		if (all == NULL)
			return MX_ERR_NOMEM;
		memcpy(all, head, hlen);
		memcpy(all + hlen, c->mem, c->mem_len);
		err = payload_init(&pl, (uint8_t *)all, hlen + c->mem_len, -1, 0, 0);
		free(all);
	} else if (c->mem_len == 0 || spill(c, "", 0)) {
		err = payload_init(&pl, (uint8_t *)head, hlen, c->fd, 0, c->file_len);
	}
	if (err != MX_OK)
		return err;
	snprintf(e.sender, sizeof(e.sender), "%s", c->sender);
	if ((e.rcpts = calloc(c->n_rcpts, sizeof(*e.rcpts))) == NULL) {
		payload_clear(&pl);
		return MX_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->n_rcpts; i++)
		snprintf(e.rcpts[i].address, sizeof(e.rcpts[i].address), "%s", c->rcpts[i]);
	e.n_rcpts = c->n_rcpts;
	e.payload = &pl;
	e.len = payload_len(&pl);
	err = commit_add(c->srv, c, &e, committed, why) ? MX_OK : MX_ERR_SYSTEM;
	free(e.rcpts);
	payload_clear(&pl);
	return err;
}

static void
hook_data_commit(void *arg)
{
	struct sconn *c = arg;
	const char *why = NULL;

	evtimer_del(c->timer); /* the wait is ours, not the client's */
	if (stage(c, &why) != MX_OK) {
		server_log(c->srv, "warning: %s: cannot queue a message: %s", c->peer_text, why);
		smtpd_session_data_done(&c->s, false, NULL, why);
	}
}

static void
hook_starttls(void *arg)
{
	struct sconn *c = arg;

	c->tls_wanted = true; /* done in conn_read, once the session returned */
}

static const struct smtpd_hooks server_hooks = {
	.reply = hook_reply,
	.mail = hook_mail,
	.rcpt = hook_rcpt,
	.reset = hook_reset,
	.data_start = hook_data_start,
	.data_write = hook_data_write,
	.data_commit = hook_data_commit,
	.starttls = hook_starttls,
};

/* ---- I/O ------------------------------------------------------------------- */

static void conn_event(struct bufferevent *bev, short what, void *arg);

static void
conn_write(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;

	(void)bev;
	if (c->closing)
		conn_close(c);
}

/* The switch to TLS: nothing the client sent with or after STARTTLS
 * counts (it was sent in the clear, and may be an attacker's). */
static void
start_tls(struct sconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct bufferevent *tls;
	SSL *ssl = SSL_new(c->srv->tls);

	c->tls_wanted = false;
	evbuffer_drain(in, evbuffer_get_length(in));
	tls = ssl ? bufferevent_openssl_filter_new(
			c->srv->base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)
		  : NULL;
	if (tls == NULL) {
		if (ssl != NULL)
			SSL_free(ssl);
		conn_close(c);
		return;
	}
	c->bev = tls;
	bufferevent_setcb(tls, conn_read, conn_write, conn_event, c);
	bufferevent_setwatermark(tls, EV_READ, 0, CONN_READ_HIGH);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec v;

	if (!c->greeted) { /* talked before the greeting: RFC 5321 3.1 */
		server_log(c->srv, "reject: %s talked before the greeting", c->peer_text);
		bufferevent_write(bev, "554 5.5.1 Error: talking before the greeting\r\n", 46);
		conn_close(c);
		return;
	}
	while (c->s.state == SMTPD_READY && evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
		size_t used = smtpd_session_feed(&c->s, v.iov_base, v.iov_len);
		evbuffer_drain(in, used);
		if (used > 0 && c->s.state == SMTPD_READY)
			timer_arm(c);
		if (c->tls_wanted || used == 0)
			break;
	}
	if (c->tls_wanted)
		start_tls(c);
	else if (c->s.state == SMTPD_CLOSED)
		conn_close(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct sconn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		server_log(c->srv, "%s: TLS %s with cipher %s", c->peer_text,
		    ssl ? SSL_get_version(ssl) : "?", ssl ? SSL_get_cipher_name(ssl) : "?");
		smtpd_session_tls_done(&c->s);
		timer_arm(c);
		/* What came with the client's Finished (TLS 1.3 lets a client
		 * send its EHLO in the same flight) was read while the session
		 * still waited for the handshake: nothing will wake it again. */
		conn_read(c->bev, c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(c);
}

static void
conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sconn *c = arg;
	char line[SMTPD_REPLY_MAX];

	(void)fd, (void)what;
	if (c->closing) {
		conn_close(c);
		return;
	}
	if (!c->greeted) {
		c->greeted = true;
		smtpd_session_greet(&c->s);
		timer_arm(c);
		return;
	}
	server_log(c->srv, "timeout after %s from %s", c->s.rd.in_data ? "DATA" : "a command",
	    c->peer_text);
	snprintf(line, sizeof(line), "421 4.4.2 %s Error: timeout exceeded", c->srv->hostname);
	smtpd_session_abort(&c->s, line);
	conn_close(c);
}

static bool
conn_setup(struct sconn *c, evutil_socket_t fd)
{
	c->bev = bufferevent_socket_new(c->srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(c->srv->base, conn_timer, c);
	if (c->bev == NULL || c->timer == NULL)
		return false;
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_READ_HIGH);
	return bufferevent_enable(c->bev, EV_READ | EV_WRITE) == 0;
}

void
sconn_accept(mx_server *srv, evutil_socket_t fd, const struct sockaddr *sa, int len)
{
	struct sconn *c = calloc(1, sizeof(*c));
	char host[INET6_ADDRSTRLEN] = "?";

	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->fd = -1;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->sessions++;
	memcpy(&c->peer, sa, (size_t)len < sizeof(c->peer) ? (size_t)len : sizeof(c->peer));
	inet_ntop(sa->sa_family,
	    sa->sa_family == AF_INET
		? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
		: (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
	    host, sizeof(host));
	snprintf(c->peer_text, sizeof(c->peer_text), "[%s]", host);
	c->trusted = relay_client_trusted(&srv->relay, sa);
	smtpd_session_init(&c->s, &srv->set, &server_hooks, c, false);
	if (!conn_setup(c, fd)) {
		if (c->bev == NULL)
			evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	server_log(srv, "connect from %s", c->peer_text);
	if (!c->trusted && !(c->counted = clients_add(srv, sa))) {
		server_log(srv, "warning: too many connections from %s", c->peer_text);
		c->greeted = true;
		smtpd_session_abort(
		    &c->s, "421 4.7.0 Error: too many connections from your address");
		conn_close(c);
		return;
	}
	if (c->trusted || srv->greet_pause_ms == 0) {
		c->greeted = true;
		smtpd_session_greet(&c->s);
		timer_arm(c);
	} else {
		struct timeval tv = { srv->greet_pause_ms / 1000,
			(suseconds_t)(srv->greet_pause_ms % 1000) * 1000 };
		evtimer_add(c->timer, &tv);
	}
}
