/*
 * test_message.c - lib/message.c: line ends (LF, CRLF, mixed, none at the
 * end), dot-stuffing and the "." line with and without -i, bare CR and
 * NUL refused with their line, the 998-octet limit in header and body,
 * header and body found (folded fields, no empty line, no header), -t
 * (To, Cc, Bcc, groups, bad addresses, Bcc taken out, the cap), SIZE and
 * 8-bit flags, the size cap, the readers (callback, fd, FILE*, read
 * errors, stopping at "."), the added Date, Message-ID and From fields,
 * and a property test: 10^4 pseudo-random bodies fed in random chunks
 * come back byte for byte once the stuffing and CRLF are undone.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "message.h"

static const struct message_options dot_ends = { 0 };
static const struct message_options dot_content = { .dot_is_content = true };
static const struct message_options extract = { .extract_recipients = true };

static struct message *
parse_ok(const char *in, size_t len, const struct message_options *opt)
{
	struct message *m = NULL;
	struct message_error err;

	memset(&err, 'x', sizeof(err));
	assert_int_equal(message_parse(in, len, opt, &m, &err), MESSAGE_OK);
	assert_non_null(m);
	assert_int_equal(err.code, MESSAGE_OK);
	assert_string_equal(err.why, "");
	return m;
}

/* Expects in (a C string) to become want. */
static void
becomes(const char *in, const struct message_options *opt, const char *want)
{
	struct message *m = parse_ok(in, strlen(in), opt);

	assert_string_equal(m->data, want);
	assert_int_equal(m->len, strlen(want));
	message_free(m);
}

static void
fails(const char *in, size_t len, const struct message_options *opt, message_err code, size_t line,
    const char *why)
{
	struct message *m = (struct message *)&m;
	struct message_error err;

	assert_int_equal(message_parse(in, len, opt, &m, &err), code);
	assert_null(m);
	assert_int_equal(err.code, code);
	assert_int_equal(err.line, line);
	assert_string_equal(err.why, why);
}

static void
test_line_ends(void **state)
{
	(void)state;
	becomes("Subject: hi\n\nbody\n", NULL, "Subject: hi\r\n\r\nbody\r\n");
	becomes("Subject: hi\r\n\r\nbody\r\n", NULL, "Subject: hi\r\n\r\nbody\r\n");
	becomes("Subject: hi\r\n\nbody\nmore\r\n", NULL, "Subject: hi\r\n\r\nbody\r\nmore\r\n");
	becomes("Subject: hi\n\nno newline", NULL, "Subject: hi\r\n\r\nno newline\r\n");
	becomes("Subject: hi\n\n\n\n", NULL, "Subject: hi\r\n\r\n\r\n\r\n");
	becomes("", NULL, "");
	becomes("\n", NULL, "\r\n");
}

static void
test_dot_stuffing(void **state)
{
	struct message *m;
	const char *in = "Subject: d\n\n.hidden\n..two\n. \nx.\n";

	(void)state;
	becomes(in, NULL, "Subject: d\r\n\r\n..hidden\r\n...two\r\n.. \r\nx.\r\n");
	m = parse_ok(in, strlen(in), NULL);
	assert_int_equal(m->size, m->len - 3);
	message_free(m);
	becomes(".x: y\n\n.\r\n", &dot_content, "..x: y\r\n\r\n..\r\n");
	becomes("Subject: d\n\n.", &dot_content, "Subject: d\r\n\r\n..\r\n");
}

static void
test_dot_line(void **state)
{
	(void)state;
	becomes("Subject: d\n\nbefore\n.\nafter\n", &dot_ends, "Subject: d\r\n\r\nbefore\r\n");
	becomes("Subject: d\n\nbefore\n.\r\nafter\n", &dot_ends, "Subject: d\r\n\r\nbefore\r\n");
	becomes("Subject: d\n\nbefore\n.", &dot_ends, "Subject: d\r\n\r\nbefore\r\n");
	becomes("Subject: d\n\nbefore\n.\nafter\n", &dot_content,
	    "Subject: d\r\n\r\nbefore\r\n..\r\nafter\r\n");
	becomes("Subject: d\n\n..\n.x\n. \n", &dot_ends, "Subject: d\r\n\r\n...\r\n..x\r\n.. \r\n");
	becomes(".\nSubject: d\n", &dot_ends, "");
	becomes("Subject: d\n.\nX: y\n", &dot_ends, "Subject: d\r\n");
	/* what follows the end line is never looked at */
	becomes("Subject: d\n\nok\n.\nbad\rCR\0", &dot_ends, "Subject: d\r\n\r\nok\r\n");
}

