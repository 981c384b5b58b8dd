/*
 * server_verify.c - recipients of backup domains (RFC 5321 5.1: this
 * host is a worse MX host of the domain).  Only what a better MX host
 * accepts is taken, so that this host never becomes the way around the
 * primary's filters nor bounces to forged senders (backscatter): an
 * answer kept in the cache decides at once; otherwise a probe
 * (verify_probe.c) asks the best reachable better host with RCPT TO in a
 * session that ends before DATA, while the client's RCPT waits.  2xx
 * takes the recipient, 5xx refuses it with 550 5.1.1 (both are kept, for
 * their TTLs); 4xx or no answer falls back on the backup recipients list,
 * or 450 so that the sender tries again.  The answers outlive a restart
 * (verify_store.c: read at the start, written every save_s seconds when
 * they changed, at mx_server_sync and at the end), so that a backup
 * restarted while the primary is down still takes the recipients it
 * verified.  It never queues mail itself.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "server_clients.h"
#include "server_verify.h"
#include "verify_store.h"
#include "why.h"

#define VERIFY_REPLY_MAX 768
/* Probes under way at once: one per waiting RCPT, so clients (at most
 * --client-limit sessions per address) could otherwise make this host
 * open connections to the better hosts without bound; past it, the
 * list or 450, as when no better host answers. */
#define VERIFY_PROBES_MAX 256

struct verify_wait {
	struct verify_wait *next, *prev;
	mx_server *srv;
	struct sconn *c;
	struct verify_probe *probe;
	verify_verdict_fn done;
	char addr[321];
};

void
verify_defaults(mx_server *srv)
{
	srv->verify.positive_ttl = 86400; /* a day: a mailbox rarely goes sooner */
	srv->verify.negative_ttl = 3600;  /* an hour: a new mailbox works soon */
	srv->verify.timeout_ms = 10000;
	srv->verify.cache_max = 10000;
	srv->verify.save_s = 60;
}

/* The listening addresses, each interface's for a wildcard one. */
static void
add_self(mx_server *srv, const struct sockaddr *sa, socklen_t len)
{
	struct server_verify *v = &srv->verify;

	if (v->n_self < VERIFY_SELF_MAX && len <= (socklen_t)sizeof(v->self[0]) &&
	    (sa->sa_family == AF_INET || sa->sa_family == AF_INET6))
		memcpy(&v->self[v->n_self++], sa, (size_t)len);
}

static bool
wildcard(const struct sockaddr_storage *ss)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr ==
		    INADDR_ANY;
	return memcmp(&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, &any6, 16) == 0;
}

