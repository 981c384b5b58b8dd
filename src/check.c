/*
 * check.c - `mx check` (and `check_mx`): reads options, runs one check of a domain (live,
 * through the resolver) or of a zone file, prints the findings grouped by
 * severity (coloured on a terminal unless NO_COLOR is set) or as one JSON
 * line, and exits as monitoring plugins expect: 0 nothing worse than a
 * notice, 1 a warning, 2 an error, 3 could not test.  Every rule is
 * libmx's (mx_check_*).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_bulk.h"
#include "cli.h"

#define MAX_TIMEOUT_MS (3600u * 1000u)
#define EXIT_WARNING   1
#define EXIT_ERROR     2
#define EXIT_UNKNOWN   3

enum {
	OPT_JSON = 256,
	OPT_RESOLVER,
	OPT_NO_SMTP,
	OPT_SMTP,
	OPT_IGNORE,
	OPT_ZONE,
	OPT_ORIGIN,
	OPT_ANCHOR,
	OPT_RESOLV_CONF,
	OPT_CA_FILE,
	OPT_HELO,
	OPT_PLUGIN,
	OPT_CERT_DAYS,
	OPT_ALLOW_PRIVATE,
	OPT_BULK,
	OPT_CSV,
	OPT_CONCURRENCY,
	OPT_SHARD,
};

static void
check_usage(FILE *to)
{
	fprintf(to,
	    "usage: mx check [--json | --plugin] [--resolver IP[@PORT]]... [--no-smtp]\n"
	    "                [--ignore ID]... [-t|--timeout SECONDS] [--trust-anchor FILE|none]\n"
	    "                [--resolv-conf FILE] [--ca-file FILE] [--helo NAME]\n"
	    "                [--cert-days WARN[,ERROR]] [--allow-private[=NETWORK]]...\n"
	    "                [-w|--warning SEVERITY] [-c|--critical SEVERITY]\n"
	    "                DOMAIN | -H|--hostname DOMAIN\n"
	    "       mx check --zone FILE [--origin NAME] [--json] [--ignore ID]...\n"
	    "       mx check --bulk [--json | --csv] [--concurrency N] [--shard K/N] [--smtp]\n"
	    "                [other options as above] [FILE|-]\n"
	    "       check_mx [options as above]     (mx called so: --plugin)\n"
	    "exit: 0 nothing worse than a notice, 1 a warning, 2 an error, 3 could not test\n");
}

static void
check_help(void)
{
	check_usage(stdout);
	fputs(
	    "\n"
	    "  -H, --hostname DOMAIN    the domain to check (or give it as the argument)\n"
	    "  -t, --timeout SECONDS    limit on the whole check (default 30, at most 3600)\n"
	    "  -w, --warning SEVERITY   the least severity that makes the state WARNING (exit 1):\n"
	    "                           info, notice, warning or error (default warning)\n"
	    "  -c, --critical SEVERITY  the least severity that makes it CRITICAL (exit 2)\n"
	    "                           (default error)\n"
	    "  -V, --version            print the version and exit\n"
	    "  -h, --help               print this help and exit\n"
	    "  --plugin                 monitoring-plugin output: one status line with\n"
	    "                           performance data, then the details; usage and\n"
	    "                           configuration errors exit 3 (UNKNOWN)\n"
	    "  --json                   one JSON object (mx-checks(7) documents the schema)\n"
	    "  --resolver IP[@PORT]     ask this resolver (repeatable, at most 16)\n"
	    "  --resolv-conf FILE       take the resolvers from FILE\n"
	    "  --trust-anchor FILE|none DNSSEC trust anchor (none: no validation)\n"
	    "  --ca-file FILE           trust store (PEM) for the MX hosts' certificates\n"
	    "  --helo NAME              the name sent in EHLO (default localhost)\n"
	    "  --no-smtp                do not connect to the MX hosts (port 25)\n"
	    "  --smtp                   --bulk: probe the MX hosts too (off by default)\n"
	    "  --ignore ID              do not report findings with this id (repeatable)\n"
	    "  --cert-days WARN[,ERROR] tls-cert-expiring: a certificate that expires within\n"
	    "                           WARN days is a warning, within ERROR days an error\n"
	    "                           (default 14,3; 0 turns a severity off)\n"
	    "  --allow-private[=NET]    private and loopback MX addresses are acceptable (an\n"
	    "                           intranet): all of them, or those in NET (10.0.0.0/8,\n"
	    "                           fd00::/8; repeatable, or comma-separated)\n"
	    "  --zone FILE              judge a zone file before it is published\n"
	    "  --origin NAME            --zone: the zone's origin (default: from the file)\n"
	    "  --bulk                   check every domain of FILE (or standard input), one\n"
	    "                           JSON object a line, as they finish\n"
	    "  --csv                    --bulk: CSV instead (columns in mx(1))\n"
	    "  --concurrency N          --bulk: domains in flight (default 200)\n"
	    "  --shard K/N              --bulk: only the domains of shard K of N (1..N), by a\n"
	    "                           stable hash of the domain\n",
	    stdout);
}

static const struct option long_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "resolver", required_argument, NULL, OPT_RESOLVER },
	{ "no-smtp", no_argument, NULL, OPT_NO_SMTP },
	{ "smtp", no_argument, NULL, OPT_SMTP },
	{ "ignore", required_argument, NULL, OPT_IGNORE },
	{ "timeout", required_argument, NULL, 't' },
	{ "zone", required_argument, NULL, OPT_ZONE },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "trust-anchor", required_argument, NULL, OPT_ANCHOR },
	{ "resolv-conf", required_argument, NULL, OPT_RESOLV_CONF },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "helo", required_argument, NULL, OPT_HELO },
	{ "plugin", no_argument, NULL, OPT_PLUGIN },
	{ "cert-days", required_argument, NULL, OPT_CERT_DAYS },
	{ "allow-private", optional_argument, NULL, OPT_ALLOW_PRIVATE },
	{ "bulk", no_argument, NULL, OPT_BULK },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "hostname", required_argument, NULL, 'H' },
	{ "warning", required_argument, NULL, 'w' },
	{ "critical", required_argument, NULL, 'c' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int
set_file_option(struct check_opts *o, int opt, const char *v)
{
	const char *name = opt == OPT_ANCHOR ? "--trust-anchor"
	    : opt == OPT_RESOLV_CONF         ? "--resolv-conf"
					     : "--ca-file";

	if (opt == OPT_ANCHOR && strcmp(v, "none") == 0)
		return mx_resolver_set_trust_anchor(o->resolver, NULL) == MX_OK ? EX_OK : EX_OSERR;
	if (access(v, R_OK) != 0) {
		cli_warn("check", "%s %s: %s", name, v, strerror(errno));
		return EX_NOINPUT;
	}
	if (opt == OPT_ANCHOR)
		return mx_resolver_set_trust_anchor(o->resolver, v) == MX_OK ? EX_OK : EX_OSERR;
	if (opt == OPT_RESOLV_CONF)
		return mx_resolver_set_resolv_conf(o->resolver, v) == MX_OK ? EX_OK : EX_OSERR;
	switch (mx_check_set_ca_file(o->check, v, NULL)) {
	case MX_OK: return EX_OK;
	case MX_ERR_CONFIG:
		cli_warn(
		    "check", "--ca-file %s: holds no PEM certificate that OpenSSL can read", v);
		return EX_CONFIG;
	default: return EX_OSERR;
	}
}

static bool
parse_severity(const char *v, mx_severity *out)
{
	static const char *const names[] = { "info", "notice", "warning", "error" };

	for (int s = MX_SEVERITY_INFO; s <= MX_SEVERITY_ERROR; s++)
		if (strcmp(v, names[s]) == 0) {
			*out = (mx_severity)s;
			return true;
		}
	return false;
}

static int
set_cert_days(struct check_opts *o, const char *v)
{
	unsigned long long warn, err = 0;
	char first[24];
	const char *comma = strchr(v, ',');
	size_t len = comma ? (size_t)(comma - v) : strlen(v);

	if (len < sizeof(first)) {
		memcpy(first, v, len);
		first[len] = '\0';
		if (cli_parse_uint(first, 3650, &warn) &&
		    (comma == NULL || cli_parse_uint(comma + 1, 3650, &err)) &&
		    mx_check_set_cert_days(o->check, (unsigned)warn,
			comma ? (unsigned)err : (warn < 3 ? (unsigned)warn : 3)) == MX_OK)
			return EX_OK;
	}
	cli_warn(
	    "check", "--cert-days takes WARN[,ERROR] days (ERROR at most WARN), not \"%s\"", v);
	return EX_USAGE;
}

static int
set_allow_private(struct check_opts *o, const char *v)
{
	char list[512], *save = NULL;

	if (v == NULL)
		return mx_check_allow_private(o->check, NULL) == MX_OK ? EX_OK : EX_SOFTWARE;
	snprintf(list, sizeof(list), "%s", v);
	for (char *net = strtok_r(list, ",", &save); net; net = strtok_r(NULL, ",", &save))
		if (mx_check_allow_private(o->check, net) != MX_OK) {
			cli_warn("check",
			    "--allow-private takes networks (10.0.0.0/8, fd00::/8; "
			    "at most 16), not \"%s\"",
			    net);
			return EX_USAGE;
		}
	return EX_OK;
}

static int
set_severity(struct check_opts *o, int opt, const char *v)
{
	if (parse_severity(v, opt == 'w' ? &o->warn_floor : &o->crit_floor))
		return EX_OK;
	cli_warn("check", "%s takes info, notice, warning or error, not \"%s\"",
	    opt == 'w' ? "--warning" : "--critical", v);
	return EX_USAGE;
}

static int
set_bulk_option(struct check_opts *o, int opt, const char *v)
{
	unsigned long long n;

	switch (opt) {
	case OPT_BULK: o->bulk = true; return EX_OK;
	case OPT_CSV: o->csv = true; return EX_OK;
	case OPT_SMTP: o->smtp_asked = true; return EX_OK;
	case OPT_SHARD:
		if (cli_parse_shard(v, &o->shard))
			return EX_OK;
		cli_warn("check", "--shard takes K/N with 1 <= K <= N, not \"%s\"", v);
		return EX_USAGE;
	default:
		if (cli_parse_uint(v, 100000, &n) && n > 0) {
			o->concurrency = (unsigned)n;
			return EX_OK;
		}
		cli_warn("check", "--concurrency takes a number from 1 to 100000, not \"%s\"", v);
		return EX_USAGE;
	}
}

static int
apply_option(struct check_opts *o, int opt, const char *v)
{
	unsigned ms;

	switch (opt) {
	case OPT_JSON: o->json = true; return EX_OK;
	case OPT_PLUGIN: o->plugin = true; return EX_OK;
	case OPT_NO_SMTP:
		o->smtp = false;
		o->no_smtp = true;
		return EX_OK;
	case OPT_ZONE: o->zone = v; return EX_OK;
	case OPT_ORIGIN: o->origin = v; return EX_OK;
	case 'H': o->hostname = v; return EX_OK;
	case 'w':
	case 'c': return set_severity(o, opt, v);
	case OPT_CERT_DAYS: return set_cert_days(o, v);
	case OPT_ALLOW_PRIVATE: return set_allow_private(o, v);
	case OPT_BULK:
	case OPT_CSV:
	case OPT_SMTP:
	case OPT_SHARD:
	case OPT_CONCURRENCY: return set_bulk_option(o, opt, v);
	case OPT_RESOLVER:
		if (mx_resolver_add_server(o->resolver, v) == MX_OK)
			return EX_OK;
		cli_warn("check", "--resolver takes IP or IP@PORT (at most 16), not \"%s\"", v);
		return EX_USAGE;
	case OPT_IGNORE:
		if (mx_check_ignore(o->check, v) == MX_OK)
			return EX_OK;
		cli_warn(
		    "check", "--ignore: \"%s\" is not a finding id (mx-checks(7) lists them)", v);
		return EX_USAGE;
	case 't':
		if (cli_parse_seconds(v, MAX_TIMEOUT_MS, &ms) &&
		    mx_check_set_timeout_ms(o->check, ms) == MX_OK)
			return EX_OK;
		cli_warn("check", "--timeout takes seconds (up to 3600), not \"%s\"", v);
		return EX_USAGE;
	case OPT_HELO: return mx_check_set_helo(o->check, v) == MX_OK ? EX_OK : EX_OSERR;
	case OPT_ANCHOR:
	case OPT_RESOLV_CONF:
	case OPT_CA_FILE: return set_file_option(o, opt, v);
	case 'V':
		printf("%s (mxkit) %s\n", o->plugin ? "check_mx" : "mx check", MX_VERSION);
		return -1;
	case 'h': check_help(); return -1;
	default:
		cli_warn("check", "unknown option or missing value");
		check_usage(stderr);
		return EX_USAGE;
	}
}

static int
check_args(struct check_opts *o, int argc)
{
	int args = argc - optind;

	if (o->zone != NULL && (args != 0 || o->hostname)) {
		cli_warn("check", "--zone takes no DOMAIN (the zone's origin is checked)");
		return EX_USAGE;
	}
	if (o->bulk && (args > 1 || o->hostname || o->zone || o->plugin)) {
		cli_warn("check",
		    "--bulk reads one FILE (or - for standard input), "
		    "without --hostname, --zone or --plugin");
		return EX_USAGE;
	}
	if (!o->bulk && (o->csv || o->shard.n || o->concurrency || o->smtp_asked)) {
		cli_warn("check", "--csv, --shard, --concurrency and --smtp go with --bulk");
		return EX_USAGE;
	}
	if (!o->bulk && o->zone == NULL && args + (o->hostname != NULL) != 1) {
		cli_warn("check", "one DOMAIN to check (or --hostname DOMAIN)");
		check_usage(stderr);
		return EX_USAGE;
	}
	if (o->zone == NULL && o->origin != NULL) {
		cli_warn("check", "--origin goes with --zone");
		return EX_USAGE;
	}
	if (o->json && (o->plugin || o->csv)) {
		cli_warn("check", "--json goes without --plugin and --csv");
		return EX_USAGE;
	}
	return EX_OK;
}

static int
parse_options(int argc, char **argv, struct check_opts *o)
{
	int opt, rc;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "H:t:w:c:Vh", long_options, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			cli_warn("check", "unknown option or missing value: %s", argv[optind - 1]);
			check_usage(stderr);
			return EX_USAGE;
		}
		if ((rc = apply_option(o, opt, optarg)) != EX_OK)
			return rc;
	}
	return check_args(o, argc);
}

/* ---- output ------------------------------------------------------------- */

