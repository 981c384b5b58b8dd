/*
 * fuzz_smtp_reply.c - libFuzzer target for lib/smtp_reply.c: a stream of
 * server bytes through the reply reader, every reply taken out, checked
 * and given to smtp_ehlo_parse.  Beyond crashes and leaks it aborts when
 * an invariant breaks: code range, enhanced code syntax and class, lines
 * joined are the text, no CR, LF or NUL inside, the line, line count and
 * octet bounds, the reader's memory bound, consumption (all of a chunk
 * unless a reply ended or an error came), and that the chunked run reads
 * exactly what a single feed of the whole stream reads.
 *
 * Deterministic.  The input's first byte, low 3 bits, is k; the next k
 * bytes are chunk sizes, used in turn (0: the rest at once); k = 0 feeds
 * the stream whole.  The rest is the stream.  Seeds in
 * fuzz/corpus/smtp_reply mostly start "\x01\x01" (byte by byte).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

#define CHUNK_SIZES_MAX 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_smtp_reply: invariant broken: %s%s%s\n", what, detail ? ": " : "",
	    detail ? detail : "");
	abort();
}

#define CHECK(cond, detail)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			broken(#cond, (detail));                                                   \
	} while (0)

/* What one run read, summed up so that two runs can be compared. */
struct pass {
	uint64_t hash;
	size_t consumed;
	size_t replies;
	enum smtp_reply_state state;
	const char *why;
};

static void
mix(struct pass *p, const void *bytes, size_t n)
{
	const uint8_t *b = bytes;

	for (size_t i = 0; i < n; i++)
		p->hash = (p->hash ^ b[i]) * 0x100000001b3ull;
}

/* RFC 3463 2: class "." 1*3digit "." 1*3digit, the class the code's. */
static bool
valid_enhanced(const char *e, unsigned code)
{
	size_t n;

	if (e[0] == '\0')
		return true;
	if (e[0] != (char)('0' + code / 100) || strchr("245", e[0]) == NULL || e[1] != '.')
		return false;
	e += 2;
	n = strspn(e, "0123456789");
	if (n < 1 || n > 3 || e[n] != '.')
		return false;
	e += n + 1;
	n = strspn(e, "0123456789");
	return n >= 1 && n <= 3 && e[n] == '\0';
}

static void
check_reply(const struct smtp_reply *rep)
{
	const char *t = rep->text;
	size_t len;

	CHECK(rep->code >= 200 && rep->code <= 599, NULL);
	CHECK(rep->code / 10 % 10 <= 5, NULL);
	CHECK(memchr(rep->enhanced, 0, sizeof(rep->enhanced)) != NULL, NULL);
	CHECK(valid_enhanced(rep->enhanced, rep->code), rep->enhanced);
	CHECK(rep->text != NULL && rep->lines != NULL, NULL);
	CHECK(rep->n_lines >= 1 && rep->n_lines <= SMTP_REPLY_MAX_LINES, NULL);
	CHECK(rep->lines[rep->n_lines] == NULL, NULL);
	len = strlen(rep->text);
	CHECK(len < SMTP_REPLY_MAX_OCTETS, NULL);
	CHECK(strchr(rep->text, '\r') == NULL, rep->text);
	for (size_t i = 0; i < rep->n_lines; i++) {
		size_t n = strlen(rep->lines[i]);
		CHECK(n <= SMTP_REPLY_LINE_MAX - 6, rep->lines[i]);
		CHECK(memchr(rep->lines[i], '\n', n) == NULL, rep->lines[i]);
		CHECK(memcmp(t, rep->lines[i], n) == 0, rep->lines[i]);
		t += n;
		CHECK(*t == (i + 1 < rep->n_lines ? '\n' : '\0'), rep->text);
		t++;
	}
}

static void
check_ehlo(const struct smtp_reply *rep, struct pass *p)
{
	struct smtp_ehlo e;
	bool ok = smtp_ehlo_parse(rep, &e);

	CHECK(ok == (rep->code == 250), NULL);
	CHECK(e.has_size || e.size == 0, NULL);
	if (!ok)
		CHECK(!e.pipelining && !e.eightbitmime && !e.smtputf8 && !e.starttls &&
			!e.enhancedstatuscodes && !e.chunking && !e.has_size,
		    NULL);
	if (ok && rep->n_lines == 1)
		CHECK(!e.pipelining && !e.starttls && !e.has_size, NULL);
	mix(p, &e, sizeof(e));
}

