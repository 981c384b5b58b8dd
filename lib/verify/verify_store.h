/*
 * verify_store.h - the answers of recipient verification kept in a file
 * across restarts, as Postfix's verify(8) keeps them in a database: a
 * backup MX restarted while its primary is down still knows which
 * recipients the primary takes.  The file, SPOOL/private/verify.cache,
 * version 1, is text, one answer a line, the oldest first:
 *
 *   mx-verify-cache 1
 *   EXPIRES ANSWER ADDRESS
 *
 * EXPIRES: the answer's end in unix seconds (decimal, no sign, no
 * leading zero), so that a TTL holds across a restart; ANSWER: accepted
 * or refused; ADDRESS: the rest of the line, local@domain in the form
 * the server keeps (address_parse's: the domain in lower case A-labels).
 * Every line ends in LF.  The reader refuses the whole file at the first
 * line it cannot parse: a file it cannot read entirely is not trusted at
 * all.  It never decides what an answer means for a client.
 */
#ifndef MX_VERIFY_STORE_H
#define MX_VERIFY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mx.h"
#include "verify_cache.h"

#define VERIFY_STORE_DIR   "private" /* under the spool: the daemon user's, 0700 */
#define VERIFY_STORE_FILE  "verify.cache"
#define VERIFY_STORE_MAGIC "mx-verify-cache"
/* A line at most, LF excluded: 19 digits, "accepted", 320 octets, spaces. */
#define VERIFY_STORE_LINE_MAX 360

/* What a file read may put into the cache. */
struct verify_store_limits {
	int64_t now; /* unix seconds: what ends by then is dropped */
	/* An answer is never kept longer than this from now (a lowered TTL,
	 * or a file written by hand, is cut down to it). */
	unsigned positive_ttl, negative_ttl;
	/* NULL: every address; else only those it says true of (the
	 * domains this host backs up today). */
	bool (*keep)(const char *addr, void *arg);
	void *arg;
};

struct verify_store_counts {
	size_t kept;    /* in the cache after the read */
	size_t expired; /* ended at now or before */
	size_t dropped; /* of a domain keep() refused */
};

/*
 * Reads a file's text from f into cache (empty).  MX_OK; MX_ERR_CORRUPT
 * with why naming the first line that does not parse and what is wrong
 * with it (the cache then holds the lines before it: throw it away);
 * MX_ERR_SYSTEM on a read error; MX_ERR_NOMEM.
 */
mx_err verify_store_read(FILE *f, const struct verify_store_limits *limits,
    struct verify_cache *cache, struct verify_store_counts *counts, mx_why *why);
/* Writes cache as a file's text to f: the answers not ended at now, in
 * the cache's order, each one the reader takes (*n of them; n may be
 * NULL).  MX_ERR_SYSTEM when f refuses the text. */
mx_err verify_store_write(FILE *f, const struct verify_cache *cache, int64_t now, size_t *n);

/*
 * A new cache of max answers with what SPOOL/private/verify.cache holds.
 * A missing file gives an empty cache and MX_OK.  Otherwise, with why
 * and an empty cache: MX_ERR_CORRUPT for a file that does not parse
 * (renamed verify.cache.bad, kept to be looked at), MX_ERR_CONFIG for
 * one not trusted (a symbolic link, not a regular file of this process's
 * user writable by it alone), MX_ERR_SYSTEM for one that cannot be
 * read.  *out is NULL only on MX_ERR_NOMEM.
 */
mx_err verify_store_load(const char *spool, size_t max, const struct verify_store_limits *limits,
    struct verify_cache **out, struct verify_store_counts *counts, mx_why *why);
/* Writes the file durably (a temporary file, fsync, rename, the
 * directory's fsync; private/ made 0700 when missing): a crash leaves
 * the old file or the new one, never a part.  *n as verify_store_write. */
mx_err verify_store_save(
    const char *spool, const struct verify_cache *cache, int64_t now, size_t *n, mx_why *why);

#endif
