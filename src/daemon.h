/*
 * daemon.h - `mx daemon` (daemon.c), for main.c to dispatch to.
 */
#ifndef MX_SRC_DAEMON_H
#define MX_SRC_DAEMON_H

int cmd_daemon(int argc, char **argv);

#endif
