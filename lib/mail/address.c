/*
 * address.c - mail addresses.  The first half reads one envelope address
 * (RFC 5321 4.1.2 Mailbox, RFC 6531 UTF-8) into struct address; the second
 * reads an RFC 5322 address-list header field into addr-specs and hands
 * each to the first half.  Pure: no I/O, no DNS; domains go through
 * mx_domain_from_arg (libidn2) and come out as A-labels.  Refuses every
 * control character anywhere, so no address can carry an SMTP command
 * (golang/go#21159).  Owns only the arrays of struct address_list, which
 * address_list_clear frees.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "grow.h"
#include "name.h"

#define WHY_LINE_BREAK "contains a line break (CR or LF), which could smuggle in an SMTP command"
#define WHY_NUL        "contains a NUL byte"
#define WHY_CONTROL    "contains a control character"

/* ---- characters --------------------------------------------------------- */

/* RFC 5322 3.2.3 atext, and RFC 6531 3.3 UTF8-non-ascii (checked apart). */
static bool
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), 0 if none. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp, min;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, cp = s[0] & 0x1fu, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, cp = s[0] & 0x0fu, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, cp = s[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, step;

	while (i < n) {
		if ((step = utf8_len(u + i, n - i)) == 0)
			return false;
		i += step;
	}
	return true;
}

static bool
has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* C0 controls, DEL, and C1 controls written in UTF-8 (U+0080-U+009F). */
static const char *
check_controls(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++) {
		if (u[i] == '\r' || u[i] == '\n')
			return WHY_LINE_BREAK;
		if (u[i] == '\0')
			return WHY_NUL;
		if (u[i] < 0x20 || u[i] == 0x7f)
			return WHY_CONTROL;
		if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			return WHY_CONTROL;
	}
	return NULL;
}

/* ---- one envelope address ------------------------------------------------ */

static const char *
bad_char_why(unsigned char c)
{
	if (c == ' ')
		return "contains a space outside quotes";
	if (c == '"')
		return "has a quote inside its local part (quote all of it or nothing)";
	return "has a character in its local part that is allowed only inside "
	       "quotes: one of ( ) < > [ ] : ; \\ ,";
}

/* Quoted-string (RFC 5321 4.1.2): DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE. */
static const char *
scan_quoted(const char *s, size_t len, size_t *local_len)
{
	size_t i = 1;

	for (;;) {
		if (i >= len)
			return "has a quoted local part without its closing quote";
		if (s[i] == '"')
			break;
		if (s[i] == '\\') {
			if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126)
				return "has a backslash in quotes that is not followed "
				       "by a printable ASCII character";
			i++;
		}
		i++;
	}
	*local_len = i + 1;
	if (*local_len == len)
		return "has no @domain";
	if (s[*local_len] != '@')
		return "has text between the closing quote and the @";
	return NULL;
}

/* Dot-string (RFC 5321 4.1.2): Atom *("." Atom). */
static const char *
scan_dot_string(const char *s, size_t len, size_t *local_len)
{
	size_t i;

	for (i = 0; i < len && s[i] != '@'; i++) {
		if (s[i] == '.') {
			if (i == 0)
				return "has a local part that begins with a dot";
			if (s[i - 1] == '.')
				return "has two dots in a row in its local part";
			continue;
		}
		if (!is_atext((unsigned char)s[i]))
			return bad_char_why((unsigned char)s[i]);
	}
	if (i == len)
		return "has no @domain";
	if (i == 0)
		return "has an empty local part";
	if (s[i - 1] == '.')
		return "has a local part that ends with a dot";
	*local_len = i;
	return NULL;
}

static const char *
check_local(const char *s, size_t len, size_t *local_len)
{
	const char *why;

	if (s[0] == '@')
		return memchr(s, ':', len) != NULL ? "has a source route (@host,...:), "
						     "which is obsolete and not supported"
						   : "has an empty local part";
	why = s[0] == '"' ? scan_quoted(s, len, local_len) : scan_dot_string(s, len, local_len);
	if (why != NULL)
		return why;
	if (*local_len > ADDRESS_LOCAL_MAX)
		return "has a local part longer than 64 octets";
	if (!utf8_valid(s, *local_len))
		return "has a local part that is not valid UTF-8";
	return NULL;
}