static void
test_bare_cr_and_nul(void **state)
{
	static const char nul[] = "Subject: x\n\na\0b\n";
	static const char nul_header[] = "Subj\0ect: x\n\nab\n";

	(void)state;
	fails("Subject: x\n\na\rb\n", 16, NULL, MESSAGE_ERR_MALFORMED, 3,
	    "line 3 contains a bare carriage return (CR without LF)");
	fails("Subject: x\n\nab\r", 15, NULL, MESSAGE_ERR_MALFORMED, 3,
	    "line 3 contains a bare carriage return (CR without LF)");
	fails("Subject: x\n\nab\r\r\n", 17, NULL, MESSAGE_ERR_MALFORMED, 3,
	    "line 3 contains a bare carriage return (CR without LF)");
	fails("Subject: x\rBcc: y\n\n", 19, NULL, MESSAGE_ERR_MALFORMED, 1,
	    "line 1 contains a bare carriage return (CR without LF)");
	/* SMTP smuggling: <CR>.<CR> and <LF>.<CR><LF> never reach the wire */
	fails("S: x\n\na\r.\rMAIL FROM:<e@x.test>\r\n", 31, &dot_content, MESSAGE_ERR_MALFORMED, 3,
	    "line 3 contains a bare carriage return (CR without LF)");
	fails(nul, sizeof(nul) - 1, NULL, MESSAGE_ERR_MALFORMED, 3, "line 3 contains a NUL byte");
	fails(nul_header, sizeof(nul_header) - 1, NULL, MESSAGE_ERR_MALFORMED, 1,
	    "line 1 contains a NUL byte");
}

static void
test_smuggling_stays_data(void **state)
{
	(void)state;
	/* <LF>.<LF> with -i is a stuffed line; bare LF becomes CRLF */
	becomes("S: x\n\na\n.\nMAIL FROM:<e@x.test>\n", &dot_content,
	    "S: x\r\n\r\na\r\n..\r\nMAIL FROM:<e@x.test>\r\n");
	becomes("S: x\n\na\n.\r\nRCPT TO:<e@x.test>\r\n", &dot_content,
	    "S: x\r\n\r\na\r\n..\r\nRCPT TO:<e@x.test>\r\n");
}

static void
test_line_length(void **state)
{
	char buf[1200];
	struct message *m;

	(void)state;
	memcpy(buf, "Subject: x\n\n", 12);
	memset(buf + 12, 'a', 998);
	memcpy(buf + 1010, "\r\nend\n", 7);
	m = parse_ok(buf, strlen(buf), NULL);
	message_free(m);
	buf[12] = '.';
	m = parse_ok(buf, strlen(buf), NULL);
	assert_int_equal(m->data[m->body_offset + 1], '.');
	message_free(m);
	memset(buf + 12, 'a', 999);
	memcpy(buf + 1011, "\nend\n", 6);
	fails(buf, strlen(buf), NULL, MESSAGE_ERR_MALFORMED, 3,
	    "line 3 is longer than 998 octets (RFC 5322 section 2.1.1)");
	buf[1011] = '\0';
	fails(buf, strlen(buf), NULL, MESSAGE_ERR_MALFORMED, 3,
	    "line 3 is longer than 998 octets (RFC 5322 section 2.1.1)");
	/* header: 9 + 989 = 998 is fine, 999 is not */
	memcpy(buf, "Subject: ", 9);
	memset(buf + 9, 'h', 989);
	memcpy(buf + 998, "\n\nbody\n", 8);
	message_free(parse_ok(buf, strlen(buf), NULL));
	memset(buf + 9, 'h', 990);
	memcpy(buf + 999, "\n\nbody\n", 8);
	fails(buf, strlen(buf), NULL, MESSAGE_ERR_MALFORMED, 1,
	    "line 1 is longer than 998 octets (RFC 5322 section 2.1.1)");
	/* a folded field may be long as long as each line is not */
	memcpy(buf, "X-A: b\n", 7);
	memset(buf + 7, ' ', 998);
	memcpy(buf + 1005, "\n\n", 3);
	message_free(parse_ok(buf, strlen(buf), NULL));
}

static void
test_header_body(void **state)
{
	struct message *m;
	const char *in;

	(void)state;
	in = "Subject: hi\nX-Folded: a\n b\n\tc\n\nbody\n";
	m = parse_ok(in, strlen(in), NULL);
	assert_int_equal(m->header_len, strlen("Subject: hi\r\nX-Folded: a\r\n b\r\n\tc\r\n"));
	assert_int_equal(m->body_offset, m->header_len + 2);
	assert_false(m->separator_added);
	message_free(m);
	/* no empty line: all header */
	in = "Subject: only\nX: y\n";
	m = parse_ok(in, strlen(in), NULL);
	assert_int_equal(m->header_len, m->len);
	assert_int_equal(m->body_offset, m->len);
	message_free(m);
	/* empty input */
	m = parse_ok(NULL, 0, NULL);
	assert_int_equal(m->len, 0);
	assert_int_equal(m->header_len, 0);
	assert_int_equal(m->body_offset, 0);
	assert_string_equal(m->data, "");
	message_free(m);
	/* the first line empty: no header, a body */
	m = parse_ok("\nbody\n", 6, NULL);
	assert_int_equal(m->header_len, 0);
	assert_int_equal(m->body_offset, 2);
	message_free(m);
}

