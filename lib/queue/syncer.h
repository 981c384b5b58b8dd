/*
 * syncer.h - a thread that makes a spool's changes durable while the
 * event loop goes on.  The loop hands it one job at a time (a group commit
 * of staged entries, the fsync of queue/ after removals, or both); the
 * thread makes the job's system calls (fsync or syncfs, renames, the fsync
 * of queue/) and the loop hears of the end in a callback on its own
 * thread, through an eventfd.
 *
 * Why a thread: each sync takes 0.3 to 1 ms of the disk's time, and a
 * loop that made them itself read and answered no session meanwhile; the
 * server's throughput was its syncs' rate.  With the syncs here, the
 * sessions that finish DATA during one commit form the next.
 *
 * Owns the thread, its lock and the eventfd; never touches libevent from
 * the thread, nor anything of the job but its staged files.
 */
#ifndef MX_SYNCER_H
#define MX_SYNCER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "mx.h"
#include "spool.h"

#define SYNC_JOB_MAX 256 /* staged entries in one job at most */

struct sync_job {
	struct spool_staged *st[SYNC_JOB_MAX]; /* a group commit; n may be 0 */
	size_t n;
	bool removals;          /* queue/ fsynced for removals made before the job */
	struct spool_gone gone; /* their files, unlinked after it (and freed) */
	/* The results, set by the thread: spool_commit_staged's, and the
	 * removals' fsync (MX_OK when not asked), each with its reason. */
	mx_err err, removals_err;
	char why[256], removals_why[256];
};

struct syncer;
typedef void (*syncer_done_fn)(struct sync_job *job, void *arg);

/*
 * A syncer for sp (borrowed: it must outlive the syncer) on base's loop;
 * done(job, arg) is called on the loop's thread when a job ended.  The
 * thread starts with the first job (after a daemon dropped privileges);
 * when it cannot start, jobs run in the caller's thread, as before.
 * MX_ERR_NOMEM or MX_ERR_SYSTEM (no eventfd).
 */
mx_err syncer_new(
    struct event_base *base, struct spool *sp, syncer_done_fn done, void *arg, struct syncer **out);
/* Whether a job was handed over and not yet reported to done. */
bool syncer_busy(const struct syncer *s);
/* Hands job over (borrowed until done gets it back); only when idle. */
void syncer_submit(struct syncer *s, struct sync_job *job);
/* Blocks until the job under way ended and reports it to done (at once
 * when there is none). */
void syncer_wait(struct syncer *s);
/* syncer_wait, then ends the thread and frees s.  NULL is a no-op. */
void syncer_free(struct syncer *s);

#endif
