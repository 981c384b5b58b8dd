/*
 * queue.c - the queue's policy over the spool: what to queue after a
 * delivery, what is due, delivering it through the sender, the retry
 * schedule (exponential backoff with jitter), per-destination
 * short-circuits within a pass, expiry, and the DSNs for what was given
 * up.  The files and their durability are spool.c's; SMTP is deliver.c's;
 * the report's text is dsn.c's.  Nothing here prints: outcomes go to the
 * caller's log function.
 *
 * Ordering that keeps "nothing accepted is lost": a recipient is marked
 * sent only after the server's 250 (a crash before the update means one
 * more delivery, never none), and marked bounced only after the DSN that
 * tells its sender is itself safely queued.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "deliver.h"
#include "dsn.h"
#include "json.h"
#include "message.h"
#include "aliases.h"
#include "queue.h"
#include "pickup.h"
#include "resolver.h"
#include "send.h"
#include "spool.h"
#include "why.h"

#define QUEUE_CONCURRENCY 8
#define QUEUE_TMP_AGE     60 /* seconds before an unlocked tmp/ file is a dead writer's */

struct mx_queue {
	struct spool *sp;
	unsigned retry_first, retry_max, lifetime, concurrency;
	mx_queue_log_fn log;
	void *log_arg;
	bool log_json;
	bool existing_only; /* mx_queue_open_existing: never writes entries */
	char *dir;          /* the spool directory, for pickup's drop/ */
};

struct mx_queue_item {
	struct spool_entry *e;
};

/* ---- opening, settings -------------------------------------------------- */

/* existing_only: spool_open_existing (create nothing), else spool_open. */
static mx_err
queue_open(mx_queue **out, const char *dir, bool existing_only, mx_why *why)
{
	mx_why scratch;
	mx_queue *q;
	mx_err err;

	if (why == NULL)
		why = &scratch;
	why_clear(why);
	if (out == NULL || dir == NULL)
		return why_set(why, MX_ERR_INVALID, "no queue or no directory (NULL)");
	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	err = existing_only ? spool_open_existing(dir, &q->sp, why->text, sizeof(why->text))
			    : spool_open(dir, &q->sp, why->text, sizeof(why->text));
	if (err != MX_OK) {
		free(q);
		return err;
	}
	q->existing_only = existing_only;
	if ((q->dir = strdup(dir)) == NULL) {
		spool_close(q->sp);
		free(q);
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	}
	q->retry_first = MX_QUEUE_RETRY_FIRST;
	q->retry_max = MX_QUEUE_RETRY_MAX;
	q->lifetime = MX_QUEUE_LIFETIME;
	q->concurrency = QUEUE_CONCURRENCY;
	*out = q;
	return MX_OK;
}

mx_err
mx_queue_open(mx_queue **out, const char *dir, mx_why *why)
{
	return queue_open(out, dir, false, why);
}

mx_err
mx_queue_open_existing(mx_queue **out, const char *dir, mx_why *why)
{
	return queue_open(out, dir, true, why);
}

void
mx_queue_close(mx_queue *q)
{
	if (q == NULL)
		return;
	spool_close(q->sp);
	free(q->dir);
	free(q);
}

mx_err
mx_queue_set_retry(mx_queue *q, unsigned first, unsigned max, unsigned lifetime)
{
	if (max < first)
		return MX_ERR_INVALID;
	q->retry_first = first;
	q->retry_max = max;
	q->lifetime = lifetime;
	return MX_OK;
}

mx_err
mx_queue_set_concurrency(mx_queue *q, unsigned n)
{
	if (n == 0 || n > 1000)
		return MX_ERR_INVALID;
	q->concurrency = n;
	return MX_OK;
}

void
mx_queue_set_log(mx_queue *q, mx_queue_log_fn fn, bool json, void *arg)
{
	q->log = fn;
	q->log_json = json;
	q->log_arg = arg;
}

/* "what: reason" into the caller's why. */
static mx_err
fail(mx_why *why, mx_err err, const char *what, const char *reason)
{
	return why_set(why, err, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
}

/* A queue opened to read is never written to: refused before any file is. */
static mx_err
refuse_if_existing_only(mx_queue *q, const char *what, mx_why *why)
{
	if (!q->existing_only)
		return MX_OK;
	return fail(why, MX_ERR_INVALID, what,
	    "the queue was opened with mx_queue_open_existing, to read only");
}

/* ---- pickup ------------------------------------------------------------- */

static void
pickup_log(const char *line, void *arg)
{
	mx_queue *q = arg;

	if (q->log != NULL && !q->log_json)
		q->log(line, q->log_arg);
	else if (q->log != NULL) {
		char *json = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&json, &size);
		if (f == NULL)
			return;
		fputs("{\"pickup\": ", f);
		json_string(f, line);
		fputc('}', f);
		if (fclose(f) == 0)
			q->log(json, q->log_arg);
		free(json);
	}
}

/* The alias file pickup expands recipients with: path, or /etc/aliases
 * when it exists (NULL), or none (""). */
static mx_err
pickup_aliases(const char *path, struct aliases **out, mx_why *why)
{
	char reason[512];
	mx_err err;

	*out = NULL;
	if (path != NULL && path[0] == '\0')
		return MX_OK;
	err =
	    aliases_load(path != NULL ? path : PICKUP_ALIASES_DEFAULT, out, reason, sizeof(reason));
	if (err == MX_ERR_SYSTEM && errno == ENOENT && path == NULL)
		return MX_OK;
	if (err != MX_OK)
		return why_set(why, err == MX_ERR_NOMEM ? err : MX_ERR_CONFIG, "%s", reason);
	return MX_OK;
}

