/*
 * tlsrpt.c - the TLS-RPT session store (layout in tlsrpt.h): one line
 * appended per session (O_APPEND, so concurrent senders never interleave
 * within a line; fdatasync, so a recorded session survives a crash), the
 * policy text snapshotted once per day and id, and the pure reader that
 * aggregates a day.  It never builds or sends a report.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strbuf.h"
#include "tlsrpt.h"

#define PATH_MAX_LEN 4096
#define LINE_MAX_LEN 1024
#define FIELDS       9 /* of a v2 line */

const char *
tlsrpt_result_for_verify_error(const char *e)
{
	static const struct {
		long code;
		const char *type;
	} map[] = {
		{ X509_V_ERR_HOSTNAME_MISMATCH, "certificate-host-mismatch" },
		{ X509_V_ERR_CERT_HAS_EXPIRED, "certificate-expired" },
		{ X509_V_ERR_CERT_NOT_YET_VALID, "certificate-expired" },
		{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "certificate-not-trusted" },
		{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "certificate-not-trusted" },
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "certificate-not-trusted" },
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "certificate-not-trusted" },
		{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "certificate-not-trusted" },
		{ X509_V_ERR_CERT_UNTRUSTED, "certificate-not-trusted" },
	};

	for (size_t i = 0; e != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(e, X509_verify_cert_error_string(map[i].code)) == 0)
			return map[i].type;
	return "validation-failure";
}

void
tlsrpt_day_name(int64_t t, char out[11])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		snprintf(out, 11, "1970-01-01");
}

