/*
 * text.c - the string store of text.h: a list of chunks, each filled
 * from its start and never moved or grown.  A chunk doubles the size of
 * the one before (from TEXT_FIRST up to TEXT_MAX bytes, all below glibc's
 * 1032-byte tcache limit and its 1,009-byte large-request threshold), so a
 * plan or an answer with a few short names costs one small block; a
 * string or block longer than half that gets a chunk of its own.  The
 * first chunk may be the owner's (text_store_init).  No other state.
 */
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define TEXT_FIRST 128 /* bytes of the first chunk, header included */
#define TEXT_MAX                                                                                   \
	1000 /* bytes of the largest shared chunk: under 1,009, where
                         * glibc's malloc would merge its free lists first */
#define TEXT_PRINTF_MAX 1024

#define TEXT_ALIGN 8 /* of text_alloc's blocks: pointers, sizes, uint64_t */

struct text_chunk {
	struct text_chunk *next;
	size_t used, size; /* bytes of data[] used and in all */
	bool borrowed;     /* the owner's buffer (text_store_init): not freed */
	alignas(16) char data[];
};

_Static_assert(sizeof(struct text_chunk) == TEXT_CHUNK_HEADER, "text.h's header size");

void
text_store_init(struct text_store *store, void *buf, size_t size)
{
	struct text_chunk *c = buf;

	c->next = NULL;
	c->used = 0;
	c->size = size - sizeof(*c);
	c->borrowed = true;
	store->head = c;
}

/* A chunk with room for need bytes, the head of the list. */
static struct text_chunk *
chunk_new(struct text_store *store, size_t need)
{
	size_t block =
	    store->head == NULL ? TEXT_FIRST : 2 * (store->head->size + sizeof(struct text_chunk));
	struct text_chunk *c;

	if (block > TEXT_MAX)
		block = TEXT_MAX;
	if (block - sizeof(*c) < need)
		block = sizeof(*c) + need;
	if ((c = malloc(block)) == NULL)
		return NULL;
	c->used = 0;
	c->size = block - sizeof(*c);
	c->borrowed = false;
	c->next = store->head;
	store->head = c;
	return c;
}

/*
 * n bytes at an offset that is a multiple of align (1 or TEXT_ALIGN) in
 * some chunk.  A long request gets a chunk of its own, behind the head,
 * which keeps its room.
 */
static char *
take(struct text_store *store, size_t n, size_t align)
{
	struct text_chunk *c = store->head;
	size_t at = c != NULL ? (c->used + align - 1) & ~(align - 1) : 0;

	if (c == NULL || at > c->size || c->size - at < n) {
		if (c != NULL && n > TEXT_MAX / 2 && (c = malloc(sizeof(*c) + n)) != NULL) {
			c->used = 0;
			c->size = n;
			c->borrowed = false;
			c->next = store->head->next;
			store->head->next = c;
		} else if ((c = chunk_new(store, n)) == NULL) {
			return NULL;
		}
		at = 0;
	}
	c->used = at + n;
	return c->data + at;
}

const char *
text_add(struct text_store *store, const char *s, size_t len)
{
	char *out;

	if (len == 0)
		return "";
	if ((out = take(store, len + 1, 1)) == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

void *
text_alloc(struct text_store *store, size_t size)
{
	return size == 0 ? NULL : take(store, size, TEXT_ALIGN);
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
		if (!c->borrowed)
			free(c);
	}
	store->head = NULL;
}
