/*
 * answer.c - reads one DNS reply with ldns (ldns_wire2pkt does the
 * bounds-checked wire parsing) and extracts what routing needs: outcome,
 * CNAME chain, MX or address records with their TTLs.  Pure: it never
 * resolves, it only reads the bytes it is given.  The caller owns struct
 * answer and frees its arrays with answer_clear.
 */
#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "grow.h"
#include "name.h"
#include "wire.h"

/* RFC 2181 section 8: a TTL with the top bit set is read as zero. */
static uint32_t
clamp_ttl(uint32_t ttl)
{
	return ttl >= 0x80000000u ? 0 : ttl;
}

static void
set_why(struct answer *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
}

static bool
is_ldh(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/*
 * Writes a wire-format name as lower-case text without the trailing dot
 * ("" for the root), escaping what no host name holds (\DDD, \.), and
 * says whether it is a valid host name.  ldns has already checked that
 * the labels fit inside the rdf.
 */
static void
dname_text(const ldns_rdf *rdf, char out[NAME_TEXT_MAX], bool *bad)
{
	const uint8_t *p = ldns_rdf_data(rdf);
	size_t size = ldns_rdf_size(rdf), pos = 0, o = 0;

	*bad = false;
	while (pos < size && p[pos] != 0) {
		uint8_t len = p[pos++];
		if (pos + len > size)
			break;
		if (o > 0)
			out[o++] = '.';
		if (p[pos] == '-' || p[pos + len - 1] == '-')
			*bad = true;
		for (uint8_t i = 0; i < len && o + 5 < NAME_TEXT_MAX; i++) {
			uint8_t c = p[pos + i];
			if (is_ldh(c)) {
				out[o++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
				continue;
			}
			*bad = true;
			o += (size_t)snprintf(out + o, NAME_TEXT_MAX - o, "\\%03u", c);
		}
		pos += len;
	}
	out[o] = '\0';
	if (o > MX_DOMAIN_MAX)
		*bad = true;
}

static const char *
rcode_name(uint8_t rcode)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED"};

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "an unknown rcode";
}

/* The reply must answer exactly our question (spoofing and mix-up guard). */
static bool
question_matches(const ldns_pkt *pkt, const ldns_rdf *qname, uint16_t qtype)
{
	const ldns_rr_list *q = ldns_pkt_question(pkt);
	const ldns_rr *rr;

	if (q == NULL || ldns_rr_list_rr_count(q) != 1)
		return false;
	rr = ldns_rr_list_rr(q, 0);
	return ldns_rr_get_type(rr) == qtype &&
	    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	    ldns_dname_compare(ldns_rr_owner(rr), qname) == 0;
}

static const ldns_rr *
find_cname(const ldns_rr_list *list, const ldns_rdf *owner)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
		    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		    ldns_rr_rd_count(rr) == 1 &&
		    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			return rr;
	}
	return NULL;
}

/* Follows the CNAME chain from qname; returns its end (borrowed from pkt). */
static const ldns_rdf *
follow_cnames(const ldns_rr_list *list, const ldns_rdf *qname, struct answer *a)
{
	const ldns_rdf *seen[ANSWER_MAX_CNAME_HOPS + 1];
	const ldns_rdf *cur = qname;
	const ldns_rr *rr;

	seen[0] = qname;
	while ((rr = find_cname(list, cur)) != NULL) {
		cur = ldns_rr_rdf(rr, 0);
		for (unsigned i = 0; i <= a->cname_hops; i++) {
			if (ldns_dname_compare(seen[i], cur) == 0) {
				a->cname_loop = true;
				return NULL;
			}
		}
		if (++a->cname_hops > ANSWER_MAX_CNAME_HOPS) {
			a->cname_loop = true;
			return NULL;
		}
		seen[a->cname_hops] = cur;
	}
	return cur;
}

