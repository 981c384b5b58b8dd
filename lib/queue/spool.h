/*
 * spool.h - the durable on-disk queue of deferred messages (files only:
 * no network, no SMTP, no printing).  A spool directory holds tmp/
 * (entries being written), queue/ (complete entries, one file each, named
 * by the entry's ID) and corrupt/ (quarantined files).  An entry is in
 * queue/ only once it was written and fsynced whole; every read checks it
 * fully (version, fields, lengths, CRC-32) and moves a bad file to
 * corrupt/.  The caller owns what spool_open and spool_load hand out and
 * frees it with spool_close and spool_entry_free; strings passed in are
 * borrowed.  One struct spool per thread; several processes may share a
 * directory (spool_lock keeps two runners off one entry).
 */
#ifndef MX_SPOOL_H
#define MX_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mx.h"
#include "payload.h"

#define SPOOL_VERSION_LINE "mxkit-spool 1"
#define SPOOL_ID_MAX       32                /* characters of an ID, [0-9A-Za-z] */
#define SPOOL_ADDRESS_MAX  320               /* octets: 64 local + "@" + 255 domain */
#define SPOOL_REASON_MAX   512               /* octets of a reason, before escaping */
#define SPOOL_RCPTS_MAX    1000              /* recipients of one entry */
#define SPOOL_DATA_MAX     ((size_t)1 << 30) /* octets of message data: 1 GiB */

struct spool;

enum spool_state { SPOOL_PENDING = 0, SPOOL_SENT, SPOOL_BOUNCED };

struct spool_rcpt {
	char address[SPOOL_ADDRESS_MAX + 1]; /* no control bytes, not empty */
	enum spool_state state;
	unsigned attempts;
	int64_t next_attempt;              /* unix seconds; 0: at once */
	char reason[SPOOL_REASON_MAX + 1]; /* last outcome; any text, "" for none */
};

/*
 * Where the data of an entry loaded by spool_load_head is: its file, kept
 * open (the descriptor is the entry's), and the CRC-32 around the data,
 * so that the data is delivered and copied from the file a piece at a
 * time and checked again whenever it is copied.  Files in queue/ are
 * never written after their rename (an update is a new file), so the
 * descriptor keeps the very octets that were checked.
 */
struct spool_source {
	int fd;
	off_t off;         /* where the data starts */
	uint32_t crc_head; /* CRC-32 of every octet before the data */
	uint32_t crc_end;  /* the file's end line, checked: CRC-32 of all before it */
};

/*
 * An entry as spool_load hands it out; data[len] is a NUL for
 * convenience.  From spool_load_head, data is NULL and src says where the
 * len octets are (spool_entry_read_data brings them into data).
 */
struct spool_entry {
	char id[SPOOL_ID_MAX + 1];
	int64_t created;                    /* unix seconds */
	char sender[SPOOL_ADDRESS_MAX + 1]; /* "" is the null sender <> */
	struct spool_rcpt *rcpts;
	size_t n_rcpts;
	uint8_t *data;
	size_t len;
	bool no_bounce; /* sendmail -oeq: never a DSN ("notify never" line) */
	/* To enqueue only: when set, the data is read from it a chunk at a
	 * time (len must be its length and data NULL); never set by
	 * spool_load.  Borrowed. */
	const struct payload *payload;
	struct spool_source *src; /* owned; NULL but from spool_load_head */
};

/*
 * Opens (creating tmp/, queue/ and corrupt/ with mode 0700 when missing)
 * the spool at dir, and checks it is writable (a read-only mount too).
 * MX_ERR_SYSTEM with the reason, the OS's words included, in why (at
 * most why_size octets) when it cannot; the caller frees *out with
 * spool_close.  Other calls' *why strings stay valid until the next call
 * on the same spool.
 */
mx_err spool_open(const char *dir, struct spool **out, char *why, size_t why_size);
/*
 * Opens the spool at dir as it is, to read it (scan, load, lock) and to
 * remove entries: nothing is created, and nothing needs to be writable.
 * A spool, or a tmp/, queue/ or corrupt/ in it, that does not exist reads
 * as empty (the scan finds nothing, load and lock find no entry); any
 * other failure (EACCES, ENOTDIR) is MX_ERR_SYSTEM with why.  Writing
 * through it fails: the caller uses spool_open to write.
 */
mx_err spool_open_existing(const char *dir, struct spool **out, char *why, size_t why_size);
void spool_close(struct spool *sp); /* NULL is a no-op */

