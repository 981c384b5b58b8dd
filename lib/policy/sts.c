/*
 * sts.c - the MTA-STS policy in force for one domain (sts.h): TXT, then
 * the cache, then, when the cache cannot answer, the fetch, in that order
 * on the resolver's loop.  RFC 8461 5.1: a cached, unexpired policy is
 * used while the TXT id is unchanged; a new id (or none cached) means a
 * fetch; a fetch that fails leaves an unexpired cached policy in force; no
 * TXT record and nothing cached means no policy.  It writes only the
 * cache (sts_cache.c) and never touches a mail host.
 */
#include <event2/event.h>
/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * and this file's structs would disagree with every other file's. */
#include <stdbool.h>
#include <ldns/ldns.h>
_Static_assert((bool)2 == 1, "bool must be _Bool here: include <stdbool.h> before ldns");
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "resolver.h"
#include "strbuf.h"
#include "sts.h"

#define RR_TYPE_TXT 16
#define TXT_MAX     1024
#define POLICY_PATH "/.well-known/mta-sts.txt"

struct sts_lookup {
	mx_resolver *r;
	struct event_base *base;
	char domain[MX_DOMAIN_MAX + 1];
	char host[MX_DOMAIN_MAX + 16]; /* mta-sts.DOMAIN */
	char *dir, *ca_file;
	unsigned timeout_ms;
	int64_t now;
	sts_cb cb;
	void *arg;
	struct rawquery *txt;
	struct oneshot *addr;
	uint16_t addr_type; /* A first; AAAA when mta-sts.DOMAIN has no A */
	struct https_get *get;
	struct event *later; /* the callback, from the loop */
	char txt_id[STS_ID_MAX + 1];
	struct sts_cached *cached; /* valid and unexpired, or NULL */
	struct sts_cached *fresh;
	struct sts_outcome out;
	bool called;
	bool held; /* counted in the resolver's lookups */
};

const char *
sts_mode_name(enum sts_mode mode)
{
	static const char *const names[] = { "no-policy-found", "none", "testing", "enforce" };

	return (unsigned)mode < 4 ? names[mode] : "unknown";
}

int
policy_txt_pick(
    const uint8_t *wire, size_t len, bool (*is)(const char *, size_t), char *out, size_t size)
{
	ldns_pkt *p = NULL;
	ldns_rr_list *an;
	char text[TXT_MAX];
	int found = 0;

	if (size > 0)
		out[0] = '\0';
	if (wire == NULL || ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return -1;
	an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		size_t n = 0;
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT)
			continue;
		for (size_t j = 0; j < ldns_rr_rd_count(rr); j++) {
			const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(rr, j));
			size_t dn = ldns_rdf_size(ldns_rr_rdf(rr, j));
			for (size_t k = 1; dn > 0 && k <= d[0] && k < dn && n < sizeof(text) - 1;
			     k++)
				text[n++] = (char)d[k];
		}
		text[n] = '\0';
		if (!is(text, n))
			continue;
		if (found++ == 0 && size > 0)
			snprintf(out, size, "%s", text);
	}
	ldns_pkt_free(p);
	return found;
}

bool
sts_host_matches(const struct sts_outcome *o, const char *host)
{
	if (o == NULL || o->policy == NULL)
		return true;
	for (size_t i = 0; i < o->policy->policy.n_mx; i++)
		if (mta_sts_mx_match(o->policy->policy.mx[i], host))
			return true;
	return false;
}

static enum sts_mode
mode_of(const struct sts_cached *c)
{
	if (strcmp(c->policy.mode, "enforce") == 0)
		return STS_MODE_ENFORCE;
	if (strcmp(c->policy.mode, "testing") == 0)
		return STS_MODE_TESTING;
	return STS_MODE_NONE;
}

/* The fetch is no DNS lookup: without this, mx_resolver_run would return
 * while it is still under way. */
static void
release(struct sts_lookup *l)
{
	if (l->held)
		resolver_lookup_add(l->r, -1);
	l->held = false;
}

static void
on_later(evutil_socket_t fd, short what, void *arg)
{
	struct sts_lookup *l = arg;

	(void)fd;
	(void)what;
	if (!l->called) {
		l->called = true;
		release(l);
		l->cb(l, l->arg);
	}
}

/* The outcome is set: the callback runs from the loop, never from inside
 * sts_lookup_start. */
static void
finish(struct sts_lookup *l, const struct sts_cached *policy, const char *source)
{
	struct timeval now = { 0, 0 };

	l->txt = NULL;
	l->addr = NULL;
	l->get = NULL;
	l->out.policy = policy;
	l->out.mode = policy != NULL ? mode_of(policy) : STS_NO_POLICY;
	l->out.source = source;
	evtimer_add(l->later, &now);
}