static void
test_separator_added(void **state)
{
	struct message *m;

	(void)state;
	becomes("just a body\nmore\n", NULL, "\r\njust a body\r\nmore\r\n");
	becomes("Subject: x\nhello world\n", NULL, "Subject: x\r\n\r\nhello world\r\n");
	becomes(" folded first\nSubject: x\n", NULL, "\r\n folded first\r\nSubject: x\r\n");
	becomes("From someone Mon Jan 1\nSubject: x\n", NULL,
	    "\r\nFrom someone Mon Jan 1\r\nSubject: x\r\n");
	becomes("Subject: x\n.dotted body\n", NULL, "Subject: x\r\n\r\n..dotted body\r\n");
	m = parse_ok("Subject: x\nbody\n", 16, NULL);
	assert_true(m->separator_added);
	assert_int_equal(m->header_len, 12);
	assert_int_equal(m->body_offset, 14);
	message_free(m);
	/* field names: obsolete white space before the colon is a field */
	becomes("Subject : x\nbody\n", NULL, "Subject : x\r\n\r\nbody\r\n");
	becomes(": x\n", NULL, "\r\n: x\r\n");
	becomes("Sub ject: x\n", NULL, "\r\nSub ject: x\r\n");
}

static void
test_eight_bit(void **state)
{
	struct message *m;
	const char *in;

	(void)state;
	in = "Subject: x\n\nb\xc3\xbcrger\n";
	m = parse_ok(in, strlen(in), NULL);
	assert_true(m->eight_bit);
	assert_false(m->eight_bit_header);
	message_free(m);
	in = "Subject: b\xc3\xbcrger\n\nbody\n";
	m = parse_ok(in, strlen(in), NULL);
	assert_true(m->eight_bit);
	assert_true(m->eight_bit_header);
	message_free(m);
	in = "Subject: x\n\nascii\n";
	m = parse_ok(in, strlen(in), NULL);
	assert_false(m->eight_bit);
	message_free(m);
	/* the body line that ends a header without an empty line is body */
	in = "Subject: x\nb\xc3\xbcrger\n";
	m = parse_ok(in, strlen(in), NULL);
	assert_true(m->eight_bit);
	assert_false(m->eight_bit_header);
	message_free(m);
}

static void
paths_are(const struct address_list *list, ...)
{
	const char *path;
	size_t n = 0;
	va_list ap;

	va_start(ap, list);
	while ((path = va_arg(ap, const char *)) != NULL) {
		assert_true(n < list->n_items);
		assert_string_equal(list->items[n++].path, path);
	}
	va_end(ap);
	assert_int_equal(list->n_items, n);
}

static void
test_extract(void **state)
{
	struct message *m;
	const char *in = "From: s@example.test\n"
			 "To: A <a@example.test>, b@example.test\n"
			 "Cc: \"C c\" <c@example.test>\n"
			 "Bcc: d@example.test,\n e@example.test\n"
			 "Subject: t\n"
			 "bcc:f@example.test\n"
			 "\n"
			 "body\nBcc: not-a-header@example.test\n";

	(void)state;
	m = parse_ok(in, strlen(in), &extract);
	paths_are(&m->recipients, "<a@example.test>", "<b@example.test>", "<c@example.test>",
	    "<d@example.test>", "<e@example.test>", "<f@example.test>", NULL);
	assert_int_equal(m->recipients.n_bad, 0);
	assert_true(m->bcc_removed);
	assert_string_equal(m->data,
	    "From: s@example.test\r\n"
	    "To: A <a@example.test>, b@example.test\r\n"
	    "Cc: \"C c\" <c@example.test>\r\n"
	    "Subject: t\r\n"
	    "\r\n"
	    "body\r\nBcc: not-a-header@example.test\r\n");
	assert_int_equal(m->header_len,
	    strlen(m->data) - strlen("\r\nbody\r\nBcc: not-a-header@example.test\r\n"));
	message_free(m);
	/* without -t nothing is read or removed */
	m = parse_ok(in, strlen(in), NULL);
	assert_int_equal(m->recipients.n_items, 0);
	assert_false(m->bcc_removed);
	assert_non_null(strstr(m->data, "Bcc: d@example.test,\r\n e@example.test\r\n"));
	message_free(m);
}

