/*
 * cli.h - what the subcommands of `mx` share: the entry points and the
 * helpers for messages and option values.  The CLI prints; the library
 * never does.
 */
#ifndef MX_CLI_H
#define MX_CLI_H

#include <stdbool.h>

#include "mx.h"

/* Options of `mx route`, shared with its bulk mode. */
struct route_opts {
	bool json;
	bool bulk;
	unsigned concurrency;     /* --bulk: domains in flight; 0 = default */
	mx_transport transport;
	bool transport_set;
	mx_resolver *resolver;
	mx_policy *policy;
};

int cmd_route(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_setup(int argc, char **argv);
/* `mx route --bulk`: plans for every line of path ("-": stdin). */
int cmd_bulk(struct route_opts *o, const char *path);

/* "mx route: ..." on stderr. */
void cli_warn(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A whole number in [min, max]; false on anything else. */
bool cli_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* Seconds, possibly fractional ("0.5"), as milliseconds in [1, max_ms]. */
bool cli_parse_seconds(const char *s, unsigned max_ms, unsigned *out_ms);
/* sysexits(3) code for a library error. */
int cli_exit_for(mx_err err);

#endif
