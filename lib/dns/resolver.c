/*
 * resolver.c - mx_resolver: a libunbound context in libevent mode
 * (ub_ctx_create_event), its configuration, and the queue that keeps the
 * number of queries on the wire under a cap.  libunbound does resolution,
 * caching, in-flight deduplication and DNSSEC validation; ldns (answer.c)
 * reads the packets it hands back.  The resolver owns its event base when
 * it made it, and every query it has not yet answered; freed, it cancels
 * the lookups still under way (resolver_work).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * and this file's structs would disagree with every other file's. */
#include <stdbool.h>
#include <ldns/ldns.h>
_Static_assert((bool)2 == 1, "bool must be _Bool here: include <stdbool.h> before ldns");
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound-event.h>
#include <unbound.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "resolver.h"
#include "stub.h"
#include "why.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size)   ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

#define DEFAULT_MAX_INFLIGHT     1000
#define MAX_SERVERS              16
#define DEFAULT_ROOT_ANCHOR      "/usr/share/dns/root.key"
#define DEFAULT_QUERY_TIMEOUT_MS 2000
#define DEFAULT_TRIES            3
#define STUB_CACHE_ENTRIES       50000

LIST_HEAD(work_list, resolver_work);

struct mx_resolver {
	struct event_base *base;
	bool own_base;
	mx_transport transport;
	struct ub_ctx *ub; /* MX_TRANSPORT_UNBOUND */
	struct stub *stub; /* MX_TRANSPORT_STUB */
	unsigned query_timeout_ms, tries;
	unsigned long asked;
	bool ready; /* configuration applied: no more changes */
	bool validating;
	char *servers[MAX_SERVERS];
	size_t n_servers;
	char *resolv_conf;
	char *anchor; /* NULL: default; "none": no validation */
	bool anchor_set;
	unsigned max_inflight;
	unsigned inflight;
	int lookups;
	struct query_list waiting;
	struct query_list completed;
	struct work_list work; /* lookups to cancel on free */
	struct event *deliver; /* hands completed answers back */
	FILE *log;             /* libunbound's diagnostics, kept, not printed */
	char log_tail[512];    /* the last of them */
	size_t log_len;
	char diagnostic[256]; /* libunbound's first error line: a cause */
	struct spare *spares; /* finished lookups, for lookup.c to reuse */
	unsigned n_spares;
	const struct timeval *deadline_tv; /* libevent's common timeout of ... */
	unsigned deadline_ms;              /* ... this many ms (0: none yet) */
	struct timeval deadline_plain;     /* the same duration, if libevent has none */
};

struct spare {
	struct spare *next;
};

static void deliver_completed(evutil_socket_t fd, short what, void *arg);

static mx_err
resolver_init(mx_resolver *r, struct event_base *base)
{
	TAILQ_INIT(&r->waiting);
	TAILQ_INIT(&r->completed);
	LIST_INIT(&r->work);
	r->max_inflight = DEFAULT_MAX_INFLIGHT;
	r->query_timeout_ms = DEFAULT_QUERY_TIMEOUT_MS;
	r->tries = DEFAULT_TRIES;
	r->own_base = base == NULL;
	r->base = base ? base : event_base_new();
	if (r->base == NULL)
		return MX_ERR_SYSTEM;
	r->deliver = event_new(r->base, -1, 0, deliver_completed, r);
	return r->deliver ? MX_OK : MX_ERR_SYSTEM;
}

mx_err
mx_resolver_new_event(mx_resolver **out, struct event_base *base)
{
	mx_resolver *r;
	mx_err err;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MX_ERR_NOMEM;
	if ((err = resolver_init(r, base)) != MX_OK) {
		mx_resolver_free(r);
		return err;
	}
	*out = r;
	return MX_OK;
}

mx_err
mx_resolver_new(mx_resolver **out)
{
	return mx_resolver_new_event(out, NULL);
}

/*
 * Work in flight is cancelled first, while the transports still exist:
 * each lookup withdraws its queries (from the queue, the completed list,
 * libunbound or c-ares) and frees its plan; no callback runs.  Then the
 * transports go, c-ares handing back its own tickets as it is destroyed.
 */
