/*
 * strbuf.c - the bounded appender (see strbuf.h): pieces added at the
 * end of a buffer the caller owns, cut visibly with "..." when they do
 * not fit.  No allocation, no I/O, no state outside the struct.
 */
#include <stdio.h>
#include <string.h>

#include "strbuf.h"

void
strbuf_init(struct strbuf *sb, char *buf, size_t size)
{
	sb->buf = buf;
	sb->size = size;
	sb->len = 0;
	sb->truncated = false;
	if (size > 0)
		buf[0] = '\0';
}

void
strbuf_resume(struct strbuf *sb, char *buf, size_t size)
{
	sb->buf = buf;
	sb->size = size;
	sb->len = size > 0 ? strnlen(buf, size - 1) : 0;
	sb->truncated = false;
	if (size > 0)
		buf[sb->len] = '\0';
}

/* Nothing more goes in: the text ends with the mark (after it when there
 * is room, else over its last bytes; as many dots as the buffer holds), so
 * a reader sees that something is missing. */
void
strbuf_truncate(struct strbuf *sb)
{
	size_t mark = sizeof(STRBUF_MARK) - 1, end;

	if (sb->truncated)
		return;
	sb->truncated = true;
	if (sb->size == 0)
		return;
	end = sb->len + mark < sb->size ? sb->len + mark : sb->size - 1;
	if (mark > end)
		mark = end;
	memcpy(sb->buf + end - mark, STRBUF_MARK, mark);
	sb->len = end;
	sb->buf[end] = '\0';
}

bool
strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	size_t room;
	int n;

	if (sb->truncated || sb->size == 0) {
		strbuf_truncate(sb);
		return false;
	}
	room = sb->size - sb->len;
	n = vsnprintf(sb->buf + sb->len, room, fmt, ap);
	if (n >= 0 && (size_t)n < room) {
		sb->len += (size_t)n;
		return true;
	}
	if (n < 0)
		sb->buf[sb->len] = '\0'; /* an encoding error: what was there stays */
	else
		sb->len = sb->size - 1; /* vsnprintf filled the room */
	strbuf_truncate(sb);
	return false;
}

bool
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return ok;
}

bool
strbuf_addn(struct strbuf *sb, const char *s, size_t n)
{
	size_t room;

	if (sb->truncated || sb->size == 0) {
		strbuf_truncate(sb);
		return false;
	}
	room = sb->size - 1 - sb->len;
	memcpy(sb->buf + sb->len, s, n < room ? n : room);
	sb->len += n < room ? n : room;
	sb->buf[sb->len] = '\0';
	if (n <= room)
		return true;
	strbuf_truncate(sb);
	return false;
}

bool
strbuf_add(struct strbuf *sb, const char *s)
{
	return strbuf_addn(sb, s, strlen(s));
}
