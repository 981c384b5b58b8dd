/*
 * json.h - shared helpers of the JSON writers.
 */
#ifndef MX_JSON_H
#define MX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/*
 * Writes s as a JSON string (RFC 8259) with its quotes.  Names from DNS
 * are ASCII by now (answer.c escapes other bytes); user input may be
 * UTF-8, which passes through, while bytes that are not UTF-8 become
 * U+FFFD so the line stays valid JSON.
 */
void json_string(FILE *f, const char *s);

/*
 * A growing text buffer for writers that build one line in memory (the
 * plan JSON, once per domain in --bulk): no stdio stream per line.  A
 * failed allocation sets failed and drops further output.  There is
 * always room for a NUL after len; json_buf_end writes it and hands
 * data over (the caller's to free), or frees it and returns NULL if an
 * allocation failed.
 */
struct json_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

/* Room for n more bytes and the NUL; false (and failed) if none. */
bool json_buf_reserve(struct json_buf *b, size_t n);
char *json_buf_end(struct json_buf *b);

/* Inline: a plan line is about seventy of these. */
static inline void
json_buf_put(struct json_buf *b, const char *s, size_t n)
{
	if (b->len + n >= b->cap && !json_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

/* A string literal: its length is known when compiling. */
#define JSON_BUF_LITERAL(b, lit) json_buf_put((b), "" lit, sizeof(lit) - 1)

void json_buf_puts(struct json_buf *b, const char *s);
void json_buf_uint(struct json_buf *b, unsigned long v);
/* json_string's rules, into a buffer. */
void json_buf_string(struct json_buf *b, const char *s);

#endif