void
mx_resolver_free(mx_resolver *r)
{
	struct resolver_work *w;

	if (r == NULL)
		return;
	while ((w = LIST_FIRST(&r->work)) != NULL) {
		LIST_REMOVE(w, link);
		w->listed = false;
		w->cancel(w);
	}
	if (r->ub != NULL)
		ub_ctx_delete(r->ub);
	if (r->log != NULL)
		fclose(r->log);
	stub_free(r->stub);
	if (r->deliver != NULL)
		event_free(r->deliver);
	if (r->own_base && r->base != NULL)
		event_base_free(r->base);
	for (size_t i = 0; i < r->n_servers; i++)
		free(r->servers[i]);
	while (r->spares != NULL) {
		struct spare *next = r->spares->next;
		free(r->spares); /* free() takes poisoned blocks as they are */
		r->spares = next;
	}
	free(r->resolv_conf);
	free(r->anchor);
	free(r);
}

/* "IP" or "IP@PORT": checked here so a typo is a usage error, not a timeout. */
static bool
valid_server(const char *s)
{
	char host[64];
	unsigned char buf[16];
	const char *at = strchr(s, '@');
	size_t len = at ? (size_t)(at - s) : strlen(s);
	char *end;
	long port;

	if (len == 0 || len >= sizeof(host))
		return false;
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
		return false;
	if (at == NULL)
		return true;
	errno = 0;
	port = strtol(at + 1, &end, 10);
	return errno == 0 && *end == '\0' && end != at + 1 && port > 0 && port < 65536;
}

mx_err
mx_resolver_add_server(mx_resolver *r, const char *server)
{
	if (r == NULL || server == NULL || !valid_server(server))
		return MX_ERR_INVALID;
	if (r->ready)
		return MX_ERR_BUSY;
	if (r->n_servers == MAX_SERVERS)
		return MX_ERR_INVALID;
	if ((r->servers[r->n_servers] = strdup(server)) == NULL)
		return MX_ERR_NOMEM;
	r->n_servers++;
	return MX_OK;
}

mx_err
mx_resolver_set_resolv_conf(mx_resolver *r, const char *path)
{
	if (r == NULL || path == NULL)
		return MX_ERR_INVALID;
	return r->ready ? MX_ERR_BUSY : string_replace(&r->resolv_conf, path);
}

mx_err
mx_resolver_set_trust_anchor(mx_resolver *r, const char *path)
{
	if (r == NULL)
		return MX_ERR_INVALID;
	if (r->ready)
		return MX_ERR_BUSY;
	r->anchor_set = true;
	return string_replace(&r->anchor, path ? path : "none");
}

mx_err
mx_resolver_set_max_inflight(mx_resolver *r, unsigned n)
{
	if (r == NULL || n == 0 || n > 100000)
		return MX_ERR_INVALID;
	if (r->ready)
		return MX_ERR_BUSY;
	r->max_inflight = n;
	return MX_OK;
}

mx_err
mx_resolver_set_transport(mx_resolver *r, mx_transport t)
{
	if (r == NULL || (t != MX_TRANSPORT_UNBOUND && t != MX_TRANSPORT_STUB))
		return MX_ERR_INVALID;
	if (r->ready)
		return MX_ERR_BUSY;
	r->transport = t;
	return MX_OK;
}

mx_err
mx_resolver_set_query_timeout_ms(mx_resolver *r, unsigned ms)
{
	if (r == NULL || ms == 0 || ms > 60000)
		return MX_ERR_INVALID;
	if (r->ready)
		return MX_ERR_BUSY;
	r->query_timeout_ms = ms;
	return MX_OK;
}

mx_err
mx_resolver_set_tries(mx_resolver *r, unsigned tries)
{
	if (r == NULL || tries == 0 || tries > 10)
		return MX_ERR_INVALID;
	if (r->ready)
		return MX_ERR_BUSY;
	r->tries = tries;
	return MX_OK;
}

void
mx_resolver_get_stats(const mx_resolver *r, struct mx_resolver_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (r->stub != NULL)
		stub_stats(r->stub, out);
	else
		out->queries = r->asked;
}

static mx_err
set_option(mx_resolver *r, const char *opt, const char *value, mx_why *why)
{
	if (ub_ctx_set_option(r->ub, opt, value) == 0)
		return MX_OK;
	return why_set(why, MX_ERR_CONFIG, "libunbound refused %s %s", opt, value);
}

/*
 * libunbound takes a file without a record (empty, or comments only) as
 * "no anchors" and validates nothing, silently: every answer would be
 * insecure.  Counted with ldns; a file ldns cannot read is left for
 * libunbound to judge, which says where it stops.
 */
