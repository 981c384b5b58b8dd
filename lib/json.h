/*
 * json.h - shared helpers of the JSON writers.
 */
#ifndef MX_JSON_H
#define MX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
 * failed allocation sets failed and drops further output; data is NUL
 * terminated and the caller's to free.
 */
struct json_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

void json_buf_put(struct json_buf *b, const char *s, size_t n);
void json_buf_puts(struct json_buf *b, const char *s);
void json_buf_uint(struct json_buf *b, unsigned long v);
/* json_string's rules, into a buffer. */
void json_buf_string(struct json_buf *b, const char *s);

#endif
