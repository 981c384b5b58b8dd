/*
 * records.c - strict readers of the policy records records.h names: SPF
 * (RFC 7208 4.5, 4.6, 5, 6, 7 syntax; macros checked, never expanded),
 * DMARC (RFC 7489 6.3, 6.4), MTA-STS (RFC 8461 3.1 TXT, 3.2 policy file,
 * 4.1 MX patterns) and TLS-RPT (RFC 8460 3).  Hand-written because no
 * well-kept C library parses these (libspf2 evaluates SPF with its own
 * resolver and is unmaintained; OpenDMARC is a milter library): they are
 * small grammars, read here through one bounds-checked cursor.
 * Pure: no I/O, no heap, no global state; the caller owns every struct.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "records.h"

#define SPF_LOOKUP_MAX  10 /* RFC 7208 4.6.4 */
#define DOMAIN_TEXT_MAX 253
#define LABEL_MAX       63
#define QUOTE_MAX       60 /* octets of a record quoted in a problem */
#define DMARC_PCT_MAX   100
#define RI_MAX          4294967295UL /* RFC 7489: 32-bit unsigned */

/* ---- problems -------------------------------------------------------- */

static void
add(struct record_problems *pr, bool fatal, const char *fmt, ...)
{
	va_list ap;
	char *t;

	pr->n_fatal += fatal;
	if (pr->n == RECORD_PROBLEMS_MAX) {
		pr->n_dropped++;
		return;
	}
	t = pr->p[pr->n].text;
	va_start(ap, fmt);
	vsnprintf(t, RECORD_PROBLEM_TEXT, fmt, ap);
	va_end(ap);
	for (; *t; t++) /* quoted record text may hold anything */
		if (*t < 0x20 || *t > 0x7e)
			*t = '?';
	pr->p[pr->n++].fatal = fatal;
}

static int
verdict(const struct record_problems *pr)
{
	return pr->n_fatal ? -1 : 0;
}

static int
quote_len(size_t len)
{
	return len > QUOTE_MAX ? QUOTE_MAX : (int)len;
}

/* ---- character classes and small pieces ------------------------------ */

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* a[0..alen) equals the NUL-terminated lit, ignoring ASCII case. */
static bool
eq_ci(const char *a, size_t alen, const char *lit)
{
	return strlen(lit) == alen && strncasecmp(a, lit, alen) == 0;
}

static bool
eq(const char *a, size_t alen, const char *lit)
{
	return strlen(lit) == alen && memcmp(a, lit, alen) == 0;
}

/* Copies s[0..len) into dst[size] with a NUL; false when it does not fit. */
static bool
copy(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

/* 1*DIGIT up to max, no sign, no overflow; false otherwise. */
static bool
number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* A host name: LDH labels of 1..63 (underscore allowed, as in service
 * names), at most 253 octets, no trailing dot, not all-numeric TLD. */
static bool
hostname_ok(const char *s, size_t len)
{
	size_t label = 0;
	bool tld_alpha = false;

	if (len == 0 || len > DOMAIN_TEXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			tld_alpha = false;
			continue;
		}
		if (!is_alnum(c) && c != '-' && c != '_')
			return false;
		if ((c == '-' && label == 0) || ++label > LABEL_MAX)
			return false;
		tld_alpha |= !is_digit(c);
	}
	return label > 0 && s[len - 1] != '-' && tld_alpha;
}

/* ---- tag lists (DMARC, MTA-STS TXT, TLS-RPT) -------------------------- */

/* One "name = value" of a ';'-separated list, WSP trimmed around both. */
struct tag {
	const char *name, *value;
	size_t name_len, value_len;
	bool has_eq;
};

/* Splits the next tag off s[*pos..len); false at the end. */
static bool
next_tag(const char *s, size_t len, size_t *pos, struct tag *t)
{
	size_t i = *pos, end, eqp;

	while (i < len && (is_wsp(s[i]) || s[i] == ';'))
		i++;
	if (i == len)
		return false;
	for (end = i; end < len && s[end] != ';'; end++)
		;
	*pos = end;
	memset(t, 0, sizeof(*t));
	for (eqp = i; eqp < end && s[eqp] != '='; eqp++)
		;
	t->has_eq = eqp < end;
	t->name = s + i;
	for (t->name_len = eqp - i; t->name_len && is_wsp(t->name[t->name_len - 1]);)
		t->name_len--;
	if (!t->has_eq)
		return true;
	for (eqp++; eqp < end && is_wsp(s[eqp]); eqp++)
		;
	t->value = s + eqp;
	for (t->value_len = end - eqp; t->value_len && is_wsp(t->value[t->value_len - 1]);)
		t->value_len--;
	return true;
}

/* Octets any of these text records may hold: printable ASCII and WSP. */
static bool
text_ok(const char *s, size_t len, struct record_problems *pr)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c > 0x7e) {
			add(pr, true, "octet 0x%02x at offset %zu is not printable ASCII", c, i);
			return false;
		}
	}
	return true;
}

