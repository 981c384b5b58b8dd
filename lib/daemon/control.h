/*
 * control.h - the daemon's control socket (DIR/control, a UNIX stream
 * socket, mode 0600): one line in ("status", "flush"), a text reply out,
 * then the connection closes.  The server runs on the caller's event
 * loop and never interprets a command: the handler does.  Also the client
 * side that `mx daemon status` and `mx queue flush` use.
 */
#ifndef MX_CONTROL_H
#define MX_CONTROL_H

#include "mx.h"

struct event_base;
struct control;

/* The socket lives in the spool's private/ (0700, the daemon's user), as
 * Postfix keeps its sockets in private/: the spool directory itself is
 * root's, and nobody but the daemon's user (and root) may talk to it. */
#define CONTROL_DIR       "private"
#define CONTROL_NAME      CONTROL_DIR "/control"
#define CONTROL_LINE_MAX  64
#define CONTROL_REPLY_MAX (1u << 20)

/* Returns the reply to command (malloc'd; NULL: out of memory). */
typedef char *(*control_handler)(const char *command, void *arg);

/* Binds DIR/control (a stale socket left by a dead daemon is replaced;
 * one a live daemon answers on is MX_ERR_BUSY). */
mx_err control_listen(struct event_base *base, const char *dir, control_handler fn, void *arg,
    struct control **out, char *why, size_t why_size);
void control_close(struct control *c); /* NULL is a no-op; unlinks the socket */

/* The client: command to DIR/control, the reply (free()) in *reply. */
mx_err control_request(const char *dir, const char *command, char **reply);

#endif