static void
test_extract_forms(void **state)
{
	struct message *m;
	const char *in;

	(void)state;
	in = "To: undisclosed-recipients:;\nCC: Team: x@example.test,\n\ty@example.test;\n"
	     "Bcc: (comment) z@example.test (c)\n\n";
	m = parse_ok(in, strlen(in), &extract);
	paths_are(&m->recipients, "<x@example.test>", "<y@example.test>", "<z@example.test>", NULL);
	assert_string_equal(m->data,
	    "To: undisclosed-recipients:;\r\n"
	    "CC: Team: x@example.test,\r\n\ty@example.test;\r\n\r\n");
	message_free(m);
	/* the last field, folded, at the end of the input */
	in = "To: a@x.test\nBcc: b@y.test,\n\tc@z.test";
	m = parse_ok(in, strlen(in), &extract);
	paths_are(&m->recipients, "<a@x.test>", "<b@y.test>", "<c@z.test>", NULL);
	assert_string_equal(m->data, "To: a@x.test\r\n");
	assert_int_equal(m->header_len, m->len);
	message_free(m);
	/* the "." line ends the field too */
	in = "To: a@x.test,\n b@y.test\n.\n c@z.test\n";
	m = parse_ok(in, strlen(in), &extract);
	paths_are(&m->recipients, "<a@x.test>", "<b@y.test>", NULL);
	message_free(m);
	in = "To: j\xc3\xb6@example.test, Name <user@b\xc3\xbc"
	     "cher.test>\n\n";
	m = parse_ok(in, strlen(in), &extract);
	paths_are(&m->recipients, "<j\xc3\xb6@example.test>", "<user@xn--bcher-kva.test>", NULL);
	assert_true(m->recipients.items[0].smtputf8);
	assert_false(m->recipients.items[1].smtputf8);
	message_free(m);
	in = "To : a@x.test, A@X.TEST\nCc: a@x.test\nResent-To: r@x.test\nX-To: q@x.test\n\n";
	m = parse_ok(in, strlen(in), &extract);
	paths_are(&m->recipients, "<a@x.test>", "<A@x.test>", NULL);
	message_free(m);
}

static void
test_extract_bad(void **state)
{
	struct message *m;
	const char *in = "To: John Doe, a@example.test, <c@[192.0.2.1]>\n\n";

	(void)state;
	m = parse_ok(in, strlen(in), &extract);
	paths_are(&m->recipients, "<a@example.test>", NULL);
	assert_int_equal(m->recipients.n_bad, 2);
	assert_string_equal(m->recipients.bad[0].text, "John Doe");
	assert_string_equal(m->recipients.bad[1].text, "<c@[192.0.2.1]>");
	message_free(m);
}

static void
test_extract_cap(void **state)
{
	size_t cap = (MESSAGE_RECIPIENTS_MAX + 2) * 24 + 64, o = 0;
	char *in = malloc(cap);

	(void)state;
	assert_non_null(in);
	o += (size_t)sprintf(in, "Subject: many\nTo: ");
	for (int i = 0; i <= MESSAGE_RECIPIENTS_MAX; i++)
		o += (size_t)sprintf(in + o, "u%d@example.test,\n ", i);
	memcpy(in + o, "\n\n", 3);
	fails(in, strlen(in), &extract, MESSAGE_ERR_MALFORMED, 2,
	    "the header names more than 1000 addresses in To, Cc and Bcc (line 2)");
	message_free(parse_ok(in, strlen(in), NULL));
	free(in);
}

static void
test_size_cap(void **state)
{
	struct message_options opt = { .max_size = 10 };
	struct message *m;

	(void)state;
	m = parse_ok("0123456789", 10, &opt);
	message_free(m);
	fails("0123456789A", 11, &opt, MESSAGE_ERR_TOO_BIG, 0, "message larger than 10 bytes");
	/* what follows the "." line does not count */
	m = parse_ok("012345678\n.\nand much more after the end", 39, &opt);
	assert_string_equal(m->data, "\r\n012345678\r\n");
	message_free(m);
	opt.dot_is_content = true;
	fails("012345678\n.\nand more", 20, &opt, MESSAGE_ERR_TOO_BIG, 0,
	    "message larger than 10 bytes");
	opt.max_size = MESSAGE_SIZE_LIMIT + 1;
	fails("x", 1, &opt, MESSAGE_ERR_INVALID, 0,
	    "a size cap of 1073741825 bytes is over the limit of 1073741824");
	fails(NULL, 1, NULL, MESSAGE_ERR_INVALID, 0, "no input or no place for the message");
	assert_int_equal(message_parse("x", 1, NULL, NULL, NULL), MESSAGE_ERR_INVALID);
	message_free(NULL);
}

/* ---- readers ---------------------------------------------------------- */

struct source {
	const char *in;
	size_t len, pos;
	size_t chunk; /* octets per read at most */
	int fail_at;  /* fail on this read (1-based); 0 never */
	int reads;
	uint64_t rng; /* chunk sizes 1..chunk when nonzero */
};

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static ssize_t
read_source(void *ctx, void *buf, size_t n)
{
	struct source *s = ctx;
	size_t want = s->rng != 0 ? next_rand(&s->rng) % s->chunk + 1 : s->chunk;

	if (++s->reads == s->fail_at) {
		errno = EIO;
		return -1;
	}
	if (want > n)
		want = n;
	if (want > s->len - s->pos)
		want = s->len - s->pos;
	memcpy(buf, s->in + s->pos, want);
	s->pos += want;
	return (ssize_t)want;
}

