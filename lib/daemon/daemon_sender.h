/*
 * daemon_sender.h - daemon_sender.c's functions for daemon.c and
 * daemon_run.c: what deliveries go through (struct dgen), begun and ended
 * with each entry's pass, and SIGHUP's replacements freed once unused.
 */
#ifndef MX_DAEMON_SENDER_H
#define MX_DAEMON_SENDER_H

#include "daemon_state.h"

mx_err daemon_gen_init(mx_daemon *d, mx_sender *sender, mx_resolver *resolver);
/* The event that frees replaced gens (set_up; freed by daemon_gen_clear). */
mx_err daemon_gen_watch(mx_daemon *d);
void daemon_gen_begin(mx_daemon *d, struct dentry *e);
void daemon_gen_end(mx_daemon *d, struct dentry *e);
void daemon_gen_clear(mx_daemon *d);

#endif