mx_err
mx_queue_pickup(mx_queue *q, const char *origin, const char *aliases, size_t *picked, mx_why *why)
{
	struct pickup_ctx c = { .origin = origin, .log = pickup_log, .log_arg = q };
	struct aliases *a = NULL;
	char reason[MX_WHY_MAX];
	mx_err err;

	if (picked != NULL)
		*picked = 0;
	why_clear(why);
	if ((err = refuse_if_existing_only(q, "pickup", why)) != MX_OK)
		return err;
	if ((err = pickup_aliases(aliases, &a, why)) != MX_OK)
		return err;
	c.sp = q->sp;
	c.spool_dir = q->dir;
	c.aliases = a;
	if ((err = pickup_run(&c, reason, sizeof(reason))) != MX_OK)
		why_set(why, err, "%s", reason);
	aliases_free(a);
	if (picked != NULL)
		*picked = c.st.picked;
	return err;
}

/* ---- the retry schedule -------------------------------------------------- */

/*
 * When to try again after the attempts-th failure: retry_first doubled
 * for each earlier failure, at most retry_max, minus up to a fifth at
 * random so that entries deferred together spread out.
 */
static int64_t
next_attempt(const mx_queue *q, int64_t now, unsigned attempts)
{
	uint64_t wait = q->retry_first;

	for (unsigned i = 1; i < attempts && wait < q->retry_max; i++)
		wait *= 2;
	if (wait > q->retry_max)
		wait = q->retry_max;
	if (wait >= 5)
		wait -= arc4random_uniform((uint32_t)(wait / 5) + 1);
	return now + (int64_t)wait;
}

/* ---- adding ------------------------------------------------------------- */

static void
set_reason(struct spool_rcpt *r, const char *dsn, const char *text)
{
	snprintf(r->reason, sizeof(r->reason), "%.15s%s%.480s", dsn ? dsn : "", dsn ? " " : "",
	    text ? text : "");
}

mx_err
mx_queue_add(mx_queue *q, const char *mail_from, const char *const *rcpts, size_t n_rcpts,
    const mx_message *mm, char id[MX_QUEUE_ID_MAX + 1], mx_why *why)
{
	struct payload src;
	struct envelope env;
	const char *reason = NULL;
	mx_err err;

	why_clear(why);
	if (q == NULL || mm == NULL || id == NULL)
		return fail(why, MX_ERR_INVALID, "cannot queue", "a NULL argument");
	id[0] = '\0';
	if ((err = refuse_if_existing_only(q, "cannot queue", why)) != MX_OK)
		return err;
	if ((err = envelope_prepare(mail_from, rcpts, n_rcpts, &env, why)) != MX_OK)
		return err;
	message_payload(mm->m, &src);
	err = spool_enqueue_payload(
	    q->sp, env.from, env.rcpts, env.n, &src, id, MX_QUEUE_ID_MAX + 1, &reason);
	envelope_free(&env);
	return err == MX_OK ? MX_OK : fail(why, err, "cannot queue the message", reason);
}

mx_err
mx_queue_add_deferred(mx_queue *q, const mx_delivery *d, char id[MX_QUEUE_ID_MAX + 1], mx_why *why)
{
	struct spool_entry e = { 0 };
	const char *reason = NULL;
	int64_t now = (int64_t)time(NULL);
	mx_err err;

	why_clear(why);
	if (q == NULL || d == NULL || id == NULL)
		return fail(why, MX_ERR_INVALID, "cannot queue", "a NULL argument");
	id[0] = '\0';
	if ((err = refuse_if_existing_only(q, "cannot queue", why)) != MX_OK)
		return err;
	if ((e.rcpts = calloc(d->n_rcpts ? d->n_rcpts : 1, sizeof(*e.rcpts))) == NULL)
		return fail(why, MX_ERR_NOMEM, "cannot queue", "out of memory");
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct deliver_rcpt *rc = &d->rcpts[i];
		struct spool_rcpt *r = &e.rcpts[e.n_rcpts];
		if (rc->status != MX_RCPT_DEFERRED)
			continue;
		if (strlen(rc->address) > SPOOL_ADDRESS_MAX) {
			free(e.rcpts);
			return fail(
			    why, MX_ERR_BAD_ADDRESS, "cannot queue", "an address is too long");
		}
		memcpy(r->address, rc->address, strlen(rc->address) + 1);
		r->attempts = 1;
		r->next_attempt = next_attempt(q, now, 1);
		set_reason(r, rc->dsn, rc->text);
		e.n_rcpts++;
	}
	err = MX_OK;
	if (e.n_rcpts > 0) {
		snprintf(e.sender, sizeof(e.sender), "%.320s", d->mail_from);
		e.payload = &d->payload;
		e.len = payload_len(&d->payload);
		e.created = now;
		err = spool_enqueue_entry(q->sp, &e, id, MX_QUEUE_ID_MAX + 1, &reason);
		if (err != MX_OK)
			fail(why, err, "cannot queue the deferred recipients", reason);
	}
	free(e.rcpts);
	return err;
}

/* ---- items: listing and showing ----------------------------------------- */

mx_err
mx_queue_load(mx_queue *q, const char *id, mx_queue_item **out, mx_why *why)
{
	mx_queue_item *item;
	const char *reason = NULL;
	mx_err err;

	why_clear(why);
	if (q == NULL || id == NULL || out == NULL)
		return fail(why, MX_ERR_INVALID, "cannot load", "a NULL argument");
	*out = NULL;
	if (!spool_id_valid(id))
		return fail(why, MX_ERR_INVALID, "not a queue ID", id);
	if ((item = calloc(1, sizeof(*item))) == NULL)
		return fail(why, MX_ERR_NOMEM, "out of memory", NULL);
	if ((err = spool_load_head(q->sp, id, NULL, NULL, &item->e, &reason)) != MX_OK) {
		free(item);
		return fail(why, err, id, err == MX_ERR_NOT_FOUND ? "no such entry" : reason);
	}
	*out = item;
	return MX_OK;
}

void
mx_queue_item_free(mx_queue_item *item)
{
	if (item == NULL)
		return;
	spool_entry_free(item->e);
	free(item);
}

