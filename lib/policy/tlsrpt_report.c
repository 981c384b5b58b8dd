/*
 * tlsrpt_report.c - one day's TLS-RPT report for one policy domain: the
 * JSON of RFC 8460 4.3 (schema in its appendix), gzip'd with zlib, and the
 * message of RFC 8460 5.3 that carries it.  Pure: text in, text out; no
 * clock, no I/O (the caller passes the times).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "json.h"
#include "records.h"
#include "strbuf.h"
#include "tlsrpt_report.h"

#define BOUNDARY_TEXT "tlsrpt-boundary"

static void
datetime(struct json_buf *b, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32] = "1970-01-01T00:00:00Z";

	if (gmtime_r(&tt, &tm) != NULL)
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_buf_string(b, s);
}

/* policy-string: the policy file's lines; mx-host: its mx patterns. */
static void
sts_strings(struct json_buf *b, const char *text)
{
	struct mta_sts_policy pol;
	struct record_problems pr = { 0 };
	bool first = true;
	char line[512];

	JSON_BUF_LITERAL(b, ", \"policy-string\": [");
	for (const char *p = text; *p != '\0';) {
		size_t n = strcspn(p, "\r\n");
		if (n > 0 && n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			json_buf_puts(b, first ? "" : ", ");
			json_buf_string(b, line);
			first = false;
		}
		p += n;
		p += strspn(p, "\r\n");
	}
	JSON_BUF_LITERAL(b, "]");
	if (mta_sts_policy_parse(text, strlen(text), &pol, &pr) != 0)
		return;
	JSON_BUF_LITERAL(b, ", \"mx-host\": [");
	for (size_t i = 0; i < pol.n_mx; i++) {
		json_buf_puts(b, i ? ", " : "");
		json_buf_string(b, pol.mx[i]);
	}
	JSON_BUF_LITERAL(b, "]");
}

static void
failure_json(struct json_buf *b, const struct tlsrpt_failure *f)
{
	JSON_BUF_LITERAL(b, "{\"result-type\": ");
	json_buf_string(b, f->result);
	if (f->sending[0] != '\0') {
		JSON_BUF_LITERAL(b, ", \"sending-mta-ip\": ");
		json_buf_string(b, f->sending);
	}
	if (f->ip[0] != '\0') {
		JSON_BUF_LITERAL(b, ", \"receiving-ip\": ");
		json_buf_string(b, f->ip);
	}
	if (f->mx[0] != '\0') {
		JSON_BUF_LITERAL(b, ", \"receiving-mx-hostname\": ");
		json_buf_string(b, f->mx);
	}
	JSON_BUF_LITERAL(b, ", \"failed-session-count\": ");
	json_buf_uint(b, f->count);
	if (f->info[0] != '\0') {
		JSON_BUF_LITERAL(b, ", \"additional-information\": ");
		json_buf_string(b, f->info);
	}
	JSON_BUF_LITERAL(b, "}");
}

static void
policy_json(struct json_buf *b, const struct tlsrpt_policy *p, const char *domain, const char *text)
{
	JSON_BUF_LITERAL(b, "{\"policy\": {\"policy-type\": ");
	json_buf_string(b, p->type);
	if (text != NULL)
		sts_strings(b, text);
	JSON_BUF_LITERAL(b, ", \"policy-domain\": ");
	json_buf_string(b, domain);
	JSON_BUF_LITERAL(b, "}, \"summary\": {\"total-successful-session-count\": ");
	json_buf_uint(b, p->ok);
	JSON_BUF_LITERAL(b, ", \"total-failure-session-count\": ");
	json_buf_uint(b, p->failed);
	JSON_BUF_LITERAL(b, "}");
	if (p->n_fail > 0) {
		JSON_BUF_LITERAL(b, ", \"failure-details\": [");
		for (size_t i = 0; i < p->n_fail; i++) {
			json_buf_puts(b, i ? ", " : "");
			failure_json(b, &p->fail[i]);
		}
		JSON_BUF_LITERAL(b, "]");
	}
	JSON_BUF_LITERAL(b, "}");
}

mx_err
tlsrpt_json(const struct tlsrpt_day *d, const struct tlsrpt_meta *m, char **out, size_t *len)
{
	struct json_buf b = { 0 };

	*out = NULL;
	JSON_BUF_LITERAL(&b, "{\"organization-name\": ");
	json_buf_string(&b, m->organization);
	JSON_BUF_LITERAL(&b, ", \"date-range\": {\"start-datetime\": ");
	datetime(&b, m->start);
	JSON_BUF_LITERAL(&b, ", \"end-datetime\": ");
	datetime(&b, m->end - 1);
	JSON_BUF_LITERAL(&b, "}, \"contact-info\": ");
	json_buf_string(&b, m->contact);
	JSON_BUF_LITERAL(&b, ", \"report-id\": ");
	json_buf_string(&b, m->report_id);
	JSON_BUF_LITERAL(&b, ", \"policies\": [");
	for (size_t i = 0; i < d->n_pol; i++) {
		json_buf_puts(&b, i ? ", " : "");
		policy_json(&b, &d->pol[i], m->domain, m->policy_text ? m->policy_text[i] : NULL);
	}
	JSON_BUF_LITERAL(&b, "]}\n");
	if ((*out = json_buf_end(&b)) == NULL)
		return MX_ERR_NOMEM;
	*len = strlen(*out);
	return MX_OK;
}