/* "v" *WSP "=" *WSP value, then WSP, ';' or the end; ASCII case ignored. */
static bool
version_tag_ci(const char *s, size_t len, const char *value)
{
	size_t i = 0, vlen = strlen(value);

	if (len == 0 || (s[0] != 'v' && s[0] != 'V'))
		return false;
	for (i = 1; i < len && is_wsp(s[i]); i++)
		;
	if (i == len || s[i++] != '=')
		return false;
	while (i < len && is_wsp(s[i]))
		i++;
	if (len - i < vlen || strncasecmp(s + i, value, vlen) != 0)
		return false;
	i += vlen;
	return i == len || is_wsp(s[i]) || s[i] == ';';
}

/* ---- report URIs (DMARC rua/ruf, TLS-RPT rua) -------------------------- */

/* "mailto:" local "@" domain [ "?" ... ]; %-escapes left as they are. */
static bool
mailto_ok(const char *u, size_t len)
{
	const char *at, *end;
	size_t local, dom;

	if (len < 7 || strncasecmp(u, "mailto:", 7) != 0)
		return false;
	u += 7;
	len -= 7;
	end = memchr(u, '?', len);
	if (end)
		len = (size_t)(end - u);
	at = NULL;
	for (size_t i = 0; i < len; i++)
		if (u[i] == '@')
			at = u + i;
	if (at == NULL)
		return false;
	local = (size_t)(at - u);
	dom = len - local - 1;
	for (size_t i = 0; i < local; i++)
		if (u[i] <= ' ' || u[i] > '~' || strchr("<>\"(),;:[]\\", u[i]))
			return false;
	return local > 0 && hostname_ok(at + 1, dom);
}

/* "https://" host [ ":" port ] [ "/" path ]: the host a name or [v6]. */
static bool
https_ok(const char *u, size_t len)
{
	size_t i, h;
	unsigned long port;

	if (len < 8 || strncasecmp(u, "https://", 8) != 0)
		return false;
	for (i = 8; i < len; i++)
		if (u[i] <= ' ' || u[i] > '~' || u[i] == '"' || u[i] == '<' || u[i] == '>')
			return false;
	for (h = 8; h < len && u[h] != ':' && u[h] != '/' && u[h] != '?' && u[h] != '#'; h++)
		;
	if (!hostname_ok(u + 8, h - 8))
		return false;
	if (h < len && u[h] == ':') {
		size_t p = h + 1;
		while (h + 1 < len && is_digit(u[h + 1]))
			h++;
		if (!number(u + p, h + 1 - p, 65535, &port) || port == 0)
			return false;
		h++;
	}
	return h == len || u[h] == '/' || u[h] == '?' || u[h] == '#';
}

/* A list of URIs split at ',' with WSP around; each checked by its kind. */
enum uri_kind { URI_DMARC, URI_TLSRPT };

static void
uri_one(const char *tag, enum uri_kind kind, const char *u, size_t len, char (*list)[256],
    size_t *n, struct record_problems *pr)
{
	size_t ulen = len;

	if (kind == URI_DMARC) { /* dmarc-uri = URI [ "!" 1*DIGIT [ k / m / g / t ] ] */
		const char *bang = memchr(u, '!', len);
		if (bang) {
			size_t k = (size_t)(bang - u) + 1, e = len;
			unsigned long size;
			if (e > k && strchr("kmgtKMGT", u[e - 1]))
				e--;
			if (!number(u + k, e - k, RI_MAX, &size))
				add(pr, true, "%s: bad size limit in \"%.*s\"", tag, quote_len(len),
				    u);
			ulen = (size_t)(bang - u);
		}
	}
	if (ulen == 0) {
		add(pr, true, "%s: an empty URI", tag);
		return;
	}
	bool valid = mailto_ok(u, ulen) || (kind == URI_TLSRPT && https_ok(u, ulen));
	if (!valid && (strncasecmp(u, "mailto:", ulen < 7 ? ulen : 7) == 0 || kind == URI_TLSRPT)) {
		add(pr, true, "%s: \"%.*s\" is not a valid %s URI", tag, quote_len(ulen), u,
		    kind == URI_TLSRPT ? "mailto: or https:" : "mailto:");
		return;
	}
	if (!valid)
		add(pr, false,
		    "%s: \"%.*s\" is not a mailto: URI; receivers send reports only by mail", tag,
		    quote_len(ulen), u);
	if (*n < 8 && copy(list[*n], 256, u, ulen))
		(*n)++;
}

static void
uri_list(const char *tag, enum uri_kind kind, const char *v, size_t len, char (*list)[256],
    size_t *n, struct record_problems *pr)
{
	size_t i = 0;

	if (len == 0) {
		add(pr, true, "%s= has no URI", tag);
		return;
	}
	while (i <= len) {
		size_t s = i, e;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (s < e && is_wsp(v[s]))
			s++;
		while (e > s && is_wsp(v[e - 1]))
			e--;
		uri_one(tag, kind, v + s, e - s, list, n, pr);
		i++;
	}
}

/* ---- recognising records ---------------------------------------------- */