/* The domain after the @: checked here, normalised by mx_domain_from_arg. */
static const char *
take_domain(const char *s, size_t len, char out[MX_DOMAIN_MAX + 1])
{
	char buf[ADDRESS_INPUT_MAX + 1];
	const char *why = NULL;

	if (len == 0)
		return "has nothing after the @";
	if (memchr(s, '@', len) != NULL)
		return "has more than one @ outside quotes";
	if (s[0] == '[')
		return "has an address literal ([...]) as its domain: not supported yet";
	if (memchr(s, ' ', len) != NULL)
		return "contains a space outside quotes";
	if (!has_8bit(s, len) && len > ADDRESS_DOMAIN_MAX)
		return "has a domain longer than 255 octets";
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (domain_from_arg(buf, out, &why) != MX_OK)
		return why != NULL ? why : "has a malformed domain";
	return NULL;
}

/* Removes the angle brackets, if any; "" stays "" (the null path). */
static const char *
strip_brackets(const char **s, size_t *len)
{
	if (*len > 0 && (*s)[0] == '<') {
		if (*len < 2 || (*s)[*len - 1] != '>')
			return "has a < without a closing >";
		(*s)++;
		*len -= 2;
		return NULL;
	}
	if (*len > 0 && (*s)[*len - 1] == '>')
		return "has a > without an opening <";
	return NULL;
}

/* "<local@domain>", whose length the caller has checked. */
static void
write_path(struct address *a)
{
	size_t l = strlen(a->local), d = strlen(a->domain);

	a->path[0] = '<';
	memcpy(a->path + 1, a->local, l);
	a->path[1 + l] = '@';
	memcpy(a->path + 2 + l, a->domain, d);
	memcpy(a->path + 2 + l + d, ">", 2);
}

static const char *
parse_path(const char *in, size_t len, address_role role, struct address *out)
{
	size_t local_len = 0;
	const char *why;

	if ((why = check_controls(in, len)) != NULL)
		return why;
	if (len == 0)
		return "is empty";
	if (len > ADDRESS_INPUT_MAX)
		return "is longer than 1024 octets";
	if ((why = strip_brackets(&in, &len)) != NULL)
		return why;
	if (len == 0) {
		if (role != ADDRESS_SENDER)
			return "is the null path <>, which only a sender can be";
		out->null = true;
		memcpy(out->path, "<>", 3);
		return NULL;
	}
	if ((why = check_local(in, len, &local_len)) != NULL)
		return why;
	if ((why = take_domain(in + local_len + 1, len - local_len - 1, out->domain)) != NULL)
		return why;
	if (local_len + strlen(out->domain) + 3 > ADDRESS_PATH_MAX)
		return "is longer than 256 octets as an SMTP path <local@domain>";
	memcpy(out->local, in, local_len);
	out->local[local_len] = '\0';
	out->smtputf8 = has_8bit(in, local_len);
	write_path(out);
	return NULL;
}

mx_err
address_parse_bytes(
    const char *in, size_t len, address_role role, struct address *out, const char **why)
{
	const char *reason = NULL;

	if (why == NULL)
		why = &reason;
	*why = NULL;
	if (in == NULL || out == NULL)
		return MX_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if ((*why = parse_path(in, len, role, out)) == NULL)
		return MX_OK;
	memset(out, 0, sizeof(*out));
	return MX_ERR_BAD_ADDRESS;
}

mx_err
address_parse(const char *in, struct address *out, const char **why)
{
	return address_parse_bytes(in, in != NULL ? strlen(in) : 0, ADDRESS_RECIPIENT, out, why);
}

mx_err
address_parse_sender(const char *in, struct address *out, const char **why)
{
	return address_parse_bytes(in, in != NULL ? strlen(in) : 0, ADDRESS_SENDER, out, why);
}

bool
address_same(const struct address *a, const struct address *b)
{
	return strcmp(a->path, b->path) == 0;
}

/* ---- RFC 5322 address-list: tokens ---------------------------------------- */

typedef enum tok_kind {
	TOK_END,
	TOK_ATOM,
	TOK_QUOTED,
	TOK_LITERAL,
	TOK_DOT,
	TOK_AT,
	TOK_LT,
	TOK_GT,
	TOK_COMMA,
	TOK_COLON,
	TOK_SEMI,
	TOK_BAD,
} tok_kind;

struct token {
	tok_kind kind;
	const char *start, *end;
	const char *why; /* TOK_BAD */
};

struct lexer {
	const char *p, *end;
};

/* Folded lines keep their CRLF here: white space like the rest. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips white space and comments (nested, with quoted pairs). */
static bool
skip_cfws(struct lexer *lx)
{
	size_t depth = 0;

	while (lx->p < lx->end) {
		char c = *lx->p;
		if (depth == 0 && !is_space(c) && c != '(')
			return true;
		lx->p++;
		if (c == '(')
			depth++;
		else if (c == ')')
			depth--;
		else if (c == '\\' && lx->p < lx->end)
			lx->p++;
	}
	return depth == 0;
}

