/*
 * wire.c - a strict structural pass over a DNS message before anything
 * reads it, and the walkers that then read it in place (records, names),
 * plus question names from text to wire form.  Why not ldns alone:
 * ldns_wire2pkt is bounds-checked but lenient where routing cannot
 * be: it follows forward compression pointers, reads an MX or A record
 * whose RDLENGTH disagrees with its contents (an MX of 2 bytes becomes a
 * record with no exchange, trailing bytes after an exchange are ignored,
 * an A of 16 bytes yields one address and a misread next record).  Each of
 * those turns garbage into a plausible answer: a null MX, an implicit MX,
 * a wrong address.  RFC 9267 lists these traps; this pass rejects them,
 * so that a malformed reply is a temporary failure and nothing else.
 * Once a message has passed, answer.c walks its records with
 * wire_next_rr and reads the names it needs with wire_name_read (why not
 * ldns_wire2dname: wire.h).  Pure: reads only the bytes it is given,
 * allocates nothing.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

#define TYPE_A     1
#define TYPE_CNAME 5
#define TYPE_MX    15
#define TYPE_AAAA  28
#define TYPE_TLSA  52
#define CLASS_IN   1

/*
 * Walks the name at pos.  Pointers must go strictly backwards and past
 * the header, so the walk always ends; labels use only the two defined
 * label types (RFC 6891 retired the others).  *next is where the record
 * continues: just after the name or after its first pointer.  With out,
 * the name is also written there uncompressed (WIRE_NAME_MAX bytes at
 * most).  Returns the uncompressed length, 0 for a bad name.
 */
static size_t
walk_name(const uint8_t *w, size_t len, size_t pos, size_t *next, uint8_t *out)
{
	size_t total = 0;
	bool jumped = false;

	for (;;) {
		uint8_t c;
		if (pos >= len)
			return 0;
		c = w[pos];
		if (c == 0) {
			if (!jumped)
				*next = pos + 1;
			if (total + 1 > WIRE_NAME_MAX)
				return 0;
			if (out != NULL)
				out[total] = 0;
			return total + 1;
		}
		if ((c & 0xC0) == 0xC0) {
			size_t target;
			if (pos + 1 >= len)
				return 0;
			target = (size_t)(((c & 0x3F) << 8) | w[pos + 1]);
			if (target >= pos || target < WIRE_HEADER_LEN)
				return 0;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = target;
			continue;
		}
		if ((c & 0xC0) != 0)
			return 0;
		if (total + 1 + c > WIRE_NAME_MAX || pos + 1 + c > len)
			return 0;
		if (out != NULL)
			memcpy(out + total, w + pos, (size_t)c + 1);
		total += (size_t)c + 1;
		pos += (size_t)c + 1;
	}
}

/* The rdata of the types routing reads must fill RDLENGTH exactly. */
static bool
check_rdata(const uint8_t *w, size_t start, size_t rdlen, uint16_t type)
{
	size_t end = start + rdlen, next = 0;

	switch (type) {
	case TYPE_A: return rdlen == 4;
	case TYPE_AAAA: return rdlen == 16;
	case TYPE_MX: return rdlen >= 3 && walk_name(w, end, start + 2, &next, NULL) && next == end;
	case TYPE_CNAME: return rdlen >= 1 && walk_name(w, end, start, &next, NULL) && next == end;
	case TYPE_TLSA: return rdlen >= 4; /* usage, selector, type, some data */
	default: return true;
	}
}

bool
wire_name_end(const uint8_t *w, size_t len, size_t pos, size_t *next)
{
	return walk_name(w, len, pos, next, NULL) != 0;
}

bool
wire_next_rr(const uint8_t *w, size_t len, size_t *pos, struct wire_rr *rr)
{
	size_t p;

	if (!walk_name(w, len, *pos, &p, NULL) || p + 10 > len)
		return false;
	rr->owner = *pos;
	rr->type = wire_get16(w + p);
	rr->class = wire_get16(w + p + 2);
	rr->ttl = wire_get32(w + p + 4);
	rr->rdlen = wire_get16(w + p + 8);
	rr->rdata = p + 10;
	if (rr->rdata + rr->rdlen > len)
		return false;
	*pos = rr->rdata + rr->rdlen;
	return true;
}

const char *
wire_check_rrs(const uint8_t *w, size_t len, struct wire_rr *rrs, size_t cap)
{
	size_t pos, n;

	if (w == NULL || len < WIRE_HEADER_LEN)
		return "the reply is malformed (shorter than a DNS header)";
	/* Whether the question is the one asked is answer.c's to judge. */
	if (!wire_skip_question(w, len, &pos))
		return "the reply is malformed (question section)";
	n = (size_t)wire_get16(w + 6) + wire_get16(w + 8) + wire_get16(w + 10);
	for (size_t i = 0; i < n; i++) {
		struct wire_rr rr;
		/* More records than the caller made room for cannot fit in len
		 * bytes either (see wire.h): the same verdict, sooner. */
		if ((rrs != NULL && i >= cap) || !wire_next_rr(w, len, &pos, &rr) ||
		    (rr.class == CLASS_IN && !check_rdata(w, rr.rdata, rr.rdlen, rr.type)))
			return "the reply is malformed (bad name, compression "
			       "or record length)";
		if (rrs != NULL)
			rrs[i] = rr;
	}
	return NULL;
}

const char *
wire_check(const uint8_t *w, size_t len)
{
	return wire_check_rrs(w, len, NULL, 0);
}

bool
wire_skip_question(const uint8_t *w, size_t len, size_t *pos)
{
	*pos = WIRE_HEADER_LEN;
	for (size_t i = wire_get16(w + 4); i > 0; i--) {
		if (!walk_name(w, len, *pos, pos, NULL) || *pos + 4 > len)
			return false;
		*pos += 4;
	}
	return true;
}

size_t
wire_name_read(const uint8_t *w, size_t len, size_t pos, uint8_t out[WIRE_NAME_MAX])
{
	size_t next;

	return walk_name(w, len, pos, &next, out);
}

size_t
wire_name_from_text(const char *text, uint8_t out[WIRE_NAME_MAX])
{
	size_t o = 0, label = 0; /* where the current label's length byte goes */

	if (text[0] == '.' && text[1] == '\0') {
		out[0] = 0;
		return 1;
	}
	for (const char *p = text;; p++) {
		size_t n;
		if (*p != '.' && *p != '\0') {
			if (*p == '\\' || ++o >= WIRE_NAME_MAX)
				return 0;
			out[o] = (uint8_t)*p;
			continue;
		}
		n = o - label;
		if (n == 0 || n > 63)
			return 0; /* an empty label: "", "..", ".a" */
		out[label] = (uint8_t)n;
		label = ++o; /* the next label's length byte */
		if (*p == '\0' || p[1] == '\0') {
			if (o >= WIRE_NAME_MAX)
				return 0;
			out[o] = 0;
			return o + 1;
		}
	}
}
