/*
 * aliases.c - the alias file: parsed from text into names and their
 * targets (logical lines joined, '#' comments, quoted targets), problems
 * kept as "FILE:LINE: sentence", and the recursive expansion of one
 * recipient with a depth cap, loop handling and deduplication.  Never runs
 * a command or opens a file named in the aliases; the only I/O is the read
 * in aliases_load.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aliases.h"
#include "strbuf.h"

struct alias {
	char *name; /* lower case */
	char **targets;
	size_t n;
	size_t line;
};

struct aliases {
	struct alias *v;
	size_t n, cap;
	char *problems[ALIASES_PROBLEMS_MAX];
	size_t n_problems;
	size_t more_problems; /* not kept, over the cap */
	char *file;
};

/* One expansion's state: the chain of names being expanded, the output. */
struct expansion {
	const struct aliases *a;
	const char *origin;
	const char *chain[ALIASES_DEPTH_MAX + 1];
	size_t depth;
	char **out;
	size_t n;
	struct strbuf why;
	bool too_deep;
	bool nomem;
	const char *loop; /* a name met again while it was being expanded */
};

static void
problem(struct aliases *a, size_t line, const char *fmt, ...)
{
	char buf[ALIASES_PROBLEM_LEN];
	struct strbuf sb;
	va_list ap;

	if (a->n_problems >= ALIASES_PROBLEMS_MAX) {
		a->more_problems++;
		return;
	}
	strbuf_init(&sb, buf, sizeof(buf));
	strbuf_printf(&sb, "%s:%zu: ", a->file, line);
	va_start(ap, fmt);
	strbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
	a->problems[a->n_problems] = strdup(buf);
	if (a->problems[a->n_problems] != NULL)
		a->n_problems++;
}

static const struct alias *
find(const struct aliases *a, const char *name, size_t len)
{
	for (size_t i = 0; a != NULL && i < a->n; i++)
		if (strlen(a->v[i].name) == len && strncasecmp(a->v[i].name, name, len) == 0)
			return &a->v[i];
	return NULL;
}

/* A refused target, or NULL when it is an address or a name. */
static const char *
refused_kind(const char *t)
{
	if (strncasecmp(t, ":include:", 9) == 0)
		return ":include: files are not read";
	if (t[0] == '|')
		return "pipes to commands are not run";
	if (t[0] == '/')
		return "deliveries to files are not made";
	return NULL;
}

/* A target that can be mailed: printable, no blank, one "@" at most with
 * something on both sides. */
static bool
target_ok(const char *t)
{
	const char *at = strchr(t, '@');
	size_t n = strlen(t);

	if (n == 0 || n > ALIASES_ADDR_MAX || (at != NULL && strchr(at + 1, '@') != NULL))
		return false;
	if (at != NULL && (at == t || at[1] == '\0'))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f || t[i] == ',' || t[i] == '<' ||
		    t[i] == '>' || t[i] == '"')
			return false;
	return true;
}

static char *
trimmed_copy(const char *s, size_t len)
{
	char *out;

	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, len--;
	while (len > 0 &&
	    (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
		s++, len -= 2;
	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* Adds one target to al; false on a problem already reported (or nomem). */
static bool
add_target(struct aliases *a, struct alias *al, const char *s, size_t len, size_t line)
{
	char *t = trimmed_copy(s, len);
	const char *kind;
	char **grown;

	if (t == NULL)
		return false;
	if (t[0] == '\0') {
		free(t);
		return true; /* "a: b,,c" and a trailing comma are harmless */
	}
	if ((kind = refused_kind(t)) != NULL)
		problem(a, line, "%s: target \"%s\" refused: %s (only addresses are used)",
		    al->name, t, kind);
	else if (!target_ok(t + (t[0] == '\\')))
		problem(a, line, "%s: target \"%s\" is not an address", al->name, t);
	else if (al->n >= ALIASES_TARGETS_MAX)
		problem(a, line, "%s: more than %d targets; the rest is ignored", al->name,
		    ALIASES_TARGETS_MAX);
	else if ((grown = realloc(al->targets, (al->n + 1) * sizeof(*grown))) != NULL) {
		al->targets = grown;
		al->targets[al->n++] = t;
		return true;
	}
	/* A refused target stays in the list so that expansion can say so. */
	if (kind != NULL && al->n < ALIASES_TARGETS_MAX &&
	    (grown = realloc(al->targets, (al->n + 1) * sizeof(*grown))) != NULL) {
		al->targets = grown;
		al->targets[al->n++] = t;
		return true;
	}
	free(t);
	return false;
}

/* The targets after the colon, split at commas outside quotes. */
static void
parse_targets(struct aliases *a, struct alias *al, const char *s, size_t len, size_t line)
{
	size_t start = 0;
	bool quoted = false;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] == '"')
			quoted = !quoted;
		if (i == len || (s[i] == ',' && !quoted)) {
			add_target(a, al, s + start, i - start, line);
			start = i + 1;
		}
	}
}