static mx_err
add_mx(struct answer *a, const ldns_rr *rr)
{
	struct answer_mx *m;
	const ldns_rdf *pref = ldns_rr_mx_preference(rr);
	const ldns_rdf *exch = ldns_rr_mx_exchange(rr);

	if (pref == NULL || exch == NULL || a->n_mx >= ANSWER_MAX_MX)
		return MX_OK;
	if (!array_grow((void **)&a->mx, a->n_mx, sizeof(*a->mx)))
		return MX_ERR_NOMEM;
	m = &a->mx[a->n_mx++];
	memset(m, 0, sizeof(*m));
	m->preference = ldns_rdf2native_int16(pref);
	m->ttl = clamp_ttl(ldns_rr_ttl(rr));
	dname_text(exch, m->exchange, &m->bad_name);
	m->is_null = m->exchange[0] == '\0';
	return MX_OK;
}

static mx_err
add_addr(struct answer *a, const ldns_rr *rr, uint16_t qtype)
{
	struct plan_addr *ad;
	const ldns_rdf *rdf = ldns_rr_rdf(rr, 0);
	size_t want = qtype == RR_TYPE_A ? 4 : 16;

	/* An A record of 16 bytes, or the like, is not an address. */
	if (rdf == NULL || ldns_rdf_size(rdf) != want || a->n_addrs >= ANSWER_MAX_ADDRS)
		return MX_OK;
	if (!array_grow((void **)&a->addrs, a->n_addrs, sizeof(*a->addrs)))
		return MX_ERR_NOMEM;
	ad = &a->addrs[a->n_addrs++];
	memset(ad, 0, sizeof(*ad));
	ad->family = qtype == RR_TYPE_A ? AF_INET : AF_INET6;
	memcpy(ad->bytes, ldns_rdf_data(rdf), want);
	ad->ttl = clamp_ttl(ldns_rr_ttl(rr));
	inet_ntop(ad->family, ad->bytes, ad->text, sizeof(ad->text));
	return MX_OK;
}

static mx_err
add_tlsa(struct answer *a, const ldns_rr *rr)
{
	struct answer_tlsa *t;
	const ldns_rdf *assoc;

	if (ldns_rr_rd_count(rr) != 4 || a->n_tlsa >= ANSWER_MAX_TLSA)
		return MX_OK;
	if (!array_grow((void **)&a->tlsa, a->n_tlsa, sizeof(*a->tlsa)))
		return MX_ERR_NOMEM;
	t = &a->tlsa[a->n_tlsa++];
	memset(t, 0, sizeof(*t));
	t->usage = ldns_rdf2native_int8(ldns_rr_rdf(rr, 0));
	t->selector = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
	t->mtype = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
	assoc = ldns_rr_rdf(rr, 3);
	if (ldns_rdf_size(assoc) > TLSA_DATA_MAX) {
		t->too_long = true;
		return MX_OK;
	}
	t->len = ldns_rdf_size(assoc);
	memcpy(t->data, ldns_rdf_data(assoc), t->len);
	return MX_OK;
}

static mx_err
add_record(struct answer *a, const ldns_rr *rr, uint16_t qtype)
{
	switch (qtype) {
	case RR_TYPE_MX: return add_mx(a, rr);
	case RR_TYPE_TLSA: return add_tlsa(a, rr);
	default: return add_addr(a, rr, qtype);
	}
}

/* Collects the records of qtype owned by the end of the chain. */
static mx_err
collect(const ldns_rr_list *list, const ldns_rdf *owner, uint16_t qtype,
    struct answer *a)
{
	mx_err err = MX_OK;

	for (size_t i = 0; i < ldns_rr_list_rr_count(list) && err == MX_OK; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) != qtype ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		err = add_record(a, rr, qtype);
	}
	return err;
}

/* RFC 2308 section 5: a negative answer lives min(SOA TTL, SOA MINIMUM). */
static uint32_t
negative_ttl(const ldns_pkt *pkt)
{
	const ldns_rr_list *auth = ldns_pkt_authority(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);
		const ldns_rdf *min;
		uint32_t ttl;
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7)
			continue;
		min = ldns_rr_rdf(rr, 6);
		ttl = clamp_ttl(ldns_rr_ttl(rr));
		if (ldns_rdf_size(min) == 4 && ldns_rdf2native_int32(min) < ttl)
			ttl = clamp_ttl(ldns_rdf2native_int32(min));
		return ttl;
	}
	return 0;
}

