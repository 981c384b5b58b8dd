/*
 * fuzz_message.c - libFuzzer target for lib/message.c and lib/address.c:
 * the bytes are a message on standard input, parsed four ways (with and
 * without -i, with and without -t), once more under a cap of half their
 * size, and once more read through message_read in small chunks (sizes
 * taken from the bytes), which must give the same result as
 * message_parse.  The bytes also go to address_parse_bytes (both roles)
 * and address_list_parse.  Beyond crashes and leaks it aborts when an
 * invariant breaks:
 *   - data: no NUL, every LF after a CR and every CR before an LF, empty
 *     or ending in CRLF, every line that begins with "." begins with "..",
 *     no line over 998 octets before stuffing, size = len - stuffing dots;
 *   - undoing the stuffing and CRLF gives the input back (cut at the "."
 *     line without -i, LF added at the end, the added empty line taken
 *     out), and -t gives the same as without it, Bcc fields taken out;
 *   - header_len, body_offset and the 8-bit flags agree with data;
 *   - recipients parse again to themselves, no two alike, under the cap;
 *   - failures are MALFORMED or TOO_BIG (with a sentence), TOO_BIG only
 *     over the cap, and the same failure whichever way the bytes come in;
 *   - message_add_date/_message_id/_from keep the layout consistent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "address.h"
#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_message: invariant broken: %s%s%s\n", what, detail ? ": " : "",
	    detail ? detail : "");
	abort();
}

#define CHECK(cond, detail)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			broken(#cond, (detail));                                                   \
	} while (0)

/* ---- layout ------------------------------------------------------------ */

static void
check_layout(const struct message *m)
{
	const char *d = m->data;
	size_t stuffed = 0, line_start = 0;
	bool high = false, high_header = false;

	CHECK(d != NULL && d[m->len] == '\0', NULL);
	CHECK(strlen(d) == m->len, "NUL inside data");
	CHECK(m->len == 0 || (m->len >= 2 && d[m->len - 2] == '\r' && d[m->len - 1] == '\n'), d);
	for (size_t i = 0; i < m->len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '\n')
			CHECK(i > 0 && d[i - 1] == '\r', "bare LF");
		if (c == '\r')
			CHECK(i + 1 < m->len && d[i + 1] == '\n', "bare CR");
		high |= c >= 0x80;
		high_header |= c >= 0x80 && i < m->header_len;
		if (i != line_start)
			continue;
		if (c == '.') {
			CHECK(i + 1 < m->len && d[i + 1] == '.', "dot not stuffed");
			stuffed++;
		}
		line_start = (size_t)(strstr(d + i, "\r\n") - d) + 2;
		CHECK(line_start - i - 2 <= MESSAGE_LINE_MAX + (c == '.'), "line too long");
	}
	CHECK(m->size == m->len - stuffed, NULL);
	CHECK(high == m->eight_bit && high_header == m->eight_bit_header, NULL);
	CHECK(m->header_len <= m->body_offset && m->body_offset <= m->len, NULL);
	CHECK(m->header_len == 0 || strncmp(d + m->header_len - 2, "\r\n", 2) == 0, NULL);
	if (m->body_offset == m->header_len)
		CHECK(m->body_offset == m->len && !m->separator_added, NULL);
	else
		CHECK(m->body_offset == m->header_len + 2 &&
			strncmp(d + m->header_len, "\r\n", 2) == 0,
		    NULL);
}

/* ---- the input back ---------------------------------------------------- */

/* The input as the message should hold it: cut at the "." line, CR gone
 * (success means every CR was part of a CRLF), LF at the end. */
