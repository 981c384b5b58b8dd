/*
 * relay.c - the relay decision (see relay.h): networks matched bit by
 * bit, domains matched exactly (never as a suffix), and a RCPT path read
 * strictly enough that no spelling of a foreign address passes as a
 * local one.  Pure: no I/O, no DNS.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "relay.h"

bool
relay_network_parse(const char *text, struct relay_network *out)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max;
	char *end;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6, max = 128;
	else
		return false;
	out->prefix = max;
	if (slash != NULL) {
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || v > max)
			return false;
		out->prefix = (unsigned)v;
	}
	return true;
}

static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The client's address as 4 or 16 octets; an IPv4-mapped IPv6 one as IPv4. */
static int
client_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	if (memcmp(out, mapped, 12) != 0)
		return AF_INET6;
	memmove(out, out + 12, 4);
	return AF_INET;
}

bool
relay_client_trusted(const struct relay_policy *p, const struct sockaddr *sa)
{
	static const uint8_t loop6[16] = { [15] = 1 };
	uint8_t b[16] = { 0 }; /* client_bytes fills 4 or 16 */
	int family = client_bytes(sa, b);

	if (p->n_nets == 0)
		return (family == AF_INET && b[0] == 127) ||
		    (family == AF_INET6 && memcmp(b, loop6, 16) == 0);
	for (size_t i = 0; i < p->n_nets; i++)
		if (p->nets[i].family == family &&
		    prefix_match(b, p->nets[i].addr, p->nets[i].prefix))
			return true;
	return false;
}

static bool
listed(char (*list)[MX_DOMAIN_MAX + 1], size_t n, const char *domain)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], domain) == 0)
			return true;
	return false;
}

/* A local part that routes somewhere else when some host reads it. */
static bool
local_routes(const char *local)
{
	return strpbrk(local, "%!@:") != NULL;
}

enum relay_class
relay_judge(const struct relay_policy *p, bool trusted, const char *path, char addr[321])
{
	struct address a;
	const char *why, *at;
	size_t len;

	addr[0] = '\0';
	if (path[0] == '@') { /* a source route (RFC 5321 C): only ours may use one */
		const char *colon = strchr(path, ':');
		if (!trusted)
			return RELAY_DENIED;
		if (colon == NULL || memchr(path, ' ', (size_t)(colon - path)) != NULL)
			return RELAY_BAD;
		path = colon + 1;
	}
	len = strlen(path);
	at = strrchr(path, '@');
	if (len == 0 || at == NULL)
		return RELAY_BAD;
	if (path[len - 1] == '.' || at[1] == '[') /* trailing dot, address literal */
		return trusted ? RELAY_BAD : RELAY_DENIED;
	if (address_parse(path, &a, &why) != MX_OK || a.domain[0] == '\0')
		return trusted ? RELAY_BAD : RELAY_DENIED;
	snprintf(addr, 321, "%s@%s", a.local, a.domain);
	if (listed(p->local, p->n_local, a.domain))
		return local_routes(a.local) ? RELAY_DENIED : RELAY_LOCAL;
	if (listed(p->backup, p->n_backup, a.domain))
		return local_routes(a.local) ? RELAY_DENIED : RELAY_BACKUP;
	return trusted ? RELAY_OUT : RELAY_DENIED;
}
