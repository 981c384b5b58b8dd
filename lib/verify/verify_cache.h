/*
 * verify_cache.h - what the better MX hosts said of recipients, kept in
 * memory until each answer's expiry, at most max answers (the oldest
 * goes first when full).  Pure: the caller gives the time; no I/O.
 */
#ifndef MX_VERIFY_CACHE_H
#define MX_VERIFY_CACHE_H

#include <stdbool.h>
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
/* Calls fn for every answer kept, the oldest first (the order a full
 * cache drops them in, so that putting them back in this order keeps
 * it), until fn returns false; expired ones too (the caller has the
 * time).  fn must not change the cache. */
typedef bool (*verify_cache_each_fn)(
    const char *addr, enum verify_answer answer, int64_t expires, void *arg);
void verify_cache_each(const struct verify_cache *cache, verify_cache_each_fn fn, void *arg);

#endif
