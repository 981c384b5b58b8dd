/*
 * sts.h - which MTA-STS policy (RFC 8461) is in force for a mail domain,
 * found on the resolver's event loop: the _mta-sts TXT record, the cached
 * policy (sts_cache.h) when its id still matches and it has not expired,
 * else a fetch (https_get.h) parsed strictly (records.h) and cached.  A
 * fetch that fails keeps an unexpired cached policy in force (RFC 8461
 * 5.1), whatever its id.  It never connects to a mail host and never
 * decides a delivery (lib/deliver does, from the outcome).
 *
 * Ownership: the lookup owns its outcome; sts_lookup_free frees both (and
 * cancels a lookup still running: its callback then never runs).
 */
#ifndef MX_STS_H
#define MX_STS_H

#include <stdbool.h>
#include <stdint.h>

#include "mx.h"
#include "sts_cache.h"

enum sts_mode {
	STS_NO_POLICY = 0, /* none published, none cached, or none usable */
	STS_MODE_NONE,     /* "mode: none": as no policy */
	STS_MODE_TESTING,  /* deliver as without, report failures */
	STS_MODE_ENFORCE,  /* only matching MX hosts, only over PKIX-valid TLS */
};

struct sts_outcome {
	enum sts_mode mode;
	const struct sts_cached *policy; /* NULL with STS_NO_POLICY */
	const char *source;              /* "fetched", "cached", "cached (fetch failed)", "none" */
	char note[400];                  /* one sentence: what was found and why this policy */
	/* RFC 8460 result type when the TXT record promised a policy that could
	 * not be had (sts-policy-fetch-error, sts-policy-invalid,
	 * sts-webpki-invalid); NULL otherwise. */
	const char *fetch_failure;
	char fetch_detail[256];
};

struct sts_lookup;
typedef void (*sts_cb)(struct sts_lookup *lookup, void *arg);

/* dir: the cache directory (NULL: no cache, fetch every time; nothing
 * written); ca_file: trust anchors for the fetch (NULL: the system's).
 * cb runs once, from the loop. */
mx_err sts_lookup_start(mx_resolver *r, const char *domain, const char *dir, const char *ca_file,
    unsigned timeout_ms, int64_t now, sts_cb cb, void *arg, struct sts_lookup **out);
const struct sts_outcome *sts_lookup_outcome(const struct sts_lookup *l);
void sts_lookup_free(struct sts_lookup *l);

/* enforce/testing: whether host matches one of the policy's mx patterns;
 * true without a policy. */
bool sts_host_matches(const struct sts_outcome *o, const char *host);
const char *sts_mode_name(enum sts_mode mode);

/* Pure over a raw DNS reply: how many TXT records of the answer section
 * satisfy is (their strings joined), the first of them copied to out
 * (NUL-terminated, cut to size).  -1 when the reply does not parse. */
int policy_txt_pick(
    const uint8_t *wire, size_t len, bool (*is)(const char *, size_t), char *out, size_t size);
#endif
