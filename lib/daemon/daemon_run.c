/*
 * daemon_run.c - mx_daemon's public face: settings, the run (the first
 * scan, inotify on queue/ and on drop/ (mx_queue_pickup, as `mx queue run`
 * does), SIGTERM/SIGINT/SIGHUP on the event loop, the
 * control socket and its commands, the connection cache installed in the
 * sender for the run's length) and the control client.  Scheduling is
 * daemon.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "mstime.h"
#include "conncache.h"
#include "control.h"
#include "daemon.h"
#include "daemon_backup.h"
#include "daemon_tlsrpt.h"
#include "daemon_sender.h"
#include "why.h"
#include "daemon_state.h"
#include "resolver.h"
#include "sender.h"
#include "strbuf.h"

#define DAEMON_STATUS_MAX  65536
#define DAEMON_STATUS_HELD 100 /* held destinations listed at most */

mx_err
mx_daemon_new(mx_daemon **out, mx_queue *queue, mx_sender *sender, mx_resolver *resolver,
    const char *spool_dir)
{
	mx_daemon *d;

	if (out == NULL || queue == NULL || sender == NULL || resolver == NULL ||
	    spool_dir == NULL || strlen(spool_dir) >= sizeof(d->dir))
		return MX_ERR_INVALID;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return MX_ERR_NOMEM;
	d->q = queue;
	d->base = resolver_base(resolver);
	if (daemon_gen_init(d, sender, resolver) != MX_OK) {
		free(d);
		return MX_ERR_NOMEM;
	}
	memcpy(d->dir, spool_dir, strlen(spool_dir) + 1);
	d->total = 100;
	d->per_dest = 20;
	d->lmtp_limit = 10;
	d->hold_first = 60;
	d->hold_max = 3600;
	d->idle_ms = 2000;
	d->backup_interval = 10;
	d->inotify_fd = d->drop_fd = -1;
	*out = d;
	return MX_OK;
}

void
mx_daemon_free(mx_daemon *d)
{
	if (d == NULL)
		return;
	daemon_clear(d);
	daemon_tlsrpt_free(d);
	daemon_gen_clear(d);
	free(d->origin);
	free(d->aliases);
	free(d->backups);
	free(d);
}

mx_err
mx_daemon_set_limits(mx_daemon *d, unsigned total, unsigned per_destination)
{
	if (d == NULL || total == 0 || total > 10000 || per_destination == 0)
		return MX_ERR_INVALID;
	d->total = total;
	d->per_dest = per_destination;
	return MX_OK;
}

mx_err
mx_daemon_set_lmtp_limit(mx_daemon *d, unsigned n)
{
	if (d == NULL || n == 0 || n > 10000)
		return MX_ERR_INVALID;
	d->lmtp_limit = n;
	return MX_OK;
}

mx_err
mx_daemon_set_hold(mx_daemon *d, unsigned first, unsigned max)
{
	if (d == NULL || first == 0 || max < first)
		return MX_ERR_INVALID;
	d->hold_first = first;
	d->hold_max = max;
	return MX_OK;
}

static void
apply_reuse(mx_daemon *d)
{
	struct conncache_limits l;

	conncache_limits_default(&l);
	l.idle_ms = d->idle_ms;
	l.reuse_count = d->reuse_count;
	/* Not d->total: sessions of more destinations than deliveries at
	 * once wait for their turn (200 destinations, 100 deliveries). */
	l.max = CONNCACHE_MAX;
	if (d->cache != NULL)
		conncache_set_limits(d->cache, &l);
}

mx_err
mx_daemon_set_reuse(mx_daemon *d, unsigned idle_ms, unsigned count)
{
	if (d == NULL || idle_ms > 3600000)
		return MX_ERR_INVALID;
	d->idle_ms = idle_ms;
	d->reuse_count = count;
	apply_reuse(d);
	return MX_OK;
}

void
mx_daemon_set_events(mx_daemon *d, mx_daemon_event_fn fn, void *arg)
{
	d->events = fn;
	d->events_arg = arg;
}

void
mx_daemon_set_log(mx_daemon *d, mx_daemon_log_fn fn, void *arg)
{
	d->log = fn;
	d->log_arg = arg;
}

