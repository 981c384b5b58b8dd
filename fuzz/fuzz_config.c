/*
 * fuzz_config.c - libFuzzer target for src/config.c, the /etc/mx.conf
 * parser: the bytes are a configuration file read against `mx queue`'s
 * options, with one command-line option present (so the "command line
 * wins" path runs).  Beyond crashes and leaks it aborts when an invariant
 * breaks: every value handed on is a NUL-terminated string without a line
 * break, within the line cap, only for options that take one; options
 * without values get NULL; a setting the command line gives is never
 * handed on; each value comes with its "FILE:LINE"; a refused value is
 * EX_CONFIG; and parsing the same bytes twice gives the same result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "config_syntax.h"
#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The CLI's message helper, silenced: config.c reports through it. */
void
cli_warn(const char *cmd, const char *fmt, ...)
{
	(void)cmd;
	(void)fmt;
}

static const struct option longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "watch", no_argument, NULL, 'w' },
	{ "interval", required_argument, NULL, 'I' },
	{ "help", no_argument, NULL, 'h' },
	DELIVERY_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

struct seen {
	unsigned calls;
	unsigned long sum;
};

static int
apply(void *ctx, int opt, const char *value, const char *where)
{
	struct seen *s = ctx;

	/* Every setting says where it comes from, for its messages. */
	if (where == NULL || strncmp(where, "fuzz.conf:", 10) != 0)
		abort();

	s->calls++;
	s->sum = s->sum * 31 + (unsigned)opt;
	if (opt == 'r') /* --resolver is on the command line below */
		abort();
	for (const struct option *o = longopts; o->name; o++) {
		if (o->val != opt)
			continue;
		if ((o->has_arg == no_argument) != (value == NULL))
			abort();
		if (value != NULL && (strlen(value) > 1024 || strpbrk(value, "\r\n")))
			abort();
		if (value != NULL)
			for (const char *p = value; *p; p++)
				s->sum = s->sum * 31 + (unsigned char)*p;
		return (opt == 'I' && value[0] == '9') ? EX_USAGE : EX_OK;
	}
	abort(); /* an option the table does not have */
}

/* config_parse cuts values in place and may write one octet past len. */
static int
parse_copy(const uint8_t *data, size_t size, struct seen *s)
{
	char *argv[] = { "queue", "--resolver=127.0.0.1", NULL };
	char *text = malloc(size + 1);
	int rc;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	rc = config_parse(text, size, "fuzz.conf", "queue", longopts, NULL, 2, argv, apply, s);
	free(text);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a = { 0 }, b = { 0 };
	int ra = parse_copy(data, size, &a);
	int rb = parse_copy(data, size, &b);

	if (ra != rb || a.calls != b.calls || a.sum != b.sum)
		abort();
	/* A fault of the file is EX_CONFIG, a value refused included: never
	 * the command line's EX_USAGE (mx(1), EXIT STATUS). */
	if (ra != EX_OK && ra != EX_CONFIG)
		abort();
	return 0;
}
