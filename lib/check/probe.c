/*
 * probe.c - the SMTP/TLS probe of probe.h: per target one connection
 * (lib/connect.c with a single address), the greeting, EHLO, STARTTLS and
 * a TLS handshake under TLS_MAY (lib/tls.c) so the certificate's facts are
 * recorded whatever they are, then QUIT; with TLSA records a second
 * connection whose handshake runs under TLS_DANE says whether they match.
 * Replies are read with lib/smtp_reply.c.  It never sends MAIL, RCPT or
 * DATA.  At most max_parallel sessions run at once; a probe-level event
 * (the pump) frees finished sessions, starts the next ones and runs the
 * callback, so nothing is freed under a libevent callback's feet.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mstime.h"
#include "connect.h"
#include "probe.h"
#include "smtp_reply.h"

#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_REPLY_MS   30000
#define DEFAULT_TLS_MS     10000
#define DEFAULT_PARALLEL   8
#define QUIT_WAIT_MS       2000 /* for the 221; the result is known by then */
#define HELO_MAX           255

enum state { S_CONNECT, S_GREETING, S_EHLO, S_HELO, S_STARTTLS, S_HANDSHAKE, S_QUIT, S_DEAD };

struct session {
	struct probe *p;
	size_t index;
	bool dane_pass; /* the second connection, TLS_DANE */
	enum state state;
	struct connect_race *race;
	struct bufferevent *bev;
	struct event *timer;
	struct smtp_reply_reader reader;
	struct timespec connected;
	bool expired, untrusted, mismatch; /* seen by the verify callback */
};

struct probe {
	struct event_base *base;
	struct probe_config cfg;
	char helo[HELO_MAX + 1];
	struct tls_client *tls;
	const struct probe_target *targets;
	size_t n, next;
	struct probe_result *results;
	struct session **slots; /* cfg.max_parallel of them; NULL: free */
	struct event *pump;
	probe_cb cb;
	void *arg;
};

const char *
probe_connect_name(enum probe_connect c)
{
	switch (c) {
	case PROBE_CONNECTED: return "connected";
	case PROBE_REFUSED: return "refused";
	case PROBE_TIMEOUT: return "timeout";
	case PROBE_UNREACHABLE: return "unreachable";
	}
	return "unknown";
}

/* ---- small helpers ------------------------------------------------------- */

static struct probe_result *
result_of(struct session *s)
{
	return &s->p->results[s->index];
}

static const struct probe_target *
target_of(struct session *s)
{
	return &s->p->targets[s->index];
}

static unsigned
ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (unsigned)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/* What a person may read: controls, DEL and 8-bit octets become '?'. */
static void
printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void
set_text(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
set_text(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	printable(dst);
}

/* The first error of the main pass says what ended it early. */
static void
note(struct session *s, const char *what)
{
	struct probe_result *r = result_of(s);

	if (!s->dane_pass && r->error[0] == '\0')
		set_text(r->error, sizeof(r->error), "%s", what);
}

static void
arm(struct session *s, unsigned ms)
{
	struct timeval tv = ms_timeval(ms);

	evtimer_add(s->timer, &tv);
}

static void
send_line(struct session *s, const char *line)
{
	bufferevent_write(s->bev, line, strlen(line));
	bufferevent_write(s->bev, "\r\n", 2);
}

static void
pump_soon(struct probe *p)
{
	struct timeval now = { 0, 0 };

	evtimer_add(p->pump, &now);
}

/* The session is over: its connection stops now, the pump frees it. */
static void
session_end(struct session *s)
{
	s->state = S_DEAD;
	if (s->timer != NULL)
		evtimer_del(s->timer);
	if (s->bev != NULL)
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	pump_soon(s->p);
}

static void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	connect_race_cancel(s->race);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->timer != NULL)
		event_free(s->timer);
	smtp_reply_reader_clear(&s->reader);
	free(s);
}

static void
send_quit(struct session *s)
{
	s->state = S_QUIT;
	send_line(s, "QUIT");
	arm(s, QUIT_WAIT_MS);
}

/* ---- TLS ------------------------------------------------------------------ */

