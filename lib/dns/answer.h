/*
 * answer.h - one DNS answer, parsed from wire format (wire.c) into what
 * routing needs: the outcome, the records of the asked type at the end of
 * the CNAME chain, and their TTLs.  Pure: no I/O, no resolver state.
 */
#ifndef MX_ANSWER_H
#define MX_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "ipaddr.h"
#include "mx.h"
#include "text.h"
#include "wire.h"

/* Caps on what one answer may hand to routing (hostile-input bounds). */
#define ANSWER_MAX_MX         1024 /* MX records kept from one answer */
#define ANSWER_MAX_ADDRS      64   /* A or AAAA records kept per answer */
#define ANSWER_MAX_CNAME_HOPS 16
#define ANSWER_MAX_GLUE       128 /* additional-section addresses kept */
#define ANSWER_WHY_MAX        160 /* bytes of a why, its NUL included */

#define RR_TYPE_A       1
#define RR_TYPE_MX      15
#define RR_TYPE_AAAA    28
#define RR_TYPE_TLSA    52
#define ANSWER_MAX_TLSA 32
#define TLSA_DATA_MAX   64 /* SHA-512 digest; full certificates are not kept */

/* How sure DNSSEC is of one answer. */
typedef enum answer_security {
	SEC_UNKNOWN = 0, /* no validation, or no answer at all */
	SEC_INSECURE,
	SEC_SECURE,
	SEC_BOGUS,
} answer_security;

typedef enum answer_kind {
	ANSWER_RECORDS = 0, /* NOERROR with records of the asked type */
	ANSWER_NODATA,      /* NOERROR, the name exists, no such records */
	ANSWER_NXDOMAIN,    /* the name (or the end of its chain) does not exist */
	ANSWER_TEMPFAIL,    /* SERVFAIL, REFUSED, malformed, truncated, loop */
} answer_kind;

struct answer_mx {
	uint16_t preference;
	uint32_t ttl;
	bool is_null;         /* the exchange is "." (RFC 7505) */
	bool bad_name;        /* not a valid host name; name is escaped text */
	const char *exchange; /* lower case, no trailing dot ("" if null); in
	                         the answer's text store */
};

/*
 * An address record from the additional section of an MX reply, owned by
 * one of its exchanges at or below the domain asked (in its bailiwick):
 * what adns and the like use instead of asking.  Reported, never used
 * here; lookup.c decides (the stub transport only).
 */
struct answer_glue {
	size_t mx;      /* the exchange: an index into mx[] */
	uint16_t qtype; /* RR_TYPE_A or RR_TYPE_AAAA */
	struct ip_addr addr;
};

/* RFC 6698 TLSA record, for DANE (RFC 7672). */
struct answer_tlsa {
	uint8_t usage, selector, mtype;
	uint8_t data[TLSA_DATA_MAX];
	size_t len;
	bool too_long; /* full-certificate data (mtype 0) over the cap */
};

struct answer {
	answer_kind kind;
	answer_security security;
	uint8_t rcode;
	unsigned cname_hops;
	bool cname_loop;
	bool timed_out;
	uint32_t negative_ttl; /* NXDOMAIN/NODATA: from the SOA (RFC 2308 5) */
	/* End of the CNAME chain: in text, or a string that outlives the
	 * answer; NULL (zeroed answers) reads as "" (answer_canonical). */
	const char *canonical;
	/* For TEMPFAIL: what went wrong, below ANSWER_WHY_MAX bytes; in text
	 * or static; NULL reads as "" (answer_why). */
	const char *why;
	struct answer_mx *mx; /* qtype MX */
	size_t n_mx;
	struct ip_addr *addrs; /* qtype A or AAAA */
	size_t n_addrs;
	struct answer_tlsa *tlsa; /* qtype TLSA */
	size_t n_tlsa;
	struct answer_glue *glue; /* qtype MX: additional-section addresses */
	size_t n_glue;
	/* canonical, why and the exchanges, owned; freed by answer_clear.  Names
	 * of up to NAME_TEXT_MAX - 1 bytes (escaped bad names) are rare, and
	 * fixed buffers of that size made a 5-record answer a 5 KB block. */
	struct text_store text;
};

static inline const char *
answer_canonical(const struct answer *a)
{
	return a->canonical != NULL ? a->canonical : "";
}

static inline const char *
answer_why(const struct answer *a)
{
	return a->why != NULL ? a->why : "";
}

/*
 * Parses a wire-format reply to the question (qname, qtype, class IN).
 * Every outcome, a malformed packet included, ends in *out (kind TEMPFAIL
 * with a reason); only running out of memory fails the call.  The caller
 * releases *out with answer_clear.
 */
mx_err answer_parse(
    const uint8_t *wire, size_t len, const char *qname, uint16_t qtype, struct answer *out);
/* The same with the question's name already in wire form (qname_len 0:
 * not a name), as the stub transport builds it for the query. */
mx_err answer_parse_wire(const uint8_t *wire, size_t len, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, struct answer *out);
/* A question's name in wire form: its length, 0 if text is not a name. */
size_t answer_qname_wire(const char *text, uint8_t out[WIRE_NAME_MAX]);
/* An answer that never came: kind TEMPFAIL with the reason given (cut
 * below ANSWER_WHY_MAX).  out holds nothing yet (it may be garbage) or
 * has been answer_clear'ed: what it held is overwritten, not freed. */
void answer_set_failure(struct answer *out, const char *why, bool timed_out);
void answer_clear(struct answer *a);
/* Deep copy: dst gets its own arrays and text (release with answer_clear). */
mx_err answer_copy(struct answer *dst, const struct answer *src);
/* A copy of s in a's text store (for canonical or an exchange); NULL when
 * out of memory. */
const char *answer_text(struct answer *a, const char *s);

#endif