static void
find_self(mx_server *srv)
{
	struct ifaddrs *ifs = NULL;

	for (size_t i = 0; i < srv->n_fds; i++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len = sizeof(ss);
		if (getsockname(srv->fds[i], (struct sockaddr *)&ss, &len) != 0)
			continue;
		if (!wildcard(&ss)) {
			add_self(srv, (struct sockaddr *)&ss, len);
			continue;
		}
		if (ifs == NULL && getifaddrs(&ifs) != 0)
			continue;
		for (struct ifaddrs *a = ifs; a != NULL; a = a->ifa_next)
			if (a->ifa_addr != NULL && a->ifa_addr->sa_family == ss.ss_family)
				add_self(srv, a->ifa_addr,
				    ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							    : sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifs);
}

/* An answer read from the file is kept only for a domain backed up now. */
static bool
backed_up(const char *addr, void *arg)
{
	const mx_server *srv = arg;
	const char *at = strrchr(addr, '@');

	for (size_t i = 0; at != NULL && i < srv->relay.n_backup; i++)
		if (strcmp(srv->relay.backup[i], at + 1) == 0)
			return true;
	return false;
}

/* The answers kept before the last stop; a file that cannot be trusted
 * whole is said and none of it used (the cache starts empty). */
static mx_err
load(mx_server *srv)
{
	struct server_verify *v = &srv->verify;
	struct verify_store_limits l = { .now = (int64_t)time(NULL),
		.positive_ttl = v->positive_ttl,
		.negative_ttl = v->negative_ttl,
		.keep = backed_up,
		.arg = srv };
	struct verify_store_counts n;
	mx_why why;
	mx_err err = verify_store_load(srv->dir, v->cache_max, &l, &v->cache, &n, &why);

	if (v->cache == NULL)
		return MX_ERR_NOMEM;
	if (err != MX_OK)
		server_log(srv, "warning: verify: %s; starting with no answers kept", why.text);
	else if (n.kept + n.expired + n.dropped > 0)
		server_log(srv,
		    "verify: %zu answers read from %s/" VERIFY_STORE_DIR "/" VERIFY_STORE_FILE
		    " (%zu ended, %zu of domains not backed up now)",
		    n.kept, srv->dir, n.expired, n.dropped);
	return MX_OK;
}

static void
save(mx_server *srv, mx_why *why)
{
	struct server_verify *v = &srv->verify;
	size_t n = 0;

	if (v->cache == NULL || !v->changed)
		return;
	if (verify_store_save(srv->dir, v->cache, (int64_t)time(NULL), &n, why) != MX_OK) {
		server_log(srv, "warning: verify: cannot save the answers: %s", why->text);
		return; /* still changed: the next turn tries again */
	}
	v->changed = false;
	server_log(srv, "verify: %zu answers saved to %s/" VERIFY_STORE_DIR "/" VERIFY_STORE_FILE,
	    n, srv->dir);
}

static void
on_save(evutil_socket_t fd, short what, void *arg)
{
	mx_why why;

	(void)fd;
	(void)what;
	save(arg, &why);
}

mx_err
verify_setup(mx_server *srv)
{
	struct server_verify *v = &srv->verify;
	struct timeval every = { (time_t)v->save_s, 0 };
	mx_err err;

	if (srv->relay.n_backup == 0 || v->cache != NULL)
		return MX_OK;
	/* A banner name that is no host name ("localhost") prunes nothing;
	 * the own addresses still do. */
	if ((err = verify_policy_new(srv->hostname, &v->policy)) != MX_OK ||
	    (err = load(srv)) != MX_OK)
		return err;
	if ((v->save_ev = event_new(srv->base, -1, EV_PERSIST, on_save, srv)) == NULL ||
	    event_add(v->save_ev, &every) != 0)
		return MX_ERR_NOMEM;
	find_self(srv);
	return MX_OK;
}

mx_err
mx_server_set_verify_save(mx_server *srv, unsigned interval_s)
{
	if (srv == NULL || interval_s == 0 || interval_s > 86400 || srv->verify.cache != NULL)
		return MX_ERR_INVALID;
	srv->verify.save_s = interval_s;
	return MX_OK;
}

mx_err
mx_server_sync(mx_server *srv, mx_why *why)
{
	why_clear(why);
	if (srv == NULL)
		return why_set(why, MX_ERR_INVALID, "no server (NULL)");
	save(srv, why);
	return srv->verify.changed ? MX_ERR_SYSTEM : MX_OK;
}

static void wait_end(struct verify_wait *w);

void
verify_clear(mx_server *srv)
{
	struct server_verify *v = &srv->verify;
	mx_why why;

	for (struct verify_wait *w = v->waits, *next; w != NULL; w = next) {
		next = w->next;
		wait_end(w);
	}
	save(srv, &why); /* the answers learnt since the last write */
	if (v->save_ev != NULL)
		event_free(v->save_ev);
	v->save_ev = NULL;
	verify_cache_free(v->cache);
	verify_policy_free(v->policy);
	v->cache = NULL;
	v->policy = NULL;
}

static bool
listed(const mx_server *srv, const char *addr)
{
	const char *at = strrchr(addr, '@');

	for (size_t i = 0; i < srv->n_backup_rcpts; i++) {
		const char *l = srv->backup_rcpts[i];
		if (strcasecmp(l, addr) == 0 || (l[0] == '@' && at && strcasecmp(l, at) == 0))
			return true;
	}
	return false;
}

/* No better host could tell: the list decides, else the sender retries. */
static const char *
fallback(mx_server *srv, const char *addr, const char *why, char reply[VERIFY_REPLY_MAX])
{
	if (listed(srv, addr))
		return NULL;
	if (srv->n_backup_rcpts > 0)
		return "550 5.1.1 Recipient address rejected: not a known recipient of that domain";
	if (reply == NULL)
		return "450 4.1.1 Recipient address rejected: unverified address: cannot ask the "
		       "domain's better MX hosts now";
	snprintf(reply, VERIFY_REPLY_MAX,
	    "450 4.1.1 <%.320s>: Recipient address rejected: unverified address: %.120s", addr,
	    why);
	return reply;
}

/* The better host's words, printable ASCII only, into a reply of ours. */
static void
clean(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src[i] != '\0' && i + 1 < size; i++) {
		dst[i] = src[i];
		if (src[i] < 0x20 || src[i] >= 0x7f)
			dst[i] = ' ';
	}
	dst[i] = '\0';
}