bool
spf_is_record(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

bool
dmarc_is_record(const char *txt, size_t len)
{
	return version_tag_ci(txt, len, "DMARC1");
}

bool
mta_sts_is_record(const char *txt, size_t len)
{
	return version_tag_ci(txt, len, "STSv1");
}

bool
tlsrpt_is_record(const char *txt, size_t len)
{
	return version_tag_ci(txt, len, "TLSRPTv1");
}

/* ---- SPF --------------------------------------------------------------- */

/* RFC 7208 7.1: macro-expand inside a macro-string; *i at the '%'. */
static bool
spf_macro(const char *s, size_t len, size_t *i, bool in_exp)
{
	size_t j = *i + 1;
	char letter;

	if (j >= len)
		return false;
	if (s[j] == '%' || s[j] == '_' || s[j] == '-') {
		*i = j + 1;
		return true;
	}
	if (s[j] != '{' || ++j >= len)
		return false;
	letter = (char)(s[j] | 0x20);
	if (!strchr("slodiphv", letter) && !(in_exp && strchr("crt", letter)))
		return false;
	for (j++; j < len && is_digit(s[j]); j++)
		;
	if (j < len && (s[j] == 'r' || s[j] == 'R'))
		j++;
	while (j < len && strchr(".-+,/_=", s[j]))
		j++;
	if (j >= len || s[j] != '}')
		return false;
	*i = j + 1;
	return true;
}

/* macro-string: macro-expand or %x21-24 / %x26-7E; counts the macros and
 * gives where the last one ends (0 when none). */
static bool
spf_macro_string(const char *s, size_t len, bool in_exp, unsigned *macros, size_t *last_end)
{
	*last_end = 0;
	for (size_t i = 0; i < len;) {
		if (s[i] == '%') {
			if (!spf_macro(s, len, &i, in_exp))
				return false;
			(*macros)++;
			*last_end = i;
			continue;
		}
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
		i++;
	}
	return true;
}

/* domain-spec = macro-string domain-end (RFC 7208 7.1): a literal domain
 * must be a host name; with macros, the text after the last macro must be
 * a "." toplabel or empty (the name ends in a macro). */
static bool
spf_domain_spec(const char *s, size_t len, bool *has_macro)
{
	unsigned macros = 0;
	size_t last, tail;

	if (len == 0 || !spf_macro_string(s, len, false, &macros, &last))
		return false;
	*has_macro = macros > 0;
	if (macros == 0)
		return hostname_ok(s, len > 1 && s[len - 1] == '.' ? len - 1 : len);
	tail = len - last;
	if (tail == 0)
		return true;
	if (s[last] != '.' || tail < 2)
		return false;
	return hostname_ok(s + last + 1, s[len - 1] == '.' ? tail - 2 : tail - 1);
}

/* "/" cidr up to max at s[*i]; no leading zeros (RFC 7208 5.6). */
static bool
spf_cidr(const char *s, size_t len, size_t *i, unsigned long max)
{
	size_t j = *i + 1, k;
	unsigned long v;

	for (k = j; k < len && is_digit(s[k]); k++)
		;
	if (k == j || (s[j] == '0' && k - j > 1) || !number(s + j, k - j, max, &v))
		return false;
	*i = k;
	return true;
}

/* dual-cidr-length = [ "/" ip4 ] [ "//" ip6 ], the whole of s. */
static bool
spf_dual_cidr(const char *s, size_t len)
{
	size_t i = 0;

	if (i < len && s[i] == '/' && (i + 1 >= len || s[i + 1] != '/'))
		if (!spf_cidr(s, len, &i, 32))
			return false;
	if (i < len && s[i] == '/') {
		i++;
		if (i >= len || s[i] != '/')
			return false;
		if (!spf_cidr(s, len, &i, 128))
			return false;
	}
	return i == len;
}

struct spf_ctx {
	struct spf_record *out;
	struct record_problems *pr;
	bool seen_all, seen_redirect, seen_exp, after_all_warned, includes_warned;
	char rbuf[256];
};

static void
spf_target(struct spf_ctx *c, const char *mech, const char *arg, size_t alen, bool required)
{
	bool macro = false;

	if (alen == 0 && !required)
		return;
	if (!spf_domain_spec(arg, alen, &macro)) {
		add(c->pr, true, "SPF %s: \"%.*s\" is not a valid domain-spec", mech,
		    quote_len(alen), arg);
		return;
	}
	c->out->has_macros |= macro;
	if (strcmp(mech, "include") != 0 || macro)
		return;
	if (c->out->n_includes == SPF_TARGETS_MAX) {
		if (!c->includes_warned)
			add(c->pr, false,
			    "SPF: more than %d include targets; the rest are not followed",
			    SPF_TARGETS_MAX);
		c->includes_warned = true;
		return;
	}
	if (copy(c->out->includes[c->out->n_includes], 256, arg, alen))
		c->out->n_includes++;
}

/* a / mx [ ":" domain-spec ] [ dual-cidr-length ] */
static void
spf_a_mx(struct spf_ctx *c, const char *mech, const char *rest, size_t len)
{
	size_t slash = 0, start = 0;

	if (len > 0 && rest[0] != ':' && rest[0] != '/') {
		add(c->pr, true, "SPF: unknown mechanism \"%s%.*s\"", mech, quote_len(len), rest);
		return;
	}
	if (len > 0 && rest[0] == ':')
		start = 1;
	/* the cidr is the last "/" run: domain-specs may hold '/' only in macros */
	for (slash = start; slash < len && rest[slash] != '/'; slash++)
		;
	if (start && slash == start)
		add(c->pr, true, "SPF %s: \":\" without a domain", mech);
	else if (start)
		spf_target(c, mech, rest + start, slash - start, true);
	if (!spf_dual_cidr(rest + slash, len - slash))
		add(c->pr, true, "SPF %s: bad CIDR length \"%.*s\"", mech, quote_len(len - slash),
		    rest + slash);
}

/* ip4 / ip6 ":" network [ "/" cidr ] */
static void
spf_ip(struct spf_ctx *c, bool v6, const char *rest, size_t len)
{
	char buf[64];
	unsigned char bin[16];
	size_t slash, i;

	if (len < 2 || rest[0] != ':') {
		add(c->pr, true, "SPF ip%c: needs \":\" and an address", v6 ? '6' : '4');
		return;
	}
	for (slash = 1; slash < len && rest[slash] != '/'; slash++)
		;
	if (!copy(buf, sizeof(buf), rest + 1, slash - 1) ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, buf, bin) != 1) {
		add(c->pr, true, "SPF ip%c: \"%.*s\" is not an IPv%c address", v6 ? '6' : '4',
		    quote_len(slash - 1), rest + 1, v6 ? '6' : '4');
		return;
	}
	i = slash;
	if (i < len && (!spf_cidr(rest, len, &i, v6 ? 128 : 32) || i != len))
		add(c->pr, true, "SPF ip%c: bad prefix length \"%.*s\"", v6 ? '6' : '4',
		    quote_len(len - slash), rest + slash);
}

