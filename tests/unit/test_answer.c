/*
 * test_answer.c - lib/answer.c, answer_parse: replies built with ldns
 * (MX with TTLs, null MX, CNAME chains, loops and over-long chains,
 * NXDOMAIN, NODATA, SERVFAIL/REFUSED and other rcodes, TC, question
 * mismatches, foreign records, bad A/AAAA rdata lengths, TTLs with the top
 * bit set, exchange names no host has, the record caps) and hand-written
 * hostile byte strings (compression pointer tricks, bad label lengths,
 * truncation, lying counts) that must all come back TEMPFAIL.  Also
 * answer_set_failure and answer_clear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <stdbool.h> /* before ldns, which otherwise makes bool a signed char */
#include <ldns/ldns.h>

#include "answer.h"

#define QNAME "example.test."

/* ---- building replies with ldns --------------------------------------- */

/* A reply (QR, RD, RA) to the question qname/qtype/IN with rcode. */
static ldns_pkt *
reply(const char *qname, ldns_rr_type qtype, ldns_pkt_rcode rcode)
{
	ldns_rdf *name = ldns_dname_new_frm_str(qname);
	ldns_pkt *p;

	assert_non_null(name);
	p = ldns_pkt_query_new(name, qtype, LDNS_RR_CLASS_IN, LDNS_RD);
	assert_non_null(p);
	ldns_pkt_set_id(p, 0x1234);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	return p;
}

/* Appends one record in zone-file form to a section; returns it. */
static ldns_rr *
add(ldns_pkt *p, ldns_pkt_section section, const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 3600, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad test record: %s", text);
	assert_true(ldns_pkt_push_rr(p, section, rr));
	return rr;
}

static ldns_rr *
an(ldns_pkt *p, const char *text)
{
	return add(p, LDNS_SECTION_ANSWER, text);
}

static void
soa(ldns_pkt *p)
{
	add(p, LDNS_SECTION_AUTHORITY, "test. 300 IN SOA ns.test. host.test. 1 3600 600 86400 300");
}

/* Turns p into wire format (freeing p) and parses it. */
static void
parse_as(ldns_pkt *p, const char *qname, uint16_t qtype, struct answer *a)
{
	uint8_t *wire = NULL;
	size_t len = 0;

	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	assert_int_equal(answer_parse(wire, len, qname, qtype, a), MX_OK);
	free(wire);
}

static void
parse(ldns_pkt *p, uint16_t qtype, struct answer *a)
{
	parse_as(p, QNAME, qtype, a);
}

static void
parse_bytes(const uint8_t *wire, size_t len, uint16_t qtype, struct answer *a)
{
	uint8_t *copy = malloc(len ? len : 1);

	/* An exact-size heap copy, so ASan sees any read past the end. */
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, wire, len);
	assert_int_equal(answer_parse(copy, len, QNAME, qtype, a), MX_OK);
	free(copy);
}

static void
assert_tempfail(const struct answer *a, const char *why)
{
	assert_int_equal(a->kind, ANSWER_TEMPFAIL);
	assert_int_equal(a->n_mx, 0);
	assert_int_equal(a->n_addrs, 0);
	assert_null(a->mx);
	assert_null(a->addrs);
	assert_true(a->why[0] != '\0');
	/* The sentence may go on with details: "... malformed (bad name)". */
	if (why != NULL && strncmp(a->why, why, strlen(why)) != 0)
		fail_msg("reason \"%s\" does not start with \"%s\"", a->why, why);
}

/* ---- MX ------------------------------------------------------------- */

static void
test_mx_records(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "example.test. 300 IN MX 20 MX2.Example.TEST.");
	an(p, "EXAMPLE.test. 600 IN MX 10 mx1.example.test.");
	an(p, "example.test. 3600 IN MX 65535 mx3.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.cname_hops, 0);
	assert_false(a.cname_loop);
	assert_false(a.timed_out);
	assert_int_equal(a.security, SEC_UNKNOWN);
	assert_string_equal(a.canonical, "example.test");
	assert_int_equal(a.n_mx, 3);
	assert_int_equal(a.n_addrs, 0);
	assert_int_equal(a.mx[0].preference, 20);
	assert_int_equal(a.mx[0].ttl, 300);
	assert_string_equal(a.mx[0].exchange, "mx2.example.test");
	assert_int_equal(a.mx[1].preference, 10);
	assert_int_equal(a.mx[1].ttl, 600);
	assert_string_equal(a.mx[1].exchange, "mx1.example.test");
	assert_int_equal(a.mx[2].preference, 65535);
	assert_int_equal(a.mx[2].ttl, 3600);
	assert_string_equal(a.mx[2].exchange, "mx3.example.test");
	for (size_t i = 0; i < 3; i++) {
		assert_false(a.mx[i].is_null);
		assert_false(a.mx[i].bad_name);
	}
	answer_clear(&a);
	assert_null(a.mx);
	assert_int_equal(a.n_mx, 0);
}

/* The question may differ in case from what we asked. */
static void
test_question_case_insensitive(void **state)
{
	struct answer a;
	ldns_pkt *p = reply("EXAMPLE.Test.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "Example.TEST. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_mx, 1);
	answer_clear(&a);
}

static void
test_null_mx(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "example.test. 300 IN MX 0 .");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_mx, 1);
	assert_true(a.mx[0].is_null);
	assert_false(a.mx[0].bad_name);
	assert_int_equal(a.mx[0].preference, 0);
	assert_int_equal(a.mx[0].ttl, 300);
	assert_string_equal(a.mx[0].exchange, "");
	answer_clear(&a);

	/* A null exchange at another preference is still null. */
	p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN MX 10 .");
	an(p, "example.test. 300 IN MX 20 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.n_mx, 2);
	assert_true(a.mx[0].is_null);
	assert_int_equal(a.mx[0].preference, 10);
	assert_false(a.mx[1].is_null);
	answer_clear(&a);
}

/* ---- CNAME ---------------------------------------------------------- */

