/*
 * stub.c - the bulk transport: c-ares as a plain stub resolver on the
 * caller's libevent loop, with queries built and answers read by ldns
 * (answer.c), and a bounded cache of host addresses shared by every
 * domain in flight.  libunbound costs 30-50 us of CPU per lookup, c-ares
 * about 5; for millions of domains that is the difference.  No DNSSEC
 * validation here: plans made through it are "indeterminate".
 *
 * Why a cache of our own: c-ares 1.18 has none, and MX hosts repeat
 * across domains (a few providers receive most mail).  An address query
 * for a host already asked waits on the one in flight instead of going
 * out again; answers are kept for their TTL (negative ones per RFC 2308),
 * failures are never kept.  The cache holds at most `cap` finished
 * entries, dropping the least recently used.
 *
 * Owns: the c-ares channel, one libevent event per c-ares socket, the
 * cache, and a ticket per query on the wire (a query cancelled before
 * its reply leaves the ticket behind to absorb it).
 */
#include <ares.h>
#include <assert.h>
#include <event2/event.h>
/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * and this file's structs would disagree with every other file's. */
#include <stdbool.h>
#include <ldns/ldns.h>
_Static_assert((bool)2 == 1, "bool must be _Bool here: include <stdbool.h> before ldns");
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "strbuf.h"
#include "stub.h"
#include "stub_io.h"

#define CACHE_MAX_TTL    (24u * 3600u)
#define EDNS_UDP_SIZE    1232 /* the DNS flag day 2020 size: no fragments */
#define QUERY_BLOCK      128  /* queries padded to a multiple of it (RFC 8467 4.1) */
#define STUB_MAX_RESENDS 6    /* 20 ms doubling: 1.26 s in all */

struct sock_event {
	ares_socket_t fd;
	struct event *ev;
};

struct cache_entry {
	struct cache_entry *next;     /* hash chain */
	TAILQ_ENTRY(cache_entry) lru; /* finished entries only */
	uint64_t hash;                /* of name and qtype (name_hash) */
	uint16_t qtype;
	bool inflight;
	answer_kind kind;
	answer_security security;
	unsigned cname_hops;
	char *canonical;
	struct ip_addr *addrs;
	size_t n_addrs;
	uint64_t expires_ms;
	struct query_list waiters;
	char name[]; /* in the entry's block: one cache line less to miss */
};

TAILQ_HEAD(entry_list, cache_entry);

struct ticket {
	struct stub *stub;
	struct query *query;       /* a direct query, NULL once cancelled */
	struct cache_entry *entry; /* or the cache entry it fills */
	unsigned resends;          /* after connection failures */
	struct event *pause;       /* waiting to resend */
	TAILQ_ENTRY(ticket) paused;
	uint16_t qtype;
	bool sent_edns; /* its last query carried an OPT record */
	/* The question's name in wire form, made once (ticket_new) for every
	 * query sent and every reply checked; 0 bytes: not a name. */
	size_t qname_len;
	uint8_t qname[];
};

TAILQ_HEAD(ticket_list, ticket);

