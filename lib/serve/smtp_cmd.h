/*
 * smtp_cmd.h - the SMTP server's reader (RFC 5321): command lines and the
 * DATA that follows a 354, fed as the bytes arrive, in any pieces.  Lines
 * end with CRLF and nothing else: a CR not followed by LF, or an LF not
 * preceded by CR, anywhere, is a protocol violation the caller must end
 * the session on (SMTP smuggling: "\n.\n", "\r.\r" and their mixtures are
 * never an end of DATA).  The end of DATA is CRLF "." CRLF exactly; a
 * leading dot is removed from every other line.  Pure: no I/O, no
 * allocation (the line lives in the reader).
 */
#ifndef MX_SMTP_CMD_H
#define MX_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_CMD_LINE_MAX      2048 /* octets of a command line, CRLF excluded (Postfix's limit) */
#define SMTP_CMD_DATA_LINE_MAX 998  /* RFC 5322 2.1.1, CRLF excluded */
#define SMTP_CMD_PATH_MAX      320

typedef enum smtp_cmd_event {
	SMTP_CMD_MORE = 0,  /* everything given was taken; feed more */
	SMTP_CMD_LINE,      /* a command line: line[0..len), CRLF removed */
	SMTP_CMD_TOO_LONG,  /* a command line over SMTP_CMD_LINE_MAX, discarded */
	SMTP_CMD_DATA_LINE, /* a line of DATA, dot-unstuffed: line[0..len) */
	SMTP_CMD_DATA_END,  /* the "." line; see data_fault; back to commands */
	SMTP_CMD_BARE,      /* a bare CR or LF (or NUL in a command): end the session */
} smtp_cmd_event;

typedef enum smtp_data_fault {
	SMTP_DATA_OK = 0,
	SMTP_DATA_TOO_BIG,   /* over max_size: reply 552 */
	SMTP_DATA_LINE_LONG, /* a line over 998 octets: reply 554 (or 500) */
	SMTP_DATA_NUL,       /* a NUL octet: reply 554 */
} smtp_data_fault;

struct smtp_cmd {
	char line[SMTP_CMD_LINE_MAX + 1]; /* NUL-terminated at each event */
	size_t len;
	bool in_data;
	bool cr;          /* the previous octet was a CR */
	bool overflow;    /* the current line is over its limit */
	bool nul;         /* the current command line has a NUL */
	bool done;        /* an event was returned: the next octet starts a line */
	bool dead;        /* a bare CR or LF was seen: nothing more is read */
	size_t max_size;  /* DATA: octets allowed (unstuffed, CRLF counted) */
	size_t data_size; /* DATA: octets so far */
	smtp_data_fault data_fault;
};

typedef enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_BDAT,
} smtp_verb;

void smtp_cmd_init(struct smtp_cmd *r);

/* After replying 354: the lines that follow are DATA, up to max_size. */
void smtp_cmd_start_data(struct smtp_cmd *r, size_t max_size);

/*
 * Takes octets of p[0..n) until an event; returns how many it took (the
 * caller feeds the rest again) and sets *ev.  After SMTP_CMD_BARE the
 * reader takes nothing more (returns 0, SMTP_CMD_BARE again).
 */
size_t smtp_cmd_feed(struct smtp_cmd *r, const char *p, size_t n, smtp_cmd_event *ev);

/* The verb of a command line (case does not matter) and where its
 * argument starts (after one blank; "" when none). */
smtp_verb smtp_cmd_verb(const char *line, const char **arg);

/*
 * The path of "FROM:<path> params" (prefix "FROM:") or "TO:<path> ...":
 * prefix matched without case, blanks after the colon allowed (as
 * Postfix), the path within angle brackets copied to path as sent (""
 * for "<>"; a quoted local part keeps its quotes, quoted-pairs and
 * blanks: <"john doe"@b.c>, <"a\">b"@c.d>); *params points after it.
 * false on anything else (a control octet, an unclosed bracket).
 */
bool smtp_cmd_path(
    const char *arg, const char *prefix, char path[SMTP_CMD_PATH_MAX + 1], const char **params);

#endif
