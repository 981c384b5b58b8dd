/*
 * grow.h - owned memory that changes: the one growth rule for arrays
 * filled from network input (room for element n, doubling from 4; the
 * callers keep their own caps), and the one way a setter replaces a
 * string it owns.
 */
#ifndef MX_GROW_H
#define MX_GROW_H

#include <stdbool.h>
#include <stddef.h>

#include "mx.h"

/* Makes room for element n of *array (realloc); false when out of memory,
 * with *array unchanged.  Elements are not zeroed. */
bool array_grow(void **array, size_t n, size_t size);

/* *slot becomes a copy of value (NULL clears it) and its old string is
 * freed; MX_ERR_NOMEM leaves *slot as it was. */
mx_err string_replace(char **slot, const char *value);

#endif
