/*
 * smtp_reply.h - an incremental, strict reader of SMTP server replies
 * (RFC 5321 4.2 and 4.5.3.1.5, enhanced status codes RFC 3463 / RFC 2034)
 * and the EHLO extension list.  Pure: bytes in, structures out; it never
 * reads a socket, never waits, never prints.
 *
 * Ownership: the caller owns both structs.  The reader holds heap only
 * while a reply is being read (released by smtp_reply_take or
 * smtp_reply_reader_clear); a taken reply owns its text and lines until
 * smtp_reply_clear.
 */
#ifndef MX_SMTP_REPLY_H
#define MX_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"

/*
 * Hostile-input bounds.  A line counts its code and its CRLF.  RFC 5321
 * 4.5.3.1.5 sets 512 octets, but real servers exceed it in long rejection
 * texts (policy URLs), and refusing such a reply would turn a clear
 * permanent failure into an endless temporary one; 2048 stays small.
 */
#define SMTP_REPLY_LINE_MAX      2048  /* octets in one line, CRLF included */
#define SMTP_REPLY_MAX_LINES     1000  /* lines in one reply */
#define SMTP_REPLY_MAX_OCTETS    65536 /* octets in one reply, all CRLFs included */
#define SMTP_REPLY_ENHANCED_SIZE 16    /* "5.999.999" and its NUL fit */

enum smtp_reply_state {
	SMTP_REPLY_INCOMPLETE = 0, /* more bytes are needed */
	SMTP_REPLY_DONE,           /* a whole reply is ready: smtp_reply_take */
	SMTP_REPLY_ERROR,          /* malformed or over a bound; final */
};

/* One reply, as taken from the reader. */
struct smtp_reply {
	unsigned code;                           /* 200..599, second digit 0..5 */
	char enhanced[SMTP_REPLY_ENHANCED_SIZE]; /* "2.1.5", or "" when none */
	char *text;     /* the lines' texts joined with "\n", NUL-terminated */
	size_t n_lines; /* 1..SMTP_REPLY_MAX_LINES */
	char **lines;   /* n_lines texts, then NULL; one block with its strings */
};

/*
 * The reader.  A plain struct so it can live inside a session; its fields
 * are private to smtp_reply.c (the tests read text_cap to check the
 * memory bound).
 */
struct smtp_reply_reader {
	enum smtp_reply_state state;
	const char *why;     /* ERROR: a static sentence */
	unsigned code;       /* the first line's code, once read */
	unsigned line_code;  /* the current line's digits so far */
	bool last_line;      /* the current line ends the reply */
	bool saw_cr;         /* the last octet was a CR */
	size_t line_octets;  /* octets of the current line so far, CR included */
	size_t reply_octets; /* octets of this reply so far */
	size_t n_lines;      /* complete lines of this reply */
	size_t line_start;   /* where the current line's text starts in text */
	char enhanced[SMTP_REPLY_ENHANCED_SIZE];
	char *text;                /* the texts so far, joined with '\n' */
	size_t text_len, text_cap; /* text_cap <= SMTP_REPLY_MAX_OCTETS */
};

void smtp_reply_reader_init(struct smtp_reply_reader *r);
/* Releases what the reader holds (a partly read reply); init to reuse. */
void smtp_reply_reader_clear(struct smtp_reply_reader *r);

/*
 * Reads bytes as they came from the server; returns how many it consumed.
 * It stops right after the CRLF that ends a reply (DONE), so the rest of
 * data (the next pipelined reply, or what follows "220 Ready to start
 * TLS") stays with the caller; it consumes nothing while DONE, until the
 * reply is taken.  On ERROR the offending octet is counted as consumed
 * (it sits at the returned count minus one) and every later call consumes
 * nothing: the connection cannot be trusted any more.
 *
 * Lines must end with CRLF (RFC 5321 2.3.8).  A bare LF, a bare CR or a
 * NUL anywhere is an ERROR, never a line end or a character: two readers
 * of one stream (a proxy, a log, this client) must never disagree on
 * where a reply ends, or replies and pipelined commands fall out of step.
 * Every other octet, 8-bit and control octets included, is kept in the
 * text as sent: escape it before showing it.
 */
size_t smtp_reply_feed(struct smtp_reply_reader *r, const uint8_t *data, size_t len);
enum smtp_reply_state smtp_reply_state(const struct smtp_reply_reader *r);
/* ERROR: a static sentence saying why; otherwise NULL. */
const char *smtp_reply_why(const struct smtp_reply_reader *r);

/*
 * DONE: moves the reply into *out (release it with smtp_reply_clear) and
 * makes the reader ready for the next reply.  MX_ERR_INVALID when the
 * reader is not DONE; MX_ERR_NOMEM leaves the reader as it was.  *out is
 * zeroed on failure.
 */
mx_err smtp_reply_take(struct smtp_reply_reader *r, struct smtp_reply *out);
/* Frees a taken reply's text and lines and zeroes it; NULL is a no-op. */
void smtp_reply_clear(struct smtp_reply *reply);

bool smtp_reply_positive(const struct smtp_reply *reply);     /* 2yz */
bool smtp_reply_intermediate(const struct smtp_reply *reply); /* 3yz, e.g. 354 */
bool smtp_reply_temporary(const struct smtp_reply *reply);    /* 4yz */
bool smtp_reply_permanent(const struct smtp_reply *reply);    /* 5yz */

/* What an EHLO reply offers (RFC 5321 4.1.1.1; keywords case-insensitive). */
struct smtp_ehlo {
	bool pipelining;          /* RFC 2920 */
	bool eightbitmime;        /* RFC 6152 */
	bool smtputf8;            /* RFC 6531 */
	bool starttls;            /* RFC 3207 */
	bool enhancedstatuscodes; /* RFC 2034 */
	bool chunking;            /* RFC 3030 */
	bool has_size;            /* RFC 1870 */
	uint64_t size;            /* 0: no limit given, or a param not 1*20DIGIT */
};

/*
 * Reads the extension lines (all but the first) of a 250 reply into *out.
 * Returns false, with *out all clear, for any other code.  A line whose
 * keyword is not RFC 5321 syntax ("AUTH=LOGIN") is ignored; the first
 * SIZE line counts.
 */
bool smtp_ehlo_parse(const struct smtp_reply *reply, struct smtp_ehlo *out);

#endif
