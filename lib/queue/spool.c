/*
 * spool.c - the durable queue of deferred messages: one file per entry
 * under queue/, written whole in tmp/ and renamed in only after fsync,
 * read back and checked to the last byte, a 64 KiB piece at a time: the
 * data stays in the file (spool_load_head), from which delivery reads it
 * and an update copies it, so memory does not grow with the message.  It
 * owns the file format and the directory discipline; it never delivers,
 * prints or retries a failed fsync (after one the data may be gone, so
 * the entry is refused).
 *
 * File format (text header, raw data, trailer):
 *   mxkit-spool 1\n id ID\n created N\n sender ADDRESS\n
 *   then per recipient: rcpt STATE ATTEMPTS NEXT ADDRESS\n reason ESCAPED\n
 *   data LEN\n LEN octets \n end CRC\n
 * where CRC is 8 lower-case hex digits of the CRC-32 of every octet before
 * the end line.  Reasons escape '\\' and control octets as \xHH.
 * An ADDRESS is the rest of its line, so it may hold spaces (a quoted
 * local part: "john doe"@example.com), never a control octet.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "spool.h"
#include "spool_pool.h"

#define SPOOL_DIR_MODE     0700
#define SPOOL_FILE_MODE    0600
#define SPOOL_RANDOM_CHARS 16 /* random part of an ID */
#define SPOOL_TMP_RANDOM   8  /* random part of a temporary name */
#define SPOOL_TMP_MAX      (SPOOL_ID_MAX + SPOOL_TMP_RANDOM + 6) /* "ID.RANDOM.tmp" */
#define SPOOL_END_LEN      13                                    /* "end " + 8 hex + "\n" */
/* A header line at most: "rcpt bounced " + two numbers + an address, or
 * "reason " + a reason escaped at 4 octets each. */
#define SPOOL_LINE_MAX     (16 + 4 * SPOOL_REASON_MAX)
#define SPOOL_HEADER_FIXED 512 /* version, id, created, sender, data */
/* A header of n recipients at most; the reader's cap is that of the most. */
#define SPOOL_HEADER_CAP(n) (SPOOL_HEADER_FIXED + (n) * (SPOOL_LINE_MAX + SPOOL_ADDRESS_MAX + 64))
#define SPOOL_HEADER_MAX    SPOOL_HEADER_CAP((size_t)SPOOL_RCPTS_MAX)

struct spool {
	int tmp_fd, queue_fd, corrupt_fd;
	struct spool_ops ops;
	bool group_removals;    /* spool_remove leaves queue/'s fsync to spool_sync_removals */
	bool removals_unsynced; /* removed since queue/ was last fsynced */
	struct spool_gone gone; /* removed entries' files in tmp/, to unlink */
	struct spool_pool pool; /* removed entries' files kept for new ones */
	char why[256];          /* a reason with the OS's words in it */
	char sync_why[256];     /* the same, of the calls a syncer thread makes */
};

static const char *const state_names[] = { "pending", "sent", "bounced" };

/* what, then the OS's reason ("...: No space left on device"), kept in sp. */
static const char *
os_why(struct spool *sp, const char *what)
{
	snprintf(sp->why, sizeof(sp->why), "%s: %s", what, strerror(errno));
	return sp->why;
}

/* The same in the text of the calls that may run on a syncer's thread
 * (spool.h): sp->why may be written meanwhile by the loop's thread. */
static const char *
sync_why(struct spool *sp, const char *what)
{
	snprintf(sp->sync_why, sizeof(sp->sync_why), "%s: %s", what, strerror(errno));
	return sp->sync_why;
}

/* ---- real system calls ------------------------------------------------- */

static int
real_open(int dirfd, const char *name, int flags, mode_t mode)
{
	return openat(dirfd, name, flags, mode);
}

static ssize_t
real_write(int fd, const void *buf, size_t n)
{
	return write(fd, buf, n);
}

static int
real_fsync(int fd)
{
	return fsync(fd);
}

static int
real_rename(int olddirfd, const char *oldname, int newdirfd, const char *newname, unsigned flags)
{
	return renameat2(olddirfd, oldname, newdirfd, newname, flags);
}

static int
real_unlink(int dirfd, const char *name)
{
	return unlinkat(dirfd, name, 0);
}

static const struct spool_ops real_ops = {
	real_open,
	real_write,
	real_fsync,
	real_rename,
	real_unlink,
};

void
spool_set_ops_for_testing(struct spool *sp, const struct spool_ops *ops)
{
	sp->ops = ops ? *ops : real_ops;
}

void
spool_get_ops_for_testing(const struct spool *sp, struct spool_ops *out)
{
	*out = sp->ops;
}

/* ---- CRC-32 ------------------------------------------------------------ */

/*
 * CRC-32 (IEEE 802.3, as zlib's crc32), four bits at a time from a
 * 16-entry table: a few lines instead of a zlib dependency, and fast
 * enough (a 10 MiB entry in tens of milliseconds).
 */
static uint32_t
crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	static const uint32_t nibble[16] = {
		0x00000000,
		0x1db71064,
		0x3b6e20c8,
		0x26d930ac,
		0x76dc4190,
		0x6b6b51f4,
		0x4db26158,
		0x5005713c,
		0xedb88320,
		0xf00f9344,
		0xd6d6a3e8,
		0xcb61b38c,
		0x9b64c2b0,
		0x86d3d2d4,
		0xa00ae278,
		0xbdbdf21c,
	};

	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ nibble[crc & 15];
		crc = (crc >> 4) ^ nibble[crc & 15];
	}
	return ~crc;
}

/* ---- names and fields -------------------------------------------------- */

static bool
is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int
spool_id_valid(const char *name)
{
	size_t n = 0;

	for (; name[n] != '\0'; n++)
		if (n >= SPOOL_ID_MAX || !is_alnum(name[n]))
			return 0;
	return n > 0;
}

/*
 * An address: no control octet (CR, LF, NUL among them), bounded.  A space
 * is allowed: RFC 5321 lets a quoted local part hold one ("john doe"@x),
 * and an address is always the last field of its line, so it cannot
 * split a field.
 */