static void
spf_count(struct spf_ctx *c)
{
	c->out->lookup_terms++;
}

/* "all" with its qualifier q; has_argument when something followed it. */
static void
spf_all(struct spf_ctx *c, char q, bool has_argument)
{
	if (has_argument)
		add(c->pr, true, "SPF: \"all\" takes no argument");
	if (c->seen_all)
		return;
	c->seen_all = true;
	c->out->all = q;
	if (q == '+')
		add(c->pr, false,
		    "SPF: \"+all\" lets every host on the Internet send as this domain");
}

/* One directive: [qualifier] mechanism. */
static void
spf_directive(struct spf_ctx *c, const char *t, size_t len)
{
	const char *term = t;
	size_t term_len = len, n;
	char q = '+';

	if (strchr("+-~?", t[0])) {
		q = t[0];
		t++;
		len--;
	}
	for (n = 0; n < len && is_alnum(t[n]); n++)
		;
	if (c->seen_all && !c->after_all_warned) {
		add(c->pr, false, "SPF: terms after \"all\" are never evaluated");
		c->after_all_warned = true;
	}
	if (eq_ci(t, n, "all")) {
		spf_all(c, q, n != len);
	} else if (eq_ci(t, n, "include") || eq_ci(t, n, "exists")) {
		char mech[8];
		copy(mech, sizeof(mech), t, n);
		for (char *m = mech; *m; m++)
			*m = (char)(*m | 0x20);
		spf_count(c);
		if (n == len || t[n] != ':' || n + 1 == len)
			add(c->pr, true, "SPF %s: needs \":\" and a domain", mech);
		else
			spf_target(c, mech, t + n + 1, len - n - 1, true);
	} else if (eq_ci(t, n, "a") || eq_ci(t, n, "mx")) {
		spf_count(c);
		spf_a_mx(c, n == 1 ? "a" : "mx", t + n, len - n);
	} else if (eq_ci(t, n, "ptr")) {
		spf_count(c);
		if (!c->out->has_ptr)
			add(c->pr, false,
			    "SPF: \"ptr\" is slow and unreliable and should not be used (RFC 7208 "
			    "5.5)");
		c->out->has_ptr = true;
		if (n < len && (t[n] != ':' || n + 1 == len))
			add(c->pr, true, "SPF ptr: bad argument \"%.*s\"", quote_len(len - n),
			    t + n);
		else if (n < len)
			spf_target(c, "ptr", t + n + 1, len - n - 1, true);
	} else if (eq_ci(t, n, "ip4") || eq_ci(t, n, "ip6")) {
		spf_ip(c, t[2] == '6', t + n, len - n);
	} else {
		add(c->pr, true, "SPF: unknown mechanism \"%.*s\"", quote_len(term_len), term);
	}
}

/* redirect= / exp= / unknown-modifier; name is t[0..n), the value after '='. */
static void
spf_modifier(struct spf_ctx *c, const char *t, size_t n, const char *v, size_t vlen)
{
	unsigned macros = 0;
	size_t last;
	bool macro = false;

	for (size_t i = 1; i < n; i++)
		if (!is_alnum(t[i]) && !strchr("-_.", t[i]))
			goto bad_name;
	if (n == 0 || !is_alpha(t[0]))
		goto bad_name;
	if (eq_ci(t, n, "redirect")) {
		if (c->seen_redirect) {
			add(c->pr, true, "SPF: \"redirect\" appears more than once");
			return;
		}
		c->seen_redirect = true;
		spf_count(c);
		if (!spf_domain_spec(v, vlen, &macro)) {
			add(c->pr, true, "SPF redirect: \"%.*s\" is not a valid domain-spec",
			    quote_len(vlen), v);
			return;
		}
		c->out->has_macros |= macro;
		if (!macro)
			copy(c->out->redirect, sizeof(c->out->redirect), v, vlen);
	} else if (eq_ci(t, n, "exp")) {
		if (c->seen_exp) {
			add(c->pr, true, "SPF: \"exp\" appears more than once");
			return;
		}
		c->seen_exp = true;
		if (!spf_domain_spec(v, vlen, &macro)) {
			add(c->pr, true, "SPF exp: \"%.*s\" is not a valid domain-spec",
			    quote_len(vlen), v);
			return;
		}
		c->out->has_macros |= macro;
		copy(c->out->exp, sizeof(c->out->exp), v, vlen);
	} else if (!spf_macro_string(v, vlen, false, &macros, &last)) {
		add(c->pr, true, "SPF: modifier \"%.*s\" has a bad value", quote_len(n), t);
	}
	return;
bad_name:
	add(c->pr, true, "SPF: \"%.*s\" is not a valid modifier name", quote_len(n), t);
}