static const char *
verdict_of(struct verify_wait *w, const struct verify_result *r, char reply[VERIFY_REPLY_MAX])
{
	char said[160];

	clean(said, sizeof(said), r->text);
	if (r->answer == VERIFY_ACCEPTED)
		return NULL;
	if (r->answer == VERIFY_REFUSED) {
		snprintf(reply, VERIFY_REPLY_MAX,
		    "550 5.1.1 <%.320s>: Recipient address rejected: undeliverable address: "
		    "host %.120s said: %u %.150s",
		    w->addr, r->host, r->code, said);
		return reply;
	}
	return fallback(w->srv, w->addr, said, reply);
}

static void
wait_unlink(struct verify_wait *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		w->srv->verify.waits = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->srv->verify.n_waits--;
	w->c->wait = NULL;
}

static void
on_probe(const struct verify_result *r, void *arg)
{
	struct verify_wait *w = arg;
	struct server_verify *v = &w->srv->verify;
	char reply[VERIFY_REPLY_MAX];
	const char *no = verdict_of(w, r, reply);
	int64_t now = (int64_t)time(NULL);

	if (r->answer == VERIFY_ACCEPTED || r->answer == VERIFY_REFUSED)
		v->changed |= verify_cache_put(v->cache, w->addr, r->answer,
		    now + (r->answer == VERIFY_ACCEPTED ? v->positive_ttl : v->negative_ttl));
	server_log(w->srv, "verify: <%s>: %s%s%s (%s)", w->addr, verify_answer_name(r->answer),
	    r->host[0] ? " by " : "", r->host, no ? no : "250 2.1.5 Ok");
	wait_unlink(w);
	w->done(w->c, w->addr, no);
	free(w);
}

static bool
probe(struct sconn *c, const char *addr, verify_verdict_fn done)
{
	mx_server *srv = c->srv;
	struct verify_wait *w = calloc(1, sizeof(*w));
	struct verify_probe_opts o = { .resolver = srv->resolver,
		.policy = srv->verify.policy,
		.helo = srv->hostname,
		.self = srv->verify.self,
		.n_self = srv->verify.n_self,
		.port = 25,
		.deadline_ms = srv->verify.timeout_ms };

	if (w == NULL)
		return false;
	if (srv->verify.n_waits >= VERIFY_PROBES_MAX) {
		server_log(srv, "warning: %d verifications under way: <%s> not verified",
		    VERIFY_PROBES_MAX, addr);
		free(w);
		return false;
	}
	w->srv = srv;
	w->c = c;
	w->done = done;
	snprintf(w->addr, sizeof(w->addr), "%s", addr);
	if (verify_probe_start(&o, strrchr(addr, '@') + 1, addr, on_probe, w, &w->probe) != MX_OK) {
		free(w);
		return false;
	}
	srv->verify.probes++;
	w->next = srv->verify.waits;
	if (w->next != NULL)
		w->next->prev = w;
	srv->verify.waits = w;
	srv->verify.n_waits++;
	c->wait = w;
	return true;
}

bool
verify_rcpt(struct sconn *c, const char *addr, const char **no, verify_verdict_fn done)
{
	struct server_verify *v = &c->srv->verify;
	enum verify_answer a = VERIFY_UNKNOWN;

	if (v->cache != NULL)
		a = verify_cache_get(v->cache, addr, (int64_t)time(NULL));
	*no = NULL;
	if (a != VERIFY_UNKNOWN)
		v->cached++;
	if (a == VERIFY_REFUSED)
		*no = "550 5.1.1 Recipient address rejected: undeliverable address "
		      "(a better MX host of the domain refused it)";
	if (a != VERIFY_UNKNOWN)
		return true;
	if (v->cache != NULL && strrchr(addr, '@') != NULL && probe(c, addr, done))
		return false;
	*no = fallback(c->srv, addr, NULL, NULL);
	return true;
}

static void
wait_end(struct verify_wait *w)
{
	verify_probe_cancel(w->probe);
	wait_unlink(w);
	free(w);
}

void
verify_forget(struct sconn *c)
{
	if (c->wait != NULL)
		wait_end(c->wait);
}
