/*
 * smtp_reply.c - reads SMTP replies octet by octet, as they arrive, into
 * struct smtp_reply, and an EHLO reply's lines into struct smtp_ehlo.
 * Strict where framing is concerned (CRLF only, one code per reply,
 * bounded line length, line count and size), since a reader that guesses
 * where a reply ends lets a server desynchronise the client (OpenSMTPD
 * CVE-2020-8794).  It never does I/O and never keeps more than one reply:
 * the text grows on the heap up to SMTP_REPLY_MAX_OCTETS, nothing else
 * does.  The caller frees a taken reply with smtp_reply_clear.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

#define TEXT_CAP_FIRST  256
#define CODE_DIGITS     3
#define SIZE_DIGITS_MAX 20 /* RFC 1870: size-value = 1*20DIGIT */
#define STRING(x)       #x
#define NUMBER(x)       STRING(x) /* a limit's value, for the static sentences */

static void
fail(struct smtp_reply_reader *r, const char *why)
{
	r->state = SMTP_REPLY_ERROR;
	r->why = why;
}

void
smtp_reply_reader_init(struct smtp_reply_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->state = SMTP_REPLY_INCOMPLETE;
}

void
smtp_reply_reader_clear(struct smtp_reply_reader *r)
{
	if (r == NULL)
		return;
	free(r->text);
	smtp_reply_reader_init(r);
}

/*
 * Makes room for extra more octets of text and a NUL.  The bounds keep
 * the text below SMTP_REPLY_MAX_OCTETS: every line spends at least its
 * code, its separator or CRLF on octets that never reach the text.
 */
static bool
text_reserve(struct smtp_reply_reader *r, size_t extra)
{
	size_t need = r->text_len + extra + 1, cap = r->text_cap;
	char *p;

	if (need <= cap)
		return true;
	while (cap < need)
		cap = cap ? cap * 2 : TEXT_CAP_FIRST;
	if (cap > SMTP_REPLY_MAX_OCTETS)
		cap = SMTP_REPLY_MAX_OCTETS;
	assert(need <= cap);
	if (need > cap || (p = realloc(r->text, cap)) == NULL)
		return false;
	r->text = p;
	r->text_cap = cap;
	return true;
}

static void
text_push(struct smtp_reply_reader *r, char c)
{
	if (!text_reserve(r, 1)) {
		fail(r, "out of memory while reading a reply");
		return;
	}
	r->text[r->text_len++] = c;
}

/* Length of the 1 to 3 digits at s, 0 when there are none or more. */
static size_t
digits(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[n] >= '0' && s[n] <= '9')
		if (++n > 3)
			return 0;
	return n;
}

/*
 * Length of the enhanced status code (RFC 3463 2: class "." 1*3digit "."
 * 1*3digit) that starts s, followed by a space or the end; 0 when there
 * is none or its class is not cls.
 */
static size_t
enhanced_len(const char *s, size_t len, char cls)
{
	size_t pos = 2, n;

	if ((cls != '2' && cls != '4' && cls != '5') || len < 5 || s[0] != cls || s[1] != '.')
		return 0;
	if ((n = digits(s + pos, len - pos)) == 0)
		return 0;
	pos += n;
	if (pos >= len || s[pos] != '.')
		return 0;
	pos++;
	if ((n = digits(s + pos, len - pos)) == 0)
		return 0;
	pos += n;
	return pos == len || s[pos] == ' ' ? pos : 0;
}

/* Removes the first n octets of the current line's text, and a space after. */
static void
cut_line_head(struct smtp_reply_reader *r, size_t n)
{
	char *line = r->text + r->line_start;
	size_t len = r->text_len - r->line_start;

	if (n < len && line[n] == ' ')
		n++;
	memmove(line, line + n, len - n);
	r->text_len -= n;
}

/*
 * The first line gives the reply its enhanced code; a later line loses
 * the same code from its head (RFC 2034 puts it on every line).  A later
 * line's different code is information and stays in its text.
 */
static void
take_enhanced(struct smtp_reply_reader *r)
{
	const char *line;
	size_t len = r->text_len - r->line_start, n;

	if (len == 0)
		return; /* "250\r\n" may leave text NULL */
	line = r->text + r->line_start;
	if (r->n_lines == 0) {
		n = enhanced_len(line, len, (char)('0' + r->code / 100));
		if (n == 0)
			return;
		memcpy(r->enhanced, line, n);
		r->enhanced[n] = '\0';
		cut_line_head(r, n);
		return;
	}
	n = strlen(r->enhanced);
	if (n > 0 && len >= n && memcmp(line, r->enhanced, n) == 0 && (len == n || line[n] == ' '))
		cut_line_head(r, n);
}

