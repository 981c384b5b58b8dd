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

#define DAEMON_BUCKETS 65536

struct ddest;
struct daemon_tlsrpt; /* daemon_tlsrpt.c's */

/* An entry as the daemon keeps it: never the message, never the addresses. */
struct dentry {
	char id[SPOOL_ID_MAX + 1];
	struct dentry *hnext;
	int64_t due;          /* in the heap until then; 0: ready (in FIFOs) */
	struct ddest **dests; /* destinations it has pending recipients for */
	size_t n_dests;
	bool active;   /* a delivery of it is under way */
	bool reported; /* the pass reported its state (hook_entry) */
	bool removed;  /* the pass finished it */
	bool flush;    /* every pending recipient, due or not */
	bool locked;   /* its writer held it: tried again when it closes */
};

/* A destination (recipient domain) and the IDs waiting for it, FIFO. */
struct ddest {
	char domain[MX_DOMAIN_MAX + 1];
	struct ddest *next;
	unsigned active;    /* deliveries to it under way */
	bool lmtp;          /* the LMTP mail store: every local domain's mail */
	bool proven;        /* a server answered since it last failed */
	bool down;          /* no server answered its last delivery */
	int64_t hold_until; /* unix seconds; held back until then */
	unsigned hold;      /* the current hold, seconds */
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
	mx_sender *sender;
	mx_resolver *resolver;
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
	struct due *heap;
	size_t n_heap, cap_heap;
	unsigned active;        /* entry passes under way */
	bool in_dispatch_start; /* queue_entry_start may call done from inside */
	bool stopping, abandoned, failed;
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
};

#endif