struct colours {
	const char *sev[4], *bold, *dim, *reset;
};

static void
pick_colours(struct colours *col, bool allowed)
{
	const char *no = getenv("NO_COLOR");
	bool on = allowed && isatty(STDOUT_FILENO) && (no == NULL || no[0] == '\0');

	*col = (struct colours){ { "", "", "", "" }, "", "", "" };
	if (!on)
		return;
	col->sev[MX_SEVERITY_ERROR] = "\033[1;31m";
	col->sev[MX_SEVERITY_WARNING] = "\033[1;33m";
	col->sev[MX_SEVERITY_NOTICE] = "\033[1;36m";
	col->sev[MX_SEVERITY_INFO] = "\033[1m";
	col->bold = "\033[1m";
	col->dim = "\033[2m";
	col->reset = "\033[0m";
}

static size_t
count_of(const mx_check *c, mx_severity s)
{
	size_t n = 0;

	for (size_t i = 0; i < mx_check_finding_count(c); i++)
		n += mx_finding_severity(mx_check_finding(c, i)) == s;
	return n;
}

static void
print_finding(const mx_finding *f, const struct colours *col)
{
	printf("  %s%s%s", col->bold, mx_finding_id(f), col->reset);
	if (mx_finding_line(f) > 0)
		printf(" (line %u)", mx_finding_line(f));
	printf(": %s\n", mx_finding_message(f));
	for (size_t i = 0; i < mx_finding_evidence_count(f); i++)
		printf("      %s%s%s\n", col->dim, mx_finding_evidence(f, i), col->reset);
}

