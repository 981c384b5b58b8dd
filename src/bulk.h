/*
 * bulk.h - `mx route --bulk` (bulk.c), which route.c hands its options to
 * when --bulk is given.
 */
#ifndef MX_SRC_BULK_H
#define MX_SRC_BULK_H

#include <stdbool.h>

#include "cli.h"
#include "mx.h"

/* Options of `mx route`, shared with its bulk mode. */
struct route_opts {
	bool json;
	bool bulk;
	bool csv;               /* --bulk: CSV rows instead of JSON lines */
	unsigned concurrency;   /* --bulk: domains in flight; 0 = default */
	struct cli_shard shard; /* --bulk --shard K/N */
	mx_transport transport;
	bool transport_set;
	mx_resolver *resolver;
	mx_policy *policy;
	bool tls_policy;     /* --tls-policy: the MTA-STS policy and its MX matches */
	const char *ca_file; /* --ca-file: trust anchors for the policy fetch */
};

/* `mx route --bulk`: plans for every line of path ("-": stdin). */
int cmd_bulk(struct route_opts *o, const char *path);

#endif