static void
spf_term(struct spf_ctx *c, const char *t, size_t len)
{
	size_t n;

	for (n = 0; n < len && t[n] != '=' && t[n] != ':' && t[n] != '/'; n++)
		;
	if (n < len && t[n] == '=')
		spf_modifier(c, t, n, t + n + 1, len - n - 1);
	else
		spf_directive(c, t, len);
}

int
spf_parse(const char *txt, size_t len, struct spf_record *out, struct record_problems *pr)
{
	struct spf_ctx c = { .out = out, .pr = pr };
	size_t i = 6;

	memset(out, 0, sizeof(*out));
	memset(pr, 0, sizeof(*pr));
	if (!spf_is_record(txt, len)) {
		add(pr, true, "not an SPF record: it must start with \"v=spf1\"");
		return -1;
	}
	for (size_t k = 0; k < len; k++)
		if (txt[k] != ' ' && (txt[k] < 0x21 || txt[k] > 0x7e)) {
			add(pr, true,
			    "SPF: octet 0x%02x at offset %zu (only printable ASCII and spaces)",
			    (unsigned char)txt[k], k);
			return -1;
		}
	while (i < len) {
		size_t s;
		while (i < len && txt[i] == ' ')
			i++;
		for (s = i; i < len && txt[i] != ' '; i++)
			;
		if (i > s)
			spf_term(&c, txt + s, i - s);
	}
	if (out->lookup_terms > SPF_LOOKUP_MAX)
		add(pr, true, "SPF: %u DNS-querying terms, over the limit of %d (RFC 7208 4.6.4)",
		    out->lookup_terms, SPF_LOOKUP_MAX);
	if (c.seen_all && c.seen_redirect)
		add(pr, false, "SPF: \"redirect\" is ignored because the record has \"all\"");
	return verdict(pr);
}

/* ---- DMARC ------------------------------------------------------------- */

static bool
dmarc_policy(const struct tag *t, char dst[16], struct record_problems *pr)
{
	static const char *const ok[] = { "none", "quarantine", "reject" };

	for (size_t i = 0; i < 3; i++)
		if (eq_ci(t->value, t->value_len, ok[i])) {
			snprintf(dst, 16, "%s", ok[i]);
			return true;
		}
	add(pr, true, "DMARC %.*s=\"%.*s\": must be none, quarantine or reject",
	    quote_len(t->name_len), t->name, quote_len(t->value_len), t->value);
	return false;
}

static void
dmarc_align(const struct tag *t, char *dst, struct record_problems *pr)
{
	if (t->value_len == 1 && (t->value[0] | 0x20) == 'r')
		*dst = 'r';
	else if (t->value_len == 1 && (t->value[0] | 0x20) == 's')
		*dst = 's';
	else
		add(pr, true, "DMARC %.*s=\"%.*s\": must be r or s", quote_len(t->name_len),
		    t->name, quote_len(t->value_len), t->value);
}

/* fo = 0 / 1 / d / s joined by ':'; rf = keywords joined by ':'. */
static bool
colon_list_ok(const char *v, size_t len, bool fo)
{
	size_t i = 0;

	if (len == 0)
		return false;
	while (i < len) {
		size_t s;
		while (i < len && is_wsp(v[i]))
			i++;
		for (s = i; i < len && (fo ? strchr("01dsDS", v[i]) != NULL : is_alnum(v[i])); i++)
			;
		if (i == s || (fo && i - s != 1) || (!fo && !is_alpha(v[s])))
			return false;
		while (i < len && is_wsp(v[i]))
			i++;
		if (i < len && v[i++] != ':')
			return false;
		if (i == len && v[len - 1] == ':')
			return false;
	}
	return true;
}

/* Index of the tag in the known list, or -1. */
static int
dmarc_tag_index(const struct tag *t)
{
	static const char *const names[] = { "v", "p", "sp", "pct", "adkim", "aspf", "rua", "ruf",
		"fo", "rf", "ri" };

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (eq_ci(t->name, t->name_len, names[i]))
			return i;
	return -1;
}

