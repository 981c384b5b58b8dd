/*
 * message.c - the message `mx send` reads from standard input, made into
 * the DATA payload before any connection: read under a size cap, whole
 * in memory or streamed a line at a time into an unlinked temporary file,
 * checked line by line (no NUL, no bare CR, RFC 5322 2.1.1 line lengths),
 * LF or CRLF in, CRLF out, dot-stuffed (RFC 5321 4.5.2), header and body
 * told apart, To/Cc/Bcc read for -t (address.c), Bcc taken out.  A bare CR
 * is refused, never passed on or repaired: it is how SMTP smuggling
 * starts.  Never touches the network and never prints; the only I/O is
 * the read callback the caller gives and, streaming, the temporary file
 * (which the message owns).  struct message and everything in
 * it belong to the caller, who frees them with message_free.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "message.h"
#include "payload.h"

#define READ_CHUNK   65536
#define END_LINE_MAX 3             /* ".\r\n": read this far past the cap to see an end */
#define OUT_FLUSH    PAYLOAD_CHUNK /* a spooled message is written this much at a time */
#define OUT_CAP      (OUT_FLUSH + MESSAGE_LINE_MAX + 4)

/* How one header field is handled. */
typedef enum field_kind {
	FIELD_NONE = 0, /* no field open */
	FIELD_KEEP,     /* sent as it is */
	FIELD_ADDRESS,  /* -t: To or Cc, read for recipients and sent */
	FIELD_BCC,      /* -t: Bcc, read for recipients and not sent */
} field_kind;

/*
 * The state of one pass over the input.  In memory (in != NULL) lines are
 * read from in and written to m->data, and a field's text is a span of
 * in; streaming (in == NULL) lines come one at a time, go out through
 * out to m->fd, and the text of the open To, Cc or Bcc field is copied
 * to text.
 */
struct builder {
	const char *in;
	size_t len; /* input octets before the end line, if any */
	char *out;  /* streaming: OUT_CAP octets waiting for m->fd */
	size_t out_len;
	int write_errno; /* streaming: writing m->fd failed */
	char *text;      /* streaming: the open address field's text */
	size_t text_len, text_cap;
	bool text_fault; /* ... did not fit: too long, or out of memory */
	bool extract;    /* -t */
	struct message *m;
	struct message_error *err;
	size_t line_no;
	size_t stuffed; /* dots added */
	bool line_8bit; /* the current line has an octet >= 0x80 */
	bool in_header;
	field_kind field;
	size_t field_value; /* input offset just past the field's colon */
	size_t field_line;
};

static message_err
fail(struct message_error *err, message_err code, size_t line, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->why, sizeof(err->why), fmt, ap);
	va_end(ap);
	return code;
}

