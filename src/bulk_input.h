/*
 * bulk_input.h - what the bulk commands (`mx route --bulk`, `mx check
 * --bulk`) share: reading their list a line at a time, the shard a line
 * belongs to, the progress line on a terminal.  See bulk_input.c.
 */
#ifndef MX_BULK_INPUT_H
#define MX_BULK_INPUT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "cli.h"

#define BULK_LINE_MAX 4096 /* longer lines are reported invalid, not read whole */

struct bulk_input {
	FILE *in;
	const char *path;
	bool eof, read_error;
	unsigned long line_no;
	off_t size; /* of a regular input file, for the ETA */
	off_t consumed;
};

enum bulk_line { BULK_EOF, BULK_BLANK, BULK_TEXT, BULK_OVERLONG };

/* Opens path ("-": standard input); EX_NOINPUT (said) when it cannot. */
int bulk_input_open(struct bulk_input *in, const char *cmd, const char *path);
void bulk_input_close(struct bulk_input *in);
/* The next line into buf: BULK_TEXT with *text its content (blanks and
 * "#" comments stripped), BULK_OVERLONG with *text its first 64 bytes,
 * BULK_BLANK for nothing, BULK_EOF at the end (or a read error). */
enum bulk_line bulk_input_next(struct bulk_input *in, char buf[BULK_LINE_MAX], char **text);
enum bulk_verdict { BULK_SKIP, BULK_INVALID, BULK_START };
/*
 * What to do with a line bulk_input_next gave (BULK_TEXT or BULK_OVERLONG):
 * BULK_SKIP when it is another shard's (the key is the canonical domain,
 * or the text itself when it is not a domain), BULK_INVALID when it is
 * this shard's but not a domain (why->text says what is wrong), BULK_START
 * with the canonical domain in canon.
 */
enum bulk_verdict bulk_classify(const struct cli_shard *shard, enum bulk_line kind,
    const char *text, char canon[MX_DOMAIN_MAX + 1], mx_why *why);

struct bulk_clock {
	double started, last;
	bool on; /* standard error is a terminal */
};

double bulk_now(void);
void bulk_clock_start(struct bulk_clock *c);
/* "\r1234 done, 567/s, 8 errors, ETA 12 s" at most twice a second;
 * final: the last one, and a new line. */
void bulk_progress(struct bulk_clock *c, const struct bulk_input *in, unsigned long done,
    unsigned long errors, bool final);
/* Into a file or a pipe, lines go out in 64 KiB writes. */
void bulk_buffer_stdout(void);

#endif
