/*
 * daemon.h - daemon.c's functions for daemon_run.c: the entries and
 * destinations it keeps, learning an ID, dispatching, the timer, flush,
 * the queue's hooks, and freeing it all.
 */
#ifndef MX_DAEMON_H
#define MX_DAEMON_H

#include "daemon_state.h"

void daemon_log(mx_daemon *d, const char *program, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct dentry *dentry_find(mx_daemon *d, const char *id);
struct ddest *ddest_get(mx_daemon *d, const char *domain);
void daemon_learn(mx_daemon *d, const char *id);
void daemon_dispatch(mx_daemon *d);
void daemon_arm(mx_daemon *d);
void daemon_flush(mx_daemon *d);
bool daemon_waiting(mx_daemon *d, const char *domain);
void daemon_release(mx_daemon *d, const char *domain, const char *why);
void daemon_closed(mx_daemon *d, const char *id);
void daemon_hooks_init(mx_daemon *d);
void daemon_clear(mx_daemon *d);

#endif
