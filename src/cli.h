/*
 * cli.h - what the subcommands of `mx` share: the entry points and the
 * helpers for messages and option values.  The CLI prints; the library
 * never does.
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

/* Options of `mx route`, shared with its bulk mode. */
struct route_opts {
	bool json;
	bool bulk;
	bool csv;                 /* --bulk: CSV rows instead of JSON lines */
	unsigned concurrency;     /* --bulk: domains in flight; 0 = default */
	struct cli_shard shard;   /* --bulk --shard K/N */
	mx_transport transport;
	bool transport_set;
	mx_resolver *resolver;
	mx_policy *policy;
};

/* Options of `mx check`, shared with its bulk mode (check_bulk.c). */
struct check_opts {
	bool json, plugin, csv, bulk;
	bool smtp, no_smtp, smtp_asked;
	const char *zone, *origin, *hostname;
	mx_severity warn_floor, crit_floor;   /* -w, -c */
	unsigned concurrency;
	struct cli_shard shard;
	mx_resolver *resolver;
	mx_check *check;                      /* the model for --bulk's checks */
};

int cmd_route(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* `mx route --bulk`: plans for every line of path ("-": stdin). */
int cmd_bulk(struct route_opts *o, const char *path);
/* `mx check --bulk`: a check of every line of path ("-": stdin). */
int cmd_check_bulk(struct check_opts *o, const char *path);

/* "mx route: ..." on stderr. */
void cli_warn(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
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
/* sysexits(3) code for a library error. */
int cli_exit_for(mx_err err);

#endif