static void note(struct sts_lookup *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note(struct sts_lookup *l, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, l->out.note, sizeof(l->out.note));
	va_start(ap, fmt);
	strbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
}

/* RFC 8461 5.1: the fetch failed; an unexpired cached policy stays. */
static void
fetch_failed(struct sts_lookup *l, const char *type, const char *why)
{
	l->out.fetch_failure = type;
	snprintf(l->out.fetch_detail, sizeof(l->out.fetch_detail), "%s", why);
	if (l->cached != NULL) {
		note(l,
		    "policy id %s could not be fetched from %s (%s); the cached policy (id %s) "
		    "stays in force until it expires",
		    l->txt_id, l->host, why, l->cached->id);
		finish(l, l->cached, "cached (fetch failed)");
		return;
	}
	note(l, "policy id %s could not be fetched from %s (%s) and none is cached: no policy",
	    l->txt_id, l->host, why);
	finish(l, NULL, "none");
}

static void
keep_fresh(struct sts_lookup *l, const char *body, size_t len)
{
	struct sts_cached *f = l->fresh;

	memset(f, 0, sizeof(*f));
	snprintf(f->domain, sizeof(f->domain), "%s", l->domain);
	snprintf(f->id, sizeof(f->id), "%s", l->txt_id);
	memcpy(f->body, body, len);
	f->body[len] = '\0';
	f->body_len = len;
	f->fetched = l->now;
}

static void
on_policy(int status, const char *body, size_t len, const char *error, void *arg)
{
	struct sts_lookup *l = arg;
	struct record_problems pr = { 0 };
	char why[300];

	l->get = NULL;
	if (error != NULL || status != 200) {
		snprintf(why, sizeof(why), "%s", error ? error : "HTTP status not 200");
		if (error == NULL)
			snprintf(why, sizeof(why), "HTTP status %d", status);
		fetch_failed(l,
		    error != NULL && strncmp(error, "certificate", 11) == 0
			? "sts-webpki-invalid"
			: "sts-policy-fetch-error",
		    why);
		return;
	}
	keep_fresh(l, body, len);
	if (len == 0 || mta_sts_policy_parse(body, len, &l->fresh->policy, &pr) != 0 ||
	    pr.n_fatal > 0) {
		fetch_failed(l, "sts-policy-invalid", pr.n > 0 ? pr.p[0].text : "empty policy");
		return;
	}
	l->fresh->expires = l->now + (l->fresh->policy.max_age > 0 ? l->fresh->policy.max_age : 1);
	if (l->dir != NULL)
		sts_cache_store(l->dir, l->fresh, l->now); /* a cache that fails costs a refetch */
	note(l, "policy id %s fetched from %s: mode %s, max_age %ld", l->txt_id, l->host,
	    l->fresh->policy.mode, l->fresh->policy.max_age);
	finish(l, l->fresh, "fetched");
}

static void
on_addr(const struct answer *a, void *arg)
{
	struct sts_lookup *l = arg;

	l->addr = NULL;
	/* RFC 8461 3.3 names a host, not an address family: a policy host
	 * with only AAAA records is fetched over IPv6. */
	if ((a->kind != ANSWER_RECORDS || a->n_addrs == 0) && l->addr_type == RR_TYPE_A) {
		l->addr_type = RR_TYPE_AAAA;
		if (oneshot_start(
			l->r, l->host, RR_TYPE_AAAA, l->timeout_ms, on_addr, l, &l->addr) != MX_OK)
			fetch_failed(
			    l, "sts-policy-fetch-error", "could not start the address lookup");
		return;
	}
	if (a->kind != ANSWER_RECORDS || a->n_addrs == 0) {
		fetch_failed(l, "sts-policy-fetch-error", "the policy host has no address");
		return;
	}
	if (https_get_start(l->base, l->host, &a->addrs[0], 443, POLICY_PATH, l->ca_file,
		l->timeout_ms, on_policy, l, &l->get) != MX_OK)
		fetch_failed(l, "sts-policy-fetch-error", "could not start the fetch");
}

static void
start_fetch(struct sts_lookup *l)
{
	l->addr_type = RR_TYPE_A;
	if ((l->fresh = malloc(sizeof(*l->fresh))) == NULL ||
	    oneshot_start(l->r, l->host, RR_TYPE_A, l->timeout_ms, on_addr, l, &l->addr) != MX_OK)
		fetch_failed(l, "sts-policy-fetch-error", "could not start the address lookup");
}

