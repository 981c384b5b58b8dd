/*
 * smtp_cmd.c - the SMTP server's strict, incremental reader: one octet
 * at a time into the current line, CRLF the only line end, a bare CR or
 * LF the end of the session, DATA lines dot-unstuffed and measured
 * against the line and size limits, command verbs and MAIL/RCPT paths.
 * Pure: never reads, writes or allocates; what a reply says is the
 * caller's.
 */
#include <string.h>
#include <strings.h>

#include "smtp_cmd.h"

static const struct {
	const char *name;
	smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_VERB_HELO },
	{ "EHLO", SMTP_VERB_EHLO },
	{ "MAIL", SMTP_VERB_MAIL },
	{ "RCPT", SMTP_VERB_RCPT },
	{ "DATA", SMTP_VERB_DATA },
	{ "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP },
	{ "QUIT", SMTP_VERB_QUIT },
	{ "VRFY", SMTP_VERB_VRFY },
	{ "HELP", SMTP_VERB_HELP },
	{ "STARTTLS", SMTP_VERB_STARTTLS },
	{ "BDAT", SMTP_VERB_BDAT },
};

void
smtp_cmd_init(struct smtp_cmd *r)
{
	memset(r, 0, sizeof(*r));
}

void
smtp_cmd_start_data(struct smtp_cmd *r, size_t max_size)
{
	r->in_data = true;
	r->max_size = max_size;
	r->data_size = 0;
	r->data_fault = SMTP_DATA_OK;
	r->len = 0;
	r->overflow = r->nul = r->cr = r->done = false;
	r->line[0] = '\0';
}

/* A whole line is in r->line: what it is. */
static smtp_cmd_event
line_done(struct smtp_cmd *r)
{
	r->line[r->len] = '\0';
	if (!r->in_data) {
		bool over = r->overflow, nul = r->nul;
		r->overflow = r->nul = false;
		if (nul)
			return SMTP_CMD_BARE;
		return over ? (r->len = 0, r->line[0] = '\0', SMTP_CMD_TOO_LONG) : SMTP_CMD_LINE;
	}
	if (!r->overflow && r->len == 1 && r->line[0] == '.') {
		r->in_data = false;
		r->len = 0;
		r->line[0] = '\0';
		return SMTP_CMD_DATA_END;
	}
	if (r->len > 0 && r->line[0] == '.')
		memmove(r->line, r->line + 1, r->len--);
	if ((r->overflow || r->len > SMTP_CMD_DATA_LINE_MAX) && r->data_fault == SMTP_DATA_OK)
		r->data_fault = SMTP_DATA_LINE_LONG;
	r->overflow = false;
	r->data_size += r->len + 2;
	if (r->data_size > r->max_size && r->data_fault == SMTP_DATA_OK)
		r->data_fault = SMTP_DATA_TOO_BIG;
	return SMTP_CMD_DATA_LINE;
}

/* One octet that is not part of a line end. */
static void
keep(struct smtp_cmd *r, char c)
{
	size_t max = r->in_data ? SMTP_CMD_DATA_LINE_MAX + 1 : SMTP_CMD_LINE_MAX;

	if (c == '\0') {
		if (r->in_data && r->data_fault == SMTP_DATA_OK)
			r->data_fault = SMTP_DATA_NUL;
		r->nul |= !r->in_data;
	}
	/* DATA keeps one octet over the limit, for the leading dot. */
	if (r->len < max)
		r->line[r->len++] = c;
	else
		r->overflow = true;
}

size_t
smtp_cmd_feed(struct smtp_cmd *r, const char *p, size_t n, smtp_cmd_event *ev)
{
	size_t i;

	*ev = SMTP_CMD_MORE;
	if (r->dead) {
		*ev = SMTP_CMD_BARE;
		return 0;
	}
	if (r->done) { /* the line of the last event was the caller's to read */
		r->done = false;
		r->len = 0;
		r->line[0] = '\0';
	}
	for (i = 0; i < n; i++) {
		char c = p[i];
		if (r->cr && c != '\n')
			goto bare;
		if (r->cr) {
			r->cr = false;
			*ev = line_done(r);
			if (*ev == SMTP_CMD_BARE)
				goto bare;
			r->done = true;
			return i + 1;
		}
		if (c == '\n')
			goto bare;
		if (c == '\r')
			r->cr = true;
		else
			keep(r, c);
	}
	return n;
bare:
	r->dead = true; /* sticky: nothing more is read */
	r->len = 0;
	r->line[0] = '\0';
	*ev = SMTP_CMD_BARE;
	return i;
}

smtp_verb
smtp_cmd_verb(const char *line, const char **arg)
{
	size_t n = strcspn(line, " ");

	*arg = line[n] == ' ' ? line + n + 1 : line + n;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == n && strncasecmp(line, verbs[i].name, n) == 0)
			return verbs[i].verb;
	return SMTP_VERB_UNKNOWN;
}

/*
 * The lexical part of RFC 5321 4.1.2's Path: where it ends.  A ">" or a
 * blank inside a Quoted-string ("john doe"@example.com) belongs to the
 * local part, and a quoted-pair (\" or \\) does not close the string;
 * outside quotes a blank ends nothing here (address.c refuses it, as
 * it does a quote in the middle of a local part).  A control octet
 * anywhere, or more than SMTP_CMD_PATH_MAX octets, makes it no path.
 */
bool
smtp_cmd_path(
    const char *arg, const char *prefix, char path[SMTP_CMD_PATH_MAX + 1], const char **params)
{
	size_t plen = strlen(prefix), len = 0;
	const char *p = arg + plen;
	bool quoted = false, escaped = false;

	if (strncasecmp(arg, prefix, plen) != 0)
		return false;
	while (*p == ' ')
		p++;
	if (*p++ != '<')
		return false;
	for (; *p != '\0' && (quoted || *p != '>'); p++) {
		if (escaped)
			escaped = false;
		else if (quoted && *p == '\\')
			escaped = true;
		else if (*p == '"')
			quoted = !quoted;
		if (len >= SMTP_CMD_PATH_MAX || (unsigned char)*p < ' ')
			return false;
		path[len++] = *p;
	}
	if (*p != '>' || (p[1] != '\0' && p[1] != ' '))
		return false;
	path[len] = '\0';
	*params = p[1] == ' ' ? p + 2 : p + 1;
	return true;
}