static bool
address_valid(const char *s, size_t n, bool may_be_empty)
{
	if (n > SPOOL_ADDRESS_MAX || (n == 0 && !may_be_empty))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static const char id_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* n random characters of [0-9A-Za-z] from getentropy, then a NUL. */
static mx_err
random_chars(char *out, size_t n, const char **why)
{
	uint8_t rnd[SPOOL_RANDOM_CHARS];

	if (n > sizeof(rnd) || getentropy(rnd, n) != 0) {
		*why = "no random bytes for a queue ID (getentropy failed)";
		return MX_ERR_SYSTEM;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = id_alphabet[rnd[i] % 62];
	out[n] = '\0';
	return MX_OK;
}

/*
 * "ID.RANDOM.tmp": unique even when a writer that died left its own
 * temporary file of the same entry behind.
 */
static mx_err
tmp_name(const char *id, char out[SPOOL_TMP_MAX], const char **why)
{
	size_t n = strlen(id);

	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): ended below */
	memcpy(out, id, n);
	out[n] = '.';
	if (random_chars(out + n + 1, SPOOL_TMP_RANDOM, why) != MX_OK)
		return MX_ERR_SYSTEM;
	memcpy(out + n + 1 + SPOOL_TMP_RANDOM, ".tmp", 5);
	return MX_OK;
}

/* A new ID: seconds in hex, then random [0-9A-Za-z] from getentropy. */
static mx_err
make_id(char id[SPOOL_ID_MAX + 1], const char **why)
{
	int n = snprintf(id, SPOOL_ID_MAX + 1, "%010" PRIX64, (uint64_t)time(NULL));

	return random_chars(id + n, SPOOL_RANDOM_CHARS, why);
}

/* ---- opening ----------------------------------------------------------- */

static bool
read_only(int fd)
{
	struct statvfs vfs;

	errno = 0;
	if (fstatvfs(fd, &vfs) != 0)
		return true;
	if (vfs.f_flag & ST_RDONLY) {
		errno = EROFS;
		return true;
	}
	return false;
}

static int
open_subdir(int base, const char *name)
{
	if (mkdirat(base, name, SPOOL_DIR_MODE) != 0 && errno != EEXIST)
		return -1;
	return openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static struct spool *
spool_alloc(char *why, size_t why_size)
{
	struct spool *sp = calloc(1, sizeof(*sp));

	if (sp == NULL) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	sp->tmp_fd = sp->queue_fd = sp->corrupt_fd = -1;
	sp->ops = real_ops;
	return sp;
}

mx_err
spool_open(const char *dir, struct spool **out, char *why, size_t why_size)
{
	struct spool *sp = NULL;
	int base = -1;
	mx_err err = MX_ERR_SYSTEM;

	*out = NULL;
	if ((sp = spool_alloc(why, why_size)) == NULL)
		return MX_ERR_NOMEM;
	if ((mkdir(dir, SPOOL_DIR_MODE) != 0 && errno != EEXIST) ||
	    (base = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		os_why(sp, "cannot open the spool directory");
		goto out;
	}
	if ((sp->tmp_fd = open_subdir(base, "tmp")) < 0 ||
	    (sp->queue_fd = open_subdir(base, "queue")) < 0 ||
	    (sp->corrupt_fd = open_subdir(base, "corrupt")) < 0) {
		os_why(sp, "cannot create or open tmp/, queue/ or corrupt/ in the spool");
		goto out;
	}
	/* access(2) ignores a read-only mount for root's W_OK: ask the mount. */
	if (faccessat(base, "tmp", W_OK | X_OK, 0) != 0 ||
	    faccessat(base, "queue", W_OK | X_OK, 0) != 0 ||
	    faccessat(base, "corrupt", W_OK | X_OK, 0) != 0 || read_only(base)) {
		if (errno == 0)
			errno = EROFS;
		os_why(sp, "the spool directory is not writable");
		goto out;
	}
	*out = sp;
	sp = NULL;
	err = MX_OK;
out:
	if (sp != NULL)
		snprintf(why, why_size, "%s", sp->why);
	if (base >= 0)
		close(base);
	spool_close(sp);
	return err;
}

/* base/name opened as a directory into *fd, or -1 there when it does not
 * exist (nor base); false for any other failure. */
static bool
open_if_there(int base, const char *name, int *fd)
{
	*fd = base < 0 ? -1 : openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return *fd >= 0 || base < 0 || errno == ENOENT;
}

mx_err
spool_open_existing(const char *dir, struct spool **out, char *why, size_t why_size)
{
	struct spool *sp = NULL;
	int base;
	mx_err err = MX_ERR_SYSTEM;

	*out = NULL;
	if ((sp = spool_alloc(why, why_size)) == NULL)
		return MX_ERR_NOMEM;
	base = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base < 0 && errno != ENOENT) {
		os_why(sp, "cannot open the spool directory");
		goto out;
	}
	if (!open_if_there(base, "tmp", &sp->tmp_fd) ||
	    !open_if_there(base, "queue", &sp->queue_fd) ||
	    !open_if_there(base, "corrupt", &sp->corrupt_fd)) {
		os_why(sp, "cannot open tmp/, queue/ or corrupt/ in the spool");
		goto out;
	}
	*out = sp;
	sp = NULL;
	err = MX_OK;
out:
	if (sp != NULL)
		snprintf(why, why_size, "%s", sp->why);
	if (base >= 0)
		close(base);
	spool_close(sp);
	return err;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->tmp_fd >= 0)
		close(sp->tmp_fd);
	if (sp->queue_fd >= 0)
		close(sp->queue_fd);
	if (sp->corrupt_fd >= 0)
		close(sp->corrupt_fd);
	free(sp->gone.names);
	spool_pool_free(&sp->pool);
	free(sp);
}

/* ---- writing ----------------------------------------------------------- */

/* A bounded text buffer for the header. */
struct text {
	char *buf;
	size_t len, cap;
};

static bool
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len)
		return false;
	t->len += (size_t)n;
	return true;
}

static bool
text_add_reason(struct text *t, const char *reason)
{
	if (!text_add(t, "reason "))
		return false;
	for (const unsigned char *p = (const unsigned char *)reason; *p; p++) {
		bool ok = (*p < 0x20 || *p == 0x7f || *p == '\\') ? text_add(t, "\\x%02x", *p)
								  : text_add(t, "%c", *p);
		if (!ok)
			return false;
	}
	return text_add(t, "\n");
}

/* MX_ERR_BAD_ADDRESS for its address, MX_ERR_INVALID for its state or reason. */
static mx_err
rcpt_check(const struct spool_rcpt *r)
{
	if (!address_valid(r->address, strnlen(r->address, SPOOL_ADDRESS_MAX + 1), false))
		return MX_ERR_BAD_ADDRESS;
	return (unsigned)r->state <= SPOOL_BOUNCED &&
		strnlen(r->reason, SPOOL_REASON_MAX + 1) <= SPOOL_REASON_MAX
	    ? MX_OK
	    : MX_ERR_INVALID;
}

/* The header of an entry, checked field by field; the caller frees it. */
static mx_err
format_header(const struct spool_entry *e, struct text *t, const char **why)
{
	mx_err err;

	*why = "a recipient address, reason or state is not valid";
	if (!spool_id_valid(e->id) || e->n_rcpts == 0 || e->n_rcpts > SPOOL_RCPTS_MAX ||
	    e->len > SPOOL_DATA_MAX ||
	    (e->len > 0 && e->data == NULL && e->payload == NULL && e->src == NULL)) {
		*why = "bad ID, recipient count or data length";
		return MX_ERR_INVALID;
	}
	if (!address_valid(e->sender, strnlen(e->sender, SPOOL_ADDRESS_MAX + 1), true)) {
		*why = "the sender address has a control byte, or is too long";
		return MX_ERR_BAD_ADDRESS;
	}
	for (size_t i = 0; i < e->n_rcpts; i++)
		if ((err = rcpt_check(&e->rcpts[i])) != MX_OK)
			return err;
	t->len = 0;
	t->cap = SPOOL_HEADER_CAP(e->n_rcpts);
	if ((t->buf = malloc(t->cap)) == NULL) {
		*why = "out of memory";
		return MX_ERR_NOMEM;
	}
	bool ok = text_add(t, "%s\nid %s\ncreated %" PRId64 "\nsender %s\n", SPOOL_VERSION_LINE,
	    e->id, e->created, e->sender);
	if (ok && e->no_bounce)
		ok = text_add(t, "notify never\n");
	for (size_t i = 0; ok && i < e->n_rcpts; i++) {
		const struct spool_rcpt *r = &e->rcpts[i];
		ok = text_add(t, "rcpt %s %u %" PRId64 " %s\n", state_names[r->state], r->attempts,
			 r->next_attempt, r->address) &&
		    text_add_reason(t, r->reason);
	}
	ok = ok && text_add(t, "data %zu\n", e->len);
	if (!ok) {
		*why = "internal error: the entry header did not fit";
		return MX_ERR_INVALID;
	}
	return MX_OK;
}