static void
test_read_callback(void **state)
{
	const char *in = "Subject: r\n\nline\n.\nnot read\n";
	struct source src = { in, strlen(in), 0, 1, 0, 0, 0 };
	struct message *m = NULL;
	struct message_error err;

	(void)state;
	assert_int_equal(message_read(read_source, &src, NULL, &m, &err), MESSAGE_OK);
	assert_string_equal(m->data, "Subject: r\r\n\r\nline\r\n");
	assert_int_equal(src.pos, strlen("Subject: r\n\nline\n.\n"));
	message_free(m);
	src = (struct source){ in, strlen(in), 0, 4096, 0, 0, 0 };
	assert_int_equal(message_read(read_source, &src, &dot_content, &m, &err), MESSAGE_OK);
	assert_string_equal(m->data, "Subject: r\r\n\r\nline\r\n..\r\nnot read\r\n");
	message_free(m);
	src = (struct source){ in, strlen(in), 0, 3, 2, 0, 0 };
	assert_int_equal(message_read(read_source, &src, NULL, &m, &err), MESSAGE_ERR_IO);
	assert_null(m);
	assert_string_equal(err.why, "reading the message failed: Input/output error");
	assert_int_equal(message_read(NULL, &src, NULL, &m, &err), MESSAGE_ERR_INVALID);
}

static ssize_t
read_forever(void *ctx, void *buf, size_t n)
{
	size_t *total = ctx;

	memset(buf, 'a', n);
	*total += n;
	return (ssize_t)n;
}

static void
test_read_cap(void **state)
{
	struct message_options opt = { .max_size = 100 };
	struct message *m = NULL;
	struct message_error err;
	size_t total = 0;

	(void)state;
	assert_int_equal(message_read(read_forever, &total, &opt, &m, &err), MESSAGE_ERR_TOO_BIG);
	assert_string_equal(err.why, "message larger than 100 bytes");
	assert_true(total <= 103);
	assert_null(m);
	total = 0;
	opt.max_size = 0;
	assert_int_equal(message_read(read_forever, &total, &opt, &m, &err), MESSAGE_ERR_TOO_BIG);
	assert_string_equal(err.why, "message larger than 67108864 bytes");
	assert_int_equal(total, MESSAGE_SIZE_DEFAULT + 3);
}

static void
test_read_fd_and_file(void **state)
{
	const char *in = "Subject: fd\r\n\r\nbody\n";
	struct message *m = NULL;
	struct message_error err;
	int fds[2];
	FILE *f;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], in, strlen(in)), (ssize_t)strlen(in));
	close(fds[1]);
	assert_int_equal(message_read_fd(fds[0], NULL, &m, &err), MESSAGE_OK);
	close(fds[0]);
	assert_string_equal(m->data, "Subject: fd\r\n\r\nbody\r\n");
	message_free(m);
	assert_int_equal(message_read_fd(-1, NULL, &m, &err), MESSAGE_ERR_IO);
	assert_string_equal(err.why, "reading the message failed: Bad file descriptor");

	f = tmpfile();
	assert_non_null(f);
	fputs("Subject: file\n\nbody\n.\nleft\n", f);
	rewind(f);
	assert_int_equal(message_read_file(f, NULL, &m, &err), MESSAGE_OK);
	assert_string_equal(m->data, "Subject: file\r\n\r\nbody\r\n");
	message_free(m);
	/* the stream is left just after the "." line */
	assert_int_equal(fgetc(f), 'l');
	fclose(f);
	assert_int_equal(message_read_file(NULL, NULL, &m, &err), MESSAGE_ERR_INVALID);
}

/* ---- fields added ----------------------------------------------------- */

static void
test_add_date(void **state)
{
	struct message_error err;
	struct message *m;
	const char *in = "Subject: x\n\nbody\n";

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	m = parse_ok(in, strlen(in), NULL);
	assert_int_equal(message_add_date(m, 0, NULL), MESSAGE_OK);
	assert_string_equal(m->data,
	    "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"
	    "Subject: x\r\n\r\nbody\r\n");
	assert_int_equal(m->header_len,
	    strlen("Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"
		   "Subject: x\r\n"));
	assert_int_equal(m->body_offset, m->header_len + 2);
	assert_int_equal(m->size, m->len);
	assert_int_equal(message_add_date(m, 1700000000, NULL), MESSAGE_OK);
	assert_int_equal(strncmp(m->data, "Date: Thu", 9), 0);
	message_free(m);
	setenv("TZ", "XST-5:30", 1);
	tzset();
	m = parse_ok(in, strlen(in), NULL);
	assert_int_equal(message_add_date(m, 1700000000, NULL), MESSAGE_OK);
	assert_int_equal(strncmp(m->data, "Date: Wed, 15 Nov 2023 03:43:20 +0530\r\n", 39), 0);
	message_free(m);
	setenv("TZ", "XST3", 1);
	tzset();
	m = parse_ok(in, strlen(in), NULL);
	assert_int_equal(message_add_date(m, 1700000000, NULL), MESSAGE_OK);
	assert_int_equal(strncmp(m->data, "Date: Tue, 14 Nov 2023 19:13:20 -0300\r\n", 39), 0);
	message_free(m);
	setenv("TZ", "UTC", 1);
	tzset();
	m = parse_ok("", 0, NULL);
	assert_int_equal(message_add_date(m, (time_t)1 << 60, &err), MESSAGE_ERR_INVALID);
	assert_string_equal(err.why, "the time cannot be written as a date");
	assert_int_equal(
	    message_add_message_id(m, "h.test", (time_t)1 << 60, &err), MESSAGE_ERR_INVALID);
	assert_int_equal(m->len, 0);
	message_free(m);
	m = parse_ok("date: already\n\n", 15, NULL);
	assert_int_equal(message_add_date(m, 0, NULL), MESSAGE_OK);
	assert_string_equal(m->data, "date: already\r\n\r\n");
	message_free(m);
}

