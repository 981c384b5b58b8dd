/*
 * rewrite.h - qualification of bare local names (no "@") with the origin
 * domain, as Postfix's myorigin and sendmail's $j: envelope addresses and
 * the address fields of a submitted message's header (From:, To: ...).
 * Pure apart from rewrite_origin_default (the host's name).  No
 * allocation except rewrite_header's result, which the caller frees.
 */
#ifndef MX_REWRITE_H
#define MX_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "mx.h"

#define REWRITE_ORIGIN_MAX 253               /* a domain name, RFC 1035 */
#define REWRITE_HEADER_MAX ((size_t)1 << 20) /* octets of header looked at */

/* The host's fully qualified name (getaddrinfo AI_CANONNAME on
 * gethostname()), else the host name, else "localhost". */
void rewrite_origin_default(char out[REWRITE_ORIGIN_MAX + 1]);

/* Whether origin may be used: a host name of letters, digits, '-', '.',
 * at most REWRITE_ORIGIN_MAX octets. */
bool rewrite_origin_ok(const char *origin);

/*
 * addr as an envelope address: "" stays "" (the null sender), an address
 * with an "@" stays as it is, a bare local name becomes name@origin.
 * MX_ERR_INVALID when out_size is too small.
 */
mx_err rewrite_address(const char *addr, const char *origin, char *out, size_t out_size);

/*
 * The header at the start of in[0..len) (up to its empty line; the rest
 * is not looked at and not copied): every bare local name in the address
 * fields (From, Sender, Reply-To, To, Cc, Bcc and their Resent- forms)
 * gets "@origin" appended; group names ("undisclosed-recipients:;"),
 * quoted strings, comments and display names are left alone, and so is
 * every other byte.  *out (malloc'd, *out_len octets) is the rewritten
 * header; *header_len is how many octets of in it replaces.  A header
 * longer than REWRITE_HEADER_MAX is left as it is (copied unchanged).
 * MX_ERR_NOMEM.
 */
mx_err rewrite_header(const char *in, size_t len, const char *origin, char **out, size_t *out_len,
    size_t *header_len);

#endif
