/*
 * check_live.c - a live `mx check`: gathers the facts through the
 * resolver (libunbound, validating) in four phases, each started when
 * every question of the previous one has called back:
 *   1. MX, A and AAAA of the domain; TXT of the domain, _dmarc,
 *      _mta-sts, _smtp._tls; SOA (to find the zone apex)
 *   2. A, AAAA and TLSA of each MX target; SPF include/redirect chain;
 *      NS of the apex; the MTA-STS host's address
 *   3. PTR of each MX address and the forward lookup of its names; the
 *      NS hosts' addresses; the SMTP/TLS probes (probe.c); the MTA-STS
 *      policy fetch
 *   4. the MX RRset from each authoritative server, recursion off
 *      (check_auth.c, c-ares on the same loop)
 * then judges (check_rules.c, check_policy.c, check_smtp.c) and calls
 * back from the loop.  One deadline bounds the whole run: what has not
 * answered by then is cancelled and listed as untested.  Owns every
 * question it asks until it answers or is cancelled.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mstime.h"
#include "check_auth.h"
#include "check_dns.h"
#include "check_findings.h"
#include "check_probes.h"
#include "check_judge.h"
#include "check_live.h"
#include "check_policy.h"
#include "check_rules.h"
#include "check_smtp.h"
#include "check_state.h"
#include "check_ticket.h"
#include "why.h"
#include "https_get.h"
#include "name.h"
#include "query.h"
#include "records.h"
#include "resolver.h"
#include "strbuf.h"

#define RR_TYPE_NS  2
#define RR_TYPE_SOA 6
#define RR_TYPE_PTR 12
#define RR_TYPE_TXT 16

/* ---- tickets (check_ticket.c): cancelling the outstanding ones --------- */

static void
ticket_cancel(struct ticket *t)
{
	switch (t->kind) {
	case TICKET_ONESHOT: oneshot_cancel(t->handle); break;
	case TICKET_RAW: rawquery_cancel(t->handle); break;
	case TICKET_PROBE: shared_probe_cancel(t->handle); break;
	case TICKET_HTTPS: https_get_cancel(t->handle); break;
	case TICKET_AUTH: auth_cancel(t->handle); break;
	case TICKET_FREE: break;
	}
	t->kind = TICKET_FREE;
	t->handle = NULL;
}

static void
ask(struct check_live *l, const char *name, uint16_t qtype, oneshot_cb cb, size_t i, size_t j)
{
	struct ticket *t = live_ticket_new(l, TICKET_ONESHOT, i, j);
	struct oneshot *o;

	if (t == NULL)
		return;
	if (oneshot_start(l->c->resolver, name, qtype, l->c->timeout_ms, cb, t, &o) != MX_OK) {
		l->pending--;
		t->kind = TICKET_FREE;
		check_add_untested(l->c, "dns", "could not ask %s", name);
		return;
	}
	t->handle = o;
}

static void
ask_raw(struct check_live *l, const char *name, uint16_t qtype, rawquery_cb cb, size_t i, size_t j)
{
	struct ticket *t = live_ticket_new(l, TICKET_RAW, i, j);
	struct rawquery *q;

	if (t == NULL)
		return;
	if (rawquery_start(l->c->resolver, name, qtype, l->c->timeout_ms, cb, t, &q) != MX_OK) {
		l->pending--;
		t->kind = TICKET_FREE;
		check_add_untested(l->c, "dns", "could not ask %s", name);
		return;
	}
	t->handle = q;
}

/* ---- phase 1: the domain ---------------------------------------------- */

static void
note_bogus(struct check_live *l, const char *name, const char *type, const char *why)
{
	struct mx_finding *fd;

	if (l->n_bogus_noted >= 8)
		return;
	l->n_bogus_noted++;
	fd = check_add(l->c, "dnssec-bogus", MX_SEVERITY_ERROR, 0,
	    "the %s records of %s fail DNSSEC validation: validating resolvers "
	    "refuse them and mail to the domain stalls; fix the signatures "
	    "(re-sign the zone, check the DS at the parent)",
	    type, name);
	check_evidence(fd, "%s. %s: %s", name, type, why && *why ? why : "bogus");
}