const char *
mx_queue_item_id(const mx_queue_item *it)
{
	return it->e->id;
}
int64_t
mx_queue_item_created(const mx_queue_item *it)
{
	return it->e->created;
}
const char *
mx_queue_item_sender(const mx_queue_item *it)
{
	return it->e->sender;
}
size_t
mx_queue_item_recipient_count(const mx_queue_item *it)
{
	return it->e->n_rcpts;
}

size_t
mx_queue_item_size(const mx_queue_item *it)
{
	return it->e->len;
}

/* Read on first use: listing and running never hold a message whole. */
const uint8_t *
mx_queue_item_data(const mx_queue_item *it, size_t *len)
{
	static const uint8_t empty[1];
	const char *why = NULL;

	*len = 0;
	if (it->e->len == 0)
		return empty;
	if (spool_entry_read_data(it->e, &why) != MX_OK)
		return NULL;
	*len = it->e->len;
	return it->e->data;
}

const char *
mx_queue_item_recipient(const mx_queue_item *it, size_t i)
{
	return i < it->e->n_rcpts ? it->e->rcpts[i].address : "";
}

mx_queue_rcpt_state
mx_queue_item_state(const mx_queue_item *it, size_t i)
{
	static const mx_queue_rcpt_state states[] = {
		[SPOOL_PENDING] = MX_QUEUE_PENDING,
		[SPOOL_SENT] = MX_QUEUE_SENT,
		[SPOOL_BOUNCED] = MX_QUEUE_BOUNCED,
	};
	return i < it->e->n_rcpts ? states[it->e->rcpts[i].state] : MX_QUEUE_PENDING;
}

unsigned
mx_queue_item_attempts(const mx_queue_item *it, size_t i)
{
	return i < it->e->n_rcpts ? it->e->rcpts[i].attempts : 0;
}

int64_t
mx_queue_item_next_attempt(const mx_queue_item *it, size_t i)
{
	return i < it->e->n_rcpts ? it->e->rcpts[i].next_attempt : 0;
}

const char *
mx_queue_item_reason(const mx_queue_item *it, size_t i)
{
	return i < it->e->n_rcpts ? it->e->rcpts[i].reason : "";
}

mx_err
mx_queue_item_to_json(const mx_queue_item *it, char **out)
{
	static const char *const states[] = { "pending", "sent", "bounced" };
	const struct spool_entry *e = it->e;
	size_t size = 0;
	FILE *f;

	*out = NULL;
	if ((f = open_memstream(out, &size)) == NULL)
		return MX_ERR_NOMEM;
	fputs("{\"id\": ", f);
	json_string(f, e->id);
	fprintf(f, ", \"created\": %lld, \"sender\": ", (long long)e->created);
	json_string(f, e->sender);
	fprintf(f, ", \"size\": %zu, \"recipients\": [", e->len);
	for (size_t i = 0; i < e->n_rcpts; i++) {
		const struct spool_rcpt *r = &e->rcpts[i];
		fputs(i ? ", {\"to\": " : "{\"to\": ", f);
		json_string(f, r->address);
		fprintf(f,
		    ", \"state\": \"%s\", \"attempts\": %u, \"next_attempt\": %lld, "
		    "\"reason\": ",
		    states[r->state], r->attempts, (long long)r->next_attempt);
		json_string(f, r->reason);
		fputc('}', f);
	}
	fputs("]}", f);
	if (ferror(f) || fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return MX_ERR_NOMEM;
	}
	return MX_OK;
}

struct list_ctx {
	mx_queue_bad_cb bad;
	void *arg;
	char (*ids)[SPOOL_ID_MAX + 1];
	size_t n, cap;
	bool failed;
};

static void
list_collect(const char *id, void *arg)
{
	struct list_ctx *c = arg;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *ids = realloc(c->ids, cap * sizeof(*c->ids));
		if (ids == NULL) {
			c->failed = true;
			return;
		}
		c->ids = ids;
		c->cap = cap;
	}
	snprintf(c->ids[c->n++], sizeof(c->ids[0]), "%s", id);
}

static void
list_skipped(const char *name, const char *why, void *arg)
{
	struct list_ctx *c = arg;

	if (c->bad != NULL)
		c->bad(name, why, c->arg);
}

