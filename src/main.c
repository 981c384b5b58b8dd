/*
 * main.c - the `mx` command: dispatches to one subcommand per file
 * (route.c, send.c, queue.c, check.c) and holds the small helpers they
 * share.  Everything that knows about mail lives in libmx.
 */
#include <errno.h>
#include <stdarg.h>
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
	{"daemon", cmd_daemon, "deliver the queue for as long as it runs (status, flush)"},
	{"setup", cmd_setup, "create the mx user, mxdrop group, spool and mx-drop's mode (root)"},
};

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

/* Called as "sendmail" (a link), mx is `mx send`: cron, PHP, git use it so. */
static bool
called_as_sendmail(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	return strcmp(base ? base + 1 : argv0, "sendmail") == 0;
}

int
main(int argc, char **argv)
{
	if (argc > 0 && called_as_sendmail(argv[0]))
		return cmd_send(argc, argv);
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
