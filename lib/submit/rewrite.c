/*
 * rewrite.c - bare local names qualified with the origin: envelope
 * addresses, and the address fields of a header (RFC 5322 3.4) scanned
 * token by token so that only a lone local part gets "@origin" and
 * quoted strings, comments, display names and group names are never
 * touched.  Never parses what it does not rewrite; no I/O but the host
 * name lookup of rewrite_origin_default.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rewrite.h"

#define MAX_INSERTS 4096 /* qualified names in one header */

static const char *const address_fields[] = {
	"From",
	"Sender",
	"Reply-To",
	"To",
	"Cc",
	"Bcc",
	"Resent-From",
	"Resent-Sender",
	"Resent-Reply-To",
	"Resent-To",
	"Resent-Cc",
	"Resent-Bcc",
};

void
rewrite_origin_default(char out[REWRITE_ORIGIN_MAX + 1])
{
	struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *ai = NULL;
	char host[REWRITE_ORIGIN_MAX + 1] = "";

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[REWRITE_ORIGIN_MAX] = '\0';
	memcpy(out, host, sizeof(host));
	if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai != NULL && ai->ai_canonname != NULL &&
	    rewrite_origin_ok(ai->ai_canonname))
		snprintf(out, REWRITE_ORIGIN_MAX + 1, "%s", ai->ai_canonname);
	if (ai != NULL)
		freeaddrinfo(ai);
}

bool
rewrite_origin_ok(const char *origin)
{
	size_t n = origin ? strlen(origin) : 0;

	if (n == 0 || n > REWRITE_ORIGIN_MAX || origin[0] == '.' || origin[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = origin[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '.'))
			return false;
	}
	return true;
}

mx_err
rewrite_address(const char *addr, const char *origin, char *out, size_t out_size)
{
	size_t n = strlen(addr), o = strlen(origin);
	bool bare = n > 0 && strchr(addr, '@') == NULL;
	size_t need = n + (bare ? o + 1 : 0) + 1;

	if (need > out_size)
		return MX_ERR_INVALID;
	memcpy(out, addr, n);
	if (bare) {
		out[n] = '@';
		memcpy(out + n + 1, origin, o);
	}
	out[need - 1] = '\0';
	return MX_OK;
}

/* Where "@origin" goes, and how many: filled by the scan of each field. */
struct inserts {
	size_t at[MAX_INSERTS];
	size_t n;
};

static bool
is_special(unsigned char c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == ':' ||
	    c == ';' || c == '@' || c == '\\' || c == ',' || c == '"';
}

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Past a comment (nested) or a quoted string starting at v[i]. */
static size_t
skip_delimited(const char *v, size_t i, size_t n)
{
	int depth = 0;
	char open = v[i];

	for (; i < n; i++) {
		if (v[i] == '\\') {
			i++;
			continue;
		}
		if (open == '"' && v[i] == '"' && depth++ == 1)
			return i + 1;
		if (open == '(' && v[i] == '(')
			depth++;
		if (open == '(' && v[i] == ')' && --depth == 0)
			return i + 1;
	}
	return n;
}

/*
 * One mailbox (or group name) of v[from..to), ended by the octet end
 * (',', ';', ':' or 0 at the end).  A group name (ended by ':') is left
 * alone; "<x>" without "@" becomes "<x@origin>"; a mailbox that is one
 * bare word, apart from blanks and comments, gets "@origin" after it.
 */
static void
scan_mailbox(const char *v, size_t from, size_t to, char end, size_t base, struct inserts *ins)
{
	size_t words = 0, word_end = 0, lt = 0, gt = 0;
	bool at = false, angle = false, other = false;

	for (size_t i = from; i < to;) {
		unsigned char c = (unsigned char)v[i];
		if (c == '(' || c == '"') {
			size_t j = skip_delimited(v, i, to);
			if (c == '"')
				words++, word_end = j;
			i = j;
			continue;
		}
		if (is_space(c)) {
			i++;
			continue;
		}
		if (c == '<' && !angle)
			angle = true, lt = i;
		else if (c == '>' && angle && gt == 0)
			gt = i;
		else if (c == '@')
			at = true;
		else if (is_special(c))
			other = true;
		else {
			while (i < to && !is_special((unsigned char)v[i]) &&
			    !is_space((unsigned char)v[i]))
				i++;
			words++, word_end = i;
			continue;
		}
		i++;
	}
	if (end == ':' || at || ins->n >= MAX_INSERTS)
		return;
	if (angle && gt > lt + 1) {
		bool empty = true;
		for (size_t i = lt + 1; i < gt; i++)
			empty &= is_space((unsigned char)v[i]);
		if (!empty)
			ins->at[ins->n++] = base + gt;
		return;
	}
	if (!angle && !other && words == 1)
		ins->at[ins->n++] = base + word_end;
}

