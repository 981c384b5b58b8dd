/*
 * text.h - a small store of strings owned by one object (a plan, an
 * answer): copies go into chunks that never move, so a pointer into the
 * store stays valid until text_store_free, and the owner's struct holds
 * `const char *` fields instead of fixed buffers sized for the longest
 * escaped name.  Chunks stay under glibc's tcache limit except for the
 * rare string that is longer by itself.  The store also hands out
 * aligned blocks (text_alloc) for an owner's small arrays, and may start
 * in a buffer of the owner's own (text_store_init), so that an object,
 * its text and its arrays are one allocation.
 */
#ifndef MX_TEXT_H
#define MX_TEXT_H

#include <stddef.h>

struct text_chunk;

/* Zeroed is empty; moving the struct by value keeps its strings valid. */
struct text_store {
	struct text_chunk *head;
};

/* Bytes of a chunk's header: a buffer given to text_store_init holds
 * size - TEXT_CHUNK_HEADER bytes of text and blocks. */
#define TEXT_CHUNK_HEADER 32

/*
 * An empty store whose first chunk is buf (size bytes, aligned for any
 * object, at least TEXT_CHUNK_HEADER + 16), owned by the caller: the
 * store never frees it.
 */
void text_store_init(struct text_store *store, void *buf, size_t size);
/* size bytes aligned for any object of the library's (8), uninitialised,
 * valid until text_store_free; NULL when out of memory (or size is 0). */
void *text_alloc(struct text_store *store, size_t size);

/* A copy of the len bytes at s, NUL added; NULL when out of memory.  The
 * empty string is a static "" (nothing allocated). */
const char *text_add(struct text_store *store, const char *s, size_t len);
/* A copy of s whole. */
const char *text_copy(struct text_store *store, const char *s);
/* What snprintf would write into a char[cap] (cap at most 1024); NULL
 * when out of memory. */
const char *text_printf(struct text_store *store, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Frees every string and block of the store; it is empty again (a buffer
 * given to text_store_init is left alone and no longer used). */
void text_store_free(struct text_store *store);

#endif
