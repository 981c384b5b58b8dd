/*
 * message.h - the message as `mx send` reads it from standard input
 * (RFC 5322, RFC 5321 4.5.2 and 4.5.3.1.6), made ready for DATA before any
 * connection: read whole under a size cap, checked line by line, line
 * ends made CRLF, dot-stuffed, recipients taken from the header for -t.
 * No network, no printing.  The caller frees what message_parse and the
 * message_read functions hand out with message_free.
 */
#ifndef MX_MESSAGE_H
#define MX_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "address.h"

#define MESSAGE_SIZE_DEFAULT   ((size_t)64 << 20) /* cap when none is given: 64 MiB */
#define MESSAGE_SIZE_LIMIT     ((size_t)1 << 30)  /* the largest cap accepted: 1 GiB */
#define MESSAGE_LINE_MAX       998                /* RFC 5322 2.1.1, without the CRLF */
#define MESSAGE_RECIPIENTS_MAX 1000               /* addresses read from To, Cc, Bcc */
#define MESSAGE_WHY_MAX        160

/*
 * Error classes, with the sysexits(3) code `mx send` should exit with
 * (sendmail's own choices).  Only MESSAGE_ERR_NOMEM is temporary.
 */
typedef enum message_err {
	MESSAGE_OK = 0,
	MESSAGE_ERR_MALFORMED, /* the input breaks a rule: EX_DATAERR (65) */
	MESSAGE_ERR_TOO_BIG,   /* over the size cap: EX_DATAERR (65) */
	MESSAGE_ERR_IO,        /* reading failed: EX_IOERR (74) */
	MESSAGE_ERR_NOMEM,     /* out of memory: EX_TEMPFAIL (75) */
	MESSAGE_ERR_INVALID,   /* a bad argument from the caller: EX_SOFTWARE (70) */
} message_err;

/*
 * What went wrong: the class again, the input line (from 1) it is about or
 * 0, and a sentence for people ("line 7 contains a bare carriage return
 * (CR without LF)").  Every failing call fills it when given one.
 */
struct message_error {
	message_err code;
	size_t line;
	char why[MESSAGE_WHY_MAX];
};

/* All zero means: 64 MiB cap, "." ends the input, no -t. */
struct message_options {
	size_t max_size;         /* cap on octets of input (before a "." line); 0: default */
	bool dot_is_content;     /* -i / -oi: a line "." is text, not the end */
	bool extract_recipients; /* -t: addresses from To, Cc, Bcc; Bcc removed */
};

/*
 * A message ready for DATA.  The caller reads the fields and must not
 * change them; message_add_* keep them consistent.
 *
 * data holds the DATA payload: every line ends in CRLF (one is added to a
 * last line without it), a line that begins with "." has another "." in
 * front, no bare CR or LF anywhere, no NUL; the client writes len octets
 * and then ".\r\n" itself.  data[len] is a NUL, so data is a C string too.
 * len is 0 for an empty input (the client then sends ".\r\n" at once).
 *
 * header_len octets at the start of data are the header fields (each with
 * its CRLF); body_offset is where the body begins, after the empty line;
 * both equal len when the input has no empty line (it is all header).
 * When a line that is neither a field nor a folded continuation ends the
 * header (a message with no header at all, say), an empty line is put in
 * front of it, so the result is always a well-formed header and body, and
 * separator_added says so.
 */
struct message {
	char *data;
	size_t len;  /* octets to send */
	size_t size; /* RFC 1870 SIZE=: len without the stuffing dots */
	size_t header_len;
	size_t body_offset;
	bool separator_added;
	bool eight_bit;        /* an octet >= 0x80 somewhere: send BODY=8BITMIME */
	bool eight_bit_header; /* ... in the header: needs SMTPUTF8 (RFC 6532) */
	bool bcc_removed;      /* -t: Bcc fields were taken out */
	/* -t only: each mailbox of To, Cc and Bcc once (address_same), in
	 * header order; bad lists what could not be used, and the caller
	 * should refuse the message if any (sendmail would bounce them). */
	struct address_list recipients;
	/*
	 * A message read by message_read_spooled is in a file: the payload is
	 * then data[0..len) (only the fields message_add_* put in front; ""
	 * at first) followed by file_len octets of fd from offset 0, and
	 * header_len, body_offset and size count both parts.  fd is -1 and
	 * file_len 0 for a message in memory.  The message owns fd.
	 */
	int fd;
	size_t file_len;
	unsigned seen; /* MESSAGE_SEEN_*: fields the input had */
};

