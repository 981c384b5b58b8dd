/*
 * check.c - `mx check`: reads options, runs one check of a domain (live,
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
#include <unistd.h>

#include "check.h"
#include "cli.h"

#define MAX_TIMEOUT_MS (3600u * 1000u)
#define EXIT_WARNING 1
#define EXIT_ERROR 2
#define EXIT_UNKNOWN 3

struct check_opts {
	bool json;
	bool smtp;
	const char *zone;
	const char *origin;
	mx_resolver *resolver;
	mx_check *check;
};

static void
check_usage(FILE *to)
{
	fprintf(to,
	    "usage: mx check [--json] [--resolver IP[@PORT]]... [--no-smtp] [--ignore ID]...\n"
	    "                [--timeout SECONDS] [--trust-anchor FILE|none] [--resolv-conf FILE]\n"
	    "                [--ca-file FILE] [--helo NAME] DOMAIN\n"
	    "       mx check --zone FILE [--origin NAME] [--json] [--ignore ID]...\n"
	    "exit: 0 nothing worse than a notice, 1 a warning, 2 an error, 3 could not test\n");
}

static const struct option long_options[] = {
	{"json", no_argument, NULL, 'j'},
	{"resolver", required_argument, NULL, 'r'},
	{"no-smtp", no_argument, NULL, 'n'},
	{"ignore", required_argument, NULL, 'i'},
	{"timeout", required_argument, NULL, 'T'},
	{"zone", required_argument, NULL, 'z'},
	{"origin", required_argument, NULL, 'o'},
	{"trust-anchor", required_argument, NULL, 'a'},
	{"resolv-conf", required_argument, NULL, 'R'},
	{"ca-file", required_argument, NULL, 'c'},
	{"helo", required_argument, NULL, 'H'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
set_file_option(struct check_opts *o, int opt, const char *v)
{
	const char *name = opt == 'a' ? "--trust-anchor" : opt == 'R' ?
	    "--resolv-conf" : "--ca-file";

	if (opt == 'a' && strcmp(v, "none") == 0)
		return mx_resolver_set_trust_anchor(o->resolver, NULL) == MX_OK ? EX_OK : EX_OSERR;
	if (access(v, R_OK) != 0) {
		cli_warn("check", "%s %s: %s", name, v, strerror(errno));
		return EX_NOINPUT;
	}
	if (opt == 'a')
		return mx_resolver_set_trust_anchor(o->resolver, v) == MX_OK ? EX_OK : EX_OSERR;
	if (opt == 'R')
		return mx_resolver_set_resolv_conf(o->resolver, v) == MX_OK ? EX_OK : EX_OSERR;
	switch (mx_check_set_ca_file(o->check, v, NULL)) {
	case MX_OK: return EX_OK;
	case MX_ERR_CONFIG:
		cli_warn("check", "--ca-file %s: holds no PEM certificate that OpenSSL can read", v);
		return EX_CONFIG;
	default: return EX_OSERR;
	}
}

static int
apply_option(struct check_opts *o, int opt, const char *v)
{
	unsigned ms;

	switch (opt) {
	case 'j': o->json = true; return EX_OK;
	case 'n': o->smtp = false; return EX_OK;
	case 'z': o->zone = v; return EX_OK;
	case 'o': o->origin = v; return EX_OK;
	case 'r':
		if (mx_resolver_add_server(o->resolver, v) == MX_OK)
			return EX_OK;
		cli_warn("check", "--resolver takes IP or IP@PORT (at most 16), not \"%s\"", v);
		return EX_USAGE;
	case 'i':
		if (mx_check_ignore(o->check, v) == MX_OK)
			return EX_OK;
		cli_warn("check", "--ignore: \"%s\" is not a finding id (mx-checks(7) lists them)", v);
		return EX_USAGE;
	case 'T':
		if (cli_parse_seconds(v, MAX_TIMEOUT_MS, &ms) &&
		    mx_check_set_timeout_ms(o->check, ms) == MX_OK)
			return EX_OK;
		cli_warn("check", "--timeout takes seconds (up to 3600), not \"%s\"", v);
		return EX_USAGE;
	case 'H':
		return mx_check_set_helo(o->check, v) == MX_OK ? EX_OK : EX_OSERR;
	case 'a': case 'R': case 'c':
		return set_file_option(o, opt, v);
	case 'h':
		check_usage(stdout);
		return -1;
	default:
		check_usage(stderr);
		return EX_USAGE;
	}
}

static int
parse_options(int argc, char **argv, struct check_opts *o)
{
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1)
		if ((rc = apply_option(o, opt, optarg)) != EX_OK)
			return rc;
	if (o->zone != NULL && optind != argc) {
		cli_warn("check", "--zone takes no DOMAIN (the zone's origin is checked)");
		return EX_USAGE;
	}
	if (o->zone == NULL && optind != argc - 1) {
		check_usage(stderr);
		return EX_USAGE;
	}
	if (o->zone == NULL && o->origin != NULL) {
		cli_warn("check", "--origin goes with --zone");
		return EX_USAGE;
	}
	return EX_OK;
}

/* ---- output ------------------------------------------------------------- */