static void
dmarc_tag(const struct tag *t, int idx, struct dmarc_record *out, struct record_problems *pr)
{
	unsigned long v;

	switch (idx) {
	case 1: dmarc_policy(t, out->p, pr); break;
	case 2: dmarc_policy(t, out->sp, pr); break;
	case 3:
		if (number(t->value, t->value_len, DMARC_PCT_MAX, &v))
			out->pct = (int)v;
		else
			add(pr, true, "DMARC pct=\"%.*s\": must be a whole number from 0 to 100",
			    quote_len(t->value_len), t->value);
		break;
	case 4: dmarc_align(t, &out->adkim, pr); break;
	case 5: dmarc_align(t, &out->aspf, pr); break;
	case 6:
		uri_list("DMARC rua", URI_DMARC, t->value, t->value_len, out->rua, &out->n_rua, pr);
		break;
	case 7:
		uri_list("DMARC ruf", URI_DMARC, t->value, t->value_len, out->ruf, &out->n_ruf, pr);
		break;
	case 8:
		if (!colon_list_ok(t->value, t->value_len, true) ||
		    !copy(out->fo, sizeof(out->fo), t->value, t->value_len))
			add(pr, true, "DMARC fo=\"%.*s\": must be 0, 1, d or s, joined by \":\"",
			    quote_len(t->value_len), t->value);
		break;
	case 9:
		if (!colon_list_ok(t->value, t->value_len, false))
			add(pr, true,
			    "DMARC rf=\"%.*s\": must be report format names joined by \":\"",
			    quote_len(t->value_len), t->value);
		else if (!eq_ci(t->value, t->value_len, "afrf"))
			add(pr, false, "DMARC rf=\"%.*s\": only afrf is defined",
			    quote_len(t->value_len), t->value);
		break;
	case 10:
		if (number(t->value, t->value_len, RI_MAX, &v))
			out->ri = v;
		else
			add(pr, true, "DMARC ri=\"%.*s\": must be a whole number of seconds",
			    quote_len(t->value_len), t->value);
		break;
	}
}

/* "v=DMARC1" exactly, as the first tag (RFC 7489 6.3, 6.4). */
static bool
dmarc_version(const char *txt, size_t len, size_t *pos, struct record_problems *pr)
{
	struct tag t;

	if (len == 0 || (txt[0] | 0x20) != 'v' || !next_tag(txt, len, pos, &t) || !t.has_eq ||
	    !eq_ci(t.name, t.name_len, "v")) {
		add(pr, true, "DMARC: the record must start with \"v=DMARC1\"");
		return false;
	}
	if (!eq(t.value, t.value_len, "DMARC1")) {
		add(pr, true, "DMARC: version \"%.*s\" is not \"DMARC1\" (upper case)",
		    quote_len(t.value_len), t.value);
		return false;
	}
	return true;
}

int
dmarc_parse(const char *txt, size_t len, struct dmarc_record *out, struct record_problems *pr)
{
	unsigned seen = 0;
	size_t pos = 0;
	struct tag t;

	memset(out, 0, sizeof(*out));
	memset(pr, 0, sizeof(*pr));
	out->pct = DMARC_PCT_MAX;
	out->adkim = out->aspf = 'r';
	out->ri = 86400;
	strcpy(out->fo, "0");
	if (!text_ok(txt, len, pr) || !dmarc_version(txt, len, &pos, pr))
		return -1;
	while (next_tag(txt, len, &pos, &t)) {
		int idx = dmarc_tag_index(&t);
		if (!t.has_eq) {
			add(pr, true, "DMARC: \"%.*s\" is not a tag=value pair",
			    quote_len(t.name_len), t.name);
			continue;
		}
		if (idx < 0) {
			add(pr, false, "DMARC: unknown tag \"%.*s\" is ignored",
			    quote_len(t.name_len), t.name);
			continue;
		}
		if (seen & (1u << idx)) {
			add(pr, true, "DMARC: tag \"%.*s\" appears more than once",
			    quote_len(t.name_len), t.name);
			continue;
		}
		seen |= 1u << idx;
		if (idx == 0)
			add(pr, true, "DMARC: \"v\" must be the first tag and appear once");
		else
			dmarc_tag(&t, idx, out, pr);
	}
	if (!(seen & (1u << 1)))
		add(pr, true, "DMARC: the required policy tag \"p\" is missing");
	return verdict(pr);
}

/* ---- MTA-STS TXT (RFC 8461 3.1) ----------------------------------------- */

/* sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".");
 * sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E).  Shared with TLS-RPT. */
static bool
extension_ok(const struct tag *t)
{
	if (t->name_len == 0 || t->name_len > 32 || !is_alnum(t->name[0]) || t->value_len == 0)
		return false;
	for (size_t i = 1; i < t->name_len; i++)
		if (!is_alnum(t->name[i]) && !strchr("_-.", t->name[i]))
			return false;
	for (size_t i = 0; i < t->value_len; i++)
		if (t->value[i] < 0x21 || t->value[i] > 0x7e || t->value[i] == '=' ||
		    t->value[i] == ';')
			return false;
	return true;
}

/* "v=VERSION" exactly (case-sensitive, no WSP), as the first field. */
static bool
exact_version(const char *txt, size_t len, size_t *pos, const char *what, const char *version,
    struct record_problems *pr)
{
	size_t vlen = strlen(version);

	size_t i = vlen + 2;

