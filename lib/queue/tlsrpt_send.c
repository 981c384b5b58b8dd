/*
 * tlsrpt_send.c - mx_tlsrpt_send_due: the days of the TLS-RPT store
 * (policy/tlsrpt.c) that are over, one report per policy domain (policy/
 * tlsrpt_report.c), queued through the spool to the rua=mailto: addresses
 * of the domain's _smtp._tls record (RFC 8460 3, 5).  A day's file is
 * removed once its reports are queued (a crash in between sends one twice,
 * never none).  It never delivers: the queue does, on its next pass.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "query.h"
#include "records.h"
#include "send.h"
#include "strbuf.h"
#include "why.h"
#include "sts.h"
#include "tlsrpt.h"
#include "tlsrpt_report.h"

#define RR_TYPE_TXT    16
#define DAY_SECONDS    86400L
#define KEEP_DAYS      7 /* a domain whose record cannot be looked up */
#define PATH_LEN       4096
#define TXT_TIMEOUT_MS 10000

struct txt_wait {
	bool done, failed;
	struct tlsrpt_record rec;
	bool found;
};

struct send_ctx {
	mx_queue *q;
	mx_resolver *r;
	const char *dir, *submitter, *from;
	int64_t now;
	unsigned queued;
	mx_why *why; /* the last failure to queue a report */
};

/* a/b (or a/b!c.sts) into out; false when it does not fit. */
static bool
join(char *out, const char *a, const char *b, const char *id)
{
	struct strbuf sb;

	strbuf_init(&sb, out, PATH_LEN);
	strbuf_printf(&sb, "%s/%s", a, b);
	if (id != NULL)
		strbuf_printf(&sb, "!%s.sts", id);
	return !sb.truncated;
}

/* A whole file of at most max octets (NUL-terminated), or NULL. */
static char *
slurp(const char *path, size_t max, size_t *len)
{
	char *buf = malloc(max + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = -1;
	size_t have = 0;

	while (buf != NULL && fd >= 0 && have < max && (n = read(fd, buf + have, max - have)) > 0)
		have += (size_t)n;
	if (fd >= 0)
		close(fd);
	if (buf == NULL || fd < 0 || n < 0) {
		free(buf);
		return NULL;
	}
	buf[have] = '\0';
	*len = have;
	return buf;
}

static void
on_txt(const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg)
{
	struct txt_wait *w = arg;
	struct record_problems pr = { 0 };
	char text[1024];

	(void)sec;
	(void)why;
	w->done = true;
	if (rcode != 0 && rcode != 3) {
		w->failed = true;
		return;
	}
	/* RFC 8460 3: exactly one record, valid, or no reports. */
	if (rcode == 0 && policy_txt_pick(wire, len, tlsrpt_is_record, text, sizeof(text)) == 1 &&
	    tlsrpt_parse(text, strlen(text), &w->rec, &pr) == 0)
		w->found = true;
}

static mx_err
lookup_rua(struct send_ctx *c, const char *domain, struct txt_wait *w)
{
	char name[MX_DOMAIN_MAX + 16];
	mx_err err;

	memset(w, 0, sizeof(*w));
	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	if ((err = rawquery_start(c->r, name, RR_TYPE_TXT, TXT_TIMEOUT_MS, on_txt, w, NULL)) !=
	    MX_OK)
		return err;
	while (!w->done)
		if ((err = mx_resolver_run(c->r)) != MX_OK)
			return err;
	return MX_OK;
}

/* "mailto:ADDR[?...]" to ADDR; false for anything else. */
static bool
mailto_address(const char *uri, char *out, size_t size)
{
	size_t n;

	if (strncasecmp(uri, "mailto:", 7) != 0)
		return false;
	uri += 7;
	n = strcspn(uri, "?");
	if (n == 0 || n >= size || memchr(uri, '%', n) != NULL)
		return false;
	memcpy(out, uri, n);
	out[n] = '\0';
	return mx_address_check(out, false, NULL) == MX_OK;
}

static mx_err
queue_text(struct send_ctx *c, const char *to, const char *text, size_t len)
{
	struct mx_message mm = { 0 };
	char id[MX_QUEUE_ID_MAX + 1];
	mx_err err;

	if (message_parse(text, len, NULL, &mm.m, NULL) != MESSAGE_OK)
		return MX_ERR_INVALID;
	err = mx_queue_add(c->q, c->from, &to, 1, &mm, id, c->why);
	message_free(mm.m);
	c->queued += err == MX_OK;
	return err;
}

/* The day's report for domain, gzip'd, queued to each mailto: address. */
static mx_err
report(struct send_ctx *c, const char *domain, const struct tlsrpt_day *d,
    const struct tlsrpt_meta *m, const struct tlsrpt_record *rec)
{
	unsigned char *gz = NULL;
	char *json = NULL, *msg = NULL, to[512];
	size_t jlen, glen, mlen;
	mx_err err, worst = MX_OK;

	(void)domain;
	if ((err = tlsrpt_json(d, m, &json, &jlen)) != MX_OK ||
	    (err = tlsrpt_gzip(json, jlen, &gz, &glen)) != MX_OK)
		goto out;
	for (size_t i = 0; i < rec->n_rua; i++) {
		if (!mailto_address(rec->rua[i], to, sizeof(to)))
			continue; /* https: rua is optional (RFC 8460 3); not sent */
		/* Date: the real time, whatever day cut-off the caller chose. */
		if ((err = tlsrpt_message(
			 m, c->from, to, (int64_t)time(NULL), gz, glen, &msg, &mlen)) == MX_OK)
			err = queue_text(c, to, msg, mlen);
		free(msg);
		msg = NULL;
		if (err != MX_OK)
			worst = err;
	}
	err = worst;
out:
	free(json);
	free(gz);
	return err;
}

/* DAYDIR/DOMAIN and its DOMAIN!ID.sts snapshots go. */
static void
forget(const char *daydir, const char *domain)
{
	char prefix[MX_DOMAIN_MAX + 2], path[PATH_LEN];
	DIR *d = opendir(daydir);
	struct dirent *de;

	snprintf(prefix, sizeof(prefix), "%s!", domain);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, domain) != 0 &&
		    strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (join(path, daydir, de->d_name, NULL))
			unlink(path);
	}
	if (d != NULL)
		closedir(d);
}

