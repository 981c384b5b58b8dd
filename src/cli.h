/*
 * cli.h - the helpers every subcommand of `mx` shares (cli.c): messages
 * and option values.  The CLI prints; the library never does.  The
 * subcommands' entry points are in their own headers (route.h, send.h,
 * queue.h, check.h), for main.c: a subcommand never calls main.c.
 */
#ifndef MX_CLI_H
#define MX_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "mx.h"

/* --shard K/N of the bulk commands: n 0 when not given. */
struct cli_shard {
	unsigned long k, n;
};

/* "mx route: ..." on stderr. */
void cli_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A whole number in [min, max]; false on anything else. */
bool cli_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* Seconds, possibly fractional ("0.5"), as milliseconds in [1, max_ms]. */
bool cli_parse_seconds(const char *s, unsigned max_ms, unsigned *out_ms);
/* "K/N" with 1 <= K <= N <= 1000000. */
bool cli_parse_shard(const char *s, struct cli_shard *out);
/* Whether key (a canonical domain, or a bad line's text) falls in the shard:
 * FNV-1a 64 of its bytes, modulo n, is k - 1.  Always true without --shard. */
bool cli_shard_mine(const struct cli_shard *shard, const char *key);
/* One CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
void cli_csv_field(FILE *to, const char *text, bool last);
/* The last cli_warn message (for --plugin's status line), "" if none. */
const char *cli_last_warning(void);
/* sysexits(3) code for a library error, by its class: temporary 75,
 * permanent 65, usage 64, configuration 78, not found 66. */
int cli_exit_for(mx_err err);

#endif
