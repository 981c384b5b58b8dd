/*
 * check_facts.h - the data of mx_check (`mx check`), shared by its files:
 * the check object (struct mx_check), its findings and what could not be
 * tested, and the facts the rules judge (MX records, their targets, the
 * TXT records of the policy rules), gathered live (check_live.c) or from
 * a zone file (check_zone.c).  Types and limits only: declares no
 * function, so that every file may include it.  Never installed.
 */
#ifndef MX_CHECK_FACTS_H
#define MX_CHECK_FACTS_H

#include <stdbool.h>
#include <stdint.h>

#include "mx.h"
#include "plan.h"

#define CHECK_ID_MAX          32
#define CHECK_MESSAGE_MAX     512
#define CHECK_EVIDENCE_MAX    16 /* evidence lines kept per finding */
#define CHECK_EVIDENCE_TEXT   512
#define CHECK_FINDINGS_MAX    512 /* more are counted, not kept */
#define CHECK_IGNORE_MAX      64
#define CHECK_UNTESTED_MAX    32
#define CHECK_MX_MAX          64   /* MX records judged per domain */
#define CHECK_ADDRS_MAX       16   /* addresses kept per MX target */
#define CHECK_TTL_LOW         300  /* an MX TTL below this is mx-ttl-low */
#define CHECK_TXT_MAX         4096 /* one TXT record, strings joined */
#define CHECK_TXTS_MAX        16   /* TXT records kept per name */
#define CHECK_NETS_MAX        16   /* --allow-private networks */
#define CHECK_CERT_WARN_DAYS  14   /* tls-cert-expiring: a warning within */
#define CHECK_CERT_ERROR_DAYS 3    /* ... and an error within */

struct mx_finding {
	char id[CHECK_ID_MAX];
	mx_severity severity;
	char message[CHECK_MESSAGE_MAX];
	unsigned line; /* zone mode: the record's line; 0 live */
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
	bool is_null;  /* exchange "." (RFC 7505) */
	bool bad_name; /* not representable as a host name */
	char exchange[NAME_TEXT_MAX];
	unsigned line;
};

enum target_state {
	TARGET_UNKNOWN = 0, /* not looked up (outside the zone, skipped) */
	TARGET_ADDRESSES,   /* has A or AAAA */
	TARGET_NXDOMAIN,
	TARGET_NODATA,   /* exists, no A, no AAAA */
	TARGET_TEMPFAIL, /* lookup failed for now */
};

/* What one distinct MX exchange resolves to. */
struct check_target {
	char name[NAME_TEXT_MAX];
	enum target_state state;
	char why[160]; /* TARGET_TEMPFAIL: the reason */
	bool is_cname;
	char cname[NAME_TEXT_MAX]; /* the end of its CNAME chain */
	size_t n_addrs;
	struct ip_addr addrs[CHECK_ADDRS_MAX];
	unsigned line; /* zone mode: line of its A/AAAA/CNAME */
};

/* A TXT record as published, for the policy rules. */
struct check_txt {
	char text[CHECK_TXT_MAX];
	size_t len;
	unsigned line;
};

struct check_txts {
	enum target_state state; /* TARGET_ADDRESSES means "has records" */
	char why[160];
	size_t n;
	struct check_txt t[CHECK_TXTS_MAX];
};

/* A network whose addresses an MX target may have (--allow-private). */
struct check_net {
	int family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
	unsigned bits;
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

/* The TXT records the policy rules (check_policy.c) judge. */
struct check_policy_txts {
	struct check_txts spf;     /* TXT at the domain */
	struct check_txts dmarc;   /* TXT at _dmarc.domain */
	struct check_txts mta_sts; /* TXT at _mta-sts.domain */
	struct check_txts tlsrpt;  /* TXT at _smtp._tls.domain */
};

struct mx_check {
	mx_resolver *resolver; /* borrowed; NULL for zone mode only */
	bool smtp;
	unsigned timeout_ms;
	char *ca_file;
	char *helo;
	size_t n_ignore;
	char ignore[CHECK_IGNORE_MAX][CHECK_ID_MAX];
	unsigned cert_warn_days, cert_error_days; /* 0: that severity off */
	bool private_ok;                          /* every private and loopback address allowed */
	size_t n_nets;
	struct check_net nets[CHECK_NETS_MAX];
	mx_check_probes *probe_cache; /* borrowed: shared probe results (bulk) */

	/* the last run */
	bool zone_mode;
	bool tempfail; /* could not test: the domain's DNS failed */
	char tempfail_why[CHECK_MESSAGE_MAX];
	char domain[NAME_TEXT_MAX];
	size_t n_findings;
	size_t n_dropped;
	struct mx_finding *findings;
	size_t n_untested;
	struct check_untested untested[CHECK_UNTESTED_MAX];
	size_t n_ignored;
	struct check_live *live; /* a live run under way */
	mx_check_cb cb;
	void *cb_arg;
};

#endif