/* The MTA-STS texts of the day's policies, from their snapshots. */
static void
policy_texts(const char *daydir, const char *domain, const struct tlsrpt_day *day,
    char *texts[TLSRPT_POLICIES_MAX])
{
	char path[PATH_LEN];
	size_t len;

	for (size_t i = 0; i < day->n_pol; i++) {
		texts[i] = NULL;
		if (strcmp(day->pol[i].type, "sts") != 0 || day->pol[i].id[0] == '\0')
			continue;
		if (join(path, daydir, domain, day->pol[i].id))
			texts[i] = slurp(path, HTTPS_GET_BODY_MAX, &len);
	}
}

static mx_err
send_domain(
    struct send_ctx *c, const char *daydir, const char *dayname, int64_t start, const char *domain)
{
	struct tlsrpt_day *day = malloc(sizeof(*day));
	char path[PATH_LEN], report_id[512], *data = NULL, *texts[TLSRPT_POLICIES_MAX] = { 0 };
	struct txt_wait w;
	struct strbuf sb;
	size_t len = 0;
	mx_err err = MX_ERR_NOMEM;

	if (!join(path, daydir, domain, NULL))
		goto out;
	if (day == NULL || (data = slurp(path, TLSRPT_FILE_MAX, &len)) == NULL)
		goto out;
	tlsrpt_day_parse(data, len, day);
	if ((err = lookup_rua(c, domain, &w)) != MX_OK || w.failed) {
		/* Kept for a later call, for a while. */
		if (c->now - start > (KEEP_DAYS + 1) * DAY_SECONDS)
			forget(daydir, domain);
		goto out;
	}
	policy_texts(daydir, domain, day, texts);
	strbuf_init(&sb, report_id, sizeof(report_id));
	strbuf_printf(&sb, "%s.%s@%s", dayname, domain, c->submitter);
	struct tlsrpt_meta m = { .organization = c->submitter,
		.contact = c->from,
		.submitter = c->submitter,
		.domain = domain,
		.report_id = report_id,
		.start = start,
		.end = start + DAY_SECONDS,
		.policy_text = (const char *const *)texts };
	err = w.found && day->n_pol > 0 ? report(c, domain, day, &m, &w.rec) : MX_OK;
	if (err == MX_OK)
		forget(daydir, domain);
out:
	for (size_t i = 0; i < TLSRPT_POLICIES_MAX; i++)
		free(texts[i]);
	free(data);
	free(day);
	return err;
}

static mx_err
send_day(struct send_ctx *c, const char *dayname)
{
	char top[PATH_LEN], daydir[PATH_LEN];
	int64_t start = tlsrpt_day_start(dayname);
	DIR *d;
	struct dirent *de;
	mx_err err = MX_OK, e;

	if (start < 0 || start + DAY_SECONDS > c->now)
		return MX_OK; /* not a day, or not over yet */
	if (!join(top, c->dir, "tlsrpt", NULL) || !join(daydir, top, dayname, NULL) ||
	    (d = opendir(daydir)) == NULL)
		return MX_ERR_SYSTEM;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strchr(de->d_name, '!') != NULL ||
		    !sts_file_name_ok(de->d_name))
			continue;
		if ((e = send_domain(c, daydir, dayname, start, de->d_name)) != MX_OK)
			err = e;
	}
	closedir(d);
	rmdir(daydir); /* only once empty */
	return err;
}

mx_err
mx_tlsrpt_send_due(mx_queue *queue, mx_resolver *resolver, const char *dir, const char *submitter,
    const char *from, int64_t now, unsigned *queued, mx_why *why)
{
	struct send_ctx c = { queue, resolver, dir, submitter, from, now, 0, why };
	char path[PATH_LEN];
	DIR *d;
	struct dirent *de;
	mx_err err = MX_OK, e;

	if (queued != NULL)
		*queued = 0;
	why_clear(why);
	if (queue == NULL || resolver == NULL || dir == NULL || submitter == NULL || from == NULL ||
	    mx_address_check(from, true, NULL) != MX_OK)
		return why_set(why, MX_ERR_INVALID,
		    "no queue, resolver, directory, submitter "
		    "or valid From address");
	if (!join(path, dir, "tlsrpt", NULL) || (d = opendir(path)) == NULL)
		return MX_OK; /* nothing recorded yet */
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && (e = send_day(&c, de->d_name)) != MX_OK)
			err = e;
	closedir(d);
	if (queued != NULL)
		*queued = c.queued;
	return err;
}
