/*
 * grow.c - array growth for the parsers (see grow.h).  No other state.
 */
#include <stdlib.h>

#include "grow.h"

bool
array_grow(void **array, size_t n, size_t size)
{
	size_t cap = 4;
	void *p;

	while (cap < n)
		cap *= 2;
	if (n < cap && *array != NULL)
		return true;
	if (n == cap)
		cap *= 2;
	if ((p = realloc(*array, cap * size)) == NULL)
		return false;
	*array = p;
	return true;
}