static void
on_mx(const struct answer *a, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;
	struct check_facts *f = &l->facts;

	l->mx_security = a->security;
	if (a->security == SEC_BOGUS) {
		note_bogus(l, l->c->domain, "MX", answer_why(a));
		f->mx_state = TARGET_TEMPFAIL;
		l->mx_bogus = true;
	} else if (a->kind == ANSWER_TEMPFAIL) {
		f->mx_state = TARGET_TEMPFAIL;
		snprintf(l->mx_why, sizeof(l->mx_why), "%s", answer_why(a));
	} else if (a->kind == ANSWER_NXDOMAIN) {
		f->mx_state = TARGET_NXDOMAIN;
	} else if (a->kind == ANSWER_NODATA || a->n_mx == 0) {
		f->mx_state = TARGET_NODATA;
	} else {
		f->mx_state = TARGET_ADDRESSES;
		for (size_t i = 0; i < a->n_mx && f->n_mx < CHECK_MX_MAX; i++) {
			struct check_mx *m = &f->mx[f->n_mx++];
			m->pref = a->mx[i].preference;
			m->ttl = a->mx[i].ttl;
			m->is_null = a->mx[i].is_null;
			m->bad_name = a->mx[i].bad_name;
			snprintf(m->exchange, sizeof(m->exchange), "%s",
			    m->is_null ? "." : a->mx[i].exchange);
		}
		check_mx_sort(f->mx, f->n_mx);
	}
	live_ticket_done(t);
}

static int
addr_cmp(const void *a, const void *b)
{
	const struct ip_addr *x = a, *y = b;

	if (x->family != y->family)
		return x->family == AF_INET ? -1 : 1;
	return memcmp(x->bytes, y->bytes, sizeof(x->bytes));
}

/* Kept in one order (IPv4 first, then by value), not the order the
 * resolver rotates them into, so findings name the same address each run. */
static void
add_addrs(struct check_target *t, const struct answer *a)
{
	for (size_t i = 0; i < a->n_addrs && t->n_addrs < CHECK_ADDRS_MAX; i++)
		t->addrs[t->n_addrs++] = a->addrs[i];
	qsort(t->addrs, t->n_addrs, sizeof(t->addrs[0]), addr_cmp);
}

static void
on_self_addr(const struct answer *a, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;

	if (a->kind == ANSWER_RECORDS && a->n_addrs > 0) {
		l->facts.self_state = TARGET_ADDRESSES;
		l->facts.n_self_addrs += a->n_addrs;
	}
	live_ticket_done(t);
}

static void
on_txt(const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;
	struct check_txts *slots[] = { &l->txts.spf, &l->txts.dmarc, &l->txts.mta_sts,
		&l->txts.tlsrpt };
	struct check_txts *out = slots[t->i];

	if (sec == SEC_BOGUS) {
		note_bogus(l, l->txt_names[t->i], "TXT", why);
		rcode = -1;
	}
	dns_txts(wire, len, rcode, why, out);
	live_ticket_done(t);
}

static void
on_soa(const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;

	(void)rcode;
	(void)sec;
	(void)why;
	if (!dns_soa_owner(wire, len, l->apex, sizeof(l->apex)))
		l->apex[0] = '\0';
	live_ticket_done(t);
}

static void
phase_domain(struct check_live *l)
{
	const char *d = l->c->domain;
	static const char *const prefixes[] = { "", "_dmarc.", "_mta-sts.", "_smtp._tls." };

	ask(l, d, RR_TYPE_MX, on_mx, 0, 0);
	ask(l, d, RR_TYPE_A, on_self_addr, 0, 0);
	ask(l, d, RR_TYPE_AAAA, on_self_addr, 0, 0);
	for (size_t i = 0; i < 4; i++) {
		snprintf(l->txt_names[i], sizeof(l->txt_names[i]), "%s%s", prefixes[i], d);
		ask_raw(l, l->txt_names[i], RR_TYPE_TXT, on_txt, i, 0);
	}
	ask_raw(l, d, RR_TYPE_SOA, on_soa, 0, 0);
}

/* ---- phase 2: the MX targets, SPF includes, NS, MTA-STS host ------------ */

static void
on_target_addr(const struct answer *a, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;
	struct check_target *tg = &l->facts.targets[t->i];
	struct live_target *lt = &l->targets[t->i];

	if (a->security == SEC_BOGUS)
		note_bogus(l, tg->name, t->j == 0 ? "A" : "AAAA", answer_why(a));
	lt->answered[t->j] = true;
	lt->kind[t->j] = a->kind;
	lt->secure[t->j] = a->security == SEC_SECURE;
	if (a->cname_hops > 0 && answer_canonical(a)[0] != '\0' &&
	    strcmp(answer_canonical(a), tg->name) != 0) {
		tg->is_cname = true;
		snprintf(tg->cname, sizeof(tg->cname), "%s", answer_canonical(a));
	}
	if (a->kind == ANSWER_TEMPFAIL)
		snprintf(tg->why, sizeof(tg->why), "%s", answer_why(a));
	add_addrs(tg, a);
	live_ticket_done(t);
}