static void
test_cname_chain(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	/* Listed out of order; an MX at the middle of the chain is ignored. */
	an(p, "b.example.test. 300 IN MX 10 mx.b.example.test.");
	an(p, "a.example.test. 300 IN CNAME B.Example.TEST.");
	an(p, "a.example.test. 300 IN MX 5 wrong.example.test.");
	an(p, "example.test. 300 IN CNAME a.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.cname_hops, 2);
	assert_false(a.cname_loop);
	assert_string_equal(a.canonical, "b.example.test");
	assert_int_equal(a.n_mx, 1);
	assert_string_equal(a.mx[0].exchange, "mx.b.example.test");
	assert_int_equal(a.mx[0].preference, 10);
	answer_clear(&a);

	/* Addresses at the end of a chain. */
	p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN CNAME host.example.test.");
	an(p, "host.example.test. 60 IN A 192.0.2.7");
	an(p, "example.test. 60 IN A 192.0.2.99");
	parse(p, RR_TYPE_A, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.cname_hops, 1);
	assert_string_equal(a.canonical, "host.example.test");
	assert_int_equal(a.n_addrs, 1);
	assert_string_equal(a.addrs[0].text, "192.0.2.7");
	answer_clear(&a);
}

/* A chain of n CNAMEs from QNAME through c1 ... cn, ending in one MX. */
static void
chain(size_t n, struct answer *a)
{
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	char rr[200];

	for (size_t i = 0; i < n; i++) {
		if (i == 0)
			snprintf(rr, sizeof(rr), "%s 300 IN CNAME c1.example.test.", QNAME);
		else
			snprintf(rr, sizeof(rr),
			    "c%zu.example.test. 300 IN CNAME "
			    "c%zu.example.test.",
			    i, i + 1);
		an(p, rr);
	}
	snprintf(rr, sizeof(rr), "c%zu.example.test. 300 IN MX 10 mx.example.test.", n);
	an(p, rr);
	parse(p, RR_TYPE_MX, a);
}

static void
test_cname_chain_limit(void **state)
{
	struct answer a;

	(void)state;
	chain(ANSWER_MAX_CNAME_HOPS, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.cname_hops, 16);
	assert_false(a.cname_loop);
	assert_string_equal(a.canonical, "c16.example.test");
	assert_int_equal(a.n_mx, 1);
	answer_clear(&a);

	chain(ANSWER_MAX_CNAME_HOPS + 1, &a);
	assert_tempfail(&a, "the CNAME chain loops or is longer than 16");
	assert_true(a.cname_loop);
	answer_clear(&a);

	chain(40, &a);
	assert_tempfail(&a, NULL);
	assert_true(a.cname_loop);
	answer_clear(&a);
}

static void
test_cname_loop(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "example.test. 300 IN CNAME a.example.test.");
	an(p, "a.example.test. 300 IN CNAME b.example.test.");
	an(p, "b.example.test. 300 IN CNAME A.example.test.");
	an(p, "b.example.test. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, "the CNAME chain loops or is longer than 16");
	assert_true(a.cname_loop);
	answer_clear(&a);

	/* The name is an alias of itself. */
	p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN CNAME example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, NULL);
	assert_true(a.cname_loop);
	answer_clear(&a);

	/* Back to the start. */
	p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN CNAME a.example.test.");
	an(p, "a.example.test. 300 IN CNAME example.test.");
	an(p, "a.example.test. 300 IN A 192.0.2.1");
	parse(p, RR_TYPE_A, &a);
	assert_tempfail(&a, NULL);
	assert_true(a.cname_loop);
	answer_clear(&a);
}

/* ---- outcomes -------------------------------------------------------- */

static void
test_nxdomain(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NXDOMAIN);

	(void)state;
	soa(p);
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_NXDOMAIN);
	assert_int_equal(a.rcode, 3);
	assert_int_equal(a.n_mx, 0);
	assert_string_equal(a.canonical, "example.test");
	answer_clear(&a);

	/* The end of the chain does not exist. */
	p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	an(p, "example.test. 300 IN CNAME gone.example.test.");
	soa(p);
	parse(p, RR_TYPE_A, &a);
	assert_int_equal(a.kind, ANSWER_NXDOMAIN);
	assert_int_equal(a.cname_hops, 1);
	assert_string_equal(a.canonical, "gone.example.test");
	assert_int_equal(a.n_addrs, 0);
	answer_clear(&a);
}

static void
test_nodata(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	soa(p);
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_NODATA);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.n_mx, 0);
	assert_null(a.mx);
	assert_string_equal(a.canonical, "example.test");
	answer_clear(&a);

	/* NODATA at the end of a chain. */
	p = reply(QNAME, LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN CNAME v4only.example.test.");
	soa(p);
	parse(p, RR_TYPE_AAAA, &a);
	assert_int_equal(a.kind, ANSWER_NODATA);
	assert_int_equal(a.cname_hops, 1);
	assert_string_equal(a.canonical, "v4only.example.test");
	answer_clear(&a);

	/* Records in the authority and additional sections are not answers. */
	p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_AUTHORITY, "example.test. 300 IN MX 10 mx.example.test.");
	add(p, LDNS_SECTION_ADDITIONAL, "example.test. 300 IN MX 10 mx2.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_NODATA);
	assert_int_equal(a.n_mx, 0);
	answer_clear(&a);
}

static void
check_rcode(ldns_pkt_rcode rcode, const char *why)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, rcode);

	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, why);
	assert_int_equal(a.rcode, rcode);
	answer_clear(&a);
}

static void
test_rcodes(void **state)
{
	(void)state;
	check_rcode(LDNS_RCODE_SERVFAIL, "the resolver answered SERVFAIL");
	check_rcode(LDNS_RCODE_REFUSED, "the resolver answered REFUSED");
	check_rcode(LDNS_RCODE_FORMERR, "the resolver answered FORMERR");
	check_rcode(LDNS_RCODE_NOTIMPL, "the resolver answered NOTIMP");
	check_rcode(LDNS_RCODE_NOTAUTH, "the resolver answered an unknown rcode");
}

/* Some error replies carry no question: still a temporary failure. */
static void
test_rcode_without_question(void **state)
{
	struct answer a;
	ldns_pkt *p = ldns_pkt_new();

	(void)state;
	assert_non_null(p);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, LDNS_RCODE_SERVFAIL);
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, "the resolver answered SERVFAIL");
	assert_int_equal(a.rcode, LDNS_RCODE_SERVFAIL);
	answer_clear(&a);
}

static void
test_truncated(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	ldns_pkt_set_tc(p, true);
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, "the reply was truncated");
	answer_clear(&a);
}

/* ---- question mismatch ----------------------------------------------- */

#define MISMATCH "the reply does not answer the question asked"

static void
test_question_mismatch(void **state)
{
	struct answer a;
	ldns_pkt *p;
	ldns_rr *q = NULL;

	(void)state;
	/* Another name. */
	p = reply("other.test.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	/* An NXDOMAIN for another name says nothing about ours. */
	p = reply("other.test.", LDNS_RR_TYPE_MX, LDNS_RCODE_NXDOMAIN);
	soa(p);
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	/* Nor for another type of ours. */
	p = reply(QNAME, LDNS_RR_TYPE_AAAA, LDNS_RCODE_NXDOMAIN);
	soa(p);
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	/* A parent or child of the name. */
	p = reply("sub.example.test.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	/* Another type. */
	p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN A 192.0.2.1");
	parse(p, RR_TYPE_AAAA, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	/* Another class. */
	p = ldns_pkt_query_new(
	    ldns_dname_new_frm_str(QNAME), LDNS_RR_TYPE_MX, LDNS_RR_CLASS_CH, LDNS_RD);
	ldns_pkt_set_qr(p, true);
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	/* QDCOUNT 0. */
	p = ldns_pkt_new();
	assert_non_null(p);
	ldns_pkt_set_qr(p, true);
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	assert_int_equal(ldns_pkt_qdcount(p), 0);
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	/* QDCOUNT 2: our question and another. */
	p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	assert_int_equal(
	    ldns_rr_new_question_frm_str(&q, "other.test. IN MX", NULL, NULL), LDNS_STATUS_OK);
	assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q));
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	assert_int_equal(ldns_pkt_qdcount(p), 2);
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);

	/* Our question asked twice is still not one question. */
	p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	q = NULL;
	assert_int_equal(
	    ldns_rr_new_question_frm_str(&q, "example.test. IN MX", NULL, NULL), LDNS_STATUS_OK);
	assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q));
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_tempfail(&a, MISMATCH);
	answer_clear(&a);
}

