/*
 * fsdir.h - making a directory's entries durable: the fsync of a
 * directory by path, after a file was renamed into it (the rename itself
 * is durable only once its directory is).  Shared by the files that are
 * written with tmp + fsync + rename outside the spool (the MTA-STS
 * policy cache, the backup MX's verification answers).
 */
#ifndef MX_FSDIR_H
#define MX_FSDIR_H

#include <stdbool.h>

/* Opens path as a directory and fsyncs it; false with errno when not. */
bool fsdir_sync(const char *path);

#endif