static mx_err
anchor_has_records(const char *path, mx_why *why)
{
	FILE *f = fopen(path, "r");
	ldns_rr *rr;
	ldns_status st = LDNS_STATUS_OK;
	uint32_t ttl = 3600;
	ldns_rdf *origin = NULL, *prev = NULL;
	int line = 0;
	unsigned found = 0;

	if (f == NULL)
		return why_set(why, MX_ERR_CONFIG, "trust anchor %s: %s", path, strerror(errno));
	while (found == 0 && !feof(f)) {
		rr = NULL;
		st = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		if (st == LDNS_STATUS_OK &&
		    (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS ||
			ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY))
			found++;
		ldns_rr_free(rr);
		if (st != LDNS_STATUS_OK && st != LDNS_STATUS_SYNTAX_EMPTY &&
		    st != LDNS_STATUS_SYNTAX_TTL && st != LDNS_STATUS_SYNTAX_ORIGIN)
			break;
	}
	fclose(f);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (found == 0 && (st == LDNS_STATUS_OK || st == LDNS_STATUS_SYNTAX_EMPTY))
		return why_set(why, MX_ERR_CONFIG,
		    "trust anchor %s: holds no DS or DNSKEY record "
		    "(empty, or comments only)",
		    path);
	return MX_OK;
}

