/*
 * check_auth.c - one question to one authoritative server, recursion off
 * (RD clear), for mx-inconsistent: a c-ares channel of its own whose only
 * server is the one asked, run on the caller's libevent base (c-ares says
 * which sockets to watch; a timer drives its timeouts), the reply read
 * with ldns (check_dns.c).  Never blocks.  Owns its channel until the
 * callback has run or the question is cancelled.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_auth.h"

#define AUTH_SOCKS_MAX 4 /* one UDP socket, one TCP on truncation */
#define T_MX           15
#define C_IN           1

struct auth_sock {
	ares_socket_t fd;
	struct event *ev;
};

struct auth_query {
	struct event_base *base;
	ares_channel channel;
	bool channel_ok, library_ok;
	struct event *timer;
	struct event *done_ev; /* hands the result back from the loop */
	struct auth_sock socks[AUTH_SOCKS_MAX];
	bool answered; /* the c-ares callback ran */
	struct dns_auth_mx *out;
	auth_cb cb;
	void *arg;
};

static void
rearm(struct auth_query *q)
{
	struct timeval tv, *t;

	if (!q->channel_ok || q->answered)
		return;
	if ((t = ares_timeout(q->channel, NULL, &tv)) != NULL)
		evtimer_add(q->timer, t);
	else
		evtimer_del(q->timer);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct auth_query *q = arg;

	(void)fd;
	(void)what;
	ares_process_fd(q->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(q);
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct auth_query *q = arg;

	ares_process_fd(q->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm(q);
}

static void
on_sock_state(void *arg, ares_socket_t fd, int readable, int writable)
{
	struct auth_query *q = arg;
	struct auth_sock *slot = NULL;
	short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));

	for (size_t i = 0; i < AUTH_SOCKS_MAX && slot == NULL; i++)
		if (q->socks[i].ev != NULL && q->socks[i].fd == fd)
			slot = &q->socks[i];
	if (slot != NULL) {
		event_free(slot->ev);
		slot->ev = NULL;
	}
	if (what == 0)
		return;
	for (size_t i = 0; i < AUTH_SOCKS_MAX && slot == NULL; i++)
		if (q->socks[i].ev == NULL)
			slot = &q->socks[i];
	if (slot == NULL)
		return; /* more sockets than one question uses: c-ares times out */
	slot->fd = fd;
	slot->ev = event_new(q->base, fd, (short)(what | EV_PERSIST), on_socket, q);
	if (slot->ev != NULL)
		event_add(slot->ev, NULL);
}

static void
on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct auth_query *q = arg;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		return;
	q->answered = true;
	if (abuf != NULL && alen > 0)
		dns_auth_parse(abuf, (size_t)alen, q->out);
	if (!q->out->answered)
		snprintf(q->out->why, sizeof(q->out->why), "no answer (%s)", ares_strerror(status));
	evtimer_del(q->timer);
	event_active(q->done_ev, 0, 0);
}

static void
auth_free(struct auth_query *q)
{
	if (q->channel_ok)
		ares_destroy(q->channel);
	for (size_t i = 0; i < AUTH_SOCKS_MAX; i++)
		if (q->socks[i].ev != NULL)
			event_free(q->socks[i].ev);
	if (q->timer != NULL)
		event_free(q->timer);
	if (q->done_ev != NULL)
		event_free(q->done_ev);
	if (q->library_ok)
		ares_library_cleanup();
	free(q);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct auth_query *q = arg;

	(void)fd;
	(void)what;
	q->cb(q->out, q->arg);
	auth_free(q);
}

static mx_err
set_server(struct auth_query *q, const struct ip_addr *server, uint16_t port)
{
	char csv[80];

	snprintf(
	    csv, sizeof(csv), server->family == AF_INET6 ? "[%s]:%u" : "%s:%u", server->text, port);
	return ares_set_servers_ports_csv(q->channel, csv) == ARES_SUCCESS ? MX_OK : MX_ERR_INVALID;
}

static mx_err
auth_channel(struct auth_query *q, unsigned timeout_ms)
{
	struct ares_options opts = { 0 };

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return MX_ERR_SYSTEM;
	q->library_ok = true;
	/* Recursion off; every reply, SERVFAIL and REFUSED too, comes to us. */
	opts.flags =
	    ARES_FLAG_NORECURSE | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP;
	opts.timeout = (int)timeout_ms;
	opts.tries = 2;
	opts.sock_state_cb = on_sock_state;
	opts.sock_state_cb_data = q;
	if (ares_init_options(&q->channel, &opts,
		ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB) !=
	    ARES_SUCCESS)
		return MX_ERR_SYSTEM;
	q->channel_ok = true;
	return MX_OK;
}

mx_err
auth_ask_mx(struct event_base *base, const struct ip_addr *server, uint16_t port,
    const char *domain, unsigned timeout_ms, struct dns_auth_mx *out, auth_cb cb, void *arg,
    struct auth_query **handle)
{
	struct auth_query *q;
	mx_err err;

	*handle = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return MX_ERR_NOMEM;
	q->base = base;
	q->out = out;
	q->cb = cb;
	q->arg = arg;
	if ((q->timer = evtimer_new(base, on_timer, q)) == NULL ||
	    (q->done_ev = event_new(base, -1, 0, on_done, q)) == NULL) {
		auth_free(q);
		return MX_ERR_SYSTEM;
	}
	if ((err = auth_channel(q, timeout_ms)) != MX_OK ||
	    (err = set_server(q, server, port)) != MX_OK) {
		auth_free(q);
		return err;
	}
	ares_query(q->channel, domain, C_IN, T_MX, on_reply, q);
	rearm(q);
	*handle = q;
	return MX_OK;
}

void
auth_cancel(struct auth_query *q)
{
	if (q != NULL)
		auth_free(q);
}
