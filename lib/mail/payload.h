/*
 * payload.h - the DATA payload of one message as delivery and the spool
 * carry it: a few octets in memory (header fields added on submission, or
 * a whole small message) followed by a span of a file (the message as
 * read, in wire form: CRLF lines, dot-stuffed).  Read in bounded pieces
 * with pread, so a message of any size costs the same memory.  No
 * network, no printing.
 */
#ifndef MX_PAYLOAD_H
#define MX_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mx.h"

#define PAYLOAD_CHUNK 65536 /* octets read or written at a time */

struct payload {
	uint8_t *head; /* owned; head_len octets, sent first */
	size_t head_len;
	int fd;          /* owned (a dup of the caller's); -1: no file part */
	off_t off;       /* where the file part starts */
	size_t file_len; /* octets of the file part */
};

/*
 * Fills p with a copy of head and a dup of fd (when fd >= 0), so the
 * caller keeps its own; MX_ERR_NOMEM or MX_ERR_SYSTEM when either fails
 * (p is then empty).  Free with payload_clear.
 */
mx_err payload_init(
    struct payload *p, const uint8_t *head, size_t head_len, int fd, off_t off, size_t file_len);
void payload_clear(struct payload *p); /* an empty payload is a no-op */
size_t payload_len(const struct payload *p);

/*
 * Copies up to n octets from position pos of the payload to buf: how
 * many (0 at the end), or -1 with errno set when the file cannot be read
 * or ends early (EIO).
 */
ssize_t payload_read(const struct payload *p, size_t pos, void *buf, size_t n);

/*
 * A temporary file for a message: unlinked from birth (O_TMPFILE, else
 * mkstemp and unlink) in $TMPDIR or /tmp, mode 0600, open for reading and
 * writing.  -1 with errno when none can be made.
 */
int payload_tmpfile(void);

#endif
