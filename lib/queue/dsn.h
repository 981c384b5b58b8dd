/*
 * dsn.h - the non-delivery report the queue sends back to a sender: an
 * RFC 3464 multipart/report (RFC 6522) with a human part, the
 * message/delivery-status part and the returned header (text/rfc822-
 * headers).  Pure: text in, text out; no clock, no I/O.
 */
#ifndef MX_DSN_H
#define MX_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mx.h"

#define DSN_HEADER_MAX ((size_t)64 << 10) /* octets of the original header returned */
/*
 * The most of the original dsn_compose reads: it stops at the empty line
 * or once DSN_HEADER_MAX octets are written, and a line written as n + 1
 * octets (n >= 1) is at most n + 3 on the wire (a stuffed dot, CRLF), so
 * twice that plus one last line of up to 1,001 octets.  A caller may give
 * it only this much of a message (cut after a LF) and get the same report.
 */
#define DSN_ORIGINAL_MAX (2 * DSN_HEADER_MAX + 1024)

/* One recipient the report is about; strings are borrowed. */
struct dsn_rcpt {
	const char *address;    /* the forward-path, local@domain */
	const char *status;     /* RFC 3463 code, "5.1.1" (4.x.x when it expired) */
	const char *diagnostic; /* the server's reply, or why no server said one */
	bool smtp_reply;        /* diagnostic is an SMTP reply ("550 5.1.1 ...") */
	const char *remote_mta; /* the host that said it; "" when none */
	time_t last_attempt;
};

struct dsn_report {
	const char *reporting_mta; /* this host's name, for Reporting-MTA and From */
	const char *queue_id;      /* X-Postfix-Queue-ID-like reference for people */
	const char *sender;        /* the original envelope sender: To of the report */
	time_t arrival;            /* when the original was queued */
	time_t now;                /* Date of the report */
	bool expired;              /* given up on time, not on an answer */
	unsigned lifetime_hours;   /* for the text when expired */
	const struct dsn_rcpt *rcpts;
	size_t n_rcpts;
	const uint8_t *original; /* the original as it goes after DATA: CRLF, dot-stuffed;
	                            * its header is enough (see DSN_ORIGINAL_MAX) */
	size_t original_len;
};

/*
 * Writes the report as message text (LF line ends, not dot-stuffed; pass
 * it through message_parse for the wire).  The caller frees *out.
 * MX_ERR_INVALID when a field is missing or has a line break (the
 * addresses come from a queue file and were checked there; this is the
 * second guard), MX_ERR_NOMEM when memory runs out.
 */
mx_err dsn_compose(const struct dsn_report *r, char **out, size_t *len);

#endif
