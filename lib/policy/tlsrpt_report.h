/*
 * tlsrpt_report.h - one day's TLS-RPT report (RFC 8460) for one policy
 * domain, out of a day aggregated by tlsrpt.c: the JSON, its gzip and the
 * message that carries it.  Pure (tlsrpt_report.c): no clock, no I/O.
 */
#ifndef MX_TLSRPT_REPORT_H
#define MX_TLSRPT_REPORT_H

#include "tlsrpt.h"

struct tlsrpt_meta {
	const char *organization; /* organization-name */
	const char *contact;      /* contact-info */
	const char *submitter;    /* the sending system's name (Subject, file name) */
	const char *domain;       /* the policy domain */
	const char *report_id;
	int64_t start, end;             /* the day: [start, end) */
	const char *const *policy_text; /* per d->pol[i]: the MTA-STS policy text or NULL */
};

/* The RFC 8460 4 JSON report (heap, *len octets). */
mx_err
tlsrpt_json(const struct tlsrpt_day *d, const struct tlsrpt_meta *m, char **out, size_t *len);
/* gzip (RFC 1952) of in, with zlib. */
mx_err tlsrpt_gzip(const char *in, size_t len, unsigned char **out, size_t *out_len);
/* The report message (RFC 8460 5.3): From from, To to, the required
 * Subject and TLS-Report-Domain/-Submitter headers, multipart/report with
 * report-type="tlsrpt": a text part, then the application/tlsrpt+gzip
 * part (base64) named SUBMITTER!DOMAIN!START!END.json.gz.  LF line ends. */
mx_err tlsrpt_message(const struct tlsrpt_meta *m, const char *from, const char *to, int64_t now,
    const unsigned char *gz, size_t gz_len, char **out, size_t *len);

#endif
