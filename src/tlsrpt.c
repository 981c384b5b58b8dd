/*
 * tlsrpt.c - `mx tlsrpt send`: queues the TLS-RPT reports (RFC 8460) of
 * the days that are over, from the session store mx send and the queue
 * keep under SPOOL/mta-sts, with libmx's mx_tlsrpt_send_due (what the
 * daemon calls once a day).  The reports then go out with the queue's next
 * pass (mx queue run).  Exit 0 when every due report was queued, 75 when
 * some could not be (they stay for the next run), 64 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "options.h"
#include "strbuf.h"
#include "tlsrpt.h"

#define DAY_SECONDS 86400

struct tlsrpt_opts {
	struct delivery_opts d;
	const char *from, *submitter;
	bool include_today;
};

const struct option tlsrpt_longopts[] = {
	{ "from", required_argument, NULL, 0x120 },
	{ "submitter", required_argument, NULL, 0x121 },
	{ "include-today", no_argument, NULL, 0x122 },
	{ "help", no_argument, NULL, 'h' },
	DELIVERY_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static void
tlsrpt_usage(FILE *to)
{
	fprintf(to,
	    "usage: mx tlsrpt send [--from ADDRESS] [--submitter NAME] "
	    "[--include-today]\n" DELIVERY_USAGE);
}

static int
apply_option(void *ctx, int opt, const char *v, const char *where)
{
	struct tlsrpt_opts *o = ctx;
	int rc;

	o->d.where = where;
	switch (opt) {
	case 0x120: o->from = v; return EX_OK;
	case 0x121: o->submitter = v; return EX_OK;
	case 0x122: o->include_today = true; return EX_OK;
	}
	if ((rc = delivery_option(&o->d, opt, v)) == -1)
		return EX_USAGE;
	return rc;
}

static int
parse_options(int argc, char **argv, struct tlsrpt_opts *o)
{
	int opt, rc;

	if ((rc = config_load(config_path_from_args(argc, argv), "tlsrpt", tlsrpt_longopts, argc,
		 argv, apply_option, o, &o->d.config_text)) != EX_OK)
		return rc;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", tlsrpt_longopts, NULL)) != -1) {
		if (opt == 'h') {
			tlsrpt_usage(stdout);
			return -1;
		}
		if (opt == '?' || opt == ':') {
			cli_warn("tlsrpt", "unknown option or missing value: %s", argv[optind - 1]);
			tlsrpt_usage(stderr);
			return EX_USAGE;
		}
		if ((rc = apply_option(o, opt, optarg, NULL)) != EX_OK)
			return rc;
	}
	return optind == argc ? delivery_opts_check(&o->d) : (tlsrpt_usage(stderr), EX_USAGE);
}

static int
send_due(struct tlsrpt_opts *o, mx_queue *q)
{
	char host[256] = "localhost", from[512], dir[4096];
	const char *submitter = o->submitter ? o->submitter : o->d.helo;
	int64_t now = (int64_t)time(NULL);
	struct strbuf sb;
	unsigned n = 0;
	mx_why why;
	mx_err err;

	gethostname(host, sizeof(host) - 1);
	submitter = submitter ? submitter : host;
	strbuf_init(&sb, from, sizeof(from));
	strbuf_printf(&sb, "%s", o->from ? o->from : "");
	if (o->from == NULL)
		strbuf_printf(&sb, "tlsrpt-noreply@%s", submitter);
	strbuf_init(&sb, dir, sizeof(dir));
	strbuf_printf(&sb, "%s/mta-sts", o->d.spool);
	/* --include-today: as if the day were over (tests, or a last report). */
	err = mx_tlsrpt_send_due(q, o->d.resolver, dir, submitter, from,
	    o->include_today ? now + DAY_SECONDS : now, &n, &why);
	printf("%u TLS-RPT report%s queued\n", n, n == 1 ? "" : "s");
	if (err == MX_ERR_INVALID && mx_address_check(from, true, NULL) != MX_OK)
		return cli_warn("tlsrpt", "--from \"%s\" is not an address", from), EX_USAGE;
	if (err != MX_OK)
		return cli_warn("tlsrpt",
			   "some reports were not queued (%s%s%s); they are kept "
			   "for the next run",
			   mx_strerror(err), why.text[0] ? ": " : "", why.text),
		       EX_TEMPFAIL;
	return EX_OK;
}

int
cmd_tlsrpt(int argc, char **argv)
{
	struct tlsrpt_opts o;
	mx_queue *q = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	if (argc < 2 || strcmp(argv[1], "send") != 0) {
		tlsrpt_usage(argc < 2 ? stderr : strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? EX_OK : EX_USAGE;
	}
	if ((rc = delivery_opts_init(&o.d, "tlsrpt")) != EX_OK)
		goto out;
	if ((rc = parse_options(argc - 1, argv + 1, &o)) != EX_OK) {
		rc = rc == -1 ? EX_OK : rc;
		goto out;
	}
	if ((rc = delivery_open_queue(&o.d, &q)) != EX_OK)
		goto out;
	rc = send_due(&o, q);
out:
	mx_queue_close(q);
	delivery_opts_free(&o.d);
	return rc;
}
