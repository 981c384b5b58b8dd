/*
 * server_clients.c - the server's log line and its sessions per client
 * address (a hash of addresses; an entry lives while its address has a
 * session).  No sockets, no files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_clients.h"

void
server_log(mx_server *srv, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (srv->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	srv->log("smtpd", line, srv->log_arg);
}

static int
key_of(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return AF_INET;
	}
	memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	return AF_INET6;
}

static size_t
bucket(const uint8_t k[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % SERVER_CLIENT_BUCKETS;
}

static struct client_count **
find(mx_server *srv, const struct sockaddr *sa, int *family, uint8_t k[16])
{
	struct client_count **pp;

	*family = key_of(sa, k);
	for (pp = &srv->clients[bucket(k)]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->family == *family && memcmp((*pp)->addr, k, 16) == 0)
			break;
	return pp;
}

bool
clients_add(mx_server *srv, const struct sockaddr *sa)
{
	uint8_t k[16];
	int family;
	struct client_count **pp = find(srv, sa, &family, k);

	if (*pp == NULL) {
		if ((*pp = calloc(1, sizeof(**pp))) == NULL)
			return false;
		(*pp)->family = family;
		memcpy((*pp)->addr, k, 16);
	}
	if ((*pp)->n >= srv->per_client)
		return false;
	(*pp)->n++;
	return true;
}

void
clients_remove(mx_server *srv, const struct sockaddr *sa)
{
	uint8_t k[16];
	int family;
	struct client_count **pp = find(srv, sa, &family, k), *c = *pp;

	if (c == NULL)
		return;
	if (c->n > 0)
		c->n--;
	if (c->n == 0) {
		*pp = c->next;
		free(c);
	}
}

void
clients_clear(mx_server *srv)
{
	for (size_t i = 0; i < SERVER_CLIENT_BUCKETS; i++)
		while (srv->clients[i] != NULL) {
			struct client_count *c = srv->clients[i];
			srv->clients[i] = c->next;
			free(c);
		}
}
