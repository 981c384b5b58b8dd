/*
 * cli.c - the small helpers every subcommand of `mx` shares: messages on
 * stderr, whole numbers and seconds from option values, and the
 * sysexits(3) code for a library error.  It calls nothing of the CLI's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "cli.h"

void
cli_warn(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mx %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool
cli_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

bool
cli_parse_seconds(const char *s, unsigned max_ms, unsigned *out_ms)
{
	char *end;
	double v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || v * 1000.0 < 1.0 || v * 1000.0 > max_ms)
		return false;
	*out_ms = (unsigned)(v * 1000.0 + 0.5);
	return true;
}

/*
 * By the error's class, so that a new code needs no case here.  Every
 * permanent error libmx has is about data it was given (a domain, an
 * address, a message, a zone or queue file): EX_DATAERR, not
 * EX_UNAVAILABLE.
 */
int
cli_exit_for(mx_err err)
{
	switch (mx_err_classify(err)) {
	case MX_CLASS_NONE: return EX_OK;
	case MX_CLASS_TEMPORARY: return EX_TEMPFAIL;
	case MX_CLASS_PERMANENT: return EX_DATAERR;
	case MX_CLASS_USAGE: return EX_USAGE;
	case MX_CLASS_CONFIG: return EX_CONFIG;
	case MX_CLASS_NOT_FOUND: return EX_NOINPUT;
	}
	return EX_SOFTWARE;
}
