/*
 * payload.c - a message's DATA payload in memory and in a file, read in
 * bounded pieces (see payload.h).  It owns the copy of the head and the
 * dup of the descriptor; it never writes the file it is given, and never
 * holds more of the file than the caller's buffer.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "payload.h"

mx_err
payload_init(
    struct payload *p, const uint8_t *head, size_t head_len, int fd, off_t off, size_t file_len)
{
	*p = (struct payload){ .fd = -1 };
	if ((p->head = malloc(head_len ? head_len : 1)) == NULL)
		return MX_ERR_NOMEM;
	if (head_len > 0)
		memcpy(p->head, head, head_len);
	p->head_len = head_len;
	if (fd < 0 || file_len == 0)
		return MX_OK;
	if ((p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		payload_clear(p);
		return MX_ERR_SYSTEM;
	}
	p->off = off;
	p->file_len = file_len;
	return MX_OK;
}

void
payload_clear(struct payload *p)
{
	free(p->head);
	if (p->fd >= 0)
		close(p->fd);
	*p = (struct payload){ .fd = -1 };
}

size_t
payload_len(const struct payload *p)
{
	return p->head_len + p->file_len;
}

/* From the file part only; pos is relative to its start. */
static ssize_t
read_file_part(const struct payload *p, size_t pos, uint8_t *buf, size_t n)
{
	ssize_t got;

	if (n > p->file_len - pos)
		n = p->file_len - pos;
	if (n == 0)
		return 0;
	do
		got = pread(p->fd, buf, n, p->off + (off_t)pos);
	while (got < 0 && errno == EINTR);
	if (got == 0) {
		errno = EIO; /* the file is shorter than it was: never send less */
		return -1;
	}
	return got;
}

ssize_t
payload_read(const struct payload *p, size_t pos, void *buf, size_t n)
{
	size_t from_head;

	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	if (pos < p->head_len) {
		from_head = p->head_len - pos < n ? p->head_len - pos : n;
		memcpy(buf, p->head + pos, from_head);
		return (ssize_t)from_head;
	}
	pos -= p->head_len;
	if (pos >= p->file_len)
		return 0;
	return read_file_part(p, pos, buf, n);
}

int
payload_tmpfile(void)
{
	const char *dir = secure_getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
	/* No O_TMPFILE there (an older kernel or file system): the same
	 * thing in two steps; the name exists only between them. */
	if (snprintf(path, sizeof(path), "%s/mx-message.XXXXXX", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return -1;
	unlink(path);
	return fd;
}
