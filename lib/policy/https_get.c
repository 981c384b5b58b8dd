/*
 * https_get.c - one HTTPS GET for the MTA-STS policy (RFC 8461 3.3), as
 * probe.h declares it: libevent's evhttp client over a bufferevent_openssl
 * whose SSL comes from lib/tls.c under TLS_VERIFY (SNI and the certificate
 * checked against the host name, chain to ca_file or the system store).
 * It connects to the address it is given and never resolves; it follows no
 * redirect, reads at most HTTPS_GET_BODY_MAX octets of body and insists on
 * text/plain.  https_post_start is the same request as a POST of a body
 * (TLS-RPT's https: rua, RFC 8460 5.4), whose response is judged by its
 * status only.  A timer bounds the whole fetch.  The struct frees itself
 * from the loop after the callback (evhttp must not be freed under its own
 * callback).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mstime.h"
#include "https_get.h"
#include "tls.h"
#include "strbuf.h"

#define DEFAULT_TIMEOUT_MS 10000
#define HEADERS_MAX        16384
#define ERROR_MAX          256

struct https_get {
	struct event_base *base;
	struct tls_client *tls;
	struct bufferevent *bev; /* owned by evcon once it exists */
	struct evhttp_connection *evcon;
	struct event *deadline, *reaper;
	https_get_cb cb;
	void *arg;
	int status; /* from the response line, once read */
	bool done;
	bool post; /* a POST: no Content-Type rule for the response */
	char error[ERROR_MAX];
};

static void
get_free(struct https_get *g)
{
	if (g->evcon != NULL)
		evhttp_connection_free(g->evcon);
	else if (g->bev != NULL)
		bufferevent_free(g->bev);
	if (g->deadline != NULL)
		event_free(g->deadline);
	if (g->reaper != NULL)
		event_free(g->reaper);
	tls_client_free(g->tls);
	free(g);
}

static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	get_free(arg);
}

/* Runs the callback once and has the struct freed from the loop. */
static void
finish(struct https_get *g, const char *body, size_t len, const char *error)
{
	struct timeval now = { 0, 0 };

	if (g->done)
		return;
	g->done = true;
	evtimer_del(g->deadline);
	g->cb(g->status, body != NULL ? body : "", len, error, g->arg);
	evtimer_add(g->reaper, &now);
}

/* Why the TLS layer failed, when it did: the certificate first. */
static bool
tls_why(struct https_get *g)
{
	SSL *ssl = bufferevent_openssl_get_ssl(g->bev);
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e = bufferevent_get_openssl_error(g->bev);
	char buf[160];

	if (v != X509_V_OK) {
		snprintf(g->error, sizeof(g->error), "certificate not accepted: %s",
		    X509_verify_cert_error_string(v));
		return true;
	}
	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(g->error, sizeof(g->error), "TLS failed: %s", buf);
		return true;
	}
	return false;
}

static void
on_error(enum evhttp_request_error err, void *arg)
{
	struct https_get *g = arg;

	if (tls_why(g))
		return;
	switch (err) {
	case EVREQ_HTTP_TIMEOUT: snprintf(g->error, sizeof(g->error), "timed out"); break;
	case EVREQ_HTTP_EOF:
		snprintf(g->error, sizeof(g->error), "connection closed or refused");
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		snprintf(g->error, sizeof(g->error), "malformed HTTP response");
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		snprintf(g->error, sizeof(g->error),
		    "response over %d octets (RFC 8461 3.3 caps the policy at 64 KiB)",
		    HTTPS_GET_BODY_MAX);
		break;
	default: snprintf(g->error, sizeof(g->error), "request failed"); break;
	}
}

static int
on_headers(struct evhttp_request *req, void *arg)
{
	struct https_get *g = arg;

	g->status = evhttp_request_get_response_code(req);
	return 0;
}

/* text/plain, parameters (charset) allowed. */
static bool
text_plain(const char *ct)
{
	size_t n = strlen("text/plain");

	return ct != NULL && strncasecmp(ct, "text/plain", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* The response's verdict beyond the status: redirects and Content-Type. */
static const char *
judge(struct https_get *g, struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");

	if (g->status >= 300 && g->status < 400) {
		const char *loc =
		    evhttp_find_header(evhttp_request_get_input_headers(req), "Location");
		snprintf(g->error, sizeof(g->error),
		    "HTTP %d redirect%s%.100s not followed "
		    "(RFC 8461 3.3)",
		    g->status, loc ? " to " : "", loc ? loc : "");
		return g->error;
	}
	if (g->status == 200 && !g->post && !text_plain(ct)) {
		snprintf(g->error, sizeof(g->error), "Content-Type is \"%.100s\", not text/plain",
		    ct ? ct : "(none)");
		return g->error;
	}
	return NULL;
}

static void
on_done(struct evhttp_request *req, void *arg)
{
	struct https_get *g = arg;
	struct evbuffer *in;
	char *body;
	size_t len;

	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		if (g->error[0] == '\0' && !tls_why(g))
			snprintf(g->error, sizeof(g->error), "no HTTP response");
		finish(g, NULL, 0, g->error);
		return;
	}
	g->status = evhttp_request_get_response_code(req);
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (len > HTTPS_GET_BODY_MAX) {
		snprintf(g->error, sizeof(g->error), "response over %d octets", HTTPS_GET_BODY_MAX);
		finish(g, NULL, 0, g->error);
		return;
	}
	if ((body = malloc(len + 1)) == NULL) {
		finish(g, NULL, 0, "out of memory");
		return;
	}
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	finish(g, body, len, judge(g, req));
	free(body);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct https_get *g = arg;

	(void)fd;
	(void)what;
	finish(g, NULL, 0, "timed out");
}

/* What a request sends besides its path: a POST's body and its type. */
struct outgoing {
	const char *type;
	const void *body;
	size_t len;
};

static mx_err
add_headers(struct evhttp_request *req, const char *host, uint16_t port, const struct outgoing *o)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char hostport[MX_DOMAIN_MAX + 8];
	struct strbuf hp;

	/* the name without a trailing dot, as SNI has it (tls.c) */
	strbuf_init(&hp, hostport, sizeof(hostport));
	strbuf_addn(&hp, host, strlen(host) - (host[strlen(host) - 1] == '.'));
	if (port != 443)
		strbuf_printf(&hp, ":%u", (unsigned)port);
	if (evhttp_add_header(h, "Host", hostport) != 0 ||
	    evhttp_add_header(h, "Connection", "close") != 0 ||
	    evhttp_add_header(h, "User-Agent", "mxkit") != 0)
		return MX_ERR_NOMEM;
	/* evhttp adds Content-Length for a request with a body */
	if (o != NULL &&
	    (evhttp_add_header(h, "Content-Type", o->type) != 0 ||
		evbuffer_add(evhttp_request_get_output_buffer(req), o->body, o->len) != 0))
		return MX_ERR_NOMEM;
	return MX_OK;
}

