/*
 * daemon_tlsrpt.h - daemon_tlsrpt.c's functions for daemon_run.c: the
 * daily TLS-RPT timer armed for a run and ended with it, and freed with
 * the daemon.  mx_daemon_set_tlsrpt (mx.h) configures it.
 */
#ifndef MX_DAEMON_TLSRPT_H
#define MX_DAEMON_TLSRPT_H

#include "daemon_state.h"

/* Arms the timer when reports are configured; MX_ERR_NOMEM. */
mx_err daemon_tlsrpt_start(mx_daemon *d);
/* Ends the timer and a run under way (what it queued stays queued). */
void daemon_tlsrpt_stop(mx_daemon *d);
void daemon_tlsrpt_free(mx_daemon *d);

#endif
