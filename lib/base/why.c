/*
 * why.c - writes the caller's mx_why.  A bounded vsnprintf into the
 * caller's own buffer: no heap, no state kept here.
 */
#include <stdarg.h>
#include <stdio.h>

#include "why.h"

void
why_clear(mx_why *why)
{
	if (why != NULL)
		why->text[0] = '\0';
}

static void
why_vset(mx_why *why, const char *fmt, va_list ap)
{
	if (vsnprintf(why->text, sizeof(why->text), fmt, ap) < 0)
		why->text[0] = '\0';
}

mx_err
why_set(mx_why *why, mx_err err, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL)
		return err;
	va_start(ap, fmt);
	why_vset(why, fmt, ap);
	va_end(ap);
	return err;
}

mx_err
why_first(mx_why *why, mx_err err, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why->text[0] != '\0')
		return err;
	va_start(ap, fmt);
	why_vset(why, fmt, ap);
	va_end(ap);
	return err;
}