static int
compare_ids(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Oldest first: IDs begin with their second of arrival. */
mx_err
mx_queue_list(mx_queue *q, mx_queue_list_cb cb, mx_queue_bad_cb bad, void *arg, mx_why *why)
{
	struct list_ctx c = { .bad = bad, .arg = arg };
	mx_err err = MX_OK;

	why_clear(why);
	if (q == NULL || cb == NULL)
		return fail(why, MX_ERR_INVALID, "cannot list the queue", "a NULL argument");
	if (spool_scan(q->sp, list_collect, list_skipped, &c) != MX_OK) {
		err = fail(why, MX_ERR_SYSTEM, "cannot read the spool's queue/", NULL);
		goto out;
	}
	if (c.failed) {
		err = fail(why, MX_ERR_NOMEM, "cannot list the queue", "out of memory");
		goto out;
	}
	if (c.n > 1)
		qsort(c.ids, c.n, sizeof(c.ids[0]), compare_ids);
	for (size_t i = 0; i < c.n; i++) {
		struct mx_queue_item item = { 0 };
		const char *reason = NULL;
		mx_err lerr = spool_load_head(q->sp, c.ids[i], NULL, NULL, &item.e, &reason);
		if (lerr == MX_OK)
			cb(&item, arg);
		else if (lerr == MX_ERR_CORRUPT && bad != NULL)
			bad(c.ids[i], reason, arg); /* moved to corrupt/ by spool_load */
		spool_entry_free(item.e);
	}
out:
	free(c.ids);
	return err;
}

mx_err
mx_queue_delete(mx_queue *q, const char *id, mx_why *why)
{
	const char *reason = NULL;
	int fd = -1;
	mx_err err;

	why_clear(why);
	if (q == NULL || id == NULL || !spool_id_valid(id))
		return fail(why, MX_ERR_INVALID, "not a queue ID", id ? id : "(NULL)");
	if ((err = spool_lock(q->sp, id, &fd)) != MX_OK)
		return fail(why, err, id,
		    err == MX_ERR_LOCKED ? "being delivered by a runner right now; try again"
			: err == MX_ERR_NOT_FOUND ? "no such entry"
						  : "cannot open the entry");
	err = spool_remove(q->sp, id, &reason);
	spool_unlock(fd);
	return err == MX_OK ? MX_OK : fail(why, err, id, reason);
}

struct due_ctx {
	mx_queue *q;
	int64_t earliest;
};

static void
due_one(const char *id, void *arg)
{
	struct due_ctx *c = arg;
	struct spool_entry *e = NULL;
	const char *why = NULL;

	if (spool_load_head(c->q->sp, id, NULL, NULL, &e, &why) != MX_OK)
		return;
	for (size_t i = 0; i < e->n_rcpts; i++) {
		int64_t t = e->rcpts[i].next_attempt > 0 ? e->rcpts[i].next_attempt : 1;
		if (e->rcpts[i].state == SPOOL_PENDING && (c->earliest == 0 || t < c->earliest))
			c->earliest = t;
	}
	spool_entry_free(e);
}

int64_t
mx_queue_next_due(mx_queue *q)
{
	struct due_ctx c = { q, 0 };

	if (q == NULL || spool_scan(q->sp, due_one, NULL, &c) != MX_OK)
		return 0;
	return c.earliest;
}

/* ---- a pass ------------------------------------------------------------- */

enum dest_state { DEST_UNKNOWN = 0, DEST_PROBING, DEST_ALIVE, DEST_DEAD };

/* A destination domain as this pass has found it. */
struct dest {
	char domain[MX_DOMAIN_MAX + 1];
	enum dest_state state;
	size_t in_flight;
	char dsn[16];
	char reason[SPOOL_REASON_MAX + 1];
};

/* What happened to one recipient of an entry in this pass. */
struct outcome {
	bool due, bounce, expired;
	struct dest *dest;
	char status[16];
	char diagnostic[SMTP_TEXT_MAX];
	bool smtp_reply;
	char remote_mta[NAME_TEXT_MAX];
	char *line; /* a refused recipient's log line, held until finish knows its fate */
};

struct pass;

/* One entry being delivered: locked, loaded, with its outcomes. */
struct slot {
	struct pass *pass;
	struct spool_entry *e;
	int lock_fd;
	struct outcome *out;   /* one per recipient of e */
	size_t *map;           /* delivery index -> recipient of e */
	struct wire_scan scan; /* 8-bit octets and SIZE, seen as the CRC was checked */
};

struct pass {
	mx_queue *q;
	mx_sender *sender;
	unsigned flags;
	int64_t now;
	char (*ids)[SPOOL_ID_MAX + 1];
	size_t n_ids, cap_ids, next;
	struct dest **dests;
	size_t n_dests, cap_dests;
	size_t active;
	bool failed;      /* out of memory along the way */
	int64_t earliest; /* for stats.next_due */
	mx_err err;       /* a delivery could not start: stop */
	mx_why why;       /* ... and why */
	mx_queue_stats st;
	const struct queue_hooks *hooks; /* queue_entry_start's caller (the daemon) */
};

static bool
pass_add_id(struct pass *p, const char *id)
{
	if (p->n_ids == p->cap_ids) {
		size_t cap = p->cap_ids ? p->cap_ids * 2 : 64;
		void *ids = realloc(p->ids, cap * sizeof(*p->ids));
		if (ids == NULL)
			return false;
		p->ids = ids;
		p->cap_ids = cap;
	}
	snprintf(p->ids[p->n_ids++], sizeof(p->ids[0]), "%s", id);
	return true;
}

static void log_event(struct pass *p, const char *id, const char *to, const char *status,
    const char *dsn, const char *text);

static void
scan_one(const char *id, void *arg)
{
	struct pass *p = arg;

	if (!pass_add_id(p, id))
		p->failed = true;
}

static void
scan_skipped(const char *name, const char *why, void *arg)
{
	struct pass *p = arg;
	char note[256];

	snprintf(note, sizeof(note), "not a queue entry, left alone: %s", why);
	log_event(p, name, NULL, "skipped", "", note);
}

static void logf_line(struct pass *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
logf_line(struct pass *p, const char *fmt, ...)
{
	va_list ap;
	char *line = NULL;

	if (p->q->log == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) >= 0)
		p->q->log(line, p->q->log_arg);
	va_end(ap);
	free(line);
}

/* A JSON event for what no delivery reported (short-circuits, DSNs, files). */
static void
log_event(struct pass *p, const char *id, const char *to, const char *status, const char *dsn,
    const char *text)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (!p->q->log_json) {
		if (to != NULL)
			logf_line(p, "%s: to=<%s>, relay=none, delay=0, dsn=%s, status=%s (%s)", id,
			    to, dsn, status, text);
		else
			logf_line(p, "%s: %s", id, text);
		return;
	}
	if (p->q->log == NULL || (f = open_memstream(&buf, &size)) == NULL)
		return;
	fputs("{\"queue_id\": ", f);
	json_string(f, id);
	if (to != NULL) {
		fputs(", \"to\": ", f);
		json_string(f, to);
		fputs(", \"dsn\": ", f);
		json_string(f, dsn);
	}
	fputs(", \"status\": ", f);
	json_string(f, status);
	fputs(", \"reply\": ", f);
	json_string(f, text);
	fputc('}', f);
	if (fclose(f) == 0)
		p->q->log(buf, p->q->log_arg);
	free(buf);
}

/* The line for recipient k of a delivery, as log_delivery writes it; NULL
 * without a log (or memory). */
