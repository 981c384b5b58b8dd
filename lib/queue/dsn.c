/*
 * dsn.c - composes the non-delivery report (RFC 3464 delivery status in an
 * RFC 6522 multipart/report) that the queue sends to the envelope sender
 * of a message it gave up on.  It owns the report's layout only: which
 * recipients failed, why and when come from the caller, and the result is
 * plain message text that message_parse makes ready for the wire.
 *
 * Written by hand because no Debian library composes DSNs (Postfix and
 * OpenSMTPD do it in their own code too); the format is small and fixed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsn.h"

static bool
one_line(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") == NULL;
}

/* RFC 5322 date in UTC ("Sun, 22 Nov 2026 18:59:10 +0000"), C locale names. */
/*
 * Whether the remote MTA is a host name (RFC 3464 2.3.5, "dns").  The
 * LMTP mail store is named by its --lmtp target (unix:PATH, IP:PORT),
 * never a host name (no name has a colon): it is not named to the
 * sender, and a socket's path is not shown outside.
 */
static bool
mta_named(const char *mta)
{
	return mta[0] != '\0' && strchr(mta, ':') == NULL;
}

static void
rfc5322_date(time_t t, char out[40])
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
	    months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool
report_valid(const struct dsn_report *r)
{
	if (!one_line(r->reporting_mta) || !one_line(r->queue_id) || !one_line(r->sender) ||
	    r->sender[0] == '\0' || r->n_rcpts == 0 || r->rcpts == NULL)
		return false;
	for (size_t i = 0; i < r->n_rcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		if (!one_line(rc->address) || !one_line(rc->status) || !one_line(rc->diagnostic) ||
		    !one_line(rc->remote_mta))
			return false;
	}
	return true;
}

static void
put_human_part(FILE *f, const struct dsn_report *r)
{
	fprintf(f,
	    "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=utf-8\n\n");
	fprintf(f, "This is the mail system at host %s.\n\n", r->reporting_mta);
	if (r->expired)
		fprintf(f,
		    "Your message could not be delivered within %u hours and the mail\n"
		    "system has given up.  The last reason for each recipient is below.\n\n",
		    r->lifetime_hours);
	else
		fprintf(f,
		    "Your message could not be delivered to one or more recipients.\n"
		    "It is attached below.  The reasons are listed here.\n\n");
	for (size_t i = 0; i < r->n_rcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		bool host = rc->smtp_reply && mta_named(rc->remote_mta);
		fprintf(f, "<%s>: %s%s%s%s\n\n", rc->address, host ? "host " : "",
		    host ? rc->remote_mta : "",
		    host                 ? " said: "
			: rc->smtp_reply ? "the mail store said: "
					 : "",
		    rc->diagnostic);
	}
}

static void
put_status_part(FILE *f, const struct dsn_report *r)
{
	char date[40];

	fprintf(f,
	    "Content-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n");
	rfc5322_date(r->arrival, date);
	fprintf(f, "Reporting-MTA: dns; %s\nX-Mx-Queue-ID: %s\nArrival-Date: %s\n",
	    r->reporting_mta, r->queue_id, date);
	for (size_t i = 0; i < r->n_rcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		rfc5322_date(rc->last_attempt, date);
		fprintf(f, "\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: %s\n",
		    rc->address, rc->status);
		if (mta_named(rc->remote_mta))
			fprintf(f, "Remote-MTA: dns; %s\n", rc->remote_mta);
		fprintf(f, "Diagnostic-Code: %s; %s\nLast-Attempt-Date: %s\n",
		    rc->smtp_reply ? "smtp" : "X-mxkit", rc->diagnostic, date);
	}
	fprintf(f, "\n");
}

/* The original's header, undoing the wire form: CRLF to LF, stuffed dots. */
static void
put_original_header(FILE *f, const struct dsn_report *r)
{
	const char *p = (const char *)r->original, *end = p + r->original_len;
	size_t written = 0;

	fprintf(f,
	    "Content-Description: Undelivered message headers\n"
	    "Content-Type: text/rfc822-headers\n\n");
	while (p < end && written < DSN_HEADER_MAX) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break; /* the empty line: the header ends */
		if (p[0] == '.')
			p++, n--;
		fwrite(p, 1, n, f);
		fputc('\n', f);
		written += n + 1;
		p = eol ? eol + 1 : end;
	}
	fprintf(f, "\n");
}

mx_err
dsn_compose(const struct dsn_report *r, char **out, size_t *len)
{
	char date[40], *buf = NULL;
	size_t size = 0;
	FILE *f;

	*out = NULL;
	if (r == NULL || !report_valid(r))
		return MX_ERR_INVALID;
	if ((f = open_memstream(&buf, &size)) == NULL)
		return MX_ERR_NOMEM;
	rfc5322_date(r->now, date);
	/* RFC 3834 Auto-Submitted keeps responders from answering a bounce. */
	fprintf(f,
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	    "To: <%s>\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Date: %s\n"
	    "Message-ID: <%s.dsn@%s>\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s.mx-dsn/%s\"\n\n"
	    "This is a MIME-encapsulated message.\n\n",
	    r->reporting_mta, r->sender, date, r->queue_id, r->reporting_mta, r->queue_id,
	    r->reporting_mta);
	fprintf(f, "--%s.mx-dsn/%s\n", r->queue_id, r->reporting_mta);
	put_human_part(f, r);
	fprintf(f, "--%s.mx-dsn/%s\n", r->queue_id, r->reporting_mta);
	put_status_part(f, r);
	fprintf(f, "--%s.mx-dsn/%s\n", r->queue_id, r->reporting_mta);
	put_original_header(f, r);
	fprintf(f, "--%s.mx-dsn/%s--\n", r->queue_id, r->reporting_mta);
	if (ferror(f) || fclose(f) != 0) {
		free(buf);
		return MX_ERR_NOMEM;
	}
	*out = buf;
	*len = size;
	return MX_OK;
}