static bool
write_all(struct spool *sp, int fd, const void *buf, size_t n, uint32_t *crc)
{
	const uint8_t *p = buf;

	*crc = crc32_update(*crc, p, n);
	while (n > 0) {
		ssize_t w = sp->ops.write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static ssize_t pread_full(int fd, void *buf, size_t n, off_t off);

/* A piece of the data from its payload, or from the file the entry was
 * loaded from (a short read there is an error: never write less). */
static ssize_t
read_piece(const struct spool_entry *e, size_t pos, uint8_t *buf, size_t n)
{
	ssize_t r;

	if (e->payload != NULL)
		return payload_read(e->payload, pos, buf, n);
	if (n > e->len - pos)
		n = e->len - pos;
	if ((r = pread_full(e->src->fd, buf, n, e->src->off + (off_t)pos)) >= 0 && (size_t)r < n) {
		errno = EIO;
		return -1;
	}
	return r;
}

/*
 * The entry's data: from memory, else a chunk at a time from its payload
 * or its old file.  Copied from the old file, it is checked against that
 * file's CRC-32 on the way (EBADMSG when it differs), so damage is never
 * sealed under a new CRC.
 */
static bool
write_data(struct spool *sp, int fd, const struct spool_entry *e, uint32_t *crc)
{
	uint32_t old = e->src != NULL ? e->src->crc_head : 0;
	uint8_t *chunk, lf = '\n';
	size_t pos = 0;
	ssize_t n;
	bool ok = true;

	if (e->payload == NULL && (e->data != NULL || e->src == NULL))
		return write_all(sp, fd, e->data, e->len, crc);
	if ((chunk = malloc(PAYLOAD_CHUNK)) == NULL)
		return false;
	while (ok && pos < e->len) {
		n = read_piece(e, pos, chunk, PAYLOAD_CHUNK);
		ok = n > 0 && write_all(sp, fd, chunk, (size_t)n, crc);
		if (ok && e->payload == NULL)
			old = crc32_update(old, chunk, (size_t)n);
		pos += n > 0 ? (size_t)n : 0;
	}
	free(chunk);
	if (ok && e->payload == NULL && crc32_update(old, &lf, 1) != e->src->crc_end) {
		errno = EBADMSG;
		ok = false;
	}
	return ok;
}

/* Writes the whole entry to fd and, when sync is set, fsyncs it. */
static mx_err
write_entry(struct spool *sp, int fd, const struct spool_entry *e, bool sync, const char **why)
{
	struct text t = { 0 };
	uint32_t crc = 0, ignored = 0;
	char end[SPOOL_END_LEN + 1];
	mx_err err;

	if ((err = format_header(e, &t, why)) != MX_OK)
		goto out;
	err = MX_ERR_SYSTEM;
	errno = EIO; /* a write of 0 octets sets none */
	if (!write_all(sp, fd, t.buf, t.len, &crc) || !write_data(sp, fd, e, &crc) ||
	    !write_all(sp, fd, "\n", 1, &crc)) {
		*why = errno == EBADMSG
		    ? "the entry's data no longer matches its CRC-32 "
		      "(damaged on disk since it was loaded); the old file is left as it was"
		    : os_why(sp, "writing the spool file failed");
		goto out;
	}
	snprintf(end, sizeof(end), "end %08" PRIx32 "\n", crc);
	if (!write_all(sp, fd, end, SPOOL_END_LEN, &ignored)) {
		*why = os_why(sp, "writing the spool file failed");
		goto out;
	}
	if (sync && sp->ops.fsync(fd) != 0) {
		*why = os_why(sp, "fsync of the spool file failed, the entry is refused");
		goto out;
	}
	err = MX_OK;
out:
	free(t.buf);
	return err;
}

/*
 * renameat2 with RENAME_NOREPLACE, or, where the kernel or file system
 * lacks it (EINVAL, ENOSYS), the older way with the same guarantee: a
 * hard link (which never replaces) and the unlink of the old name.
 */
static int
spool_rename(struct spool *sp, const char *tmp, const char *id, unsigned flags)
{
	if (sp->ops.rename(sp->tmp_fd, tmp, sp->queue_fd, id, flags) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (flags == 0)
		return renameat(sp->tmp_fd, tmp, sp->queue_fd, id);
	if (linkat(sp->tmp_fd, tmp, sp->queue_fd, id, 0) != 0)
		return -1;
	sp->ops.unlink(sp->tmp_fd, tmp);
	return 0;
}

/*
 * Writes e to tmp/, fsyncs it and renames it to queue/ID with the given
 * renameat2 flags; on success *fd_out (when given) is the still-open
 * file, locked if lock is set.  The temporary file never outlives a
 * failure.
 */
static mx_err
commit_entry(struct spool *sp, const struct spool_entry *e, unsigned flags, bool lock, int *fd_out,
    const char **why)
{
	char tmp[SPOOL_TMP_MAX];
	int fd;
	mx_err err = MX_ERR_SYSTEM;

	if ((err = tmp_name(e->id, tmp, why)) != MX_OK)
		return err;
	fd = sp->ops.open(
	    sp->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, SPOOL_FILE_MODE);
	if (fd < 0) {
		*why = os_why(sp, "cannot create a file in the spool's tmp/");
		return MX_ERR_SYSTEM;
	}
	/* Locked from birth: spool_clean_tmp tells a live writer's file from
	 * a dead one's by the lock (flock locks die with their holder).  The
	 * same lock keeps runners off the entry once it is renamed. */
	err = MX_ERR_SYSTEM;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		*why = os_why(sp, "cannot lock the new spool file");
		goto out;
	}
	if ((err = write_entry(sp, fd, e, true, why)) != MX_OK)
		goto out;
	err = MX_ERR_SYSTEM;
	if (spool_rename(sp, tmp, e->id, flags) != 0) {
		*why = os_why(sp, "renaming the spool file into queue/ failed");
		goto out;
	}
	if (!lock)
		flock(fd, LOCK_UN);
	err = MX_OK;
out:
	if (err != MX_OK)
		sp->ops.unlink(sp->tmp_fd, tmp);
	if (err == MX_OK && fd_out != NULL)
		*fd_out = fd;
	else
		close(fd);
	return err;
}

static mx_err
make_entry(const char *sender, const char *const *rcpts, size_t n, const uint8_t *data, size_t len,
    struct spool_entry *e, const char **why)
{
	size_t slen = sender ? strnlen(sender, SPOOL_ADDRESS_MAX + 1) : 0;

	*why = "an address has a control byte, or is too long";
	if (!address_valid(sender ? sender : "", slen, true))
		return MX_ERR_BAD_ADDRESS;
	memcpy(e->sender, sender ? sender : "", slen + 1);
	e->created = (int64_t)time(NULL);
	e->data = (uint8_t *)(uintptr_t)data;
	e->len = len;
	e->n_rcpts = n;
	if ((e->rcpts = calloc(n, sizeof(*e->rcpts))) == NULL) {
		*why = "out of memory";
		return MX_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const char *a = rcpts[i] ? rcpts[i] : "";
		size_t alen = strnlen(a, SPOOL_ADDRESS_MAX + 1);
		if (!address_valid(a, alen, false))
			return MX_ERR_BAD_ADDRESS;
		memcpy(e->rcpts[i].address, a, alen + 1);
	}
	return MX_OK;
}

mx_err
spool_enqueue(struct spool *sp, const char *sender, const char *const *rcpts, size_t n,
    const uint8_t *data, size_t len, char *id_out, size_t id_size, const char **why)
{
	struct spool_entry e = { 0 };
	mx_err err;

	*why = "the message is larger than a spool entry can be (1 GiB)";
	if (len > SPOOL_DATA_MAX)
		return MX_ERR_TOO_BIG;
	*why = "no recipients, too many, data too big, or no room for the ID";
	if (n == 0 || n > SPOOL_RCPTS_MAX || rcpts == NULL || len > SPOOL_DATA_MAX ||
	    (len > 0 && data == NULL) || id_out == NULL || id_size <= SPOOL_ID_MAX)
		return MX_ERR_INVALID;
	if ((err = make_entry(sender, rcpts, n, data, len, &e, why)) == MX_OK)
		err = spool_enqueue_entry(sp, &e, id_out, id_size, why);
	free(e.rcpts);
	return err;
}

mx_err
spool_enqueue_payload(struct spool *sp, const char *sender, const char *const *rcpts, size_t n,
    const struct payload *data, char *id_out, size_t id_size, const char **why)
{
	struct spool_entry e = { 0 };
	size_t len = data != NULL ? payload_len(data) : 0;
	mx_err err;

	*why = "the message is larger than a spool entry can be (1 GiB)";
	if (len > SPOOL_DATA_MAX)
		return MX_ERR_TOO_BIG;
	*why = "no recipients, too many, data too big, or no room for the ID";
	if (n == 0 || n > SPOOL_RCPTS_MAX || rcpts == NULL || data == NULL ||
	    len > SPOOL_DATA_MAX || id_out == NULL || id_size <= SPOOL_ID_MAX)
		return MX_ERR_INVALID;
	if ((err = make_entry(sender, rcpts, n, NULL, len, &e, why)) == MX_OK) {
		e.payload = data;
		err = spool_enqueue_entry(sp, &e, id_out, id_size, why);
	}
	free(e.rcpts);
	return err;
}

mx_err
spool_enqueue_entry(
    struct spool *sp, struct spool_entry *e, char *id_out, size_t id_size, const char **why)
{
	mx_err err;

	*why = "the message is larger than a spool entry can be (1 GiB)";
	if (e->len > SPOOL_DATA_MAX)
		return MX_ERR_TOO_BIG;
	*why = "no recipients, too many, data too big, or no room for the ID";
	if (e->n_rcpts == 0 || e->n_rcpts > SPOOL_RCPTS_MAX || e->rcpts == NULL ||
	    e->len > SPOOL_DATA_MAX || (e->len > 0 && e->data == NULL && e->payload == NULL) ||
	    (e->payload != NULL && e->len != payload_len(e->payload)) || id_out == NULL ||
	    id_size <= SPOOL_ID_MAX)
		return MX_ERR_INVALID;
	*why = "an address has a control byte, or is too long";
	if (!address_valid(e->sender, strnlen(e->sender, sizeof(e->sender)), true))
		return MX_ERR_BAD_ADDRESS;
	for (size_t i = 0; i < e->n_rcpts; i++)
		if ((err = rcpt_check(&e->rcpts[i])) != MX_OK)
			return err;
	if ((err = make_id(e->id, why)) != MX_OK)
		return err;
	if (e->created == 0)
		e->created = (int64_t)time(NULL);
	if ((err = commit_entry(sp, e, RENAME_NOREPLACE, false, NULL, why)) != MX_OK)
		return err;
	if (sp->ops.fsync(sp->queue_fd) != 0) {
		/* Visible but not durable: take it back, the caller keeps the message. */
		*why = os_why(sp, "fsync of the spool's queue/ failed, the entry is refused");
		sp->ops.unlink(sp->queue_fd, e->id);
		sp->ops.fsync(sp->queue_fd);
		return MX_ERR_SYSTEM;
	}
	memcpy(id_out, e->id, strlen(e->id) + 1);
	*why = NULL;
	return MX_OK;
}

/* ---- group commit: stage now, make durable together ------------------- */

/* The checks spool_enqueue_entry makes before it writes anything. */
static mx_err
entry_ready(const struct spool_entry *e, const char **why)
{
	*why = "no recipients, too many, data too big, or no data";
	if (e->n_rcpts == 0 || e->n_rcpts > SPOOL_RCPTS_MAX || e->rcpts == NULL ||
	    e->len > SPOOL_DATA_MAX || (e->len > 0 && e->data == NULL && e->payload == NULL) ||
	    (e->payload != NULL && e->len != payload_len(e->payload)))
		return MX_ERR_INVALID;
	*why = "an address has a control byte, or is too long";
	if (!address_valid(e->sender, strnlen(e->sender, sizeof(e->sender)), true))
		return MX_ERR_BAD_ADDRESS;
	for (size_t i = 0; i < e->n_rcpts; i++) {
		mx_err err = rcpt_check(&e->rcpts[i]);
		if (err != MX_OK)
			return err;
	}
	return MX_OK;
}

mx_err
spool_stage(struct spool *sp, struct spool_entry *e, struct spool_staged *st, const char **why)
{
	bool reused = false;
	mx_err err;

	st->fd = -1;
	if ((err = entry_ready(e, why)) != MX_OK || (err = make_id(e->id, why)) != MX_OK ||
	    (err = tmp_name(e->id, st->tmp, why)) != MX_OK)
		return err;
	if (e->created == 0)
		e->created = (int64_t)time(NULL);
	memcpy(st->id, e->id, sizeof(st->id));
	/* A delivered entry's file when the pool has one (spool_pool.h). */
	if ((st->fd = spool_pool_take(&sp->pool, sp->tmp_fd, st->tmp)) >= 0)
		reused = true;
	else
		st->fd = sp->ops.open(sp->tmp_fd, st->tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, SPOOL_FILE_MODE);
	if (st->fd < 0) {
		*why = os_why(sp, "cannot create a file in the spool's tmp/");
		return MX_ERR_SYSTEM;
	}
	/* Locked from birth, as commit_entry's (spool_clean_tmp's rule). */
	err = MX_ERR_SYSTEM;
	if (!reused && flock(st->fd, LOCK_EX | LOCK_NB) != 0) /* a pooled one is locked */
		*why = os_why(sp, "cannot lock the new spool file");
	else
		err = write_entry(sp, st->fd, e, false, why);
	/* Written over an old one: what is left of it after ours goes. */
	if (err == MX_OK && reused && ftruncate(st->fd, lseek(st->fd, 0, SEEK_CUR)) != 0) {
		*why = os_why(sp, "cannot truncate the new spool file");
		err = MX_ERR_SYSTEM;
	}
	if (err != MX_OK)
		spool_staged_abort(sp, st);
	return err;
}

void
spool_staged_abort(struct spool *sp, struct spool_staged *st)
{
	if (st->fd < 0)
		return;
	sp->ops.unlink(sp->tmp_fd, st->tmp);
	close(st->fd);
	st->fd = -1;
}

/*
 * The data of every staged file on stable storage with one call: one
 * file's fsync, or syncfs for several (one journal commit on ext4 and
 * XFS; it reports writeback errors of the file system since Linux 5.8,
 * and a failure refuses the whole batch, as a failed fsync refuses one).
 */
static bool
sync_staged(struct spool *sp, struct spool_staged *const *st, size_t n)
{
	if (n == 1)
		return sp->ops.fsync(st[0]->fd) == 0;
	if (sp->ops.fsync != real_ops.fsync) /* a test's failing fsync stands for syncfs */
		return sp->ops.fsync(st[0]->fd) == 0;
	return syncfs(st[0]->fd) == 0;
}

mx_err
spool_commit_staged(struct spool *sp, struct spool_staged *const *st, size_t n, const char **why)
{
	size_t i, moved = 0;
	mx_err err = MX_ERR_SYSTEM;

	if (n == 0)
		return MX_OK;
	if (!sync_staged(sp, st, n)) {
		*why = sync_why(sp, "fsync of the spool files failed, the messages are refused");
		goto out;
	}
	for (moved = 0; moved < n; moved++)
		if (spool_rename(sp, st[moved]->tmp, st[moved]->id, RENAME_NOREPLACE) != 0) {
			*why = sync_why(sp, "renaming a spool file into queue/ failed");
			goto out;
		}
	if (sp->ops.fsync(sp->queue_fd) != 0) {
		*why = sync_why(sp, "fsync of the spool's queue/ failed, the messages are refused");
		goto out;
	}
	err = MX_OK;
out:
	/* Visible but not durable: taken back, as spool_enqueue_entry does. */
	for (i = 0; err != MX_OK && i < moved; i++)
		sp->ops.unlink(sp->queue_fd, st[i]->id);
	if (err != MX_OK && moved > 0)
		sp->ops.fsync(sp->queue_fd);
	for (i = 0; i < n; i++) {
		if (err != MX_OK && i >= moved)
			sp->ops.unlink(sp->tmp_fd, st[i]->tmp);
		close(st[i]->fd);
		st[i]->fd = -1;
	}
	return err;
}

mx_err
spool_update(struct spool *sp, const struct spool_entry *entry, int *lock_fd, const char **why)
{
	struct stat st;
	int fd = -1;
	mx_err err;

	if (!spool_id_valid(entry->id)) {
		*why = "not a valid queue ID";
		return MX_ERR_INVALID;
	}
	if (fstatat(sp->queue_fd, entry->id, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode)) {
		*why = "the entry is not in queue/";
		return MX_ERR_NOT_FOUND;
	}
	err = commit_entry(sp, entry, 0, lock_fd != NULL, &fd, why);
	if (err != MX_OK)
		return err;
	if (lock_fd != NULL) {
		spool_unlock(*lock_fd);
		*lock_fd = fd;
	} else {
		close(fd);
	}
	if (sp->ops.fsync(sp->queue_fd) != 0) {
		*why = os_why(sp, "fsync of the spool's queue/ failed, the update may be lost");
		return MX_ERR_SYSTEM;
	}
	*why = NULL;
	return MX_OK;
}

_Static_assert(sizeof(((struct spool_gone *)0)->names[0]) == SPOOL_POOL_NAME,
    "a pool name fits the gone list");

/* Room for one more name in g (the parsers' growth rule). */
static bool
gone_room(struct spool_gone *g)
{
	void *names = g->names;

	if (!array_grow(&names, g->n, sizeof(g->names[0])))
		return false;
	g->names = names;
	return true;
}

/*
 * Under spool_group_removals: queue/ID leaves queue/ by a rename into
 * tmp/'s pool (spool_pool.h), and the pool's oldest file, when it is full,
 * is left to spool_gone_unlink, on a syncer's thread: freeing its blocks
 * is a synchronous discard on a file system mounted with discard (0.1 ms
 * a file here).  The entry is gone from queue/ at once, for scans and
 * runners alike; a crash leaves the file in tmp/, where spool_clean_tmp
 * finds it unlocked and removes it.  false: spool_remove unlinks it.
 */
static bool
remove_later(struct spool *sp, const char *id)
{
	struct spool_gone *g = &sp->gone;
	char name[SPOOL_POOL_NAME];

	if (!gone_room(g) || !spool_pool_put(&sp->pool, sp->queue_fd, sp->tmp_fd, id, name))
		return false;
	if (name[0] != '\0')
		memcpy(g->names[g->n++], name, sizeof(name));
	return true;
}

mx_err
spool_remove(struct spool *sp, const char *id, const char **why)
{
	if (!spool_id_valid(id)) {
		*why = "not a valid queue ID";
		return MX_ERR_INVALID;
	}
	if (sp->group_removals && remove_later(sp, id)) {
		sp->removals_unsynced = true;
		*why = NULL;
		return MX_OK;
	}
	if (sp->ops.unlink(sp->queue_fd, id) != 0) {
		mx_err err = errno == ENOENT ? MX_ERR_NOT_FOUND : MX_ERR_SYSTEM;
		*why = os_why(sp, "cannot remove the entry from queue/");
		return err;
	}
	if (sp->group_removals) {
		sp->removals_unsynced = true;
		*why = NULL;
		return MX_OK;
	}
	if (sp->ops.fsync(sp->queue_fd) != 0) {
		*why = os_why(sp, "fsync of the spool's queue/ failed, the removal may be lost");
		return MX_ERR_SYSTEM;
	}
	*why = NULL;
	return MX_OK;
}

void
spool_group_removals(struct spool *sp, bool on)
{
	sp->group_removals = on;
}

bool
spool_take_removals(struct spool *sp, struct spool_gone *gone)
{
	bool unsynced = sp->removals_unsynced;

	*gone = sp->gone;
	memset(&sp->gone, 0, sizeof(sp->gone));
	sp->removals_unsynced = false;
	return unsynced;
}

void
spool_gone_unlink(struct spool *sp, struct spool_gone *gone)
{
	for (size_t i = 0; i < gone->n; i++)
		sp->ops.unlink(sp->tmp_fd, gone->names[i]);
	free(gone->names);
	memset(gone, 0, sizeof(*gone));
}

mx_err
spool_sync_queue(struct spool *sp, const char **why)
{
	*why = NULL;
	if (sp->ops.fsync(sp->queue_fd) != 0) {
		*why = sync_why(sp, "fsync of the spool's queue/ failed, removals may be undone");
		return MX_ERR_SYSTEM;
	}
	return MX_OK;
}

mx_err
spool_sync_removals(struct spool *sp, const char **why)
{
	struct spool_gone gone;
	mx_err err = MX_OK;

	*why = NULL;
	if (spool_take_removals(sp, &gone))
		err = spool_sync_queue(sp, why);
	/* After the fsync: queue/ no longer names them, whatever happens. */
	if (err == MX_OK)
		spool_gone_unlink(sp, &gone);
	else
		free(gone.names); /* left in tmp/ for spool_clean_tmp */
	return err;
}

/* After openat of queue/ID failed: no such entry (nothing there, a
 * symlink, or no queue/ at all in a spool opened as it is), or the OS. */
static mx_err
open_failure(const struct spool *sp)
{
	return sp->queue_fd < 0 || errno == ENOENT || errno == ELOOP ? MX_ERR_NOT_FOUND
								     : MX_ERR_SYSTEM;
}

/* ---- reading ----------------------------------------------------------- */

/* A bounds-checked cursor over a whole file. */
struct cursor {
	const uint8_t *p;
	size_t len, pos;
};

/* The next line (without its LF) as a string in out; false if none fits. */
static bool
next_line(struct cursor *c, char *out, size_t size)
{
	size_t n = 0;

	while (c->pos + n < c->len && c->p[c->pos + n] != '\n') {
		uint8_t b = c->p[c->pos + n];
		if (b == '\0' || b == '\r' || n + 1 >= size)
			return false;
		out[n++] = (char)b;
	}
	if (c->pos + n >= c->len)
		return false;
	out[n] = '\0';
	c->pos += n + 1;
	return true;
}

/* "KEY VALUE": the value after the key and one space, or NULL. */
static const char *
field(const char *line, const char *key)
{
	size_t k = strlen(key);

	/* strncmp matched k bytes before any NUL, so line[k] is within the string;
	 * the analyzer does not model strncmp's contents. */
	/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (strncmp(line, key, k) != 0 || line[k] != ' ')
		return NULL;
	return line + k + 1;
}

/* A decimal number, digits only, no sign, no leading zero, bounded. */
static bool
parse_u64(const char *s, const char **end, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (max - (uint64_t)(*p - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == s || (s[0] == '0' && p - s > 1))
		return false;
	*end = p;
	*v = n;
	return true;
}

static bool
parse_number_field(const char *line, const char *key, uint64_t max, uint64_t *v)
{
	const char *s = field(line, key), *end;

	return s != NULL && parse_u64(s, &end, max, v) && *end == '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undoes text_add_reason; false for a bad escape or a reason too long. */
static bool
unescape_reason(const char *s, char out[SPOOL_REASON_MAX + 1])
{
	size_t o = 0;

	for (; *s != '\0'; o++) {
		if (o >= SPOOL_REASON_MAX || (unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
		if (*s != '\\') {
			out[o] = *s++;
			continue;
		}
		int hi = s[1] == 'x' ? hex_value(s[2]) : -1;
		int lo = hi >= 0 ? hex_value(s[3]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0))
			return false;
		out[o] = (char)(hi * 16 + lo);
		s += 4;
	}
	out[o] = '\0';
	return true;
}

static bool
parse_state(const char *s, const char **end, enum spool_state *state)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		size_t n = strlen(state_names[i]);
		if (strncmp(s, state_names[i], n) == 0 && s[n] == ' ') {
			*state = (enum spool_state)i;
			*end = s + n;
			return true;
		}
	}
	return false;
}

/* "rcpt STATE ATTEMPTS NEXT ADDRESS" then "reason ESCAPED". */
static bool
parse_rcpt(struct cursor *c, char *line, struct spool_rcpt *r)
{
	const char *s = field(line, "rcpt"), *a;
	uint64_t attempts, next;

	if (s == NULL || !parse_state(s, &s, &r->state) || *s++ != ' ' ||
	    !parse_u64(s, &s, UINT32_MAX, &attempts) || *s++ != ' ' ||
	    !parse_u64(s, &s, INT64_MAX, &next) || *s++ != ' ')
		return false;
	a = s;
	if (!address_valid(a, strlen(a), false))
		return false;
	memcpy(r->address, a, strlen(a) + 1);
	r->attempts = (unsigned)attempts;
	r->next_attempt = (int64_t)next;
	return next_line(c, line, SPOOL_LINE_MAX) && (s = field(line, "reason")) != NULL &&
	    unescape_reason(s, r->reason);
}

static bool
parse_head(struct cursor *c, char *line, const char *id, struct spool_entry *e, const char **why)
{
	const char *s;
	uint64_t v;

	c->pos = strlen(SPOOL_VERSION_LINE) + 1;
	*why = "bad or mismatched id line";
	if (!next_line(c, line, SPOOL_LINE_MAX) || (s = field(line, "id")) == NULL ||
	    strcmp(s, id) != 0)
		return false;
	memcpy(e->id, s, strlen(s) + 1);
	*why = "bad created line";
	if (!next_line(c, line, SPOOL_LINE_MAX) ||
	    !parse_number_field(line, "created", INT64_MAX, &v))
		return false;
	e->created = (int64_t)v;
	*why = "bad sender line";
	if (!next_line(c, line, SPOOL_LINE_MAX) || (s = field(line, "sender")) == NULL ||
	    !address_valid(s, strlen(s), true))
		return false;
	memcpy(e->sender, s, strlen(s) + 1);
	return true;
}

/* "rcpt" and "reason" lines into e, then "data LEN" (the header's last line). */
static bool
parse_rcpts(struct cursor *c, char *line, struct spool_entry *e, size_t cap, uint64_t *len,
    const char **why)
{
	*why = "bad recipient or reason line";
	for (;;) {
		if (!next_line(c, line, SPOOL_LINE_MAX))
			return false;
		if (e->n_rcpts == 0 && !e->no_bounce && strcmp(line, "notify never") == 0) {
			e->no_bounce = true; /* optional, once, before the recipients */
			continue;
		}
		if (field(line, "rcpt") == NULL)
			break;
		if (e->n_rcpts >= cap || !parse_rcpt(c, line, &e->rcpts[e->n_rcpts]))
			return false;
		e->n_rcpts++;
	}
	*why = "no recipients, or a bad data line";
	return e->n_rcpts > 0 && parse_number_field(line, "data", SPOOL_DATA_MAX, len) &&
	    c->pos == c->len;
}

/* The lines of the header that start with "rcpt " (no address or
 * escaped reason holds a LF), at most SPOOL_RCPTS_MAX, at least 1: the
 * recipients to make room for, so that an entry costs what it holds and
 * not the most any entry may (a thousand recipients, 850 KiB). */
static size_t
count_rcpts(const uint8_t *p, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n && count < SPOOL_RCPTS_MAX;) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		count += n - i >= 5 && memcmp(p + i, "rcpt ", 5) == 0;
		if (lf == NULL)
			break;
		i = (size_t)(lf - p) + 1;
	}
	return count > 0 ? count : 1;
}

/* The header (version line through data line) into e, the data's length into *len. */
static mx_err
parse_header(const uint8_t *p, size_t n, const char *id, struct spool_entry *e, uint64_t *len,
    const char **why)
{
	struct cursor c = { p, n, 0 };
	size_t vlen = strlen(SPOOL_VERSION_LINE), cap = count_rcpts(p, n);
	char *line = malloc(SPOOL_LINE_MAX);
	mx_err err = MX_ERR_CORRUPT;

	e->rcpts = calloc(cap, sizeof(*e->rcpts));
	if (line == NULL || e->rcpts == NULL) {
		*why = "out of memory";
		err = MX_ERR_NOMEM;
		goto out;
	}
	*why = "not a spool file of version 1 (bad first line)";
	if (n < vlen + 1 || memcmp(p, SPOOL_VERSION_LINE "\n", vlen + 1) != 0)
		goto out;
	if (parse_head(&c, line, id, e, why) && parse_rcpts(&c, line, e, cap, len, why))
		err = MX_OK;
out:
	free(line);
	return err;
}

/* n octets of fd from off: how many (fewer only at the end of the file),
 * -1 with errno on a read error. */
static ssize_t
pread_full(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Where the header ends: just past the first line that starts with
 * "data " (reasons are escaped and addresses have no LF, so no other
 * header line can), or 0 when n octets hold no such whole line. */
static size_t
header_end(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		if (lf == NULL)
			return 0;
		if (n - i >= 5 && memcmp(p + i, "data ", 5) == 0)
			return (size_t)(lf - p) + 1;
		i = (size_t)(lf - p) + 1;
	}
	return 0;
}

/* The header of the file in *out (*len octets), read in doubling pieces:
 * never more of the file than the header and as much again. */
static mx_err
read_header(int fd, uint8_t **out, size_t *len, const char **why)
{
	size_t cap = 4096, have = 0;
	uint8_t *buf = NULL, *grown;
	ssize_t r;

	for (;;) {
		if ((grown = realloc(buf, cap)) == NULL) {
			free(buf);
			*why = "out of memory";
			return MX_ERR_NOMEM;
		}
		buf = grown;
		if ((r = pread_full(fd, buf + have, cap - have, (off_t)have)) < 0) {
			free(buf);
			*why = "reading the entry failed";
			return MX_ERR_SYSTEM;
		}
		have += (size_t)r;
		if ((*len = header_end(buf, have)) > 0)
			break;
		if (have < cap || cap >= SPOOL_HEADER_MAX) {
			free(buf);
			*why = "truncated, or not a spool file: no data line";
			return MX_ERR_CORRUPT;
		}
		cap *= 2;
	}
	*out = buf;
	return MX_OK;
}

/*
 * len octets of data from fd at off, a piece at a time, into dst (all of
 * it, when the caller keeps it) or else through one PAYLOAD_CHUNK buffer
 * shown to see; the CRC-32 carried on in *crc.
 */
static mx_err
stream_data(int fd, off_t off, size_t len, uint8_t *dst, spool_see_fn *see, void *arg,
    uint32_t *crc, const char **why)
{
	uint8_t *chunk = dst != NULL ? NULL : malloc(PAYLOAD_CHUNK);
	size_t pos = 0;
	mx_err err = MX_ERR_NOMEM;

	*why = "out of memory";
	if (dst == NULL && chunk == NULL)
		return MX_ERR_NOMEM;
	while (pos < len) {
		size_t n = len - pos < PAYLOAD_CHUNK ? len - pos : PAYLOAD_CHUNK;
		uint8_t *buf = dst != NULL ? dst + pos : chunk;
		ssize_t r = pread_full(fd, buf, n, off + (off_t)pos);
		err = r < 0 ? MX_ERR_SYSTEM : MX_ERR_CORRUPT;
		*why = r < 0 ? "reading the entry failed" : "truncated: the file ends in the data";
		if (r < 0 || (size_t)r < n)
			goto out;
		*crc = crc32_update(*crc, buf, n);
		if (see != NULL)
			see(buf, n, arg);
		pos += n;
	}
	err = MX_OK;
out:
	free(chunk);
	return err;
}

/* The LF after the data and the end line, which must hold *crc (the
 * CRC-32 of all before it). */
static mx_err
check_trailer(int fd, off_t off, uint32_t *crc, const char **why)
{
	uint8_t t[1 + SPOOL_END_LEN];
	char want[SPOOL_END_LEN + 1];
	ssize_t r = pread_full(fd, t, sizeof(t), off);

	if (r < 0) {
		*why = "reading the entry failed";
		return MX_ERR_SYSTEM;
	}
	*why = "the data length does not match the file";
	if ((size_t)r < sizeof(t) || t[0] != '\n')
		return MX_ERR_CORRUPT;
	*crc = crc32_update(*crc, t, 1);
	snprintf(want, sizeof(want), "end %08" PRIx32 "\n", *crc);
	*why = "CRC-32 mismatch: the file is corrupt";
	return memcmp(t + 1, want, SPOOL_END_LEN) == 0 ? MX_OK : MX_ERR_CORRUPT;
}

/* queue/ID opened to read: a regular file only, never a symlink. */
static mx_err
open_entry(struct spool *sp, const char *id, int *fd, uint64_t *size, const char **why)
{
	struct stat st;

	*fd = openat(sp->queue_fd, id, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	*why = "cannot open the entry in queue/ (missing, or a symlink)";
	if (*fd < 0)
		return open_failure(sp);
	*why = "the entry is not a regular file";
	if (fstat(*fd, &st) != 0)
		return MX_ERR_SYSTEM;
	if (!S_ISREG(st.st_mode))
		return MX_ERR_NOT_FOUND;
	*why = "the entry is larger than any spool file can be";
	if ((uint64_t)st.st_size > SPOOL_DATA_MAX + (uint64_t)SPOOL_HEADER_MAX + 64)
		return MX_ERR_SYSTEM;
	*size = (uint64_t)st.st_size;
	return MX_OK;
}

/* What of an entry a load reads: all of it into memory (spool_load), all
 * of it checked with the file kept (spool_load_head), or the header only
 * (spool_load_schedule). */
enum load_mode { LOAD_WHOLE, LOAD_STREAM, LOAD_HEADER };

/*
 * Reads and checks the open file into e: the header parsed, then (but
 * for LOAD_HEADER) the data (into e->data when whole, else only seen),
 * then the CRC-32.
 * *src gets what e->src needs when the file is kept.
 */
static mx_err
read_entry(int fd, uint64_t size, const char *id, enum load_mode mode, spool_see_fn *see, void *arg,
    struct spool_entry *e, struct spool_source *src, const char **why)
{
	bool whole = mode == LOAD_WHOLE;
	uint8_t *head = NULL;
	size_t head_len = 0;
	uint64_t len = 0;
	uint32_t crc;
	mx_err err;

	if ((err = read_header(fd, &head, &head_len, why)) != MX_OK ||
	    (err = parse_header(head, head_len, id, e, &len, why)) != MX_OK)
		goto out;
	err = MX_ERR_CORRUPT;
	*why = "the data length does not match the file";
	if (size != head_len + len + 1 + SPOOL_END_LEN)
		goto out;
	e->len = len;
	err = MX_OK;
	if (mode == LOAD_HEADER)
		goto out; /* spool_load_schedule: the data is not read */
	err = MX_ERR_NOMEM;
	*why = "out of memory";
	if (whole && (e->data = malloc(len + 1)) == NULL)
		goto out;
	src->crc_head = crc = crc32_update(0, head, head_len);
	src->off = (off_t)head_len;
	if ((err = stream_data(fd, src->off, len, e->data, see, arg, &crc, why)) != MX_OK ||
	    (err = check_trailer(fd, src->off + (off_t)len, &crc, why)) != MX_OK)
		goto out;
	src->crc_end = crc;
	if (whole)
		e->data[len] = '\0';
out:
	free(head);
	return err;
}

/* Moves a bad queue/ID to corrupt/ID, durably as far as it can. */
static void
quarantine(struct spool *sp, const char *id)
{
	if (sp->ops.rename(sp->queue_fd, id, sp->corrupt_fd, id, 0) != 0)
		return;
	sp->ops.fsync(sp->corrupt_fd);
	sp->ops.fsync(sp->queue_fd);
}

/* spool_load, spool_load_head (the file kept) and spool_load_schedule. */
static mx_err
load_entry(struct spool *sp, const char *id, enum load_mode mode, spool_see_fn *see, void *arg,
    struct spool_entry **out, const char **why)
{
	bool keep = mode == LOAD_STREAM;
	struct spool_entry *e = NULL;
	struct spool_source src = { .fd = -1 };
	uint64_t size = 0;
	mx_err err;

	*out = NULL;
	if (!spool_id_valid(id)) {
		*why = "not a valid queue ID";
		return MX_ERR_INVALID;
	}
	if ((err = open_entry(sp, id, &src.fd, &size, why)) != MX_OK)
		goto out;
	err = MX_ERR_NOMEM;
	*why = "out of memory";
	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	if (keep && (e->src = malloc(sizeof(*e->src))) == NULL)
		goto out;
	if (keep)
		*e->src = (struct spool_source){ .fd = -1 };
	if ((err = read_entry(src.fd, size, id, mode, see, arg, e, &src, why)) != MX_OK)
		goto out;
	if (keep) {
		*e->src = src;
		src.fd = -1; /* the entry's now */
	}
	*out = e;
	e = NULL;
	*why = NULL;
out:
	if (err == MX_ERR_CORRUPT)
		quarantine(sp, id);
	if (src.fd >= 0)
		close(src.fd);
	spool_entry_free(e);
	return err;
}

mx_err
spool_load(struct spool *sp, const char *id, struct spool_entry **out, const char **why)
{
	return load_entry(sp, id, LOAD_WHOLE, NULL, NULL, out, why);
}

mx_err
spool_load_schedule(struct spool *sp, const char *id, struct spool_entry **out, const char **why)
{
	return load_entry(sp, id, LOAD_HEADER, NULL, NULL, out, why);
}

mx_err
spool_load_head(struct spool *sp, const char *id, spool_see_fn *see, void *arg,
    struct spool_entry **out, const char **why)
{
	return load_entry(sp, id, LOAD_STREAM, see, arg, out, why);
}

mx_err
spool_entry_read_data(struct spool_entry *e, const char **why)
{
	uint32_t crc;
	uint8_t lf = '\n';
	mx_err err;

	if (e->data != NULL || e->src == NULL)
		return MX_OK;
	if ((e->data = malloc(e->len + 1)) == NULL) {
		*why = "out of memory";
		return MX_ERR_NOMEM;
	}
	crc = e->src->crc_head;
	err = stream_data(e->src->fd, e->src->off, e->len, e->data, NULL, NULL, &crc, why);
	if (err == MX_OK && crc32_update(crc, &lf, 1) != e->src->crc_end) {
		*why = "the entry's data no longer matches its CRC-32";
		err = MX_ERR_CORRUPT;
	}
	if (err != MX_OK) {
		free(e->data);
		e->data = NULL;
		return err;
	}
	e->data[e->len] = '\0';
	return MX_OK;
}

void
spool_entry_payload(const struct spool_entry *e, struct payload *out)
{
	if (e->data != NULL || e->src == NULL)
		*out = (struct payload){ .head = e->data, .head_len = e->len, .fd = -1 };
	else
		*out = (struct payload){ .fd = e->src->fd, .off = e->src->off, .file_len = e->len };
}

void
spool_entry_free(struct spool_entry *e)
{
	if (e == NULL)
		return;
	if (e->src != NULL && e->src->fd >= 0)
		close(e->src->fd);
	free(e->src);
	free(e->rcpts);
	free(e->data);
	free(e);
}

/* ---- scanning and locking ---------------------------------------------- */

/*
 * Why a name in queue/ is not an entry to hand out, or NULL when it is
 * one; *gone when it vanished since readdir (another runner finished it
 * meanwhile).  Decided on fstatat's own result: errno is only read after
 * a call that failed, never left over from an earlier one.
 */
static const char *
scan_judge(int dirfd, const char *name, bool *gone)
{
	struct stat st;

	*gone = false;
	if (!spool_id_valid(name))
		return "the name is not a queue ID";
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		*gone = errno == ENOENT;
		return "it cannot be examined";
	}
	if (!S_ISREG(st.st_mode))
		return "not a regular file (a symlink, directory, FIFO or device)";
	return NULL;
}

mx_err
spool_scan(struct spool *sp, void (*cb)(const char *id, void *arg),
    void (*skipped)(const char *name, const char *why, void *arg), void *arg)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (sp->queue_fd < 0)
		return MX_OK; /* spool_open_existing on a spool without queue/ */
	fd = openat(sp->queue_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return MX_ERR_SYSTEM;
	}
	while ((de = readdir(d)) != NULL) {
		bool gone;
		const char *why;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		why = scan_judge(fd, de->d_name, &gone);
		if (why == NULL)
			cb(de->d_name, arg);
		else if (!gone && skipped != NULL)
			skipped(de->d_name, why, arg);
	}
	closedir(d);
	return MX_OK;
}

