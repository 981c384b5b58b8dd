/*
 * server_clients.h - what every part of the server shares: its log line
 * and the count of open sessions per client address (the limit of
 * sessions one address may hold, as Postfix's
 * smtpd_client_connection_count_limit).
 */
#ifndef MX_SERVER_CLIENTS_H
#define MX_SERVER_CLIENTS_H

#include "server_state.h"

void server_log(mx_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Counts one more session of sa's address: false when it already has
 * per_client (nothing is counted then). */
bool clients_add(mx_server *srv, const struct sockaddr *sa);
void clients_remove(mx_server *srv, const struct sockaddr *sa);
void clients_clear(mx_server *srv);

#endif