static mx_err
connect_request(struct https_get *g, const char *host, const struct ip_addr *addr, uint16_t port,
    const char *path, unsigned timeout_ms, const struct outgoing *o)
{
	struct evhttp_request *req;
	struct timeval tv;

	g->evcon = evhttp_connection_base_bufferevent_new(g->base, NULL, g->bev, addr->text, port);
	if (g->evcon == NULL)
		return MX_ERR_NOMEM;
	evhttp_connection_set_max_body_size(g->evcon, HTTPS_GET_BODY_MAX);
	evhttp_connection_set_max_headers_size(g->evcon, HEADERS_MAX);
	tv = ms_timeval(timeout_ms);
	evhttp_connection_set_timeout_tv(g->evcon, &tv);
	if ((req = evhttp_request_new(on_done, g)) == NULL)
		return MX_ERR_NOMEM;
	evhttp_request_set_error_cb(req, on_error);
	evhttp_request_set_header_cb(req, on_headers);
	if (add_headers(req, host, port, o) != MX_OK) {
		evhttp_request_free(req);
		return MX_ERR_NOMEM;
	}
	/* evhttp_make_request owns req from here, failing or not */
	return evhttp_make_request(
		   g->evcon, req, o != NULL ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, path) == 0
	    ? MX_OK
	    : MX_ERR_SYSTEM;
}

static bool
args_ok(struct event_base *base, const char *host, const struct ip_addr *addr, uint16_t port,
    const char *path, https_get_cb cb)
{
	return base != NULL && host != NULL && addr != NULL && path != NULL && path[0] == '/' &&
	    cb != NULL && port != 0 && (addr->family == AF_INET || addr->family == AF_INET6) &&
	    strlen(host) > 0 && strlen(host) <= MX_DOMAIN_MAX && strpbrk(host, " \r\n/:") == NULL &&
	    strpbrk(path, " \r\n") == NULL;
}

static mx_err
request_start(struct event_base *base, const char *host, const struct ip_addr *addr, uint16_t port,
    const char *path, const char *ca_file, unsigned timeout_ms, const struct outgoing *o,
    https_get_cb cb, void *arg, struct https_get **out)
{
	struct https_get *g;
	SSL *ssl = NULL;
	mx_err err;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (!args_ok(base, host, addr, port, path, cb))
		return MX_ERR_INVALID;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return MX_ERR_NOMEM;
	g->base = base;
	g->cb = cb;
	g->arg = arg;
	g->post = o != NULL;
	timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
	err = MX_ERR_NOMEM;
	if ((g->deadline = evtimer_new(base, on_deadline, g)) == NULL ||
	    (g->reaper = evtimer_new(base, on_reap, g)) == NULL)
		goto fail;
	if ((err = tls_client_new(&g->tls, ca_file)) != MX_OK ||
	    (err = tls_session_new(g->tls, host, TLS_VERIFY, NULL, 0, &ssl, NULL)) != MX_OK)
		goto fail;
	g->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (g->bev == NULL) { /* see tls.h: the SSL is left alone */
		err = MX_ERR_NOMEM;
		goto fail;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(g->bev, 1);
	if ((err = connect_request(g, host, addr, port, path, timeout_ms, o)) != MX_OK)
		goto fail;
	struct timeval tv = ms_timeval(timeout_ms);
	evtimer_add(g->deadline, &tv);
	*out = g;
	return MX_OK;
fail:
	get_free(g);
	return err;
}

mx_err
https_get_start(struct event_base *base, const char *host, const struct ip_addr *addr,
    uint16_t port, const char *path, const char *ca_file, unsigned timeout_ms, https_get_cb cb,
    void *arg, struct https_get **out)
{
	return request_start(base, host, addr, port, path, ca_file, timeout_ms, NULL, cb, arg, out);
}

mx_err
https_post_start(struct event_base *base, const char *host, const struct ip_addr *addr,
    uint16_t port, const char *path, const char *ca_file, unsigned timeout_ms,
    const char *content_type, const void *body, size_t len, https_get_cb cb, void *arg,
    struct https_get **out)
{
	struct outgoing o = { content_type, body, len };

	if (content_type == NULL || strpbrk(content_type, "\r\n") != NULL || (body == NULL && len))
		return MX_ERR_INVALID;
	return request_start(base, host, addr, port, path, ca_file, timeout_ms, &o, cb, arg, out);
}

void
https_get_cancel(struct https_get *g)
{
	if (g != NULL)
		get_free(g);
}