/*
 * Durable enqueue: writes tmp/ID, fsyncs it, renames it to queue/ID (never
 * over an existing file) and fsyncs queue/.  MX_OK only when all of that
 * succeeded; the message is then accepted and its ID (at most
 * SPOOL_ID_MAX characters) is in id_out.  On any failure (ENOSPC, EIO, a
 * failed fsync, which is never retried since the data may be gone) the
 * temporary file is removed, nothing new stays in queue/, and the error
 * comes with *why: MX_ERR_SYSTEM for the OS, MX_ERR_BAD_ADDRESS for an
 * address with control bytes or over its length, MX_ERR_TOO_BIG for data
 * over SPOOL_DATA_MAX, MX_ERR_INVALID for other bad arguments (no
 * recipients, id_size too small, a reason too long).
 */
mx_err spool_enqueue(struct spool *sp, const char *sender, const char *const *rcpts, size_t n,
    const uint8_t *data, size_t len, char *id_out, size_t id_size, const char **why);

/* spool_enqueue with the data read from a payload a chunk at a time. */
mx_err spool_enqueue_payload(struct spool *sp, const char *sender, const char *const *rcpts,
    size_t n, const struct payload *data, char *id_out, size_t id_size, const char **why);

/*
 * spool_enqueue for an entry the caller filled: its sender, recipients
 * (states, attempts, next attempts and reasons as given) and data.  The
 * call gives it an ID (in e->id and id_out) and, when e->created is 0,
 * the time.  Errors as spool_enqueue's.
 */
mx_err spool_enqueue_entry(
    struct spool *sp, struct spool_entry *e, char *id_out, size_t id_size, const char **why);

/*
 * Reads and fully validates queue/ID.  A malformed file is moved to
 * corrupt/ and MX_ERR_CORRUPT returned with the reason; no such entry
 * (missing, a symlink, not a regular file) is MX_ERR_NOT_FOUND, a file
 * that cannot be read MX_ERR_SYSTEM, and either is left where it is.  The caller frees *out with spool_entry_free.
 */
mx_err spool_load(struct spool *sp, const char *id, struct spool_entry **out, const char **why);
void spool_entry_free(struct spool_entry *entry); /* NULL is a no-op */

/* Sees the data a piece at a time (at most PAYLOAD_CHUNK octets). */
typedef void spool_see_fn(const uint8_t *piece, size_t n, void *arg);

/*
 * spool_load without the data in memory: the header is parsed and the
 * data read a piece at a time (PAYLOAD_CHUNK) to check the CRC-32 before
 * MX_OK, each piece shown to see (when not NULL; what it saw counts only
 * when the call succeeds).  The entry keeps its file open (e->src) for
 * spool_entry_payload, spool_entry_read_data and spool_update, which
 * copies the data from it a piece at a time.  Memory does not grow with
 * the message.  Errors and quarantine as spool_load's.
 */
mx_err spool_load_head(struct spool *sp, const char *id, spool_see_fn *see, void *arg,
    struct spool_entry **out, const char **why);

/*
 * What a scheduler needs of an entry and no more: its header (sender,
 * recipients with their states and next attempts) and the data's length
 * (e->len), from the file's first octets, with data and src NULL.  The
 * data is not read, so its CRC-32 is not checked here: spool_load_head
 * checks it, and quarantines a bad file, when the entry is delivered.  A
 * bad header is quarantined as spool_load does; errors as its.
 */
mx_err
spool_load_schedule(struct spool *sp, const char *id, struct spool_entry **out, const char **why);

/*
 * Brings the data of an entry from spool_load_head into e->data (NUL
 * after it), checked against the CRC-32 again; MX_OK at once when it is
 * there already.  MX_ERR_NOMEM, MX_ERR_SYSTEM (a read error) or
 * MX_ERR_BAD_DOMAIN (it no longer matches) with *why.
 */
mx_err spool_entry_read_data(struct spool_entry *e, const char **why);

/* The entry's data as a payload (borrowed from e: no copy, no dup), for
 * deliver_start, which takes its own. */
void spool_entry_payload(const struct spool_entry *e, struct payload *out);

/*
 * Group commit, for a server that must answer 250 only once a message is
 * durable and that receives many at once: spool_stage writes the entry
 * to tmp/ (ID made, file locked, no fsync) and leaves st open;
 * spool_commit_staged makes n staged entries durable together (one
 * fsync, or one syncfs for several; the renames into queue/; one fsync
 * of queue/) and closes them.  MX_OK means every one of them is in
 * queue/ and durable; on failure none is (each is taken back) and *why
 * says why.  spool_staged_abort throws one staged entry away.  Errors of
 * spool_stage as spool_enqueue's.
 *
 * Threads: spool_commit_staged and spool_sync_queue (below) may run on a
 * thread of their own (lib/queue/syncer.c), one call at a time, while the
 * loop's thread goes on with the other calls on the same spool: they use
 * only the staged files, the directories' descriptors, the ops and a
 * text of their own for *why.
 */
