/*
 * daemon_state.h - types only (daemon.h has the functions): struct mx_daemon and what it keeps of
 * entries (struct dentry) and destinations (struct ddest), shared by
 * daemon.c (scheduling, the queue's hooks) and daemon_run.c (setters,
 * inotify, signals, the control socket's commands, the run).
 */
#ifndef MX_DAEMON_STATE_H
#define MX_DAEMON_STATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"
#include "queue.h"
#include "spool.h"
#include "syncer.h"

#define DAEMON_BUCKETS         65536
#define DAEMON_DEST_BUCKETS    4096 /* destinations by domain (one-off domains: many) */
#define DAEMON_REMOVAL_SYNC_MS 100  /* removals made durable this long after the first */

struct ddest;
struct daemon_tlsrpt; /* daemon_tlsrpt.c's */

/*
 * What deliveries go through: a sender and its resolver.  SIGHUP's new
 * settings (mx_daemon_set_sender) make a new one; the one replaced is
 * kept until the entry passes begun with it are done, then freed when
 * the daemon owns it (the caller's first one is the caller's to free).
 */
struct dgen {
	mx_sender *sender;
	mx_resolver *resolver;
	unsigned active; /* entry passes begun with it and not yet done */
	bool owned;
	struct dgen *next; /* the replaced ones */
};

/* An entry as the daemon keeps it: never the message, never the addresses. */
struct dentry {
	char id[SPOOL_ID_MAX + 1];
	struct dentry *hnext;
	int64_t due;          /* in the heap until then; 0: ready (in FIFOs) */
	struct ddest **dests; /* destinations it has pending recipients for */
	struct dgen *gen;     /* while active: what its delivery goes through */
	size_t n_dests;
	bool active;   /* a delivery of it is under way */
	bool reported; /* the pass reported its state (hook_entry) */
	bool removed;  /* the pass finished it */
	bool flush;    /* every pending recipient, due or not */
	bool locked;   /* its writer held it: tried again when it closes */
};

/*
 * A destination (recipient domain) and the IDs waiting for it, FIFO.  It
 * lives while an entry waits for it (refs), a delivery to it is under
 * way (active) or it is held back (hold_until, with the backoff it has
 * reached); then daemon_arm frees it, so one-off domains do not pile up.
 */
struct ddest {
	char domain[MX_DOMAIN_MAX + 1];
	struct ddest *next;  /* in d->dests, the order dispatch goes round */
	struct ddest *hnext; /* in its bucket of d->dest_buckets */
	size_t refs;         /* entries whose dests[] hold it */
	unsigned active;     /* deliveries to it under way */
	bool lmtp;           /* the LMTP mail store: every local domain's mail */
	bool proven;         /* a server answered since it last failed */
	bool down;           /* no server answered its last delivery */
	unsigned window;     /* deliveries allowed at once (slow start), <= its limit */
	int64_t hold_until;  /* unix seconds; held back until then */
	unsigned hold;       /* the current hold, seconds */
	char reason[256];
	char (*fifo)[SPOOL_ID_MAX + 1];
	size_t head, len, cap;
};

/* A domain this host is a backup MX of (daemon_backup.c). */
struct dbackup {
	char domain[MX_DOMAIN_MAX + 1];
	struct verify_probe *probe; /* the reachability probe under way */
	mx_daemon *d;
};

struct due {
	int64_t at;
	char id[SPOOL_ID_MAX + 1];
};

struct mx_daemon {
	mx_queue *q;
	mx_sender *sender;     /* gen's: new deliveries go through it */
	mx_resolver *resolver; /* gen's */
	struct dgen *gen, *replaced;
	struct event_base *base;
	char dir[4096];
	char why[512];
	char *origin, *aliases; /* pickup (mx_daemon_set_pickup); NULL: defaults */
	unsigned total, per_dest, lmtp_limit, hold_first, hold_max;
	unsigned idle_ms, reuse_count, grace_ms;
	mx_daemon_event_fn events;
	void *events_arg;
	mx_daemon_log_fn log;
	void *log_arg;
	struct queue_hooks hooks;
	struct dentry *buckets[DAEMON_BUCKETS];
	size_t n_entries;
	struct ddest *dests;
	struct ddest *dest_buckets[DAEMON_DEST_BUCKETS];
	size_t n_dests; /* in dests (mx daemon status: destinations) */
	struct due *heap;
	size_t n_heap, cap_heap;
	unsigned active;        /* entry passes under way */
	bool in_dispatch_start; /* queue_entry_start may call done from inside */
	bool stopping, abandoned, failed;
	bool read_only; /* the spool's file system is: nothing starts (daemon_dispatch) */
	int64_t started;
	struct {
		size_t sent, deferred, bounced;
	} st;
	struct conncache *cache;
	struct control *control;
	struct dbackup *backups;
	size_t n_backups;
	unsigned backup_interval; /* seconds between probes of a backup domain */
	struct event *backup_timer;
	struct daemon_tlsrpt *tlsrpt; /* NULL: no TLS-RPT reports */
	int inotify_fd, drop_fd;
	struct event *inotify_ev, *drop_ev, *timer, *grace, *sig_term, *sig_int, *sig_hup;
	struct event *sync;       /* one fsync of queue/ for the turn's removals */
	struct syncer *syncer;    /* makes that fsync off the loop's thread */
	struct sync_job removals; /* its job */
	struct event *reap;       /* frees replaced gens, outside their deliveries' calls */
};

#endif
