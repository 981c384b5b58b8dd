/*
 * check_opts.h - the options of `mx check`, which check.c parses and
 * hands to its bulk mode (check_bulk.c).  Types only.
 */
#ifndef MX_SRC_CHECK_OPTS_H
#define MX_SRC_CHECK_OPTS_H

#include <stdbool.h>

#include "cli.h"
#include "mx.h"

struct check_opts {
	bool json, plugin, csv, bulk;
	bool smtp, no_smtp, smtp_asked;
	const char *zone, *origin, *hostname;
	mx_severity warn_floor, crit_floor; /* -w, -c */
	unsigned concurrency;
	struct cli_shard shard;
	mx_resolver *resolver;
	mx_check *check; /* the model for --bulk's checks */
};

#endif