static void
print_human(const mx_check *c, bool colour)
{
	static const char *const titles[] = { "Info", "Notices", "Warnings", "Errors" };
	struct colours col;

	pick_colours(&col, colour);
	printf("%s%s%s: %zu error(s), %zu warning(s), %zu notice(s)\n", col.bold,
	    mx_check_domain(c), col.reset, count_of(c, MX_SEVERITY_ERROR),
	    count_of(c, MX_SEVERITY_WARNING), count_of(c, MX_SEVERITY_NOTICE));
	if (mx_check_tempfail(c))
		printf("\n%sCould not test%s: %s\n", col.sev[MX_SEVERITY_ERROR], col.reset,
		    mx_check_tempfail_reason(c));
	for (int s = MX_SEVERITY_ERROR; s >= MX_SEVERITY_INFO; s--) {
		if (count_of(c, (mx_severity)s) == 0)
			continue;
		printf("\n%s%s%s\n", col.sev[s], titles[s], col.reset);
		for (size_t i = 0; i < mx_check_finding_count(c); i++)
			if (mx_finding_severity(mx_check_finding(c, i)) == (mx_severity)s)
				print_finding(mx_check_finding(c, i), &col);
	}
	if (mx_check_untested_count(c) > 0) {
		printf("\n%sNot tested%s\n", col.bold, col.reset);
		for (size_t i = 0; i < mx_check_untested_count(c); i++)
			printf("  %s: %s\n", mx_check_untested_test(c, i),
			    mx_check_untested_reason(c, i));
	}
}

