/*
 * relay.h - who may send mail where through this server: the relay
 * networks (clients allowed to send anywhere; loopback when none is
 * given), the local domains (final here) and the backup domains (this
 * host is a backup MX for them), and the strict reading of a RCPT path
 * that keeps the classic open-relay tricks out (percent hack a%b@c, bang
 * paths b!a@c, quoted "a@b"@c, source routes @c:a@b, address literals,
 * trailing dots, a domain spelled as a subdomain).  Pure: no I/O.
 */
#ifndef MX_RELAY_H
#define MX_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mx.h"

#define RELAY_DOMAINS_MAX  256
#define RELAY_NETWORKS_MAX 256

struct relay_network {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

struct relay_policy {
	char (*local)[MX_DOMAIN_MAX + 1];
	size_t n_local;
	char (*backup)[MX_DOMAIN_MAX + 1];
	size_t n_backup;
	struct relay_network nets[RELAY_NETWORKS_MAX];
	size_t n_nets; /* 0: loopback only (127.0.0.0/8, ::1) */
};

enum relay_class {
	RELAY_LOCAL = 0, /* a local domain: final here */
	RELAY_BACKUP,    /* a backup domain: ask a better MX first */
	RELAY_OUT,       /* elsewhere, for a relay client */
	RELAY_DENIED,    /* 554 5.7.1 */
	RELAY_BAD,       /* 501 5.1.3: not an address */
};

/* "192.0.2.0/24", "2001:db8::/32", or one address; false when not. */
bool relay_network_parse(const char *text, struct relay_network *out);
bool relay_client_trusted(const struct relay_policy *p, const struct sockaddr *sa);
/*
 * What the RCPT path (between the angle brackets) is worth for a client
 * (trusted: inside the relay networks).  The address as it will be
 * queued (source route dropped, domain in lower case) goes to addr.
 */
enum relay_class
relay_judge(const struct relay_policy *p, bool trusted, const char *path, char addr[321]);

#endif
