/*
 * address.h - mail addresses: one envelope address as `mx send` takes it
 * from its arguments (RFC 5321 4.1.2 Mailbox, the 4.5.3.1 limits, RFC 6531
 * for UTF-8), and the addresses of an RFC 5322 address-list header field
 * (To, Cc, Bcc) for `mx send -t`.  Pure string work: no I/O, no DNS.
 */
#ifndef MX_ADDRESS_H
#define MX_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "mx.h"

/* RFC 5321 section 4.5.3.1: octets, as they go on the wire. */
#define ADDRESS_LOCAL_MAX  64  /* 4.5.3.1.1 local part, quotes included */
#define ADDRESS_DOMAIN_MAX 255 /* 4.5.3.1.2; DNS allows only MX_DOMAIN_MAX (253) */
#define ADDRESS_PATH_MAX   256 /* 4.5.3.1.3 "<local@domain>", brackets included */
/* Longest argument read at all: room for a UTF-8 domain before IDNA. */
#define ADDRESS_INPUT_MAX 1024
/* Longest text kept of an address that did not parse (for messages). */
#define ADDRESS_BAD_TEXT_MAX 200

/*
 * One parsed address.  Plain data, no heap: copy it freely.
 *   local    the local part exactly as given (case kept, quotes kept:
 *            "\"a b\""), "" for the null path
 *   domain   lower case, A-labels ("xn--bcher-kva.test"), no trailing dot;
 *            "" for the null path
 *   path     what follows "MAIL FROM:" or "RCPT TO:", angle brackets
 *            included: "<local@domain>", or "<>" for the null path
 *   smtputf8 the local part has non-ASCII octets: the server must offer
 *            SMTPUTF8 (a UTF-8 domain never needs it, it becomes A-labels)
 *   null     the null reverse-path "<>" (senders only)
 */
struct address {
	char local[ADDRESS_LOCAL_MAX + 1];
	char domain[MX_DOMAIN_MAX + 1];
	char path[ADDRESS_PATH_MAX + 1];
	bool smtputf8;
	bool null;
};

typedef enum address_role {
	ADDRESS_RECIPIENT = 0, /* RCPT TO: "<>" is refused */
	ADDRESS_SENDER,        /* MAIL FROM (-f): "<>" is the null reverse-path */
} address_role;

/*
 * Parses "local@domain" or "<local@domain>" (len octets, NUL bytes
 * included: a NUL is an error, never the end).  On MX_OK *out is filled;
 * on MX_ERR_BAD_ADDRESS *why (if given) points to a static sentence that
 * reads after the address ("contains a line break (CR or LF)"), and *out
 * is zeroed.  MX_ERR_INVALID for NULL in or out.  Never anything else.
 */
mx_err address_parse_bytes(
    const char *in, size_t len, address_role role, struct address *out, const char **why);
/* The same for a C string, as a recipient. */
mx_err address_parse(const char *in, struct address *out, const char **why);
/* The same for a C string, as a sender: "<>" is allowed. */
mx_err address_parse_sender(const char *in, struct address *out, const char **why);
/* Same mailbox: local parts equal octet for octet, domains equal. */
bool address_same(const struct address *a, const struct address *b);

/* ---- RFC 5322 address-list (To, Cc, Bcc) ------------------------------ */

/* An address in a header that could not be used, and why. */
struct address_bad {
	char text[ADDRESS_BAD_TEXT_MAX + 4]; /* as written, controls as '?', "..." if cut */
	const char *why;                     /* static sentence */
};

/*
 * What address_list_parse collected.  Zero it before the first call; the
 * owner releases the arrays with address_list_clear.  items holds each
 * mailbox once (address_same), in the order first seen.  Once items and
 * bad together reach the cap given to address_list_parse, nothing more
 * is added and overflow is set.
 */
struct address_list {
	struct address *items;
	size_t n_items;
	struct address_bad *bad;
	size_t n_bad;
	bool overflow;
};

/*
 * Reads the body of one address-list field (what follows "To:"; it may
 * still hold the CRLF of folded lines, read as white space) and appends
 * its addr-specs to list, each checked by address_parse_bytes.  Display
 * names, comments, quoted strings, groups ("undisclosed-recipients:;")
 * and obsolete routes are understood; what cannot be read becomes an entry
 * of list->bad, and parsing goes on after the next comma.  Returns MX_OK
 * or MX_ERR_NOMEM (list keeps what it had; clear it as usual).
 */
mx_err address_list_parse(const char *field, size_t len, size_t cap, struct address_list *list);
void address_list_clear(struct address_list *list);

#endif
