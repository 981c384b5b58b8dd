/*
 * ipaddr.c - an IP address as DNS gave it (struct ip_addr), made into a
 * sockaddr for connect(2).  Pure: no I/O.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "ipaddr.h"

socklen_t
ip_addr_sockaddr(const struct ip_addr *a, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		return sizeof(*sin);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->bytes, 16);
		return sizeof(*sin6);
	}
	return 0;
}