/* After the CRLF: the line is checked, and ends the reply or the next starts. */
static void
end_line(struct smtp_reply_reader *r)
{
	r->saw_cr = false;
	if (r->line_octets < CODE_DIGITS) {
		fail(r, "a reply line is shorter than its 3-digit code");
		return;
	}
	if (r->line_octets == CODE_DIGITS)
		r->last_line = true; /* "250" alone is a final line */
	if (r->n_lines == 0)
		r->code = r->line_code;
	take_enhanced(r);
	r->n_lines++;
	if (r->last_line) {
		r->state = SMTP_REPLY_DONE;
		return;
	}
	if (r->n_lines == SMTP_REPLY_MAX_LINES) {
		fail(r, "a reply has more than " NUMBER(SMTP_REPLY_MAX_LINES) " lines");
		return;
	}
	text_push(r, '\n');
	r->line_start = r->text_len;
	r->line_octets = 0;
	r->line_code = 0;
}

/* RFC 5321 4.2: three digits, the first 2-5 (1yz is unused), the second 0-5. */
static void
code_octet(struct smtp_reply_reader *r, uint8_t c)
{
	static const char lowest[CODE_DIGITS] = { '2', '0', '0' };
	static const char highest[CODE_DIGITS] = { '5', '5', '9' };
	size_t pos = r->line_octets;

	if (c < lowest[pos] || c > highest[pos]) {
		fail(r, "a reply code is not 3 digits, the first 2-5, the second 0-5");
		return;
	}
	r->line_code = r->line_code * 10 + (unsigned)(c - '0');
	if (pos == CODE_DIGITS - 1 && r->n_lines > 0 && r->line_code != r->code)
		fail(r, "a continuation line's code differs from the first line's");
}

static void
separator_octet(struct smtp_reply_reader *r, uint8_t c)
{
	if (c == '-' || c == ' ')
		r->last_line = c == ' ';
	else
		fail(r, "a reply code is followed by neither a space, a hyphen nor CRLF");
}

static void
text_octet(struct smtp_reply_reader *r, uint8_t c)
{
	/* This octet and the CRLF still to come must fit. */
	if (r->line_octets + 1 + 2 > SMTP_REPLY_LINE_MAX) {
		fail(r, "a reply line is longer than " NUMBER(SMTP_REPLY_LINE_MAX) " octets");
		return;
	}
	text_push(r, (char)c);
}

static void
feed_octet(struct smtp_reply_reader *r, uint8_t c)
{
	if (++r->reply_octets > SMTP_REPLY_MAX_OCTETS) {
		fail(r, "a reply is longer than " NUMBER(SMTP_REPLY_MAX_OCTETS) " octets");
		return;
	}
	if (r->saw_cr) {
		if (c == '\n')
			end_line(r);
		else
			fail(r, "a reply holds a bare CR (lines end with CRLF)");
		return;
	}
	if (c == '\r') {
		r->saw_cr = true;
		return;
	}
	if (c == '\n') {
		fail(r, "a reply holds a bare LF (lines end with CRLF)");
		return;
	}
	if (c == '\0') {
		fail(r, "a reply holds a NUL octet");
		return;
	}
	if (r->line_octets < CODE_DIGITS)
		code_octet(r, c);
	else if (r->line_octets == CODE_DIGITS)
		separator_octet(r, c);
	else
		text_octet(r, c);
	r->line_octets++;
}

size_t
smtp_reply_feed(struct smtp_reply_reader *r, const uint8_t *data, size_t len)
{
	size_t n = 0;

	while (n < len && r->state == SMTP_REPLY_INCOMPLETE)
		feed_octet(r, data[n++]);
	return n;
}

enum smtp_reply_state
smtp_reply_state(const struct smtp_reply_reader *r)
{
	return r->state;
}

const char *
smtp_reply_why(const struct smtp_reply_reader *r)
{
	return r->state == SMTP_REPLY_ERROR ? r->why : NULL;
}

/* Points lines[0..n-1] at the '\n'-separated texts of block, ending them. */
static void
split_lines(char *block, size_t len, char **lines, size_t n)
{
	size_t i = 0;

	lines[i++] = block;
	for (size_t pos = 0; pos < len; pos++) {
		if (block[pos] != '\n')
			continue;
		block[pos] = '\0';
		assert(i < n);
		lines[i++] = block + pos + 1;
	}
	assert(i == n);
	lines[n] = NULL;
}

