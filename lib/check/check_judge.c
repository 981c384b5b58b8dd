/*
 * check_judge.c - turns what a live `mx check` gathered into findings:
 * the MX rules (check_rules.c) over the resolver's view, corrected by
 * the authoritative servers' exact TTLs; mx-inconsistent; TLSA without
 * DNSSEC; forward-confirmed reverse DNS; SPF/DMARC/MTA-STS/TLS-RPT
 * (check_policy.c); the probes (check_smtp.c).  No I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_findings.h"
#include "check_judge.h"
#include "check_policy.h"
#include "check_rules.h"
#include "check_smtp.h"
#include "records.h"
#include "strbuf.h"

static int
auth_cmp(const void *a, const void *b)
{
	const struct dns_auth_mx *x = a, *y = b;
	int d = strcmp(x->ns_name, y->ns_name);

	if (d != 0)
		return d;
	if (x->server.family != y->server.family)
		return x->server.family < y->server.family ? -1 : 1;
	return memcmp(x->server.bytes, y->server.bytes, sizeof(x->server.bytes));
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The servers and the PTR names come in the order the resolver rotated
 * them into: put into one, so that the evidence (and which server is the
 * reference) is the same on every run. */
static void
order_answers(struct check_live *l)
{
	qsort(l->auth, l->n_auth, sizeof(l->auth[0]), auth_cmp);
	for (size_t i = 0; i < l->n_ptrs; i++)
		qsort(l->ptrs[i].names, l->ptrs[i].n_names, sizeof(l->ptrs[i].names[0]), name_cmp);
}

/* "top 3 + a 4 + b 2 ...": the domain's own record first, then the
 * records it led to by name, whatever order they answered in. */
