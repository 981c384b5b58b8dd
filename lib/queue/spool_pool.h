/*
 * spool_pool.h - delivered entries' files kept for new messages.  A busy
 * server creates one file a message in tmp/ and the daemon removes one a
 * message from queue/; on ext4 each creation scans past every inode freed
 * in the last seconds to minutes (find_inode_bit, recently_deleted: a
 * quarter of the daemon's CPU time at 1,500 messages a second) and each
 * removal frees blocks (a synchronous discard where mounted so).  So a
 * removed entry's file is renamed to tmp/free.N instead, and the next
 * message staged takes it (rename, open, lock, write over it, truncate).
 *
 * The pool lives in the file system, so the remover and the stager need
 * not share memory (the daemon's and the server's spools, or two
 * processes): a rename is atomic, so each file goes to one taker.  The
 * remover keeps at most SPOOL_POOL_MAX files there and hands the oldest
 * back to be unlinked; a crash leaves them unlocked in tmp/, where
 * spool_clean_tmp removes them.  Owns its lists; never reads a file.
 */
#ifndef MX_SPOOL_POOL_H
#define MX_SPOOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_POOL_MAX  256
#define SPOOL_POOL_NAME 40 /* "free." + 16 hex digits (spool.c checks the size) */

struct spool_pool {
	/* The remover's: the names it put, oldest first (a ring). */
	char (*put)[SPOOL_POOL_NAME];
	size_t n_put, first_put;
	uint64_t seq;
	/* The stager's: free names the last look at tmp/ found. */
	char (*found)[SPOOL_POOL_NAME];
	size_t n_found;
	int64_t looked_ms; /* CLOCK_MONOTONIC */
};

/*
 * queue/id renamed into the pool; when that makes more than
 * SPOOL_POOL_MAX, the oldest name is copied to evicted (for the caller to
 * unlink: it may be taken already), else evicted is "".  false (errno)
 * when not pooled: the caller removes it its own way.
 */
bool spool_pool_put(
    struct spool_pool *p, int queue_fd, int tmp_fd, const char *id, char evicted[SPOOL_POOL_NAME]);
/*
 * A pooled file renamed to tmp/name, opened for writing at offset 0 and
 * locked (LOCK_EX): its descriptor, or -1 when there is none to take or
 * the one taken will not do (then tmp/name is gone again).  Looks at tmp/
 * at most every 20 ms when it knows of none.
 */
int spool_pool_take(struct spool_pool *p, int tmp_fd, const char *name);
void spool_pool_free(struct spool_pool *p);

#endif
