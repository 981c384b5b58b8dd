/*
 * check_dns.h - reading raw DNS replies for `mx check` (TXT, PTR, NS,
 * SOA) and an authoritative server's MX RRset.  See check_dns.c.
 */
#ifndef MX_CHECK_DNS_H
#define MX_CHECK_DNS_H

/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * and this file's structs would disagree with every other file's. */
#include <stdbool.h>
#include <ldns/ldns.h>
_Static_assert((bool)2 == 1, "bool must be _Bool here: include <stdbool.h> before ldns");

#include "check_facts.h"

/* A name as text: lower case, no trailing dot ("" for the root); the zone
 * reader uses it too. */
void dns_rdf_name(const ldns_rdf *rdf, char *out, size_t size);

/* TXT records of a reply (rcode -1: none came, why says why). */
void dns_txts(const uint8_t *wire, size_t len, int rcode, const char *why, struct check_txts *out);
/* Targets of the answer's records of type (PTR, NS, CNAME): up to max. */
size_t
dns_names(const uint8_t *wire, size_t len, uint16_t type, char (*out)[NAME_TEXT_MAX], size_t max);
/* The owner of the SOA in the answer or authority section: the zone apex. */
bool dns_soa_owner(const uint8_t *wire, size_t len, char *out, size_t size);

/* One authoritative server's MX RRset for a name. */
struct dns_auth_mx {
	struct ip_addr server;
	char ns_name[NAME_TEXT_MAX];
	bool answered;
	bool authoritative; /* AA bit set */
	int rcode;
	char why[160]; /* !answered: why */
	size_t n;
	struct check_mx mx[CHECK_MX_MAX];
};

/* Reads one server's reply into out (answered, rcode, AA, the records). */
void dns_auth_parse(const uint8_t *wire, size_t len, struct dns_auth_mx *out);
bool dns_mx_same(const struct dns_auth_mx *a, const struct dns_auth_mx *b);

#endif
