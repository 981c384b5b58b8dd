/*
 * tlsrpt_send.c - mx_tlsrpt_send_due: the days of the TLS-RPT store
 * (policy/tlsrpt.c) that are over, one report per policy domain (policy/
 * tlsrpt_report.c), queued through the spool to the rua=mailto: addresses
 * of the domain's _smtp._tls record (RFC 8460 3, 5).  A day's file is
 * removed once its reports are queued (a crash in between sends one twice,
 * never none).  It never delivers: the queue does, on its next pass.
 * The work runs on the resolver's event loop, one domain's TXT lookup at
 * a time (tlsrpt_send_start, what the daemon uses); mx_tlsrpt_send_due
 * runs that loop until the work is done.
 */
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "query.h"
#include "resolver.h"
#include "records.h"
#include "send.h"
#include "strbuf.h"
#include "why.h"
#include "sts.h"
#include "tlsrpt.h"
#include "tlsrpt_post.h"
#include "tlsrpt_report.h"
#include "tlsrpt_send.h"

#define RR_TYPE_TXT    16
#define DAY_SECONDS    86400L
#define KEEP_DAYS      7 /* a domain whose record cannot be looked up */
#define PATH_LEN       4096
#define TXT_TIMEOUT_MS 10000
#define ITEMS_MAX      100000 /* (day, domain) pairs in one run */

struct txt_wait {
	bool done, failed;
	struct tlsrpt_record rec;
	bool found;
};

/* One day file to report: DIR/tlsrpt/DAY/DOMAIN. */
struct item {
	char day[11];
	char domain[MX_DOMAIN_MAX + 1];
};

struct send_ctx {
	mx_queue *q;
	mx_resolver *r;
	char *dir, *submitter, *from, *ca_file;
	int64_t now;
	unsigned queued;
	mx_why *why; /* the last failure to queue a report */
};

