/*
 * main.c - the `mx` command: dispatches to one subcommand per file
 * (route.c, send.c, queue.c, check.c) and holds the small helpers they
 * share.  Everything that knows about mail lives in libmx.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*run)(int, char **);
	const char *summary;
} commands[] = {
	{"route", cmd_route, "print the delivery plan of mail domains"},
	{"send", cmd_send, "deliver a message from standard input (sendmail)"},
	{"queue", cmd_queue, "list, run, flush or delete the queue of deferred mail"},
	{"check", cmd_check, "diagnose how a domain receives mail (live or a zone file)"},
};

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

int
cli_exit_for(mx_err err)
{
	switch (err) {
	case MX_OK: return EX_OK;
	case MX_ERR_INVALID: return EX_USAGE;
	case MX_ERR_BAD_DOMAIN: return EX_DATAERR;
	case MX_ERR_CONFIG: return EX_CONFIG;
	case MX_ERR_NOMEM: case MX_ERR_SYSTEM: return EX_OSERR;
	case MX_ERR_BUSY: return EX_SOFTWARE;
	}
	return EX_SOFTWARE;
}

static void
usage(FILE *to)
{
	fprintf(to, "usage: mx COMMAND [OPTIONS] ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(to, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(to, "\n`mx COMMAND --help` for its options; mx(1) for the whole story.\n");
}

/* Called as "sendmail" (a link), mx is `mx send`: cron, PHP, git use it so;
 * as "check_mx", `mx check --plugin` (Nagios, Icinga). */
static bool
called_as(const char *argv0, const char *name)
{
	const char *base = strrchr(argv0, '/');

	return strcmp(base ? base + 1 : argv0, name) == 0;
}

int
main(int argc, char **argv)
{
	if (argc > 0 && called_as(argv[0], "sendmail"))
		return cmd_send(argc, argv);
	if (argc > 0 && called_as(argv[0], "check_mx"))
		return cmd_check(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("mx %s\n", MX_VERSION);
		return EX_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "mx: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