static mx_err
apply_anchor(mx_resolver *r, mx_why *why)
{
	const char *path = r->anchor;
	struct stat sb;

	if (!r->anchor_set)
		path = access(DEFAULT_ROOT_ANCHOR, R_OK) == 0 ? DEFAULT_ROOT_ANCHOR : NULL;
	if (path == NULL || strcmp(path, "none") == 0)
		return MX_OK;
	/* libunbound spins forever reading a directory as an anchor file. */
	if (stat(path, &sb) != 0)
		return why_set(why, MX_ERR_CONFIG, "trust anchor %s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return why_set(why, MX_ERR_CONFIG, "trust anchor %s: not a regular file", path);
	if (anchor_has_records(path, why) != MX_OK)
		return MX_ERR_CONFIG;
	if (ub_ctx_add_ta_file(r->ub, path) != 0)
		return why_set(why, MX_ERR_CONFIG, "trust anchor %s: libunbound refused it", path);
	r->validating = true;
	return MX_OK;
}

/* libunbound reads the anchor file when the context is finalized, and
 * says why it failed (the file and line) through its log: its first
 * complaint is the cause, and goes into why. */
static mx_err
finalize_failure(mx_resolver *r, mx_why *why)
{
	if (r->diagnostic[0] != '\0')
		return why_set(why, MX_ERR_CONFIG, "%s", r->diagnostic);
	if (r->validating)
		return why_set(why, MX_ERR_CONFIG, "trust anchor %s: libunbound could not load it",
		    r->anchor_set ? r->anchor : DEFAULT_ROOT_ANCHOR);
	return why_set(why, MX_ERR_CONFIG, "libunbound could not be set up");
}

static mx_err
apply_servers(mx_resolver *r, mx_why *why)
{
	for (size_t i = 0; i < r->n_servers; i++)
		if (ub_ctx_set_fwd(r->ub, r->servers[i]) != 0)
			return why_set(
			    why, MX_ERR_CONFIG, "libunbound refused the server %s", r->servers[i]);
	if (r->n_servers > 0 || ub_ctx_resolvconf(r->ub, r->resolv_conf) == 0)
		return MX_OK;
	if (r->diagnostic[0] != '\0')
		return why_set(why, MX_ERR_CONFIG, "%s", r->diagnostic);
	return why_set(why, MX_ERR_CONFIG,
	    "%s: cannot be read, or names no usable "
	    "nameserver",
	    r->resolv_conf ? r->resolv_conf : "/etc/resolv.conf");
}

/*
 * libunbound's defaults are tuned for a daemon behind a small buffer:
 * outgoing-range would keep only a few queries on the wire, and its
 * built-in local zone for "test." (RFC 6761) would answer NXDOMAIN for
 * the names our sandbox serves; .test never exists on the Internet, so
 * letting it through changes nothing for real mail.
 */
/*
 * libunbound writes its diagnostics (a trust anchor that does not parse,
 * with the line) to stderr; the library never prints, so they go to a
 * stream that keeps the last few hundred bytes for mx_resolver_diagnostic.
 */
/* The first complaint is the cause (a parse error, with its line); what
 * follows ("module init ... failed") is its consequence. */
static void
keep_first_error(mx_resolver *r)
{
	const char *err = strstr(r->log_tail, "error: "), *end;
	size_t len;

	if (r->diagnostic[0] != '\0' || err == NULL)
		return;
	err += 7;
	end = strchr(err, '\n');
	len = end ? (size_t)(end - err) : strlen(err);
	if (len >= sizeof(r->diagnostic))
		len = sizeof(r->diagnostic) - 1;
	memcpy(r->diagnostic, err, len);
	r->diagnostic[len] = '\0';
}

static ssize_t
keep_log(void *cookie, const char *data, size_t size)
{
	mx_resolver *r = cookie;
	size_t keep = sizeof(r->log_tail) - 1;

	if (size >= keep) {
		memcpy(r->log_tail, data + size - keep, keep);
		r->log_len = keep;
	} else {
		if (r->log_len + size > keep) {
			size_t drop = r->log_len + size - keep;
			memmove(r->log_tail, r->log_tail + drop, r->log_len - drop);
			r->log_len -= drop;
		}
		memcpy(r->log_tail + r->log_len, data, size);
		r->log_len += size;
	}
	r->log_tail[r->log_len] = '\0';
	keep_first_error(r);
	return (ssize_t)size;
}

static void
capture_log(mx_resolver *r)
{
	cookie_io_functions_t io = { .write = keep_log };

	if ((r->log = fopencookie(r, "w", io)) == NULL)
		return;
	setvbuf(r->log, NULL, _IOLBF, 0);
	ub_ctx_debugout(r->ub, r->log);
}

const char *
mx_resolver_diagnostic(const mx_resolver *r)
{
	return r != NULL ? r->diagnostic : "";
}

static mx_err
ready_unbound(mx_resolver *r, mx_why *why)
{
	char num[16];
	mx_err err;

	if ((r->ub = ub_ctx_create_event(r->base)) == NULL)
		return why_set(why, MX_ERR_SYSTEM, "libunbound could not make a context");
	capture_log(r);
	snprintf(num, sizeof(num), "%u", r->max_inflight < 64 ? 128 : r->max_inflight * 2);
	if ((err = set_option(r, "outgoing-range:", num, why)) != MX_OK)
		return err;
	snprintf(num, sizeof(num), "%u", r->max_inflight);
	if ((err = set_option(r, "num-queries-per-thread:", num, why)) != MX_OK ||
	    (err = apply_servers(r, why)) != MX_OK || (err = apply_anchor(r, why)) != MX_OK)
		return err;
	/*
	 * ub_ctx_zone_add finalizes the context, so a trust anchor file that
	 * does not parse fails here, as a configuration error, rather than
	 * on every query as a temporary one.
	 */
	/* Likewise its local zone for 127.in-addr.arpa would answer reverse
	 * questions about loopback addresses itself (mx check asks them). */
	if (ub_ctx_zone_add(r->ub, "127.in-addr.arpa.", "transparent") != 0)
		return finalize_failure(r, why);
	return ub_ctx_zone_add(r->ub, "test.", "transparent") == 0 ? MX_OK
								   : finalize_failure(r, why);
}

static void resolver_answered(mx_resolver *r, struct query *q);
static void transport_answered(void *arg, struct query *q);

static mx_err
ready_stub(mx_resolver *r, mx_why *why)
{
	char servers[160];
	struct stub_config cfg = {
		.servers = r->servers,
		.n_servers = r->n_servers,
		.resolv_conf = r->resolv_conf,
		.query_timeout_ms = r->query_timeout_ms,
		.tries = r->tries,
		.cache_entries = STUB_CACHE_ENTRIES,
		.servers_text = resolver_servers_text(r, servers, sizeof(servers)),
	};

	mx_err err = stub_new(&r->stub, r->base, &cfg, transport_answered, r);

	if (err == MX_ERR_CONFIG)
		return why_set(why, err,
		    "c-ares could not be set up: %s cannot be read, or "
		    "names no usable nameserver",
		    r->resolv_conf ? r->resolv_conf : "/etc/resolv.conf");
	return err == MX_OK ? MX_OK
			    : why_set(why, err, "c-ares could not be set up: %s", mx_strerror(err));
}

mx_err
resolver_ready(mx_resolver *r, mx_why *why)
{
	mx_err err;

	if (r->ready)
		return MX_OK;
	err = r->transport == MX_TRANSPORT_STUB ? ready_stub(r, why) : ready_unbound(r, why);
	if (err == MX_OK)
		r->ready = true;
	return err;
}

/*
 * libunbound validates the records it is asked for, not what came along
 * in the additional section, so only the stub (which validates nothing)
 * uses that section.
 */
/*
 * The resolvers asked, for messages about a failure the transport saw:
 * "127.0.0.1@53", or "the resolvers of FILE" when resolv.conf names them
 * (libunbound and c-ares read it, not we).
 */
const char *
resolver_servers_text(const mx_resolver *r, char *buf, size_t size)
{
	size_t o = 0;

	if (r->n_servers == 0) {
		snprintf(buf, size, "the resolvers of %s",
		    r->resolv_conf ? r->resolv_conf : "/etc/resolv.conf");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < r->n_servers && o < size; i++) {
		int n = snprintf(buf + o, size - o, "%s%s%s", i ? ", " : "", r->servers[i],
		    strchr(r->servers[i], '@') ? "" : "@53");
		if (n < 0 || (size_t)n >= size - o)
			break; /* cut: the names that fit are enough */
		o += (size_t)n;
	}
	return buf;
}

bool
resolver_uses_glue(const mx_resolver *r)
{
	return r->stub != NULL;
}

/*
 * A kept block is poisoned for ASan but for its link, so that a use of a
 * finished lookup is still reported as a use after free would be.
 */
void *
resolver_spare_take(mx_resolver *r, size_t size)
{
	struct spare *s = r->spares;

	if (s == NULL)
		return NULL;
	r->spares = s->next;
	r->n_spares--;
	ASAN_UNPOISON_MEMORY_REGION(s, size);
	return s;
}

void
resolver_spare_give(mx_resolver *r, void *block, size_t size)
{
	struct spare *s = block;

	if (r->n_spares >= r->max_inflight) {
		free(block);
		return;
	}
	s->next = r->spares;
	r->spares = s;
	r->n_spares++;
	ASAN_POISON_MEMORY_REGION((char *)block + sizeof(*s), size - sizeof(*s));
}

struct event_base *
resolver_base(mx_resolver *r)
{
	return r->base;
}

/*
 * Every lookup of a run has the same deadline, and libevent keeps timers
 * of one "common timeout" in a FIFO list instead of its heap (a push and
 * an erase of O(log n) per lookup, with a thousand in flight).  The last
 * duration asked is kept; another one is registered with the base
 * (libevent finds it again if it already was).  If libevent cannot, the
 * plain duration goes to the heap.
 */
const struct timeval *
resolver_deadline_tv(mx_resolver *r, unsigned ms)
{
	if (r->deadline_ms != ms || r->deadline_tv == NULL) {
		r->deadline_plain.tv_sec = (time_t)(ms / 1000);
		r->deadline_plain.tv_usec = (suseconds_t)(ms % 1000) * 1000;
		r->deadline_tv = event_base_init_common_timeout(r->base, &r->deadline_plain);
		r->deadline_ms = ms;
	}
	return r->deadline_tv != NULL ? r->deadline_tv : &r->deadline_plain;
}

void
resolver_work_add(mx_resolver *r, struct resolver_work *w)
{
	LIST_INSERT_HEAD(&r->work, w, link);
	w->listed = true;
}

void
resolver_work_remove(mx_resolver *r, struct resolver_work *w)
{
	(void)r;
	if (!w->listed)
		return;
	LIST_REMOVE(w, link);
	w->listed = false;
}

void
resolver_lookup_add(mx_resolver *r, int delta)
{
	r->lookups += delta;
}

static void
complete(mx_resolver *r, struct query *q)
{
	q->state = Q_COMPLETED;
	TAILQ_INSERT_TAIL(&r->completed, q, link);
	event_active(r->deliver, 0, 0);
}

static void start_waiting(mx_resolver *r);

static void
deliver_completed(evutil_socket_t fd, short what, void *arg)
{
	mx_resolver *r = arg;
	struct query *q;

	(void)fd;
	(void)what;
	start_waiting(r);
	while ((q = TAILQ_FIRST(&r->completed)) != NULL) {
		TAILQ_REMOVE(&r->completed, q, link);
		q->state = Q_DONE;
		q->done(q);
	}
}

static answer_security
security_of(const mx_resolver *r, int sec)
{
	if (sec == 1)
		return SEC_BOGUS;
	if (!r->validating)
		return SEC_UNKNOWN;
	return sec == 2 ? SEC_SECURE : SEC_INSECURE;
}

answer_security
resolver_security(const mx_resolver *r, int sec)
{
	return security_of(r, sec);
}

struct ub_ctx *
resolver_unbound(mx_resolver *r)
{
	return r->ub;
}

/* libunbound's callback: the packet lives only for this call, so parse now. */
static void
on_answer(void *arg, int rcode, void *packet, int len, int sec, char *why_bogus, int ratelimited)
{
	struct query *q = arg;
	mx_resolver *r = q->resolver;
	char why[128];

	(void)ratelimited;
	if (sec == 1) {
		answer_set_failure(
		    &q->answer, why_bogus ? why_bogus : "DNSSEC validation failed", false);
	} else if (packet == NULL || len <= 0 || (rcode != 0 && rcode != 3)) {
		/* libunbound: "do not inspect [the packet] if rcode != 0"; on
		 * failures it may hold an unrelated earlier reply. */
		snprintf(why, sizeof(why), "the resolver answered %s",
		    rcode == 2       ? "SERVFAIL"
			: rcode == 5 ? "REFUSED"
				     : "an error");
		answer_set_failure(&q->answer, why, false);
	} else if (answer_parse(packet, (size_t)len, q->name, q->qtype, &q->answer) != MX_OK) {
		answer_set_failure(&q->answer, "out of memory", false);
	}
	q->answer.security = security_of(r, sec);
	resolver_answered(r, q);
}

static void
resolver_answered(mx_resolver *r, struct query *q)
{
	r->inflight--;
	complete(r, q);
}

/* The stub transport's way back (stub_new). */
static void
transport_answered(void *arg, struct query *q)
{
	resolver_answered(arg, q);
}

static void
put_on_wire(mx_resolver *r, struct query *q)
{
	q->state = Q_ON_WIRE;
	r->inflight++;
	r->asked++;
	if (r->stub != NULL) {
		stub_send(r->stub, q);
		return;
	}
	if (ub_resolve_event(r->ub, q->name, q->qtype, 1, q, on_answer, &q->async_id) != 0) {
		r->inflight--;
		answer_set_failure(&q->answer, "the resolver could not send the query", false);
		complete(r, q);
	}
}

static void
start_waiting(mx_resolver *r)
{
	struct query *q;

	while (r->inflight < r->max_inflight && (q = TAILQ_FIRST(&r->waiting)) != NULL) {
		TAILQ_REMOVE(&r->waiting, q, link);
		put_on_wire(r, q);
	}
}

void
resolver_submit(mx_resolver *r, struct query *q)
{
	memset(&q->answer, 0, sizeof(q->answer));
	q->resolver = r;
	q->async_id = 0;
	q->state = Q_WAITING;
	TAILQ_INSERT_TAIL(&r->waiting, q, link);
	start_waiting(r);
}

void
resolver_cancel(mx_resolver *r, struct query *q)
{
	switch (q->state) {
	case Q_WAITING: TAILQ_REMOVE(&r->waiting, q, link); break;
	case Q_ON_WIRE:
		if (r->stub != NULL)
			stub_cancel(r->stub, q);
		else
			ub_cancel(r->ub, q->async_id);
		r->inflight--;
		break;
	case Q_COMPLETED:
		/* Its answer stays in q->answer for the caller to use or clear. */
		TAILQ_REMOVE(&r->completed, q, link);
		break;
	default: break;
	}
	q->state = Q_IDLE;
}

mx_err
mx_resolver_run(mx_resolver *r)
{
	if (r == NULL)
		return MX_ERR_INVALID;
	while (r->lookups > 0)
		if (event_base_loop(r->base, EVLOOP_ONCE) < 0)
			return MX_ERR_SYSTEM;
	return MX_OK;
}

mx_err
mx_resolver_run_once(mx_resolver *r)
{
	if (r == NULL)
		return MX_ERR_INVALID;
	if (r->lookups == 0)
		return MX_OK;
	return event_base_loop(r->base, EVLOOP_ONCE) < 0 ? MX_ERR_SYSTEM : MX_OK;
}