/* An address field's value v[0..n), at offset base of the header. */
static void
scan_value(const char *v, size_t n, size_t base, struct inserts *ins)
{
	size_t start = 0;
	bool angle = false;

	for (size_t i = 0; i <= n;) {
		char c = (char)(i < n ? v[i] : '\0');
		if (i < n && (c == '(' || c == '"')) {
			i = skip_delimited(v, i, n);
			continue;
		}
		if (c == '<')
			angle = true;
		if (c == '>')
			angle = false;
		if (i == n || (!angle && (c == ',' || c == ';' || c == ':'))) {
			scan_mailbox(v, start, i, c, base, ins);
			start = i + 1;
		}
		i++;
	}
}

static bool
address_field(const char *line, size_t n, size_t *colon)
{
	const char *c = memchr(line, ':', n);
	size_t name_len;

	if (c == NULL)
		return false;
	name_len = (size_t)(c - line);
	while (name_len > 0 && (line[name_len - 1] == ' ' || line[name_len - 1] == '\t'))
		name_len--;
	*colon = (size_t)(c - line);
	for (size_t i = 0; i < sizeof(address_fields) / sizeof(address_fields[0]); i++)
		if (strlen(address_fields[i]) == name_len &&
		    strncasecmp(line, address_fields[i], name_len) == 0)
			return true;
	return false;
}

/* The end of the field starting at in[i] (continuation lines included). */
static size_t
field_end(const char *in, size_t len, size_t i)
{
	for (;;) {
		const char *nl = memchr(in + i, '\n', len - i);
		if (nl == NULL)
			return len;
		i = (size_t)(nl - in) + 1;
		if (i >= len || (in[i] != ' ' && in[i] != '\t'))
			return i;
	}
}

/* The length of the header: up to and including its empty line. */
static size_t
header_length(const char *in, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (in[i] == '\n' || (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n'))
			return i + (in[i] == '\r' ? 2 : 1);
		const char *nl = memchr(in + i, '\n', len - i);
		if (nl == NULL)
			return len;
		i = (size_t)(nl - in) + 1;
	}
	return len;
}

static mx_err
build(const char *in, size_t hlen, const char *origin, const struct inserts *ins, char **out,
    size_t *out_len)
{
	size_t o = strlen(origin), pos = 0, w = 0;
	char *buf = malloc(hlen + ins->n * (o + 1) + 1);

	if (buf == NULL)
		return MX_ERR_NOMEM;
	for (size_t k = 0; k < ins->n; k++) {
		memcpy(buf + w, in + pos, ins->at[k] - pos);
		w += ins->at[k] - pos;
		buf[w++] = '@';
		memcpy(buf + w, origin, o);
		w += o;
		pos = ins->at[k];
	}
	memcpy(buf + w, in + pos, hlen - pos);
	w += hlen - pos;
	buf[w] = '\0';
	*out = buf;
	*out_len = w;
	return MX_OK;
}

mx_err
rewrite_header(
    const char *in, size_t len, const char *origin, char **out, size_t *out_len, size_t *header_len)
{
	struct inserts *ins = calloc(1, sizeof(*ins));
	size_t hlen = header_length(in, len), i = 0, colon;
	mx_err err;

	if (ins == NULL)
		return MX_ERR_NOMEM;
	*header_len = hlen;
	while (hlen <= REWRITE_HEADER_MAX && i < hlen) {
		size_t end = field_end(in, hlen, i);
		if (in[i] != '\r' && in[i] != '\n' && address_field(in + i, end - i, &colon))
			scan_value(in + i + colon + 1, end - i - colon - 1, i + colon + 1, ins);
		i = end;
	}
	err = build(in, hlen, origin, ins, out, out_len);
	free(ins);
	return err;
}