static char *
expected_text(const uint8_t *in, size_t len, bool dot_is_content, size_t *out_len)
{
	char *e = malloc(len + 2);
	size_t o = 0, line = 0;

	if (e == NULL)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (!dot_is_content && i == line && in[i] == '.' &&
		    (i + 1 == len || in[i + 1] == '\n' ||
			(in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n')))
			break;
		if (in[i] == '\n')
			line = i + 1;
		if (in[i] != '\r')
			e[o++] = (char)in[i];
	}
	if (o > 0 && e[o - 1] != '\n')
		e[o++] = '\n';
	*out_len = o;
	return e;
}

/* data with the stuffing and the added empty line undone, CRLF as LF. */
static char *
unstuffed_text(const struct message *m, size_t *out_len)
{
	char *u = malloc(m->len + 1);
	size_t o = 0;

	if (u == NULL)
		abort();
	for (size_t i = 0; i < m->len; i++) {
		if (m->separator_added && i == m->header_len) {
			i++;
			continue;
		}
		if ((i == 0 || m->data[i - 1] == '\n') && m->data[i] == '.')
			i++;
		if (m->data[i] != '\r')
			u[o++] = m->data[i];
	}
	*out_len = o;
	return u;
}

static void
check_round_trip(const struct message *m, const uint8_t *in, size_t len, bool dot)
{
	size_t el, ul;
	char *e = expected_text(in, len, dot, &el), *u = unstuffed_text(m, &ul);

	CHECK(el == ul && memcmp(e, u, el) == 0, "round trip");
	free(e);
	free(u);
}

/* The message without -t, Bcc fields taken out of its header. */
static void
check_bcc_removed(const struct message *plain, const struct message *t)
{
	char *want = malloc(plain->len + 1);
	size_t o = 0, pos = 0;
	bool drop = false;

	if (want == NULL)
		abort();
	while (pos < plain->len) {
		const char *line = plain->data + pos;
		size_t l = (size_t)(strstr(line, "\r\n") - line) + 2;
		if (pos < plain->header_len && line[0] != ' ' && line[0] != '\t')
			drop = strncasecmp(line, "bcc", 3) == 0 && strspn(line + 3, " \t") < l &&
			    line[3 + strspn(line + 3, " \t")] == ':';
		if (pos >= plain->header_len)
			drop = false;
		if (!drop) {
			memcpy(want + o, line, l);
			o += l;
		}
		pos += l;
	}
	CHECK(o == t->len && memcmp(want, t->data, o) == 0, "-t changed more than Bcc");
	CHECK(o == plain->len || t->bcc_removed, NULL);
	CHECK(plain->len - t->len == plain->header_len - t->header_len, NULL);
	free(want);
}

/* ---- recipients -------------------------------------------------------- */

static void
check_recipients(const struct address_list *list)
{
	CHECK(list->n_items + list->n_bad <= MESSAGE_RECIPIENTS_MAX, NULL);
	for (size_t i = 0; i < list->n_items; i++) {
		const struct address *a = &list->items[i];
		struct address again;
		CHECK(!a->null && strlen(a->path) <= ADDRESS_PATH_MAX, a->path);
		CHECK(address_parse(a->path, &again, NULL) == MX_OK, a->path);
		CHECK(address_same(a, &again) && again.smtputf8 == a->smtputf8, a->path);
		for (size_t j = 0; j < i; j++)
			CHECK(!address_same(a, &list->items[j]), a->path);
	}
	for (size_t i = 0; i < list->n_bad; i++) {
		const struct address_bad *b = &list->bad[i];
		CHECK(b->why != NULL && b->why[0] != '\0', b->text);
		CHECK(strlen(b->text) <= ADDRESS_BAD_TEXT_MAX + 3, NULL);
		for (const char *c = b->text; *c != '\0'; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f, b->text);
	}
}

static void
check_address(const uint8_t *in, size_t len)
{
	struct address a, again;
	struct address_list list = { 0 };
	const char *why;

	if (len > ADDRESS_INPUT_MAX + 8)
		len = ADDRESS_INPUT_MAX + 8;
	for (int role = 0; role < 2; role++) {
		why = NULL;
		if (address_parse_bytes((const char *)in, len, (address_role)role, &a, &why) !=
		    MX_OK) {
			CHECK(why != NULL && a.path[0] == '\0', NULL);
			continue;
		}
		CHECK(why == NULL && a.path[0] == '<', a.path);
		CHECK(strlen(a.local) <= ADDRESS_LOCAL_MAX && strlen(a.path) <= ADDRESS_PATH_MAX,
		    a.path);
		CHECK(strpbrk(a.path, "\r\n\t") == NULL, a.path);
		CHECK(address_parse_bytes(
			  a.path, strlen(a.path), (address_role)role, &again, NULL) == MX_OK &&
			strcmp(a.path, again.path) == 0,
		    a.path);
		CHECK(a.null == (strcmp(a.path, "<>") == 0) && (!a.null || role == 1), a.path);
	}
	if (address_list_parse((const char *)in, len, 50, &list) == MX_OK)
		check_recipients(&list);
	address_list_clear(&list);
}

/* ---- runs -------------------------------------------------------------- */

struct chunks {
	const uint8_t *in, *steer;
	size_t len, pos, turn, steer_len;
};

static ssize_t
read_chunks(void *ctx, void *buf, size_t n)
{
	struct chunks *c = ctx;
	size_t want = c->steer_len ? (size_t)(c->steer[c->turn++ % c->steer_len] % 13) + 1 : 1;

	if (want > n)
		want = n;
	if (want > c->len - c->pos)
		want = c->len - c->pos;
	if (want > 0)
		memcpy(buf, c->in + c->pos, want);
	c->pos += want;
	return (ssize_t)want;
}

static void
check_same(const struct message *a, message_err ea, const struct message *b, message_err eb)
{
	CHECK(ea == eb, "message_read and message_parse disagree");
	if (ea != MESSAGE_OK)
		return;
	CHECK(a->len == b->len && memcmp(a->data, b->data, a->len) == 0, NULL);
	CHECK(a->header_len == b->header_len && a->body_offset == b->body_offset, NULL);
	CHECK(a->size == b->size && a->eight_bit == b->eight_bit, NULL);
	CHECK(a->recipients.n_items == b->recipients.n_items, NULL);
	CHECK(a->recipients.n_bad == b->recipients.n_bad, NULL);
}

static void
check_failure(message_err e, const struct message *m, const struct message_error *err)
{
	CHECK(m == NULL, NULL);
	CHECK(
	    e == MESSAGE_ERR_MALFORMED || e == MESSAGE_ERR_TOO_BIG || e == MESSAGE_ERR_NOMEM, NULL);
	CHECK(err->code == e && err->why[0] != '\0', NULL);
	CHECK(memchr(err->why, '\0', sizeof(err->why)) != NULL, NULL);
}

static void
check_added(struct message *m)
{
	struct address from;
	struct message_error err;

	if (address_parse_sender("sender@example.test", &from, NULL) != MX_OK)
		broken("address_parse_sender", NULL);
	if (message_add_date(m, 1700000000, &err) != MESSAGE_OK ||
	    message_add_message_id(m, "host.example.test", 1700000000, &err) != MESSAGE_OK ||
	    message_add_from(m, &from, &err) != MESSAGE_OK)
		return;
	check_layout(m);
	CHECK(message_has_header(m, "date") && message_has_header(m, "message-id") &&
		message_has_header(m, "FROM"),
	    NULL);
}

/* The streaming reader writes the same payload to its file. */
static void
check_spooled(const struct message *a, message_err ea, const uint8_t *data, size_t size,
    const struct message_options *opt)
{
	struct chunks ch = { data, data, size, 0, 0, size > 16 ? 16 : size };
	struct message *s = NULL;
	message_err es = message_read_spooled(read_chunks, &ch, opt, &s, NULL);
	char *w;

	CHECK(es == ea, "message_read_spooled and message_parse disagree");
	if (es == MESSAGE_OK) {
		CHECK(s->len == 0 && s->file_len == a->len, NULL);
		if ((w = malloc(a->len + 1)) != NULL) {
			CHECK(pread(s->fd, w, a->len, 0) == (ssize_t)a->len, NULL);
			CHECK(memcmp(w, a->data, a->len) == 0, "spooled payload differs");
			free(w);
		}
		CHECK(s->header_len == a->header_len && s->body_offset == a->body_offset, NULL);
		CHECK(s->size == a->size && s->eight_bit == a->eight_bit, NULL);
		CHECK(s->eight_bit_header == a->eight_bit_header, NULL);
		CHECK(s->recipients.n_items == a->recipients.n_items, NULL);
		CHECK(s->recipients.n_bad == a->recipients.n_bad, NULL);
	}
	message_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct message *m[4] = { NULL }, *c = NULL;
	struct message_error err, err2;
	message_err e[4], ec;

	for (int mode = 0; mode < 4; mode++) {
		struct message_options opt = { .dot_is_content = mode & 1,
			.extract_recipients = (mode & 2) != 0 };
		struct chunks ch = { data, data, size, 0, 0, size > 16 ? 16 : size };
		e[mode] = message_parse(in, size, &opt, &m[mode], &err);
		ec = message_read(read_chunks, &ch, &opt, &c, &err2);
		check_same(m[mode], e[mode], c, ec);
		check_spooled(m[mode], e[mode], data, size, &opt);
		message_free(c);
		c = NULL;
		if (e[mode] != MESSAGE_OK) {
			check_failure(e[mode], m[mode], &err);
			CHECK(e[mode] != MESSAGE_ERR_TOO_BIG, "too big under the default cap");
			continue;
		}
		check_layout(m[mode]);
		check_recipients(&m[mode]->recipients);
		if (!opt.extract_recipients) {
			CHECK(m[mode]->recipients.n_items == 0 && !m[mode]->bcc_removed, NULL);
			check_round_trip(m[mode], data, size, opt.dot_is_content);
		} else if (e[mode & 1] == MESSAGE_OK) {
			check_bcc_removed(m[mode & 1], m[mode]);
		}
	}
	if (e[1] == MESSAGE_OK && size > 1) {
		struct message_options opt = { .dot_is_content = true, .max_size = size / 2 };
		CHECK(message_parse(in, size, &opt, &c, &err) == MESSAGE_ERR_TOO_BIG, NULL);
		CHECK(strstr(err.why, "message larger than") == err.why, err.why);
		check_failure(MESSAGE_ERR_TOO_BIG, c, &err);
	}
	if (e[0] == MESSAGE_OK)
		check_added(m[0]);
	for (int mode = 0; mode < 4; mode++)
		message_free(m[mode]);
	check_address(data, size);
	return 0;
}
