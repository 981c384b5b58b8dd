/*
 * grow.c - array growth for the parsers and string replacement for the
 * setters (see grow.h).  No other state.
 */
#include <stdlib.h>
#include <string.h>

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

mx_err
string_replace(char **slot, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return MX_ERR_NOMEM;
	free(*slot);
	*slot = copy;
	return MX_OK;
}
