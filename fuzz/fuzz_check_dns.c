/*
 * fuzz_check_dns.c - libFuzzer target for the reply readers of `mx
 * check` (lib/check_dns.c): the bytes are one DNS reply, read as TXT
 * records (dns_txts, with each rcode the resolver may report), as PTR,
 * NS and CNAME targets (dns_names), for the SOA owner (dns_soa_owner) and
 * as an authoritative server's MX answer (dns_auth_parse).  Beyond
 * crashes and leaks it aborts when an invariant breaks: counts within
 * their caps, every string NUL-terminated inside its array, TXT lengths
 * matching their text, states consistent with the records found, MX
 * exchanges lower case without a trailing dot (an escaped one, "tes\.",
 * is a dot inside the last label), "." exactly for null MX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_check_dns: invariant broken: %s\n", what);
	abort();
}

/* Whether the character at i is escaped: an odd run of backslashes before
 * it ("tes\." is a label holding a dot, as ldns writes it). */
static bool
escaped(const char *s, size_t i)
{
	size_t n = 0;

	while (i > 0 && s[i - 1] == '\\') {
		n++;
		i--;
	}
	return n % 2 == 1;
}

static void
check_txts(const uint8_t *data, size_t size, int rcode)
{
	struct check_txts *t = malloc(sizeof(*t));

	if (t == NULL)
		return;
	dns_txts(data, size, rcode, "why", t);
	if (t->n > CHECK_TXTS_MAX)
		broken("too many TXT records");
	if ((t->n > 0) != (t->state == TARGET_ADDRESSES))
		broken("TXT state disagrees with the records");
	if (rcode == 3 && t->state != TARGET_NXDOMAIN)
		broken("NXDOMAIN not kept");
	if (rcode != 0 && rcode != 3 && t->state != TARGET_TEMPFAIL)
		broken("a failure read as records");
	if (memchr(t->why, '\0', sizeof(t->why)) == NULL)
		broken("why not terminated");
	for (size_t i = 0; i < t->n; i++) {
		if (t->t[i].len >= sizeof(t->t[i].text) || t->t[i].text[t->t[i].len] != '\0')
			broken("TXT length or terminator");
	}
	free(t);
}

static void
check_names(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { 12, 2, 5 };
	char(*names)[NAME_TEXT_MAX] = malloc(8 * sizeof(*names));
	char soa[NAME_TEXT_MAX];

	if (names == NULL)
		return;
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		size_t n = dns_names(data, size, types[k], names, 8);
		if (n > 8)
			broken("too many names");
		for (size_t i = 0; i < n; i++)
			if (memchr(names[i], '\0', NAME_TEXT_MAX) == NULL)
				broken("name not terminated");
	}
	if (dns_soa_owner(data, size, soa, sizeof(soa)) && memchr(soa, '\0', sizeof(soa)) == NULL)
		broken("SOA owner not terminated");
	free(names);
}

static void
check_auth(const uint8_t *data, size_t size)
{
	struct dns_auth_mx *x = calloc(1, sizeof(*x));
	size_t len;

	if (x == NULL)
		return;
	dns_auth_parse(data, size, x);
	if (x->n > CHECK_MX_MAX || (!x->answered && x->n > 0))
		broken("MX count");
	if (!x->answered && x->why[0] == '\0')
		broken("no reply and no reason");
	for (size_t i = 0; i < x->n; i++) {
		const struct check_mx *m = &x->mx[i];
		if ((len = strnlen(m->exchange, sizeof(m->exchange))) == sizeof(m->exchange))
			broken("exchange not terminated");
		if (m->is_null != (strcmp(m->exchange, ".") == 0))
			broken("null MX and \".\" disagree");
		if (!m->is_null && len > 0 && m->exchange[len - 1] == '.' &&
		    !escaped(m->exchange, len - 1))
			broken("trailing dot kept");
		for (size_t j = 0; j < len; j++)
			if (m->exchange[j] >= 'A' && m->exchange[j] <= 'Z')
				broken("exchange not lower case");
	}
	if (x->n > 1 && !dns_mx_same(x, x))
		broken("a set differs from itself");
	free(x);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_txts(data, size, 0);
	check_txts(data, size, 3);
	check_txts(data, size, 2);
	check_txts(data, size, -1);
	check_names(data, size);
	check_auth(data, size);
	return 0;
}
