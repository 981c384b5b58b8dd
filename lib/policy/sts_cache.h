/*
 * sts_cache.h - the durable MTA-STS policy cache (RFC 8461 5.1): one file
 * per policy domain under DIR/policy/, written tmp + fsync + rename + dir
 * fsync so a crash leaves the old policy or the new one, never half.  The
 * file format is text, read back by a strict parser (sts_cache_parse, pure,
 * fuzzed by fuzz/fuzz_sts_cache.c) that refuses anything it did not write:
 *
 *   mx-mta-sts-cache 1\n
 *   domain DOMAIN\n
 *   id ID\n                   the _mta-sts TXT id the policy was fetched under
 *   fetched UNIX-SECONDS\n
 *   expires UNIX-SECONDS\n    fetched + the policy's max_age
 *   body LENGTH\n
 *   LENGTH octets: the policy file as fetched (parsed again on every read)
 *
 * Ownership: the caller owns every struct (sts_cached is large: heap it).
 */
#ifndef MX_STS_CACHE_H
#define MX_STS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "https_get.h"
#include "mx.h"
#include "records.h"

#define STS_CACHE_MAGIC       "mx-mta-sts-cache 1"
#define STS_CACHE_ENTRIES_MAX 4096 /* files kept under DIR/policy (expired ones go first) */
#define STS_ID_MAX            32   /* RFC 8461 3.1: 1*32(ALPHA / DIGIT) */

struct sts_cached {
	char domain[MX_DOMAIN_MAX + 1];
	char id[STS_ID_MAX + 1];
	int64_t fetched, expires;
	size_t body_len;
	char body[HTTPS_GET_BODY_MAX + 1]; /* NUL-terminated too */
	struct mta_sts_policy policy;      /* body, parsed */
};

/* Pure: 0 and *out filled when data is a whole, valid cache file, else -1
 * (out's contents are then unspecified).  Expiry is the caller's to judge. */
int sts_cache_parse(const char *data, size_t len, struct sts_cached *out);
/* The file's text for e (heap, *len octets); MX_ERR_INVALID for a field the
 * parser would refuse, MX_ERR_NOMEM. */
mx_err sts_cache_format(const struct sts_cached *e, char **out, size_t *len);
/* Whether domain may name a cache file (a canonical host name: no '/', no
 * leading dot, no "..").  Also used for the TLS-RPT store. */
bool sts_file_name_ok(const char *domain);

/* DIR/policy/DOMAIN into *out: MX_OK; MX_ERR_SYSTEM when there is none or
 * it cannot be read; MX_ERR_BAD_DOMAIN when it is not a valid cache file
 * (or is another domain's).  Expired entries load too. */
mx_err sts_cache_load(const char *dir, const char *domain, struct sts_cached *out);
/* Writes e durably; creates DIR/policy (0700) when missing.  When the
 * directory holds STS_CACHE_ENTRIES_MAX files, expired ones are removed
 * first, and a new domain is not cached if none was (MX_ERR_SYSTEM). */
mx_err sts_cache_store(const char *dir, const struct sts_cached *e, int64_t now);
/* DIRPATH/NAME replaced by data: a temporary file, fsync, rename, the
 * directory fsync'd.  MX_ERR_SYSTEM with errno when the OS refused. */
mx_err sts_write_durably(const char *dirpath, const char *name, const char *data, size_t len);

#endif
