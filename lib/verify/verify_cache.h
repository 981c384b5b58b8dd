/*
 * verify_cache.h - what the better MX hosts said of recipients, kept in
 * memory until each answer's expiry, at most max answers (the oldest
 * goes first when full).  Pure: the caller gives the time; no I/O.
 */
#ifndef MX_VERIFY_CACHE_H
#define MX_VERIFY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "mx.h"
#include "verify_probe.h"

struct verify_cache;

mx_err verify_cache_new(size_t max, struct verify_cache **out);
void verify_cache_free(struct verify_cache *cache);
/* The answer kept for addr that has not expired at now; VERIFY_UNKNOWN
 * when none (an expired one is dropped). */
enum verify_answer verify_cache_get(struct verify_cache *cache, const char *addr, int64_t now);
/* Keeps (or replaces) addr's answer until expires; false out of memory. */
bool verify_cache_put(
    struct verify_cache *cache, const char *addr, enum verify_answer answer, int64_t expires);
size_t verify_cache_count(const struct verify_cache *cache);

#endif