static void
test_bad_qname(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	char qname[100];

	(void)state;
	memset(qname, 'a', 70);
	strcpy(qname + 70, ".test.");
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	parse_as(p, qname, RR_TYPE_MX, &a);
	assert_tempfail(&a, "the question name is not a domain name");
	answer_clear(&a);
}

/* ---- foreign records -------------------------------------------------- */

static void
test_foreign_records_ignored(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "example.test. 300 IN A 192.0.2.1");
	an(p, "other.test. 300 IN MX 5 mx.other.test.");
	an(p, "sub.example.test. 300 IN MX 5 mx.sub.example.test.");
	an(p, "example.test. 300 IN TXT \"v=spf1 -all\"");
	/* Types with the rdata of an MX: a 16-bit number, then a name. */
	an(p, "example.test. 300 IN AFSDB 1 afsdb.example.test.");
	an(p, "example.test. 300 IN KX 10 kx.example.test.");
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	an(p, "other.test. 300 IN CNAME example.test.");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.cname_hops, 0);
	assert_int_equal(a.n_mx, 1);
	assert_string_equal(a.mx[0].exchange, "mx.example.test");
	assert_int_equal(a.n_addrs, 0);
	answer_clear(&a);

	/* Only foreign records: NODATA. */
	p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN AAAA 2001:db8::1");
	/* Four bytes of rdata, like an A. */
	an(p, "example.test. 300 IN TXT \"abc\"");
	an(p, "other.test. 300 IN A 192.0.2.1");
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	parse(p, RR_TYPE_A, &a);
	assert_int_equal(a.kind, ANSWER_NODATA);
	assert_int_equal(a.n_addrs, 0);
	assert_int_equal(a.n_mx, 0);
	answer_clear(&a);

	/* Records of class CH for the right name and type. */
	p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 CH A 192.0.2.1");
	parse(p, RR_TYPE_A, &a);
	assert_int_equal(a.kind, ANSWER_NODATA);
	answer_clear(&a);
}

/* ---- addresses --------------------------------------------------------- */

static void
test_addresses(void **state)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "example.test. 300 IN A 192.0.2.1");
	an(p, "Example.Test. 60 IN A 198.51.100.20");
	parse(p, RR_TYPE_A, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_addrs, 2);
	assert_int_equal(a.n_mx, 0);
	assert_int_equal(a.addrs[0].family, AF_INET);
	assert_memory_equal(a.addrs[0].bytes, v4, 4);
	assert_string_equal(a.addrs[0].text, "192.0.2.1");
	assert_int_equal(a.addrs[0].ttl, 300);
	assert_string_equal(a.addrs[1].text, "198.51.100.20");
	assert_int_equal(a.addrs[1].ttl, 60);
	answer_clear(&a);

	p = reply(QNAME, LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	an(p, "example.test. 120 IN AAAA 2001:DB8::1");
	parse(p, RR_TYPE_AAAA, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_addrs, 1);
	assert_int_equal(a.addrs[0].family, AF_INET6);
	assert_memory_equal(a.addrs[0].bytes, v6, 16);
	assert_string_equal(a.addrs[0].text, "2001:db8::1");
	assert_int_equal(a.addrs[0].ttl, 120);
	answer_clear(&a);
}

/*
 * answer.c writes IPv4 text by hand: every byte value in every position
 * (with the others at 0, 9, 10, 99, 100 and 255) against inet_ntop.
 */
static void
test_ipv4_text(void **state)
{
	static const unsigned fill[] = { 0, 9, 10, 99, 100, 255 };
	char rr[128], want[INET_ADDRSTRLEN];
	struct answer a;

	(void)state;
	for (unsigned pos = 0; pos < 4; pos++)
		for (unsigned f = 0; f < sizeof(fill) / sizeof(fill[0]); f++)
			for (unsigned start = 0; start < 256; start += ANSWER_MAX_ADDRS) {
				ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
				uint8_t b[ANSWER_MAX_ADDRS][4];
				for (unsigned i = 0; i < ANSWER_MAX_ADDRS; i++) {
					memset(b[i], (int)fill[f], 4);
					b[i][pos] = (uint8_t)(start + i);
					snprintf(rr, sizeof(rr),
					    "example.test. 60 IN A %u.%u.%u.%u", b[i][0], b[i][1],
					    b[i][2], b[i][3]);
					an(p, rr);
				}
				parse(p, RR_TYPE_A, &a);
				assert_int_equal(a.n_addrs, ANSWER_MAX_ADDRS);
				for (size_t i = 0; i < a.n_addrs; i++) {
					assert_memory_equal(a.addrs[i].bytes, b[i], 4);
					inet_ntop(AF_INET, a.addrs[i].bytes, want, sizeof(want));
					assert_string_equal(a.addrs[i].text, want);
				}
				answer_clear(&a);
			}
}

/*
 * Hand-made: a reply to example.test/qtype holding a record of qtype with
 * rdata of rdlen bytes (all 0x0a) and a good record (192.0.2.1 or
 * 2001:db8::1), the bad one first or last.
 */
