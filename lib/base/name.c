/*
 * name.c - domain names as text: turns command-line arguments (domains or
 * mail addresses) into canonical domains, and judges exchange names.
 * Owns no memory; never touches the network.  Internationalised names go
 * through libidn2 (IDNA2008 with TR46 mapping), the way browsers and dig
 * do, so "bücher.example" routes as "xn--bcher-kva.example".
 */
#include <arpa/inet.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"
#include "why.h"

void
name_fold(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

bool
name_is_ip_literal(const char *name)
{
	unsigned char buf[16];
	char tmp[64];
	size_t len = strlen(name);

	if (len == 0 || len >= sizeof(tmp))
		return false;
	/* Most names have a letter past f: no address, and no inet_pton
	 * (twice per MX host on the bulk path). */
	for (const char *p = name; *p != '\0'; p++) {
		char c = (char)(*p | 0x20);
		if (!((*p >= '0' && *p <= '9') || (c >= 'a' && c <= 'f') || *p == '.' || *p == ':'))
			return false;
	}
	memcpy(tmp, name, len + 1);
	if (tmp[len - 1] == '.')
		tmp[len - 1] = '\0';
	return inet_pton(AF_INET, tmp, buf) == 1 || inet_pton(AF_INET6, tmp, buf) == 1;
}

static bool
is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-';
}

static const char *
check_label(const char *label, size_t len)
{
	if (len == 0)
		return "has an empty label (two dots in a row, or a leading dot)";
	if (len > MX_LABEL_MAX)
		return "has a label longer than 63 characters";
	for (size_t i = 0; i < len; i++)
		if (!is_ldh(label[i]))
			return "contains a character other than letters, digits, "
			       "hyphens and dots";
	if (label[0] == '-' || label[len - 1] == '-')
		return "has a label that begins or ends with a hyphen";
	return NULL;
}

const char *
name_check_hostname(const char *name)
{
	const char *label = name, *dot, *why;

	if (*name == '\0')
		return "is empty";
	if (strlen(name) > MX_DOMAIN_MAX)
		return "is longer than 253 characters";
	for (;;) {
		dot = strchr(label, '.');
		why = check_label(label, dot ? (size_t)(dot - label) : strlen(label));
		if (why != NULL || dot == NULL)
			return why;
		label = dot + 1;
	}
}

bool
name_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static bool
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Where the domain starts in an argument: after the last '@', if any. */
static const char *
domain_part(const char *arg, const char **why)
{
	const char *at = strrchr(arg, '@');

	if (at == NULL)
		return arg;
	if (at[1] == '\0') {
		*why = "is an address with nothing after the @";
		return NULL;
	}
	if (at[1] == '[') {
		*why = "is an address literal: mail to it goes to that address "
		       "directly, not by MX";
		return NULL;
	}
	return at + 1;
}

/* Copies the A-label form of domain into buf (IDNA2008 for non-ASCII). */
static const char *
to_ascii(const char *domain, char *buf, size_t size)
{
	char *ascii = NULL;
	size_t len;

	if (is_ascii(domain)) {
		len = strlen(domain);
		if (len >= size)
			return "is longer than 253 characters";
		memcpy(buf, domain, len + 1);
		return NULL;
	}
	if (idn2_to_ascii_8z(domain, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK)
		return "is not a valid internationalised domain name (IDNA2008)";
	len = strlen(ascii);
	if (len >= size) {
		idn2_free(ascii);
		return "is longer than 253 characters";
	}
	memcpy(buf, ascii, len + 1);
	idn2_free(ascii);
	return NULL;
}

mx_err
domain_from_arg(const char *arg, char out[MX_DOMAIN_MAX + 1], const char **why)
{
	const char *domain, *reason = NULL;
	char buf[MX_DOMAIN_MAX + 2]; /* room for the trailing dot */
	size_t len;

	if (why == NULL)
		why = &reason;
	*why = NULL;
	if (arg == NULL || out == NULL)
		return MX_ERR_INVALID;
	if ((domain = domain_part(arg, why)) == NULL)
		return MX_ERR_BAD_DOMAIN;
	if ((*why = to_ascii(domain, buf, sizeof(buf))) != NULL)
		return MX_ERR_BAD_DOMAIN;
	len = strlen(buf);
	if (len > 1 && buf[len - 1] == '.')
		buf[--len] = '\0';
	name_fold(buf);
	if (name_is_ip_literal(buf)) {
		*why = "is an IP address, not a domain";
		return MX_ERR_BAD_DOMAIN;
	}
	if ((*why = name_check_hostname(buf)) != NULL)
		return MX_ERR_BAD_DOMAIN;
	memcpy(out, buf, len + 1);
	return MX_OK;
}

mx_err
mx_domain_from_arg(const char *arg, char out[MX_DOMAIN_MAX + 1], mx_why *why)
{
	const char *reason = NULL;
	mx_err err = domain_from_arg(arg, out, &reason);

	why_clear(why);
	if (err != MX_OK)
		why_set(why, err, "%s", reason ? reason : mx_strerror(err));
	return err;
}