	if (len < vlen + 2 || memcmp(txt, "v=", 2) != 0 || memcmp(txt + 2, version, vlen) != 0 ||
	    (len > vlen + 2 && txt[vlen + 2] != ';' && !is_wsp(txt[vlen + 2]))) {
		add(pr, true, "%s: the record must start with \"v=%s\" (case matters)", what,
		    version);
		return false;
	}
	while (i < len && is_wsp(txt[i]))
		i++;
	if (i < len && txt[i] != ';') {
		add(pr, true, "%s: \";\" must follow \"v=%s\"", what, version);
		return false;
	}
	*pos = i;
	return true;
}

/* The tag as the ABNF has it: no WSP on either side of "=". */
static bool
tag_tight(const struct tag *t)
{
	return t->has_eq && t->name[t->name_len] == '=' &&
	    (t->value_len == 0 || t->value == t->name + t->name_len + 1);
}

int
mta_sts_txt_parse(const char *txt, size_t len, struct mta_sts_txt *out, struct record_problems *pr)
{
	size_t pos = 0;
	struct tag t;
	bool id = false;

	memset(out, 0, sizeof(*out));
	memset(pr, 0, sizeof(*pr));
	if (!text_ok(txt, len, pr) || !exact_version(txt, len, &pos, "MTA-STS", "STSv1", pr))
		return -1;
	while (next_tag(txt, len, &pos, &t)) {
		if (!tag_tight(&t)) {
			add(pr, true, "MTA-STS: \"%.*s\" is not a field=value pair without spaces",
			    quote_len(t.name_len), t.name);
		} else if (eq(t.name, t.name_len, "id")) {
			bool ok = t.value_len >= 1 && t.value_len <= 32;
			for (size_t i = 0; ok && i < t.value_len; i++)
				ok = is_alnum(t.value[i]);
			if (id)
				add(pr, true, "MTA-STS: \"id\" appears more than once");
			else if (!ok)
				add(pr, true,
				    "MTA-STS id=\"%.*s\": must be 1 to 32 letters and digits",
				    quote_len(t.value_len), t.value);
			else
				copy(out->id, sizeof(out->id), t.value, t.value_len);
			id = true;
		} else if (!extension_ok(&t)) {
			add(pr, true, "MTA-STS: \"%.*s\" is not a valid extension field",
			    quote_len(t.name_len), t.name);
		}
	}
	if (!id)
		add(pr, true, "MTA-STS: the required field \"id\" is missing");
	return verdict(pr);
}

/* ---- MTA-STS policy file (RFC 8461 3.2) --------------------------------- */

struct policy_ctx {
	struct mta_sts_policy *out;
	struct record_problems *pr;
	bool version, mode, max_age;
	unsigned line;
};

/* mx pattern: ["*."] Domain (RFC 8461 3.2, 4.1). */
static bool
mx_pattern_ok(const char *v, size_t len)
{
	if (len >= 2 && v[0] == '*' && v[1] == '.') {
		v += 2;
		len -= 2;
	}
	return hostname_ok(v, len);
}

static bool
policy_once(struct policy_ctx *c, bool *seen, const char *key)
{
	if (*seen) {
		add(c->pr, false, "MTA-STS policy line %u: \"%s\" again; the first one counts",
		    c->line, key);
		return false;
	}
	*seen = true;
	return true;
}

static void
policy_field(struct policy_ctx *c, const char *k, size_t klen, const char *v, size_t vlen)
{
	unsigned long age;

	if (eq(k, klen, "version")) {
		if (policy_once(c, &c->version, "version") && !eq(v, vlen, "STSv1"))
			add(c->pr, true,
			    "MTA-STS policy line %u: version \"%.*s\" is not \"STSv1\"", c->line,
			    quote_len(vlen), v);
	} else if (eq(k, klen, "mode")) {
		if (!policy_once(c, &c->mode, "mode"))
			return;
		if (eq(v, vlen, "enforce") || eq(v, vlen, "testing") || eq(v, vlen, "none"))
			copy(c->out->mode, sizeof(c->out->mode), v, vlen);
		else
			add(c->pr, true,
			    "MTA-STS policy line %u: mode \"%.*s\" is not enforce, testing or none",
			    c->line, quote_len(vlen), v);
	} else if (eq(k, klen, "max_age")) {
		if (!policy_once(c, &c->max_age, "max_age"))
			return;
		if (number(v, vlen, MTA_STS_MAX_AGE_MAX, &age))
			c->out->max_age = (long)age;
		else
			add(c->pr, true,
			    "MTA-STS policy line %u: max_age \"%.*s\" is not a number of seconds "
			    "from 0 to %ld",
			    c->line, quote_len(vlen), v, MTA_STS_MAX_AGE_MAX);
	} else if (eq(k, klen, "mx")) {
		if (!mx_pattern_ok(v, vlen))
			add(c->pr, true,
			    "MTA-STS policy line %u: mx \"%.*s\" is not a host name or *.domain",
			    c->line, quote_len(vlen), v);
		else if (c->out->n_mx == MTA_STS_MX_MAX)
			add(c->pr, false,
			    "MTA-STS policy: more than %d mx lines; the rest are not compared",
			    MTA_STS_MX_MAX);
		else if (copy(c->out->mx[c->out->n_mx], 256, v, vlen))
			c->out->n_mx++;
	}
	/* other keys are extensions, which readers ignore (RFC 8461 3.2) */
}