mx_err
mx_daemon_set_pickup(mx_daemon *d, const char *origin, const char *aliases)
{
	char *o = NULL, *a = NULL;

	if (d == NULL)
		return MX_ERR_INVALID;
	if ((origin != NULL && (o = strdup(origin)) == NULL) ||
	    (aliases != NULL && (a = strdup(aliases)) == NULL)) {
		free(o);
		return MX_ERR_NOMEM;
	}
	free(d->origin);
	free(d->aliases);
	d->origin = o;
	d->aliases = a;
	return MX_OK;
}

static void
tell(mx_daemon *d, mx_daemon_event ev)
{
	if (d->events != NULL)
		d->events(d, ev, d->events_arg);
}

/* ---- status ------------------------------------------------------------------ */

static void
status_counts(mx_daemon *d, struct strbuf *sb)
{
	size_t active = 0, ready = 0, deferred = 0;
	struct conncache_stats cs = { 0 };

	for (size_t b = 0; b < DAEMON_BUCKETS; b++)
		for (struct dentry *e = d->buckets[b]; e != NULL; e = e->hnext)
			e->active ? active++ : e->due > 0 ? deferred++ : ready++;
	if (d->cache != NULL)
		conncache_get_stats(d->cache, &cs);
	strbuf_printf(sb, "pid: %ld\nuptime: %" PRId64 "s\n", (long)getpid(),
	    (int64_t)time(NULL) - d->started);
	strbuf_printf(sb, "queued: %zu\nactive: %zu\nready: %zu\ndeferred: %zu\n", d->n_entries,
	    active, ready, deferred);
	strbuf_printf(sb, "deliveries: %u of %u, at most %u per destination\n", d->active, d->total,
	    d->per_dest);
	strbuf_printf(sb, "destinations: %zu\n", d->n_dests);
	strbuf_printf(sb, "recipients: %zu sent, %zu deferred, %zu bounced\n", d->st.sent,
	    d->st.deferred, d->st.bounced);
	strbuf_printf(
	    sb, "connections: %zu idle, %lu reused, %lu kept\n", cs.idle, cs.reused, cs.parked);
	strbuf_printf(sb, "stopping: %s\n", d->stopping ? "yes" : "no");
}

static void
status_held(mx_daemon *d, struct strbuf *sb)
{
	int64_t now = (int64_t)time(NULL);
	size_t n = 0;

	for (struct ddest *t = d->dests; t != NULL; t = t->next) {
		char when[32];
		time_t until = (time_t)t->hold_until;
		struct tm tm;
		if (t->hold_until <= now || n++ >= DAEMON_STATUS_HELD)
			continue;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&until, &tm));
		strbuf_printf(sb, "held: %s until %s (%" PRId64 "s), %zu waiting: %s\n", t->domain,
		    when, t->hold_until - now, t->len, t->reason);
	}
	strbuf_printf(sb, "held destinations: %zu\n", n);
}

static char *
on_command(const char *command, void *arg)
{
	mx_daemon *d = arg;
	char *out = malloc(DAEMON_STATUS_MAX);
	struct strbuf sb;

	if (out == NULL)
		return NULL;
	strbuf_init(&sb, out, DAEMON_STATUS_MAX);
	if (strcmp(command, "status") == 0) {
		status_counts(d, &sb);
		status_held(d, &sb);
	} else if (strcmp(command, "flush") == 0) {
		daemon_log(d, "qmgr", "flush requested: every queued message now");
		daemon_flush(d);
		strbuf_printf(&sb, "ok: %zu queued messages scheduled now\n", d->n_entries);
	} else {
		strbuf_printf(&sb, "error: unknown command (status, flush)\n");
	}
	return out;
}

/* ---- inotify ------------------------------------------------------------------ */

static void
rescan_one(const char *id, void *arg)
{
	daemon_learn(arg, id);
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	mx_daemon *d = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct dentry *e;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				spool_scan(queue_spool(d->q), rescan_one, NULL, d);
			else if (ev->len == 0)
				continue;
			else if (ev->mask & IN_MOVED_TO)
				daemon_learn(d, ev->name);
			else if (ev->mask & IN_CLOSE_WRITE)
				daemon_closed(d, ev->name); /* its writer let go of its lock */
			else if ((ev->mask & IN_DELETE) && (e = dentry_find(d, ev->name)) != NULL &&
			    !e->active)
				e->removed = true; /* skipped when its turn comes */
		}
	}
	daemon_dispatch(d);
}

