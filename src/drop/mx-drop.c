/*
 * mx-drop.c - the set-group-ID (group mxdrop) helper of local submission:
 * the only privileged part of it.  Reads one drop request on standard
 * input, checks it with lib/submit/drop.c's strict parser, and writes the
 * stored form (its own uid/gid/time header, the envelope re-serialized
 * from the parsed struct, the data checked on the way) durably into the
 * drop directory, under a random name, never over anything.  It never
 * reads a file, lists a directory, follows a symlink or takes anything
 * from the environment when it runs elevated; see docs/SECURITY.md.
 * Exit: 0 only after the data and the rename are on disk; 65 malformed
 * request, 75 I/O, 78 bad drop directory; one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "drop.h"

#ifndef MX_SPOOLDIR
#define MX_SPOOLDIR "/var/spool/mx"
#endif
#ifndef MX_USER
#define MX_USER "mx"
#endif
#define NAME_LEN 20

struct job {
	int dirfd, fd;
	char tmp[8 + NAME_LEN + 1], final[NAME_LEN + 1];
	char *buf; /* the request as read so far */
	size_t len, hlen;
	struct drop_request r;
};

#if defined(__SANITIZE_ADDRESS__)
/* Sanitized test builds: LeakSanitizer cannot trace a set-group-ID
 * process (it is not dumpable) and would fail every run; the same code
 * is leak-checked by the unit and fuzz runs.  Compiled in, since the
 * environment is not read when elevated. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("mx-drop: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* 0, 1 and 2 open (on /dev/null when closed, so nothing we open later
 * becomes someone's stdout), everything else closed. */
static bool
sane_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int n = open("/dev/null", O_RDWR);
		if (n != fd)
			return false;
	}
	return close_range(3, ~0u, 0) == 0;
}

static void
sane_signals(void)
{
	sigset_t none;
	struct sigaction dfl = { .sa_handler = SIG_DFL }, ign = { .sa_handler = SIG_IGN };

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &ign, NULL); /* a closed stderr is an EPIPE, not a death */
	sigaction(SIGXFSZ, &ign, NULL); /* RLIMIT_FSIZE is an EFBIG we report */
	sigaction(SIGHUP, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGALRM, &dfl, NULL);
}

/* Elevated: only the compiled-in directory.  Otherwise MX_DROP_DIR may
 * name another (tests, a private spool run by its own user). */
static const char *
drop_dir(bool elevated)
{
	const char *env = elevated ? NULL : getenv("MX_DROP_DIR");

	return env != NULL && env[0] != '\0' ? env : MX_SPOOLDIR "/drop";
}

/* The directory, opened without following a symlink at its last step,
 * and checked: a directory, mode 1730, and when elevated owned by the mx
 * user and the group this program runs as. */
static int
open_dir(struct job *j, bool elevated)
{
	const char *dir = drop_dir(elevated);
	struct stat st;
	struct passwd *pw;

	j->dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (j->dirfd < 0)
		return fail(
		    errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? EX_CONFIG : EX_TEMPFAIL,
		    "cannot open the drop directory %s: %s (run mx setup)", dir, strerror(errno));
	if (fstat(j->dirfd, &st) < 0)
		return fail(EX_TEMPFAIL, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 01730)
		return fail(EX_CONFIG, "%s is not a directory of mode 1730 (run mx setup)", dir);
	if (!elevated)
		return EX_OK;
	if (st.st_gid != getegid())
		return fail(EX_CONFIG, "%s is not of this program's group %u (run mx setup)", dir,
		    (unsigned)getegid());
	if ((pw = getpwnam(MX_USER)) == NULL || st.st_uid != pw->pw_uid)
		return fail(
		    EX_CONFIG, "%s is not owned by the user " MX_USER " (run mx setup)", dir);
	return EX_OK;
}

