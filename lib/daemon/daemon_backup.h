/*
 * daemon_backup.h - the daemon's backup domains (see daemon_backup.c):
 * the probe timer, started and stopped with the run.
 */
#ifndef MX_DAEMON_BACKUP_H
#define MX_DAEMON_BACKUP_H

#include "daemon_state.h"

mx_err backup_start(mx_daemon *d);
void backup_stop(mx_daemon *d);

#endif
