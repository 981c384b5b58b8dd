/*
 * json.c - what the JSON writers (plan_json.c, send.c) share: strings,
 * escaped, with UTF-8 passed through, to a stream or a growing buffer.
 * Writes only to the stream or buffer given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
static size_t
utf8_length(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
	cp = s[0] & (0x7F >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

typedef void put_fn(void *sink, const char *s, size_t n);

/* The one escaper: writes str, quoted, through put. */
static void
escape(put_fn *put, void *sink, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	char esc[8];
	size_t n;

	put(sink, "\"", 1);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s++;
			put(sink, esc, 2);
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *s++);
			put(sink, esc, 6);
		} else if (*s < 0x80) {
			/* A run of plain ASCII goes in one piece: most of the output. */
			const unsigned char *run = s;
			while (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
				s++;
			put(sink, (const char *)run, (size_t)(s - run));
		} else if ((n = utf8_length(s)) > 0) {
			put(sink, (const char *)s, n);
			s += n;
		} else {
			put(sink, "\\ufffd", 6);
			s++;
		}
	}
	put(sink, "\"", 1);
}

static void
put_file(void *sink, const char *s, size_t n)
{
	fwrite(s, 1, n, sink);
}

void
json_string(FILE *f, const char *str)
{
	escape(put_file, f, str);
}

bool
json_buf_reserve(struct json_buf *b, size_t n)
{
	/*
	 * A plan line is a few hundred bytes (99 % under 1,000 in the bulk
	 * benchmark's world): one allocation for most, and under 1,009 bytes,
	 * where glibc's malloc first merges every freed small chunk
	 * (malloc_consolidate) whenever its per-thread cache is empty.
	 */
	size_t cap = b->cap ? b->cap : 1000;
	char *p;

	if (b->failed)
		return false;
	while (cap <= b->len + n)
		cap *= 2;
	if (cap == b->cap)
		return true;
	if ((p = realloc(b->data, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

char *
json_buf_end(struct json_buf *b)
{
	if (!json_buf_reserve(b, 0)) {
		free(b->data);
		b->data = NULL;
		return NULL;
	}
	b->data[b->len] = '\0';
	return b->data;
}

void
json_buf_puts(struct json_buf *b, const char *s)
{
	json_buf_put(b, s, strlen(s));
}

void
json_buf_uint(struct json_buf *b, unsigned long v)
{
	char digits[24], *p = digits + sizeof(digits);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	json_buf_put(b, p, (size_t)(digits + sizeof(digits) - p));
}

static void
put_buf(void *sink, const char *s, size_t n)
{
	json_buf_put(sink, s, n);
}

/* Plain printable ASCII, most of every line, is copied in one piece. */
void
json_buf_string(struct json_buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	/* 0x20 to 0x7e in one comparison: the loop every name goes through. */
	while ((unsigned char)(*s - 0x20) < 0x5f && *s != '"' && *s != '\\')
		s++;
	if (*s != '\0') {
		escape(put_buf, b, str);
		return;
	}
	n = (size_t)(s - (const unsigned char *)str);
	if (b->len + n + 2 >= b->cap && !json_buf_reserve(b, n + 2))
		return;
	b->data[b->len] = '"';
	memcpy(b->data + b->len + 1, str, n);
	b->data[b->len + n + 1] = '"';
	b->len += n + 2;
}