static bool
name_ok(const char *name)
{
	if (name[0] == '\0' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '@' || *p == ',' || *p == '"' ||
		    *p == ':' || *p == '\\')
			return false;
	return true;
}

static void
free_alias(struct alias *al)
{
	for (size_t i = 0; i < al->n; i++)
		free(al->targets[i]);
	free(al->targets);
	free(al->name);
}

/* One logical line (continuations joined in place): "name: targets". */
static void
parse_entry(struct aliases *a, const char *s, size_t len, size_t line)
{
	const char *colon = memchr(s, ':', len);
	struct alias al = { .line = line }, *grown;

	if (colon == NULL) {
		problem(a, line, "no colon: an alias is \"name: address, ...\"");
		return;
	}
	if ((al.name = trimmed_copy(s, (size_t)(colon - s))) == NULL)
		return;
	for (char *p = al.name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!name_ok(al.name)) {
		problem(a, line, "\"%s\" is not a local name", al.name);
		goto drop;
	}
	if (find(a, al.name, strlen(al.name)) != NULL) {
		problem(a, line, "%s: defined again (line %zu); this line is ignored", al.name,
		    find(a, al.name, strlen(al.name))->line);
		goto drop;
	}
	parse_targets(a, &al, colon + 1, len - (size_t)(colon + 1 - s), line);
	if (al.n == 0) {
		problem(a, line, "%s: no usable target", al.name);
		goto drop;
	}
	if (a->n >= ALIASES_ENTRIES_MAX) {
		problem(a, line, "more than %d aliases; the rest is ignored", ALIASES_ENTRIES_MAX);
		goto drop;
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		if ((grown = realloc(a->v, cap * sizeof(*grown))) == NULL)
			goto drop;
		a->v = grown, a->cap = cap;
	}
	a->v[a->n++] = al;
	return;
drop:
	free_alias(&al);
}

/* The end of the logical line starting at text[i]: continuation lines
 * (leading blank) and comment lines between them belong to it. */
static size_t
logical_end(const char *text, size_t len, size_t i, size_t *lines)
{
	for (;;) {
		const char *nl = memchr(text + i, '\n', len - i);
		if (nl == NULL)
			return len;
		i = (size_t)(nl - text) + 1;
		if (i >= len || (text[i] != ' ' && text[i] != '\t'))
			return i;
		(*lines)++;
	}
}

/* Joins a logical line into buf: newlines become blanks. */
static char *
joined(const char *s, size_t len)
{
	char *buf = malloc(len + 1);

	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(s[i] == '\n' || s[i] == '\r' ? ' ' : s[i]);
	buf[len] = '\0';
	return buf;
}

static bool expand_name(struct expansion *x, const char *name, size_t len);