static void
on_tlsa(const struct answer *a, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;
	struct live_target *lt = &l->targets[t->i];

	if (a->security == SEC_BOGUS)
		note_bogus(l, l->facts.targets[t->i].name, "TLSA", answer_why(a));
	lt->tlsa_security = a->security;
	for (size_t i = 0; i < a->n_tlsa && lt->n_tlsa < LIVE_TLSA_MAX; i++) {
		const struct answer_tlsa *r = &a->tlsa[i];
		if (r->too_long)
			continue;
		memcpy(lt->tlsa_data[lt->n_tlsa], r->data, r->len);
		lt->tlsa[lt->n_tlsa] = (struct tls_tlsa){ r->usage, r->selector, r->mtype,
			lt->tlsa_data[lt->n_tlsa], r->len };
		lt->n_tlsa++;
	}
	live_ticket_done(t);
}

static void
target_state(struct check_target *tg, const struct live_target *lt)
{
	if (tg->n_addrs > 0)
		tg->state = TARGET_ADDRESSES;
	else if (lt->kind[0] == ANSWER_TEMPFAIL || lt->kind[1] == ANSWER_TEMPFAIL ||
	    !lt->answered[0] || !lt->answered[1])
		tg->state = TARGET_TEMPFAIL;
	else if (lt->kind[0] == ANSWER_NXDOMAIN)
		tg->state = TARGET_NXDOMAIN;
	else
		tg->state = TARGET_NODATA;
}

static void spf_fetch(struct check_live *l, const char *name, size_t parent);

/*
 * One record of the SPF chain: its DNS-querying terms are added up and
 * its include/redirect targets fetched.  top: the domain's own record,
 * which check_policy.c judges by itself (entry 0 of spf_names); self: its
 * entry, the parent of what it names.
 */
/* The record's count, for the evidence the judge writes (check_judge.c
 * orders it: answers arrive in any order).  Stored plus one: 0 is "none". */
static void
spf_trail_add(struct check_live *l, size_t self, unsigned terms)
{
	if (self < SPF_FETCH_MAX)
		l->spf_terms[self] = (int)terms + 1;
}

static void
spf_visit(
    struct check_live *l, const char *name, const struct check_txts *txts, bool top, size_t self)
{
	struct record_problems pr = { 0 };
	struct spf_record spf;
	const struct check_txt *rec = NULL;
	size_t n = 0;

	for (size_t i = 0; i < txts->n; i++)
		if (spf_is_record(txts->t[i].text, txts->t[i].len)) {
			rec = &txts->t[i];
			n++;
		}
	if (txts->state == TARGET_TEMPFAIL) {
		l->spf_incomplete = true;
		return;
	}
	if (n != 1) {
		if (!top && l->spf_bad_include[0] == '\0')
			snprintf(l->spf_bad_include, sizeof(l->spf_bad_include),
			    "%s has %s SPF record", name, n == 0 ? "no" : "more than one");
		return;
	}
	if (spf_parse(rec->text, rec->len, &spf, &pr) != 0) {
		l->spf_incomplete = true;
		return;
	}
	if (top && l->n_spf_names < SPF_FETCH_MAX) {
		self = l->n_spf_names;
		l->spf_parent[self] = self;
		snprintf(l->spf_names[l->n_spf_names++], NAME_TEXT_MAX, "%s", name);
	}
	l->spf_lookups += (int)spf.lookup_terms;
	spf_trail_add(l, self, spf.lookup_terms);
	if (spf.has_macros)
		l->spf_incomplete = true;
	for (size_t i = 0; i < spf.n_includes; i++)
		spf_fetch(l, spf.includes[i], self);
	if (spf.redirect[0] != '\0')
		spf_fetch(l, spf.redirect, self);
}

static void
on_spf_txt(
    const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;
	struct check_txts *txts = malloc(sizeof(*txts));

	(void)sec;
	if (txts != NULL) {
		dns_txts(wire, len, rcode, why, txts);
		spf_visit(l, l->spf_names[t->i], txts, false, t->i);
		free(txts);
	}
	live_ticket_done(t);
}

