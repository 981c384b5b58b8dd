/*
 * check.h - the insides of mx_check (`mx check`), shared by its files:
 * check.c (the object, findings, getters), check_rules.c (pure rules over
 * gathered facts), check_zone.c (facts from a zone file), check_live.c
 * (facts from the DNS and the probes), check_policy.c (SPF, DMARC,
 * MTA-STS, TLS-RPT verdicts), check_json.c (the JSON writer),
 * check_dns.c (reading raw DNS replies), check_auth.c (recursion-off
 * questions to authoritative servers), check_judge.c and check_smtp.c
 * (live facts to findings).  Never installed.
 */
#ifndef MX_CHECK_H
#define MX_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mx.h"
#include "plan.h"

#define CHECK_ID_MAX 32
#define CHECK_MESSAGE_MAX 512
#define CHECK_EVIDENCE_MAX 16       /* evidence lines kept per finding */
#define CHECK_EVIDENCE_TEXT 512
#define CHECK_FINDINGS_MAX 512      /* more are counted, not kept */
#define CHECK_IGNORE_MAX 64
#define CHECK_UNTESTED_MAX 32
#define CHECK_MX_MAX 64             /* MX records judged per domain */
#define CHECK_ADDRS_MAX 16          /* addresses kept per MX target */
#define CHECK_TTL_LOW 300           /* an MX TTL below this is mx-ttl-low */
#define CHECK_TXT_MAX 4096          /* one TXT record, strings joined */
#define CHECK_TXTS_MAX 16           /* TXT records kept per name */

struct mx_finding {
	char id[CHECK_ID_MAX];
	mx_severity severity;
	char message[CHECK_MESSAGE_MAX];
	unsigned line;              /* zone mode: the record's line; 0 live */
	size_t n_evidence;
	char evidence[CHECK_EVIDENCE_MAX][CHECK_EVIDENCE_TEXT];
};

struct check_untested {
	char test[CHECK_ID_MAX];
	char reason[CHECK_MESSAGE_MAX];
};

/* One MX record as published. */
struct check_mx {
	uint16_t pref;
	uint32_t ttl;
	bool is_null;               /* exchange "." (RFC 7505) */
	bool bad_name;              /* not representable as a host name */
	char exchange[NAME_TEXT_MAX];
	unsigned line;
};

enum target_state {
	TARGET_UNKNOWN = 0,         /* not looked up (outside the zone, skipped) */
	TARGET_ADDRESSES,           /* has A or AAAA */
	TARGET_NXDOMAIN,
	TARGET_NODATA,              /* exists, no A, no AAAA */
	TARGET_TEMPFAIL,            /* lookup failed for now */
};

/* What one distinct MX exchange resolves to. */
struct check_target {
	char name[NAME_TEXT_MAX];
	enum target_state state;
	char why[160];              /* TARGET_TEMPFAIL: the reason */
	bool is_cname;
	char cname[NAME_TEXT_MAX];  /* the end of its CNAME chain */
	size_t n_addrs;
	struct plan_addr addrs[CHECK_ADDRS_MAX];
	unsigned line;              /* zone mode: line of its A/AAAA/CNAME */
};

/* A TXT record as published, for the policy rules. */
struct check_txt {
	char text[CHECK_TXT_MAX];
	size_t len;
	unsigned line;
};

struct check_txts {
	enum target_state state;    /* TARGET_ADDRESSES means "has records" */
	char why[160];
	size_t n;
	struct check_txt t[CHECK_TXTS_MAX];
};

/* Everything the MX rules judge. */
struct check_facts {
	char domain[NAME_TEXT_MAX];
	enum target_state mx_state; /* TARGET_ADDRESSES: MX records present */
	size_t n_mx;
	struct check_mx mx[CHECK_MX_MAX];
	size_t n_targets;
	struct check_target targets[CHECK_MX_MAX];
	/* the domain's own addresses, for the implicit MX */
	enum target_state self_state;
	size_t n_self_addrs;
	bool zone_mode;
};

struct mx_check {
	mx_resolver *resolver;      /* borrowed; NULL for zone mode only */
	bool smtp;
	unsigned timeout_ms;
	char *ca_file;
	char *helo;
	size_t n_ignore;
	char ignore[CHECK_IGNORE_MAX][CHECK_ID_MAX];

	/* the last run */
	bool zone_mode;
	bool tempfail;              /* could not test: the domain's DNS failed */
	char tempfail_why[CHECK_MESSAGE_MAX];
	char domain[NAME_TEXT_MAX];
	size_t n_findings;
	size_t n_dropped;
	struct mx_finding *findings;
	size_t n_untested;
	struct check_untested untested[CHECK_UNTESTED_MAX];
	size_t n_ignored;
	struct check_live *live;    /* a live run under way */
	mx_check_cb cb;
	void *cb_arg;
};

/* check.c */
/* Adds a finding (dropped when its id is ignored); returns it or NULL. */
struct mx_finding *check_add(mx_check *c, const char *id, mx_severity sev,
    unsigned line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void check_evidence(struct mx_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void check_add_untested(mx_check *c, const char *test, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void check_reset(mx_check *c);
/* The report's order (check.c says which); check_sort puts the findings,
 * and what was not tested, in it once a run has made them all. */
int check_finding_cmp(const struct mx_finding *a, const struct mx_finding *b);
void check_sort(mx_check *c);
/* MX records by preference, then exchange, then TTL. */
void check_mx_sort(struct check_mx *mx, size_t n);
bool check_ignored(const mx_check *c, const char *id);

/* check_rules.c: the MX record rules, pure. */
void check_rules_mx(mx_check *c, const struct check_facts *f);
/* True for loopback, private, link-local, shared, reserved and the like. */
bool check_addr_private(const struct plan_addr *a, const char **kind);
/* The target record of exchange, or NULL. */
const struct check_target *check_facts_target(const struct check_facts *f,
    const char *name);

/* check_policy.c: SPF, DMARC, MTA-STS TXT, TLS-RPT of a domain. */
struct check_policy_txts {
	struct check_txts spf;      /* TXT at the domain */
	struct check_txts dmarc;    /* TXT at _dmarc.domain */
	struct check_txts mta_sts;  /* TXT at _mta-sts.domain */
	struct check_txts tlsrpt;   /* TXT at _smtp._tls.domain */
};
/* spf_lookups: DNS-querying terms counted through include/redirect, or
 * -1 when not counted (zone mode, or not all includes resolved). */
void check_rules_policy(mx_check *c, const struct check_policy_txts *p,
    int spf_lookups, const char *spf_count_evidence);
bool check_mta_sts_published(const struct check_txts *txts);
/* The fetched policy (error non-NULL: the fetch failed) against the MX hosts. */
void check_rules_mta_sts_policy(mx_check *c, int status, const char *body,
    size_t len, const char *error, const struct check_facts *f);

/* check_zone.c: a zone file by path, or an open stream (seekable: it is
 * read twice; the fuzzer gives an fmemopen one). */
mx_err check_zone_run(mx_check *c, const char *path, const char *origin,
    char *why, size_t why_size);
mx_err check_zone_fp(mx_check *c, FILE *fp, const char *origin, char *why,
    size_t why_size);

/* check_live.c */
mx_err check_live_start(mx_check *c, const char *domain);
void check_live_cancel(struct check_live *l);

#endif
