/*
 * lmtp_target.c - "unix:PATH" or "HOST:PORT" to a socket address for the
 * LMTP client (lmtp_target.h).  Pure: no name is resolved (HOST is an IP
 * address, so a mail store never depends on DNS), nothing connects.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "lmtp_target.h"
#include "why.h"

static mx_err
parse_unix(const char *path, struct lmtp_target *t, mx_why *why)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&t->addr;
	size_t n = strlen(path);

	if (path[0] != '/')
		return why_set(
		    why, MX_ERR_INVALID, "unix:%s: the socket's path must be absolute", path);
	if (n >= sizeof(sun->sun_path))
		return why_set(why, MX_ERR_INVALID, "unix:%s: a socket path is at most %zu octets",
		    path, sizeof(sun->sun_path) - 1);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	t->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	t->unix_socket = true;
	return MX_OK;
}

static bool
parse_port(const char *s, uint16_t *out)
{
	char *end = NULL;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static mx_err
parse_inet(const char *text, struct lmtp_target *t, mx_why *why)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : 0;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&t->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&t->addr;
	uint16_t port = 0;

	if (colon == NULL || n == 0 || n >= sizeof(host) || !parse_port(colon + 1, &port))
		return why_set(why, MX_ERR_INVALID,
		    "\"%s\" is neither unix:PATH nor HOST:PORT (an IP address and a port)", text);
	memcpy(host, text, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		t->len = sizeof(*in4);
		return MX_OK;
	}
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(port);
			t->len = sizeof(*in6);
			return MX_OK;
		}
	}
	return why_set(why, MX_ERR_INVALID,
	    "\"%s\": the LMTP host must be an IP address (127.0.0.1:24, [::1]:24)", text);
}

mx_err
lmtp_target_parse(const char *text, struct lmtp_target *out, mx_why *why)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL || strlen(text) >= sizeof(out->text))
		return why_set(why, MX_ERR_INVALID, "the LMTP target is missing or too long");
	memcpy(out->text, text, strlen(text) + 1);
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(text + 5, out, why);
	return parse_inet(text, out, why);
}