/* Loops (a -> b -> a) are legal but usually a mistake: newaliases says so. */
static void
report_loops(struct aliases *a)
{
	for (size_t i = 0; i < a->n; i++) {
		struct expansion x = { .a = a, .origin = "origin.invalid" };
		char why[2];
		strbuf_init(&x.why, why, sizeof(why));
		expand_name(&x, a->v[i].name, strlen(a->v[i].name));
		aliases_list_free(x.out, x.n);
		if (x.too_deep)
			problem(a, a->v[i].line, "%s: aliases nest deeper than %d", a->v[i].name,
			    ALIASES_DEPTH_MAX);
		else if (x.loop != NULL)
			problem(a, a->v[i].line,
			    "%s: a loop: %s leads back to a name being "
			    "expanded, which is then taken as an address at the origin",
			    a->v[i].name, x.loop);
	}
}

/* Whether the n octets at p are all blanks or line ends (p is not a
 * string: text need not be NUL-terminated). */
static bool
blank(const char *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (p[k] != ' ' && p[k] != '\t' && p[k] != '\r' && p[k] != '\n')
			return false;
	return true;
}

mx_err
aliases_parse(const char *name, const char *text, size_t len, struct aliases **out)
{
	struct aliases *a = calloc(1, sizeof(*a));
	size_t i = 0, line = 1;

	if (a == NULL || (a->file = strdup(name)) == NULL) {
		free(a);
		return MX_ERR_NOMEM;
	}
	while (i < len) {
		size_t first = line, end = logical_end(text, len, i, &line);
		char *entry = NULL;
		if (memchr(text + i, '\0', end - i) != NULL)
			problem(a, first, "a NUL octet; the line is ignored");
		else if (text[i] != '#' && text[i] != '\n' && text[i] != '\r' && text[i] != ' ' &&
		    text[i] != '\t' && (entry = joined(text + i, end - i)) != NULL)
			parse_entry(a, entry, end - i, first);
		else if ((text[i] == ' ' || text[i] == '\t') && !blank(text + i, end - i))
			problem(a, first, "a continuation line with nothing before it");
		free(entry);
		i = end;
		line++;
	}
	report_loops(a);
	*out = a;
	return MX_OK;
}

