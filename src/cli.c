/*
 * cli.c - the small helpers every subcommand of `mx` shares: messages on
 * stderr, whole numbers and seconds from option values, and the
 * sysexits(3) code for a library error.  It calls nothing of the CLI's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"

/* The CLI's one piece of mutable state: what --plugin's UNKNOWN line says. */
static char last_warning[512];

void
cli_warn(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_warning, sizeof(last_warning), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mx %s: %s\n", cmd, last_warning);
}

const char *
cli_last_warning(void)
{
	return last_warning;
}

bool
cli_parse_shard(const char *s, struct cli_shard *out)
{
	char k[24];
	const char *slash = s ? strchr(s, '/') : NULL;
	unsigned long long kv, nv;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(k))
		return false;
	memcpy(k, s, (size_t)(slash - s));
	k[slash - s] = '\0';
	if (!cli_parse_uint(k, 1000000, &kv) || !cli_parse_uint(slash + 1, 1000000, &nv) ||
	    kv == 0 || kv > nv)
		return false;
	out->k = (unsigned long)kv;
	out->n = (unsigned long)nv;
	return true;
}

bool
cli_shard_mine(const struct cli_shard *shard, const char *key)
{
	uint64_t h = 14695981039346656037ull;

	if (shard->n == 0)
		return true;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h % shard->n == shard->k - 1;
}

void
cli_csv_field(FILE *to, const char *text, bool last)
{
	if (strpbrk(text, ",\"\r\n") == NULL) {
		fputs(text, to);
	} else {
		fputc('"', to);
		for (const char *p = text; *p; p++) {
			if (*p == '"')
				fputc('"', to);
			fputc(*p, to);
		}
		fputc('"', to);
	}
	fputc(last ? '\n' : ',', to);
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