/* A quoted string or a domain literal; the opening character is at lx->p. */
static const char *
scan_delimited(struct lexer *lx, char close)
{
	for (lx->p++; lx->p < lx->end;) {
		char c = *lx->p++;
		if (c == close)
			return NULL;
		if (c == '\\' && lx->p < lx->end)
			lx->p++;
		else if (close == ']' && c == '[')
			break;
	}
	return close == '"' ? "has a quoted string without its closing quote"
			    : "has a [ without its closing ]";
}

static tok_kind
special_kind(char c)
{
	static const char specials[] = ".@<>,:;";
	static const tok_kind kinds[] = { TOK_DOT, TOK_AT, TOK_LT, TOK_GT, TOK_COMMA, TOK_COLON,
		TOK_SEMI };
	const char *s = c != '\0' ? strchr(specials, c) : NULL;

	return s != NULL ? kinds[s - specials] : TOK_BAD;
}

static void
lex_next(struct lexer *lx, struct token *t)
{
	const char *before = lx->p;
	unsigned char c;

	t->why = NULL;
	t->kind = TOK_END;
	if (!skip_cfws(lx)) {
		t->kind = TOK_BAD;
		t->why = "has a comment without its closing parenthesis";
		t->start = before;
		t->end = lx->p;
		return;
	}
	t->start = t->end = lx->p;
	if (lx->p == lx->end)
		return;
	c = (unsigned char)*lx->p;
	if (c == '"' || c == '[') {
		t->why = scan_delimited(lx, c == '"' ? '"' : ']');
		t->kind = t->why != NULL ? TOK_BAD : c == '"' ? TOK_QUOTED : TOK_LITERAL;
	} else if (is_atext(c)) {
		while (lx->p < lx->end && is_atext((unsigned char)*lx->p))
			lx->p++;
		t->kind = TOK_ATOM;
	} else if ((t->kind = special_kind((char)c)) == TOK_BAD) {
		lx->p++;
		t->why = c < 0x20 || c == 0x7f
		    ? WHY_CONTROL
		    : "has a character out of place: ( ) [ ] \\ or \" without its pair";
	} else {
		lx->p++;
	}
	t->end = lx->p;
}

/* ---- RFC 5322 address-list: the text of one addr-spec --------------------- */

struct text {
	char buf[ADDRESS_INPUT_MAX + 1];
	size_t len;
	bool full;
};

static void
put(struct text *t, char c)
{
	if (t->len < ADDRESS_INPUT_MAX)
		t->buf[t->len++] = c;
	else
		t->full = true;
}

/* The content of a quoted string, its quoted pairs and folds undone. */
static void
put_unquoted(struct text *t, const char *s, const char *end, bool requote)
{
	for (s++, end--; s < end; s++) {
		if (*s == '\r' || *s == '\n')
			continue;
		if (*s == '\\' && s + 1 < end)
			s++;
		if (requote && (*s == '"' || *s == '\\'))
			put(t, '\\');
		put(t, *s);
	}
}

/*
 * Writes the local part that the words in [start, end) spell as RFC 5321
 * text: a Dot-string when every word is an atom, else one Quoted-string
 * ("a".b and "a" . "b" both become "a.b").
 */
static void
put_local(struct text *t, const char *start, const char *end)
{
	struct lexer lx = { start, end };
	struct token tok;
	bool quoted = false;

	for (lex_next(&lx, &tok); tok.kind != TOK_END; lex_next(&lx, &tok))
		quoted |= tok.kind == TOK_QUOTED;
	if (quoted)
		put(t, '"');
	lx.p = start;
	for (lex_next(&lx, &tok); tok.kind != TOK_END; lex_next(&lx, &tok)) {
		if (tok.kind == TOK_QUOTED)
			put_unquoted(t, tok.start, tok.end, true);
		else
			for (const char *s = tok.start; s < tok.end; s++)
				put(t, *s);
	}
	if (quoted)
		put(t, '"');
}

/* The domain: atoms and dots joined, or a literal without its folds. */
static void
put_domain(struct text *t, const char *start, const char *end)
{
	struct lexer lx = { start, end };
	struct token tok;

	for (lex_next(&lx, &tok); tok.kind != TOK_END; lex_next(&lx, &tok))
		for (const char *s = tok.start; s < tok.end; s++)
			if (*s != '\r' && *s != '\n')
				put(t, *s);
}