static char *
delivery_line(struct pass *p, const char *id, const mx_delivery *d, size_t k)
{
	char *part = NULL, *line = NULL;

	if (p->q->log == NULL)
		return NULL;
	if (p->q->log_json) {
		if (mx_delivery_to_json(d, k, &part) == MX_OK &&
		    asprintf(&line, "{\"queue_id\": \"%s\", %s", id, part + 1) < 0)
			line = NULL;
	} else if (mx_delivery_log_line(d, k, &part) == MX_OK &&
	    asprintf(&line, "%s: %s", id, part) < 0) {
		line = NULL;
	}
	free(part);
	return line;
}

static void
log_delivery(struct pass *p, const char *id, const mx_delivery *d, size_t k)
{
	char *line = delivery_line(p, id, d, k);

	if (line != NULL)
		logf_line(p, "%s", line);
	free(line);
}

/*
 * A refused recipient's line, held since on_delivery: "bounced" only once
 * it is (the report to the sender queued, or none due); when the report
 * could not be queued (a full disk) the recipient stays queued, and the
 * log says so instead, so that log readers (pflogsumm) count no bounce
 * that did not happen.
 */
static void
log_refused(struct pass *p, const struct spool_entry *e, size_t i, struct outcome *o)
{
	if (o->line == NULL)
		return;
	if (e->rcpts[i].state == SPOOL_BOUNCED)
		logf_line(p, "%s", o->line);
	else
		log_event(p, e->id, e->rcpts[i].address, "deferred", "4.3.0",
		    "refused, but the report to the sender could not be queued: kept "
		    "for another try");
	free(o->line);
	o->line = NULL;
}

