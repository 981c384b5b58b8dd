/*
 * check_dns.c - the DNS reading `mx check` needs beyond answer.c: TXT,
 * PTR, NS and SOA records out of raw replies (ldns parses the wire), and
 * an authoritative server's MX RRset (asked by check_auth.c, recursion
 * off).  Pure: bytes in, bounded structs out; nothing is kept.
 */
#include <arpa/inet.h>
/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * and this file's structs would disagree with every other file's. */
#include <stdbool.h>
#include <ldns/ldns.h>
_Static_assert((bool)2 == 1, "bool must be _Bool here: include <stdbool.h> before ldns");
#include <stdio.h>
#include <string.h>

#include "check_dns.h"
#include "check_findings.h"
#include "name.h"

void
dns_rdf_name(const ldns_rdf *rdf, char *out, size_t size)
{
	char *s = ldns_rdf2str(rdf);
	size_t len;

	snprintf(out, size, "%s", s ? s : "");
	free(s);
	len = strlen(out);
	if (len > 0 && out[len - 1] == '.')
		out[len - 1] = '\0';
	name_fold(out);
}

static ldns_pkt *
parse(const uint8_t *wire, size_t len)
{
	ldns_pkt *p = NULL;

	if (wire == NULL || ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return NULL;
	return p;
}

static int
txt_cmp(const void *a, const void *b)
{
	const struct check_txt *x = a, *y = b;
	int d = memcmp(x->text, y->text, x->len < y->len ? x->len : y->len);

	return d != 0 ? d : (x->len > y->len) - (x->len < y->len);
}

void
dns_txts(const uint8_t *wire, size_t len, int rcode, const char *why, struct check_txts *out)
{
	ldns_pkt *p;
	ldns_rr_list *an;

	memset(out, 0, sizeof(*out));
	if (rcode == 3) {
		out->state = TARGET_NXDOMAIN;
		return;
	}
	if (rcode != 0 || (p = parse(wire, len)) == NULL) {
		out->state = TARGET_TEMPFAIL;
		snprintf(out->why, sizeof(out->why), "%s", why && *why ? why : "no usable reply");
		return;
	}
	out->state = TARGET_NODATA;
	an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && out->n < CHECK_TXTS_MAX; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		struct check_txt *t = &out->t[out->n];
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT)
			continue;
		t->len = 0;
		for (size_t j = 0; j < ldns_rr_rd_count(rr); j++) {
			const ldns_rdf *rd = ldns_rr_rdf(rr, j);
			const uint8_t *d = ldns_rdf_data(rd);
			size_t n = ldns_rdf_size(rd);
			if (n == 0 || d[0] + 1u > n)
				continue;
			for (size_t k = 1; k <= d[0] && t->len < sizeof(t->text) - 1; k++)
				t->text[t->len++] = (char)d[k];
		}
		t->text[t->len] = '\0';
		out->n++;
		out->state = TARGET_ADDRESSES;
	}
	/* Resolvers rotate RRsets: one order, so evidence is the same each run. */
	qsort(out->t, out->n, sizeof(out->t[0]), txt_cmp);
	ldns_pkt_free(p);
}

size_t
dns_names(const uint8_t *wire, size_t len, uint16_t type, char (*out)[NAME_TEXT_MAX], size_t max)
{
	ldns_pkt *p = parse(wire, len);
	ldns_rr_list *an;
	size_t n = 0;

	if (p == NULL)
		return 0;
	an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && n < max; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != type || ldns_rr_rd_count(rr) < 1)
			continue;
		dns_rdf_name(ldns_rr_rdf(rr, 0), out[n++], NAME_TEXT_MAX);
	}
	ldns_pkt_free(p);
	return n;
}

bool
dns_soa_owner(const uint8_t *wire, size_t len, char *out, size_t size)
{
	ldns_pkt *p = parse(wire, len);
	ldns_rr_list *lists[2];
	bool found = false;

	if (p == NULL)
		return false;
	lists[0] = ldns_pkt_answer(p);
	lists[1] = ldns_pkt_authority(p);
	for (size_t l = 0; l < 2 && !found; l++)
		for (size_t i = 0; i < ldns_rr_list_rr_count(lists[l]) && !found; i++) {
			const ldns_rr *rr = ldns_rr_list_rr(lists[l], i);
			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA)
				continue;
			dns_rdf_name(ldns_rr_owner(rr), out, size);
			found = true;
		}
	ldns_pkt_free(p);
	return found;
}

static void
auth_collect(ldns_pkt *p, struct dns_auth_mx *out)
{
	ldns_rr_list *an = ldns_pkt_answer(p);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && out->n < CHECK_MX_MAX; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		struct check_mx *m = &out->mx[out->n];
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_MX || ldns_rr_rd_count(rr) < 2)
			continue;
		memset(m, 0, sizeof(*m));
		m->pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
		m->ttl = ldns_rr_ttl(rr);
		dns_rdf_name(ldns_rr_rdf(rr, 1), m->exchange, sizeof(m->exchange));
		if (m->exchange[0] == '\0') {
			m->is_null = true;
			snprintf(m->exchange, sizeof(m->exchange), ".");
		}
		out->n++;
	}
	check_mx_sort(out->mx, out->n); /* servers may rotate the RRset */
}

void
dns_auth_parse(const uint8_t *wire, size_t len, struct dns_auth_mx *out)
{
	ldns_pkt *p = parse(wire, len);

	out->n = 0;
	if (p == NULL) {
		snprintf(out->why, sizeof(out->why), "a reply that does not parse");
		return;
	}
	out->rcode = ldns_pkt_get_rcode(p);
	out->answered = true;
	out->authoritative = ldns_pkt_aa(p);
	auth_collect(p, out);
	ldns_pkt_free(p);
}

/* MX sets equal as sets of (preference, exchange); TTLs do not count. */
bool
dns_mx_same(const struct dns_auth_mx *a, const struct dns_auth_mx *b)
{
	if (a->rcode != b->rcode || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		bool found = false;
		for (size_t j = 0; j < b->n && !found; j++)
			found = a->mx[i].pref == b->mx[j].pref &&
			    strcmp(a->mx[i].exchange, b->mx[j].exchange) == 0;
		if (!found)
			return false;
	}
	return true;
}