int64_t
tlsrpt_day_start(const char *day)
{
	struct tm tm = { 0 };
	char check[11];
	int64_t t;

	if (day == NULL || strlen(day) != 10 ||
	    sscanf(day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = (int64_t)timegm(&tm);
	tlsrpt_day_name(t, check);
	return strcmp(check, day) == 0 ? t : -1;
}

/* A field as written: "-" when empty, tabs and control octets as spaces. */
static void
put_field(struct strbuf *sb, const char *s, size_t max)
{
	size_t n = 0;

	strbuf_addc(sb, '\t');
	if (s == NULL || *s == '\0') {
		strbuf_addc(sb, '-');
		return;
	}
	for (; *s != '\0' && n < max; s++, n++)
		strbuf_addc(sb, (char)((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s));
}

static bool
mkdirs(const char *dir, const char *day, char *dirpath, size_t size)
{
	struct strbuf sb;

	strbuf_init(&sb, dirpath, size);
	strbuf_printf(&sb, "%s/tlsrpt", dir);
	if (sb.truncated || (mkdir(dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(dirpath, 0700) != 0 && errno != EEXIST))
		return false;
	strbuf_printf(&sb, "/%s", day);
	return !sb.truncated && (mkdir(dirpath, 0700) == 0 || errno == EEXIST);
}

/* DOMAIN!ID.sts, once: the text the report's policy-string comes from. */
static void
snapshot(const char *dirpath, const char *domain, const struct tlsrpt_session *s)
{
	char name[MX_DOMAIN_MAX + STS_ID_MAX + 8], path[PATH_MAX_LEN];
	struct strbuf a, b;

	if (s->policy_id == NULL || s->policy_id[0] == '\0' || s->policy_body == NULL)
		return;
	strbuf_init(&a, name, sizeof(name));
	strbuf_printf(&a, "%s!%s.sts", domain, s->policy_id);
	strbuf_init(&b, path, sizeof(path));
	strbuf_printf(&b, "%s/%s", dirpath, name);
	if (a.truncated || b.truncated || access(path, F_OK) == 0)
		return;
	sts_write_durably(dirpath, name, s->policy_body, s->policy_len);
}

static mx_err
append(const char *path, const char *line, size_t len)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	mx_err err = MX_ERR_SYSTEM;

	if (fd < 0)
		return MX_ERR_SYSTEM;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size + len <= TLSRPT_FILE_MAX &&
	    write(fd, line, len) == (ssize_t)len && fdatasync(fd) == 0)
		err = MX_OK;
	close(fd);
	return err;
}

mx_err
tlsrpt_record(const char *dir, const char *domain, int64_t now, const struct tlsrpt_session *s)
{
	char day[11], dirpath[PATH_MAX_LEN], path[PATH_MAX_LEN], line[LINE_MAX_LEN];
	size_t n;
	struct strbuf sb;

	if (dir == NULL || domain == NULL || s == NULL || !sts_file_name_ok(domain))
		return MX_ERR_INVALID;
	tlsrpt_day_name(now, day);
	if (!mkdirs(dir, day, dirpath, sizeof(dirpath)))
		return MX_ERR_SYSTEM;
	snapshot(dirpath, domain, s);
	strbuf_init(&sb, line, sizeof(line) - 1);
	strbuf_add(&sb, "v2");
	put_field(&sb, s->ok ? "ok" : "fail", 4);
	put_field(&sb, s->policy_type, 7);
	put_field(&sb, s->policy_id, STS_ID_MAX);
	put_field(&sb, s->ok ? NULL : s->result_type, 39);
	put_field(&sb, s->mx_host, MX_DOMAIN_MAX);
	put_field(&sb, s->receiving_ip, 45);
	put_field(&sb, s->sending_ip, 45);
	put_field(&sb, s->ok ? NULL : s->info, TLSRPT_INFO_MAX - 1);
	strbuf_init(&sb, path, sizeof(path));
	strbuf_printf(&sb, "%s/%s", dirpath, domain);
	if (sb.truncated)
		return MX_ERR_INVALID;
	n = strlen(line);
	line[n++] = '\n'; /* the byte strbuf_init above kept free */
	return append(path, line, n);
}

/* Splits one line (no newline) into its tab-separated fields, in place:
 * 9 for "v2", 8 for "v1" (whose missing sending IP becomes "-"). */
static bool
split(char *line, char *f[FIELDS])
{
	static char none[] = "-";
	size_t n = 0, want = strncmp(line, "v1\t", 3) == 0 ? FIELDS - 1 : FIELDS;

	f[n++] = line;
	for (char *p = line; *p != '\0'; p++) {
		if (*p != '\t')
			continue;
		if (n == want)
			return false;
		*p = '\0';
		f[n++] = p + 1;
	}
	if (n != want)
		return false;
	if (want == FIELDS - 1) { /* v1: info moves up, no sending IP */
		f[8] = f[7];
		f[7] = none;
	}
	return (strcmp(f[0], "v1") == 0 || strcmp(f[0], "v2") == 0) &&
	    (strcmp(f[1], "ok") == 0 || strcmp(f[1], "fail") == 0) &&
	    (strcmp(f[2], "sts") == 0 || strcmp(f[2], "tlsa") == 0) && strlen(f[3]) <= STS_ID_MAX &&
	    strlen(f[4]) < 40 && strlen(f[5]) <= MX_DOMAIN_MAX && strlen(f[6]) < 46 &&
	    strlen(f[7]) < 46 && strlen(f[8]) < TLSRPT_INFO_MAX;
}

static const char *
dash(const char *s)
{
	return strcmp(s, "-") == 0 ? "" : s;
}

static struct tlsrpt_policy *
policy_for(struct tlsrpt_day *d, const char *type, const char *id)
{
	for (size_t i = 0; i < d->n_pol; i++)
		if (strcmp(d->pol[i].type, type) == 0 && strcmp(d->pol[i].id, id) == 0)
			return &d->pol[i];
	if (d->n_pol == TLSRPT_POLICIES_MAX)
		return NULL;
	snprintf(d->pol[d->n_pol].type, sizeof(d->pol[0].type), "%s", type);
	snprintf(d->pol[d->n_pol].id, sizeof(d->pol[0].id), "%s", id);
	return &d->pol[d->n_pol++];
}

static bool
same_failure(const struct tlsrpt_failure *x, char *f[FIELDS])
{
	return strcmp(x->result, f[4]) == 0 && strcmp(x->mx, dash(f[5])) == 0 &&
	    strcmp(x->ip, dash(f[6])) == 0 && strcmp(x->sending, dash(f[7])) == 0 &&
	    strcmp(x->info, dash(f[8])) == 0;
}

static void
add_failure(struct tlsrpt_policy *p, char *f[FIELDS])
{
	struct tlsrpt_failure *x;

	p->failed++;
	for (size_t i = 0; i < p->n_fail; i++) {
		if (same_failure(&p->fail[i], f)) {
			p->fail[i].count++;
			return;
		}
	}
	if (p->n_fail == TLSRPT_FAILURES_MAX) {
		p->fail_dropped++;
		return;
	}
	x = &p->fail[p->n_fail++];
	snprintf(x->result, sizeof(x->result), "%s", f[4]);
	snprintf(x->mx, sizeof(x->mx), "%s", dash(f[5]));
	snprintf(x->ip, sizeof(x->ip), "%s", dash(f[6]));
	snprintf(x->sending, sizeof(x->sending), "%s", dash(f[7]));
	snprintf(x->info, sizeof(x->info), "%s", dash(f[8]));
	x->count = 1;
}

static void
take_line(struct tlsrpt_day *d, char *line)
{
	struct tlsrpt_policy *p;
	char *f[FIELDS];

	if (!split(line, f) || (strcmp(f[1], "fail") == 0 && strcmp(f[4], "-") == 0) ||
	    (p = policy_for(d, f[2], dash(f[3]))) == NULL) {
		d->bad_lines++;
		return;
	}
	if (strcmp(f[1], "ok") == 0)
		p->ok++;
	else
		add_failure(p, f);
}

void
tlsrpt_day_parse(const char *data, size_t len, struct tlsrpt_day *out)
{
	char line[LINE_MAX_LEN];

	memset(out, 0, sizeof(*out));
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - data) : len;
		/* A line cut by a crash (no newline) or too long, or with a NUL, is skipped. */
		if (nl != NULL && n < sizeof(line) && memchr(data, '\0', n) == NULL) {
			memcpy(line, data, n);
			line[n] = '\0';
			take_line(out, line);
		} else {
			out->bad_lines++;
		}
		data += nl != NULL ? n + 1 : n;
		len -= nl != NULL ? n + 1 : n;
	}
}