static void
test_add_message_id(void **state)
{
	struct message *m = parse_ok("", 0, NULL);
	struct message_error err;
	unsigned y, mo, d, h, mi, s;
	char rnd[17], host[64], first[100];

	(void)state;
	assert_int_equal(
	    message_add_message_id(m, "host.example.test", 1700000000, &err), MESSAGE_OK);
	assert_int_equal(sscanf(m->data, "Message-ID: <%4u%2u%2u%2u%2u%2u.%16[0-9a-f]@%63[^>]>\r\n",
			     &y, &mo, &d, &h, &mi, &s, rnd, host),
	    8);
	assert_int_equal(y, 2023);
	assert_int_equal(mo, 11);
	assert_int_equal(d, 14);
	assert_int_equal(h, 22);
	assert_string_equal(host, "host.example.test");
	assert_int_equal(m->header_len, m->len);
	assert_int_equal(m->body_offset, m->len);
	assert_true(message_has_header(m, "message-id"));
	snprintf(first, sizeof(first), "%s", m->data);
	assert_int_equal(message_add_message_id(m, "host.example.test", 0, &err), MESSAGE_OK);
	assert_string_equal(m->data, first);
	message_free(m);
	m = parse_ok("", 0, NULL);
	assert_int_equal(message_add_message_id(m, "bad host", 0, &err), MESSAGE_ERR_INVALID);
	assert_string_equal(err.why,
	    "the host name for Message-ID is not a dot-atom "
	    "(letters, digits, dots)");
	assert_int_equal(message_add_message_id(m, "a..b", 0, &err), MESSAGE_ERR_INVALID);
	assert_int_equal(message_add_message_id(m, "", 0, &err), MESSAGE_ERR_INVALID);
	assert_int_equal(message_add_message_id(m, "x\r\nBcc: y", 0, &err), MESSAGE_ERR_INVALID);
	assert_int_equal(message_add_message_id(m, NULL, 0, &err), MESSAGE_ERR_INVALID);
	assert_int_equal(m->len, 0);
	message_free(m);
}

static void
test_add_from(void **state)
{
	struct message *m;
	struct address sender;
	struct message_error err;

	(void)state;
	m = parse_ok("Subject: x\n\nbody\n", 17, NULL);
	assert_int_equal(address_parse_sender("<Joe@Example.TEST>", &sender, NULL), MX_OK);
	assert_int_equal(message_add_from(m, &sender, &err), MESSAGE_OK);
	assert_string_equal(m->data, "From: Joe@example.test\r\nSubject: x\r\n\r\nbody\r\n");
	assert_false(m->eight_bit_header);
	message_free(m);
	m = parse_ok("FROM: x@y.test\n", 15, NULL);
	assert_int_equal(message_add_from(m, &sender, &err), MESSAGE_OK);
	assert_string_equal(m->data, "FROM: x@y.test\r\n");
	message_free(m);
	m = parse_ok("\nbody\n", 6, NULL);
	assert_int_equal(address_parse_sender("j\xc3\xb6@example.test", &sender, NULL), MX_OK);
	assert_int_equal(message_add_from(m, &sender, &err), MESSAGE_OK);
	assert_string_equal(m->data, "From: j\xc3\xb6@example.test\r\n\r\nbody\r\n");
	assert_true(m->eight_bit_header && m->eight_bit);
	assert_int_equal(address_parse_sender("<>", &sender, NULL), MX_OK);
	assert_int_equal(message_add_from(m, &sender, &err), MESSAGE_ERR_INVALID);
	assert_string_equal(err.why, "the null sender <> has no address to put in From:");
	message_free(m);
}

static void
test_has_header(void **state)
{
	struct message *m = parse_ok("X-A: 1\n b: c\nSubject: s\n\nDate: body\n", 36, NULL);

	(void)state;
	assert_true(message_has_header(m, "x-a"));
	assert_true(message_has_header(m, "SUBJECT"));
	assert_false(message_has_header(m, "b"));
	assert_false(message_has_header(m, "Date"));
	assert_false(message_has_header(m, "Subj"));
	message_free(m);
}

/* ---- property ----------------------------------------------------------- */

#define PROPERTY_RUNS 10000

