/*
 * check_policy.c - the related-record rules of `mx check`: SPF (RFC 7208),
 * DMARC (RFC 7489), MTA-STS (RFC 8461) and TLS-RPT (RFC 8460), judged
 * from the TXT records gathered (live or from a zone) with the parsers
 * of records.c.  Pure: no I/O; the live gatherer counts SPF lookups
 * through include/redirect and fetches the MTA-STS policy.
 */
#include <stdio.h>
#include <string.h>

#include "check_findings.h"
#include "check_policy.h"
#include "records.h"

typedef bool (*is_record_fn)(const char *txt, size_t len);

/* The records of one kind among a name's TXT records. */
static size_t
select_records(
    const struct check_txts *txts, is_record_fn is, const struct check_txt *out[CHECK_TXTS_MAX])
{
	size_t n = 0;

	for (size_t i = 0; i < txts->n; i++)
		if (is(txts->t[i].text, txts->t[i].len))
			out[n++] = &txts->t[i];
	return n;
}

static void
evidence_txt(struct mx_finding *fd, const char *owner, const struct check_txt *t)
{
	check_evidence(fd, "%s. TXT \"%s\"", owner, t->text);
}

static void
evidence_problems(struct mx_finding *fd, const struct record_problems *pr)
{
	for (size_t i = 0; i < pr->n; i++)
		check_evidence(fd, "%s%s", pr->p[i].fatal ? "" : "warning: ", pr->p[i].text);
}

/* More than one record of a kind: each is ignored by receivers. */
static bool
several(mx_check *c, const char *id, const char *what, const char *owner,
    const struct check_txt **recs, size_t n)
{
	struct mx_finding *fd;

	if (n < 2)
		return false;
	fd = check_add(c, id, MX_SEVERITY_ERROR, recs[1]->line,
	    "%s has %zu %s records; with more than one, receivers use none: "
	    "merge them into one",
	    owner, n, what);
	for (size_t i = 0; i < n; i++)
		evidence_txt(fd, owner, recs[i]);
	return true;
}

/* A failed lookup, or one never answered (the deadline): untested. */
static bool
lookup_failed(mx_check *c, const char *test, const char *owner, const struct check_txts *t)
{
	if (t->state != TARGET_TEMPFAIL && t->state != TARGET_UNKNOWN)
		return false;
	check_add_untested(c, test, "TXT of %s: %s", owner,
	    t->state == TARGET_UNKNOWN ? "no answer in time" : t->why);
	return true;
}

static void
rule_spf(mx_check *c, const struct check_txts *txts, int lookups, const char *count_evidence)
{
	const struct check_txt *recs[CHECK_TXTS_MAX];
	struct record_problems pr = { 0 };
	struct spf_record spf;
	struct mx_finding *fd = NULL;
	size_t n;
	int rc;

	if (lookup_failed(c, "spf", c->domain, txts))
		return;
	if ((n = select_records(txts, spf_is_record, recs)) == 0) {
		fd = check_add(c, "spf-missing", MX_SEVERITY_WARNING, 0,
		    "%s has no SPF record: receivers cannot tell forged mail from it; "
		    "publish one (\"v=spf1 mx -all\", or \"v=spf1 -all\" when it sends no mail)",
		    c->domain);
		check_evidence(fd, "%s. TXT: no record starting \"v=spf1\"", c->domain);
		return;
	}
	if (several(c, "spf-invalid", "SPF", c->domain, recs, n))
		return;
	rc = spf_parse(recs[0]->text, recs[0]->len, &spf, &pr);
	if (rc != 0) {
		fd = check_add(c, "spf-invalid", MX_SEVERITY_ERROR, recs[0]->line,
		    "the SPF record of %s does not parse (%s); receivers treat it as "
		    "a permanent error",
		    c->domain, pr.n ? pr.p[0].text : "syntax error");
	} else if (spf.all == '+') {
		fd = check_add(c, "spf-invalid", MX_SEVERITY_ERROR, recs[0]->line,
		    "the SPF record of %s ends in \"+all\": it authorises every host on "
		    "the Internet to send as the domain; use \"-all\" or \"~all\"",
		    c->domain);
	} else if (lookups > 10) {
		fd = check_add(c, "spf-invalid", MX_SEVERITY_ERROR, recs[0]->line,
		    "the SPF record of %s needs %d DNS lookups counting its includes; "
		    "RFC 7208 4.6.4 allows 10, beyond that receivers answer permerror: "
		    "flatten includes or drop mechanisms",
		    c->domain, lookups);
	}
	if (fd == NULL)
		return;
	evidence_txt(fd, c->domain, recs[0]);
	evidence_problems(fd, &pr);
	if (lookups > 10 && count_evidence != NULL)
		check_evidence(fd, "%s", count_evidence);
}

