/*
 * tlsrpt.h - TLS-RPT (RFC 8460): what delivery records about each TLS
 * session to a domain with a policy (MTA-STS or DANE), kept per policy
 * domain and UTC day in a durable store under DIR/tlsrpt/, and the report
 * made from a day of it (tlsrpt_report.c: JSON, gzip, the message).
 *
 * Store layout, one directory per day:
 *   DIR/tlsrpt/YYYY-MM-DD/DOMAIN          one line per session, appended
 *   DIR/tlsrpt/YYYY-MM-DD/DOMAIN!ID.sts   the MTA-STS policy text under id ID
 * A line is tab-separated: "v2", "ok" or "fail", policy type ("sts",
 * "tlsa"), policy id ("-" when none), result type ("-" for ok), MX host,
 * receiving IP, sending IP (the session's local address, RFC 8460 4.3
 * sending-mta-ip), additional information ("-"); tabs and control octets
 * in fields are written as spaces.  "v1" lines (no sending IP), written
 * before, are still read.  A day file stops growing at
 * TLSRPT_FILE_MAX octets (sessions past it are not counted: a bound
 * beats an unbounded disk).
 *
 * Ownership: the caller owns every struct; strings are borrowed.
 */
#ifndef MX_TLSRPT_H
#define MX_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"
#include "sts_cache.h"

#define TLSRPT_FILE_MAX     ((size_t)8 << 20)
#define TLSRPT_POLICIES_MAX 8  /* distinct (type, id) per domain and day */
#define TLSRPT_FAILURES_MAX 64 /* distinct failure details per policy */
#define TLSRPT_INFO_MAX     200

/* One session as delivery saw it. */
struct tlsrpt_session {
	bool ok;
	const char *policy_type; /* "sts" or "tlsa" */
	const char *policy_id;   /* sts: the TXT id; NULL or "" for tlsa */
	const char *policy_body; /* sts: the policy text, kept once per day and id */
	size_t policy_len;
	const char *result_type;  /* failures: an RFC 8460 4.3 result type */
	const char *mx_host;      /* the receiving MX host name */
	const char *receiving_ip; /* "" when no connection was made */
	const char *sending_ip;   /* our end of it; "" or NULL when none */
	const char *info;         /* additional-information, may be NULL */
};

/* Appends s to DIR/tlsrpt/DAY/DOMAIN (made 0700 as needed), DAY from now
 * (UTC), and fdatasyncs it.  MX_ERR_SYSTEM when the OS refused, or the day
 * file is full. */
mx_err
tlsrpt_record(const char *dir, const char *domain, int64_t now, const struct tlsrpt_session *s);

/* The RFC 8460 result type for OpenSSL's verify error text (tls_facts):
 * certificate-host-mismatch, certificate-expired, certificate-not-trusted,
 * else validation-failure. */
const char *tlsrpt_result_for_verify_error(const char *verify_error);

struct tlsrpt_failure {
	char result[40];
	char mx[MX_DOMAIN_MAX + 1];
	char ip[46];
	char sending[46]; /* sending-mta-ip, "" when unknown */
	char info[TLSRPT_INFO_MAX];
	unsigned long count;
};

struct tlsrpt_policy {
	char type[8];
	char id[STS_ID_MAX + 1]; /* "" when none */
	unsigned long ok, failed;
	size_t n_fail;
	struct tlsrpt_failure fail[TLSRPT_FAILURES_MAX];
	unsigned long fail_dropped; /* failures past TLSRPT_FAILURES_MAX details (counted) */
};

struct tlsrpt_day {
	size_t n_pol;
	struct tlsrpt_policy pol[TLSRPT_POLICIES_MAX];
	size_t bad_lines; /* lines that did not parse, skipped */
};

/* Pure: a day file's lines, aggregated. */
void tlsrpt_day_parse(const char *data, size_t len, struct tlsrpt_day *out);

/* "YYYY-MM-DD" of the UTC day holding t. */
void tlsrpt_day_name(int64_t t, char out[11]);
/* The UTC midnight that starts day "YYYY-MM-DD"; -1 when it is not one. */
int64_t tlsrpt_day_start(const char *day);

#endif