/* Whether tmp/name is a dead writer's: old enough and not locked. */
static bool
tmp_abandoned(struct spool *sp, const char *name, unsigned min_age, time_t now)
{
	struct stat st;
	bool dead = false;
	int fd = openat(sp->tmp_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime + (time_t)min_age <= now &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0)
		dead = true;
	close(fd);
	return dead;
}

int
spool_clean_tmp(struct spool *sp, unsigned min_age)
{
	int fd = openat(sp->tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	time_t now = time(NULL);
	int removed = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !tmp_abandoned(sp, de->d_name, min_age, now))
			continue;
		if (sp->ops.unlink(sp->tmp_fd, de->d_name) == 0)
			removed++;
	}
	closedir(d);
	if (removed > 0)
		sp->ops.fsync(sp->tmp_fd);
	return removed;
}

mx_err
spool_lock(struct spool *sp, const char *id, int *fd_out)
{
	struct stat held, now;
	int fd;

	*fd_out = -1;
	if (!spool_id_valid(id))
		return MX_ERR_INVALID;
	fd = openat(sp->queue_fd, id, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return open_failure(sp);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		mx_err err = errno == EWOULDBLOCK ? MX_ERR_LOCKED : MX_ERR_SYSTEM;
		close(fd);
		return err;
	}
	if (fstat(fd, &held) != 0 || !S_ISREG(held.st_mode)) {
		close(fd);
		return MX_ERR_NOT_FOUND;
	}
	/* spool_update may have put a new file in place since we opened it. */
	if (fstatat(sp->queue_fd, id, &now, AT_SYMLINK_NOFOLLOW) != 0 ||
	    held.st_ino != now.st_ino || held.st_dev != now.st_dev) {
		close(fd);
		return MX_ERR_LOCKED;
	}
	*fd_out = fd;
	return MX_OK;
}

void
spool_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