/* ---- RFC 5322 address-list: the parser ------------------------------------ */

struct parser {
	struct lexer lx;
	struct token tok;
	struct address_list *list;
	size_t cap;
	bool in_group;
	mx_err err;
};

/* A run of atoms, quoted strings and dots: a display name or a local part. */
struct words {
	const char *start, *end;
	size_t n;
	bool local_ok;  /* word *("." word) */
	bool phrase_ok; /* word *(word / ".") (RFC 5322 obs-phrase) */
};

static void
advance(struct parser *p)
{
	lex_next(&p->lx, &p->tok);
}

static bool
at_boundary(const struct parser *p)
{
	return p->tok.kind == TOK_COMMA || p->tok.kind == TOK_SEMI || p->tok.kind == TOK_END;
}

static void
read_words(struct parser *p, struct words *w)
{
	tok_kind prev = TOK_END;

	w->start = w->end = p->tok.start;
	w->n = 0;
	w->local_ok = w->phrase_ok = true;
	while (p->tok.kind == TOK_ATOM || p->tok.kind == TOK_QUOTED || p->tok.kind == TOK_DOT) {
		bool word = p->tok.kind != TOK_DOT;
		if (w->n == 0 && !word)
			w->local_ok = w->phrase_ok = false;
		if (w->n > 0 && word == (prev != TOK_DOT))
			w->local_ok = false;
		prev = p->tok.kind;
		w->end = p->tok.end;
		w->n++;
		advance(p);
	}
	if (prev == TOK_DOT)
		w->local_ok = false;
}

static bool
list_full(struct parser *p)
{
	if (p->list->n_items + p->list->n_bad < p->cap)
		return false;
	p->list->overflow = true;
	return true;
}