static struct dest *
dest_get(struct pass *p, const char *address)
{
	const char *at = strrchr(address, '@');
	const char *domain = at ? at + 1 : address;
	struct dest *d;

	for (size_t i = 0; i < p->n_dests; i++)
		if (strcasecmp(p->dests[i]->domain, domain) == 0)
			return p->dests[i];
	if (p->n_dests == p->cap_dests) {
		size_t cap = p->cap_dests ? p->cap_dests * 2 : 16;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		void *dests = realloc(p->dests, cap * sizeof(*p->dests));
		if (dests == NULL)
			return NULL;
		p->dests = dests;
		p->cap_dests = cap;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	snprintf(d->domain, sizeof(d->domain), "%.253s", domain);
	p->dests[p->n_dests++] = d;
	return d;
}

static bool
expired(const struct pass *p, const struct spool_entry *e)
{
	return p->now - e->created >= (int64_t)p->q->lifetime;
}

/* A recipient that stays queued, or is given up on when the entry is too old. */
static void
defer(struct slot *s, size_t i, const char *dsn, const char *text, bool smtp_reply,
    const char *remote)
{
	struct spool_rcpt *r = &s->e->rcpts[i];
	struct outcome *o = &s->out[i];
	struct pass *p = s->pass;

	r->attempts++;
	set_reason(r, dsn, text);
	if (!expired(p, s->e)) {
		r->next_attempt = next_attempt(p->q, p->now, r->attempts);
		p->st.deferred++;
		return;
	}
	o->bounce = o->expired = true;
	snprintf(o->status, sizeof(o->status), "%s", dsn);
	snprintf(o->diagnostic, sizeof(o->diagnostic), "%s", text);
	o->smtp_reply = smtp_reply;
	snprintf(o->remote_mta, sizeof(o->remote_mta), "%s", remote);
}

/* line: the delivery's log line for it (taken), logged by finish. */
static void
bounce(struct slot *s, size_t i, const struct deliver_rcpt *rc, char *line)
{
	struct outcome *o = &s->out[i];

	free(o->line);
	o->line = line;
	s->e->rcpts[i].attempts++;
	set_reason(&s->e->rcpts[i], rc->dsn, rc->text);
	o->bounce = true;
	snprintf(o->status, sizeof(o->status), "%s", rc->dsn);
	snprintf(o->diagnostic, sizeof(o->diagnostic), "%s", rc->text);
	o->smtp_reply = rc->reached || rc->relay_host[0] != '\0';
	snprintf(o->remote_mta, sizeof(o->remote_mta), "%s", rc->relay_host);
}

/* What a runner sleeping until the next due recipient needs (stats.next_due). */
static void
note_pending(struct pass *p, const struct spool_entry *e)
{
	for (size_t i = 0; i < e->n_rcpts; i++) {
		int64_t t = e->rcpts[i].next_attempt > p->now ? e->rcpts[i].next_attempt : p->now;
		if (e->rcpts[i].state == SPOOL_PENDING && (p->earliest == 0 || t < p->earliest))
			p->earliest = t;
	}
}

static void
slot_free(struct slot *s)
{
	if (s == NULL)
		return;
	spool_unlock(s->lock_fd);
	for (size_t i = 0; s->out != NULL && s->e != NULL && i < s->e->n_rcpts; i++)
		free(s->out[i].line);
	spool_entry_free(s->e);
	free(s->out);
	free(s->map);
	free(s);
}

/*
 * The start of the entry's data that holds its header, for the report:
 * read a piece at a time up to the empty line, never past
 * DSN_ORIGINAL_MAX octets (cut after a LF), so that a bounce of a large
 * message costs no more memory than one of a small one.  NULL when it
 * cannot be read.
 */
static uint8_t *
original_header(const struct spool_entry *e, size_t *len)
{
	size_t want = e->len < DSN_ORIGINAL_MAX ? e->len : DSN_ORIGINAL_MAX, have = 0;
	uint8_t *buf = malloc(want + 1);
	struct payload data;
	ssize_t r = 1;

	spool_entry_payload(e, &data);
	while (buf != NULL && have < want && r > 0) {
		size_t from = have > 3 ? have - 3 : 0;
		r = payload_read(&data, have, buf + have,
		    want - have < PAYLOAD_CHUNK ? want - have : PAYLOAD_CHUNK);
		have += r > 0 ? (size_t)r : 0;
		if ((have >= 2 && memcmp(buf, "\r\n", 2) == 0) ||
		    memmem(buf + from, have - from, "\r\n\r\n", 4) != NULL)
			break; /* the empty line: the header is all there */
	}
	if (buf == NULL || r < 0) {
		free(buf);
		return NULL;
	}
	if (have == DSN_ORIGINAL_MAX && e->len > have)
		while (have > 0 && buf[have - 1] != '\n')
			have--;
	*len = have;
	return buf;
}

/*
 * Queues the report for the recipients given up on.  When that fails,
 * they stay pending (retried later): a bounce is only recorded once the
 * sender's notification is safe.
 */
static void
send_dsn(struct slot *s, size_t n_bounced)
{
	struct pass *p = s->pass;
	struct spool_entry *e = s->e;
	struct dsn_rcpt *rcpts = calloc(n_bounced, sizeof(*rcpts));
	struct message *m = NULL;
	char *text = NULL, id[SPOOL_ID_MAX + 1];
	const char *why = "out of memory", *to[] = { e->sender };
	size_t n = 0, len = 0, head_len = 0;
	uint8_t *head = original_header(e, &head_len);
	mx_err err = MX_ERR_NOMEM;

	if (head == NULL)
		why = "cannot read the message's header back from the spool";
	for (size_t i = 0; rcpts != NULL && i < e->n_rcpts; i++) {
		const struct outcome *o = &s->out[i];
		if (!o->bounce)
			continue;
		rcpts[n++] = (struct dsn_rcpt){ .address = e->rcpts[i].address,
			.status = o->status,
			.diagnostic = o->diagnostic,
			.smtp_reply = o->smtp_reply,
			.remote_mta = o->remote_mta,
			.last_attempt = (time_t)p->now };
	}
	struct dsn_report r = { .reporting_mta = p->sender->helo,
		.queue_id = e->id,
		.sender = e->sender,
		.arrival = (time_t)e->created,
		.now = (time_t)p->now,
		.expired = true,
		.lifetime_hours = p->q->lifetime / 3600,
		.rcpts = rcpts,
		.n_rcpts = n,
		.original = head,
		.original_len = head_len };
	for (size_t i = 0; i < e->n_rcpts; i++)
		if (s->out[i].bounce && !s->out[i].expired)
			r.expired = false; /* some were refused: not a matter of time only */
	if (rcpts != NULL && head != NULL && (err = dsn_compose(&r, &text, &len)) == MX_OK) {
		why = "the report did not make a valid message";
		err =
		    message_parse(text, len, NULL, &m, NULL) == MESSAGE_OK ? MX_OK : MX_ERR_INVALID;
	}
	if (err == MX_OK)
		err = spool_enqueue(
		    p->q->sp, "", to, 1, (const uint8_t *)m->data, m->len, id, sizeof(id), &why);
	if (err == MX_OK) {
		char note[64 + SPOOL_ID_MAX];
		p->st.dsns++;
		snprintf(note, sizeof(note), "sender non-delivery notification: %s", id);
		log_event(p, e->id, NULL, "dsn", "", note);
		if (!pass_add_id(p, id))
			p->failed = true;
	} else {
		log_event(p, e->id, NULL, "error", "", why);
	}
	for (size_t i = 0; i < e->n_rcpts; i++) {
		struct outcome *o = &s->out[i];
		if (!o->bounce)
			continue;
		if (err != MX_OK) { /* keep it; the next pass tries the report again */
			o->bounce = false;
			e->rcpts[i].next_attempt = next_attempt(p->q, p->now, 1);
			continue;
		}
		e->rcpts[i].state = SPOOL_BOUNCED;
	}
	message_free(m);
	free(text);
	free(head);
	free(rcpts);
}

/* Records what the pass did to the entry: DSN, then the file. */
static void
finish(struct slot *s)
{
	struct pass *p = s->pass;
	struct spool_entry *e = s->e;
	size_t n_bounced = 0, pending = 0;
	const char *why = NULL;

	for (size_t i = 0; i < e->n_rcpts; i++)
		n_bounced += s->out[i].bounce;
	/* -oeq (sendmail's error mode "quiet"): the submitter asked for no
	 * report at all; the failures are in the log only. */
	if (n_bounced > 0 && e->sender[0] != '\0' && !e->no_bounce)
		send_dsn(s, n_bounced);
	for (size_t i = 0; i < e->n_rcpts; i++) {
		const struct outcome *o = &s->out[i];
		if (!o->bounce)
			continue;
		if (e->sender[0] == '\0' || e->no_bounce) {
			e->rcpts[i].state = SPOOL_BOUNCED;
			log_event(p, e->id, e->rcpts[i].address, "bounced", o->status,
			    e->no_bounce ? "given up; no notification, error mode q"
					 : "given up; no notification, the sender is <>");
		} else if (o->expired) {
			log_event(
			    p, e->id, e->rcpts[i].address, "expired", o->status, o->diagnostic);
		}
		p->st.bounced += e->rcpts[i].state == SPOOL_BOUNCED;
		p->st.expired += e->rcpts[i].state == SPOOL_BOUNCED && o->expired;
	}
	for (size_t i = 0; i < e->n_rcpts; i++)
		log_refused(p, e, i, &s->out[i]);
	for (size_t i = 0; i < e->n_rcpts; i++)
		pending += e->rcpts[i].state == SPOOL_PENDING;
	note_pending(p, e);
	if (pending == 0) {
		if (spool_remove(p->q->sp, e->id, &why) == MX_OK) {
			p->st.removed++;
			log_event(p, e->id, NULL, "removed", "", "removed");
		} else {
			log_event(p, e->id, NULL, "error", "", why);
		}
	} else if (spool_update(p->q->sp, e, &s->lock_fd, &why) != MX_OK) {
		/* The file keeps its earlier state: those recipients get another try. */
		log_event(p, e->id, NULL, "error", "", why);
	}
	if (p->hooks != NULL)
		p->hooks->entry(e, pending == 0, p->hooks->arg);
	slot_free(s);
}

static void dispatch(struct pass *p);
static void entry_pass_end(struct pass *p);

static void
on_delivery(mx_delivery *d, void *arg)
{
	struct slot *s = arg;
	struct pass *p = s->pass;

	for (size_t k = 0; k < d->n_rcpts; k++) {
		const struct deliver_rcpt *rc = &d->rcpts[k];
		size_t i = s->map[k];
		struct dest *dest = s->out[i].dest;
		dest->in_flight--;
		if (rc->status == MX_RCPT_DEFERRED && !rc->reached) {
			/* No server got as far as this recipient: the destination is down. */
			dest->state = DEST_DEAD;
			snprintf(dest->dsn, sizeof(dest->dsn), "%s", rc->dsn);
			snprintf(dest->reason, sizeof(dest->reason), "%s", rc->text);
		} else if (dest->state != DEST_DEAD) {
			dest->state = DEST_ALIVE;
		}
		if (dest->in_flight == 0 && p->hooks != NULL)
			p->hooks->end(dest->domain, dest->state != DEST_DEAD, dest->dsn,
			    dest->reason, p->hooks->arg);
		if (rc->status == MX_RCPT_SENT) {
			s->e->rcpts[i].attempts++;
			s->e->rcpts[i].state = SPOOL_SENT;
			set_reason(&s->e->rcpts[i], rc->dsn, rc->text);
			p->st.sent++;
		} else if (rc->status == MX_RCPT_BOUNCED) {
			bounce(s, i, rc, delivery_line(p, s->e->id, d, k));
			continue; /* its line waits for finish (log_refused) */
		} else {
			defer(s, i, rc->dsn, rc->text, rc->reached, rc->relay_host);
		}
		log_delivery(p, s->e->id, d, k);
	}
	mx_delivery_free(d);
	finish(s);
	p->active--;
	dispatch(p);
	if (p->hooks != NULL && p->active == 0)
		entry_pass_end(p);
}

enum try_result { TRY_STARTED, TRY_SKIPPED, TRY_BLOCKED };

static void
see_data(const uint8_t *piece, size_t n, void *arg)
{
	message_wire_scan(arg, piece, n);
}

/*
 * Locks and loads an entry (its data checked, not held: it goes from the
 * file); NULL (and why counted) when it is not for us.
 */
static struct slot *
take(struct pass *p, const char *id)
{
	struct slot *s = calloc(1, sizeof(*s));
	const char *why = NULL;
	mx_err err;

	if (s == NULL) {
		p->failed = true;
		return NULL;
	}
	s->pass = p;
	if ((err = spool_lock(p->q->sp, id, &s->lock_fd)) != MX_OK) {
		p->st.locked += err == MX_ERR_LOCKED; /* else it vanished: done meanwhile */
		free(s);
		return NULL;
	}
	if ((err = spool_load_head(p->q->sp, id, see_data, &s->scan, &s->e, &why)) != MX_OK) {
		if (err == MX_ERR_CORRUPT) {
			char note[SPOOL_REASON_MAX];
			p->st.corrupt++;
			snprintf(
			    note, sizeof(note), "corrupt queue file moved to corrupt/: %s", why);
			log_event(p, id, NULL, "corrupt", "", note);
		}
		slot_free(s);
		return NULL;
	}
	s->out = calloc(s->e->n_rcpts, sizeof(*s->out));
	s->map = calloc(s->e->n_rcpts, sizeof(*s->map));
	if (s->out == NULL || s->map == NULL) {
		p->failed = true;
		slot_free(s);
		return NULL;
	}
	return s;
}

/* Marks what is due; TRY_BLOCKED when a destination's first try is still out. */
static enum try_result
plan_slot(struct pass *p, struct slot *s, size_t *n_due)
{
	*n_due = 0;
	for (size_t i = 0; i < s->e->n_rcpts; i++) {
		const struct spool_rcpt *r = &s->e->rcpts[i];
		struct outcome *o = &s->out[i];
		if (r->state != SPOOL_PENDING ||
		    (!(p->flags & MX_QUEUE_FLUSH) && r->next_attempt > p->now))
			continue;
		if ((o->dest = dest_get(p, r->address)) == NULL) {
			p->failed = true;
			return TRY_SKIPPED;
		}
		/* The daemon holds this destination back: the recipient waits. */
		if (p->hooks != NULL && p->hooks->wait(o->dest->domain, p->hooks->arg))
			continue;
		/* One entry finds out whether a destination is up before the rest go. */
		if (o->dest->state == DEST_PROBING)
			return TRY_BLOCKED;
		o->due = true;
		(*n_due)++;
	}
	return *n_due > 0 ? TRY_STARTED : TRY_SKIPPED;
}

static enum try_result
try_entry(struct pass *p, const char *id)
{
	struct slot *s = take(p, id);
	const char **list = NULL;
	size_t n_due = 0, n = 0;
	struct payload data;
	enum try_result tr;
	mx_err err;

	if (s == NULL)
		return TRY_SKIPPED;
	if ((tr = plan_slot(p, s, &n_due)) != TRY_STARTED) {
		if (tr == TRY_SKIPPED)
			note_pending(p, s->e); /* nothing due: when it will be */
		if (p->hooks != NULL)
			p->hooks->entry(s->e, false, p->hooks->arg);
		slot_free(s);
		return tr;
	}
	p->st.tried++;
	if ((list = calloc(n_due, sizeof(*list))) == NULL) {
		p->failed = true;
		slot_free(s);
		return TRY_SKIPPED;
	}
	for (size_t i = 0; i < s->e->n_rcpts; i++) {
		struct outcome *o = &s->out[i];
		if (!o->due)
			continue;
		if (o->dest->state == DEST_DEAD) {
			p->st.skipped++;
			defer(s, i, o->dest->dsn, o->dest->reason, false, "");
			log_event(p, id, s->e->rcpts[i].address, "deferred", o->dest->dsn,
			    "not tried: its destination failed earlier in this run");
			continue;
		}
		if (o->dest->state == DEST_UNKNOWN)
			o->dest->state = DEST_PROBING;
		if (o->dest->in_flight++ == 0 && p->hooks != NULL)
			p->hooks->begin(o->dest->domain, p->hooks->arg);
		s->map[n] = i;
		list[n++] = s->e->rcpts[i].address;
	}
	if (n == 0) {
		free(list);
		finish(s);
		return TRY_SKIPPED;
	}
	/* The message's line before its recipients', as Postfix's qmgr logs
	 * it when a message enters the active queue; the daemon logs its own
	 * when it learns of the entry. */
	if (p->hooks == NULL && !p->q->log_json)
		logf_line(p, "%s: from=<%s>, size=%zu, nrcpt=%zu (queue active)", id, s->e->sender,
		    s->e->len, n);
	spool_entry_payload(s->e, &data);
	p->active++;
	if ((err = deliver_start(p->sender, s->e->sender, list, n, &data,
		 s->scan.seen - s->scan.dots,
		 (s->scan.eight_bit ? MX_SEND_8BITMIME : 0) |
		     (s->scan.eight_bit_header ? MX_SEND_SMTPUTF8 : 0),
		 on_delivery, s, &p->why)) != MX_OK) {
		/*
		 * Nothing was tried (the resolver cannot start: a bad trust
		 * anchor, say).  Not the mail's fault: the entry stays as it was,
		 * no attempt counted, and the pass stops with the error.
		 */
		p->active--;
		p->err = err;
		for (size_t k = 0; k < n; k++) {
			if (--s->out[s->map[k]].dest->in_flight == 0 && p->hooks != NULL)
				p->hooks->end(
				    s->out[s->map[k]].dest->domain, true, "", "", p->hooks->arg);
			if (s->out[s->map[k]].dest->state == DEST_PROBING)
				s->out[s->map[k]].dest->state = DEST_UNKNOWN;
		}
		slot_free(s);
	}
	free(list);
	return TRY_STARTED;
}

static void
dispatch(struct pass *p)
{
	size_t blocked = 0;

	while (
	    p->active < p->q->concurrency && p->next < p->n_ids && !p->failed && p->err == MX_OK) {
		char id[SPOOL_ID_MAX + 1];
		snprintf(id, sizeof(id), "%s", p->ids[p->next++]);
		if (try_entry(p, id) != TRY_BLOCKED) {
			blocked = 0;
			continue;
		}
		/* Back of the line; stop once every waiting entry waits. */
		if (!pass_add_id(p, id)) {
			p->failed = true;
			break;
		}
		if (++blocked >= p->n_ids - p->next)
			break;
	}
}

mx_err
mx_queue_run(mx_queue *q, mx_sender *sender, unsigned flags, mx_queue_stats *stats, mx_why *why)
{
	struct pass p = { .q = q, .sender = sender, .flags = flags };
	mx_err err = MX_OK;

	why_clear(why);
	if (q == NULL || sender == NULL)
		return fail(why, MX_ERR_INVALID, "cannot run the queue", "a NULL argument");
	if ((err = refuse_if_existing_only(q, "cannot run the queue", why)) != MX_OK)
		return err;
	p.now = (int64_t)time(NULL);
	spool_clean_tmp(q->sp, QUEUE_TMP_AGE);
	if (spool_scan(q->sp, scan_one, scan_skipped, &p) != MX_OK) {
		err = fail(why, MX_ERR_SYSTEM, "cannot read the spool's queue/", NULL);
		goto out;
	}
	p.st.entries = p.n_ids;
	/* IDs begin with their second of arrival: oldest first, as a queue should. */
	if (p.n_ids > 1)
		qsort(p.ids, p.n_ids, sizeof(p.ids[0]), compare_ids);
	dispatch(&p);
	if (p.active > 0 && (err = mx_resolver_run(sender->resolver)) != MX_OK)
		fail(why, err, "the run stopped early", "the event loop failed");
	if (err == MX_OK && p.err != MX_OK)
		err = fail(
		    why, p.err, "cannot deliver", p.why.text[0] ? p.why.text : mx_strerror(p.err));
	if (err == MX_OK && p.failed)
		err = fail(why, MX_ERR_NOMEM, "the run stopped early", "out of memory");
out:
	p.st.next_due = p.earliest;
	if (stats != NULL)
		*stats = p.st;
	for (size_t i = 0; i < p.n_dests; i++)
		free(p.dests[i]);
	free(p.dests);
	free(p.ids);
	return err;
}

/* ---- one entry for a long-running caller (queue.h) ----------------- */

static void
entry_pass_end(struct pass *p)
{
	const struct queue_hooks *h = p->hooks;

	p->st.next_due = p->earliest;
	h->done(p->n_ids > 0 ? p->ids[0] : "", &p->st, p->err, h->arg);
	for (size_t i = 0; i < p->n_dests; i++)
		free(p->dests[i]);
	free(p->dests);
	free(p->ids);
	free(p);
}

mx_err
queue_entry_start(
    mx_queue *q, mx_sender *sender, const char *id, unsigned flags, const struct queue_hooks *hooks)
{
	struct pass *p;
	mx_err err;

	if (q == NULL || sender == NULL || id == NULL || hooks == NULL)
		return MX_ERR_INVALID;
	if ((err = refuse_if_existing_only(q, "cannot run the queue", NULL)) != MX_OK)
		return err;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MX_ERR_NOMEM;
	*p = (struct pass){
		.q = q, .sender = sender, .flags = flags, .hooks = hooks, .now = (int64_t)time(NULL)
	};
	if (!pass_add_id(p, id)) {
		free(p);
		return MX_ERR_NOMEM;
	}
	p->st.entries = 1;
	dispatch(p);
	if (p->active == 0)
		entry_pass_end(p);
	return MX_OK;
}

void
queue_clean_tmp(mx_queue *q)
{
	spool_clean_tmp(q->sp, QUEUE_TMP_AGE);
}

struct spool *
queue_spool(mx_queue *q)
{
	return q->sp;
}