static void
spf_trail(struct check_live *l)
{
	size_t order[SPF_FETCH_MAX], n = 0;
	struct strbuf sb;

	for (size_t i = 0; i < l->n_spf_names && i < SPF_FETCH_MAX; i++)
		if (l->spf_terms[i] > 0)
			order[n++] = i;
	for (size_t i = 1; i < n; i++) /* insertion sort by name, entry 0 first */
		for (size_t j = i;
		     j > 1 && strcmp(l->spf_names[order[j - 1]], l->spf_names[order[j]]) > 0; j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	strbuf_init(&sb, l->spf_trail, sizeof(l->spf_trail));
	for (size_t k = 0; k < n; k++)
		strbuf_printf(&sb, "%s%s %d", k ? " + " : "", l->spf_names[order[k]],
		    l->spf_terms[order[k]] - 1);
}

static const struct dns_auth_mx *
first_answer(const struct check_live *l)
{
	for (size_t i = 0; i < l->n_auth; i++)
		if (l->auth[i].answered && l->auth[i].authoritative && l->auth[i].rcode == 0)
			return &l->auth[i];
	return NULL;
}

static void
evidence_auth(struct mx_finding *fd, const struct dns_auth_mx *x)
{
	char line[CHECK_EVIDENCE_TEXT];
	struct strbuf sb;

	if (!x->answered) {
		check_evidence(fd, "%s (%s): %s", x->ns_name, x->server.text, x->why);
		return;
	}
	/* names up to NAME_TEXT_MAX and CHECK_MX_MAX records do not fit a line:
	 * the appender cuts it, visibly */
	strbuf_init(&sb, line, sizeof(line));
	strbuf_printf(&sb, "%s (%s):", x->ns_name, x->server.text);
	if (x->n == 0)
		strbuf_printf(&sb, " %s", x->rcode == 3 ? "NXDOMAIN" : "no MX records");
	for (size_t i = 0; i < x->n && !sb.truncated; i++)
		strbuf_printf(&sb, " MX %u %s%s (TTL %u)%s", x->mx[i].pref, x->mx[i].exchange,
		    x->mx[i].is_null ? "" : ".", x->mx[i].ttl, i + 1 < x->n ? ";" : "");
	check_evidence(fd, "%s", line);
}

/* The servers' own TTLs: a resolver counts them down and evens them out. */
static void
use_auth_ttls(struct check_live *l, const struct dns_auth_mx *x)
{
	for (size_t i = 0; i < l->facts.n_mx; i++)
		for (size_t j = 0; j < x->n; j++)
			if (l->facts.mx[i].pref == x->mx[j].pref &&
			    strcmp(l->facts.mx[i].exchange, x->mx[j].exchange) == 0)
				l->facts.mx[i].ttl = x->mx[j].ttl;
}

static void
judge_auth(struct check_live *l)
{
	const struct dns_auth_mx *ref = first_answer(l);
	struct mx_finding *fd;
	bool differ = false;

	for (size_t i = 0; i < l->n_auth; i++) {
		const struct dns_auth_mx *x = &l->auth[i];
		if (!x->answered)
			check_add_untested(l->c, "mx-inconsistent", "%s (%s) did not answer: %s",
			    x->ns_name, x->server.text, x->why);
		else if (!x->authoritative)
			check_add_untested(l->c, "mx-inconsistent",
			    "%s (%s) answered without "
			    "authority (a lame delegation, or a referral)",
			    x->ns_name, x->server.text);
	}
	if (ref == NULL)
		return;
	/* Each record's TTL from every server that serves it, not the first
	 * one only: with a stale server, the resolver's set may be either. */
	for (size_t i = l->n_auth; i-- > 0;)
		if (l->auth[i].answered && l->auth[i].authoritative && l->auth[i].rcode == 0)
			use_auth_ttls(l, &l->auth[i]);
	/* Only authoritative answers count: TTLs never do (dns_mx_same). */
	for (size_t i = 0; i < l->n_auth; i++)
		if (l->auth[i].answered && l->auth[i].authoritative &&
		    !dns_mx_same(ref, &l->auth[i]))
			differ = true;
	if (!differ)
		return;
	fd = check_add(l->c, "mx-inconsistent", MX_SEVERITY_ERROR, 0,
	    "the authoritative servers of %s give different MX records: senders "
	    "get one or the other; bring the stale server up to date (zone "
	    "transfers, serial numbers)",
	    l->c->domain);
	for (size_t i = 0; i < l->n_auth; i++)
		evidence_auth(fd, &l->auth[i]);
}

static void
judge_dane(struct check_live *l)
{
	struct mx_finding *fd;

	for (size_t i = 0; i < l->facts.n_targets; i++) {
		const struct live_target *lt = &l->targets[i];
		const char *name = l->facts.targets[i].name;
		bool mx_insecure = l->mx_security == SEC_INSECURE;
		if (lt->n_tlsa == 0 || (lt->tlsa_security != SEC_INSECURE && !mx_insecure))
			continue;
		fd = check_add(l->c, "dane-tlsa-insecure", MX_SEVERITY_WARNING, 0,
		    "%s publishes TLSA records but %s is not signed with DNSSEC, so "
		    "senders ignore them (RFC 7672 2.2); sign the zone or drop the TLSA "
		    "records",
		    name, lt->tlsa_security == SEC_INSECURE ? "the TLSA RRset" : "the MX RRset");
		check_evidence(fd, "_25._tcp.%s. TLSA: %zu record(s), DNSSEC %s", name, lt->n_tlsa,
		    lt->tlsa_security == SEC_SECURE ? "secure" : "insecure");
		check_evidence(fd, "%s. MX: DNSSEC %s", l->c->domain,
		    l->mx_security == SEC_SECURE ? "secure" : "insecure");
	}
}

static void
judge_ptr(struct check_live *l)
{
	struct mx_finding *fd;

	for (size_t i = 0; i < l->n_ptrs; i++) {
		const struct live_ptr *p = &l->ptrs[i];
		const char *host = l->facts.targets[p->target].name;
		if (!p->answered) {
			check_add_untested(l->c, "ptr", "reverse DNS of %s: %s", p->addr.text,
			    p->why[0] ? p->why : "no answer in time");
			continue;
		}
		if (p->n_names == 0) {
			fd = check_add(l->c, "ptr-missing", MX_SEVERITY_WARNING, 0,
			    "the MX address %s (%s) has no reverse DNS (PTR): many receivers "
			    "distrust mail from it; ask the address's owner for a PTR "
			    "record naming %s",
			    p->addr.text, host, host);
			check_evidence(fd, "PTR %s: no records", p->addr.text);
			continue;
		}
		if (p->confirmed)
			continue;
		fd = check_add(l->c, "ptr-mismatch", MX_SEVERITY_WARNING, 0,
		    "the reverse DNS of the MX address %s (%s) names %s, which does not "
		    "resolve back to %s (not forward-confirmed); make the PTR name's "
		    "A/AAAA include the address",
		    p->addr.text, host, p->names[0], p->addr.text);
		for (size_t j = 0; j < p->n_names; j++)
			check_evidence(fd, "PTR %s: %s.", p->addr.text, p->names[j]);
	}
}

static void
judge_targets_untested(struct check_live *l)
{
	for (size_t i = 0; i < l->facts.n_targets; i++) {
		const struct check_target *t = &l->facts.targets[i];
		if (t->state == TARGET_TEMPFAIL)
			check_add_untested(l->c, "mx-no-address", "%s: %s", t->name,
			    t->why[0] ? t->why : "no answer in time");
	}
}

static void
judge_spf_chain(struct check_live *l)
{
	struct mx_finding *fd;

	if (l->spf_bad_include[0] == '\0')
		return;
	fd = check_add(l->c, "spf-invalid", MX_SEVERITY_ERROR, 0,
	    "the SPF record of %s includes or redirects to a name that gives no "
	    "usable SPF policy (%s): receivers answer permerror",
	    l->c->domain, l->spf_bad_include);
	check_evidence(fd, "%s", l->spf_bad_include);
}

void
check_live_judge(struct check_live *l)
{
	mx_check *c = l->c;
	char trail[1100];

	/* TARGET_UNKNOWN: the MX question had no answer before the deadline. */
	if ((l->facts.mx_state == TARGET_TEMPFAIL || l->facts.mx_state == TARGET_UNKNOWN) &&
	    !l->mx_bogus) {
		c->tempfail = true;
		snprintf(c->tempfail_why, sizeof(c->tempfail_why),
		    "the MX lookup of %.253s failed: %.200s", c->domain,
		    l->mx_why[0] ? l->mx_why : "no answer in time");
		return;
	}
	order_answers(l);
	judge_auth(l);
	if (!l->mx_bogus)
		check_rules_mx(c, &l->facts);
	judge_targets_untested(l);
	judge_dane(l);
	judge_ptr(l);
	spf_trail(l);
	snprintf(trail, sizeof(trail), "DNS-querying terms: %s = %d", l->spf_trail, l->spf_lookups);
	/* A domain that does not exist has no policy records to judge. */
	if (l->facts.mx_state != TARGET_NXDOMAIN) {
		check_rules_policy(c, &l->txts,
		    l->spf_incomplete && l->spf_lookups <= 10 ? -1 : l->spf_lookups, trail);
		judge_spf_chain(l);
	}
	check_smtp_judge(l);
	if (l->out_of_tickets)
		check_add_untested(c, "dns",
		    "more questions than one check asks at once "
		    "(%d): some were not asked",
		    LIVE_TICKETS_MAX);
	if (l->timed_out)
		check_add_untested(c, "deadline",
		    "some questions had no answer within "
		    "the check's time limit (--timeout)");
	/* answers and probes finish in any order: the report must not */
	check_sort(c);
}
