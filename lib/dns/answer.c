/*
 * answer.c - reads one DNS reply and extracts what routing needs: outcome,
 * CNAME chain, MX or address records with their TTLs.  wire.c checks the
 * message's structure, locates its records and decompresses the names
 * read here (wire_name_read).  Pure: it never
 * resolves, it only reads the bytes it is given.  The caller owns struct
 * answer and frees its arrays and text (its store) with answer_clear.
 */
#include <arpa/inet.h>
/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * and this file's structs would disagree with every other file's. */
#include <stdbool.h>
#include <ldns/ldns.h>
_Static_assert((bool)2 == 1, "bool must be _Bool here: include <stdbool.h> before ldns");
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "grow.h"
#include "name.h"
#include "strbuf.h"
#include "wire.h"

/* RFC 2181 section 8: a TTL with the top bit set is read as zero. */
static uint32_t
clamp_ttl(uint32_t ttl)
{
	return ttl >= 0x80000000u ? 0 : ttl;
}

/* Out of memory, the why says so rather than nothing. */
static void
set_why(struct answer *a, const char *fmt, ...)
{
	char buf[ANSWER_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((a->why = answer_text(a, buf)) == NULL)
		a->why = "out of memory";
}

/* A name in wire form, uncompressed (wire_name_read). */
struct dname {
	size_t len;
	uint8_t b[WIRE_NAME_MAX];
};

/*
 * Writes a wire-format name as lower-case text without the trailing dot
 * ("" for the root), escaping what no host name holds (\DDD, \.), and
 * says whether it is a valid host name.  wire_name_read has already
 * checked that the labels fit inside the name.
 */
static void
dname_text(const struct dname *name, char out[NAME_TEXT_MAX], bool *bad)
{
	const uint8_t *p = name->b;
	size_t size = name->len, pos = 0;
	struct strbuf sb;

	*bad = false;
	/* 255 octets, each at most \ddd, fit NAME_TEXT_MAX: never cut */
	strbuf_init(&sb, out, NAME_TEXT_MAX);
	while (pos < size && p[pos] != 0) {
		uint8_t len = p[pos++];
		if (pos + len > size)
			break;
		if (sb.len > 0)
			strbuf_addc(&sb, '.');
		if (p[pos] == '-' || p[pos + len - 1] == '-')
			*bad = true;
		for (uint8_t i = 0; i < len; i++) {
			uint8_t c = p[pos + i], lower = c | 0x20;
			if (lower >= 'a' && lower <= 'z') {
				strbuf_addc(&sb, (char)lower);
				continue;
			}
			if ((c >= '0' && c <= '9') || c == '-') {
				strbuf_addc(&sb, (char)c);
				continue;
			}
			*bad = true;
			strbuf_printf(&sb, "\\%03u", c);
		}
		pos += len;
	}
	if (sb.len > MX_DOMAIN_MAX || sb.truncated)
		*bad = true;
}

static const char *
rcode_name(uint8_t rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
		"REFUSED" };

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "an unknown rcode";
}

/*
 * The reply as answer.c reads it: wire.c has checked its structure, so
 * records are located in place (wire_next_rr) and only the names routing
 * compares or keeps are decompressed, onto the stack.  Building a
 * whole ldns_pkt made an object for every record of every section (NS
 * and glue included) and cost a seventh of the bulk path's CPU.
 */
#define REPLY_EXCHANGES_AT 16 /* exchanges whose name offsets are kept */

struct reply {
	const uint8_t *wire;
	size_t len;
	const struct dname *qname; /* the question, once it is known to match */
	struct wire_rr *an;        /* every record, the answer section's first */
	size_t n_an, n_ns, n_ar;
	/* Where the first exchanges' names start (answer mx[k]), for glue. */
	size_t exchange_at[REPLY_EXCHANGES_AT];
};

#define REPLY_STACK_RRS  32
#define MIN_RR_WIRE      11 /* the root as owner and the fixed ten bytes */
#define QUESTION_NAME_AT WIRE_HEADER_LEN

/*
 * The offset a name at pos continues at when it is nothing but a
 * compression pointer (what servers write for a repeated name), or 0.
 * wire.c has checked every pointer: it stays inside the message and
 * points backwards.  Two names that lead to the same offset are the same
 * name, byte for byte: that is how most owner names are judged without
 * decompressing them.
 */
