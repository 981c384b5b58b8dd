/*
 * lmtp_target.h - where an LMTP server (RFC 2033) listens, as `mx daemon
 * --lmtp` names it: "unix:PATH" or "HOST:PORT" ("[IPv6]:PORT"), HOST an
 * IP address.  Pure: the text to a socket address, nothing connects.
 */
#ifndef MX_LMTP_TARGET_H
#define MX_LMTP_TARGET_H

#include <stdbool.h>
#include <sys/socket.h>

#include "mx.h"

#define LMTP_TARGET_MAX 256 /* the text, with its NUL */

struct lmtp_target {
	char text[LMTP_TARGET_MAX]; /* as given: logs and the connection cache */
	struct sockaddr_storage addr;
	socklen_t len;
	bool unix_socket; /* never TLS over it */
};

/* MX_OK and *out filled, or MX_ERR_INVALID with why. */
mx_err lmtp_target_parse(const char *text, struct lmtp_target *out, mx_why *why);

#endif
