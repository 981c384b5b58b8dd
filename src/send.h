/*
 * send.h - `mx send` and `sendmail` (send.c), for main.c to dispatch to.
 */
#ifndef MX_SRC_SEND_H
#define MX_SRC_SEND_H

int cmd_send(int argc, char **argv);

#endif