/* The plugin state (0 OK ... 3 UNKNOWN) under the -w and -c floors. */
static int
state_of(const struct check_opts *o)
{
	size_t n = mx_check_finding_count(o->check);
	mx_severity worst = mx_check_worst(o->check);

	if (mx_check_tempfail(o->check))
		return EXIT_UNKNOWN;
	if (n > 0 && worst >= o->crit_floor)
		return EXIT_ERROR;
	if (n > 0 && worst >= o->warn_floor)
		return EXIT_WARNING;
	return EX_OK;
}

/* "2 errors (mx-no-address, spf-invalid)": the ids of the worst class only. */
static void
print_count(const mx_check *c, mx_severity s, const char *word, bool ids, bool comma)
{
	size_t n = count_of(c, s), shown = 0;
	const char *prev = "";

	printf("%s%zu %s%s", comma ? ", " : "", n, word, n == 1 ? "" : "s");
	if (!ids || n == 0)
		return;
	fputs(" (", stdout);
	for (size_t i = 0; i < mx_check_finding_count(c); i++) {
		const mx_finding *f = mx_check_finding(c, i);
		if (mx_finding_severity(f) != s || strcmp(prev, mx_finding_id(f)) == 0)
			continue;
		printf("%s%s", shown++ ? ", " : "", mx_finding_id(f));
		prev = mx_finding_id(f);
	}
	putchar(')');
}