static void
succeed(struct message_error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Looks for a line "." from the line start *from on, and returns its
 * offset, or SIZE_MAX with *from at the start of the last, incomplete
 * line.  At the end of the input that last line counts too.
 */
static size_t
find_end_line(const char *in, size_t len, size_t *from, bool at_eof)
{
	size_t pos = *from;
	const char *nl;

	while (pos < len && (nl = memchr(in + pos, '\n', len - pos)) != NULL) {
		size_t l = (size_t)(nl - (in + pos));
		if (in[pos] == '.' && (l == 1 || (l == 2 && in[pos + 1] == '\r')))
			return pos;
		pos += l + 1;
	}
	*from = pos;
	if (at_eof && len - pos == 1 && in[pos] == '.')
		return pos;
	return SIZE_MAX;
}

/* ---- lines ------------------------------------------------------------- */

/* NUL, bare CR and length: the rules every line, header or body, obeys. */
static message_err
check_line(struct builder *b, const char *line, size_t l)
{
	const unsigned char *u = (const unsigned char *)line;
	bool high = false;

	if (l > MESSAGE_LINE_MAX)
		return fail(b->err, MESSAGE_ERR_MALFORMED, b->line_no,
		    "line %zu is "
		    "longer than %d octets (RFC 5322 section 2.1.1)",
		    b->line_no, MESSAGE_LINE_MAX);
	for (size_t i = 0; i < l; i++) {
		if (u[i] == '\0')
			return fail(b->err, MESSAGE_ERR_MALFORMED, b->line_no,
			    "line %zu contains a NUL byte", b->line_no);
		if (u[i] == '\r')
			return fail(b->err, MESSAGE_ERR_MALFORMED, b->line_no,
			    "line %zu contains a bare carriage return (CR without LF)", b->line_no);
		high |= u[i] >= 0x80;
	}
	b->line_8bit = high;
	return MESSAGE_OK;
}

/* Where the next line goes, counted over the whole payload. */
static size_t
out_pos(const struct builder *b)
{
	return b->m->len + b->m->file_len;
}

/* Streaming: writes what waits in out to the file. */
static void
flush_out(struct builder *b)
{
	size_t done = 0;

	while (done < b->out_len && b->write_errno == 0) {
		ssize_t w = write(b->m->fd, b->out + done, b->out_len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			b->write_errno = w < 0 ? errno : EIO;
		else
			done += (size_t)w;
	}
	b->out_len = 0;
}

/* Streaming: emit's work, into out, flushed once a chunk is full. */
static void
emit_stream(struct builder *b, const char *line, size_t l)
{
	char *o = b->out + b->out_len;

	if (l > 0 && line[0] == '.') {
		*o++ = '.';
		b->stuffed++;
	}
	if (l > 0)
		memcpy(o, line, l);
	o += l;
	*o++ = '\r';
	*o++ = '\n';
	b->m->file_len += (size_t)(o - (b->out + b->out_len));
	b->out_len = (size_t)(o - b->out);
	b->m->eight_bit |= b->line_8bit;
	b->m->eight_bit_header |= b->line_8bit && b->in_header;
	if (b->out_len >= OUT_FLUSH)
		flush_out(b);
}

/* Appends one line with CRLF, and a dot in front if it begins with one. */
static void
emit(struct builder *b, const char *line, size_t l)
{
	struct message *m = b->m;
	char *o = m->data + m->len;

	if (b->in == NULL) {
		emit_stream(b, line, l);
		return;
	}
	if (l > 0 && line[0] == '.') {
		*o++ = '.';
		b->stuffed++;
	}
	if (l > 0)
		memcpy(o, line, l);
	o += l;
	*o++ = '\r';
	*o++ = '\n';
	m->len = (size_t)(o - m->data);
	m->eight_bit |= b->line_8bit;
	m->eight_bit_header |= b->line_8bit && b->in_header;
}

/* ---- header ------------------------------------------------------------ */

/* Length of the field name if the line starts a field (RFC 5322 2.2, with
 * the obsolete white space before the colon), else 0. */
static size_t
field_name_len(const char *line, size_t l)
{
	size_t n = 0, i;

	while (n < l && line[n] > 32 && line[n] < 127 && line[n] != ':')
		n++;
	for (i = n; i < l && is_wsp(line[i]); i++)
		;
	return n > 0 && i < l && line[i] == ':' ? n : 0;
}

static bool
name_is(const char *line, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(line, name, n) == 0;
}

/* Reads the addresses of the open To, Cc or Bcc field, which ends at end. */
static message_err
close_field(struct builder *b, size_t end)
{
	struct address_list *list = &b->m->recipients;
	field_kind kind = b->field;

	const char *text = b->in != NULL ? b->in + b->field_value : b->text;
	size_t text_len = b->in != NULL ? end - b->field_value : b->text_len;

	b->field = FIELD_NONE;
	if (kind != FIELD_ADDRESS && kind != FIELD_BCC)
		return MESSAGE_OK;
	if (b->text_fault)
		return fail(b->err, MESSAGE_ERR_MALFORMED, b->field_line,
		    "the To, Cc "
		    "or Bcc field at line %zu is longer than %zu octets",
		    b->field_line, MESSAGE_FIELD_TEXT_MAX);
	if (address_list_parse(text, text_len, MESSAGE_RECIPIENTS_MAX, list) != MX_OK)
		return fail(b->err, MESSAGE_ERR_NOMEM, 0, "out of memory");
	if (list->overflow)
		return fail(b->err, MESSAGE_ERR_MALFORMED, b->field_line,
		    "the header "
		    "names more than %d addresses in To, Cc and Bcc (line %zu)",
		    MESSAGE_RECIPIENTS_MAX, b->field_line);
	return MESSAGE_OK;
}

/* Streaming: keeps text of the open address field (a line and its end). */
static void
keep_text(struct builder *b, const char *p, size_t n)
{
	char *grown;
	size_t want;

	if (b->in != NULL || (b->field != FIELD_ADDRESS && b->field != FIELD_BCC) || b->text_fault)
		return;
	if (b->text_len + n + 1 > MESSAGE_FIELD_TEXT_MAX) {
		b->text_fault = true;
		return;
	}
	if (b->text_len + n + 1 > b->text_cap) {
		want = b->text_cap == 0 ? 1024 : b->text_cap;
		while (want < b->text_len + n + 1)
			want *= 2;
		if ((grown = realloc(b->text, want)) == NULL) {
			b->text_fault = true;
			return;
		}
		b->text = grown;
		b->text_cap = want;
	}
	memcpy(b->text + b->text_len, p, n);
	b->text_len += n;
	b->text[b->text_len++] = '\n';
}

/* Notes the fields message_add_* look for. */
static void
note_seen(struct builder *b, const char *line, size_t n)
{
	if (name_is(line, n, "date"))
		b->m->seen |= MESSAGE_SEEN_DATE;
	else if (name_is(line, n, "message-id"))
		b->m->seen |= MESSAGE_SEEN_MESSAGE_ID;
	else if (name_is(line, n, "from"))
		b->m->seen |= MESSAGE_SEEN_FROM;
}

/* Starts a field if the line is one; says whether it was. */
static bool
open_field(struct builder *b, size_t pos, const char *line, size_t l)
{
	size_t n = field_name_len(line, l);
	size_t colon;

	if (n == 0)
		return false;
	colon = (size_t)((const char *)memchr(line, ':', l) - line);
	b->field = FIELD_KEEP;
	b->field_value = pos + colon + 1;
	b->field_line = b->line_no;
	b->text_len = 0;
	b->text_fault = false;
	note_seen(b, line, n);
	if (b->extract && (name_is(line, n, "to") || name_is(line, n, "cc")))
		b->field = FIELD_ADDRESS;
	if (b->extract && name_is(line, n, "bcc")) {
		b->field = FIELD_BCC;
		b->m->bcc_removed = true;
	}
	keep_text(b, line + colon + 1, l - colon - 1);
	return true;
}

/* Ends the header with an empty line, the input's or one put in. */
static void
end_header(struct builder *b, bool added)
{
	b->in_header = false;
	b->m->header_len = out_pos(b);
	b->m->separator_added = added;
	b->line_8bit = false;
	emit(b, "", 0);
	b->m->body_offset = out_pos(b);
}

/* A header line: a continuation, a new field, the empty line, or the
 * first body line of a message whose header ends without one.  Says
 * whether the line still has to go out as body. */
static message_err
header_line(struct builder *b, size_t pos, const char *line, size_t l, bool *body)
{
	message_err e;
	bool high = b->line_8bit;

	*body = false;
	if (l > 0 && is_wsp(line[0]) && b->field != FIELD_NONE) {
		keep_text(b, line, l);
		if (b->field != FIELD_BCC)
			emit(b, line, l);
		return MESSAGE_OK;
	}
	if ((e = close_field(b, pos)) != MESSAGE_OK)
		return e;
	if (l == 0) {
		end_header(b, false);
		return MESSAGE_OK;
	}
	if (open_field(b, pos, line, l)) {
		if (b->field != FIELD_BCC)
			emit(b, line, l);
		return MESSAGE_OK;
	}
	end_header(b, true);
	b->line_8bit = high;
	*body = true;
	return MESSAGE_OK;
}

/* ---- the pass ---------------------------------------------------------- */

/* One input line (l octets, without its line end) at input offset pos. */
static message_err
take_line(struct builder *b, size_t pos, const char *line, size_t l)
{
	bool body = !b->in_header;
	message_err e;

	b->line_no++;
	if ((e = check_line(b, line, l)) != MESSAGE_OK)
		return e;
	if (b->in_header && (e = header_line(b, pos, line, l, &body)) != MESSAGE_OK)
		return e;
	if (body)
		emit(b, line, l);
	return MESSAGE_OK;
}

/* After the last line: the open field, and a header with no end. */
static message_err
finish_build(struct builder *b)
{
	message_err e;

	if ((e = close_field(b, b->len)) != MESSAGE_OK)
		return e;
	if (b->in_header)
		b->m->header_len = b->m->body_offset = out_pos(b);
	return MESSAGE_OK;
}

static message_err
build(struct builder *b)
{
	size_t pos = 0;
	message_err e;

	while (pos < b->len) {
		const char *line = b->in + pos;
		const char *nl = memchr(line, '\n', b->len - pos);
		size_t l = nl != NULL ? (size_t)(nl - line) : b->len - pos;
		size_t next = pos + l + (nl != NULL);

		if (nl != NULL && l > 0 && line[l - 1] == '\r')
			l--;
		if ((e = take_line(b, pos, line, l)) != MESSAGE_OK)
			return e;
		pos = next;
	}
	return finish_build(b);
}

/* Checks the options; *max gets the cap in force. */
static message_err
read_options(const struct message_options *opt, size_t *max, struct message_error *err)
{
	*max = opt != NULL && opt->max_size != 0 ? opt->max_size : MESSAGE_SIZE_DEFAULT;
	if (*max > MESSAGE_SIZE_LIMIT)
		return fail(err, MESSAGE_ERR_INVALID, 0,
		    "a size cap of %zu bytes is "
		    "over the limit of %zu",
		    *max, MESSAGE_SIZE_LIMIT);
	return MESSAGE_OK;
}

message_err
message_parse(const char *in, size_t len, const struct message_options *opt, struct message **out,
    struct message_error *err)
{
	struct builder b = { .in = in, .err = err, .in_header = true };
	size_t max, from = 0, end;
	message_err e;
	char *shrunk;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || (in == NULL && len > 0))
		return fail(err, MESSAGE_ERR_INVALID, 0, "no input or no place for the message");
	if ((e = read_options(opt, &max, err)) != MESSAGE_OK)
		return e;
	end = opt != NULL && opt->dot_is_content ? SIZE_MAX : find_end_line(in, len, &from, true);
	b.len = end == SIZE_MAX ? len : end;
	b.extract = opt != NULL && opt->extract_recipients;
	if (b.len > max)
		return fail(err, MESSAGE_ERR_TOO_BIG, 0, "message larger than %zu bytes", max);
	if ((b.m = calloc(1, sizeof(*b.m))) == NULL ||
	    (b.m->fd = -1, b.m->data = malloc(2 * b.len + 8)) == NULL) {
		e = fail(err, MESSAGE_ERR_NOMEM, 0, "out of memory");
		goto out;
	}
	if ((e = build(&b)) != MESSAGE_OK)
		goto out;
	b.m->data[b.m->len] = '\0';
	b.m->size = b.m->len - b.stuffed;
	if ((shrunk = realloc(b.m->data, b.m->len + 1)) != NULL)
		b.m->data = shrunk;
	*out = b.m;
	b.m = NULL;
	succeed(err);
out:
	message_free(b.m);
	return e;
}

void
message_free(struct message *m)
{
	if (m == NULL)
		return;
	address_list_clear(&m->recipients);
	if (m->fd >= 0)
		close(m->fd);
	free(m->data);
	free(m);
}

size_t
message_wire_len(const struct message *m)
{
	return m->len + m->file_len;
}

/* ---- reading ----------------------------------------------------------- */

/* Makes room to read more, up to limit octets; false when out of memory. */
static bool
make_room(char **buf, size_t *cap, size_t len, size_t limit)
{
	size_t want;
	char *p;

	if (len < *cap)
		return true;
	want = *cap == 0 ? READ_CHUNK : *cap * 2;
	if (want > limit)
		want = limit;
	if (want <= *cap)
		return true;
	if ((p = realloc(*buf, want)) == NULL)
		return false;
	*buf = p;
	*cap = want;
	return true;
}

message_err
message_read(message_read_fn fn, void *ctx, const struct message_options *opt, struct message **out,
    struct message_error *err)
{
	bool stop_at_dot = opt == NULL || !opt->dot_is_content;
	size_t max, limit, len = 0, cap = 0, from = 0;
	char *buf = NULL;
	message_err e;
	ssize_t n;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || fn == NULL)
		return fail(err, MESSAGE_ERR_INVALID, 0, "no source or no place for the message");
	if ((e = read_options(opt, &max, err)) != MESSAGE_OK)
		return e;
	limit = max + END_LINE_MAX;
	while (len < limit) {
		if (!make_room(&buf, &cap, len, limit)) {
			e = fail(err, MESSAGE_ERR_NOMEM, 0, "out of memory");
			goto out;
		}
		if ((n = fn(ctx, buf + len, cap - len)) < 0) {
			e = fail(err, MESSAGE_ERR_IO, 0, "reading the message failed: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (stop_at_dot && find_end_line(buf, len, &from, false) != SIZE_MAX)
			break;
	}
	e = message_parse(buf, len, opt, out, err);
out:
	free(buf);
	return e;
}

static ssize_t
read_fd(void *ctx, void *buf, size_t n)
{
	ssize_t got;

	do
		got = read(*(const int *)ctx, buf, n);
	while (got < 0 && errno == EINTR);
	return got;
}

/* One line at a time, so that a terminal's "." ends the input at once. */
static ssize_t
read_file(void *ctx, void *buf, size_t n)
{
	FILE *f = ctx;
	char *p = buf;
	size_t got = 0;
	int c;

	while (got < n && (c = getc(f)) != EOF) {
		p[got++] = (char)c;
		if (c == '\n')
			break;
	}
	if (got == 0 && ferror(f)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return (ssize_t)got;
}

message_err
message_read_fd(
    int fd, const struct message_options *opt, struct message **out, struct message_error *err)
{
	return message_read(read_fd, &fd, opt, out, err);
}

message_err
message_read_file(
    FILE *f, const struct message_options *opt, struct message **out, struct message_error *err)
{
	if (f == NULL)
		return fail(err, MESSAGE_ERR_INVALID, 0, "no stream to read");
	return message_read(read_file, f, opt, out, err);
}

/* ---- reading into a file ----------------------------------------------- */

/* A line "." (LF, CRLF, or the end of input after it) ends the input. */
static bool
is_end_line(const char *line, size_t l, bool has_nl)
{
	return line[0] == '.' && (l == 1 || (has_nl && l == 2 && line[1] == '\r'));
}

/*
 * Takes the complete lines of buf[0..*have), keeps the incomplete last
 * one at the front, and says in *ended that an end line was met.
 */
static message_err
take_lines(struct builder *b, char *buf, size_t *have, size_t max, bool stop_at_dot, bool *ended)
{
	size_t pos = 0;
	const char *nl;
	message_err e;

	while (!*ended && (nl = memchr(buf + pos, '\n', *have - pos)) != NULL) {
		size_t l = (size_t)(nl - (buf + pos));
		const char *line = buf + pos;
		if (stop_at_dot && is_end_line(line, l, true)) {
			*ended = true;
			break;
		}
		if ((b->len += l + 1) > max)
			return fail(b->err, MESSAGE_ERR_TOO_BIG, 0,
			    "message larger than "
			    "%zu bytes",
			    max);
		if ((e = take_line(b, 0, line, l > 0 && line[l - 1] == '\r' ? l - 1 : l)) !=
		    MESSAGE_OK)
			return e;
		pos += l + 1;
	}
	memmove(buf, buf + pos, *have - pos);
	*have -= pos;
	return MESSAGE_OK;
}

/* The last line, without a line end, once the input is over. */
static message_err
take_last(struct builder *b, const char *line, size_t l, size_t max, bool stop_at_dot)
{
	if (l == 0 || (stop_at_dot && is_end_line(line, l, false)))
		return MESSAGE_OK;
	if ((b->len += l) > max)
		return fail(b->err, MESSAGE_ERR_TOO_BIG, 0, "message larger than %zu bytes", max);
	return take_line(b, 0, line, l);
}

/* A line that cannot end well: over the cap, else over the line limit. */
static message_err
line_too_long(struct builder *b, const char *line, size_t l, size_t max)
{
	if (b->len + l > max)
		return fail(b->err, MESSAGE_ERR_TOO_BIG, 0, "message larger than %zu bytes", max);
	b->line_no++;
	return check_line(b, line, l);
}

/* The read loop: chunks in, lines out to the file. */
static message_err
stream(struct builder *b, message_read_fn fn, void *ctx, size_t max, bool stop_at_dot)
{
	const size_t size = READ_CHUNK + MESSAGE_LINE_MAX + 2;
	char *buf = malloc(size);
	size_t have = 0;
	bool ended = false;
	message_err e = MESSAGE_OK;
	ssize_t n;

	if (buf == NULL)
		return fail(b->err, MESSAGE_ERR_NOMEM, 0, "out of memory");
	while (!ended && b->write_errno == 0) {
		if ((n = fn(ctx, buf + have, size - have)) < 0) {
			e = fail(b->err, MESSAGE_ERR_IO, 0, "reading the message failed: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if ((e = take_lines(b, buf, &have, max, stop_at_dot, &ended)) != MESSAGE_OK)
			goto out;
		/* 998 octets, CR and LF at most make a line. */
		if (have > MESSAGE_LINE_MAX + 1) {
			e = line_too_long(b, buf, have, max);
			goto out;
		}
	}
	if (!ended && (e = take_last(b, buf, have, max, stop_at_dot)) != MESSAGE_OK)
		goto out;
	e = finish_build(b);
out:
	free(buf);
	return e;
}

/* Flushes the file and sets what the pass learnt. */
static message_err
close_stream(struct builder *b)
{
	flush_out(b);
	if (b->write_errno != 0)
		return fail(b->err, MESSAGE_ERR_IO, 0,
		    "writing the message to a temporary "
		    "file failed: %s",
		    strerror(b->write_errno));
	b->m->size = b->m->file_len - b->stuffed;
	return MESSAGE_OK;
}

message_err
message_read_spooled(message_read_fn fn, void *ctx, const struct message_options *opt,
    struct message **out, struct message_error *err)
{
	struct builder b = { .err = err, .in_header = true };
	size_t max;
	message_err e;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || fn == NULL)
		return fail(err, MESSAGE_ERR_INVALID, 0, "no source or no place for the message");
	if ((e = read_options(opt, &max, err)) != MESSAGE_OK)
		return e;
	b.extract = opt != NULL && opt->extract_recipients;
	e = fail(err, MESSAGE_ERR_NOMEM, 0, "out of memory");
	if ((b.m = calloc(1, sizeof(*b.m))) == NULL ||
	    (b.m->fd = -1, b.m->data = calloc(1, 1)) == NULL || (b.out = malloc(OUT_CAP)) == NULL)
		goto out;
	if ((b.m->fd = payload_tmpfile()) < 0) {
		e = fail(err, MESSAGE_ERR_IO, 0,
		    "cannot make a temporary file for the "
		    "message: %s",
		    strerror(errno));
		goto out;
	}
	if ((e = stream(&b, fn, ctx, max, opt == NULL || !opt->dot_is_content)) != MESSAGE_OK ||
	    (e = close_stream(&b)) != MESSAGE_OK)
		goto out;
	*out = b.m;
	b.m = NULL;
	succeed(err);
out:
	free(b.out);
	free(b.text);
	message_free(b.m);
	return e;
}

message_err
message_read_fd_spooled(
    int fd, const struct message_options *opt, struct message **out, struct message_error *err)
{
	return message_read_spooled(read_fd, &fd, opt, out, err);
}

/* ---- fields added ------------------------------------------------------ */

bool
message_has_header(const struct message *m, const char *name)
{
	size_t pos = 0, want = strlen(name);
	/* In a file, only the fields put in front are in data. */
	size_t end = m->fd >= 0 ? m->len : m->header_len;

	if (m->fd >= 0 &&
	    ((name_is(name, want, "date") && (m->seen & MESSAGE_SEEN_DATE)) ||
		(name_is(name, want, "message-id") && (m->seen & MESSAGE_SEEN_MESSAGE_ID)) ||
		(name_is(name, want, "from") && (m->seen & MESSAGE_SEEN_FROM))))
		return true;
	while (pos < end) {
		const char *line = m->data + pos;
		const char *crlf = strstr(line, "\r\n");
		size_t l = (size_t)(crlf - line);
		size_t n = field_name_len(line, l);
		if (n == want && strncasecmp(line, name, n) == 0)
			return true;
		pos += l + 2;
	}
	return false;
}

/* Puts a whole field line (with its CRLF) at the top of the header. */
static message_err
prepend(struct message *m, const char *field, size_t n, struct message_error *err)
{
	char *p = realloc(m->data, m->len + n + 1);

	if (p == NULL)
		return fail(err, MESSAGE_ERR_NOMEM, 0, "out of memory");
	memmove(p + n, p, m->len + 1);
	memcpy(p, field, n);
	m->data = p;
	m->len += n;
	m->size += n;
	m->header_len += n;
	m->body_offset += n;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)field[i] >= 0x80)
			m->eight_bit = m->eight_bit_header = true;
	succeed(err);
	return MESSAGE_OK;
}

message_err
message_add_date(struct message *m, time_t when, struct message_error *err)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
		"Sep", "Oct", "Nov", "Dec" };
	char field[96];
	struct tm tm;
	long off;
	int n;

	if (m == NULL)
		return fail(err, MESSAGE_ERR_INVALID, 0, "no message");
	if (message_has_header(m, "Date")) {
		succeed(err);
		return MESSAGE_OK;
	}
	if (localtime_r(&when, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11 || tm.tm_year < 0 || tm.tm_year > 8099)
		return fail(err, MESSAGE_ERR_INVALID, 0, "the time cannot be written as a date");
	off = tm.tm_gmtoff / 60;
	n = snprintf(field, sizeof(field), "Date: %s, %d %s %d %02d:%02d:%02d %c%02ld%02ld\r\n",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
	    (off < 0 ? -off : off) % 60);
	return prepend(m, field, (size_t)n, err);
}

/* RFC 5322 dot-atom-text, as the right side of a Message-ID. */
static bool
is_dot_atom(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > MX_DOMAIN_MAX || s[0] == '.' || s[len - 1] == '.' ||
	    strstr(s, "..") != NULL)
		return false;
	for (; *s != '\0'; s++)
		if (*s != '.' &&
		    !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", *s) != NULL))
			return false;
	return true;
}

message_err
message_add_message_id(struct message *m, const char *host, time_t when, struct message_error *err)
{
	char field[MX_DOMAIN_MAX + 64];
	uint64_t rnd;
	struct tm tm;
	int n;

	if (m == NULL || host == NULL || !is_dot_atom(host))
		return fail(err, MESSAGE_ERR_INVALID, 0,
		    "the host name for Message-ID "
		    "is not a dot-atom (letters, digits, dots)");
	if (message_has_header(m, "Message-ID")) {
		succeed(err);
		return MESSAGE_OK;
	}
	if (gmtime_r(&when, &tm) == NULL || tm.tm_year < 0 || tm.tm_year > 8099)
		return fail(err, MESSAGE_ERR_INVALID, 0, "the time cannot be written as a date");
	if (getentropy(&rnd, sizeof(rnd)) != 0)
		return fail(err, MESSAGE_ERR_IO, 0, "no random bytes for the Message-ID: %s",
		    strerror(errno));
	n = snprintf(field, sizeof(field),
	    "Message-ID: <%04d%02d%02d%02d%02d%02d.%016" PRIx64 "@%s>\r\n", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd, host);
	return prepend(m, field, (size_t)n, err);
}

message_err
message_add_from(struct message *m, const struct address *sender, struct message_error *err)
{
	char field[ADDRESS_PATH_MAX + 16];
	int n;

	if (m == NULL || sender == NULL || sender->null || sender->local[0] == '\0')
		return fail(err, MESSAGE_ERR_INVALID, 0,
		    "the null sender <> has no "
		    "address to put in From:");
	if (message_has_header(m, "From")) {
		succeed(err);
		return MESSAGE_OK;
	}
	n = snprintf(field, sizeof(field), "From: %s@%s\r\n", sender->local, sender->domain);
	if (n < 0 || (size_t)n >= sizeof(field))
		return fail(err, MESSAGE_ERR_INVALID, 0, "the sender is longer than an SMTP path");
	return prepend(m, field, (size_t)n, err);
}

void
message_wire_flags(const char *data, size_t len, bool *eight_bit, bool *eight_bit_header)
{
	struct wire_scan w = { 0 };

	message_wire_scan(&w, (const uint8_t *)data, len);
	*eight_bit = w.eight_bit;
	*eight_bit_header = w.eight_bit_header;
}

void
message_wire_scan(struct wire_scan *w, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++, w->seen++) {
		uint8_t c = p[i];
		if (c == '.' && (w->seen == 0 || w->last[1] == '\n'))
			w->dots++;
		/* CRLF first, or CRLF after a line's LF: the header is over. */
		if (!w->body && c == '\n' && w->last[1] == '\r' &&
		    (w->seen == 1 || w->last[0] == '\n'))
			w->body = true;
		if (c >= 0x80) {
			w->eight_bit = true;
			w->eight_bit_header |= !w->body;
		}
		w->last[0] = w->last[1];
		w->last[1] = c;
	}
}
