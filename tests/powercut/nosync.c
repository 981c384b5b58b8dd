/*
 * nosync.c - the power-cut harness's negative control, preloaded into the
 * writers: fsync, fdatasync, syncfs, sync_file_range and sync succeed
 * without doing anything, as on a disk that lies about its cache.  A
 * spool written this way must lose acknowledged mail when the power goes;
 * if the harness sees no loss with it, the harness cannot see a loss at
 * all.  Test-only; never built into mx.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syncfs, sync_file_range */
#endif
#include <fcntl.h>
#include <unistd.h>

int
fsync(int fd)
{
	(void)fd;
	return 0;
}

int
fdatasync(int fd)
{
	(void)fd;
	return 0;
}

int
syncfs(int fd)
{
	(void)fd;
	return 0;
}

int
sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags)
{
	(void)fd, (void)offset, (void)nbytes, (void)flags;
	return 0;
}

void
sync(void)
{
}
