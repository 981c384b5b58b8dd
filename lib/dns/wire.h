/*
 * wire.h - strict structural check of a DNS message (see wire.c for why
 * ldns alone is not enough).
 */
#ifndef MX_WIRE_H
#define MX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#define WIRE_HEADER_LEN 12  /* a DNS message's fixed header; the question follows */
#define WIRE_NAME_MAX   255 /* a name in wire form, the root label included */

/* Network-order integers at p (the caller checked the bounds). */
static inline uint16_t
wire_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
wire_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* NULL when the message is well formed, else a sentence saying why not. */
const char *wire_check(const uint8_t *wire, size_t len);

/* Where one resource record lies in a message (offsets into it). */
struct wire_rr {
	size_t owner; /* the owner name (may be compressed) */
	uint16_t type, class;
	uint32_t ttl;
	size_t rdata;
	uint16_t rdlen;
};

/*
 * wire_check that also says where the records are: rrs[i] for every
 * record, answer, authority and additional sections in order.  A message
 * whose counts name more than cap records is malformed: one of len bytes
 * holds at most (len - WIRE_HEADER_LEN) / 11 of them.
 */
const char *wire_check_rrs(const uint8_t *wire, size_t len, struct wire_rr *rrs, size_t cap);

/*
 * Walkers over a message that passed wire_check (they stay bounds-checked
 * on any bytes).  wire_skip_question sets *pos to the first answer record;
 * wire_next_rr reads the record at *pos and moves *pos past it;
 * wire_name_end gives where the name at pos ends in the bytes (not where
 * its pointers lead), the name ending before len.
 */
bool wire_skip_question(const uint8_t *wire, size_t len, size_t *pos);
bool wire_next_rr(const uint8_t *wire, size_t len, size_t *pos, struct wire_rr *rr);
bool wire_name_end(const uint8_t *wire, size_t len, size_t pos, size_t *next);

/*
 * The name at pos, decompressed into out; its length (with the root
 * label), or 0 if it is not a valid name.  ldns_wire2dname does the same
 * into a new ldns_rdf: two allocations per name, and the bulk path reads
 * every reply's exchanges and owners (with a thousand lookups in flight,
 * those allocations and their misses were a tenth of its CPU).  This is
 * the walk wire_check already makes, writing what it walks.
 */
size_t wire_name_read(const uint8_t *wire, size_t len, size_t pos, uint8_t out[WIRE_NAME_MAX]);

/*
 * A name given as text ("mx1.example.com", "mx1.example.com." or "."), in
 * wire form, for the plain names mxkit asks about: labels of 1 to 63
 * bytes, no backslash escapes; a name without the trailing dot is taken
 * as absolute, as ldns_str2rdf_dname takes it.  Returns the length, or 0
 * for any other text (callers hand that to ldns_str2rdf_dname, which
 * reads escapes).
 */
size_t wire_name_from_text(const char *text, uint8_t out[WIRE_NAME_MAX]);

#endif