static size_t
bad_rdlen_packet(uint8_t *buf, uint16_t qtype, uint16_t rdlen, bool bad_first)
{
	static const uint8_t head[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, 7, 'e', 'x',
		'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0 };
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	size_t n = 0, good = qtype == RR_TYPE_A ? 4 : 16;

	memcpy(buf, head, sizeof(head));
	n = sizeof(head);
	buf[n++] = 0;
	buf[n++] = (uint8_t)qtype;
	buf[n++] = 0;
	buf[n++] = 1;
	for (int r = 0; r < 2; r++) {
		bool bad = (r == 0) == bad_first;
		size_t len = bad ? rdlen : good;
		const uint8_t rr[] = { 0xc0, 12, 0, (uint8_t)qtype, 0, 1, 0, 0, 1, 0,
			(uint8_t)(len >> 8), (uint8_t)len };
		memcpy(buf + n, rr, sizeof(rr));
		n += sizeof(rr);
		if (bad)
			memset(buf + n, 0x0a, len);
		else
			memcpy(buf + n, qtype == RR_TYPE_A ? v4 : v6, good);
		n += len;
	}
	return n;
}

/*
 * A or AAAA rdata of the wrong length makes the whole reply malformed
 * (wire.c): no address from it is used, before or after the bad record,
 * and the lookup fails for now rather than yielding a wrong address.
 */
static void
check_bad_rdlen_ignored(uint16_t qtype, uint16_t rdlen, bool bad_first)
{
	uint8_t buf[512];
	size_t n = bad_rdlen_packet(buf, qtype, rdlen, bad_first);
	struct answer a;

	parse_bytes(buf, n, qtype, &a);
	if (a.kind != ANSWER_TEMPFAIL || a.n_addrs != 0) {
		size_t n_addrs = a.n_addrs;
		answer_kind kind = a.kind;
		answer_clear(&a);
		fail_msg("%s rdata of %u bytes (%s the good record): kind %d, "
			 "%zu addresses (want TEMPFAIL and none)",
		    qtype == RR_TYPE_A ? "A" : "AAAA", rdlen, bad_first ? "before" : "after", kind,
		    n_addrs);
	}
	assert_non_null(strstr(a.why, "malformed"));
	answer_clear(&a);
}

/* Sanity for the builder: with the right length both records are addresses. */
static void
test_rdata_length_baseline(void **state)
{
	uint8_t buf[512];
	struct answer a;
	size_t n;

	(void)state;
	n = bad_rdlen_packet(buf, RR_TYPE_A, 4, true);
	parse_bytes(buf, n, RR_TYPE_A, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_addrs, 2);
	assert_string_equal(a.addrs[0].text, "10.10.10.10");
	assert_string_equal(a.addrs[1].text, "192.0.2.1");
	answer_clear(&a);
	n = bad_rdlen_packet(buf, RR_TYPE_AAAA, 16, false);
	parse_bytes(buf, n, RR_TYPE_AAAA, &a);
	assert_int_equal(a.n_addrs, 2);
	assert_string_equal(a.addrs[0].text, "2001:db8::1");
	assert_string_equal(a.addrs[1].text, "a0a:a0a:a0a:a0a:a0a:a0a:a0a:a0a");
	answer_clear(&a);
}

/* Empty rdata: ldns gives the record no rdf at all. */
static void
test_empty_address_rdata(void **state)
{
	(void)state;
	check_bad_rdlen_ignored(RR_TYPE_A, 0, true);
	check_bad_rdlen_ignored(RR_TYPE_A, 0, false);
	check_bad_rdlen_ignored(RR_TYPE_AAAA, 0, true);
	check_bad_rdlen_ignored(RR_TYPE_AAAA, 0, false);
}

/* Longer than the type: must not become an address of its first bytes. */
static void
test_a_long_rdata(void **state)
{
	(void)state;
	check_bad_rdlen_ignored(RR_TYPE_A, 5, false);
	check_bad_rdlen_ignored(RR_TYPE_A, 16, false);
	check_bad_rdlen_ignored(RR_TYPE_A, 5, true);
	check_bad_rdlen_ignored(RR_TYPE_A, 16, true);
}

static void
test_aaaa_long_rdata(void **state)
{
	(void)state;
	check_bad_rdlen_ignored(RR_TYPE_AAAA, 17, false);
	check_bad_rdlen_ignored(RR_TYPE_AAAA, 20, false);
	check_bad_rdlen_ignored(RR_TYPE_AAAA, 17, true);
	check_bad_rdlen_ignored(RR_TYPE_AAAA, 20, true);
}

/* Shorter than the type. */
static void
test_short_address_rdata(void **state)
{
	(void)state;
	check_bad_rdlen_ignored(RR_TYPE_A, 3, true);
	check_bad_rdlen_ignored(RR_TYPE_A, 3, false);
	check_bad_rdlen_ignored(RR_TYPE_AAAA, 4, true);
	check_bad_rdlen_ignored(RR_TYPE_AAAA, 15, false);
}

/* ---- TTLs ------------------------------------------------------------ */

static void
test_ttl_top_bit(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	ldns_rr_set_ttl(an(p, "example.test. 1 IN MX 10 a.example.test."), 0x80000000u);
	ldns_rr_set_ttl(an(p, "example.test. 1 IN MX 20 b.example.test."), 0xffffffffu);
	ldns_rr_set_ttl(an(p, "example.test. 1 IN MX 30 c.example.test."), 0x7fffffffu);
	ldns_rr_set_ttl(an(p, "example.test. 1 IN MX 40 d.example.test."), 0);
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.n_mx, 4);
	assert_int_equal(a.mx[0].ttl, 0);
	assert_int_equal(a.mx[1].ttl, 0);
	assert_int_equal(a.mx[2].ttl, 0x7fffffffu);
	assert_int_equal(a.mx[3].ttl, 0);
	answer_clear(&a);

	p = reply(QNAME, LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	ldns_rr_set_ttl(an(p, "example.test. 1 IN AAAA 2001:db8::1"), 0x80000001u);
	ldns_rr_set_ttl(an(p, "example.test. 1 IN AAAA 2001:db8::2"), 86400);
	parse(p, RR_TYPE_AAAA, &a);
	assert_int_equal(a.n_addrs, 2);
	assert_int_equal(a.addrs[0].ttl, 0);
	assert_int_equal(a.addrs[1].ttl, 86400);
	answer_clear(&a);
}

/* ---- exchange names --------------------------------------------------- */

static void
check_exchange(const char *rdata_name, const char *text, bool bad)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	char rr[600];

	snprintf(rr, sizeof(rr), "example.test. 300 IN MX 10 %s", rdata_name);
	an(p, rr);
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_mx, 1);
	assert_false(a.mx[0].is_null);
	assert_string_equal(a.mx[0].exchange, text);
	if (bad)
		assert_true(a.mx[0].bad_name);
	else
		assert_false(a.mx[0].bad_name);
	answer_clear(&a);
}

static void
test_exchange_names(void **state)
{
	char l63[64], in[300], out[300];

	(void)state;
	check_exchange("MX.Example.Test.", "mx.example.test", false);
	check_exchange("mx\\032a.example.test.", "mx\\032a.example.test", true);
	check_exchange("a\\000b.example.test.", "a\\000b.example.test", true);
	check_exchange("mx_1.example.test.", "mx\\0951.example.test", true);
	check_exchange("a\\.b.example.test.", "a\\046b.example.test", true);
	check_exchange("-mx.example.test.", "-mx.example.test", true);
	check_exchange("mx-.example.test.", "mx-.example.test", true);
	check_exchange("m-x.example.test.", "m-x.example.test", false);
	check_exchange("m\\\"x.example.test.", "m\\034x.example.test", true);
	check_exchange("m\\255x.example.test.", "m\\255x.example.test", true);
	/* IP literals are names of digits: routing judges them, not answer.c. */
	check_exchange("192.0.2.1.", "192.0.2.1", false);
	check_exchange("2001:db8::1.", "2001\\058db8\\058\\0581", true);

	/* 255 bytes on the wire, 253 in text: the longest valid name. */
	memset(l63, 'a', 63);
	l63[63] = '\0';
	snprintf(in, sizeof(in), "%s.%s.%s.%.61s.", l63, l63, l63, l63);
	snprintf(out, sizeof(out), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	check_exchange(in, out, false);
}

/* ---- caps ------------------------------------------------------------- */

static void
test_mx_cap(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	char rr[200];

	(void)state;
	for (unsigned i = 0; i < ANSWER_MAX_MX + 100; i++) {
		snprintf(rr, sizeof(rr), "example.test. 300 IN MX %u h%u.example.test.", i, i);
		an(p, rr);
	}
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_mx, ANSWER_MAX_MX);
	assert_string_equal(a.mx[0].exchange, "h0.example.test");
	assert_int_equal(a.mx[ANSWER_MAX_MX - 1].preference, ANSWER_MAX_MX - 1);
	assert_string_equal(a.mx[ANSWER_MAX_MX - 1].exchange, "h1023.example.test");
	answer_clear(&a);
}