static mx_err
read_packet(const ldns_pkt *pkt, const ldns_rdf *qname, uint16_t qtype,
    struct answer *a)
{
	const ldns_rr_list *ans = ldns_pkt_answer(pkt);
	const ldns_rdf *end;
	bool bad;
	mx_err err;

	a->rcode = (uint8_t)ldns_pkt_get_rcode(pkt);
	/* A failure is temporary whatever else the reply holds (some error
	 * replies carry no question section). */
	if (a->rcode != LDNS_RCODE_NOERROR && a->rcode != LDNS_RCODE_NXDOMAIN) {
		set_why(a, "the resolver answered %s", rcode_name(a->rcode));
		return MX_OK;
	}
	if (!question_matches(pkt, qname, qtype)) {
		set_why(a, "the reply does not answer the question asked");
		return MX_OK;
	}
	if (ldns_pkt_tc(pkt)) {
		set_why(a, "the reply was truncated");
		return MX_OK;
	}
	if ((end = follow_cnames(ans, qname, a)) == NULL) {
		set_why(a, "the CNAME chain loops or is longer than %d",
		    ANSWER_MAX_CNAME_HOPS);
		return MX_OK;
	}
	dname_text(end, a->canonical, &bad);
	a->negative_ttl = negative_ttl(pkt);
	if (a->rcode == LDNS_RCODE_NXDOMAIN) {
		a->kind = ANSWER_NXDOMAIN;
		return MX_OK;
	}
	if ((err = collect(ans, end, qtype, a)) != MX_OK)
		return err;
	a->kind = (a->n_mx > 0 || a->n_addrs > 0 || a->n_tlsa > 0) ?
	    ANSWER_RECORDS : ANSWER_NODATA;
	return MX_OK;
}

mx_err
answer_parse(const uint8_t *wire, size_t len, const char *qname,
    uint16_t qtype, struct answer *out)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *qrdf = NULL;
	const char *why;
	mx_err err = MX_OK;

	memset(out, 0, sizeof(*out));
	out->kind = ANSWER_TEMPFAIL;
	if (ldns_str2rdf_dname(&qrdf, qname) != LDNS_STATUS_OK) {
		set_why(out, "the question name is not a domain name");
		goto out;
	}
	if ((why = wire_check(wire, len)) != NULL) {
		set_why(out, "%s", why);
		goto out;
	}
	if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK) {
		set_why(out, "the reply is malformed");
		goto out;
	}
	err = read_packet(pkt, qrdf, qtype, out);
out:
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(qrdf);
	if (err != MX_OK)
		answer_clear(out);
	return err;
}

void
answer_set_failure(struct answer *out, const char *why, bool timed_out)
{
	memset(out, 0, sizeof(*out));
	out->kind = ANSWER_TEMPFAIL;
	out->timed_out = timed_out;
	set_why(out, "%s", why);
}

mx_err
answer_copy(struct answer *dst, const struct answer *src)
{
	*dst = *src;
	dst->mx = NULL;
	dst->addrs = NULL;
	dst->tlsa = NULL;
	if (src->n_tlsa > 0 && (dst->tlsa = malloc(src->n_tlsa * sizeof(*src->tlsa))) == NULL)
		goto fail;
	if (src->n_tlsa > 0)
		memcpy(dst->tlsa, src->tlsa, src->n_tlsa * sizeof(*src->tlsa));
	if (src->n_mx > 0 && (dst->mx = malloc(src->n_mx * sizeof(*src->mx))) == NULL)
		goto fail;
	if (src->n_addrs > 0 &&
	    (dst->addrs = malloc(src->n_addrs * sizeof(*src->addrs))) == NULL)
		goto fail;
	if (src->n_mx > 0)
		memcpy(dst->mx, src->mx, src->n_mx * sizeof(*src->mx));
	if (src->n_addrs > 0)
		memcpy(dst->addrs, src->addrs, src->n_addrs * sizeof(*src->addrs));
	return MX_OK;
fail:
	answer_clear(dst);
	return MX_ERR_NOMEM;
}

void
answer_clear(struct answer *a)
{
	free(a->mx);
	free(a->addrs);
	free(a->tlsa);
	a->mx = NULL;
	a->addrs = NULL;
	a->tlsa = NULL;
	a->n_mx = a->n_addrs = a->n_tlsa = 0;
}
