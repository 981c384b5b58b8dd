/*
 * queue.h - one queue entry delivered for a long-running caller (the
 * daemon), with the same policy as a pass of mx_queue_run (due
 * recipients, backoff, expiry, DSNs, the spool's durable updates), but
 * without running the event loop: the caller's loop runs it.  The hooks
 * let the caller hold destinations back and learn what happened.
 */
#ifndef MX_QUEUE_H
#define MX_QUEUE_H

#include <stdbool.h>

#include "mx.h"
#include "spool.h"

struct queue_hooks {
	/* Whether mail for domain waits now (held back, or at its limit):
	 * that recipient is not tried and its entry stays as it is for it. */
	bool (*wait)(const char *domain, void *arg);
	/* A delivery to domain starts; it ends with reached (some server
	 * answered a recipient) and, when not reached, why (dsn, text). */
	void (*begin)(const char *domain, void *arg);
	void (*end)(const char *domain, bool reached, const char *dsn, const char *text, void *arg);
	/* The entry as written back (removed: nothing left pending). */
	void (*entry)(const struct spool_entry *e, bool removed, void *arg);
	/* The pass over the entry is over: what it counted (st->locked: a
	 * runner holds it; err: a delivery could not start at all). */
	void (*done)(const char *id, const mx_queue_stats *st, mx_err err, void *arg);
	void *arg;
};

/*
 * Locks, loads and delivers entry id through sender.  done runs once,
 * from the event loop or from inside this call (nothing due, entry
 * locked or gone).  hooks is borrowed until done.  MX_OK, or nothing
 * started and no hook runs.
 */
mx_err queue_entry_start(mx_queue *q, mx_sender *sender, const char *id, unsigned flags,
    const struct queue_hooks *hooks);
/* spool_clean_tmp with the runner's age. */
void queue_clean_tmp(mx_queue *q);
/* The queue's spool, for scanning and loading. */
struct spool *queue_spool(mx_queue *q);

#endif