/* Whether name is the record at i or one of those that led to it. */
static bool
spf_ancestor(const struct check_live *l, size_t i, const char *name)
{
	for (size_t hops = 0; hops <= SPF_FETCH_MAX; hops++) {
		if (name_equal(l->spf_names[i], name))
			return true;
		if (l->spf_parent[i] == i)
			return false;
		i = l->spf_parent[i];
	}
	return false;
}

static void
spf_fetch(struct check_live *l, const char *name, size_t parent)
{
	if (l->n_spf_names > 0 && spf_ancestor(l, parent, name)) {
		/* evaluators recurse until they pass the limit: permerror */
		if (l->spf_bad_include[0] == '\0')
			snprintf(l->spf_bad_include, sizeof(l->spf_bad_include),
			    "%.253s includes itself through %.253s (a loop)", name,
			    l->spf_names[parent]);
		return;
	}
	for (size_t i = 0; i < l->n_spf_names; i++)
		if (name_equal(l->spf_names[i], name))
			return; /* named twice, not in a loop: counted once (an undercount) */
	if (l->n_spf_names == SPF_FETCH_MAX) {
		l->spf_incomplete = true;
		return;
	}
	l->spf_parent[l->n_spf_names] = parent;
	snprintf(l->spf_names[l->n_spf_names], NAME_TEXT_MAX, "%s", name);
	ask_raw(l, name, RR_TYPE_TXT, on_spf_txt, l->n_spf_names++, 0);
}

static void
on_ns(const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;

	(void)sec;
	(void)why;
	if (rcode == 0)
		l->n_ns = dns_names(wire, len, RR_TYPE_NS, l->ns_names, LIVE_NS_MAX);
	live_ticket_done(t);
}

static void
on_sts_host(const struct answer *a, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;

	if (a->kind == ANSWER_RECORDS && a->n_addrs > 0) {
		l->sts_addr = a->addrs[0];
		l->sts_have_addr = true;
	}
	live_ticket_done(t);
}

static void
add_target(struct check_live *l, const char *name)
{
	struct check_facts *f = &l->facts;
	struct check_target *tg;
	char owner[NAME_TEXT_MAX + 16];
	size_t i = f->n_targets;

	if (check_facts_target(f, name) != NULL || f->n_targets == CHECK_MX_MAX)
		return;
	tg = &f->targets[f->n_targets++];
	memset(tg, 0, sizeof(*tg));
	snprintf(tg->name, sizeof(tg->name), "%s", name);
	ask(l, name, RR_TYPE_A, on_target_addr, i, 0);
	ask(l, name, RR_TYPE_AAAA, on_target_addr, i, 1);
	snprintf(owner, sizeof(owner), "_25._tcp.%s", name);
	ask(l, owner, RR_TYPE_TLSA, on_tlsa, i, 0);
}

static void
phase_targets(struct check_live *l)
{
	struct check_facts *f = &l->facts;

	for (size_t i = 0; i < f->n_mx; i++) {
		const struct check_mx *m = &f->mx[i];
		if (m->is_null || m->bad_name || name_is_ip_literal(m->exchange) ||
		    name_check_hostname(m->exchange) != NULL)
			continue;
		add_target(l, m->exchange);
	}
	if (l->txts.spf.state == TARGET_ADDRESSES)
		spf_visit(l, l->c->domain, &l->txts.spf, true, 0);
	if (l->apex[0] != '\0')
		ask_raw(l, l->apex, RR_TYPE_NS, on_ns, 0, 0);
	if (check_mta_sts_published(&l->txts.mta_sts)) {
		snprintf(l->sts_host, sizeof(l->sts_host), "mta-sts.%s", l->c->domain);
		ask(l, l->sts_host, RR_TYPE_A, on_sts_host, 0, 0);
	}
}

/* ---- phase 3: reverse DNS, NS addresses, probes, MTA-STS policy --------- */

static void
on_ptr_forward(const struct answer *a, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;
	struct live_ptr *p = &l->ptrs[t->i];

	for (size_t i = 0; i < a->n_addrs; i++)
		if (a->addrs[i].family == p->addr.family &&
		    memcmp(a->addrs[i].bytes, p->addr.bytes, p->addr.family == AF_INET ? 4 : 16) ==
			0)
			p->confirmed = true;
	live_ticket_done(t);
}

