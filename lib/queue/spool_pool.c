/*
 * spool_pool.c - see spool_pool.h.  The names are "free." and 16 hex
 * digits of a counter that starts at random, so that two removers (two
 * processes) never pick the same name; renameat2's RENAME_NOREPLACE makes
 * sure of it where the kernel has it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool_pool.h"

#define POOL_PREFIX  "free."
#define POOL_LOOK_MS 20

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* renameat2 without replacing, or plain renameat where it is missing
 * (the names are unique by their counter anyway). */
static int
rename_new(int from_fd, const char *from, int to_fd, const char *to)
{
	if (renameat2(from_fd, from, to_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	return renameat(from_fd, from, to_fd, to);
}

bool
spool_pool_put(
    struct spool_pool *p, int queue_fd, int tmp_fd, const char *id, char evicted[SPOOL_POOL_NAME])
{
	char name[SPOOL_POOL_NAME];

	evicted[0] = '\0';
	if (p->put == NULL && (p->put = calloc(SPOOL_POOL_MAX + 1, sizeof(*p->put))) == NULL)
		return false;
	if (p->seq == 0 && getrandom(&p->seq, sizeof(p->seq), 0) != (ssize_t)sizeof(p->seq))
		p->seq = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	snprintf(name, sizeof(name), POOL_PREFIX "%016" PRIx64, p->seq++);
	if (rename_new(queue_fd, id, tmp_fd, name) != 0)
		return false;
	memcpy(p->put[(p->first_put + p->n_put) % (SPOOL_POOL_MAX + 1)], name, sizeof(name));
	if (++p->n_put > SPOOL_POOL_MAX) { /* the oldest goes, if nobody took it */
		memcpy(evicted, p->put[p->first_put], SPOOL_POOL_NAME);
		p->first_put = (p->first_put + 1) % (SPOOL_POOL_MAX + 1);
		p->n_put--;
	}
	return true;
}

/* The free names in tmp/, up to SPOOL_POOL_MAX. */
static void
look(struct spool_pool *p, int tmp_fd)
{
	int fd = openat(tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	p->looked_ms = mono_ms();
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (p->n_found < SPOOL_POOL_MAX && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, POOL_PREFIX, sizeof(POOL_PREFIX) - 1) == 0 &&
		    strlen(de->d_name) < SPOOL_POOL_NAME)
			memcpy(p->found[p->n_found++], de->d_name, strlen(de->d_name) + 1);
	closedir(d);
}

/* tmp/name, just renamed from the pool, as a file to write over: a plain
 * file of ours, with no other name, that nobody holds locked. */
static int
open_taken(int tmp_fd, const char *name)
{
	struct stat st;
	int fd = openat(tmp_fd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		goto refuse;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    flock(fd, LOCK_EX | LOCK_NB) != 0)
		goto refuse;
	return fd;
refuse:
	if (fd >= 0)
		close(fd);
	unlinkat(tmp_fd, name, 0);
	return -1;
}

int
spool_pool_take(struct spool_pool *p, int tmp_fd, const char *name)
{
	if (p->found == NULL && (p->found = calloc(SPOOL_POOL_MAX, sizeof(*p->found))) == NULL)
		return -1;
	if (p->n_found == 0 && mono_ms() - p->looked_ms >= POOL_LOOK_MS)
		look(p, tmp_fd);
	while (p->n_found > 0) {
		const char *free_name = p->found[--p->n_found];

		if (rename_new(tmp_fd, free_name, tmp_fd, name) == 0)
			return open_taken(tmp_fd, name);
		/* Taken by another, or unlinked as evicted: the next one. */
	}
	return -1;
}

void
spool_pool_free(struct spool_pool *p)
{
	free(p->put);
	free(p->found);
	memset(p, 0, sizeof(*p));
}
