/*
 * send.h - `mx send` (send.c), for main.c to dispatch to, and its
 * delivery in this process for sendmail -odi (sendmail.c).
 */
#ifndef MX_SRC_SEND_H
#define MX_SRC_SEND_H

#include <stddef.h>

#include "mx.h"

int cmd_send(int argc, char **argv);

/* -odi: the message delivered now as `mx send` would (send.c). */
int send_now(int argc, char **argv, mx_message *m, const char *from, const char **rcpts, size_t n);

#endif