static void
on_ptr(const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;
	struct live_ptr *p = &l->ptrs[t->i];

	(void)sec;
	p->answered = rcode == 0 || rcode == 3;
	if (!p->answered)
		snprintf(p->why, sizeof(p->why), "%s", why && *why ? why : "no answer");
	if (rcode == 0)
		p->n_names = dns_names(wire, len, RR_TYPE_PTR, p->names, LIVE_PTR_NAMES);
	for (size_t i = 0; i < p->n_names; i++)
		ask(l, p->names[i], p->addr.family == AF_INET ? RR_TYPE_A : RR_TYPE_AAAA,
		    on_ptr_forward, t->i, i);
	live_ticket_done(t);
}

/* "1.2.0.192.in-addr.arpa" or the ip6.arpa nibbles. */
static void
reverse_name(const struct ip_addr *a, char *out, size_t size)
{
	struct strbuf sb;

	if (a->family == AF_INET) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a->bytes[3], a->bytes[2],
		    a->bytes[1], a->bytes[0]);
		return;
	}
	strbuf_init(&sb, out, size);
	for (int i = 15; i >= 0; i--)
		strbuf_printf(&sb, "%x.%x.", a->bytes[i] & 0xf, a->bytes[i] >> 4);
	strbuf_add(&sb, "ip6.arpa");
}

static void
start_ptrs(struct check_live *l)
{
	for (size_t i = 0; i < l->facts.n_targets; i++) {
		const struct check_target *tg = &l->facts.targets[i];
		for (size_t j = 0; j < tg->n_addrs && l->n_ptrs < LIVE_PTRS_MAX; j++) {
			struct live_ptr *p = &l->ptrs[l->n_ptrs];
			char rev[80];
			memset(p, 0, sizeof(*p));
			p->addr = tg->addrs[j];
			p->target = i;
			reverse_name(&p->addr, rev, sizeof(rev));
			ask_raw(l, rev, RR_TYPE_PTR, on_ptr, l->n_ptrs++, 0);
		}
	}
}

static void
on_ns_addr(const struct answer *a, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;

	for (size_t i = 0; i < a->n_addrs && l->n_auth < LIVE_AUTH_MAX; i++) {
		struct dns_auth_mx *x = &l->auth[l->n_auth++];
		memset(x, 0, sizeof(*x));
		x->server = a->addrs[i];
		memcpy(x->ns_name, l->ns_names[t->i], sizeof(x->ns_name));
	}
	live_ticket_done(t);
}

static void
on_policy(int status, const char *body, size_t len, const char *error, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;

	check_rules_mta_sts_policy(l->c, status, body, len, error, &l->facts);
	live_ticket_done(t);
}

static void
start_policy_fetch(struct check_live *l)
{
	struct ticket *t;
	struct https_get *g;
	struct mx_finding *fd;

	if (l->sts_host[0] == '\0')
		return;
	if (!l->sts_have_addr) {
		fd = check_add(l->c, "mta-sts-invalid", MX_SEVERITY_ERROR, 0,
		    "%s publishes MTA-STS but %s has no address, so senders cannot "
		    "fetch the policy",
		    l->c->domain, l->sts_host);
		check_evidence(fd, "%s. A: no records", l->sts_host);
		return;
	}
	if ((t = live_ticket_new(l, TICKET_HTTPS, 0, 0)) == NULL)
		return;
	if (https_get_start(l->base, l->sts_host, &l->sts_addr, 443, "/.well-known/mta-sts.txt",
		l->c->ca_file, l->c->timeout_ms / 2 + 1, on_policy, t, &g) != MX_OK) {
		l->pending--;
		t->kind = TICKET_FREE;
		check_add_untested(l->c, "mta-sts", "could not start the policy fetch");
		return;
	}
	t->handle = g;
}

static void
phase_reverse(struct check_live *l)
{
	for (size_t i = 0; i < l->facts.n_targets; i++)
		target_state(&l->facts.targets[i], &l->targets[i]);
	start_ptrs(l);
	for (size_t i = 0; i < l->n_ns; i++) {
		ask(l, l->ns_names[i], RR_TYPE_A, on_ns_addr, i, 0);
		ask(l, l->ns_names[i], RR_TYPE_AAAA, on_ns_addr, i, 0);
	}
	start_policy_fetch(l);
	check_smtp_start(l);
}

/* ---- phase 4 and the end ----------------------------------------------- */

