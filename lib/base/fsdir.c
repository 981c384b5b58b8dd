/*
 * fsdir.c - see fsdir.h.  Owns nothing beyond the descriptor it opens
 * and closes; never creates or changes a directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fsdir.h"

bool
fsdir_sync(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = fd >= 0 && fsync(fd) == 0;
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
	return ok;
}