/* Appends one pseudo-random line (with its end, or none when last). */
static size_t
random_line(uint64_t *rng, char *out, bool last)
{
	static const char *const palette[] = { "", ".", "..", "...", ".x", "x.", ". ", "a b",
		"From x", "MAIL FROM:<a@b>", "\xc3\xbc", ".\xc3\xbc" };
	size_t n = 0, pick = next_rand(rng) % 16;

	if (pick < sizeof(palette) / sizeof(palette[0])) {
		n = strlen(palette[pick]);
		memcpy(out, palette[pick], n);
	} else {
		size_t len = pick == 15 ? 990 + next_rand(rng) % 9 : next_rand(rng) % 40;
		for (; n < len; n++) {
			char c = (char)(next_rand(rng) % 256);
			out[n] = c == '\r' || c == '\n' || c == '\0' ? '.' : c;
		}
	}
	if (last && next_rand(rng) % 3 == 0 && n > 0)
		return n;
	if (next_rand(rng) % 2)
		out[n++] = '\r';
	out[n++] = '\n';
	return n;
}

/* Undoes stuffing and CRLF, and checks the wire rules on the way. */
static size_t
undo(const struct message *m, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < m->len; i++) {
		if (m->data[i] == '\n')
			assert_true(i > 0 && m->data[i - 1] == '\r');
		if (m->data[i] == '\r')
			assert_true(i + 1 < m->len && m->data[i + 1] == '\n');
		if ((i == 0 || m->data[i - 1] == '\n') && m->data[i] == '.') {
			assert_true(m->data[i + 1] == '.');
			i++;
		}
		if (m->data[i] != '\r')
			out[o++] = m->data[i];
	}
	return o;
}