/* What mx-drop left in drop/ goes into queue/ (where inotify sees it). */
static void
pick_up(mx_daemon *d)
{
	size_t picked = 0;
	mx_why why;

	if (mx_queue_pickup(d->q, d->origin, d->aliases, &picked, &why) != MX_OK)
		daemon_log(d, "pickup", "cannot pick up %.300s/drop: %s", d->dir, why.text);
}

static void
on_drop(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pick_up(arg);
}

/* drop/ exists only where local submission is set up (mx setup). */
static mx_err
watch_drop(mx_daemon *d)
{
	char path[sizeof(d->dir) + 8];

	snprintf(path, sizeof(path), "%s/drop", d->dir);
	if ((d->drop_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return MX_ERR_SYSTEM;
	if (inotify_add_watch(d->drop_fd, path, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
		return errno == ENOENT ? MX_OK : MX_ERR_SYSTEM;
	d->drop_ev = event_new(d->base, d->drop_fd, EV_READ | EV_PERSIST, on_drop, d);
	return d->drop_ev != NULL && event_add(d->drop_ev, NULL) == 0 ? MX_OK : MX_ERR_NOMEM;
}

static mx_err
watch_queue(mx_daemon *d)
{
	char path[sizeof(d->dir) + 8];

	snprintf(path, sizeof(path), "%s/queue", d->dir);
	if ((d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    inotify_add_watch(d->inotify_fd, path, IN_MOVED_TO | IN_DELETE | IN_CLOSE_WRITE) < 0) {
		snprintf(d->why, sizeof(d->why), "cannot watch %.300s: %s", path, strerror(errno));
		return MX_ERR_SYSTEM;
	}
	d->inotify_ev = event_new(d->base, d->inotify_fd, EV_READ | EV_PERSIST, on_inotify, d);
	return d->inotify_ev != NULL && event_add(d->inotify_ev, NULL) == 0 ? MX_OK : MX_ERR_NOMEM;
}

/* ---- signals ------------------------------------------------------------------- */

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	mx_daemon *d = arg;

	(void)fd;
	(void)what;
	d->abandoned = d->active > 0;
	event_base_loopexit(d->base, NULL);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	mx_daemon *d = arg;
	struct timeval quit = { 0, 300000 };

	(void)what;
	if (d->stopping)
		return;
	d->stopping = true;
	daemon_log(
	    d, "qmgr", "stopping on signal %d: %u deliveries under way", (int)sig, d->active);
	tell(d, MX_DAEMON_STOPPING);
	conncache_flush(d->cache);
	if (d->active == 0) {
		event_base_loopexit(d->base, &quit); /* time for QUIT's replies */
		return;
	}
	struct timeval grace = ms_timeval(d->grace_ms);
	evtimer_add(d->grace, &grace);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	mx_daemon *d = arg;

	(void)sig;
	(void)what;
	tell(d, MX_DAEMON_RELOAD);
	apply_reuse(d);
	daemon_log(d, "qmgr", "reloaded: %u deliveries at most, %u per destination", d->total,
	    d->per_dest);
	daemon_dispatch(d);
}

/* ---- the run ---------------------------------------------------------------------- */

static mx_err
set_up(mx_daemon *d)
{
	struct conncache_limits l;
	mx_err err;

	conncache_limits_default(&l);
	if ((err = conncache_new(d->base, &l, &d->cache)) != MX_OK)
		return err;
	apply_reuse(d);
	daemon_hooks_init(d);
	if (daemon_gen_watch(d) != MX_OK)
		return MX_ERR_NOMEM;
	d->grace = evtimer_new(d->base, on_grace, d);
	d->sig_term = evsignal_new(d->base, SIGTERM, on_stop, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_stop, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	if (d->failed || !d->grace || !d->sig_term || !d->sig_int || !d->sig_hup ||
	    evsignal_add(d->sig_term, NULL) || evsignal_add(d->sig_int, NULL) ||
	    evsignal_add(d->sig_hup, NULL))
		return MX_ERR_NOMEM;
	if ((err = watch_queue(d)) != MX_OK || (err = backup_start(d)) != MX_OK)
		return err;
	if (watch_drop(d) != MX_OK) {
		snprintf(d->why, sizeof(d->why), "cannot watch %.300s/drop: %s", d->dir,
		    strerror(errno));
		return MX_ERR_SYSTEM;
	}
	if ((err = daemon_tlsrpt_start(d)) != MX_OK)
		return err;
	return control_listen(d->base, d->dir, on_command, d, &d->control, d->why, sizeof(d->why));
}

static void
tear_down(mx_daemon *d)
{
	struct event *evs[] = { d->inotify_ev, d->drop_ev, d->grace, d->sig_term, d->sig_int,
		d->sig_hup };

	daemon_sync_removals(d); /* what the last turns removed */
	syncer_free(d->syncer);
	d->syncer = NULL;
	spool_group_removals(queue_spool(d->q), false);
	control_close(d->control);
	d->control = NULL;
	backup_stop(d);
	daemon_tlsrpt_stop(d);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	d->inotify_ev = d->drop_ev = d->grace = d->sig_term = d->sig_int = d->sig_hup = NULL;
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	if (d->drop_fd >= 0)
		close(d->drop_fd);
	d->inotify_fd = d->drop_fd = -1;
	sender_set_cache(d->sender, NULL);
	/* Deliveries abandoned at the grace's end still hold sessions: the
	 * cache goes with the process then, not under their feet. */
	if (!d->abandoned) {
		conncache_free(d->cache);
		/* One turn of the loop frees the sessions conncache_free closed. */
		event_base_loop(d->base, EVLOOP_NONBLOCK);
	}
	d->cache = NULL;
}

static mx_err daemon_run(mx_daemon *d, unsigned grace_ms, bool *abandoned);

mx_err
mx_daemon_run(mx_daemon *d, unsigned grace_ms, bool *abandoned, mx_why *why)
{
	mx_err err = daemon_run(d, grace_ms, abandoned);

	if (err != MX_OK && d != NULL)
		why_set(why, err, "%s", d->why[0] ? d->why : mx_strerror(err));
	else
		why_clear(why);
	return err;
}

static mx_err
daemon_run(mx_daemon *d, unsigned grace_ms, bool *abandoned)
{
	mx_why rwhy;
	mx_err err;

	if (d == NULL)
		return MX_ERR_INVALID;
	if ((err = resolver_ready(d->resolver, &rwhy)) != MX_OK) {
		snprintf(d->why, sizeof(d->why), "the resolver cannot start: %.400s", rwhy.text);
		return err;
	}
	d->grace_ms = grace_ms;
	d->started = (int64_t)time(NULL);
	if ((err = set_up(d)) != MX_OK) {
		if (d->why[0] == '\0')
			snprintf(d->why, sizeof(d->why), "cannot start: %s", mx_strerror(err));
		tear_down(d);
		return err;
	}
	sender_set_cache(d->sender, d->cache);
	queue_clean_tmp(d->q);
	pick_up(d);
	if (spool_scan(queue_spool(d->q), rescan_one, NULL, d) != MX_OK) {
		snprintf(d->why, sizeof(d->why), "cannot read %.400s/queue", d->dir);
		tear_down(d);
		return MX_ERR_SYSTEM;
	}
	daemon_log(d, "qmgr", "started: %zu queued, %u deliveries at most, %u per destination",
	    d->n_entries, d->total, d->per_dest);
	tell(d, MX_DAEMON_READY);
	daemon_dispatch(d);
	event_base_dispatch(d->base);
	if (abandoned != NULL)
		*abandoned = d->abandoned;
	tear_down(d);
	return MX_OK;
}

mx_err
mx_daemon_control(const char *spool_dir, const char *command, char **reply)
{
	if (spool_dir == NULL || command == NULL || reply == NULL)
		return MX_ERR_INVALID;
	return control_request(spool_dir, command, reply);
}
