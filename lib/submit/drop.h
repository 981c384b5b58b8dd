/*
 * drop.h - the drop request: what `sendmail` pipes to the set-group-ID
 * helper mx-drop, and the stored form mx-drop writes into SPOOLDIR/drop
 * for pickup (docs/SECURITY.md, SUBMIT.md).  The parser is strict and
 * bounded because its input is untrusted on both sides: the request comes
 * from any local user, the stored file from a directory users write into.
 * drop.c does no I/O beyond the fd it is given (drop_request_write, the
 * data check) and the helper it is told to run (drop_submit).  What
 * drop_header_parse fills, the caller frees with drop_request_clear.
 */
#ifndef MX_DROP_H
#define MX_DROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mx.h"
#include "payload.h"

#define DROP_VALUE_MAX    1000                           /* octets of one header value */
#define DROP_RCPT_MAX     1000                           /* rcpt lines in one request */
#define DROP_HEADER_MAX   (DROP_RCPT_MAX * 1010 + 16384) /* octets of the whole header */
#define DROP_SIZE_MAX     ((size_t)1 << 30)              /* octets of data */
#define DROP_MAGIC        "mxdrop 1"
#define DROP_STORED_MAGIC "mxdrop-stored 1"

enum drop_error_mode { /* -oeX; 0 when the request did not say */
	DROP_ERRMODE_NONE = 0,
	DROP_ERRMODE_E = 'e',
	DROP_ERRMODE_M = 'm',
	DROP_ERRMODE_P = 'p',
	DROP_ERRMODE_Q = 'q',
};

enum drop_ret { DROP_RET_NONE = 0, DROP_RET_FULL, DROP_RET_HDRS };         /* -R */
enum drop_body { DROP_BODY_NONE = 0, DROP_BODY_7BIT, DROP_BODY_8BITMIME }; /* -B */

struct drop_request {
	char *sender;    /* owned; "" for <>; NULL: none given (pickup uses LOGIN@ORIGIN) */
	bool sender_set; /* -f or -r was given */
	char *name;      /* owned or NULL: -F full name */
	char **rcpt;     /* owned, rcpt_n entries, each owned */
	size_t rcpt_n;
	char error_mode; /* enum drop_error_mode */
	int ret;         /* enum drop_ret */
	char *envid;     /* owned or NULL: -V */
	char *notify;    /* owned or NULL: -N, as given ("never", "success,delay") */
	int body;        /* enum drop_body */
	size_t size;     /* octets of data after the header */
	uid_t uid;       /* stored form only: the submitter, as mx-drop saw it */
	gid_t gid;
	time_t time;
	bool stored; /* parsed (or to be written) as the stored form */
};

/*
 * Writes r's header (DROP_MAGIC, or the stored magic and uid/gid/time
 * when r->stored), the empty line and then data's payload_len octets to
 * fd.  r->size is ignored: the size written is payload_len(data).  The
 * header is built from the struct (never copied from elsewhere) and is
 * checked as drop_header_parse would check it: MX_ERR_INVALID with why
 * filled when a field would not parse back; MX_ERR_SYSTEM (errno set)
 * when fd cannot be written.
 */
mx_err drop_request_write(
    int fd, const struct drop_request *r, const struct payload *data, char *why, size_t why_size);

/* The header alone, as drop_request_write writes it, with size as the
 * data's size, into a malloc'd buffer (*out, *out_len; the caller frees).
 * mx-drop uses it to write the stored form before it copies the data. */
mx_err drop_header_format(const struct drop_request *r, size_t size, char **out, size_t *out_len,
    char *why, size_t why_size);

/*
 * Parses the header at the start of buf[0..len): stored chooses the entry
 * point (the request refuses uid/gid/time and the stored magic; the
 * stored form requires them right after its magic).  On MX_OK, out is
 * filled and *header_len is the octets up to and including the empty
 * line; out->size octets of data follow.  buf must hold the whole header
 * (read until drop_header_end finds its end, at most DROP_HEADER_MAX).
 * MX_ERR_BAD_DOMAIN with why filled on anything malformed, MX_ERR_NOMEM;
 * out is then empty.
 */
mx_err drop_header_parse(const char *buf, size_t len, bool stored, struct drop_request *out,
    size_t *header_len, char *why, size_t why_size);

void drop_request_clear(struct drop_request *r); /* then all zero; NULL ok */

/* The octets up to and including the first empty line ("\n\n") of
 * buf[0..len), or 0 when there is none yet. */
size_t drop_header_end(const char *buf, size_t len);

/*
 * Checks the wire form of a piece of data while it is copied: CRLF line
 * ends, no NUL, no bare CR or LF, lines of at most 998 octets.  The state
 * carries across pieces; drop_data_end says whether the data ended on a
 * line end.  MX_ERR_BAD_DOMAIN with why filled on the first fault.
 */
struct drop_data_check {
	size_t line_len; /* octets of the current line so far */
	size_t line;     /* from 1 */
	bool cr;         /* the previous octet was a CR */
	uint8_t first;   /* the first octet of the current line */
	uint64_t total;
};
mx_err
drop_data_feed(struct drop_data_check *c, const uint8_t *p, size_t n, char *why, size_t why_size);
mx_err drop_data_end(const struct drop_data_check *c, char *why, size_t why_size);

/*
 * Runs the helper at helper_path (fork and execv, no shell, argv
 * {helper_path, NULL}, an empty environment), writes the request (r with
 * stored false) and data to its standard input, waits for it, and returns
 * its exit status (0: the message is durably in the drop directory;
 * a sysexits code otherwise; 75 EX_TEMPFAIL when it could not be run or
 * was killed; why says what).  Standard output and error of the helper
 * are the caller's.  SIGPIPE is ignored around the write.
 */
int drop_submit(const struct drop_request *r, const struct payload *data, const char *helper_path,
    char *why, size_t why_size);

#endif