static void
test_addr_cap(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	char rr[200];

	(void)state;
	for (unsigned i = 0; i < 200; i++) {
		snprintf(rr, sizeof(rr), "example.test. 300 IN A 10.0.%u.%u", i / 256, i % 256);
		an(p, rr);
	}
	parse(p, RR_TYPE_A, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_addrs, ANSWER_MAX_ADDRS);
	assert_string_equal(a.addrs[0].text, "10.0.0.0");
	assert_string_equal(a.addrs[ANSWER_MAX_ADDRS - 1].text, "10.0.0.63");
	answer_clear(&a);

	p = reply(QNAME, LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	for (unsigned i = 0; i < ANSWER_MAX_ADDRS + 1; i++) {
		snprintf(rr, sizeof(rr), "example.test. 300 IN AAAA 2001:db8::%x", i + 1);
		an(p, rr);
	}
	parse(p, RR_TYPE_AAAA, &a);
	assert_int_equal(a.n_addrs, ANSWER_MAX_ADDRS);
	assert_string_equal(a.addrs[ANSWER_MAX_ADDRS - 1].text, "2001:db8::40");
	answer_clear(&a);
}

/* ---- hostile bytes ----------------------------------------------------- */

/* Header: id, QR RD RA NOERROR, QDCOUNT 1, ANCOUNT an. */
#define HDR(an) 0x12, 0x34, 0x81, 0x80, 0, 1, 0, (an), 0, 0, 0, 0
/* Question example.test MX IN, at offset 12; the answer starts at 30. */
#define QMX 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 0, 15, 0, 1
/* Type MX, class IN, TTL 256. */
#define MXHDR 0, 15, 0, 1, 0, 0, 1, 0

#define MALFORMED "the reply is malformed"

struct hostile {
	const char *what;
	const uint8_t *bytes;
	size_t len;
};

#define H(name, ...) static const uint8_t name[] = { __VA_ARGS__ }

/* The owner of the answer points at itself. */
H(ptr_self, HDR(1), QMX, 0xc0, 30, MXHDR, 0, 4, 0, 10, 0xc0, 12);
/* The exchange points at itself. */
H(ptr_self_rdata, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 4, 0, 10, 0xc0, 44);
/* Two pointers pointing at each other (offsets 44 and 46). */
H(ptr_loop, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 6, 0, 10, 0xc0, 46, 0xc0, 44);
/* A label, then a pointer back to before the label. */
H(ptr_loop_label, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 6, 0, 10, 1, 'a', 0xc0, 44);
/* The owner points forward to a copy of the name in the rdata. */
H(ptr_forward, HDR(1), QMX, 0xc0, 44, MXHDR, 0, 16, 0, 10, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4,
    't', 'e', 's', 't', 0);
/* The exchange points forward, past its own rdata. */
H(ptr_forward_rdata, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 4, 0, 10, 0xc0, 46, 2, 'm', 'x', 0);
/* The owner points past the end of the message. */
H(ptr_past_end, HDR(1), QMX, 0xc0, 0xff, MXHDR, 0, 4, 0, 10, 0xc0, 12);
/* Pointer with the high offset bits set (0x3fff). */
H(ptr_far, HDR(1), QMX, 0xff, 0xff, MXHDR, 0, 4, 0, 10, 0xc0, 12);
/* The message ends right after a pointer's first byte. */
H(ends_after_c0, HDR(1), QMX, 0xc0);
/* The exchange ends right after 0xc0, at the end of the message. */
H(ends_after_c0_rdata, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 3, 0, 10, 0xc0);
/* Label lengths 0x40 and 0x80 are not labels (RFC 6891 extended types). */
H(label_0x40, HDR(1), QMX, 0x40, 'a', 0, MXHDR, 0, 4, 0, 10, 0xc0, 12);
H(label_0x80, HDR(1), QMX, 0x80, 'a', 0, MXHDR, 0, 4, 0, 10, 0xc0, 12);
H(label_0xbf, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 5, 0, 10, 0xbf, 'a', 0);
/* The question name runs to the end of the message without a zero. */
H(name_no_zero, HDR(1), 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't');
/* The exchange has no terminating zero inside its RDLENGTH. */
H(name_no_zero_rdata, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 5, 0, 10, 2, 'm', 'x');
/* RDLENGTH 256 with 4 bytes left. */
H(rdlength_past_end, HDR(1), QMX, 0xc0, 12, MXHDR, 1, 0, 0, 10, 0xc0, 12);
/* MX rdata of 2 bytes: a preference and no exchange. */
H(mx_rdata_2, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 2, 0, 10);
/* MX rdata of 0 bytes. */
H(mx_rdata_0, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 0);
/* MX rdata of 6 bytes: preference, root, then 3 stray bytes. */
H(mx_rdata_trailing, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 6, 0, 0, 0, 1, 'a', 0);
/* MX rdata of 1 byte. */
H(mx_rdata_1, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 1, 0);
/* ANCOUNT 5, one record present. */
H(ancount_too_big, HDR(5), QMX, 0xc0, 12, MXHDR, 0, 4, 0, 10, 0xc0, 12);
/* ANCOUNT 65535, one record present. */
H(ancount_65535, 0x12, 0x34, 0x81, 0x80, 0, 1, 0xff, 0xff, 0, 0, 0, 0, QMX, 0xc0, 12, MXHDR, 0, 4,
    0, 10, 0xc0, 12);
/* QDCOUNT 2, one question present. */
H(qdcount_too_big, 0x12, 0x34, 0x81, 0x80, 0, 2, 0, 0, 0, 0, 0, 0, QMX);
/* The record header is cut short after the type. */
H(rr_header_cut, HDR(1), QMX, 0xc0, 12, 0, 15);
/* Eleven bytes: one short of a header. */
H(eleven_bytes, 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0);
/* A header promising a question, and nothing else. */
H(header_only, HDR(0));

static const struct hostile hostiles[] = {
#define E(n)                                                                                       \
	{                                                                                          \
#n, n, sizeof(n)                                                                   \
	}
	E(ptr_self),
	E(ptr_self_rdata),
	E(ptr_loop),
	E(ptr_loop_label),
	E(ptr_forward),
	E(ptr_forward_rdata),
	E(ptr_past_end),
	E(ptr_far),
	E(ends_after_c0),
	E(ends_after_c0_rdata),
	E(label_0x40),
	E(label_0x80),
	E(label_0xbf),
	E(name_no_zero),
	E(name_no_zero_rdata),
	E(rdlength_past_end),
	E(mx_rdata_2),
	E(mx_rdata_0),
	E(mx_rdata_1),
	E(mx_rdata_trailing),
	E(ancount_too_big),
	E(ancount_65535),
	E(qdcount_too_big),
	E(rr_header_cut),
	E(eleven_bytes),
	E(header_only),
	{ "zero_length", eleven_bytes, 0 },
#undef E
};

/* Checks one entry; a failure names the packet in the message. */
static void
check_hostile(const struct hostile *h)
{
	struct answer a;

	for (int t = 0; t < 3; t++) {
		uint16_t qtype = t == 0 ? RR_TYPE_MX : t == 1 ? RR_TYPE_A : RR_TYPE_AAAA;
		parse_bytes(h->bytes, h->len, qtype, &a);
		if (a.kind != ANSWER_TEMPFAIL || a.n_mx != 0 || a.n_addrs != 0 ||
		    a.why[0] == '\0') {
			size_t n_mx = a.n_mx, n_addrs = a.n_addrs;
			answer_clear(&a);
			fail_msg("%s (qtype %u): kind %d, %zu MX, %zu addresses, why \"%s\"",
			    h->what, qtype, a.kind, n_mx, n_addrs, a.why);
		}
		answer_clear(&a);
	}
}

#define HOSTILE_TEST(n)                                                                            \
	static void test_hostile_##n(void **state)                                                 \
	{                                                                                          \
		(void)state;                                                                       \
		check_hostile(&(struct hostile){ #n, n, sizeof(n) });                              \
	}
HOSTILE_TEST(ptr_forward)
HOSTILE_TEST(ptr_forward_rdata)
HOSTILE_TEST(mx_rdata_2)
HOSTILE_TEST(mx_rdata_1)
HOSTILE_TEST(mx_rdata_0)
HOSTILE_TEST(mx_rdata_trailing)

/* Every entry of the table but the ones with a test of their own. */
static void
test_hostile_bytes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostiles) / sizeof(hostiles[0]); i++) {
		const char *w = hostiles[i].what;
		if (strcmp(w, "ptr_forward") == 0 || strcmp(w, "ptr_forward_rdata") == 0 ||
		    strcmp(w, "mx_rdata_2") == 0 || strcmp(w, "mx_rdata_1") == 0 ||
		    strcmp(w, "mx_rdata_0") == 0 || strcmp(w, "mx_rdata_trailing") == 0)
			continue;
		check_hostile(&hostiles[i]);
	}
}