#define MESSAGE_SEEN_DATE       1u
#define MESSAGE_SEEN_MESSAGE_ID 2u
#define MESSAGE_SEEN_FROM       4u
#define MESSAGE_FIELD_TEXT_MAX  ((size_t)1 << 20) /* -t: one To, Cc or Bcc field */

/* The octets to send: len, plus file_len for a message in a file. */
size_t message_wire_len(const struct message *m);

/*
 * Makes a message from len octets of input (NULL allowed when len is 0).
 * On MESSAGE_OK *out is the message; otherwise *out is NULL and err (if
 * given) says why.  opt may be NULL for the defaults.
 */
message_err message_parse(const char *in, size_t len, const struct message_options *opt,
    struct message **out, struct message_error *err);

/*
 * A source of input: reads up to n octets into buf and returns how many,
 * 0 at the end, or -1 with errno set.
 */
typedef ssize_t (*message_read_fn)(void *ctx, void *buf, size_t n);

/*
 * Reads the whole message from a source, then message_parse.  Without
 * dot_is_content, reading stops after a line ".", as sendmail does, and
 * the rest of the input is left unread (up to what one read took).  At
 * most the cap plus 3 octets are ever held before the verdict
 * "message larger than N bytes".
 */
message_err message_read(message_read_fn fn, void *ctx, const struct message_options *opt,
    struct message **out, struct message_error *err);
/* The same over a descriptor (read(2), EINTR retried) or a stdio stream. */
message_err message_read_fd(
    int fd, const struct message_options *opt, struct message **out, struct message_error *err);
message_err message_read_file(
    FILE *f, const struct message_options *opt, struct message **out, struct message_error *err);

/*
 * message_read without the message in memory: the payload is written,
 * checked line by line as it streams, to a new unlinked temporary file
 * (payload.h: $TMPDIR or /tmp, mode 0600) that the message then owns.
 * Memory stays the same whatever the size: a read chunk, one line, the
 * -t address fields (each at most MESSAGE_FIELD_TEXT_MAX octets, else
 * MALFORMED) and the addresses found.  The result is the one
 * message_read would give, octet for octet; only the order of verdicts
 * differs for input that is both malformed and over the cap (the first
 * fault met is reported).  MESSAGE_ERR_IO also when the file cannot be
 * made or written (the reason says which).
 */
message_err message_read_spooled(message_read_fn fn, void *ctx, const struct message_options *opt,
    struct message **out, struct message_error *err);
message_err message_read_fd_spooled(
    int fd, const struct message_options *opt, struct message **out, struct message_error *err);

/* Frees the message and what it holds; NULL is a no-op. */
void message_free(struct message *m);

/* Whether the header has a field of this name (case does not matter).
 * For a message in a file, only Date, Message-ID and From are known. */
bool message_has_header(const struct message *m, const char *name);

/*
 * Missing fields, as sendmail and Postfix add them to locally submitted
 * mail; each does nothing when the field is there, and puts a new field
 * at the top of the header otherwise.  Call them after message_parse or
 * message_read, before sending.
 *
 * Date: when, in local time with its numeric offset (RFC 5322 3.3),
 *   English names whatever the locale.
 * Message-ID: <YYYYMMDDhhmmss.RANDOM@host> (UTC time, 64 random bits from
 *   getentropy); host must be a dot-atom (a host name): else INVALID.
 * From: the sender's local@domain; INVALID for the null sender <>.
 */
message_err message_add_date(struct message *m, time_t when, struct message_error *err);
message_err
message_add_message_id(struct message *m, const char *host, time_t when, struct message_error *err);
message_err
message_add_from(struct message *m, const struct address *sender, struct message_error *err);

/*
 * What message_parse found about 8-bit octets, found again in data that
 * is already in wire form (a queued message): eight_bit for BODY=8BITMIME,
 * eight_bit_header (an octet >= 0x80 before the empty line) for SMTPUTF8.
 */
void message_wire_flags(const char *data, size_t len, bool *eight_bit, bool *eight_bit_header);

/*
 * The same a piece at a time, for wire-form data read from a file, with
 * the SIZE of RFC 1870 (the octets without the stuffing dots): start
 * from a zeroed struct, give it every piece in order.
 */
struct wire_scan {
	bool eight_bit, eight_bit_header;
	bool body;         /* the empty line was seen */
	uint8_t last[2];   /* the two octets before the next piece */
	size_t seen, dots; /* octets so far; stuffing dots among them */
};
void message_wire_scan(struct wire_scan *w, const uint8_t *p, size_t n);

#endif