static void
on_auth(struct dns_auth_mx *out, void *arg)
{
	struct ticket *t = arg;

	(void)out;
	live_ticket_done(t);
}

/* Every authoritative server at once, each on its own c-ares channel. */
static void
phase_auth(struct check_live *l)
{
	unsigned each = l->c->timeout_ms / 10 < 1000 ? l->c->timeout_ms / 10 + 1 : 1000;

	for (size_t i = 0; i < l->n_auth; i++) {
		struct ticket *t = live_ticket_new(l, TICKET_AUTH, i, 0);
		struct auth_query *q;
		if (t == NULL)
			return;
		if (auth_ask_mx(l->base, &l->auth[i].server, l->auth_port, l->c->domain, each,
			&l->auth[i], on_auth, t, &q) != MX_OK) {
			l->pending--;
			t->kind = TICKET_FREE;
			snprintf(l->auth[i].why, sizeof(l->auth[i].why), "could not ask it");
			continue;
		}
		t->handle = q;
	}
}

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct check_live *l = arg;
	mx_check *c = l->c;

	(void)fd;
	(void)what;
	c->live = NULL;
	resolver_lookup_add(c->resolver, -1);
	check_live_free(l);
	if (c->cb != NULL)
		c->cb(c, c->cb_arg);
}

static void
finish(struct check_live *l)
{
	struct timeval now = { 0, 0 };

	l->finishing = true;
	for (size_t k = 0; k < LIVE_TICKETS_MAX; k++)
		if (l->tickets[k].kind != TICKET_FREE) {
			ticket_cancel(&l->tickets[k]);
			l->timed_out = true;
		}
	l->pending = 0;
	/* Targets the deadline caught before phase 3 judged their answers. */
	for (size_t i = 0; i < l->facts.n_targets; i++)
		if (l->facts.targets[i].state == TARGET_UNKNOWN)
			target_state(&l->facts.targets[i], &l->targets[i]);
	check_live_judge(l);
	evtimer_add(l->finish_ev, &now);
}

static void
next_phase(struct check_live *l)
{
	for (;;) {
		l->phase++;
		switch (l->phase) {
		case 2:
			if (l->facts.mx_state == TARGET_TEMPFAIL && !l->mx_bogus) {
				finish(l);
				return;
			}
			phase_targets(l);
			break;
		case 3: phase_reverse(l); break;
		case 4: phase_auth(l); break;
		default: finish(l); return;
		}
		if (l->pending > 0)
			return;
	}
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct check_live *l = arg;

	(void)fd;
	(void)what;
	if (!l->finishing)
		finish(l);
}

void
check_live_free(struct check_live *l)
{
	if (l == NULL)
		return;
	for (size_t k = 0; k < LIVE_TICKETS_MAX; k++)
		ticket_cancel(&l->tickets[k]);
	if (l->deadline != NULL)
		event_free(l->deadline);
	if (l->finish_ev != NULL)
		event_free(l->finish_ev);
	free(l);
}

void
check_live_cancel(struct check_live *l)
{
	if (l == NULL)
		return;
	l->c->live = NULL;
	resolver_lookup_add(l->c->resolver, -1);
	check_live_free(l);
}

mx_err
check_live_start(mx_check *c, const char *domain, mx_why *why)
{
	struct timeval tv = ms_timeval(c->timeout_ms);
	struct check_live *l;
	mx_err err;

	if ((err = resolver_ready(c->resolver, why)) != MX_OK)
		return err;
	if (resolver_unbound(c->resolver) == NULL)
		return why_set(why, MX_ERR_INVALID, "a check needs the unbound transport");
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	l->c = c;
	l->base = resolver_base(c->resolver);
	l->auth_port = 53;
	l->phase = 1;
	l->on_idle = next_phase;
	snprintf(l->facts.domain, sizeof(l->facts.domain), "%s", domain);
	l->deadline = evtimer_new(l->base, on_deadline, l);
	l->finish_ev = evtimer_new(l->base, finish_cb, l);
	if (l->deadline == NULL || l->finish_ev == NULL || evtimer_add(l->deadline, &tv) != 0) {
		check_live_free(l);
		return why_set(why, MX_ERR_SYSTEM, "no timer from the event loop");
	}
	c->live = l;
	resolver_lookup_add(c->resolver, 1);
	phase_domain(l);
	if (l->pending == 0)
		finish(l);
	return MX_OK;
}
