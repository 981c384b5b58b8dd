/*
 * tlsrpt_send.h - the TLS-RPT reports of the days that are over, queued
 * (tlsrpt_send.c) as work on the resolver's event loop, for a caller that
 * owns that loop (the daemon); mx_tlsrpt_send_due (mx.h) is the blocking
 * form.  Never delivers: the queue does.
 */
#ifndef MX_TLSRPT_SEND_H
#define MX_TLSRPT_SEND_H

#include <stdint.h>

#include "mx.h"

struct tlsrpt_run;

/* err: MX_OK when every due report was queued or posted; queued: how
 * many were queued (mailto:), posted: how many servers took one (https:);
 * why: what last failed (borrowed for the call). */
typedef void (*tlsrpt_done_fn)(
    mx_err err, unsigned queued, unsigned posted, const mx_why *why, void *arg);

/*
 * Starts the run over dir's store as mx_tlsrpt_send_due describes it (now:
 * the clock that says which days are over; the strings are copied), and
 * also POSTs each report to the https: addresses of the record (RFC 8460
 * 5.4; certificates verified against ca_file, NULL: the system's store).
 * A day is forgotten once every address took it.  done
 * runs once, from the loop, never from inside this call; the run frees
 * itself after it.  MX_ERR_INVALID for a missing argument or a From that
 * is not an address; the resolver must be ready (resolver_ready).
 */
mx_err tlsrpt_send_start(mx_queue *queue, mx_resolver *resolver, const char *dir,
    const char *submitter, const char *from, const char *ca_file, int64_t now, tlsrpt_done_fn done,
    void *arg, struct tlsrpt_run **out);
/* Ends a run early without calling done (NULL: a no-op); what was queued stays. */
void tlsrpt_send_cancel(struct tlsrpt_run *run);

#endif