/* The input as it should come back: up to the "." line, no CR, LF at the end. */
static size_t
expect(const char *in, size_t len, bool dot_is_content, char *out)
{
	size_t o = 0, line = 0;

	for (size_t i = 0; i < len; i++) {
		if (!dot_is_content && i == line && in[i] == '.' &&
		    (i + 1 == len || in[i + 1] == '\n' ||
			(in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n')))
			break;
		if (in[i] == '\n')
			line = i + 1;
		if (in[i] != '\r')
			out[o++] = in[i];
	}
	if (o > 0 && out[o - 1] != '\n')
		out[o++] = '\n';
	return o;
}

static void
test_property_round_trip(void **state)
{
	enum { BUF = 16 * 1024 };
	char *in = malloc(BUF), *want = malloc(BUF), *got = malloc(2 * BUF);
	uint64_t rng = 0x9e3779b97f4a7c15u;

	(void)state;
	assert_true(in != NULL && want != NULL && got != NULL);
	for (int run = 0; run < PROPERTY_RUNS; run++) {
		size_t len = 0, lines = next_rand(&rng) % 12;
		bool dot_is_content = run % 2 == 0;
		struct message_options opt = { .dot_is_content = dot_is_content };
		struct source src;
		struct message *m = NULL, *p = NULL;

		len += (size_t)sprintf(in, "Subject: %d%s\n\n", run, run % 3 ? "" : "\r");
		for (size_t i = 0; i < lines; i++)
			len += random_line(&rng, in + len, i + 1 == lines);
		src = (struct source){ in, len, 0, 9, 0, 0, next_rand(&rng) | 1 };
		assert_int_equal(message_read(read_source, &src, &opt, &m, NULL), MESSAGE_OK);
		assert_int_equal(message_parse(in, len, &opt, &p, NULL), MESSAGE_OK);
		assert_int_equal(m->len, p->len);
		assert_memory_equal(m->data, p->data, m->len);
		assert_true(
		    m->len == 0 || (m->data[m->len - 2] == '\r' && m->data[m->len - 1] == '\n'));
		{
			size_t wl = expect(in, len, dot_is_content, want), gl = undo(m, got);
			assert_int_equal(gl, wl);
			assert_memory_equal(got, want, wl);
		}
		message_free(m);
		message_free(p);
	}
	free(in);
	free(want);
	free(got);
}

/* The whole payload of a message, its file part read back. */
static char *
wire_of(const struct message *m, size_t *len)
{
	size_t n = message_wire_len(m);
	char *w = malloc(n + 1);

	assert_non_null(w);
	memcpy(w, m->data, m->len);
	if (m->file_len > 0)
		assert_int_equal(pread(m->fd, w + m->len, m->file_len, 0), (ssize_t)m->file_len);
	w[n] = '\0';
	*len = n;
	return w;
}

/* message_read_spooled gives what message_read gives, in any chunking. */
static void
test_spooled_same_as_memory(void **state)
{
	static const char *const inputs[] = {
		"",
		"x",
		".",
		".\n",
		"a\n.\nafter\n",
		"a\r\n.\r\nafter",
		"Subject: s\n\nbody\n..x\n",
		"To: a@x.test,\n b@y.test\nBcc: c@z.test\nCc: d@x.test\n\n.start\nend",
		"no header line\nmore\n",
		"Subject: \xc3\xa9\n\n\xc3\xa9\n",
		"a\rb\n",
		"a\0b\n",
		"Date: x\nFrom: y\nMessage-ID: <z>\n\nb\n",
		"Bcc: u@x.test\n",
		"last\r",
		"To: bad address here\n\n",
	};
	struct message_options opts[] = { { 0 }, { .dot_is_content = true },
		{ .extract_recipients = true }, { .max_size = 8 } };

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
			size_t len = i == 11 ? 4 : strlen(inputs[i]); /* "a\0b\n" */
			struct source a = { inputs[i], len, 0, 3, 0, 0, 0 };
			struct source b = a;
			struct message *m = NULL, *s = NULL;
			struct message_error ea, eb;
			message_err ca = message_read(read_source, &a, &opts[o], &m, &ea);
			message_err cb = message_read_spooled(read_source, &b, &opts[o], &s, &eb);
			assert_int_equal(ca, cb);
			if (ca == MESSAGE_OK) {
				size_t wl, ml;
				char *w = wire_of(s, &wl), *mw = wire_of(m, &ml);
				assert_int_equal(wl, ml);
				assert_memory_equal(w, mw, wl);
				assert_int_equal(s->size, m->size);
				assert_int_equal(s->header_len, m->header_len);
				assert_int_equal(s->body_offset, m->body_offset);
				assert_int_equal(s->eight_bit, m->eight_bit);
				assert_int_equal(s->eight_bit_header, m->eight_bit_header);
				assert_int_equal(s->recipients.n_items, m->recipients.n_items);
				assert_int_equal(s->recipients.n_bad, m->recipients.n_bad);
				assert_true(
				    message_has_header(s, "Date") == message_has_header(m, "Date"));
				assert_true(
				    message_has_header(s, "From") == message_has_header(m, "From"));
				free(w);
				free(mw);
			} else {
				assert_string_equal(ea.why, eb.why);
			}
			message_free(m);
			message_free(s);
		}
	}
}

/* A message in a file: fields put in front, the rest untouched. */
static void
test_spooled_add_fields(void **state)
{
	const char *in = "Subject: s\n\nbody\n";
	struct source src = { in, strlen(in), 0, 64, 0, 0, 0 };
	struct message *m = NULL;
	char *w;
	size_t wl;

	(void)state;
	assert_int_equal(message_read_spooled(read_source, &src, NULL, &m, NULL), MESSAGE_OK);
	assert_true(m->fd >= 0);
	assert_int_equal(message_add_date(m, 0, NULL), MESSAGE_OK);
	assert_true(message_has_header(m, "Date"));
	w = wire_of(m, &wl);
	assert_int_equal(strncmp(w, "Date: ", 6), 0);
	assert_non_null(strstr(w, "\r\nSubject: s\r\n\r\nbody\r\n"));
	assert_int_equal(m->header_len, wl - strlen("\r\nbody\r\n"));
	assert_int_equal(m->size, wl);
	free(w);
	message_free(m);
}

/*
 * message_wire_scan (the queue's view of a spooled message read in
 * pieces) says what one pass over the whole says, wherever the pieces
 * split it: 8-bit in the header or only in the body, the empty line
 * first, and the stuffing dots that SIZE leaves out.
 */
static void
test_wire_scan_in_pieces(void **state)
{
	static const struct {
		const char *wire;
		bool eight_bit, eight_bit_header;
		size_t dots;
	} cases[] = {
		{ "Subject: x\r\n\r\n..a\r\nb\r\n.c\xc3\xa9\r\n", true, false, 2 },
		{ "Subject: caf\xc3\xa9\r\n\r\nbody\r\n", true, true, 0 },
		{ "\r\n\xff\r\n", true, false, 0 },
		{ "..x\r\nA: b\r\n", false, false, 1 },
		{ "A: b\r\nC: d\r\n\r\n\r\n\x80", true, false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *p = (const uint8_t *)cases[i].wire;
		size_t len = strlen(cases[i].wire);
		bool eb, ebh;
		message_wire_flags(cases[i].wire, len, &eb, &ebh);
		assert_int_equal(eb, cases[i].eight_bit);
		assert_int_equal(ebh, cases[i].eight_bit_header);
		for (size_t step = 1; step <= 4; step++) {
			struct wire_scan w = { 0 };
			for (size_t pos = 0; pos < len; pos += step)
				message_wire_scan(&w, p + pos, len - pos < step ? len - pos : step);
			assert_int_equal(w.eight_bit, cases[i].eight_bit);
			assert_int_equal(w.eight_bit_header, cases[i].eight_bit_header);
			assert_int_equal(w.seen, len);
			assert_int_equal(w.dots, cases[i].dots);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_wire_scan_in_pieces),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_dot_line),
		cmocka_unit_test(test_bare_cr_and_nul),
		cmocka_unit_test(test_smuggling_stays_data),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_header_body),
		cmocka_unit_test(test_separator_added),
		cmocka_unit_test(test_eight_bit),
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_extract_forms),
		cmocka_unit_test(test_extract_bad),
		cmocka_unit_test(test_extract_cap),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_read_callback),
		cmocka_unit_test(test_read_cap),
		cmocka_unit_test(test_read_fd_and_file),
		cmocka_unit_test(test_add_date),
		cmocka_unit_test(test_add_message_id),
		cmocka_unit_test(test_add_from),
		cmocka_unit_test(test_has_header),
		cmocka_unit_test(test_property_round_trip),
		cmocka_unit_test(test_spooled_same_as_memory),
		cmocka_unit_test(test_spooled_add_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