/* Records [start, end) as an address that could not be used. */
static void
add_bad(struct parser *p, const char *start, const char *end, const char *why)
{
	struct address_bad *b;
	size_t o = 0;

	if (list_full(p))
		return;
	if (!array_grow((void **)&p->list->bad, p->list->n_bad, sizeof(*b))) {
		p->err = MX_ERR_NOMEM;
		return;
	}
	b = &p->list->bad[p->list->n_bad++];
	while (start < end && is_space(*start))
		start++;
	while (end > start && is_space(end[-1]))
		end--;
	for (; start < end && o < ADDRESS_BAD_TEXT_MAX; start++) {
		unsigned char c = (unsigned char)*start;
		if (c != '\r' && c != '\n')
			b->text[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	if (start < end) {
		memcpy(b->text + o, "...", 3);
		o += 3;
	}
	b->text[o] = '\0';
	b->why = why;
}

static void
add_item(struct parser *p, const struct address *a)
{
	for (size_t i = 0; i < p->list->n_items; i++)
		if (address_same(&p->list->items[i], a))
			return;
	if (list_full(p))
		return;
	if (!array_grow((void **)&p->list->items, p->list->n_items, sizeof(*a))) {
		p->err = MX_ERR_NOMEM;
		return;
	}
	p->list->items[p->list->n_items++] = *a;
}

/* Builds local@domain from the two regions and checks it as a recipient. */
static const char *
add_spec(struct parser *p, const struct words *local, const char *dstart, const char *dend)
{
	struct text t = { .len = 0, .full = false };
	struct address a;
	const char *why = NULL;

	put_local(&t, local->start, local->end);
	put(&t, '@');
	put_domain(&t, dstart, dend);
	if (t.full)
		return "is longer than 1024 octets";
	if (address_parse_bytes(t.buf, t.len, ADDRESS_RECIPIENT, &a, &why) != MX_OK)
		return why;
	add_item(p, &a);
	return NULL;
}

/* After the @: dot-atom (RFC 5322 obs-domain allows CFWS around dots) or [literal]. */
static const char *
read_domain(struct parser *p, const char **start, const char **end)
{
	advance(p);
	*start = *end = p->tok.start;
	if (p->tok.kind == TOK_LITERAL) {
		*end = p->tok.end;
		advance(p);
		return NULL;
	}
	for (;;) {
		if (p->tok.kind != TOK_ATOM)
			return *start == *end ? "has nothing usable after the @"
					      : "has a domain with an empty label";
		*end = p->tok.end;
		advance(p);
		if (p->tok.kind != TOK_DOT)
			return NULL;
		advance(p);
	}
}

/* local "@" domain, with the words of the local part already read. */
static const char *
parse_spec(struct parser *p, const struct words *local, bool angle)
{
	const char *dstart, *dend, *why;

	if (local->n == 0)
		return "has nothing before the @";
	if (!local->local_ok)
		return "has a local part that is not words joined by dots";
	if ((why = read_domain(p, &dstart, &dend)) != NULL)
		return why;
	if (angle) {
		if (p->tok.kind != TOK_GT)
			return "has no > after its address";
		advance(p);
	}
	if (!at_boundary(p))
		return angle ? "has text after the >"
			     : "has text after the address (a name needs <...> around the address)";
	return add_spec(p, local, dstart, dend);
}

/* [display-name] "<" [obs-route] addr-spec ">", the words before '<' read. */
static const char *
parse_angle(struct parser *p, const struct words *name)
{
	struct words local;

	if (name->n > 0 && !name->phrase_ok)
		return "has a display name that needs quotes";
	advance(p);
	if (p->tok.kind == TOK_AT) {
		while (p->tok.kind == TOK_AT || p->tok.kind == TOK_ATOM || p->tok.kind == TOK_DOT ||
		    p->tok.kind == TOK_COMMA)
			advance(p);
		if (p->tok.kind != TOK_COLON)
			return "has a malformed route (@host,...:) in its <...>";
		advance(p);
	}
	if (p->tok.kind == TOK_GT)
		return "is the null path <>, which only a sender can be";
	read_words(p, &local);
	if (p->tok.kind != TOK_AT)
		return p->tok.kind == TOK_BAD ? p->tok.why : "has no @domain inside its <...>";
	return parse_spec(p, &local, true);
}

static const char *
start_group(struct parser *p, const struct words *name)
{
	if (p->in_group)
		return "has a group inside a group";
	if (name->n == 0 || !name->phrase_ok)
		return "has a group without a proper name before the :";
	p->in_group = true;
	advance(p);
	return NULL;
}

/* Skips to the next ',' or ';' outside angle brackets. */
static void
skip_item(struct parser *p)
{
	size_t depth = 0;

	for (; p->tok.kind != TOK_END; advance(p)) {
		if (p->tok.kind == TOK_LT)
			depth++;
		else if (p->tok.kind == TOK_GT && depth > 0)
			depth--;
		else if (depth == 0 && at_boundary(p))
			return;
	}
}

/*
 * One element of the list: a mailbox, the start of a group, or nothing
 * (an empty element, RFC 5322 obs-addr-list).  Ends at a ',' ';' or the
 * end, except after a group's ':', where the first member follows.
 */
static void
parse_item(struct parser *p)
{
	const char *item = p->tok.start, *why = NULL;
	struct words w;

	read_words(p, &w);
	switch (p->tok.kind) {
	case TOK_LT: why = parse_angle(p, &w); break;
	case TOK_COLON: why = start_group(p, &w); break;
	case TOK_AT: why = parse_spec(p, &w, false); break;
	case TOK_COMMA:
	case TOK_SEMI:
	case TOK_END:
		if (w.n > 0)
			why = "has no @domain (a name alone is not an address)";
		break;
	case TOK_BAD: why = p->tok.why; break;
	default: why = "has a > without an opening <"; break;
	}
	if (why == NULL)
		return;
	skip_item(p);
	add_bad(p, item, p->tok.start, why);
}

mx_err
address_list_parse(const char *field, size_t len, size_t cap, struct address_list *list)
{
	struct parser p = { .list = list, .cap = cap, .in_group = false, .err = MX_OK };

	if ((field == NULL && len > 0) || list == NULL)
		return MX_ERR_INVALID;
	/* No arithmetic on a null field: NULL + 0 is undefined in C. */
	p.lx = field != NULL ? (struct lexer){ field, field + len } : (struct lexer){ "", "" };
	advance(&p);
	while (p.tok.kind != TOK_END && p.err == MX_OK && !list->overflow) {
		parse_item(&p);
		if (p.tok.kind == TOK_SEMI && !p.in_group)
			add_bad(&p, p.tok.start, p.tok.end,
			    "has a ; outside a group "
			    "(addresses are separated by commas)");
		if (p.tok.kind == TOK_SEMI)
			p.in_group = false;
		if (p.tok.kind == TOK_COMMA || p.tok.kind == TOK_SEMI)
			advance(&p);
	}
	return p.err;
}

void
address_list_clear(struct address_list *list)
{
	if (list == NULL)
		return;
	free(list->items);
	free(list->bad);
	memset(list, 0, sizeof(*list));
}