static void
rule_dmarc(mx_check *c, const struct check_txts *txts)
{
	const struct check_txt *recs[CHECK_TXTS_MAX];
	struct record_problems pr = { 0 };
	struct dmarc_record d;
	struct mx_finding *fd;
	char owner[NAME_TEXT_MAX + 8];
	size_t n;

	snprintf(owner, sizeof(owner), "_dmarc.%s", c->domain);
	if (lookup_failed(c, "dmarc", owner, txts))
		return;
	if ((n = select_records(txts, dmarc_is_record, recs)) == 0) {
		fd = check_add(c, "dmarc-missing", MX_SEVERITY_WARNING, 0,
		    "%s has no DMARC record: receivers get no policy for mail that fails "
		    "SPF and DKIM; publish \"v=DMARC1; p=none; rua=mailto:...\" at %s",
		    c->domain, owner);
		check_evidence(fd, "%s. TXT: no record starting \"v=DMARC1\"", owner);
		return;
	}
	if (several(c, "dmarc-invalid", "DMARC", owner, recs, n))
		return;
	if (dmarc_parse(recs[0]->text, recs[0]->len, &d, &pr) == 0)
		return;
	fd = check_add(c, "dmarc-invalid", MX_SEVERITY_ERROR, recs[0]->line,
	    "the DMARC record of %s is invalid (%s); receivers ignore it", c->domain,
	    pr.n ? pr.p[0].text : "syntax error");
	evidence_txt(fd, owner, recs[0]);
	evidence_problems(fd, &pr);
}

static void
rule_mta_sts_txt(mx_check *c, const struct check_txts *txts)
{
	const struct check_txt *recs[CHECK_TXTS_MAX];
	struct record_problems pr = { 0 };
	struct mta_sts_txt m;
	struct mx_finding *fd;
	char owner[NAME_TEXT_MAX + 16];
	size_t n;

	snprintf(owner, sizeof(owner), "_mta-sts.%s", c->domain);
	if (lookup_failed(c, "mta-sts", owner, txts))
		return;
	if ((n = select_records(txts, mta_sts_is_record, recs)) == 0)
		return;
	if (several(c, "mta-sts-invalid", "MTA-STS", owner, recs, n))
		return;
	if (mta_sts_txt_parse(recs[0]->text, recs[0]->len, &m, &pr) == 0)
		return;
	fd = check_add(c, "mta-sts-invalid", MX_SEVERITY_ERROR, recs[0]->line,
	    "the MTA-STS record of %s is invalid (%s); senders ignore the policy", c->domain,
	    pr.n ? pr.p[0].text : "syntax error");
	evidence_txt(fd, owner, recs[0]);
	evidence_problems(fd, &pr);
}

