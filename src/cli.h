/*
 * cli.h - the helpers every subcommand of `mx` shares (cli.c): messages
 * and option values.  The CLI prints; the library never does.  The
 * subcommands' entry points are in their own headers (route.h, send.h,
 * queue.h, check.h), for main.c: a subcommand never calls main.c.
 */
#ifndef MX_CLI_H
#define MX_CLI_H

#include <stdbool.h>

#include "mx.h"

/* "mx route: ..." on stderr. */
void cli_warn(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A whole number in [min, max]; false on anything else. */
bool cli_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* Seconds, possibly fractional ("0.5"), as milliseconds in [1, max_ms]. */
bool cli_parse_seconds(const char *s, unsigned max_ms, unsigned *out_ms);
/* sysexits(3) code for a library error, by its class: temporary 75,
 * permanent 65, usage 64, configuration 78, not found 66. */
int cli_exit_for(mx_err err);

#endif
