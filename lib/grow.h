/*
 * grow.h - the one growth rule for arrays filled from network input:
 * room for element n, doubling from 4.  The callers keep their own caps.
 */
#ifndef MX_GROW_H
#define MX_GROW_H

#include <stdbool.h>
#include <stddef.h>

/* Makes room for element n of *array (realloc); false when out of memory,
 * with *array unchanged.  Elements are not zeroed. */
bool array_grow(void **array, size_t n, size_t size);

#endif