mx_err
tlsrpt_gzip(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	z_stream z = { 0 };
	uLong cap = compressBound((uLong)len) + 64;
	unsigned char *buf = malloc(cap);

	*out = NULL;
	/* windowBits 15 + 16: a gzip header and trailer, not zlib's. */
	if (buf == NULL ||
	    deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		Z_OK) {
		free(buf);
		return MX_ERR_NOMEM;
	}
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(buf);
		return MX_ERR_NOMEM;
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	*out = buf;
	return MX_OK;
}

/* base64 in lines of 76 characters (RFC 2045 6.8). */
static void
base64(struct json_buf *b, const unsigned char *in, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
		    (i + 2 < len ? in[i + 2] : 0);
		char q[4] = { abc[v >> 18 & 63], abc[v >> 12 & 63],
			(char)(i + 1 < len ? abc[v >> 6 & 63] : '='),
			(char)(i + 2 < len ? abc[v & 63] : '=') };
		json_buf_put(b, q, 4);
		if ((col += 4) == 76) {
			JSON_BUF_LITERAL(b, "\n");
			col = 0;
		}
	}
	if (col > 0)
		JSON_BUF_LITERAL(b, "\n");
}

static bool
one_line(const char *s)
{
	return s != NULL && *s != '\0' && strpbrk(s, "\r\n") == NULL;
}

static void
headers(
    struct json_buf *b, const struct tlsrpt_meta *m, const char *from, const char *to, int64_t now)
{
	char line[1024], date[64] = "Thu, 01 Jan 1970 00:00:00 +0000";
	time_t t = (time_t)now;
	struct tm tm;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(line, sizeof(line), "From: %s\nTo: %s\nDate: %s\nMessage-ID: <%s>\n", from, to,
	    date, m->report_id);
	json_buf_puts(b, line);
	/* RFC 8460 5.3: the Subject and the two TLS-Report-* headers. */
	snprintf(line, sizeof(line),
	    "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\n"
	    "TLS-Report-Domain: %s\nTLS-Report-Submitter: %s\n",
	    m->domain, m->submitter, m->report_id, m->domain, m->submitter);
	json_buf_puts(b, line);
	json_buf_puts(b,
	    "MIME-Version: 1.0\nContent-Type: multipart/report; "
	    "report-type=\"tlsrpt\";\n\tboundary=\"" BOUNDARY_TEXT "\"\n\n"
	    "This is a multipart message in MIME format.\n\n");
}

mx_err
tlsrpt_message(const struct tlsrpt_meta *m, const char *from, const char *to, int64_t now,
    const unsigned char *gz, size_t gz_len, char **out, size_t *len)
{
	struct json_buf b = { 0 };
	char line[1024];

	*out = NULL;
	if (!one_line(from) || !one_line(to) || !one_line(m->domain) || !one_line(m->submitter) ||
	    !one_line(m->report_id) || strchr(m->submitter, '"') || strchr(m->domain, '"'))
		return MX_ERR_INVALID;
	headers(&b, m, from, to, now);
	snprintf(line, sizeof(line),
	    "--" BOUNDARY_TEXT "\nContent-Type: text/plain; "
	    "charset=us-ascii\n\nThis is an aggregate TLS report (RFC 8460) from %s for %s,\n"
	    "covering the UTC day that starts at %lld (seconds since 1970).\n\n",
	    m->submitter, m->domain, (long long)m->start);
	json_buf_puts(&b, line);
	snprintf(line, sizeof(line),
	    "--" BOUNDARY_TEXT "\nContent-Type: application/tlsrpt+gzip\n"
	    "Content-Transfer-Encoding: base64\nContent-Disposition: attachment;\n"
	    "\tfilename=\"%s!%s!%lld!%lld.json.gz\"\n\n",
	    m->submitter, m->domain, (long long)m->start, (long long)(m->end - 1));
	json_buf_puts(&b, line);
	base64(&b, gz, gz_len);
	json_buf_puts(&b, "\n--" BOUNDARY_TEXT "--\n");
	if ((*out = json_buf_end(&b)) == NULL)
		return MX_ERR_NOMEM;
	*len = strlen(*out);
	return MX_OK;
}