static void
print_plugin(const struct check_opts *o, int state, double seconds)
{
	static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	const mx_check *c = o->check;
	size_t e = count_of(c, MX_SEVERITY_ERROR), w = count_of(c, MX_SEVERITY_WARNING);
	size_t n = count_of(c, MX_SEVERITY_NOTICE);

	printf("MX %s - ", names[state]);
	if (mx_check_tempfail(c))
		printf("could not test %s: %s, ", mx_check_domain(c), mx_check_tempfail_reason(c));
	print_count(c, MX_SEVERITY_ERROR, "error", e > 0, false);
	print_count(c, MX_SEVERITY_WARNING, "warning", e == 0 && w > 0, true);
	if (n > 0)
		print_count(c, MX_SEVERITY_NOTICE, "notice", e == 0 && w == 0, true);
	printf(" | errors=%zu;;;0 warnings=%zu;;;0 notices=%zu;;;0 time=%.2fs\n", e, w, n, seconds);
	print_human(c, false);
}

static int
print_result(const struct check_opts *o, double seconds)
{
	char *line = NULL;
	int state = state_of(o);

	if (o->plugin) {
		print_plugin(o, state, seconds);
	} else if (o->json) {
		if (mx_check_to_json(o->check, &line) != MX_OK) {
			cli_warn("check", "out of memory");
			return EX_OSERR;
		}
		puts(line);
		free(line);
	} else {
		print_human(o->check, true);
	}
	return state;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
run_zone(struct check_opts *o)
{
	mx_why why;
	double t0 = now();
	mx_err err = mx_check_zone(o->check, o->zone, o->origin, &why);

	if (err == MX_OK)
		return print_result(o, now() - t0);
	cli_warn("check", "%s%s%s", err == MX_ERR_BAD_ZONE ? o->zone : "",
	    err == MX_ERR_BAD_ZONE ? ": " : "", why.text[0] ? why.text : mx_strerror(err));
	return cli_exit_for(err);
}

static int
run_live(struct check_opts *o, const char *arg)
{
	char domain[MX_DOMAIN_MAX + 1];
	mx_why why;
	double t0 = now();
	mx_err err;

	if (mx_domain_from_arg(arg, domain, &why) != MX_OK) {
		cli_warn("check", "\"%s\" %s", arg, why.text);
		return EX_DATAERR;
	}
	mx_check_set_smtp(o->check, o->smtp);
	if ((err = mx_check_run(o->check, domain, &why)) != MX_OK) {
		cli_warn("check", "%s%s%s", mx_strerror(err), why.text[0] ? ": " : "", why.text);
		return cli_exit_for(err);
	}
	return print_result(o, now() - t0);
}

static bool
is_plugin_name(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	return strcmp(base ? base + 1 : argv0, "check_mx") == 0;
}

/* In plugin mode every failure to test is UNKNOWN (3), said on stdout. */
static int
plugin_exit(int rc)
{
	if (rc <= EXIT_UNKNOWN)
		return rc;
	printf("MX UNKNOWN - %s\n",
	    cli_last_warning()[0] ? cli_last_warning() : "could not run the check");
	return EXIT_UNKNOWN;
}

static int
dispatch(struct check_opts *o, int argc, char **argv)
{
	if (o->zone != NULL)
		return run_zone(o);
	if (o->bulk)
		return cmd_check_bulk(o, optind < argc ? argv[optind] : "-");
	return run_live(o, o->hostname ? o->hostname : argv[optind]);
}

int
cmd_check(int argc, char **argv)
{
	struct check_opts o = {
		.smtp = true, .warn_floor = MX_SEVERITY_WARNING, .crit_floor = MX_SEVERITY_ERROR
	};
	int rc;

	o.plugin = argc > 0 && is_plugin_name(argv[0]);
	if (mx_resolver_new(&o.resolver) != MX_OK || mx_check_new(&o.check, o.resolver) != MX_OK) {
		cli_warn("check", "cannot set up the resolver (out of memory or sockets)");
		rc = EX_OSERR;
		goto out;
	}
	rc = parse_options(argc, argv, &o);
	if (rc == EX_OK && o.crit_floor < o.warn_floor) {
		cli_warn("check", "--critical must not be below --warning");
		rc = EX_USAGE;
	}
	if (rc == -1)
		rc = EX_OK;
	else if (rc == EX_OK)
		rc = dispatch(&o, argc, argv);
out:
	mx_check_free(o.check);
	mx_resolver_free(o.resolver);
	return o.plugin ? plugin_exit(rc) : rc;
}