mx_err
aliases_load(const char *path, struct aliases **out, char *why, size_t why_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char *text = NULL;
	size_t len = 0;
	ssize_t got;
	mx_err err = MX_ERR_SYSTEM;

	*out = NULL;
	if (fd < 0) {
		int e = errno;
		snprintf(why, why_size, "cannot open %s: %s", path, strerror(e));
		errno = e;
		return MX_ERR_SYSTEM;
	}
	if ((text = malloc(ALIASES_FILE_MAX + 1)) == NULL) {
		err = MX_ERR_NOMEM;
		goto out;
	}
	while (len <= ALIASES_FILE_MAX &&
	    (got = read(fd, text + len, ALIASES_FILE_MAX + 1 - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)got;
	}
	if (len > ALIASES_FILE_MAX) {
		snprintf(why, why_size, "%s is bigger than %zu octets", path, ALIASES_FILE_MAX);
		err = MX_ERR_CONFIG;
		goto out;
	}
	err = aliases_parse(path, text, len, out);
out:
	free(text);
	close(fd);
	return err;
}

size_t
aliases_problem_count(const struct aliases *a)
{
	return a ? a->n_problems : 0;
}

const char *
aliases_problem(const struct aliases *a, size_t i)
{
	return a != NULL && i < a->n_problems ? a->problems[i] : NULL;
}

size_t
aliases_count(const struct aliases *a)
{
	return a ? a->n : 0;
}

void
aliases_free(struct aliases *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free_alias(&a->v[i]);
	for (size_t i = 0; i < a->n_problems; i++)
		free(a->problems[i]);
	free(a->v);
	free(a->file);
	free(a);
}

void
aliases_list_free(char **list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		free(list[i]);
	free(list);
}

/* Adds an address (qualified when it has no "@") unless it is there. */
static bool
emit(struct expansion *x, const char *addr)
{
	size_t n = strlen(addr), o = strlen(x->origin);
	bool bare = strchr(addr, '@') == NULL;
	char *s, **grown;

	if ((s = malloc(n + (bare ? o + 1 : 0) + 1)) == NULL)
		return x->nomem = true, false;
	memcpy(s, addr, n + 1);
	if (bare)
		s[n] = '@', memcpy(s + n + 1, x->origin, o + 1);
	for (size_t i = 0; i < x->n; i++)
		if (strcasecmp(x->out[i], s) == 0)
			return free(s), true;
	if (x->n >= ALIASES_OUT_MAX ||
	    (grown = realloc(x->out, (x->n + 1) * sizeof(*grown))) == NULL) {
		free(s);
		if (x->n >= ALIASES_OUT_MAX)
			strbuf_printf(&x->why, "%smore than %d addresses; the rest dropped",
			    x->why.len ? "; " : "", ALIASES_OUT_MAX);
		return x->n >= ALIASES_OUT_MAX || (x->nomem = true, false);
	}
	x->out = grown;
	x->out[x->n++] = s;
	return true;
}

/* The local part of addr when it is a local name (bare, or @origin). */
static bool
local_part(const struct expansion *x, const char *addr, size_t *len)
{
	const char *at = strchr(addr, '@');

	if (addr[0] == '\\')
		return false;
	if (at == NULL)
		return *len = strlen(addr), true;
	if (strcasecmp(at + 1, x->origin) != 0)
		return false;
	*len = (size_t)(at - addr);
	return true;
}

static bool
in_chain(const struct expansion *x, const char *name, size_t len)
{
	for (size_t i = 0; i < x->depth; i++)
		if (strlen(x->chain[i]) == len && strncasecmp(x->chain[i], name, len) == 0)
			return true;
	return false;
}

static bool
expand_target(struct expansion *x, const char *t)
{
	const char *kind = refused_kind(t);
	size_t len;

	if (kind != NULL) {
		strbuf_printf(&x->why, "%salias %s: target \"%s\" refused: %s",
		    x->why.len ? "; " : "", x->chain[x->depth - 1], t, kind);
		return true;
	}
	if (local_part(x, t, &len) && find(x->a, t, len) != NULL) {
		if (!in_chain(x, t, len))
			return expand_name(x, t, len);
		if (strncasecmp(x->chain[x->depth - 1], t, len) != 0 && x->loop == NULL)
			x->loop = x->chain[x->depth - 1];
	}
	return emit(x, t[0] == '\\' ? t + 1 : t);
}

/* name (len octets) is an alias: its targets, recursively. */
static bool
expand_name(struct expansion *x, const char *name, size_t len)
{
	const struct alias *al = find(x->a, name, len);

	if (al == NULL)
		return emit(x, name);
	if (x->depth >= ALIASES_DEPTH_MAX)
		return x->too_deep = true, false;
	x->chain[x->depth++] = al->name;
	for (size_t i = 0; i < al->n; i++)
		if (!expand_target(x, al->targets[i]))
			return false;
	x->depth--;
	return true;
}

mx_err
aliases_expand(const struct aliases *a, const char *origin, const char *rcpt, char ***out,
    size_t *n, char *why, size_t why_size)
{
	struct expansion x = { .a = a, .origin = origin };
	size_t len;
	bool ok;

	strbuf_init(&x.why, why, why_size);
	*out = NULL, *n = 0;
	if (local_part(&x, rcpt, &len) && find(a, rcpt, len) != NULL)
		ok = expand_name(&x, rcpt, len);
	else
		ok = emit(&x, rcpt[0] == '\\' ? rcpt + 1 : rcpt);
	if (x.nomem) {
		aliases_list_free(x.out, x.n);
		return MX_ERR_NOMEM;
	}
	if (!ok && x.too_deep)
		strbuf_printf(&x.why, "%s%s: aliases nest deeper than %d", x.why.len ? "; " : "",
		    rcpt, ALIASES_DEPTH_MAX);
	if (!ok || x.n == 0) {
		if (x.n == 0 && !x.too_deep)
			strbuf_printf(&x.why, "%s%s: the aliases leave no address to deliver to",
			    x.why.len ? "; " : "", rcpt);
		aliases_list_free(x.out, x.n);
		return MX_ERR_BAD_DOMAIN;
	}
	*out = x.out, *n = x.n;
	return MX_OK;
}
