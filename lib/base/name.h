/*
 * name.h - domain names as text: reading arguments, telling host names
 * from IP literals and from junk.  Pure string work, no DNS, no I/O.
 */
#ifndef MX_NAME_H
#define MX_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "mx.h"

/* Text forms of a name: MX_DOMAIN_MAX plus room for escapes of bad names. */
#define NAME_TEXT_MAX 1024

/* Lower-cases ASCII in place. */
void name_fold(char *s);
/* True for an IPv4 or IPv6 address literal ("192.0.2.1", "2001:db8::1"). */
bool name_is_ip_literal(const char *name);
/*
 * Checks a lower-case name without trailing dot against the host name
 * rules (RFC 1123 section 2.1: letters, digits, hyphens inside labels).
 * Returns NULL when valid, else a static sentence saying why not.
 */
const char *name_check_hostname(const char *name);
/* mx_domain_from_arg with its reason as a static sentence that reads
 * after the argument (NULL when fine); why may be NULL. */
mx_err domain_from_arg(const char *arg, char out[MX_DOMAIN_MAX + 1], const char **why);
/* Case-insensitive equality, ignoring one trailing dot on either side. */
bool name_equal(const char *a, const char *b);

#endif