static void
test_malformed_reason(void **state)
{
	struct answer a;

	(void)state;
	parse_bytes(ptr_self, sizeof(ptr_self), RR_TYPE_MX, &a);
	assert_tempfail(&a, MALFORMED);
	answer_clear(&a);
	assert_int_equal(answer_parse(NULL, 100, QNAME, RR_TYPE_MX, &a), MX_OK);
	assert_tempfail(&a, MALFORMED);
	answer_clear(&a);
}

/* Sanity for the table: fixed, the same bytes parse. */
static void
test_hostile_baseline(void **state)
{
	H(good, HDR(1), QMX, 0xc0, 12, MXHDR, 0, 4, 0, 10, 0xc0, 12);
	struct answer a;

	(void)state;
	parse_bytes(good, sizeof(good), RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_mx, 1);
	assert_string_equal(a.mx[0].exchange, "example.test");
	assert_int_equal(a.mx[0].ttl, 256);
	answer_clear(&a);
}

/*
 * What libunbound refuses and the stub once read as answers: a query (QR
 * clear), another opcode, an OPT record outside the additional section.
 * Each packet is otherwise the good one of test_hostile_baseline.
 */
#define GOOD_MX QMX, 0xc0, 12, MXHDR, 0, 4, 0, 10, 0xc0, 12
#define OPT_RR  0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 /* root, OPT, 1232, no options */
H(qr_clear, 0x12, 0x34, 0x01, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, GOOD_MX);
H(opcode_iquery, 0x12, 0x34, 0x81 | (1 << 3), 0x80, 0, 1, 0, 1, 0, 0, 0, 0, GOOD_MX);
H(opcode_status, 0x12, 0x34, 0x81 | (2 << 3), 0x80, 0, 1, 0, 1, 0, 0, 0, 0, GOOD_MX);
H(opcode_notify, 0x12, 0x34, 0x81 | (4 << 3), 0x80, 0, 1, 0, 1, 0, 0, 0, 0, GOOD_MX);
H(opcode_update, 0x12, 0x34, 0x81 | (5 << 3), 0x80, 0, 1, 0, 1, 0, 0, 0, 0, GOOD_MX);
H(opt_in_answer, 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, GOOD_MX, OPT_RR);
H(opt_in_authority, 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 1, 0, 0, GOOD_MX, OPT_RR);
H(opt_in_additional, 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 1, GOOD_MX, OPT_RR);

static void
check_not_a_reply(const uint8_t *wire, size_t len, const char *why)
{
	struct answer a;

	parse_bytes(wire, len, RR_TYPE_MX, &a);
	assert_tempfail(&a, MALFORMED);
	if (strstr(a.why, why) == NULL)
		fail_msg("reason \"%s\" does not say \"%s\"", a.why, why);
	answer_clear(&a);
}

static void
test_not_a_reply(void **state)
{
	struct answer a;

	(void)state;
	check_not_a_reply(qr_clear, sizeof(qr_clear), "QR clear");
	check_not_a_reply(opcode_iquery, sizeof(opcode_iquery), "opcode");
	check_not_a_reply(opcode_status, sizeof(opcode_status), "opcode");
	check_not_a_reply(opcode_notify, sizeof(opcode_notify), "opcode");
	check_not_a_reply(opcode_update, sizeof(opcode_update), "opcode");
	check_not_a_reply(opt_in_answer, sizeof(opt_in_answer), "OPT record");
	check_not_a_reply(opt_in_authority, sizeof(opt_in_authority), "OPT record");
	/* Where OPT belongs, it changes nothing. */
	parse_bytes(opt_in_additional, sizeof(opt_in_additional), RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_mx, 1);
	answer_clear(&a);
}

/* ---- additional-section addresses (glue) ------------------------------ */