/*
 * Under TLS_MAY OpenSSL verifies but lets the handshake finish; by default
 * its verification stops at the first error.  This callback lets it go on
 * so every kind of fault is seen (an untrusted chain and a wrong name).
 */
static int
on_verify(int ok, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct session *s = ssl != NULL ? SSL_get_app_data(ssl) : NULL;

	if (ok || s == NULL)
		return 1;
	switch (X509_STORE_CTX_get_error(ctx)) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID: s->expired = true; break;
	case X509_V_ERR_HOSTNAME_MISMATCH: s->mismatch = true; break;
	default: s->untrusted = true; break;
	}
	return 1;
}

static void
cert_facts(struct session *s, SSL *ssl)
{
	struct probe_result *r = result_of(s);
	X509 *leaf = tls_peer_leaf(ssl);
	struct tm tm;

	r->cert_expired = s->expired;
	r->cert_untrusted = s->untrusted;
	r->cert_name_mismatch = s->mismatch;
	if (leaf != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1) {
		strftime(r->not_after, sizeof(r->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
		r->not_after_unix = (long long)timegm(&tm);
	}
}

static void
handshake_done(struct session *s, bool connected, const char *event_why)
{
	struct probe_result *r = result_of(s);
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	struct tls_facts facts;
	const char *why = NULL;
	bool ok;

	evtimer_del(s->timer);
	ok = tls_session_check(ssl, s->dane_pass ? TLS_DANE : TLS_MAY, &facts, &why) && connected;
	if (s->dane_pass) {
		r->dane_checked = true;
		r->dane_match = ok;
	} else {
		r->tls_ok = connected;
		r->tls = facts;
		cert_facts(s, ssl);
		if (!connected)
			set_text(r->tls_error, sizeof(r->tls_error), "%s",
			    event_why ? event_why
				: why ? why
				      : "handshake failed");
	}
	if (!connected) {
		session_end(s);
		return;
	}
	send_quit(s);
}

/* Why an openssl bufferevent failed, from OpenSSL's queue or errno. */
static const char *
tls_event_why(struct bufferevent *bev, short what, char buf[static 160])
{
	unsigned long e = bufferevent_get_openssl_error(bev);

	if (what & BEV_EVENT_TIMEOUT)
		return "TLS handshake timed out";
	if (e != 0) {
		ERR_error_string_n(e, buf, 160);
		return buf;
	}
	if (what & BEV_EVENT_EOF)
		return "connection closed during the TLS handshake";
	snprintf(buf, 160, "TLS handshake failed: %s", errno ? strerror(errno) : "unknown error");
	return buf;
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void
start_tls(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	const struct probe_target *t = target_of(s);
	struct probe_result *r = result_of(s);
	enum tls_policy policy = s->dane_pass ? TLS_DANE : TLS_MAY;
	struct bufferevent *tls;
	const char *why = NULL;
	SSL *ssl = NULL;

	/* Bytes after the 220 came before TLS (CVE-2011-0411). */
	evbuffer_drain(in, evbuffer_get_length(in));
	if (tls_session_new(s->p->tls, t->host, policy, t->tlsa, t->n_tlsa, &ssl, &why) != MX_OK) {
		if (!s->dane_pass) {
			set_text(r->tls_error, sizeof(r->tls_error), "TLS set-up failed: %s",
			    why ? why : "unknown");
		}
		session_end(s);
		return;
	}
	if (!s->dane_pass) {
		SSL_set_app_data(ssl, s);
		SSL_set_verify(ssl, SSL_VERIFY_NONE, on_verify);
	}
	tls = bufferevent_openssl_filter_new(
	    s->p->base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) { /* see tls.h: the SSL is left alone */
		note(s, "out of memory");
		session_end(s);
		return;
	}
	s->bev = tls;
	s->state = S_HANDSHAKE;
	if (!s->dane_pass)
		r->tls_tried = true;
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_setcb(tls, on_read, NULL, on_event, s);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	arm(s, s->p->cfg.tls_timeout_ms);
}

/* ---- SMTP ------------------------------------------------------------------ */

static void
on_greeting(struct session *s, const struct smtp_reply *reply)
{
	struct probe_result *r = result_of(s);

	if (!s->dane_pass) {
		r->banner_code = (int)reply->code;
		r->banner_ms = ms_since(&s->connected);
		set_text(r->banner, sizeof(r->banner), "%u %s%s%s", reply->code, reply->enhanced,
		    reply->enhanced[0] ? " " : "", reply->lines[0]);
	}
	if (!smtp_reply_positive(reply)) {
		send_quit(s);
		return;
	}
	s->state = S_EHLO;
	bufferevent_write(s->bev, "EHLO ", 5);
	send_line(s, s->p->helo);
	arm(s, s->p->cfg.reply_timeout_ms);
}

static void
on_ehlo(struct session *s, const struct smtp_reply *reply)
{
	struct probe_result *r = result_of(s);
	struct smtp_ehlo ehlo;
	bool ok = smtp_ehlo_parse(reply, &ehlo);

	if (!s->dane_pass) {
		r->ehlo_code = (int)reply->code;
		r->ehlo_ok = ok;
		r->starttls_offered = ok && ehlo.starttls;
	}
	/* RFC 5321 3.2: a server without ESMTP refuses EHLO; HELO then */
	if (smtp_reply_permanent(reply) && !s->dane_pass) {
		s->state = S_HELO;
		bufferevent_write(s->bev, "HELO ", 5);
		send_line(s, s->p->helo);
		arm(s, s->p->cfg.reply_timeout_ms);
		return;
	}
	if (!ok || !ehlo.starttls) {
		send_quit(s);
		return;
	}
	s->state = S_STARTTLS;
	send_line(s, "STARTTLS");
	arm(s, s->p->cfg.reply_timeout_ms);
}

static void
on_helo(struct session *s, const struct smtp_reply *reply)
{
	result_of(s)->helo_ok = smtp_reply_positive(reply);
	send_quit(s);
}

static void
on_starttls(struct session *s, const struct smtp_reply *reply)
{
	struct probe_result *r = result_of(s);

	if (smtp_reply_positive(reply)) {
		start_tls(s);
		return;
	}
	if (!s->dane_pass)
		set_text(r->tls_error, sizeof(r->tls_error), "STARTTLS refused: %u %s", reply->code,
		    reply->lines[0]);
	send_quit(s);
}

static void
on_reply(struct session *s, const struct smtp_reply *reply)
{
	evtimer_del(s->timer);
	switch (s->state) {
	case S_GREETING: on_greeting(s, reply); break;
	case S_EHLO: on_ehlo(s, reply); break;
	case S_HELO: on_helo(s, reply); break;
	case S_STARTTLS: on_starttls(s, reply); break;
	case S_QUIT: session_end(s); break;
	default: break; /* nothing is expected: ignored */
	}
}

static const char *
state_name(enum state st)
{
	switch (st) {
	case S_GREETING: return "the greeting";
	case S_EHLO: return "the EHLO reply";
	case S_HELO: return "the HELO reply";
	case S_STARTTLS: return "the STARTTLS reply";
	case S_HANDSHAKE: return "the TLS handshake";
	case S_QUIT: return "the QUIT reply";
	default: return "a reply";
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char what[SMTP_REPLY_LINE_MAX];

	while (s->state != S_DEAD && s->state != S_HANDSHAKE && evbuffer_get_length(in) > 0) {
		size_t len = evbuffer_get_contiguous_space(in), used;
		struct smtp_reply reply;

		used = smtp_reply_feed(&s->reader, evbuffer_pullup(in, (ev_ssize_t)len), len);
		evbuffer_drain(in, used);
		if (smtp_reply_state(&s->reader) == SMTP_REPLY_ERROR) {
			snprintf(what, sizeof(what), "malformed reply in %s: %s",
			    state_name(s->state), smtp_reply_why(&s->reader));
			note(s, what);
			session_end(s);
			return;
		}
		if (smtp_reply_state(&s->reader) != SMTP_REPLY_DONE)
			continue;
		if (smtp_reply_take(&s->reader, &reply) != MX_OK) {
			note(s, "out of memory");
			session_end(s);
			return;
		}
		on_reply(s, &reply);
		smtp_reply_clear(&reply);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	char buf[160], line[256];

	if (s->state == S_DEAD)
		return;
	if (s->state == S_HANDSHAKE) {
		if (what & BEV_EVENT_CONNECTED)
			handshake_done(s, true, NULL);
		else if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT))
			handshake_done(s, false, tls_event_why(bev, what, buf));
		return;
	}
	if (!(what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)))
		return;
	if (s->state != S_QUIT) {
		snprintf(line, sizeof(line), "connection %s while waiting for %s",
		    (what & BEV_EVENT_EOF) ? "closed" : "failed", state_name(s->state));
		note(s, line);
	}
	session_end(s);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char line[256];

	(void)fd;
	(void)what;
	if (s->state == S_DEAD)
		return;
	if (s->state == S_HANDSHAKE) {
		handshake_done(s, false, "TLS handshake timed out");
		return;
	}
	if (s->state != S_QUIT) {
		snprintf(line, sizeof(line), "no answer: timed out waiting for %s",
		    state_name(s->state));
		note(s, line);
	}
	session_end(s);
}

/* ---- connecting ------------------------------------------------------------ */

static enum probe_connect
connect_kind(enum connect_outcome o)
{
	switch (o) {
	case CONNECT_OK: return PROBE_CONNECTED;
	case CONNECT_REFUSED: return PROBE_REFUSED;
	case CONNECT_TIMEOUT: return PROBE_TIMEOUT;
	default: return PROBE_UNREACHABLE;
	}
}

static void
on_connect(const struct connect_result *cr, void *arg)
{
	struct session *s = arg;
	struct probe_result *r = result_of(s);

	s->race = NULL;
	if (!s->dane_pass) {
		r->connect = cr->n > 0 ? connect_kind(cr->attempts[0].outcome) : PROBE_UNREACHABLE;
		r->connect_errno = cr->n > 0 ? cr->attempts[0].err : 0;
		r->connect_ms = cr->elapsed_ms;
	}
	if (cr->fd < 0) {
		note(s,
		    cr->n > 0 && cr->attempts[0].err ? strerror(cr->attempts[0].err)
						     : "could not connect");
		session_end(s);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->connected);
	s->bev = bufferevent_socket_new(s->p->base, cr->fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		evutil_closesocket(cr->fd);
		note(s, "out of memory");
		session_end(s);
		return;
	}
	s->state = S_GREETING;
	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	arm(s, s->p->cfg.reply_timeout_ms);
}

/* A new session for target index; NULL only when out of memory. */
static struct session *
session_start(struct probe *p, size_t index, bool dane_pass)
{
	const struct probe_target *t = &p->targets[index];
	struct connect_opts o;
	struct sockaddr_storage ss;
	socklen_t len = ip_addr_sockaddr(&t->addr, t->port, &ss);
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->p = p;
	s->index = index;
	s->dane_pass = dane_pass;
	smtp_reply_reader_init(&s->reader);
	if ((s->timer = evtimer_new(p->base, on_timer, s)) == NULL) {
		free(s);
		return NULL;
	}
	connect_opts_default(&o);
	o.attempt_delay_ms = 0;
	o.connect_timeout_ms = o.deadline_ms = p->cfg.connect_timeout_ms;
	o.max_parallel = 1;
	if (len == 0 ||
	    connect_race_start(p->base, &ss, &len, 1, &o, on_connect, s, &s->race) != MX_OK) {
		note(s, len == 0 ? "not an IPv4 or IPv6 address" : "could not start a connection");
		if (!dane_pass)
			p->results[index].connect = PROBE_UNREACHABLE;
		session_end(s);
	}
	return s;
}

/* ---- the pump ---------------------------------------------------------------- */

/* Only records DANE can use for SMTP (RFC 7672 3.1.3) are worth a second
 * handshake; with none, dane_checked stays false. */
static bool
wants_dane(const struct probe *p, size_t index)
{
	const struct probe_target *t = &p->targets[index];

	return p->results[index].tls_ok && tls_tlsa_usable(t->tlsa, t->n_tlsa) > 0;
}

static void
result_init(struct probe_result *r)
{
	memset(r, 0, sizeof(*r));
	r->connect = PROBE_UNREACHABLE;
	r->tls.protocol = r->tls.cipher = r->tls.verify_error = "";
	r->tls.dane_depth = r->tls.dane_usage = r->tls.dane_selector = r->tls.dane_mtype = -1;
}

static void
probe_free(struct probe *p)
{
	for (unsigned i = 0; p->slots != NULL && i < p->cfg.max_parallel; i++)
		session_free(p->slots[i]);
	if (p->pump != NULL)
		event_free(p->pump);
	tls_client_free(p->tls);
	free(p->slots);
	free(p->results);
	free(p);
}

/* One pass over the slots: free the dead, start what comes next. */
static bool
pump_once(struct probe *p, bool *busy)
{
	bool started_dead = false;

	*busy = false;
	for (unsigned i = 0; i < p->cfg.max_parallel; i++) {
		struct session *s = p->slots[i];
		if (s != NULL && s->state == S_DEAD) {
			size_t index = s->index;
			bool dane_next = !s->dane_pass && wants_dane(p, index);
			session_free(s);
			/* out of memory for the DANE pass: dane_checked stays false */
			s = p->slots[i] = dane_next ? session_start(p, index, true) : NULL;
		}
		if (s == NULL && p->next < p->n)
			s = p->slots[i] = session_start(p, p->next++, false);
		if (s != NULL) {
			*busy = true;
			started_dead |= s->state == S_DEAD;
		}
	}
	return started_dead;
}

static void
on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	bool busy;

	(void)fd;
	(void)what;
	while (pump_once(p, &busy))
		;
	if (busy || p->next < p->n)
		return;
	p->cb(p->targets, p->results, p->n, p->arg);
	probe_free(p);
}

mx_err
probe_start(struct event_base *base, const struct probe_config *cfg,
    const struct probe_target *targets, size_t n, probe_cb cb, void *arg, struct probe **out)
{
	struct probe *p;
	mx_err err = MX_ERR_NOMEM;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (base == NULL || cfg == NULL || cb == NULL || (targets == NULL && n > 0) ||
	    (cfg->helo != NULL &&
		(strlen(cfg->helo) == 0 || strlen(cfg->helo) > HELO_MAX ||
		    strpbrk(cfg->helo, " \r\n") != NULL)) ||
	    cfg->max_parallel > CONNECT_MAX_PARALLEL)
		return MX_ERR_INVALID;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MX_ERR_NOMEM;
	p->base = base;
	p->cfg = *cfg;
	p->cfg.connect_timeout_ms =
	    cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
	p->cfg.reply_timeout_ms = cfg->reply_timeout_ms ? cfg->reply_timeout_ms : DEFAULT_REPLY_MS;
	p->cfg.tls_timeout_ms = cfg->tls_timeout_ms ? cfg->tls_timeout_ms : DEFAULT_TLS_MS;
	p->cfg.max_parallel = cfg->max_parallel ? cfg->max_parallel : DEFAULT_PARALLEL;
	snprintf(p->helo, sizeof(p->helo), "%s", cfg->helo ? cfg->helo : "localhost");
	p->cfg.helo = p->helo;
	p->cfg.ca_file = NULL; /* read below, not kept */
	p->targets = targets;
	p->n = n;
	p->cb = cb;
	p->arg = arg;
	if ((p->results = calloc(n ? n : 1, sizeof(*p->results))) == NULL ||
	    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	    (p->slots = calloc(p->cfg.max_parallel, sizeof(*p->slots))) == NULL ||
	    (p->pump = evtimer_new(base, on_pump, p)) == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++)
		result_init(&p->results[i]);
	if ((err = tls_client_new(&p->tls, cfg->ca_file)) != MX_OK)
		goto fail;
	pump_soon(p);
	*out = p;
	return MX_OK;
fail:
	probe_free(p);
	return err;
}

void
probe_cancel(struct probe *p)
{
	if (p != NULL)
		probe_free(p);
}