static void
take_one(struct smtp_reply_reader *r, struct pass *p)
{
	struct smtp_reply rep;
	int classes;

	if (smtp_reply_take(r, &rep) != MX_OK)
		broken("smtp_reply_take", "failed on a DONE reader");
	CHECK(smtp_reply_state(r) == SMTP_REPLY_INCOMPLETE && r->text == NULL, NULL);
	check_reply(&rep);
	classes = smtp_reply_positive(&rep) + smtp_reply_intermediate(&rep) +
	    smtp_reply_temporary(&rep) + smtp_reply_permanent(&rep);
	CHECK(classes == 1, NULL);
	mix(p, &rep.code, sizeof(rep.code));
	mix(p, rep.enhanced, sizeof(rep.enhanced));
	mix(p, rep.text, strlen(rep.text) + 1);
	mix(p, &rep.n_lines, sizeof(rep.n_lines));
	check_ehlo(&rep, p);
	smtp_reply_clear(&rep);
	p->replies++;
}

static void
check_reader(const struct smtp_reply_reader *r)
{
	CHECK(r->text_cap <= SMTP_REPLY_MAX_OCTETS, NULL);
	CHECK(r->text == NULL || r->text_len < r->text_cap, NULL);
	CHECK(r->line_octets <= SMTP_REPLY_LINE_MAX, NULL);
	CHECK(r->reply_octets <= SMTP_REPLY_MAX_OCTETS + 1, NULL);
	CHECK(r->n_lines <= SMTP_REPLY_MAX_LINES, NULL);
	CHECK((smtp_reply_why(r) != NULL) == (smtp_reply_state(r) == SMTP_REPLY_ERROR), NULL);
}

/* Feeds one chunk; returns false once the reader failed. */
static bool
feed_chunk(struct smtp_reply_reader *r, const uint8_t *chunk, size_t len, struct pass *p)
{
	size_t used = 0;

	while (used < len) {
		size_t n = smtp_reply_feed(r, chunk + used, len - used);
		CHECK(n <= len - used, NULL);
		used += n;
		p->consumed += n;
		check_reader(r);
		switch (smtp_reply_state(r)) {
		case SMTP_REPLY_DONE: take_one(r, p); break;
		case SMTP_REPLY_ERROR:
			CHECK(n > 0, "an ERROR that consumed nothing");
			CHECK(smtp_reply_feed(r, chunk, len) == 0, NULL);
			return false;
		case SMTP_REPLY_INCOMPLETE: CHECK(used == len, "INCOMPLETE but bytes left"); break;
		}
	}
	return true;
}

static void
run(const uint8_t *stream, size_t len, const uint8_t *sizes, size_t n_sizes, struct pass *p)
{
	struct smtp_reply_reader r;
	size_t pos = 0;

	memset(p, 0, sizeof(*p));
	p->hash = 0xcbf29ce484222325ull;
	smtp_reply_reader_init(&r);
	for (size_t i = 0; pos < len; i++) {
		size_t chunk = n_sizes ? sizes[i % n_sizes] : 0;
		if (chunk == 0 || chunk > len - pos)
			chunk = len - pos;
		if (!feed_chunk(&r, stream + pos, chunk, p))
			break;
		pos += chunk;
	}
	p->state = smtp_reply_state(&r);
	p->why = smtp_reply_why(&r);
	/* A reply cut off mid-way is released here (leak check). */
	smtp_reply_reader_clear(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t k = size > 0 ? data[0] & CHUNK_SIZES_MAX : 0;
	struct pass chunked, whole;

	if (size < 1 + k)
		return 0;
	run(data + 1 + k, size - 1 - k, data + 1, k, &chunked);
	run(data + 1 + k, size - 1 - k, NULL, 0, &whole);
	CHECK(chunked.state == whole.state, NULL);
	CHECK(chunked.why == whole.why, chunked.why);
	CHECK(chunked.consumed == whole.consumed, NULL);
	CHECK(chunked.replies == whole.replies, NULL);
	CHECK(chunked.hash == whole.hash, NULL);
	CHECK(chunked.state == SMTP_REPLY_ERROR || chunked.consumed == size - 1 - k, NULL);
	return 0;
}
