/*
 * pickup.h - moving stored drop files (written by mx-drop into
 * SPOOLDIR/drop) into the queue: each file is parsed as untrusted,
 * given its Received (with the submitter's uid) and, when due, an
 * X-Authentication-Warning, completed with Date, Message-ID and From,
 * enqueued durably, and only then unlinked.  A bad file goes to
 * corrupt/ with a log line.  No delivery, no network.
 */
#ifndef MX_PICKUP_H
#define MX_PICKUP_H

#include <stddef.h>

#include "mx.h"
#include "spool.h"

#define PICKUP_TMP_AGE 60 /* seconds before an unlocked tmp.* is a dead mx-drop's */

struct pickup_stats {
	size_t picked, corrupt, cleaned, busy, failed;
};

struct aliases;

#define PICKUP_ALIASES_DEFAULT "/etc/aliases"

struct pickup_ctx {
	struct spool *sp;
	const char *spool_dir;         /* borrowed */
	const char *origin;            /* domain for bare names; NULL: the host's FQDN */
	const struct aliases *aliases; /* borrowed; NULL: no alias file, qualification only */
	void (*log)(const char *line, void *arg);
	void *log_arg;
	unsigned tmp_age; /* PICKUP_TMP_AGE unless set */
	struct pickup_stats st;
};

/* One pass over drop/.  MX_OK also when there is no drop/ (nothing to do);
 * MX_ERR_SYSTEM with why when drop/ cannot be read. */
mx_err pickup_run(struct pickup_ctx *c, char *why, size_t why_size);

/* The host's fully qualified name (getaddrinfo AI_CANONNAME on
 * gethostname), else its name; out has size octets. */
void pickup_host_fqdn(char *out, size_t size);

#endif