/* RFC 8461 3.1: exactly one STSv1 record, and it must parse. */
static void
on_txt(const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg)
{
	struct sts_lookup *l = arg;
	struct record_problems pr = { 0 };
	struct mta_sts_txt txt;
	char text[TXT_MAX];
	int n = rcode == 0 ? policy_txt_pick(wire, len, mta_sts_is_record, text, sizeof(text)) : 0;

	(void)sec;
	l->txt = NULL;
	if (n == 1 && mta_sts_txt_parse(text, strlen(text), &txt, &pr) == 0) {
		snprintf(l->txt_id, sizeof(l->txt_id), "%s", txt.id);
		if (l->cached != NULL && strcmp(l->cached->id, l->txt_id) == 0) {
			note(l, "policy id %s from the cache, valid until %lld", l->txt_id,
			    (long long)l->cached->expires);
			finish(l, l->cached, "cached");
			return;
		}
		start_fetch(l);
		return;
	}
	if (l->cached != NULL) {
		/* RFC 8461 5.1: a record gone (or unreadable) does not end a cached policy. */
		note(l,
		    "no usable _mta-sts record (%s); the cached policy (id %s) stays in force "
		    "until it expires",
		    rcode == 0 ? (n == 0 ? "none" : "invalid")
			       : (why && *why ? why : "lookup failed"),
		    l->cached->id);
		finish(l, l->cached, "cached");
		return;
	}
	note(l, "no MTA-STS policy: %s",
	    rcode == 0 && n == 0 ? "no _mta-sts record"
		: rcode == 3     ? "no _mta-sts record"
		: rcode == 0     ? "the _mta-sts record is invalid"
				 : "the _mta-sts lookup failed");
	finish(l, NULL, "none");
}

/* An unexpired, readable cache entry, or NULL. */
static struct sts_cached *
load_cached(const char *dir, const char *domain, int64_t now)
{
	struct sts_cached *c;

	if (dir == NULL || (c = malloc(sizeof(*c))) == NULL)
		return NULL;
	if (sts_cache_load(dir, domain, c) == MX_OK && c->expires > now)
		return c;
	free(c);
	return NULL;
}

static mx_err
lookup_init(
    struct sts_lookup *l, mx_resolver *r, const char *domain, const char *dir, const char *ca_file)
{
	struct strbuf sb;
	char name[MX_DOMAIN_MAX + 16];

	l->r = r;
	l->base = resolver_base(r);
	snprintf(l->domain, sizeof(l->domain), "%s", domain);
	strbuf_init(&sb, l->host, sizeof(l->host));
	strbuf_printf(&sb, "mta-sts.%s", domain);
	if (sb.truncated || strlen(domain) > MX_DOMAIN_MAX)
		return MX_ERR_INVALID;
	if ((dir != NULL && (l->dir = strdup(dir)) == NULL) ||
	    (ca_file != NULL && (l->ca_file = strdup(ca_file)) == NULL) ||
	    (l->later = evtimer_new(l->base, on_later, l)) == NULL)
		return MX_ERR_NOMEM;
	l->cached = load_cached(l->dir, domain, l->now);
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	if (rawquery_start(r, name, RR_TYPE_TXT, l->timeout_ms, on_txt, l, &l->txt) != MX_OK)
		on_txt(NULL, 0, -1, SEC_UNKNOWN, "the TXT lookup could not start", l);
	return MX_OK;
}

mx_err
sts_lookup_start(mx_resolver *r, const char *domain, const char *dir, const char *ca_file,
    unsigned timeout_ms, int64_t now, sts_cb cb, void *arg, struct sts_lookup **out)
{
	struct sts_lookup *l;
	mx_err err;

	*out = NULL;
	if (r == NULL || domain == NULL || cb == NULL)
		return MX_ERR_INVALID;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return MX_ERR_NOMEM;
	l->timeout_ms = timeout_ms ? timeout_ms : 10000;
	l->now = now;
	l->cb = cb;
	l->arg = arg;
	resolver_lookup_add(r, 1);
	l->held = true;
	if ((err = lookup_init(l, r, domain, dir, ca_file)) != MX_OK) {
		sts_lookup_free(l);
		return err;
	}
	*out = l;
	return MX_OK;
}

const struct sts_outcome *
sts_lookup_outcome(const struct sts_lookup *l)
{
	return &l->out;
}

void
sts_lookup_free(struct sts_lookup *l)
{
	if (l == NULL)
		return;
	release(l);
	rawquery_cancel(l->txt);
	oneshot_cancel(l->addr);
	https_get_cancel(l->get);
	if (l->later != NULL)
		event_free(l->later);
	free(l->cached);
	free(l->fresh);
	free(l->dir);
	free(l->ca_file);
	free(l);
}