static void
rule_tlsrpt(mx_check *c, const struct check_txts *txts)
{
	const struct check_txt *recs[CHECK_TXTS_MAX];
	struct record_problems pr = { 0 };
	struct tlsrpt_record t;
	struct mx_finding *fd;
	char owner[NAME_TEXT_MAX + 16];
	size_t n;

	snprintf(owner, sizeof(owner), "_smtp._tls.%s", c->domain);
	if (lookup_failed(c, "tlsrpt", owner, txts))
		return;
	if ((n = select_records(txts, tlsrpt_is_record, recs)) == 0)
		return;
	if (several(c, "tlsrpt-invalid", "TLS-RPT", owner, recs, n))
		return;
	if (tlsrpt_parse(recs[0]->text, recs[0]->len, &t, &pr) == 0)
		return;
	fd = check_add(c, "tlsrpt-invalid", MX_SEVERITY_WARNING, recs[0]->line,
	    "the TLS-RPT record of %s is invalid (%s); senders send no reports", c->domain,
	    pr.n ? pr.p[0].text : "syntax error");
	evidence_txt(fd, owner, recs[0]);
	evidence_problems(fd, &pr);
}

void
check_rules_policy(
    mx_check *c, const struct check_policy_txts *p, int spf_lookups, const char *spf_count_evidence)
{
	rule_spf(c, &p->spf, spf_lookups, spf_count_evidence);
	rule_dmarc(c, &p->dmarc);
	rule_mta_sts_txt(c, &p->mta_sts);
	rule_tlsrpt(c, &p->tlsrpt);
}

/* Whether the domain publishes one valid MTA-STS TXT record: then the
 * policy is fetched (an invalid record is reported by itself). */
bool
check_mta_sts_published(const struct check_txts *txts)
{
	const struct check_txt *recs[CHECK_TXTS_MAX];
	struct record_problems pr = { 0 };
	struct mta_sts_txt m;

	if (select_records(txts, mta_sts_is_record, recs) != 1)
		return false;
	return mta_sts_txt_parse(recs[0]->text, recs[0]->len, &m, &pr) == 0;
}

void
check_rules_mta_sts_policy(mx_check *c, int status, const char *body, size_t len, const char *error,
    const struct check_facts *f)
{
	struct record_problems pr = { 0 };
	struct mta_sts_policy pol;
	struct mx_finding *fd;

	if (error != NULL || status != 200) {
		fd = check_add(c, "mta-sts-invalid", MX_SEVERITY_ERROR, 0,
		    "%s publishes MTA-STS but its policy cannot be fetched (%s); "
		    "serve it at https://mta-sts.%s/.well-known/mta-sts.txt",
		    c->domain, error ? error : "HTTP status not 200", c->domain);
		check_evidence(fd, "GET https://mta-sts.%s/.well-known/mta-sts.txt: status %d%s%s",
		    c->domain, status, error ? ", " : "", error ? error : "");
		return;
	}
	if (mta_sts_policy_parse(body, len, &pol, &pr) != 0) {
		fd = check_add(c, "mta-sts-invalid", MX_SEVERITY_ERROR, 0,
		    "the MTA-STS policy of %s is invalid (%s)", c->domain,
		    pr.n ? pr.p[0].text : "syntax error");
		evidence_problems(fd, &pr);
		return;
	}
	for (size_t i = 0; i < f->n_mx; i++) {
		bool match = false;
		if (f->mx[i].is_null)
			continue;
		for (size_t j = 0; j < pol.n_mx && !match; j++)
			match = mta_sts_mx_match(pol.mx[j], f->mx[i].exchange);
		if (match)
			continue;
		fd = check_add(c, "mta-sts-invalid", MX_SEVERITY_ERROR, 0,
		    "the MTA-STS policy of %s does not allow its MX host %s: senders "
		    "that enforce the policy refuse to deliver there; add an \"mx:\" line",
		    c->domain, f->mx[i].exchange);
		for (size_t j = 0; j < pol.n_mx; j++)
			check_evidence(fd, "policy mx: %s", pol.mx[j]);
		check_evidence(fd, "%s. MX %u %s.", c->domain, f->mx[i].pref, f->mx[i].exchange);
		return;
	}
}
