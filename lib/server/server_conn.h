/*
 * server_conn.h - one client's connection, from accept to close (see
 * server_conn.c); it frees itself when the session ends.
 */
#ifndef MX_SERVER_CONN_H
#define MX_SERVER_CONN_H

#include <event2/util.h>

#include "server_state.h"

void sconn_accept(mx_server *srv, evutil_socket_t fd, const struct sockaddr *sa, int len);
/* Ends every session still open (the server is being freed): sockets
 * closed, memory freed; a message not yet answered 250 is dropped, as a
 * dropped connection drops it, and the client sends it again. */
void sconn_free_all(mx_server *srv);

#endif