/* A run: the items found at its start, looked up and reported in turn. */
struct tlsrpt_run {
	struct send_ctx c;
	mx_why why;
	mx_err err;
	struct item *items;
	size_t n, cap, next;
	struct txt_wait w;
	struct rawquery *rq;
	struct event *finish;     /* done goes out from the loop, never from start */
	struct tlsrpt_post *post; /* the current item's https: rua, under way */
	mx_err item_err;          /* what its mailto: part came to */
	char daydir[PATH_LEN];    /* its day, forgotten once posted */
	unsigned posted;
	tlsrpt_done_fn done;
	void *arg;
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

/* What the _smtp._tls reply says: failed, found (w->rec), or no reports. */
static void
read_txt(const uint8_t *wire, size_t len, int rcode, struct txt_wait *w)
{
	struct record_problems pr = { 0 };
	char text[1024];

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

/* A day's report, gzip'd, kept for the https: addresses of its record. */
struct held {
	unsigned char *gz; /* NULL: the record has no https: address */
	size_t len;
};

static bool
has_https(const struct tlsrpt_record *rec)
{
	char host[MX_DOMAIN_MAX + 1], path[TLSRPT_URI_PATH_MAX];
	uint16_t port;

	for (size_t i = 0; i < rec->n_rua; i++)
		if (tlsrpt_https_uri(rec->rua[i], host, &port, path))
			return true;
	return false;
}

/* The day's report for domain, gzip'd, queued to each mailto: address;
 * handed out in h for the https: ones (RFC 8460 5.4), which the caller posts. */
static mx_err
report(struct send_ctx *c, const struct tlsrpt_day *d, const struct tlsrpt_meta *m,
    const struct tlsrpt_record *rec, struct held *h)
{
	unsigned char *gz = NULL;
	char *json = NULL, *msg = NULL, to[512];
	size_t jlen, glen, mlen;
	mx_err err, worst = MX_OK;

	if ((err = tlsrpt_json(d, m, &json, &jlen)) != MX_OK ||
	    (err = tlsrpt_gzip(json, jlen, &gz, &glen)) != MX_OK)
		goto out;
	for (size_t i = 0; i < rec->n_rua; i++) {
		if (!mailto_address(rec->rua[i], to, sizeof(to)))
			continue; /* https: below, anything else unknown */
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
	if (has_https(rec)) {
		h->gz = gz;
		h->len = glen;
		gz = NULL;
	}
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

/* The day file of it, reported to what w found (or kept, or forgotten). */
static mx_err
send_item(struct send_ctx *c, const struct item *it, const struct txt_wait *w, struct held *h)
{
	struct tlsrpt_day *day = malloc(sizeof(*day));
	char top[PATH_LEN], daydir[PATH_LEN], path[PATH_LEN], report_id[512], *data = NULL;
	char *texts[TLSRPT_POLICIES_MAX] = { 0 };
	int64_t start = tlsrpt_day_start(it->day);
	struct strbuf sb;
	size_t len = 0;
	mx_err err = MX_ERR_NOMEM;

	if (!join(top, c->dir, "tlsrpt", NULL) || !join(daydir, top, it->day, NULL) ||
	    !join(path, daydir, it->domain, NULL))
		goto out;
	if (day == NULL || (data = slurp(path, TLSRPT_FILE_MAX, &len)) == NULL)
		goto out;
	tlsrpt_day_parse(data, len, day);
	if (w->failed) {
		/* Kept for a later call, for a while. */
		if (c->now - start > (KEEP_DAYS + 1) * DAY_SECONDS)
			forget(daydir, it->domain);
		err = MX_OK;
		goto out;
	}
	policy_texts(daydir, it->domain, day, texts);
	strbuf_init(&sb, report_id, sizeof(report_id));
	strbuf_printf(&sb, "%s.%s@%s", it->day, it->domain, c->submitter);
	struct tlsrpt_meta m = { .organization = c->submitter,
		.contact = c->from,
		.submitter = c->submitter,
		.domain = it->domain,
		.report_id = report_id,
		.start = start,
		.end = start + DAY_SECONDS,
		.policy_text = (const char *const *)texts };
	err = w->found && day->n_pol > 0 ? report(c, day, &m, &w->rec, h) : MX_OK;
	if (err == MX_OK && h->gz == NULL)
		forget(daydir, it->domain); /* else once posted */
out:
	for (size_t i = 0; i < TLSRPT_POLICIES_MAX; i++)
		free(texts[i]);
	free(data);
	free(day);
	return err;
}

static bool
add_item(struct tlsrpt_run *run, const char *day, const char *domain)
{
	if (run->n == run->cap) {
		size_t cap = run->cap ? run->cap * 2 : 16;
		struct item *p = cap <= ITEMS_MAX ? realloc(run->items, cap * sizeof(*p)) : NULL;
		if (p == NULL)
			return false;
		run->items = p;
		run->cap = cap;
	}
	struct item *it = &run->items[run->n];
	size_t dl = strlen(day), nl = strlen(domain);
	if (dl >= sizeof(it->day) || nl >= sizeof(it->domain))
		return true; /* not a day or not a domain: nothing of ours */
	memcpy(it->day, day, dl + 1);
	memcpy(it->domain, domain, nl + 1);
	run->n++;
	return true;
}

/* The domains of a day that is over, as items. */
static mx_err
collect_day(struct tlsrpt_run *run, const char *top, const char *dayname)
{
	char daydir[PATH_LEN];
	int64_t start = tlsrpt_day_start(dayname);
	DIR *d;
	struct dirent *de;
	mx_err err = MX_OK;

	if (start < 0 || start + DAY_SECONDS > run->c.now)
		return MX_OK; /* not a day, or not over yet */
	if (!join(daydir, top, dayname, NULL) || (d = opendir(daydir)) == NULL)
		return MX_ERR_SYSTEM;
	while (err == MX_OK && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strchr(de->d_name, '!') != NULL ||
		    !sts_file_name_ok(de->d_name))
			continue;
		if (!add_item(run, dayname, de->d_name))
			err = MX_ERR_NOMEM;
	}
	closedir(d);
	rmdir(daydir); /* only once empty (a day with nothing left) */
	return err;
}

static mx_err
collect(struct tlsrpt_run *run)
{
	char top[PATH_LEN];
	DIR *d;
	struct dirent *de;
	mx_err err = MX_OK, e;

	if (!join(top, run->c.dir, "tlsrpt", NULL) || (d = opendir(top)) == NULL)
		return MX_OK; /* nothing recorded yet */
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && (e = collect_day(run, top, de->d_name)) != MX_OK)
			err = e;
	closedir(d);
	return err;
}

static void step(struct tlsrpt_run *run);

/* A failure: the run's result, and its why unless the queue gave one. */
static void
note(struct tlsrpt_run *run, mx_err err, const char *what)
{
	run->err = err;
	if (run->why.text[0] == '\0')
		why_set(&run->why, err, "%s", what);
}

static void
on_posted(unsigned posted, unsigned failed, const char *why, void *arg)
{
	struct tlsrpt_run *run = arg;
	const struct item *it = &run->items[run->next - 1];

	bool stale = run->c.now - tlsrpt_day_start(it->day) > (KEEP_DAYS + 1) * DAY_SECONDS;

	run->post = NULL;
	run->posted += posted;
	if (failed > 0)
		note(run, MX_ERR_SYSTEM, why);
	/* A server that never takes it: the day goes after a while, as one
	 * whose record cannot be looked up (its mailto: copies are sent again
	 * at each run until then). */
	if ((failed == 0 && run->item_err == MX_OK) || stale)
		forget(run->daydir, it->domain);
	step(run);
}

/* The report in h to the https: addresses of the item's record; false
 * when nothing is under way (h is freed either way). */
static bool
post(struct tlsrpt_run *run, const struct item *it, mx_err err, struct held *h)
{
	const char *uris[8];
	char top[PATH_LEN];
	mx_err e;

	for (size_t i = 0; i < run->w.rec.n_rua && i < 8; i++)
		uris[i] = run->w.rec.rua[i];
	run->item_err = err;
	if (!join(top, run->c.dir, "tlsrpt", NULL) || !join(run->daydir, top, it->day, NULL))
		run->daydir[0] = '\0';
	e = tlsrpt_post_start(run->c.r, run->c.ca_file, uris, run->w.rec.n_rua, h->gz, h->len,
	    on_posted, run, &run->post);
	free(h->gz);
	h->gz = NULL;
	if (e != MX_OK)
		note(run, e, "cannot start posting a report to its https: address");
	return e == MX_OK && run->post != NULL;
}

static void
on_txt(const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg)
{
	struct tlsrpt_run *run = arg;
	const struct item *it = &run->items[run->next - 1];
	char what[MX_DOMAIN_MAX + 64];
	struct held h = { NULL, 0 };
	mx_err err;

	(void)sec;
	(void)why;
	run->rq = NULL;
	read_txt(wire, len, rcode, &run->w);
	if ((err = send_item(&run->c, it, &run->w, &h)) != MX_OK) {
		snprintf(what, sizeof(what), "the report of %s for %s", it->domain, it->day);
		note(run, err, what);
	}
	if (h.gz != NULL && post(run, it, err, &h))
		return; /* step once posted */
	step(run);
}

/* The run is over: the last empty day directories go, done is told. */
static void
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct tlsrpt_run *run = arg;
	char top[PATH_LEN], daydir[PATH_LEN];

	(void)fd;
	(void)what;
	for (size_t i = 0; i < run->n; i++)
		if (join(top, run->c.dir, "tlsrpt", NULL) &&
		    join(daydir, top, run->items[i].day, NULL))
			rmdir(daydir); /* only once empty */
	run->done(run->err, run->c.queued, run->posted, &run->why, run->arg);
	tlsrpt_send_cancel(run);
}

/* The next item's lookup, or the end. */
static void
step(struct tlsrpt_run *run)
{
	char name[MX_DOMAIN_MAX + 16];
	mx_err err;

	while (run->next < run->n) {
		const struct item *it = &run->items[run->next++];
		memset(&run->w, 0, sizeof(run->w));
		snprintf(name, sizeof(name), "_smtp._tls.%s", it->domain);
		if ((err = rawquery_start(run->c.r, name, RR_TYPE_TXT, TXT_TIMEOUT_MS, on_txt, run,
			 &run->rq)) == MX_OK)
			return;
		note(run, err, "the resolver cannot look up _smtp._tls records");
	}
	event_active(run->finish, EV_TIMEOUT, 0);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

mx_err
tlsrpt_send_start(mx_queue *queue, mx_resolver *resolver, const char *dir, const char *submitter,
    const char *from, const char *ca_file, int64_t now, tlsrpt_done_fn done, void *arg,
    struct tlsrpt_run **out)
{
	struct tlsrpt_run *run;
	mx_err err;

	*out = NULL;
	if (queue == NULL || resolver == NULL || dir == NULL || submitter == NULL || from == NULL ||
	    done == NULL || mx_address_check(from, true, NULL) != MX_OK)
		return MX_ERR_INVALID;
	if ((run = calloc(1, sizeof(*run))) == NULL)
		return MX_ERR_NOMEM;
	run->c = (struct send_ctx){ queue, resolver, dup_or_null(dir), dup_or_null(submitter),
		dup_or_null(from), dup_or_null(ca_file), now, 0, &run->why };
	run->done = done;
	run->arg = arg;
	run->finish = event_new(resolver_base(resolver), -1, 0, on_finish, run);
	if (run->finish == NULL || !run->c.dir || !run->c.submitter || !run->c.from ||
	    (ca_file != NULL && run->c.ca_file == NULL)) {
		tlsrpt_send_cancel(run);
		return MX_ERR_NOMEM;
	}
	if ((err = collect(run)) != MX_OK)
		note(run, err, "the TLS-RPT store cannot be read in full");
	step(run);
	*out = run;
	return MX_OK;
}

void
tlsrpt_send_cancel(struct tlsrpt_run *run)
{
	if (run == NULL)
		return;
	rawquery_cancel(run->rq);
	tlsrpt_post_cancel(run->post);
	if (run->finish != NULL)
		event_free(run->finish);
	free(run->items);
	free(run->c.dir);
	free(run->c.submitter);
	free(run->c.from);
	free(run->c.ca_file);
	free(run);
}

struct wait {
	bool done;
	mx_err err;
	unsigned queued;
	mx_why *why;
};

static void
on_done(mx_err err, unsigned queued, unsigned posted, const mx_why *why, void *arg)
{
	struct wait *w = arg;

	w->done = true;
	w->err = err;
	w->queued = queued;
	(void)posted;
	if (w->why != NULL && why != NULL)
		*w->why = *why;
}

mx_err
mx_tlsrpt_send_due(mx_queue *queue, mx_resolver *resolver, const char *dir, const char *submitter,
    const char *from, int64_t now, unsigned *queued, mx_why *why)
{
	struct wait w = { false, MX_OK, 0, why };
	struct tlsrpt_run *run;
	mx_err err;

	if (queued != NULL)
		*queued = 0;
	why_clear(why);
	if (resolver == NULL ||
	    (err = tlsrpt_send_start(queue, resolver, dir, submitter, from, NULL, now, on_done, &w,
		 &run)) == MX_ERR_INVALID)
		return why_set(why, MX_ERR_INVALID,
		    "no queue, resolver, directory, submitter or valid From address");
	if (err != MX_OK)
		return why_set(why, err, "cannot start: %s", mx_strerror(err));
	while (!w.done)
		if (event_base_loop(resolver_base(resolver), EVLOOP_ONCE) < 0) {
			tlsrpt_send_cancel(run);
			return why_set(why, MX_ERR_SYSTEM, "the event loop failed");
		}
	if (queued != NULL)
		*queued = w.queued;
	return w.err;
}
