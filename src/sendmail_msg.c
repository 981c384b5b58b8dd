/*
 * sendmail_msg.c - what sendmail's modes share: the message read from the
 * caller into a temporary copy with its address fields qualified
 * (rewrite_header), then checked as mx_message_read checks it; and
 * warnings on standard error that -oeq silences.  Never queues or sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "rewrite.h"
#include "sendmail_msg.h"

void
sendmail_warn(const struct sendmail_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o != NULL && o->env.error_mode == 'q')
		return;
	fputs("sendmail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w, n -= (size_t)w;
	}
	return true;
}

static int
temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
	snprintf(path, sizeof(path), "%s/mx-sendmail.XXXXXX", dir);
	if ((fd = mkstemp(path)) >= 0)
		unlink(path);
	return fd;
}

/* Reads up to n octets, until EOF; the count, or -1. */
static ssize_t
read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
		if (memmem(buf, got, "\n\n", 2) || memmem(buf, got, "\n\r\n", 3))
			break;
	}
	return (ssize_t)got;
}

/* The header rewritten, then the rest of fd, into tmp; false on I/O. */
static bool
copy_rewritten(const struct sendmail_opts *o, int fd, int tmp)
{
	char *buf = malloc(REWRITE_HEADER_MAX), *head = NULL;
	size_t head_len, hlen, total = 0;
	ssize_t got = buf ? read_full(fd, buf, REWRITE_HEADER_MAX) : -1;
	bool ok = false;

	if (got < 0 ||
	    rewrite_header(buf, (size_t)got, o->origin, &head, &head_len, &hlen) != MX_OK)
		goto out;
	if (!write_all(tmp, head, head_len) || !write_all(tmp, buf + hlen, (size_t)got - hlen))
		goto out;
	total = (size_t)got;
	while (total <= SENDMAIL_MAX_MESSAGE + 4096) {
		ssize_t r = read(fd, buf, REWRITE_HEADER_MAX);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (!write_all(tmp, buf, (size_t)r))
			goto out;
		total += (size_t)r;
	}
	ok = lseek(tmp, 0, SEEK_SET) == 0;
out:
	free(head);
	free(buf);
	return ok;
}

int
sendmail_read_message(const struct sendmail_opts *o, int fd, unsigned flags, mx_message **out)
{
	int tmp = temp_file();
	mx_why why;
	mx_err err;

	if (tmp < 0 || !copy_rewritten(o, fd, tmp)) {
		sendmail_warn(
		    o, "cannot read the message or write its temporary copy: %s", strerror(errno));
		if (tmp >= 0)
			close(tmp);
		return EX_IOERR;
	}
	err = mx_message_read(tmp, flags, SENDMAIL_MAX_MESSAGE, out, &why);
	close(tmp);
	if (err == MX_OK)
		return EX_OK;
	sendmail_warn(
	    o, "message refused: %s; nothing was queued", why.text[0] ? why.text : "unreadable");
	return err == MX_ERR_SYSTEM ? EX_IOERR : err == MX_ERR_NOMEM ? EX_TEMPFAIL : EX_DATAERR;
}
