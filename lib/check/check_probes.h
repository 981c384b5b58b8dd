/*
 * check_probes.h - SMTP probes through a cache shared by many checks
 * (mx_check_probes, see check_probes.c).  With no cache, a plain probe.
 */
#ifndef MX_CHECK_PROBES_H
#define MX_CHECK_PROBES_H

#include "check_state.h"

struct shared_probe;
/* complete: every results[i] is filled (false when a probe another check
 * ran for us was cancelled: then some are not). */
typedef void (*shared_probe_cb)(bool complete, void *arg);

/* results[i] answers targets[i]; results is borrowed until the callback
 * or the cancel, targets only during the call (n <= LIVE_PROBES_MAX). */
mx_err shared_probe_start(struct mx_check_probes *cache, struct event_base *base,
    const struct probe_config *cfg, const struct probe_target *targets, size_t n,
    struct probe_result *results, shared_probe_cb cb, void *arg, struct shared_probe **out);
/* The callback will not run; NULL is a no-op. */
void shared_probe_cancel(struct shared_probe *sp);

#endif
