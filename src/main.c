/*
 * main.c - the `mx` command: dispatches to one subcommand per file
 * (route.c, send.c, sendmail.c, queue.c, check.c, setup.c).  The helpers
 * they share are cli.c's; nothing calls back into main.c.  Everything that
 * knows about mail lives in libmx.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "check.h"
#include "daemon.h"
#include "mx.h"
#include "queue.h"
#include "route.h"
#include "send.h"
#include "setup.h"
#include "tlsrpt.h"
#include "sendmail.h"

static const struct {
	const char *name;
	int (*run)(int, char **);
	const char *summary;
} commands[] = {
	{ "route", cmd_route, "print the delivery plan of mail domains" },
	{ "send", cmd_send, "deliver a message from standard input now, in this process" },
	{ "sendmail", cmd_sendmail, "submit a message to the queue, as sendmail (see mx(1))" },
	{ "queue", cmd_queue, "list, run, flush or delete the queue of deferred mail" },
	{ "check", cmd_check, "diagnose how a domain receives mail (live or a zone file)" },
	{ "daemon", cmd_daemon, "deliver the queue for as long as it runs (status, flush)" },
	{ "setup", cmd_setup, "create the mx user, mxdrop group, spool and mx-drop's mode (root)" },
	{ "tlsrpt", cmd_tlsrpt, "queue the TLS-RPT reports (RFC 8460) of the days that are over" },
};

static void
usage(FILE *to)
{
	fprintf(to, "usage: mx COMMAND [OPTIONS] ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(to, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(to, "\n`mx COMMAND --help` for its options; mx(1) for the whole story.\n");
}

/* The name mx was called by (a link): "sendmail", "mailq" and
 * "newaliases" are the sendmail front end (sendmail.c), as cron, PHP, git
 * and mailx call it; "check_mx" is `mx check --plugin`. */
static bool
called_as(const char *argv0, const char *name)
{
	const char *base = strrchr(argv0, '/');

	return strcmp(base ? base + 1 : argv0, name) == 0;
}

int
main(int argc, char **argv)
{
	if (argc > 0 &&
	    (called_as(argv[0], "sendmail") || called_as(argv[0], "mailq") ||
		called_as(argv[0], "newaliases")))
		return cmd_sendmail(argc, argv);
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
