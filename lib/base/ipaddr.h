/*
 * ipaddr.h - one IPv4 or IPv6 address with the TTL of the record that gave
 * it and its text form: what an A or AAAA answer holds (answer.h), what a
 * plan lists for a host (plan.h) and what a connection is made to.  Pure:
 * no I/O, no DNS.
 */
#ifndef MX_IPADDR_H
#define MX_IPADDR_H

#include <stdint.h>
#include <sys/socket.h>

struct ip_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
	uint32_t ttl;
	char text[46]; /* INET6_ADDRSTRLEN */
};

/* The address as a sockaddr for port; its length, 0 for an unknown family. */
socklen_t ip_addr_sockaddr(const struct ip_addr *a, uint16_t port, struct sockaddr_storage *out);

#endif
