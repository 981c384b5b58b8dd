/*
 * daemon.h - `mx daemon` (src/daemon.c), for main.c.
 */
#ifndef MX_SRC_DAEMON_H
#define MX_SRC_DAEMON_H

int cmd_daemon(int argc, char **argv);

#endif
