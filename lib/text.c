/*
 * text.c - the string store of text.h: a list of chunks, each filled
 * from its start and never moved or grown.  A chunk doubles the size of
 * the one before (from TEXT_FIRST up to TEXT_MAX bytes, all below glibc's
 * 1032-byte tcache limit and its 1,009-byte large-request threshold), so a plan or an answer with a few short names
 * costs one small block; a string longer than that gets a chunk of its
 * own.  No other state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define TEXT_FIRST 128  /* bytes of the first chunk, header included */
#define TEXT_MAX 1000   /* bytes of the largest shared chunk: under 1,009, where
                         * glibc's malloc would merge its free lists first */
#define TEXT_PRINTF_MAX 1024

struct text_chunk {
	struct text_chunk *next;
	size_t used, size;    /* bytes of data[] used and in all */
	char data[];
};

/* A chunk with room for need bytes, the head of the list. */
static struct text_chunk *
chunk_new(struct text_store *store, size_t need)
{
	size_t block = store->head == NULL ? TEXT_FIRST : 2 * (store->head->size +
	    sizeof(struct text_chunk));
	struct text_chunk *c;

	if (block > TEXT_MAX)
		block = TEXT_MAX;
	if (block - sizeof(*c) < need)
		block = sizeof(*c) + need;
	if ((c = malloc(block)) == NULL)
		return NULL;
	c->used = 0;
	c->size = block - sizeof(*c);
	c->next = store->head;
	store->head = c;
	return c;
}

const char *
text_add(struct text_store *store, const char *s, size_t len)
{
	struct text_chunk *c = store->head;
	char *out;

	if (len == 0)
		return "";
	if (c == NULL || c->size - c->used < len + 1) {
		/* A long string in a chunk of its own keeps the head's room. */
		if (c != NULL && len + 1 > TEXT_MAX / 2 && (c = malloc(sizeof(*c) + len + 1)) != NULL) {
			c->used = 0;
			c->size = len + 1;
			c->next = store->head->next;
			store->head->next = c;
		} else if ((c = chunk_new(store, len + 1)) == NULL) {
			return NULL;
		}
	}
	out = c->data + c->used;
	memcpy(out, s, len);
	out[len] = '\0';
	c->used += len + 1;
	return out;
}

const char *
text_copy(struct text_store *store, const char *s)
{
	return text_add(store, s, strlen(s));
}

const char *
text_printf(struct text_store *store, size_t cap, const char *fmt, ...)
{
	char buf[TEXT_PRINTF_MAX];
	va_list ap;
	int n;

	if (cap == 0)
		return "";
	if (cap > sizeof(buf))
		cap = sizeof(buf);
	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	return text_add(store, buf, (size_t)n < cap ? (size_t)n : cap - 1);
}

void
text_store_free(struct text_store *store)
{
	struct text_chunk *c = store->head, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	store->head = NULL;
}