/* One line without its terminator: key ":" *WSP value *WSP. */
static void
policy_line(struct policy_ctx *c, const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	size_t klen, v;

	if (len == 0) {
		add(c->pr, false, "MTA-STS policy line %u: empty line", c->line);
		return;
	}
	if (colon == NULL) {
		add(c->pr, true, "MTA-STS policy line %u: \"%.*s\" has no \":\"", c->line,
		    quote_len(len), s);
		return;
	}
	klen = (size_t)(colon - s);
	for (size_t i = 0; i < klen; i++) /* (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
		if ((!is_alnum(s[i]) && (i == 0 || !strchr("_-.", s[i]))) || i >= 32) {
			add(c->pr, true, "MTA-STS policy line %u: bad field name \"%.*s\"", c->line,
			    quote_len(klen), s);
			return;
		}
	for (v = klen + 1; v < len && is_wsp(s[v]); v++)
		;
	while (len > v && is_wsp(s[len - 1]))
		len--;
	if (klen == 0 || v == len) {
		add(c->pr, true, "MTA-STS policy line %u: \"%.*s\" lacks a name or a value",
		    c->line, quote_len(len), s);
		return;
	}
	policy_field(c, s, klen, s + v, len - v);
}

int
mta_sts_policy_parse(
    const char *body, size_t len, struct mta_sts_policy *out, struct record_problems *pr)
{
	struct policy_ctx c = { .out = out, .pr = pr };
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	memset(pr, 0, sizeof(*pr));
	out->max_age = -1;
	for (size_t k = 0; k < len; k++) {
		unsigned char o = (unsigned char)body[k];
		bool crlf = o == '\r' && k + 1 < len && body[k + 1] == '\n';
		if (o != '\n' && o != '\t' && !crlf && (o < 0x20 || o > 0x7e)) {
			add(pr, true,
			    "MTA-STS policy: octet 0x%02x at offset %zu is not printable ASCII", o,
			    k);
			return -1;
		}
	}
	while (i < len) {
		size_t s = i, e;
		while (i < len && body[i] != '\n')
			i++;
		e = i;
		if (e > s && body[e - 1] == '\r')
			e--;
		c.line++;
		if (!(i == len && e == s)) /* nothing after the last line end */
			policy_line(&c, body + s, e - s);
		i++;
	}
	if (!c.version)
		add(pr, true, "MTA-STS policy: \"version: STSv1\" is missing");
	if (!c.mode)
		add(pr, true, "MTA-STS policy: \"mode\" is missing");
	if (!c.max_age)
		add(pr, true, "MTA-STS policy: \"max_age\" is missing");
	if (out->n_mx == 0 &&
	    (strcmp(out->mode, "enforce") == 0 || strcmp(out->mode, "testing") == 0))
		add(pr, true, "MTA-STS policy: mode %s needs at least one \"mx\" line", out->mode);
	return verdict(pr);
}

/* Compares a[0..n) and b[0..n) ignoring ASCII case. */
static bool
same_ci(const char *a, const char *b, size_t n)
{
	return strncasecmp(a, b, n) == 0;
}

bool
mta_sts_mx_match(const char *pattern, const char *host)
{
	size_t plen = strlen(pattern), hlen = strlen(host);
	const char *dot;

	if (plen && pattern[plen - 1] == '.')
		plen--;
	if (hlen && host[hlen - 1] == '.')
		hlen--;
	if (plen == 0 || hlen == 0)
		return false;
	if (plen < 2 || pattern[0] != '*' || pattern[1] != '.')
		return plen == hlen && same_ci(pattern, host, plen);
	/* "*.example.com": exactly one label more, left of ".example.com" */
	dot = memchr(host, '.', hlen);
	if (dot == NULL || dot == host)
		return false;
	return (size_t)(host + hlen - dot) == plen - 1 && same_ci(dot, pattern + 1, plen - 1);
}

/* ---- TLS-RPT (RFC 8460 3) ----------------------------------------------- */

int
tlsrpt_parse(const char *txt, size_t len, struct tlsrpt_record *out, struct record_problems *pr)
{
	size_t pos = 0;
	struct tag t;
	bool rua = false;

	memset(out, 0, sizeof(*out));
	memset(pr, 0, sizeof(*pr));
	if (!text_ok(txt, len, pr) || !exact_version(txt, len, &pos, "TLS-RPT", "TLSRPTv1", pr))
		return -1;
	while (next_tag(txt, len, &pos, &t)) {
		if (!t.has_eq || !eq(t.name, t.name_len, "rua")) {
			if (!t.has_eq || !extension_ok(&t))
				add(pr, true, "TLS-RPT: \"%.*s\" is not a valid field",
				    quote_len(t.name_len), t.name);
		} else if (!tag_tight(&t)) {
			add(pr, true, "TLS-RPT: no spaces allowed around \"=\" in rua");
		} else if (rua) {
			add(pr, true, "TLS-RPT: \"rua\" appears more than once");
		} else {
			rua = true;
			uri_list("TLS-RPT rua", URI_TLSRPT, t.value, t.value_len, out->rua,
			    &out->n_rua, pr);
		}
	}
	if (!rua)
		add(pr, true, "TLS-RPT: the required field \"rua\" is missing");
	return verdict(pr);
}