/* Kept: A and AAAA of exchanges at or below the domain, additional section only. */
static void
test_glue(void **state)
{
	struct answer a, copy;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "example.test. 300 IN MX 10 mx.example.test.");
	an(p, "example.test. 300 IN MX 20 mx.other.test.");
	an(p, "example.test. 300 IN MX 30 example.test.");
	add(p, LDNS_SECTION_AUTHORITY, "mx.example.test. 300 IN A 192.0.2.9");
	add(p, LDNS_SECTION_ADDITIONAL, "mx.example.test. 77 IN A 192.0.2.1");
	add(p, LDNS_SECTION_ADDITIONAL, "MX.Example.Test. 78 IN AAAA 2001:db8::1");
	add(p, LDNS_SECTION_ADDITIONAL, "mx.other.test. 300 IN A 192.0.2.66");
	add(p, LDNS_SECTION_ADDITIONAL, "www.example.test. 300 IN A 192.0.2.2");
	add(p, LDNS_SECTION_ADDITIONAL, "example.test. 300 IN A 192.0.2.3");
	add(p, LDNS_SECTION_ADDITIONAL, "mx.example.test. 300 IN TXT \"not an address\"");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_mx, 3);
	assert_int_equal(a.n_glue, 3);
	assert_string_equal(a.mx[a.glue[0].mx].exchange, "mx.example.test");
	assert_int_equal(a.glue[0].qtype, RR_TYPE_A);
	assert_string_equal(a.glue[0].addr.text, "192.0.2.1");
	assert_int_equal(a.glue[0].addr.ttl, 77);
	assert_string_equal(a.mx[a.glue[1].mx].exchange, "mx.example.test");
	assert_int_equal(a.glue[1].qtype, RR_TYPE_AAAA);
	assert_string_equal(a.glue[1].addr.text, "2001:db8::1");
	/* The domain itself as exchange is in its own bailiwick. */
	assert_string_equal(a.mx[a.glue[2].mx].exchange, "example.test");
	assert_string_equal(a.glue[2].addr.text, "192.0.2.3");
	assert_int_equal(answer_copy(&copy, &a), MX_OK);
	assert_int_equal(copy.n_glue, 3);
	assert_ptr_not_equal(copy.glue, a.glue);
	assert_string_equal(copy.glue[1].addr.text, "2001:db8::1");
	answer_clear(&copy);
	answer_clear(&a);
	assert_null(a.glue);
	assert_int_equal(a.n_glue, 0);
}

/* None: for other qtypes, for an out-of-bailiwick exchange, or without MX. */
static void
test_no_glue(void **state)
{
	struct answer a;
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);

	(void)state;
	an(p, "example.test. 300 IN MX 10 mx.other.test.");
	add(p, LDNS_SECTION_ADDITIONAL, "mx.other.test. 300 IN A 192.0.2.66");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.n_mx, 1);
	assert_int_equal(a.n_glue, 0);
	assert_null(a.glue);
	answer_clear(&a);

	p = reply(QNAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN A 192.0.2.1");
	add(p, LDNS_SECTION_ADDITIONAL, "example.test. 300 IN AAAA 2001:db8::1");
	parse(p, RR_TYPE_A, &a);
	assert_int_equal(a.n_addrs, 1);
	assert_int_equal(a.n_glue, 0);
	answer_clear(&a);

	/* Through a CNAME, the bailiwick is the chain's end. */
	p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	an(p, "example.test. 300 IN CNAME b.test.");
	an(p, "b.test. 300 IN MX 10 mx.b.test.");
	an(p, "b.test. 300 IN MX 20 mx.example.test.");
	add(p, LDNS_SECTION_ADDITIONAL, "mx.b.test. 300 IN A 192.0.2.1");
	add(p, LDNS_SECTION_ADDITIONAL, "mx.example.test. 300 IN A 192.0.2.66");
	parse(p, RR_TYPE_MX, &a);
	assert_int_equal(a.n_mx, 2);
	assert_int_equal(a.n_glue, 1);
	assert_string_equal(a.mx[a.glue[0].mx].exchange, "mx.b.test");
	answer_clear(&a);
}

/* ---- failures and clearing ------------------------------------------- */

static void
test_set_failure(void **state)
{
	struct answer a;

	(void)state;
	memset(&a, 0x5a, sizeof(a));
	answer_set_failure(&a, "no answer before the deadline", true);
	assert_int_equal(a.kind, ANSWER_TEMPFAIL);
	assert_true(a.timed_out);
	assert_false(a.cname_loop);
	assert_int_equal(a.security, SEC_UNKNOWN);
	assert_string_equal(a.why, "no answer before the deadline");
	assert_null(a.mx);
	assert_null(a.addrs);
	assert_int_equal(a.n_mx, 0);
	answer_clear(&a);
	answer_set_failure(&a, "x", false);
	assert_false(a.timed_out);
	answer_clear(&a);
	answer_clear(&a);
}