struct colours {
	const char *sev[4], *bold, *dim, *reset;
};

static void
pick_colours(struct colours *col)
{
	const char *no = getenv("NO_COLOR");
	bool on = isatty(STDOUT_FILENO) && (no == NULL || no[0] == '\0');

	*col = (struct colours){{"", "", "", ""}, "", "", ""};
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
print_human(const mx_check *c)
{
	static const char *const titles[] = {"Info", "Notices", "Warnings", "Errors"};
	struct colours col;

	pick_colours(&col);
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

static int
print_result(const struct check_opts *o)
{
	char *line = NULL;

	if (o->json) {
		if (mx_check_to_json(o->check, &line) != MX_OK) {
			cli_warn("check", "out of memory");
			return EX_OSERR;
		}
		puts(line);
		free(line);
	} else {
		print_human(o->check);
	}
	if (mx_check_tempfail(o->check))
		return EXIT_UNKNOWN;
	switch (mx_check_worst(o->check)) {
	case MX_SEVERITY_ERROR: return EXIT_ERROR;
	case MX_SEVERITY_WARNING: return EXIT_WARNING;
	default: return EX_OK;
	}
}

static int
run_zone(struct check_opts *o)
{
	mx_why why;
	mx_err err = mx_check_zone(o->check, o->zone, o->origin, &why);

	if (err == MX_OK)
		return print_result(o);
	cli_warn("check", "%s%s%s", err == MX_ERR_BAD_ZONE ? o->zone : "",
	    err == MX_ERR_BAD_ZONE ? ": " : "", why.text[0] ? why.text : mx_strerror(err));
	return cli_exit_for(err);
}

static int
run_live(struct check_opts *o, const char *arg)
{
	char domain[MX_DOMAIN_MAX + 1];
	mx_why why;
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
	return print_result(o);
}

int
cmd_check(int argc, char **argv)
{
	struct check_opts o = {.smtp = true};
	int rc;

	if (mx_resolver_new(&o.resolver) != MX_OK ||
	    mx_check_new(&o.check, o.resolver) != MX_OK) {
		cli_warn("check", "cannot set up the resolver (out of memory or sockets)");
		rc = EX_OSERR;
		goto out;
	}
	rc = parse_options(argc, argv, &o);
	if (rc == -1)
		rc = EX_OK;
	else if (rc == EX_OK && o.zone != NULL)
		rc = run_zone(&o);
	else if (rc == EX_OK)
		rc = run_live(&o, argv[optind]);
out:
	mx_check_free(o.check);
	mx_resolver_free(o.resolver);
	return rc;
}