static bool
random_name(char *out, size_t n)
{
	static const char set[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char b[64];

	if (n > sizeof(b) || getrandom(b, n, 0) != (ssize_t)n)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = set[b[i] % 62];
	out[n] = '\0';
	return true;
}

static ssize_t
read_some(void *buf, size_t n)
{
	ssize_t got;

	while ((got = read(0, buf, n)) < 0 && errno == EINTR)
		;
	return got;
}

/* The header, whole, capped at DROP_HEADER_MAX; then the parse. */
static int
read_header(struct job *j)
{
	char why[256];
	size_t cap = 65536;

	while ((j->hlen = drop_header_end(j->buf, j->len)) == 0) {
		if (j->len >= DROP_HEADER_MAX)
			return fail(
			    EX_DATAERR, "the request header is over %d octets", DROP_HEADER_MAX);
		if (j->len == cap || j->buf == NULL) {
			cap = j->buf == NULL ? cap : cap * 2;
			char *b = realloc(j->buf, cap + 1);
			if (b == NULL)
				return fail(EX_TEMPFAIL, "out of memory");
			j->buf = b;
		}
		ssize_t got = read_some(j->buf + j->len, cap - j->len);
		if (got < 0)
			return fail(EX_TEMPFAIL, "reading the request: %s", strerror(errno));
		if (got == 0)
			return fail(EX_DATAERR, "the request ends before its header does");
		j->len += (size_t)got;
	}
	if (drop_header_parse(j->buf, j->hlen, false, &j->r, &j->hlen, why, sizeof(why)) != MX_OK)
		return fail(EX_DATAERR, "malformed request: %s", why);
	return EX_OK;
}

static int
io_fail(const char *what)
{
	return fail(EX_TEMPFAIL, "%s: %s", what, strerror(errno));
}

static bool
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Data from what was read past the header, then from stdin, exactly
 * r.size octets checked as wire form, and then nothing more. */
static int
copy_data(struct job *j)
{
	struct drop_data_check check = { 0 };
	size_t left = j->r.size, have = j->len - j->hlen;
	char why[256], *p = j->buf + j->hlen, extra;

	while (left > 0 || have > 0) {
		if (have == 0) {
			ssize_t got = read_some(j->buf, left < 65536 ? left : 65536);
			if (got < 0)
				return io_fail("reading the request");
			if (got == 0)
				return fail(
				    EX_DATAERR, "the data is shorter than its size line says");
			p = j->buf;
			have = (size_t)got;
		}
		if (have > left)
			return fail(EX_DATAERR, "the data is longer than its size line says");
		if (drop_data_feed(&check, (uint8_t *)p, have, why, sizeof(why)) != MX_OK)
			return fail(EX_DATAERR, "malformed request: %s", why);
		if (!write_all(j->fd, p, have))
			return io_fail("writing the drop file");
		left -= have;
		have = 0;
	}
	if (drop_data_end(&check, why, sizeof(why)) != MX_OK)
		return fail(EX_DATAERR, "malformed request: %s", why);
	if (read_some(&extra, 1) != 0)
		return fail(EX_DATAERR, "the data is longer than its size line says");
	return EX_OK;
}

/* tmp.NAME, exclusive, never through a symlink, locked while written so
 * that pickup can tell a live writer from a dead one. */
static int
create_tmp(struct job *j)
{
	memcpy(j->tmp, "tmp.", 4);
	if (!random_name(j->tmp + 4, NAME_LEN) || !random_name(j->final, NAME_LEN))
		return io_fail("getrandom");
	j->fd =
	    openat(j->dirfd, j->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (j->fd < 0) {
		j->tmp[0] = '\0';
		return io_fail("creating a file in the drop directory");
	}
	if (flock(j->fd, LOCK_EX) < 0 || fchmod(j->fd, 0640) < 0)
		return io_fail("preparing the drop file");
	return EX_OK;
}

static int
write_stored(struct job *j)
{
	struct drop_request st = j->r;
	char why[256], *head = NULL;
	size_t hlen;
	int rc;

	st.stored = true;
	st.uid = getuid();
	st.gid = getgid();
	st.time = time(NULL);
	if (drop_header_format(&st, j->r.size, &head, &hlen, why, sizeof(why)) != MX_OK)
		return fail(EX_DATAERR, "malformed request: %s", why);
	rc = write_all(j->fd, head, hlen) ? copy_data(j) : io_fail("writing the drop file");
	free(head);
	return rc;
}

/* fsync, rename to the final name (never over one), and make the rename
 * durable: syncfs on the file's filesystem, since the group may not open
 * the directory for reading to fsync it (docs/SECURITY.md). */
static int
commit(struct job *j)
{
	if (fsync(j->fd) < 0)
		return io_fail("fsync of the drop file");
	if (renameat2(j->dirfd, j->tmp, j->dirfd, j->final, RENAME_NOREPLACE) < 0)
		return io_fail("renaming the drop file");
	j->tmp[0] = '\0';
	if (syncfs(j->fd) < 0) {
		int rc = io_fail("syncing the drop directory");
		unlinkat(j->dirfd, j->final, 0);
		return rc;
	}
	return EX_OK;
}

int
main(int argc, char **argv)
{
	struct job j = { .dirfd = -1, .fd = -1 };
	bool elevated = getauxval(AT_SECURE) != 0;
	int rc;

	if (!sane_fds())
		return EX_OSERR;
	umask(027); /* the file is born 0640: no window in which pickup cannot open it */
	sane_signals();
	if (argc == 2 && strcmp(argv[1], "-V") == 0) {
		printf("mx-drop %s\n", mx_version(NULL));
		return EX_OK;
	}
	if (argc != 1)
		return fail(
		    EX_USAGE, "takes no arguments but -V; it reads a drop request on stdin");
	if ((rc = open_dir(&j, elevated)) == EX_OK && (rc = read_header(&j)) == EX_OK &&
	    (rc = create_tmp(&j)) == EX_OK && (rc = write_stored(&j)) == EX_OK)
		rc = commit(&j);
	if (j.tmp[0] != '\0' && j.tmp[4] != '\0')
		unlinkat(j.dirfd, j.tmp, 0);
	drop_request_clear(&j.r);
	free(j.buf);
	return rc;
}