struct spool_staged {
	char id[SPOOL_ID_MAX + 1];
	char tmp[SPOOL_ID_MAX + 16];
	int fd; /* -1 once committed or aborted */
};
mx_err
spool_stage(struct spool *sp, struct spool_entry *e, struct spool_staged *st, const char **why);
mx_err
spool_commit_staged(struct spool *sp, struct spool_staged *const *st, size_t n, const char **why);
void spool_staged_abort(struct spool *sp, struct spool_staged *st);
/*
 * Rewrites an entry (its recipients' states, attempts and reasons; the
 * rest is written as given; data from memory, else copied a piece at a
 * time from the file it was loaded from, whose CRC-32 is checked on the
 * way: data that changed is never given a fresh CRC, the update fails
 * and the old file stays) the way spool_enqueue writes: tmp + fsync +
 * rename over queue/ID + fsync of queue/.  queue/ID must exist.  When
 * lock_fd is not NULL it is the caller's spool_lock descriptor: the new
 * file is locked before it replaces the old one and *lock_fd becomes its
 * descriptor (the old one is closed), so the lock never lapses.  A
 * failure before the rename leaves the old file as it was.
 */
mx_err
spool_update(struct spool *sp, const struct spool_entry *entry, int *lock_fd, const char **why);

/* Unlinks queue/ID and fsyncs queue/ (under spool_group_removals, later). */
mx_err spool_remove(struct spool *sp, const char *id, const char **why);
/*
 * Group commit of removals, for a daemon that removes many entries a
 * second: spool_remove then only renames queue/ID into tmp/'s pool (or,
 * if that fails, unlinks it), and spool_sync_removals makes
 * every removal since the last one durable with one fsync of queue/
 * (a no-op when there was none).  Until then a power cut may bring a
 * removed entry back: its message is delivered again (a duplicate, as
 * after a kill between a server's 250 and the update), never lost.  One
 * fsync per removal held a daemon to the disk's fsync rate.
 */
void spool_group_removals(struct spool *sp, bool on);
mx_err spool_sync_removals(struct spool *sp, const char **why);
/*
 * spool_sync_removals in three parts, for a syncer (syncer.h): whether
 * anything was removed since the last call (now counted as synced; the
 * files the removals left in tmp/ are moved to *gone), the fsync of
 * queue/ that makes the removals durable, and after it the unlink of
 * *gone's files (which frees it).  The last two on any thread.
 */
struct spool_gone {
	char (*names)[SPOOL_ID_MAX + 8]; /* "free.N" in tmp/ */
	size_t n;
};
bool spool_take_removals(struct spool *sp, struct spool_gone *gone);
mx_err spool_sync_queue(struct spool *sp, const char **why);
void spool_gone_unlink(struct spool *sp, struct spool_gone *gone);

/*
 * Calls cb with each ID in queue/, and skipped (when not NULL) with the
 * name of anything else there (symlinks, directories, FIFOs, names that
 * are not IDs) and why; nothing is followed or opened.  MX_ERR_SYSTEM
 * when queue/ cannot be read.
 */
mx_err spool_scan(struct spool *sp, void (*cb)(const char *id, void *arg),
    void (*skipped)(const char *name, const char *why, void *arg), void *arg);

/*
 * An exclusive, non-blocking lock on one entry (flock on its queue file),
 * so two runners never deliver the same message; released by
 * spool_unlock or by the process dying.  MX_ERR_LOCKED when someone
 * holds it, MX_ERR_NOT_FOUND when there is no such entry, MX_ERR_SYSTEM
 * when it cannot be opened.
 */
mx_err spool_lock(struct spool *sp, const char *id, int *fd_out);
void spool_unlock(int fd); /* -1 is a no-op */

/*
 * Removes files in tmp/ left by writers that died: older than min_age
 * seconds and not locked (a live writer holds its file's flock from
 * creation to rename).  Returns how many it removed, -1 if tmp/ cannot
 * be read.
 */
int spool_clean_tmp(struct spool *sp, unsigned min_age);

/* Whether name is a valid entry ID: 1 to SPOOL_ID_MAX of [0-9A-Za-z]. */
int spool_id_valid(const char *name);

/*
 * FOR TESTS ONLY: the system calls the spool makes when writing, so a
 * test can make any of them fail.  Each behaves like the call it names
 * (-1 and errno on failure); rename takes renameat2 flags.  NULL puts
 * back the real ones.  The table is copied.
 */
struct spool_ops {
	int (*open)(int dirfd, const char *name, int flags, mode_t mode);
	ssize_t (*write)(int fd, const void *buf, size_t n);
	int (*fsync)(int fd);
	int (*rename)(
	    int olddirfd, const char *oldname, int newdirfd, const char *newname, unsigned flags);
	int (*unlink)(int dirfd, const char *name);
};
void spool_set_ops_for_testing(struct spool *sp, const struct spool_ops *ops);
/* FOR TESTS ONLY: the table in use, to replace one call of it. */
void spool_get_ops_for_testing(const struct spool *sp, struct spool_ops *out);

#endif
