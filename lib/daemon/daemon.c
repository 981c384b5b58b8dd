/*
 * daemon.c - mx_daemon: the long-running owner of a spool.  It learns of
 * entries from a scan at start and from inotify on queue/ afterwards,
 * keeps for each entry only its ID, when it is next due and the
 * destinations (recipient domains) it still waits for, and queues due
 * entries per destination.  A destination opens up to the per-destination
 * limit once a server of it answered; until then, and after it failed,
 * one delivery at a time probes it, and a failed one is held back with
 * its own doubling backoff.  Each entry is delivered by the queue's policy
 * (queue_entry_start): this file never writes a queue file and never
 * speaks SMTP.  Signals, the control socket and the connection cache are
 * set up here and torn down at the end of mx_daemon_run.
 */
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "conncache.h"
#include "control.h"
#include "daemon.h"
#include "daemon_sender.h"
#include "daemon_state.h"
#include "queue.h"
#include "resolver.h"
#include "sender.h"
#include "spool.h"

#define LOCKED_RETRY_S 2  /* an entry another runner holds */
#define ERROR_RETRY_S  30 /* a delivery that could not start */
#define RDONLY_RETRY_S 2  /* a read-only spool: how often to look again */

/* ---- logging ---------------------------------------------------------- */

void
daemon_log(mx_daemon *d, const char *program, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (d->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d->log(program, line, d->log_arg);
}

/* ---- entries by ID ------------------------------------------------------ */

static size_t
id_hash(const char *id)
{
	size_t h = 5381;

	for (; *id != '\0'; id++)
		h = h * 33 + (unsigned char)*id;
	return h % DAEMON_BUCKETS;
}

struct dentry *
dentry_find(mx_daemon *d, const char *id)
{
	for (struct dentry *e = d->buckets[id_hash(id)]; e != NULL; e = e->hnext)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static struct dentry *
dentry_add(mx_daemon *d, const char *id)
{
	struct dentry *e = calloc(1, sizeof(*e));
	size_t h = id_hash(id);

	if (e == NULL)
		return NULL;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->hnext = d->buckets[h];
	d->buckets[h] = e;
	d->n_entries++;
	return e;
}

/* Lets go of the destinations the entry waited for (daemon_arm frees
 * those nobody needs any more). */
static void
dentry_release_dests(struct dentry *e)
{
	for (size_t i = 0; i < e->n_dests; i++)
		e->dests[i]->refs--;
	free(e->dests);
	e->dests = NULL;
	e->n_dests = 0;
}

static void
dentry_free(struct dentry *e)
{
	dentry_release_dests(e);
	free(e);
}

static void
dentry_drop(mx_daemon *d, struct dentry *e)
{
	for (struct dentry **pp = &d->buckets[id_hash(e->id)]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	d->n_entries--;
	dentry_free(e);
}

/* ---- destinations ------------------------------------------------------- */

/* A domain's bucket, case-blind as domains are.  A hash rather than a
 * walk of the list: a start over 20,000 one-off domains took 6.4 s. */
static size_t
domain_hash(const char *domain)
{
	size_t h = 5381;

	for (; *domain != '\0'; domain++)
		h = h * 33 + (unsigned char)tolower((unsigned char)*domain);
	return h % DAEMON_DEST_BUCKETS;
}

/*
 * The destination of a recipient domain.  Every local domain's mail goes
 * to the one LMTP server, so they share one destination, named after it
 * ("lmtp:unix:/run/dovecot/lmtp"; no domain has a colon), with its own
 * limit: its queue, its holds and its probes are the mail store's.
 */
struct ddest *
ddest_get(mx_daemon *d, const char *domain)
{
	char name[MX_DOMAIN_MAX + 1];
	bool lmtp = sender_local(d->sender, domain);
	struct ddest *t;
	size_t h;

	if (lmtp)
		snprintf(name, sizeof(name), "lmtp:%.240s", d->sender->lmtp->text);
	else
		snprintf(name, sizeof(name), "%.253s", domain);
	h = domain_hash(name);
	for (t = d->dest_buckets[h]; t != NULL; t = t->hnext)
		if (strcasecmp(t->domain, name) == 0)
			return t;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	memcpy(t->domain, name, sizeof(name));
	t->lmtp = lmtp;
	t->next = d->dests;
	d->dests = t;
	t->hnext = d->dest_buckets[h];
	d->dest_buckets[h] = t;
	d->n_dests++;
	return t;
}

static void
ddest_unhash(mx_daemon *d, struct ddest *t)
{
	for (struct ddest **pp = &d->dest_buckets[domain_hash(t->domain)]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			return;
		}
	}
}

/* Frees each destination no entry waits for, with no delivery under way
 * and no hold in force; what its FIFO still holds are IDs of entries
 * that no longer wait for it. */
static void
ddest_sweep(mx_daemon *d, int64_t now)
{
	struct ddest **pp = &d->dests;

	while (*pp != NULL) {
		struct ddest *t = *pp;
		if (t->refs > 0 || t->active > 0 || t->hold_until > now) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		ddest_unhash(d, t);
		d->n_dests--;
		free(t->fifo);
		free(t);
	}
}

/*
 * Whether one more delivery to t may start now.  An unproven destination
 * gets one (the probe); a proven one its window, which grows by one per
 * delivery that reached a server (doubling per round, as TCP's slow
 * start) up to the per-destination limit (the LMTP store's
 * own for it).  Going to the limit at once
 * started every waiting message together, before any session could be
 * parked for reuse: 10 messages to one domain opened 10 connections
 * (bench/daemon-throughput, 200 destinations: 1,952 for 2,000 messages,
 * Postfix 1,835); with the window each new delivery mostly finds the
 * session the last one parked.
 */
static bool
dest_open(const mx_daemon *d, const struct ddest *t, int64_t now)
{
	unsigned cap = t->lmtp ? d->lmtp_limit : d->per_dest;
	unsigned limit = t->window < cap ? t->window : cap;

	if (t->hold_until > now)
		return false;
	return t->active < (t->proven && limit > 1 ? limit : 1u);
}

static bool
fifo_push(struct ddest *t, const char *id)
{
	if (t->len == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char(*ids)[SPOOL_ID_MAX + 1] = malloc(cap * sizeof(*ids));
		if (ids == NULL)
			return false;
		for (size_t i = 0; i < t->len; i++)
			memcpy(ids[i], t->fifo[(t->head + i) % t->cap], sizeof(ids[0]));
		free(t->fifo);
		t->fifo = ids;
		t->head = 0;
		t->cap = cap;
	}
	snprintf(t->fifo[(t->head + t->len) % t->cap], sizeof(t->fifo[0]), "%s", id);
	t->len++;
	return true;
}

static void
fifo_pop(struct ddest *t, char id[SPOOL_ID_MAX + 1])
{
	memcpy(id, t->fifo[t->head], SPOOL_ID_MAX + 1);
	t->head = (t->head + 1) % t->cap;
	t->len--;
}

/* ---- the timer heap of entries not yet due ------------------------------ */

static bool
heap_push(mx_daemon *d, int64_t due, const char *id)
{
	size_t i;

	if (d->n_heap == d->cap_heap) {
		size_t cap = d->cap_heap ? d->cap_heap * 2 : 64;
		struct due *h = realloc(d->heap, cap * sizeof(*h));
		if (h == NULL)
			return false;
		d->heap = h;
		d->cap_heap = cap;
	}
	for (i = d->n_heap++; i > 0 && d->heap[(i - 1) / 2].at > due; i = (i - 1) / 2)
		d->heap[i] = d->heap[(i - 1) / 2];
	d->heap[i].at = due;
	snprintf(d->heap[i].id, sizeof(d->heap[i].id), "%s", id);
	return true;
}

static void
heap_pop(mx_daemon *d, struct due *out)
{
	struct due last = d->heap[--d->n_heap];
	size_t i = 0, c;

	*out = d->heap[0];
	while ((c = 2 * i + 1) < d->n_heap) {
		if (c + 1 < d->n_heap && d->heap[c + 1].at < d->heap[c].at)
			c++;
		if (d->heap[c].at >= last.at)
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->n_heap > 0)
		d->heap[i] = last;
}

/* ---- scheduling ---------------------------------------------------------- */

/* Puts a due entry in the queue of each destination it waits for. */
static void
make_ready(mx_daemon *d, struct dentry *e)
{
	e->due = 0;
	for (size_t i = 0; i < e->n_dests; i++)
		if (!fifo_push(e->dests[i], e->id))
			d->failed = true;
}

static bool
has_dest(const struct dentry *e, const struct ddest *t)
{
	for (size_t i = 0; i < e->n_dests; i++)
		if (e->dests[i] == t)
			return true;
	return false;
}

/* What the entry waits for, from its spool state: destinations and when. */
static void
schedule(mx_daemon *d, struct dentry *e, const struct spool_entry *se)
{
	int64_t now = (int64_t)time(NULL), due = 0;

	dentry_release_dests(e);
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	if ((e->dests = calloc(se->n_rcpts ? se->n_rcpts : 1, sizeof(*e->dests))) == NULL) {
		d->failed = true;
		return;
	}
	for (size_t i = 0; i < se->n_rcpts; i++) {
		const struct spool_rcpt *r = &se->rcpts[i];
		const char *at = strrchr(r->address, '@');
		struct ddest *t;
		if (r->state != SPOOL_PENDING ||
		    (t = ddest_get(d, at ? at + 1 : r->address)) == NULL)
			continue;
		if (!has_dest(e, t)) {
			e->dests[e->n_dests++] = t;
			t->refs++;
		}
		if (due == 0 || r->next_attempt < due)
			due = r->next_attempt;
	}
	if (e->n_dests == 0)
		return;
	if (due <= now || e->flush)
		make_ready(d, e);
	else if ((e->due = due), !heap_push(d, due, e->id))
		d->failed = true;
}

/* An ID seen for the first time: its header read, logged as Postfix's qmgr does, queued. */
void
daemon_learn(mx_daemon *d, const char *id)
{
	struct spool_entry *se = NULL;
	const char *why = NULL;
	struct dentry *e;
	size_t n = 0;

	if (dentry_find(d, id) != NULL || !spool_id_valid(id))
		return;
	/* The header only: the data is read (and its CRC checked) when the
	 * entry is delivered, so a start with a large queue reads little and
	 * holds one header at a time. */
	if (spool_load_schedule(queue_spool(d->q), id, &se, &why) != MX_OK)
		return; /* gone already, or moved to corrupt/ */
	if ((e = dentry_add(d, id)) == NULL) {
		d->failed = true;
		spool_entry_free(se);
		return;
	}
	for (size_t i = 0; i < se->n_rcpts; i++)
		n += se->rcpts[i].state == SPOOL_PENDING;
	daemon_log(d, "qmgr", "%s: from=<%s>, size=%zu, nrcpt=%zu (queue active)", id, se->sender,
	    se->len, n);
	schedule(d, e, se);
	spool_entry_free(se);
}

static void start_entry(mx_daemon *d, struct dentry *e);

/*
 * Whether deliveries may start: not while the spool's file system is
 * read-only (remounted so after an error, say), since their outcome could
 * not be recorded and what was delivered would stay queued and go again.
 * The change either way is logged once; daemon_arm looks again every
 * RDONLY_RETRY_S seconds.
 */
static bool
spool_writable(mx_daemon *d)
{
	struct statvfs sv;
	bool ro = statvfs(d->dir, &sv) == 0 && (sv.f_flag & ST_RDONLY) != 0;

	if (ro && !d->read_only)
		daemon_log(d, "qmgr",
		    "warning: the spool %.300s is on a read-only file system: no delivery "
		    "starts until it is writable again (mail stays queued)",
		    d->dir);
	else if (!ro && d->read_only)
		daemon_log(
		    d, "qmgr", "the spool %.300s is writable again: deliveries resume", d->dir);
	d->read_only = ro;
	return !ro;
}

/* Starts what the limits allow, one entry per open destination per round. */
void
daemon_dispatch(mx_daemon *d)
{
	int64_t now = (int64_t)time(NULL);
	bool progress = spool_writable(d);
	char id[SPOOL_ID_MAX + 1];

	while (!d->stopping && progress && d->active < d->total) {
		progress = false;
		for (struct ddest *t = d->dests; t != NULL && d->active < d->total; t = t->next) {
			struct dentry *e;
			if (t->len == 0 || !dest_open(d, t, now))
				continue;
			fifo_pop(t, id);
			progress = true;
			if ((e = dentry_find(d, id)) != NULL && !e->active && e->due == 0)
				start_entry(d, e);
		}
	}
	daemon_arm(d);
}

/* The timer: the next entry due, or the next hold that ends with mail waiting. */
void
daemon_arm(mx_daemon *d)
{
	int64_t now = (int64_t)time(NULL), at = 0;
	struct timeval tv = { 0, 0 };

	ddest_sweep(d, now);
	if (d->n_heap > 0)
		at = d->heap[0].at;
	for (struct ddest *t = d->dests; t != NULL; t = t->next)
		if (t->len > 0 && t->hold_until > now && (at == 0 || t->hold_until < at))
			at = t->hold_until;
	if (d->read_only && (at == 0 || at > now + RDONLY_RETRY_S))
		at = now + RDONLY_RETRY_S;
	if (at == 0) {
		evtimer_del(d->timer);
		return;
	}
	tv.tv_sec = at > now ? (time_t)(at - now) : 0;
	evtimer_add(d->timer, &tv);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	mx_daemon *d = arg;
	int64_t now = (int64_t)time(NULL);
	struct due top;

	(void)fd;
	(void)what;
	while (d->n_heap > 0 && d->heap[0].at <= now) {
		struct dentry *e;
		heap_pop(d, &top);
		if ((e = dentry_find(d, top.id)) != NULL && !e->active && e->due == top.at)
			make_ready(d, e);
	}
	daemon_dispatch(d);
}

/* ---- removals, made durable together -------------------------------------- */

/*
 * The spool removes without fsync (spool_group_removals, set at the run's
 * start); the removals are made durable together, at most every
 * DAEMON_REMOVAL_SYNC_MS (daemon_sync_soon): one fsync of queue/ for all
 * of them instead of one each, which held the daemon to the disk's fsync
 * rate.  The fsync is the syncer's (its thread), so the loop goes on
 * delivering meanwhile; removals made during one wait for the next.
 */
static void daemon_sync_soon(mx_daemon *d);

static void
sync_start(mx_daemon *d)
{
	if (d->syncer == NULL) { /* no syncer: on the loop's thread */
		daemon_sync_removals(d);
		return;
	}
	if (syncer_busy(d->syncer)) /* on_synced starts the next one */
		return;
	d->removals = (struct sync_job){ .removals = true };
	if (spool_take_removals(queue_spool(d->q), &d->removals.gone))
		syncer_submit(d->syncer, &d->removals);
	else
		free(d->removals.gone.names);
}

static void
on_synced(struct sync_job *job, void *arg)
{
	mx_daemon *d = arg;

	if (job->removals_err != MX_OK)
		daemon_log(d, "qmgr", "%s", job->removals_why);
	daemon_sync_soon(d); /* for the removals made meanwhile, if any */
}

/* At once, on the loop's thread: after the syncer's job under way. */
void
daemon_sync_removals(mx_daemon *d)
{
	const char *why = NULL;

	if (d->syncer != NULL)
		syncer_wait(d->syncer);
	if (spool_sync_removals(queue_spool(d->q), &why) != MX_OK)
		daemon_log(d, "qmgr", "%s", why);
}

static void
on_sync(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sync_start(arg);
}

/*
 * At most one fsync of queue/ for removals every DAEMON_REMOVAL_SYNC_MS:
 * a removal's durability only spares a duplicate after a power cut, and
 * each fsync is a flush of the disk's cache that the SMTP server's group
 * commit (whose 250s wait for it) would otherwise queue behind; one per
 * turn of a busy loop was 470 a second.
 */
static void
daemon_sync_soon(mx_daemon *d)
{
	struct timeval soon = { 0, (suseconds_t)DAEMON_REMOVAL_SYNC_MS * 1000 };

	if (d->sync == NULL)
		daemon_sync_removals(d);
	else if (!evtimer_pending(d->sync, NULL))
		evtimer_add(d->sync, &soon);
}

/* ---- the queue's hooks ---------------------------------------------------- */

static bool
hook_wait(const char *domain, void *arg)
{
	mx_daemon *d = arg;
	struct ddest *t = ddest_get(d, domain);

	return t == NULL || !dest_open(d, t, (int64_t)time(NULL));
}

static void
hook_begin(const char *domain, void *arg)
{
	struct ddest *t = ddest_get(arg, domain);

	if (t != NULL)
		t->active++;
}

static void
hook_end(const char *domain, bool reached, const char *dsn, const char *text, void *arg)
{
	mx_daemon *d = arg;
	struct ddest *t = ddest_get(d, domain);
	int64_t now = (int64_t)time(NULL);

	if (t == NULL)
		return;
	t->active--;
	t->down = !reached;
	if (reached) {
		if (t->hold_until > 0)
			daemon_log(d, "qmgr", "destination %s is back", t->domain);
		t->proven = true;
		if (t->window < (t->lmtp ? d->lmtp_limit : d->per_dest))
			t->window = (t->window > 0 ? t->window : 1) + 1;
		t->hold = 0;
		t->hold_until = 0;
		return;
	}
	t->proven = false;
	t->window = 1;
	t->hold = t->hold == 0          ? d->hold_first
	    : t->hold * 2 > d->hold_max ? d->hold_max
					: t->hold * 2;
	t->hold_until = now + t->hold;
	snprintf(t->reason, sizeof(t->reason), "%s %s", dsn, text);
	daemon_log(
	    d, "qmgr", "destination %s held back for %us: %s", t->domain, t->hold, t->reason);
}

static void
hook_entry(const struct spool_entry *se, bool removed, void *arg)
{
	mx_daemon *d = arg;
	struct dentry *e = dentry_find(d, se->id);

	/* A DSN the pass queued (and delivered itself) is learnt here too. */
	if (e == NULL && !removed && (e = dentry_add(d, se->id)) == NULL)
		d->failed = true;
	if (e == NULL)
		return;
	e->reported = true;
	if (removed) {
		e->removed = true;
		daemon_sync_soon(d);
		return;
	}
	e->flush = false;
	schedule(d, e, se);
}

static void
hook_done(const char *id, const mx_queue_stats *st, mx_err err, void *arg)
{
	mx_daemon *d = arg;
	struct dentry *e = dentry_find(d, id);
	int64_t now = (int64_t)time(NULL);

	d->active--;
	d->st.sent += st->sent;
	d->st.deferred += st->deferred;
	d->st.bounced += st->bounced;
	if (err != MX_OK)
		daemon_log(d, "qmgr", "%s: delivery could not start: %s", id, mx_strerror(err));
	if (e != NULL) {
		daemon_gen_end(d, e);
		e->active = false;
		if (e->removed || (!e->reported && st->locked == 0 && err == MX_OK)) {
			dentry_drop(d, e); /* done, or gone (deleted, corrupt) */
		} else if (!e->reported) {
			e->locked = st->locked > 0;
			e->due = now + (st->locked ? LOCKED_RETRY_S : ERROR_RETRY_S);
			if (!heap_push(d, e->due, e->id))
				d->failed = true;
		} else {
			e->reported = false;
		}
	}
	if (!d->in_dispatch_start)
		daemon_dispatch(d);
	if (d->stopping && d->active == 0)
		event_base_loopexit(d->base, NULL);
}

static void
start_entry(mx_daemon *d, struct dentry *e)
{
	mx_err err;

	e->active = true;
	e->reported = false;
	d->active++;
	daemon_gen_begin(d, e);
	d->in_dispatch_start = true;
	err = queue_entry_start(d->q, d->sender, e->id, e->flush ? MX_QUEUE_FLUSH : 0, &d->hooks);
	d->in_dispatch_start = false;
	if (err != MX_OK) {
		d->active--;
		daemon_gen_end(d, e);
		e->active = false;
		e->due = (int64_t)time(NULL) + ERROR_RETRY_S;
		if (!heap_push(d, e->due, e->id))
			d->failed = true;
	}
}

/* The writer of an entry that was locked closed it: its turn now. */
void
daemon_closed(mx_daemon *d, const char *id)
{
	struct dentry *e = dentry_find(d, id);

	if (e == NULL || e->active || !e->locked)
		return;
	e->locked = false;
	make_ready(d, e);
}

/* ---- backup domains ------------------------------------------------------------ */

static struct ddest *
ddest_find(mx_daemon *d, const char *domain)
{
	for (struct ddest *t = d->dests; t != NULL; t = t->next)
		if (strcasecmp(t->domain, domain) == 0)
			return t;
	return NULL;
}

/* Whether mail for domain waits because no server of it answered. */
bool
daemon_waiting(mx_daemon *d, const char *domain)
{
	struct ddest *t = ddest_find(d, domain);

	if (t == NULL || !t->down)
		return false;
	for (size_t b = 0; b < DAEMON_BUCKETS; b++)
		for (struct dentry *e = d->buckets[b]; e != NULL; e = e->hnext)
			if (!e->active && has_dest(e, t))
				return true;
	return false;
}

/* A server of domain answers again: its hold ends and every entry
 * waiting for it goes now, whatever its recipients' next attempt says. */
void
daemon_release(mx_daemon *d, const char *domain, const char *why)
{
	struct ddest *t = ddest_find(d, domain);

	if (t == NULL)
		return;
	daemon_log(d, "qmgr", "destination %s released: %s", t->domain, why);
	t->down = false;
	t->hold = 0;
	t->hold_until = 0;
	for (size_t b = 0; b < DAEMON_BUCKETS; b++) {
		for (struct dentry *e = d->buckets[b]; e != NULL; e = e->hnext) {
			if (e->active || !has_dest(e, t))
				continue;
			e->flush = true;
			make_ready(d, e);
		}
	}
	daemon_dispatch(d);
}

/* ---- flush ------------------------------------------------------------------- */

void
daemon_flush(mx_daemon *d)
{
	for (struct ddest *t = d->dests; t != NULL; t = t->next) {
		t->hold_until = 0;
		t->hold = 0;
	}
	for (size_t b = 0; b < DAEMON_BUCKETS; b++) {
		for (struct dentry *e = d->buckets[b]; e != NULL; e = e->hnext) {
			if (e->active)
				continue;
			e->flush = true;
			make_ready(d, e);
		}
	}
	daemon_dispatch(d);
}

void
daemon_hooks_init(mx_daemon *d)
{
	d->hooks = (struct queue_hooks){ .wait = hook_wait,
		.begin = hook_begin,
		.end = hook_end,
		.entry = hook_entry,
		.done = hook_done,
		.arg = d };
	if ((d->timer = evtimer_new(d->base, on_timer, d)) == NULL ||
	    (d->sync = evtimer_new(d->base, on_sync, d)) == NULL)
		d->failed = true;
	/* Without a syncer (no memory, no eventfd) the fsync stays on the loop. */
	if (syncer_new(d->base, queue_spool(d->q), on_synced, d, &d->syncer) != MX_OK)
		d->syncer = NULL;
	spool_group_removals(queue_spool(d->q), true);
}

/* Frees what the daemon keeps of entries and destinations. */
void
daemon_clear(mx_daemon *d)
{
	for (size_t b = 0; b < DAEMON_BUCKETS; b++)
		while (d->buckets[b] != NULL) {
			struct dentry *e = d->buckets[b];
			d->buckets[b] = e->hnext; /* the head, so no search by hash */
			dentry_free(e);
		}
	d->n_entries = 0;
	while (d->dests != NULL) {
		struct ddest *t = d->dests;
		d->dests = t->next;
		free(t->fifo);
		free(t);
	}
	d->n_dests = 0;
	memset(d->dest_buckets, 0, sizeof(d->dest_buckets));
	free(d->heap);
	d->heap = NULL;
	d->n_heap = d->cap_heap = 0;
	if (d->timer != NULL)
		event_free(d->timer);
	d->timer = NULL;
	if (d->sync != NULL)
		event_free(d->sync);
	d->sync = NULL;
	syncer_free(d->syncer);
	d->syncer = NULL;
}
