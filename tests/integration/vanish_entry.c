/*
 * vanish_entry.c - a fault for test_queue.py, preloaded into `mx queue
 * run`: the first time the process examines a queue entry with fstatat
 * (the spool scan does, right after readdir named it), the entry is
 * removed just before, as another runner that finished it would, so the
 * scan sees it vanish.  The removed name is written to the file named by
 * VANISH_LOG.  Everything else goes to the real fstatat.  Test-only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT, fstatat64 */
#endif
/* Both names are defined here: the build's _FILE_OFFSET_BITS=64 would make
 * the header rename fstatat to fstatat64 and the two definitions clash. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_MIN 10 /* a queue ID: 10 hex digits of time, then random [0-9A-Za-z] */
#define ID_MAX 32

static bool vanished;

int fstatat(int dirfd, const char *name, struct stat *st, int flags);
int fstatat64(int dirfd, const char *name, struct stat64 *st, int flags);

static bool
is_queue_id(const char *name)
{
	size_t n = strlen(name);

	if (n < ID_MIN || n > ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

/* The first entry examined goes away, and its name goes to VANISH_LOG. */
static void
maybe_vanish(int dirfd, const char *name)
{
	const char *log = getenv("VANISH_LOG");
	int fd;

	if (vanished || dirfd < 0 || !is_queue_id(name) || unlinkat(dirfd, name, 0) != 0)
		return;
	vanished = true;
	if (log == NULL || (fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return;
	if (write(fd, name, strlen(name)) < 0 || write(fd, "\n", 1) < 0)
		unlink(log);
	close(fd);
}

int
fstatat(int dirfd, const char *name, struct stat *st, int flags)
{
	int (*real)(int, const char *, struct stat *, int);

	*(void **)&real = dlsym(RTLD_NEXT, "fstatat");
	maybe_vanish(dirfd, name);
	return real(dirfd, name, st, flags);
}

int
fstatat64(int dirfd, const char *name, struct stat64 *st, int flags)
{
	int (*real)(int, const char *, struct stat64 *, int);

	*(void **)&real = dlsym(RTLD_NEXT, "fstatat64");
	maybe_vanish(dirfd, name);
	return real(dirfd, name, st, flags);
}