mx_err
smtp_reply_take(struct smtp_reply_reader *r, struct smtp_reply *out)
{
	size_t head;
	char **lines;

	memset(out, 0, sizeof(*out));
	if (r->state != SMTP_REPLY_DONE)
		return MX_ERR_INVALID;
	if (!text_reserve(r, 0))
		return MX_ERR_NOMEM;
	r->text[r->text_len] = '\0';
	/* The pointers, then a copy of the text they point into. */
	head = (r->n_lines + 1) * sizeof(*lines);
	if ((lines = malloc(head + r->text_len + 1)) == NULL)
		return MX_ERR_NOMEM;
	memcpy((char *)lines + head, r->text, r->text_len + 1);
	split_lines((char *)lines + head, r->text_len, lines, r->n_lines);

	out->code = r->code;
	memcpy(out->enhanced, r->enhanced, sizeof(out->enhanced));
	out->text = r->text;
	out->n_lines = r->n_lines;
	out->lines = lines;
	r->text = NULL;
	smtp_reply_reader_clear(r);
	return MX_OK;
}

void
smtp_reply_clear(struct smtp_reply *reply)
{
	if (reply == NULL)
		return;
	free(reply->text);
	free(reply->lines);
	memset(reply, 0, sizeof(*reply));
}

bool
smtp_reply_positive(const struct smtp_reply *reply)
{
	return reply->code / 100 == 2;
}

bool
smtp_reply_intermediate(const struct smtp_reply *reply)
{
	return reply->code / 100 == 3;
}

bool
smtp_reply_temporary(const struct smtp_reply *reply)
{
	return reply->code / 100 == 4;
}

bool
smtp_reply_permanent(const struct smtp_reply *reply)
{
	return reply->code / 100 == 5;
}

/* ---- EHLO ---------------------------------------------------------- */

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * Length of the ehlo-keyword (RFC 5321 4.1.1.1: (ALPHA / DIGIT)
 * *(ALPHA / DIGIT / "-")) that starts line, followed by a space or the
 * end; 0 when the line does not start with one.
 */
static size_t
keyword_len(const char *line)
{
	size_t n = 0;

	if (!is_alnum(line[0]))
		return 0;
	while (is_alnum(line[n]) || line[n] == '-')
		n++;
	return line[n] == '\0' || line[n] == ' ' ? n : 0;
}

/* ASCII case-insensitive: is the keyword of length n the upper-case name? */
static bool
keyword_is(const char *keyword, size_t n, const char *name)
{
	if (strlen(name) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = keyword[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != name[i])
			return false;
	}
	return true;
}

/* RFC 1870: "SIZE" [SP 1*20DIGIT]; a param of anything else is ignored. */
static void
ehlo_size(const char *params, struct smtp_ehlo *out)
{
	uint64_t value = 0;
	size_t n;

	if (out->has_size)
		return;
	out->has_size = true;
	if (params[0] != ' ')
		return;
	params++;
	for (n = 0; params[n] >= '0' && params[n] <= '9'; n++) {
		unsigned d = (unsigned)(params[n] - '0');
		if (n == SIZE_DIGITS_MAX || value > (UINT64_MAX - d) / 10)
			return;
		value = value * 10 + d;
	}
	if (n > 0 && params[n] == '\0')
		out->size = value;
}

static void
ehlo_line(const char *line, struct smtp_ehlo *out)
{
	size_t n = keyword_len(line);

	if (n == 0)
		return;
	if (keyword_is(line, n, "SIZE"))
		ehlo_size(line + n, out);
	else if (keyword_is(line, n, "PIPELINING"))
		out->pipelining = true;
	else if (keyword_is(line, n, "8BITMIME"))
		out->eightbitmime = true;
	else if (keyword_is(line, n, "SMTPUTF8"))
		out->smtputf8 = true;
	else if (keyword_is(line, n, "STARTTLS"))
		out->starttls = true;
	else if (keyword_is(line, n, "ENHANCEDSTATUSCODES"))
		out->enhancedstatuscodes = true;
	else if (keyword_is(line, n, "CHUNKING"))
		out->chunking = true;
}

bool
smtp_ehlo_parse(const struct smtp_reply *reply, struct smtp_ehlo *out)
{
	memset(out, 0, sizeof(*out));
	if (reply->code != 250)
		return false;
	/* The first line is the server's name and greeting, not an extension. */
	for (size_t i = 1; i < reply->n_lines; i++)
		ehlo_line(reply->lines[i], out);
	return true;
}