struct stub {
	transport_answered_fn answered; /* hands a finished query back (stub_new) */
	void *answered_arg;
	char servers_text[160]; /* the resolvers asked, for messages */
	struct event_base *base;
	ares_channel channel;
	bool library_ok, channel_ok;
	struct event *timer;
	uint64_t timer_at_ms; /* when the armed timer fires; 0: none */
	unsigned query_timeout_ms;
	struct sock_event *socks;
	size_t n_socks, cap_socks;
	struct cache_entry **buckets; /* grown with the entries, up to max_buckets */
	size_t n_buckets, max_buckets, n_entries, cap_entries;
	struct entry_list lru;
	struct ticket_list paused; /* tickets waiting to be resent */
	struct stub_io *io;        /* the channel's sockets (stub_io.c) */
	ldns_buffer *qbuf;         /* the query being sent (build_query) */
	bool no_edns;              /* the resolver refused EDNS (FORMERR) */
	uint64_t jitter;
	struct mx_resolver_stats stats;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- c-ares on libevent ------------------------------------------------ */

static void
rearm_timer(struct stub *s)
{
	struct timeval tv, *t = ares_timeout(s->channel, NULL, &tv);

	if (t != NULL) {
		evtimer_add(s->timer, t);
		s->timer_at_ms =
		    now_ms() + (uint64_t)t->tv_sec * 1000u + (uint64_t)t->tv_usec / 1000u;
	} else {
		evtimer_del(s->timer);
		s->timer_at_ms = 0;
	}
}

/*
 * ares_timeout walks every query in flight (c-ares 1.18), and calling it
 * after each send and each reply cost a seventh of the bulk path's CPU.
 * A query sent now cannot time out before now + the first try's timeout,
 * so a timer already due sooner stays; one due later, or none, is
 * recomputed.  A timer that fires early only re-arms.
 */
static void
rearm_timer_lazily(struct stub *s)
{
	if (s->timer_at_ms != 0 && s->timer_at_ms <= now_ms() + s->query_timeout_ms)
		return;
	rearm_timer(s);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct stub *s = arg;

	(void)fd;
	(void)what;
	ares_process_fd(s->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm_timer(s);
}

static void
after_process(void *arg)
{
	rearm_timer_lazily(arg);
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct stub *s = arg;

	ares_process_fd(s->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	after_process(s);
}

static struct sock_event *
find_sock(struct stub *s, ares_socket_t fd)
{
	for (size_t i = 0; i < s->n_socks; i++)
		if (s->socks[i].fd == fd)
			return &s->socks[i];
	return NULL;
}

static struct sock_event *
add_sock(struct stub *s, ares_socket_t fd)
{
	if (s->n_socks == s->cap_socks) {
		size_t cap = s->cap_socks ? s->cap_socks * 2 : 8;
		struct sock_event *p = realloc(s->socks, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		s->socks = p;
		s->cap_socks = cap;
	}
	s->socks[s->n_socks] = (struct sock_event){ fd, NULL };
	return &s->socks[s->n_socks++];
}

/* c-ares says which sockets it wants watched, and for what. */
static void
on_sock_state(void *arg, ares_socket_t fd, int readable, int writable)
{
	struct stub *s = arg;
	struct sock_event *se = find_sock(s, fd);
	short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));

	if (se != NULL && se->ev != NULL) {
		event_free(se->ev);
		se->ev = NULL;
	}
	if (what == 0) {
		if (se != NULL)
			*se = s->socks[--s->n_socks];
		return;
	}
	if (se == NULL && (se = add_sock(s, fd)) == NULL)
		return;
	se->ev = event_new(s->base, fd, (short)(what | EV_PERSIST), on_socket, s);
	if (se->ev != NULL)
		event_add(se->ev, NULL);
}

/* "IP@PORT" (ours and unbound's) to "IP:PORT" / "[IPv6]:PORT" (c-ares). */
static bool
append_server(struct strbuf *csv, const char *server)
{
	char host[64];
	const char *at = strchr(server, '@');
	size_t len = at ? (size_t)(at - server) : strlen(server);

	if (len >= sizeof(host))
		return false;
	memcpy(host, server, len);
	host[len] = '\0';
	return strbuf_printf(csv, "%s%s%s%s:%s", csv->len ? "," : "", strchr(host, ':') ? "[" : "",
	    host, strchr(host, ':') ? "]" : "", at ? at + 1 : "53");
}

static mx_err
set_servers(struct stub *s, char *const *servers, size_t n_servers)
{
	char buf[2048];
	struct strbuf csv;

	if (n_servers == 0)
		return MX_OK; /* c-ares read /etc/resolv.conf (or resolv_conf) */
	strbuf_init(&csv, buf, sizeof(buf));
	for (size_t i = 0; i < n_servers; i++)
		if (!append_server(&csv, servers[i]))
			return MX_ERR_INVALID; /* a cut list would name other servers */
	return ares_set_servers_ports_csv(s->channel, buf) == ARES_SUCCESS ? MX_OK : MX_ERR_CONFIG;
}

/* The c-ares channel, s its socket callback's argument; stub_free undoes it. */
static mx_err
open_channel(struct stub *s, const struct stub_config *cfg)
{
	struct ares_options opts = { 0 };

	/* Search lists and aliases never apply to mail domains; SERVFAIL and
	 * REFUSED replies come to answer.c, which reports them as such. */
	opts.flags =
	    ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP;
	opts.timeout = (int)cfg->query_timeout_ms;
	opts.tries = (int)cfg->tries;
	opts.sock_state_cb = on_sock_state;
	opts.sock_state_cb_data = s;
	opts.ednspsz = EDNS_UDP_SIZE;
	opts.resolvconf_path = (char *)cfg->resolv_conf;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return MX_ERR_SYSTEM;
	s->library_ok = true;
	if (ares_init_options(&s->channel, &opts,
		ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
		    ARES_OPT_EDNSPSZ | (cfg->resolv_conf ? ARES_OPT_RESOLVCONF : 0)) !=
	    ARES_SUCCESS)
		return MX_ERR_SYSTEM;
	s->channel_ok = true;
	return MX_OK;
}

mx_err
stub_new(struct stub **out, struct event_base *base, const struct stub_config *cfg,
    transport_answered_fn answered, void *arg)
{
	struct stub *s;
	mx_err err = MX_ERR_SYSTEM;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MX_ERR_NOMEM;
	s->answered = answered;
	s->answered_arg = arg;
	snprintf(s->servers_text, sizeof(s->servers_text), "%s",
	    cfg->servers_text != NULL ? cfg->servers_text : "");
	s->base = base;
	s->query_timeout_ms = cfg->query_timeout_ms;
	s->cap_entries = cfg->cache_entries;
	TAILQ_INIT(&s->lru);
	TAILQ_INIT(&s->paused);
	s->jitter = now_ms() | 1;
	s->n_buckets = s->max_buckets = 1024;
	while (s->max_buckets < cfg->cache_entries)
		s->max_buckets *= 2;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	if ((s->buckets = calloc(s->n_buckets, sizeof(*s->buckets))) == NULL ||
	    (s->qbuf = ldns_buffer_new(512)) == NULL ||
	    (s->timer = evtimer_new(base, on_timer, s)) == NULL)
		goto fail;
	if (open_channel(s, cfg) != MX_OK)
		goto fail;
	/* With the default receive buffer, replies are lost at 1000 in flight. */
	if ((err = stub_io_new(&s->io, base, s->channel, 8 * 1024 * 1024, after_process, s)) !=
	    MX_OK)
		goto fail;
	if ((err = set_servers(s, cfg->servers, cfg->n_servers)) != MX_OK)
		goto fail;
	*out = s;
	return MX_OK;
fail:
	stub_free(s);
	return err;
}

/* ---- the cache --------------------------------------------------------- */

/* FNV-1a over the lower-cased name, seeded with the type. */
static uint64_t
name_hash(const char *name, uint16_t qtype)
{
	uint64_t h = 0xcbf29ce484222325ull ^ qtype;

	for (; *name != '\0'; name++) {
		char c = *name;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		h = (h ^ (uint8_t)c) * 0x100000001b3ull;
	}
	return h;
}

static size_t
bucket_of(const struct stub *s, uint64_t hash)
{
	return (size_t)(hash & (s->n_buckets - 1));
}

/* The whole hash is kept and compared first: most chains hold other names. */
static struct cache_entry *
cache_find(struct stub *s, const char *name, uint16_t qtype)
{
	uint64_t h = name_hash(name, qtype);
	struct cache_entry *e = s->buckets[bucket_of(s, h)];

	for (; e != NULL; e = e->next)
		if (e->hash == h && e->qtype == qtype && strcasecmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void
entry_free(struct cache_entry *e)
{
	free(e->canonical);
	free(e->addrs);
	free(e);
}

static void
cache_remove(struct stub *s, struct cache_entry *e)
{
	struct cache_entry **p = &s->buckets[bucket_of(s, e->hash)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	if (!e->inflight)
		TAILQ_REMOVE(&s->lru, e, lru);
	s->n_entries--;
	entry_free(e);
}

/*
 * Doubles the buckets once there are as many entries as buckets, up to
 * what the cap needs: a run that asks a few thousand hosts keeps a table
 * that stays in cache (a table sized for the cap, 512 KB, missed it on
 * every lookup).  Failing to grow only makes chains longer.
 */
static void
maybe_grow(struct stub *s)
{
	size_t n = s->n_buckets * 2;
	struct cache_entry **b;

	if (s->n_entries < s->n_buckets || n > s->max_buckets ||
	    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	    (b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (size_t i = 0; i < s->n_buckets; i++) {
		struct cache_entry *e = s->buckets[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->n_buckets = n;
}

static struct cache_entry *
cache_add(struct stub *s, const char *name, uint16_t qtype)
{
	struct cache_entry *e, *old;
	size_t b, len = strlen(name);

	/* Only finished entries are evicted; those in flight are bounded by
	 * the queries in flight. */
	while (s->n_entries >= s->cap_entries && (old = TAILQ_FIRST(&s->lru)) != NULL) {
		/* cache_remove took old off the list through tqe_prev, which the
		 * analyzer does not follow: old is never seen twice. */
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		assert(!old->inflight); /* the LRU list holds finished entries only */
		cache_remove(s, old);
	}
	maybe_grow(s);
	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL)
		return NULL;
	memcpy(e->name, name, len + 1);
	e->qtype = qtype;
	e->hash = name_hash(name, qtype);
	e->inflight = true;
	TAILQ_INIT(&e->waiters);
	b = bucket_of(s, e->hash);
	e->next = s->buckets[b];
	s->buckets[b] = e;
	s->n_entries++;
	return e;
}

/* Fills a waiting query's answer from a finished entry. */
static mx_err
restore(const struct cache_entry *e, struct query *q)
{
	struct answer *a = &q->answer;

	/* A cache hit for most address queries: no printf here, and no copy
	 * of the name asked, which q (the answer's owner) holds. */
	memset(a, 0, sizeof(*a));
	a->kind = e->kind;
	a->security = e->security;
	a->cname_hops = e->cname_hops;
	a->canonical = q->name;
	if (e->canonical != NULL && (a->canonical = answer_text(a, e->canonical)) == NULL)
		return MX_ERR_NOMEM;
	if (e->n_addrs == 0)
		return MX_OK;
	if ((a->addrs = malloc(e->n_addrs * sizeof(*a->addrs))) == NULL) {
		answer_clear(a);
		return MX_ERR_NOMEM;
	}
	memcpy(a->addrs, e->addrs, e->n_addrs * sizeof(*a->addrs));
	a->n_addrs = e->n_addrs;
	return MX_OK;
}

static uint32_t
answer_ttl(const struct answer *a)
{
	uint32_t ttl = a->kind == ANSWER_RECORDS ? CACHE_MAX_TTL : a->negative_ttl;

	for (size_t i = 0; i < a->n_addrs; i++)
		if (a->addrs[i].ttl < ttl)
			ttl = a->addrs[i].ttl;
	return ttl < CACHE_MAX_TTL ? ttl : CACHE_MAX_TTL;
}

static mx_err
keep(struct cache_entry *e, const struct answer *a)
{
	e->kind = a->kind;
	e->security = a->security;
	e->cname_hops = a->cname_hops;
	e->expires_ms = now_ms() + (uint64_t)answer_ttl(a) * 1000u;
	if (a->cname_hops > 0 && (e->canonical = strdup(a->canonical)) == NULL)
		return MX_ERR_NOMEM;
	if (a->n_addrs == 0)
		return MX_OK;
	if ((e->addrs = malloc(a->n_addrs * sizeof(*a->addrs))) == NULL)
		return MX_ERR_NOMEM;
	memcpy(e->addrs, a->addrs, a->n_addrs * sizeof(*a->addrs));
	e->n_addrs = a->n_addrs;
	return MX_OK;
}

static void
answer_waiters(struct stub *s, struct cache_entry *e, const struct answer *a)
{
	struct query *q;

	while ((q = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, q, link);
		q->backend = NULL;
		if ((a != NULL ? answer_copy(&q->answer, a) : restore(e, q)) != MX_OK)
			answer_set_failure(&q->answer, "out of memory", false);
		s->answered(s->answered_arg, q);
	}
}

/* ---- queries ----------------------------------------------------------- */

/*
 * c-ares' failures of the transport itself, said with the resolvers asked:
 * its ARES_ECONNREFUSED ("Could not contact DNS servers") is an ICMP
 * refusal or a TCP reset, its ARES_ETIMEOUT silence after every try.
 */
static void
transport_failure(struct stub *s, int status, struct answer *out)
{
	char why[300];

	if (status == ARES_ECONNREFUSED)
		snprintf(why, sizeof(why),
		    "%s refused the query (connection refused: "
		    "no DNS server listens there)",
		    s->servers_text);
	else
		snprintf(why, sizeof(why), "no answer from %s (timed out)", s->servers_text);
	answer_set_failure(out, why, status == ARES_ETIMEOUT);
}

static void
read_reply(struct stub *s, const struct ticket *t, int status, const unsigned char *abuf, int alen,
    struct answer *out)
{
	if (status == ARES_SUCCESS && abuf != NULL && alen > 0) {
		if (answer_parse_wire(abuf, (size_t)alen, t->qname, t->qname_len, t->qtype, out) !=
		    MX_OK)
			answer_set_failure(out, "out of memory", false);
		return;
	}
	if (status == ARES_ECONNREFUSED || status == ARES_ETIMEOUT) {
		transport_failure(s, status, out);
		return;
	}
	answer_set_failure(out,
	    status == ARES_ESERVFAIL      ? "the resolver answered SERVFAIL"
		: status == ARES_EREFUSED ? "the resolver answered REFUSED"
					  : ares_strerror(status),
	    status == ARES_ETIMEOUT);
}

static void
finish_entry(struct stub *s, struct ticket *t, int status, const unsigned char *abuf, int alen)
{
	struct cache_entry *e = t->entry;
	struct answer a;

	read_reply(s, t, status, abuf, alen, &a);
	a.security = SEC_UNKNOWN;
	e->inflight = false;
	if (a.kind == ANSWER_TEMPFAIL || keep(e, &a) != MX_OK) {
		/* Failures are handed on as they are and never kept. */
		answer_waiters(s, e, &a);
		TAILQ_INSERT_TAIL(&s->lru, e, lru);
		cache_remove(s, e);
	} else {
		TAILQ_INSERT_TAIL(&s->lru, e, lru);
		answer_waiters(s, e, NULL);
	}
	answer_clear(&a);
}

static void send_query(struct stub *s, struct ticket *t);

/* xorshift64: spreads resends; needs no quality beyond "not in step". */
static uint64_t
next_jitter(struct stub *s)
{
	s->jitter ^= s->jitter << 13;
	s->jitter ^= s->jitter >> 7;
	s->jitter ^= s->jitter << 17;
	return s->jitter;
}

static void
ticket_free(struct ticket *t)
{
	if (t->pause != NULL)
		event_free(t->pause);
	free(t);
}

static void
on_pause_end(evutil_socket_t fd, short what, void *arg)
{
	struct ticket *t = arg;
	struct stub *s = t->stub;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&s->paused, t, paused);
	if (t->query == NULL && t->entry == NULL) {
		ticket_free(t); /* cancelled while it waited */
		return;
	}
	send_query(s, t);
}

/*
 * Resends after 20, 40, 80 ... ms, each with up to as much again of
 * jitter, so that queries failed together do not come back together.
 */
static bool
pause_ticket(struct stub *s, struct ticket *t)
{
	long base = 20000L << t->resends;
	struct timeval tv = { 0, base + (long)(next_jitter(s) % (uint64_t)base) };

	if (t->pause == NULL && (t->pause = evtimer_new(s->base, on_pause_end, t)) == NULL)
		return false;
	if (evtimer_add(t->pause, &tv) != 0)
		return false;
	t->resends++;
	s->stats.retries++;
	TAILQ_INSERT_TAIL(&s->paused, t, paused);
	return true;
}

/*
 * A FORMERR reply without an OPT record to a query that had one: the
 * resolver does not speak EDNS (RFC 6891 section 7), and the query is
 * asked again without it.  c-ares' own fallback cannot do this for our
 * queries: it cuts the last 11 bytes, the size of an OPT record without
 * options, and ours carries padding.
 */
static bool
refuses_edns(const struct ticket *t, int status, const unsigned char *abuf, int alen)
{
	struct wire_rr rrs[8];
	size_t an_ns;

	if (!t->sent_edns || status != ARES_SUCCESS || abuf == NULL || alen < WIRE_HEADER_LEN ||
	    (abuf[3] & 0x0f) != LDNS_RCODE_FORMERR)
		return false;
	if (wire_get16(abuf + 10) == 0)
		return true;
	/* Records to look through: a FORMERR reply has few, or is no reply
	 * to take as one. */
	if (wire_check_rrs(abuf, (size_t)alen, rrs, sizeof(rrs) / sizeof(rrs[0])) != NULL)
		return false;
	an_ns = (size_t)wire_get16(abuf + 6) + wire_get16(abuf + 8);
	for (size_t i = an_ns; i < an_ns + wire_get16(abuf + 10); i++)
		if (rrs[i].type == LDNS_RR_TYPE_OPT)
			return false;
	return true;
}

static void
on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct ticket *t = arg;
	struct stub *s = t->stub;

	if (status == ARES_EDESTRUCTION) {
		ticket_free(t);
		return;
	}
	s->stats.retries += (unsigned long)timeouts;
	if ((t->query != NULL || t->entry != NULL) && refuses_edns(t, status, abuf, alen)) {
		s->no_edns = true;
		s->stats.retries++;
		send_query(s, t);
		return;
	}
	/*
	 * c-ares 1.18 closes every socket to a server when one TCP connection
	 * to it fails, and fails the queries in flight on it with
	 * ECONNREFUSED: one hostile or overloaded name would then fail healthy
	 * ones.  Such a failure is not the question's; ask again, a few times.
	 */
	if (status == ARES_ECONNREFUSED && t->resends < STUB_MAX_RESENDS &&
	    (t->query != NULL || t->entry != NULL) && pause_ticket(s, t))
		return;
	s->stats.timeouts += status == ARES_ETIMEOUT;
	if (t->entry != NULL) {
		finish_entry(s, t, status, abuf, alen);
	} else if (t->query != NULL) {
		struct query *q = t->query;
		q->backend = NULL;
		read_reply(s, t, status, abuf, alen, &q->answer);
		q->answer.security = SEC_UNKNOWN;
		s->answered(s->answered_arg, q);
	}
	ticket_free(t);
}

/*
 * The question as wire bytes, written into the stub's one reused buffer:
 * the header, the ticket's name (the same bytes the reply's question is
 * checked against), QTYPE, QCLASS, and unless the resolver
 * refused EDNS, an OPT record for the EDNS buffer size with a padding
 * option that brings the query to a multiple of QUERY_BLOCK bytes.
 * Building a whole ldns_pkt per query and serialising it (with name
 * compression, which one name never needs) cost a tenth of the bulk
 * path's CPU; so did keeping each name as an ldns_rdf
 * (ldns_dname_new_frm_str: three allocations and a slow parse).  The ID
 * stays 0: ares_send writes its own into the copy it keeps.
 *
 * Why pad: queries of one size go out a batch at a time as a single
 * segmented send (stub_io.c, UDP_SEGMENT), which halves what the kernel
 * spends sending them.  Servers ignore an option they do not know (RFC
 * 6891 6.1.2); RFC 8467 recommends exactly this block size for queries.
 */
static bool
build_query(ldns_buffer *buf, const struct ticket *t, bool edns)
{
	size_t end, pad;

	if (t->qname_len == 0)
		return false;
	ldns_buffer_clear(buf);
	ldns_buffer_write_u16(buf, 0);            /* ID */
	ldns_buffer_write_u16(buf, 0x0100);       /* a query, RD */
	ldns_buffer_write_u16(buf, 1);            /* QDCOUNT */
	ldns_buffer_write_u16(buf, 0);            /* ANCOUNT */
	ldns_buffer_write_u16(buf, 0);            /* NSCOUNT */
	ldns_buffer_write_u16(buf, edns ? 1 : 0); /* ARCOUNT: the OPT record */
	ldns_buffer_write(buf, t->qname, t->qname_len);
	ldns_buffer_write_u16(buf, t->qtype);
	ldns_buffer_write_u16(buf, LDNS_RR_CLASS_IN);
	if (!edns)
		return ldns_buffer_status_ok(buf);
	/* The OPT record (11 bytes) and the padding option's code and length. */
	end = ldns_buffer_position(buf) + 11 + 4;
	pad = (QUERY_BLOCK - end % QUERY_BLOCK) % QUERY_BLOCK;
	ldns_buffer_write_u8(buf, 0); /* OPT: the root name */
	ldns_buffer_write_u16(buf, LDNS_RR_TYPE_OPT);
	ldns_buffer_write_u16(buf, EDNS_UDP_SIZE);       /* CLASS: the UDP size */
	ldns_buffer_write_u32(buf, 0);                   /* extended rcode, version, flags */
	ldns_buffer_write_u16(buf, (uint16_t)(4 + pad)); /* RDLENGTH */
	ldns_buffer_write_u16(buf, LDNS_EDNS_PADDING);
	ldns_buffer_write_u16(buf, (uint16_t)pad);
	if (!ldns_buffer_reserve(buf, pad))
		return false;
	memset(ldns_buffer_current(buf), 0, pad); /* RFC 7830: zeros */
	ldns_buffer_skip(buf, (ssize_t)pad);
	return ldns_buffer_status_ok(buf);
}

/* Sends the ticket's question; on failure it answers through on_reply. */
static void
send_query(struct stub *s, struct ticket *t)
{
	t->sent_edns = !s->no_edns;
	if (!build_query(s->qbuf, t, t->sent_edns)) {
		on_reply(t, ARES_EBADNAME, 0, NULL, 0);
		return;
	}
	s->stats.queries++;
	ares_send(s->channel, ldns_buffer_begin(s->qbuf), (int)ldns_buffer_position(s->qbuf),
	    on_reply, t);
	rearm_timer_lazily(s);
}

static bool
cacheable(uint16_t qtype)
{
	return qtype == RR_TYPE_A || qtype == RR_TYPE_AAAA;
}

/* A ticket for q's question, with the name in wire form; NULL: no memory. */
static struct ticket *
ticket_new(struct stub *s, const struct query *q)
{
	uint8_t name[WIRE_NAME_MAX];
	size_t len = answer_qname_wire(q->name, name);
	struct ticket *t = malloc(sizeof(*t) + len);

	if (t == NULL)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->stub = s;
	t->qtype = q->qtype;
	t->qname_len = len;
	memcpy(t->qname, name, len);
	return t;
}

static void
send_cached(struct stub *s, struct query *q)
{
	struct cache_entry *e = cache_find(s, q->name, q->qtype);
	struct ticket *t;

	if (e != NULL && !e->inflight && e->expires_ms <= now_ms()) {
		cache_remove(s, e);
		e = NULL;
	}
	if (e != NULL) {
		s->stats.cache_hits++;
		if (e->inflight) {
			TAILQ_INSERT_TAIL(&e->waiters, q, link);
			q->backend = e;
			return;
		}
		TAILQ_REMOVE(&s->lru, e, lru);
		TAILQ_INSERT_TAIL(&s->lru, e, lru);
		if (restore(e, q) != MX_OK)
			answer_set_failure(&q->answer, "out of memory", false);
		s->answered(s->answered_arg, q);
		return;
	}
	if ((e = cache_add(s, q->name, q->qtype)) == NULL || (t = ticket_new(s, q)) == NULL) {
		if (e != NULL)
			cache_remove(s, e);
		answer_set_failure(&q->answer, "out of memory", false);
		s->answered(s->answered_arg, q);
		return;
	}
	TAILQ_INSERT_TAIL(&e->waiters, q, link);
	q->backend = e;
	t->entry = e;
	send_query(s, t);
}

void
stub_send(struct stub *s, struct query *q)
{
	struct ticket *t;

	if (cacheable(q->qtype)) {
		send_cached(s, q);
		return;
	}
	if ((t = ticket_new(s, q)) == NULL) {
		answer_set_failure(&q->answer, "out of memory", false);
		s->answered(s->answered_arg, q);
		return;
	}
	t->query = q;
	q->backend = t;
	send_query(s, t);
}

void
stub_cancel(struct stub *s, struct query *q)
{
	(void)s;
	if (q->backend == NULL)
		return;
	if (cacheable(q->qtype)) {
		struct cache_entry *e = q->backend;
		TAILQ_REMOVE(&e->waiters, q, link);
	} else {
		((struct ticket *)q->backend)->query = NULL;
	}
	q->backend = NULL;
}

void
stub_stats(const struct stub *s, struct mx_resolver_stats *out)
{
	*out = s->stats;
	out->cache_entries = s->n_entries;
}

void
stub_free(struct stub *s)
{
	if (s == NULL)
		return;
	/* Pending tickets come back with ARES_EDESTRUCTION and free themselves. */
	if (s->channel_ok)
		ares_destroy(s->channel);
	stub_io_free(s->io); /* after c-ares closed its sockets through it */
	while (!TAILQ_EMPTY(&s->paused)) {
		struct ticket *t = TAILQ_FIRST(&s->paused);
		TAILQ_REMOVE(&s->paused, t, paused);
		ticket_free(t);
	}
	for (size_t i = 0; i < s->n_socks; i++)
		if (s->socks[i].ev != NULL)
			event_free(s->socks[i].ev);
	for (size_t b = 0; s->buckets != NULL && b < s->n_buckets; b++) {
		struct cache_entry *e = s->buckets[b], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->library_ok)
		ares_library_cleanup();
	if (s->qbuf != NULL)
		ldns_buffer_free(s->qbuf);
	free(s->buckets);
	free(s->socks);
	free(s);
}