/* TLSA (RFC 6698) for DANE: fields and data kept, oversized data flagged. */
static void
test_tlsa(void **state)
{
	struct answer a;
	const char *qname = "_25._tcp.mx.example.test.";
	ldns_pkt *p = reply(qname, LDNS_RR_TYPE_TLSA, LDNS_RCODE_NOERROR);
	char big[2 * 80 + 1];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	an(p,
	    "_25._tcp.mx.example.test. 300 IN TLSA 3 1 1 "
	    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
	an(p,
	    "_25._tcp.mx.example.test. 300 IN TLSA 2 0 2 "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	{
		char rr[300];
		snprintf(rr, sizeof(rr), "_25._tcp.mx.example.test. 300 IN TLSA 3 0 0 %s", big);
		an(p, rr);
	}
	parse_as(p, qname, RR_TYPE_TLSA, &a);
	assert_int_equal(a.kind, ANSWER_RECORDS);
	assert_int_equal(a.n_tlsa, 3);
	assert_int_equal(a.tlsa[0].usage, 3);
	assert_int_equal(a.tlsa[0].selector, 1);
	assert_int_equal(a.tlsa[0].mtype, 1);
	assert_int_equal(a.tlsa[0].len, 32);
	assert_int_equal(a.tlsa[0].data[0], 0x01);
	assert_int_equal(a.tlsa[0].data[31], 0x20);
	assert_int_equal(a.tlsa[1].usage, 2);
	assert_int_equal(a.tlsa[1].len, 64);
	assert_false(a.tlsa[1].too_long);
	assert_true(a.tlsa[2].too_long);
	assert_int_equal(a.tlsa[2].len, 0);
	answer_clear(&a);

	/* TLSA rdata shorter than usage, selector, type and one byte: malformed. */
	{
		static const uint8_t head[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3,
			'_', '2', '5', 4, '_', 't', 'c', 'p', 2, 'm', 'x', 7, 'e', 'x', 'a', 'm',
			'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 0, 52, 0, 1, 0xc0, 12, 0, 52, 0, 1,
			0, 0, 1, 0, 0, 3, 3, 1, 1 };
		assert_int_equal(answer_parse(head, sizeof(head), qname, RR_TYPE_TLSA, &a), MX_OK);
		assert_int_equal(a.kind, ANSWER_TEMPFAIL);
		assert_int_equal(a.n_tlsa, 0);
		answer_clear(&a);
	}
}

/* ---- names in wire form, against ldns ---------------------------------- */

/* answer_qname_wire(text) must give ldns_str2rdf_dname's bytes, or fail where it fails. */
static void
assert_qname_like_ldns(const char *text)
{
	uint8_t ours[WIRE_NAME_MAX];
	size_t len = answer_qname_wire(text, ours);
	ldns_rdf *rdf = NULL;

	if (ldns_str2rdf_dname(&rdf, text) != LDNS_STATUS_OK) {
		if (len != 0)
			fail_msg(
			    "\"%s\": ldns refuses it, answer_qname_wire gave %zu bytes", text, len);
		return;
	}
	if (len != ldns_rdf_size(rdf) || memcmp(ours, ldns_rdf_data(rdf), len) != 0)
		fail_msg("\"%s\": %zu bytes, ldns %zu", text, len, ldns_rdf_size(rdf));
	ldns_rdf_deep_free(rdf);
}

static void
test_qname_wire(void **state)
{
	static const char *const fixed[] = { ".", "a.", "MX1.Example.COM.", "_25._tcp.mx.test.",
		"a b.c(d).", "x..", "..", ".a.", "", "a", "a.b", "\\.a.", "a\\.b.", "a\\065.",
		"-.-.", "\x7f\xc3\xa9.test." };
	char text[600];
	uint64_t seed = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		assert_qname_like_ldns(fixed[i]);
	/* The fast path (no ldns) takes plain names, absolute or not. */
	{
		uint8_t w[WIRE_NAME_MAX];
		assert_int_equal(wire_name_from_text("mx1.example.com.", w), 17);
		assert_int_equal(wire_name_from_text("mx1.example.com", w), 17);
		assert_int_equal(wire_name_from_text("", w), 0);
		assert_int_equal(wire_name_from_text("a\\.b.", w), 0);
	}
	/* Random names around every limit: labels of 0 to 64 bytes, names
	 * of up to 300, odd bytes, dots doubled or missing at the end. */
	for (int n = 0; n < 20000; n++) {
		size_t o = 0, labels;
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		labels = 1 + seed % 8;
		for (size_t l = 0; l < labels && o < 500; l++) {
			size_t len;
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			len = (seed >> 8) % 4 == 0 ? 60 + seed % 6 : seed % 40;
			for (size_t k = 0; k < len && o < 500; k++) {
				seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
				text[o++] = (seed >> 16) % 50 == 0
				    ? (char)(1 + (seed >> 24) % 127)
				    : (char)('a' + (seed >> 24) % 26);
			}
			text[o++] = '.';
		}
		if (seed % 10 == 0)
			o--; /* no trailing dot */
		text[o] = '\0';
		assert_qname_like_ldns(text);
	}
}

/* wire_name_read must decompress as ldns_wire2dname does: every name ldns
 * compressed into a reply, owners and exchanges, byte for byte. */
static void
test_name_read(void **state)
{
	ldns_pkt *p = reply(QNAME, LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	uint8_t *wire = NULL, out[WIRE_NAME_MAX];
	size_t len = 0, pos, checked = 0;
	struct wire_rr rr;

	(void)state;
	an(p, "example.test. 300 IN MX 10 mx1.example.test.");
	an(p, "example.test. 300 IN MX 20 MX2.sub.Example.test.");
	an(p, "example.test. 300 IN MX 30 mx.other.test.");
	add(p, LDNS_SECTION_ADDITIONAL, "mx1.example.test. 300 IN A 127.0.0.1");
	add(p, LDNS_SECTION_ADDITIONAL, "mx2.sub.example.test. 300 IN AAAA ::1");
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	assert_true(wire_skip_question(wire, len, &pos));
	while (pos < len && wire_next_rr(wire, len, &pos, &rr)) {
		size_t at[2] = { rr.owner, rr.rdata + 2 };
		for (int k = 0; k < (rr.type == LDNS_RR_TYPE_MX ? 2 : 1); k++) {
			ldns_rdf *rdf = NULL;
			size_t from = at[k], n = wire_name_read(wire, len, from, out);
			assert_int_equal(ldns_wire2dname(&rdf, wire, len, &from), LDNS_STATUS_OK);
			assert_int_equal(n, ldns_rdf_size(rdf));
			assert_memory_equal(out, ldns_rdf_data(rdf), n);
			ldns_rdf_deep_free(rdf);
			checked++;
		}
	}
	assert_int_equal(checked, 3 * 2 + 2);
	/* A pointer forwards, and one into the header, read as no name. */
	wire[len - 2] = 0xc0;
	assert_int_equal(wire_name_read(wire, len, len - 2, out), 0);
	free(wire);
	{
		static const uint8_t ahead[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1,
			'a', 0 };
		static const uint8_t header[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0,
			3 };
		assert_int_equal(wire_name_read(ahead, sizeof(ahead), 12, out), 0);
		assert_int_equal(wire_name_read(ahead, sizeof(ahead), 14, out), 3);
		assert_int_equal(wire_name_read(header, sizeof(header), 12, out), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_records),
		cmocka_unit_test(test_question_case_insensitive),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_cname_chain_limit),
		cmocka_unit_test(test_cname_loop),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_nodata),
		cmocka_unit_test(test_rcodes),
		cmocka_unit_test(test_rcode_without_question),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_question_mismatch),
		cmocka_unit_test(test_bad_qname),
		cmocka_unit_test(test_foreign_records_ignored),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_ipv4_text),
		cmocka_unit_test(test_rdata_length_baseline),
		cmocka_unit_test(test_empty_address_rdata),
		cmocka_unit_test(test_a_long_rdata),
		cmocka_unit_test(test_aaaa_long_rdata),
		cmocka_unit_test(test_short_address_rdata),
		cmocka_unit_test(test_ttl_top_bit),
		cmocka_unit_test(test_exchange_names),
		cmocka_unit_test(test_mx_cap),
		cmocka_unit_test(test_addr_cap),
		cmocka_unit_test(test_hostile_baseline),
		cmocka_unit_test(test_hostile_bytes),
		cmocka_unit_test(test_hostile_ptr_forward),
		cmocka_unit_test(test_hostile_ptr_forward_rdata),
		cmocka_unit_test(test_hostile_mx_rdata_2),
		cmocka_unit_test(test_hostile_mx_rdata_1),
		cmocka_unit_test(test_hostile_mx_rdata_0),
		cmocka_unit_test(test_hostile_mx_rdata_trailing),
		cmocka_unit_test(test_malformed_reason),
		cmocka_unit_test(test_not_a_reply),
		cmocka_unit_test(test_tlsa),
		cmocka_unit_test(test_set_failure),
		cmocka_unit_test(test_glue),
		cmocka_unit_test(test_no_glue),
		cmocka_unit_test(test_qname_wire),
		cmocka_unit_test(test_name_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
