/*
 * strbuf.h - the one bounded appender every string built piece by piece
 * goes through (no `o += snprintf`, whose offset runs past the buffer the
 * moment one piece does not fit).  The caller owns the buffer; a strbuf
 * never allocates, never writes past size, and keeps the text
 * NUL-terminated.  What does not fit is cut visibly: the text then ends
 * with "..." and every later append is dropped.
 */
#ifndef MX_STRBUF_H
#define MX_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define STRBUF_MARK "..."

struct strbuf {
	char *buf;
	size_t size;    /* of buf, the NUL included */
	size_t len;     /* strlen(buf) */
	bool truncated; /* something was cut; buf ends with "..." */
};

/* buf[0] becomes '\0' (when size > 0); size 0 takes nothing at all. */
void strbuf_init(struct strbuf *sb, char *buf, size_t size);

/* Goes on after the text already in buf (NUL-terminated within size). */
void strbuf_resume(struct strbuf *sb, char *buf, size_t size);

/* Each returns true when the whole piece fit, false when it (or an earlier
 * one) was cut. */
bool strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
bool strbuf_add(struct strbuf *sb, const char *s);
bool strbuf_addn(struct strbuf *sb, const char *s, size_t n);

/* Cuts the text where it stands and marks it (for callers that stop on
 * a limit of their own). */
void strbuf_truncate(struct strbuf *sb);

/* One byte: inline, as name decoding (answer.c) adds names this way. */
static inline bool
strbuf_addc(struct strbuf *sb, char c)
{
	if (!sb->truncated && sb->len + 1 < sb->size) {
		sb->buf[sb->len++] = c;
		sb->buf[sb->len] = '\0';
		return true;
	}
	strbuf_truncate(sb);
	return false;
}

#endif