static size_t
pointer_target(const struct reply *r, size_t pos)
{
	if (pos + 2 > r->len || (r->wire[pos] & 0xC0) != 0xC0)
		return 0;
	return (size_t)(r->wire[pos] & 0x3F) << 8 | r->wire[pos + 1];
}

/*
 * Whether two uncompressed names are the same, ignoring ASCII case (RFC
 * 4343).  ldns_dname_compare orders names, lower-casing copies of both
 * to do it; equality needs neither.  Length bytes (below 64) are never
 * letters, so one pass over the bytes compares the labels.
 */
static bool
wire_names_equal(const uint8_t *p, size_t n, const uint8_t *q, size_t m)
{
	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t a = p[i], b = q[i];
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

static bool
names_equal(const struct dname *x, const struct dname *y)
{
	return wire_names_equal(x->b, x->len, y->b, y->len);
}

/* Whether the name in [pos, end) (wire.c has walked it) holds a pointer. */
static bool
has_pointer(const struct reply *r, size_t pos, size_t end)
{
	while (pos < end && r->wire[pos] != 0) {
		if ((r->wire[pos] & 0xC0) != 0)
			return true;
		pos += (size_t)r->wire[pos] + 1;
	}
	return false;
}

/* The name at pos, decompressed into out; false if it cannot be read. */
static bool
name_at(const struct reply *r, size_t pos, struct dname *out)
{
	return (out->len = wire_name_read(r->wire, r->len, pos, out->b)) != 0;
}

/* Whether answer record i is owned by name; a name that cannot be read owns nothing. */
static bool
owned_by(const struct reply *r, size_t i, const struct dname *name)
{
	struct dname owner;

	if (name == r->qname && pointer_target(r, r->an[i].owner) == QUESTION_NAME_AT)
		return true;
	return name_at(r, r->an[i].owner, &owner) && names_equal(&owner, name);
}

/* The reply must answer exactly our question (spoofing and mix-up guard). */
static bool
question_matches(const struct reply *r, const struct dname *qname, uint16_t qtype)
{
	size_t pos = QUESTION_NAME_AT, end;
	struct dname name;

	if (wire_get16(r->wire + 4) != 1 || !wire_name_end(r->wire, r->len, pos, &end) ||
	    end + 4 > r->len || wire_get16(r->wire + end) != qtype ||
	    wire_get16(r->wire + end + 2) != LDNS_RR_CLASS_IN)
		return false;
	/* The first name of a message has nothing before it to point at: it
	 * is plain labels, compared where it lies, unless a hostile reply
	 * points back into it (then it is decompressed). */
	if (!has_pointer(r, pos, end))
		return wire_names_equal(r->wire + pos, end - pos, qname->b, qname->len);
	return name_at(r, pos, &name) && names_equal(&name, qname);
}

/* The CNAME record owned by owner: its index, or n_an if none. */
static size_t
find_cname(const struct reply *r, const struct dname *owner)
{
	for (size_t i = 0; i < r->n_an; i++)
		if (r->an[i].type == LDNS_RR_TYPE_CNAME && r->an[i].class == LDNS_RR_CLASS_IN &&
		    owned_by(r, i, owner))
			return i;
	return r->n_an;
}

/*
 * Follows the CNAME chain from qname; returns its end in *end (qname
 * itself, or one of targets[]), false on a loop or too long a chain.
 */
static bool
follow_cnames(const struct reply *r, const struct dname *qname, struct answer *a,
    struct dname targets[ANSWER_MAX_CNAME_HOPS + 1], const struct dname **end)
{
	const struct dname *cur = qname;
	size_t i;

	while ((i = find_cname(r, cur)) < r->n_an) {
		struct dname *next = &targets[a->cname_hops];
		if (!name_at(r, r->an[i].rdata, next))
			break; /* wire.c has checked it: cannot happen */
		if (names_equal(qname, next)) {
			a->cname_loop = true;
			return false;
		}
		for (unsigned k = 0; k < a->cname_hops; k++) {
			if (names_equal(&targets[k], next)) {
				a->cname_loop = true;
				return false;
			}
		}
		if (a->cname_hops >= ANSWER_MAX_CNAME_HOPS) {
			a->cname_hops++;
			a->cname_loop = true;
			return false;
		}
		a->cname_hops++;
		cur = next;
	}
	*end = cur;
	return true;
}

static mx_err
add_mx(struct answer *a, struct reply *r, const struct wire_rr *rr)
{
	char text[NAME_TEXT_MAX];
	struct answer_mx *m;
	struct dname exch;

	if (rr->rdlen < 3 || a->n_mx >= ANSWER_MAX_MX)
		return MX_OK;
	if (!name_at(r, rr->rdata + 2, &exch))
		return MX_OK;
	if (!array_grow((void **)&a->mx, a->n_mx, sizeof(*a->mx)))
		return MX_ERR_NOMEM;
	m = &a->mx[a->n_mx];
	m->preference = wire_get16(r->wire + rr->rdata);
	m->ttl = clamp_ttl(rr->ttl);
	dname_text(&exch, text, &m->bad_name);
	if ((m->exchange = answer_text(a, text)) == NULL)
		return MX_ERR_NOMEM;
	m->is_null = m->exchange[0] == '\0';
	if (a->n_mx < REPLY_EXCHANGES_AT)
		r->exchange_at[a->n_mx] = rr->rdata + 2;
	a->n_mx++;
	return MX_OK;
}

/*
 * The address's text.  IPv4 by hand: glibc's inet_ntop formats it with
 * sprintf, a few per cent of the bulk path by itself; IPv6 (RFC 5952's
 * zero compression) is left to inet_ntop.
 */
static void
addr_text(struct ip_addr *ad)
{
	char *p = ad->text;

	if (ad->family != AF_INET) {
		inet_ntop(ad->family, ad->bytes, ad->text, sizeof(ad->text));
		return;
	}
	for (int i = 0; i < 4; i++) {
		unsigned v = ad->bytes[i];
		if (i > 0)
			*p++ = '.';
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
	}
	*p = '\0';
}

static mx_err
add_addr(struct answer *a, const struct reply *r, const struct wire_rr *rr)
{
	struct ip_addr *ad;
	size_t want = rr->type == RR_TYPE_A ? 4 : 16;

	/* An A record of 16 bytes, or the like, is not an address. */
	if (rr->rdlen != want || a->n_addrs >= ANSWER_MAX_ADDRS)
		return MX_OK;
	if (!array_grow((void **)&a->addrs, a->n_addrs, sizeof(*a->addrs)))
		return MX_ERR_NOMEM;
	ad = &a->addrs[a->n_addrs++];
	memset(ad, 0, sizeof(*ad));
	ad->family = rr->type == RR_TYPE_A ? AF_INET : AF_INET6;
	memcpy(ad->bytes, r->wire + rr->rdata, want);
	ad->ttl = clamp_ttl(rr->ttl);
	addr_text(ad);
	return MX_OK;
}

static mx_err
add_tlsa(struct answer *a, const struct reply *r, const struct wire_rr *rr)
{
	struct answer_tlsa *t;
	const uint8_t *d = r->wire + rr->rdata;

	/* Usage, selector, matching type and at least one byte of data. */
	if (rr->rdlen < 4 || a->n_tlsa >= ANSWER_MAX_TLSA)
		return MX_OK;
	if (!array_grow((void **)&a->tlsa, a->n_tlsa, sizeof(*a->tlsa)))
		return MX_ERR_NOMEM;
	t = &a->tlsa[a->n_tlsa++];
	memset(t, 0, sizeof(*t));
	t->usage = d[0];
	t->selector = d[1];
	t->mtype = d[2];
	if ((size_t)rr->rdlen - 3 > TLSA_DATA_MAX) {
		t->too_long = true;
		return MX_OK;
	}
	t->len = (size_t)rr->rdlen - 3;
	memcpy(t->data, d + 3, t->len);
	return MX_OK;
}

static mx_err
add_record(struct answer *a, struct reply *r, const struct wire_rr *rr)
{
	switch (rr->type) {
	case RR_TYPE_MX: return add_mx(a, r, rr);
	case RR_TYPE_TLSA: return add_tlsa(a, r, rr);
	default: return add_addr(a, r, rr);
	}
}

/* Collects the records of qtype owned by the end of the chain. */
static mx_err
collect(struct reply *r, const struct dname *owner, uint16_t qtype, struct answer *a)
{
	mx_err err = MX_OK;

	for (size_t i = 0; i < r->n_an && err == MX_OK; i++) {
		if (r->an[i].type != qtype || r->an[i].class != LDNS_RR_CLASS_IN ||
		    !owned_by(r, i, owner))
			continue;
		err = add_record(a, r, &r->an[i]);
	}
	return err;
}

/*
 * RFC 2308 section 5: a negative answer lives min(SOA TTL, SOA MINIMUM).
 * MINIMUM is the last of the five numbers after the two names.
 */
static uint32_t
negative_ttl(const struct reply *r)
{
	for (size_t i = r->n_an; i < r->n_an + r->n_ns; i++) {
		const struct wire_rr *rr = &r->an[i];
		size_t end = rr->rdata + rr->rdlen;
		uint32_t ttl, min;
		if (rr->type != LDNS_RR_TYPE_SOA)
			continue;
		if (!wire_name_end(r->wire, end, rr->rdata, &end) ||
		    !wire_name_end(r->wire, rr->rdata + rr->rdlen, end, &end) ||
		    end + 20 != rr->rdata + rr->rdlen)
			continue;
		ttl = clamp_ttl(rr->ttl);
		min = wire_get32(r->wire + end + 16);
		return min < ttl ? clamp_ttl(min) : ttl;
	}
	return 0;
}

/* Whether host is zone or a name below it (both as dname_text writes them). */
static bool
in_bailiwick(const char *host, const char *zone)
{
	size_t lh = strlen(host), lz = strlen(zone);

	if (lz == 0)
		return true; /* the root */
	return strcmp(host, zone) == 0 ||
	    (lh > lz && host[lh - lz - 1] == '.' && strcmp(host + lh - lz, zone) == 0);
}

/* The in-bailiwick exchange (not a null or bad one) named name, or n_mx. */
static size_t
exchange_index(const struct answer *a, const char *text, bool bad)
{
	if (bad || !in_bailiwick(text, answer_canonical(a)))
		return a->n_mx;
	for (size_t i = 0; i < a->n_mx; i++)
		if (!a->mx[i].is_null && !a->mx[i].bad_name && strcmp(a->mx[i].exchange, text) == 0)
			return i;
	return a->n_mx;
}

static mx_err
add_glue(struct answer *a, const struct reply *r, const struct wire_rr *rr, size_t mx)
{
	struct answer_glue *g;
	size_t want = rr->type == RR_TYPE_A ? 4 : 16;

	if (rr->rdlen != want || a->n_glue >= ANSWER_MAX_GLUE)
		return MX_OK;
	if (!array_grow((void **)&a->glue, a->n_glue, sizeof(*a->glue)))
		return MX_ERR_NOMEM;
	g = &a->glue[a->n_glue++];
	memset(g, 0, sizeof(*g));
	g->mx = mx;
	g->qtype = rr->type;
	g->addr.family = rr->type == RR_TYPE_A ? AF_INET : AF_INET6;
	memcpy(g->addr.bytes, r->wire + rr->rdata, want);
	g->addr.ttl = clamp_ttl(rr->ttl);
	addr_text(&g->addr);
	return MX_OK;
}

/*
 * The exchange (index into a->mx) that owns a glue record whose owner name
 * is at pos, or n_mx.  An owner that points at an exchange's name in the
 * answer section is that exchange's text already; others are read.
 */
static size_t
glue_owner(const struct reply *r, const struct answer *a, size_t pos)
{
	size_t at = pointer_target(r, pos),
	       known = a->n_mx < REPLY_EXCHANGES_AT ? a->n_mx : REPLY_EXCHANGES_AT;
	char text[NAME_TEXT_MAX];
	struct dname owner;
	bool bad;

	for (size_t k = 0; at != 0 && k < known; k++)
		if (r->exchange_at[k] == at)
			return exchange_index(a, a->mx[k].exchange, a->mx[k].bad_name);
	if (!name_at(r, pos, &owner))
		return a->n_mx;
	dname_text(&owner, text, &bad);
	return exchange_index(a, text, bad);
}

/*
 * The additional section's A and AAAA records of class IN owned by an
 * exchange at or below the end of the CNAME chain (a->canonical, whose
 * MX records these are): data its own zone's servers vouch for.  Records
 * for any other name are ignored, so a reply cannot plant addresses for
 * names outside the domain it answers for.
 */
static mx_err
collect_glue(const struct reply *r, struct answer *a)
{
	mx_err err = MX_OK;

	for (size_t i = r->n_an + r->n_ns; i < r->n_an + r->n_ns + r->n_ar && err == MX_OK; i++) {
		const struct wire_rr *rr = &r->an[i];
		size_t mx;
		if (rr->class != LDNS_RR_CLASS_IN ||
		    (rr->type != RR_TYPE_A && rr->type != RR_TYPE_AAAA))
			continue;
		if ((mx = glue_owner(r, a, rr->owner)) < a->n_mx)
			err = add_glue(a, r, rr, mx);
	}
	return err;
}

static mx_err
read_answers(struct reply *r, const struct dname *qname, uint16_t qtype, struct answer *a)
{
	struct dname targets[ANSWER_MAX_CNAME_HOPS + 1];
	const struct dname *end = NULL;
	char canonical[NAME_TEXT_MAX];
	bool bad;
	mx_err err;

	if (!follow_cnames(r, qname, a, targets, &end)) {
		set_why(a, "the CNAME chain loops or is longer than %d", ANSWER_MAX_CNAME_HOPS);
		return MX_OK;
	}
	dname_text(end, canonical, &bad);
	if ((a->canonical = answer_text(a, canonical)) == NULL)
		return MX_ERR_NOMEM;
	a->negative_ttl = negative_ttl(r);
	if (a->rcode == LDNS_RCODE_NXDOMAIN) {
		a->kind = ANSWER_NXDOMAIN;
		return MX_OK;
	}
	if ((err = collect(r, end, qtype, a)) != MX_OK)
		return err;
	a->kind = (a->n_mx > 0 || a->n_addrs > 0 || a->n_tlsa > 0) ? ANSWER_RECORDS : ANSWER_NODATA;
	return a->n_mx > 0 ? collect_glue(r, a) : MX_OK;
}

/*
 * What libunbound refuses before reading a reply, so the stub refuses it
 * too: a message with QR clear is a query (RFC 1035 4.1.1), any opcode
 * but QUERY answers another kind of question, and an OPT record belongs
 * in the additional section only (RFC 6891 6.1.1).  NULL when none.
 */
static const char *
not_a_reply(const struct reply *r)
{
	if (!(r->wire[2] & 0x80))
		return "the reply is malformed (QR clear: a query, not a response)";
	if (((r->wire[2] >> 3) & 0x0f) != LDNS_PACKET_QUERY)
		return "the reply is malformed (opcode not QUERY)";
	for (size_t i = 0; i < r->n_an + r->n_ns; i++)
		if (r->an[i].type == LDNS_RR_TYPE_OPT)
			return "the reply is malformed (OPT record outside the additional "
			       "section)";
	return NULL;
}

static mx_err
read_reply(struct reply *r, const struct dname *qname, uint16_t qtype, struct answer *a)
{
	const char *why;

	if ((why = not_a_reply(r)) != NULL) {
		set_why(a, "%s", why);
		return MX_OK;
	}
	a->rcode = r->wire[3] & 0x0f;
	/* A failure is temporary whatever else the reply holds (some error
	 * replies carry no question section). */
	if (a->rcode != LDNS_RCODE_NOERROR && a->rcode != LDNS_RCODE_NXDOMAIN) {
		set_why(a, "the resolver answered %s", rcode_name(a->rcode));
		return MX_OK;
	}
	if (!question_matches(r, qname, qtype)) {
		set_why(a, "the reply does not answer the question asked");
		return MX_OK;
	}
	r->qname = qname;
	if (r->wire[2] & 0x02) {
		set_why(a, "the reply was truncated");
		return MX_OK;
	}
	return read_answers(r, qname, qtype, a);
}

mx_err
answer_parse_wire(const uint8_t *wire, size_t len, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, struct answer *out)
{
	struct wire_rr rr_stack[REPLY_STACK_RRS];
	struct reply r = { .wire = wire, .len = len, .an = rr_stack };
	struct dname question = { .len = qname_len };
	size_t fit, total, cap, n_an;
	const char *why;
	mx_err err = MX_OK;

	memset(out, 0, sizeof(*out));
	out->kind = ANSWER_TEMPFAIL;
	if (qname_len == 0 || qname_len > WIRE_NAME_MAX) {
		set_why(out, "the question name is not a domain name");
		return MX_OK;
	}
	memcpy(question.b, qname, qname_len);
	if (wire == NULL || len < WIRE_HEADER_LEN) {
		set_why(out, "the reply is malformed (shorter than a DNS header)");
		return MX_OK;
	}
	/* Room for every record wire.c locates: no more than can fit. */
	fit = (len - WIRE_HEADER_LEN) / MIN_RR_WIRE;
	n_an = wire_get16(wire + 6);
	total = n_an + wire_get16(wire + 8) + wire_get16(wire + 10);
	cap = total < fit ? total : fit;
	if (cap > REPLY_STACK_RRS && (r.an = malloc(cap * sizeof(*r.an))) == NULL) {
		err = MX_ERR_NOMEM;
		goto out;
	}
	if ((why = wire_check_rrs(wire, len, r.an, cap)) != NULL) {
		set_why(out, "%s", why);
		goto out;
	}
	r.n_an = n_an;
	r.n_ns = wire_get16(wire + 8);
	r.n_ar = wire_get16(wire + 10);
	err = read_reply(&r, &question, qtype, out);
out:
	if (r.an != rr_stack)
		free(r.an);
	if (err != MX_OK)
		answer_clear(out);
	return err;
}

size_t
answer_qname_wire(const char *text, uint8_t out[WIRE_NAME_MAX])
{
	ldns_rdf *rdf = NULL;
	size_t len = wire_name_from_text(text, out);

	/* Escapes and relative names: ldns reads them. */
	if (len > 0 || ldns_str2rdf_dname(&rdf, text) != LDNS_STATUS_OK)
		return len;
	len = ldns_rdf_size(rdf);
	if (len > WIRE_NAME_MAX)
		len = 0;
	else
		memcpy(out, ldns_rdf_data(rdf), len);
	ldns_rdf_deep_free(rdf);
	return len;
}

mx_err
answer_parse(const uint8_t *wire, size_t len, const char *qname, uint16_t qtype, struct answer *out)
{
	uint8_t name[WIRE_NAME_MAX];
	size_t name_len = answer_qname_wire(qname, name);

	return answer_parse_wire(wire, len, name, name_len, qtype, out);
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
	dst->glue = NULL;
	dst->text.head = NULL;
	dst->n_mx = 0;
	if (src->canonical != NULL && (dst->canonical = answer_text(dst, src->canonical)) == NULL)
		goto fail;
	if (src->why != NULL && (dst->why = answer_text(dst, src->why)) == NULL)
		goto fail;
	if (src->n_glue > 0 && (dst->glue = malloc(src->n_glue * sizeof(*src->glue))) == NULL)
		goto fail;
	if (src->n_glue > 0)
		memcpy(dst->glue, src->glue, src->n_glue * sizeof(*src->glue));
	if (src->n_tlsa > 0 && (dst->tlsa = malloc(src->n_tlsa * sizeof(*src->tlsa))) == NULL)
		goto fail;
	if (src->n_tlsa > 0)
		memcpy(dst->tlsa, src->tlsa, src->n_tlsa * sizeof(*src->tlsa));
	if (src->n_mx > 0 && (dst->mx = malloc(src->n_mx * sizeof(*src->mx))) == NULL)
		goto fail;
	if (src->n_addrs > 0 && (dst->addrs = malloc(src->n_addrs * sizeof(*src->addrs))) == NULL)
		goto fail;
	for (; dst->n_mx < src->n_mx; dst->n_mx++) {
		struct answer_mx *m = &dst->mx[dst->n_mx];
		*m = src->mx[dst->n_mx];
		if ((m->exchange = answer_text(dst, m->exchange)) == NULL)
			goto fail;
	}
	if (src->n_addrs > 0)
		memcpy(dst->addrs, src->addrs, src->n_addrs * sizeof(*src->addrs));
	return MX_OK;
fail:
	answer_clear(dst);
	return MX_ERR_NOMEM;
}

const char *
answer_text(struct answer *a, const char *s)
{
	return text_copy(&a->text, s);
}

void
answer_clear(struct answer *a)
{
	free(a->mx);
	free(a->addrs);
	free(a->tlsa);
	free(a->glue);
	text_store_free(&a->text);
	a->canonical = NULL;
	a->why = NULL;
	a->mx = NULL;
	a->addrs = NULL;
	a->tlsa = NULL;
	a->glue = NULL;
	a->n_mx = a->n_addrs = a->n_tlsa = a->n_glue = 0;
}
