/*
 * route.c - `mx route`: reads options, starts one plan per argument on
 * one resolver (they resolve concurrently), prints each plan in argument
 * order as soon as it and those before it are ready, and maps the worst
 * outcome to a sysexits(3) code.  All routing is libmx's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bulk.h"
#include "cli.h"
#include "route.h"
#include "strbuf.h"

#define MAX_TIMEOUT_MS (3600u * 1000u)

struct route_run {
	bool json;
	int argc;
	char **args;
	mx_plan **plans;
	mx_sts **sts; /* --tls-policy: each domain's, once looked up */
	bool want_sts;
	mx_why *invalid; /* why the argument is malformed, or "" */
	mx_why failure;  /* why a lookup could not start */
	int next_to_print;
	int printed; /* plans printed so far (text mode spacing) */
	int exit_code;
};

static void
route_usage(FILE *to)
{
	fprintf(to,
	    "usage: mx route [--json] [--resolver IP[@PORT]]... [--seed N]\n"
	    "                [--prefer ipv4|ipv6] [--local-name NAME]...\n"
	    "                [--timeout SECONDS] [--trust-anchor FILE|none]\n"
	    "                [--resolv-conf FILE] [--transport unbound|stub]\n"
	    "                [--tls-policy [--ca-file FILE]]\n"
	    "                DOMAIN|ADDRESS...\n"
	    "       mx route --bulk [--json | --csv] [--concurrency N] [--shard K/N]\n"
	    "                [--resolver IP[@PORT]]... [other options as above] [FILE|-]\n");
}

/* Exit codes rank: usage > malformed > permanent > temporary > ok. */
static void
worsen(struct route_run *run, int code)
{
	static const int rank[] = { EX_OK, EX_TEMPFAIL, EX_NOHOST, EX_DATAERR, EX_USAGE };
	int have = 0, want = 0;

	for (int i = 0; i < 5; i++) {
		if (rank[i] == run->exit_code)
			have = i;
		if (rank[i] == code)
			want = i;
	}
	if (want > have)
		run->exit_code = code;
}

static void
print_json(const mx_plan *plan)
{
	char *line = NULL;

	if (mx_plan_to_json(plan, &line) != MX_OK) {
		cli_warn("route", "out of memory");
		return;
	}
	puts(line);
	free(line);
}

static void
print_invalid_json(const char *arg, const char *why)
{
	char *line = NULL;

	if (mx_invalid_to_json(arg, why, &line) != MX_OK) {
		cli_warn("route", "out of memory");
		return;
	}
	puts(line);
	free(line);
}

static const char *
problem_text(const mx_host *h, size_t i)
{
	return mx_problem_name(mx_host_problem(h, i));
}

/* "a, b, c" of a host's addresses or problems, cut to fit out. */
static void
join(const mx_host *h, size_t n, const char *(*item)(const mx_host *, size_t), char *out,
    size_t size)
{
	struct strbuf sb;

	strbuf_init(&sb, out, size);
	for (size_t i = 0; i < n && !sb.truncated; i++)
		strbuf_printf(&sb, "%s%s", i ? ", " : "", item(h, i));
}

static void
join_addresses(const mx_host *h, char *out, size_t size)
{
	join(h, mx_host_address_count(h), mx_host_address, out, size);
	if (out[0] == '\0')
		snprintf(out, size, "-");
}

static void
join_problems(const mx_host *h, char *out, size_t size)
{
	join(h, mx_host_problem_count(h), problem_text, out, size);
}

struct table_widths {
	int host, addrs;
};

static struct table_widths
table_widths(const mx_plan *plan)
{
	struct table_widths w = { 4, 9 };
	char addrs[2048];

	for (size_t i = 0; i < mx_plan_host_count(plan); i++) {
		const mx_host *h = mx_plan_host(plan, i);
		int len = (int)strlen(mx_host_name(h));
		if (len > w.host)
			w.host = len;
		join_addresses(h, addrs, sizeof(addrs));
		if ((len = (int)strlen(addrs)) > w.addrs)
			w.addrs = len;
	}
	return w;
}

/* Columns as dig users read them: preference, host, TTL, then the rest. */
static void
print_table(const mx_plan *plan)
{
	char addrs[2048], notes[512];
	struct table_widths w = table_widths(plan);

	printf("  %5s  %-*s  %7s  %-10s  %-*s  %s\n", "PREF", w.host, "HOST", "TTL", "STATUS",
	    w.addrs, "ADDRESSES", "NOTES");
	for (size_t i = 0; i < mx_plan_host_count(plan); i++) {
		const mx_host *h = mx_plan_host(plan, i);
		join_addresses(h, addrs, sizeof(addrs));
		join_problems(h, notes, sizeof(notes));
		printf("  %5u  %-*s  %7lu  %-10s  %-*s%s%s\n", mx_host_preference(h), w.host,
		    mx_host_name(h), (unsigned long)mx_host_ttl(h),
		    mx_host_status_name(mx_host_status_of(h)), notes[0] ? w.addrs : 0, addrs,
		    notes[0] ? "  " : "", notes);
	}
}

static void
print_human(const mx_plan *plan, bool first)
{
	size_t np = mx_plan_problem_count(plan);

	if (!first)
		putchar('\n');
	printf("%s: %s - %s\n", mx_plan_domain(plan), mx_status_name(mx_plan_status(plan)),
	    mx_plan_reason(plan));
	if (strcmp(mx_plan_canonical(plan), mx_plan_domain(plan)) != 0)
		printf("  canonical name: %s\n", mx_plan_canonical(plan));
	printf("  dnssec: %s%s\n", mx_dnssec_name(mx_plan_dnssec(plan)),
	    mx_plan_implicit_mx(plan) ? "; implicit MX (no MX records)" : "");
	if (np > 0) {
		printf("  problems:");
		for (size_t i = 0; i < np; i++)
			printf(" %s", mx_problem_name(mx_plan_problem(plan, i)));
		putchar('\n');
	}
	if (mx_plan_host_count(plan) > 0)
		print_table(plan);
	for (size_t i = 0; i < mx_plan_host_count(plan); i++) {
		const mx_host *h = mx_plan_host(plan, i);
		if (mx_host_reason(h)[0] != '\0')
			printf("  - %s: %s\n", mx_host_name(h), mx_host_reason(h));
	}
}

static int
exit_for_status(mx_status s)
{
	if (mx_status_permanent(s))
		return EX_NOHOST;
	return mx_status_temporary(s) ? EX_TEMPFAIL : EX_OK;
}

/* --tls-policy --json: the plan's object with a "tls_policy" member. */
static void
print_json_sts(const mx_plan *plan, const mx_sts *sts)
{
	char *line = NULL, *pol = NULL;
	size_t n;

	if (mx_plan_to_json(plan, &line) != MX_OK || mx_sts_to_json(sts, plan, &pol) != MX_OK) {
		cli_warn("route", "out of memory");
	} else {
		n = strlen(line);
		while (n > 0 && line[n - 1] != '}')
			n--;
		printf("%.*s, \"tls_policy\": %s}\n", (int)(n > 0 ? n - 1 : 0), line, pol);
	}
	free(line);
	free(pol);
}

static void
print_human_sts(const mx_plan *plan, const mx_sts *sts)
{
	printf("  MTA-STS: %s: %s\n", mx_sts_mode(sts), mx_sts_summary(sts));
	if (strcmp(mx_sts_mode(sts), "no-policy-found") == 0)
		return;
	for (size_t i = 0; i < mx_plan_host_count(plan); i++) {
		const char *name = mx_host_name(mx_plan_host(plan, i));
		printf("  - %s: %s\n", name,
		    mx_sts_matches(sts, name) ? "matches the policy" : "does not match the policy");
	}
}

/* Prints every plan that is ready and has all earlier ones printed. */
static void
flush_ready(struct route_run *run)
{
	while (run->next_to_print < run->argc) {
		int i = run->next_to_print;
		if (run->invalid[i].text[0] != '\0') {
			if (run->json)
				print_invalid_json(run->args[i], run->invalid[i].text);
			run->next_to_print++;
			continue;
		}
		if (run->plans[i] == NULL || (run->want_sts && run->sts[i] == NULL))
			return;
		if (run->json && run->want_sts)
			print_json_sts(run->plans[i], run->sts[i]);
		else if (run->json)
			print_json(run->plans[i]);
		else
			print_human(run->plans[i], run->printed == 0);
		if (!run->json && run->want_sts)
			print_human_sts(run->plans[i], run->sts[i]);
		run->printed++;
		worsen(run, exit_for_status(mx_plan_status(run->plans[i])));
		mx_plan_free(run->plans[i]);
		run->plans[i] = (mx_plan *)-1; /* printed */
		if (run->want_sts)
			mx_sts_free(run->sts[i]);
		run->next_to_print++;
	}
	fflush(stdout);
}

struct route_slot {
	struct route_run *run;
	int index;
};

static void
on_sts(mx_sts *sts, void *arg)
{
	struct route_slot *slot = arg;

	slot->run->sts[slot->index] = sts;
	flush_ready(slot->run);
}

static void
on_plan(mx_plan *plan, void *arg)
{
	struct route_slot *slot = arg;

	slot->run->plans[slot->index] = plan;
	flush_ready(slot->run);
}

static int
set_prefer(struct route_opts *o, const char *v)
{
	if (strcmp(v, "ipv4") == 0)
		mx_policy_set_prefer(o->policy, MX_PREFER_IPV4);
	else if (strcmp(v, "ipv6") == 0)
		mx_policy_set_prefer(o->policy, MX_PREFER_IPV6);
	else
		return cli_warn("route", "--prefer takes ipv4 or ipv6, not \"%s\"", v), EX_USAGE;
	return EX_OK;
}

static int
set_transport(struct route_opts *o, const char *v)
{
	if (strcmp(v, "unbound") == 0)
		o->transport = MX_TRANSPORT_UNBOUND;
	else if (strcmp(v, "stub") == 0)
		o->transport = MX_TRANSPORT_STUB;
	else
		return cli_warn("route", "--transport takes unbound or stub, not \"%s\"", v),
		       EX_USAGE;
	o->transport_set = true;
	return EX_OK;
}

static int
set_file_option(struct route_opts *o, int opt, const char *v)
{
	if (opt == 'a' && strcmp(v, "none") == 0)
		return mx_resolver_set_trust_anchor(o->resolver, NULL) == MX_OK ? EX_OK : EX_OSERR;
	if (access(v, R_OK) != 0) {
		cli_warn("route", "%s %s: %s", opt == 'a' ? "--trust-anchor" : "--resolv-conf", v,
		    strerror(errno));
		return EX_NOINPUT;
	}
	if (opt == 'a')
		return mx_resolver_set_trust_anchor(o->resolver, v) == MX_OK ? EX_OK : EX_OSERR;
	return mx_resolver_set_resolv_conf(o->resolver, v) == MX_OK ? EX_OK : EX_OSERR;
}

static int
apply_option(struct route_opts *o, int opt, const char *v)
{
	unsigned long long n;
	unsigned ms;

	switch (opt) {
	case 'j': o->json = true; return EX_OK;
	case 'r':
		if (mx_resolver_add_server(o->resolver, v) == MX_OK)
			return EX_OK;
		cli_warn("route", "--resolver takes IP or IP@PORT (at most 16), not \"%s\"", v);
		return EX_USAGE;
	case 's':
		if (!cli_parse_uint(v, UINT64_MAX, &n))
			return cli_warn("route", "--seed takes a whole number, not \"%s\"", v),
			       EX_USAGE;
		mx_policy_set_seed(o->policy, n);
		return EX_OK;
	case 'p': return set_prefer(o, v);
	case 'l':
		if (mx_policy_add_local_name(o->policy, v) == MX_OK)
			return EX_OK;
		cli_warn(
		    "route", "--local-name \"%s\" is not a host name (or more than 32 given)", v);
		return EX_USAGE;
	case 't':
		if (!cli_parse_seconds(v, MAX_TIMEOUT_MS, &ms))
			return cli_warn("route",
				   "--timeout takes seconds between 0.001 and 3600, "
				   "not \"%s\"",
				   v),
			       EX_USAGE;
		mx_policy_set_timeout_ms(o->policy, ms);
		return EX_OK;
	case 'a':
	case 'c': return set_file_option(o, opt, v);
	case 'b': o->bulk = true; return EX_OK;
	case 'n':
		if (!cli_parse_uint(v, 100000, &n) || n == 0)
			return cli_warn("route",
				   "--concurrency takes a number from 1 to "
				   "100000, not \"%s\"",
				   v),
			       EX_USAGE;
		o->concurrency = (unsigned)n;
		return EX_OK;
	case 'T': return set_transport(o, v);
	case 0x130: o->tls_policy = true; return EX_OK;
	case 0x131: o->ca_file = v; return EX_OK;
	case 'C': o->csv = true; return EX_OK;
	case 'S':
		if (cli_parse_shard(v, &o->shard))
			return EX_OK;
		return cli_warn("route", "--shard takes K/N with 1 <= K <= N, not \"%s\"", v),
		       EX_USAGE;
	}
	return EX_USAGE;
}

static int
parse_options(int argc, char **argv, struct route_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "resolver", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "prefer", required_argument, NULL, 'p' },
		{ "local-name", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "trust-anchor", required_argument, NULL, 'a' },
		{ "resolv-conf", required_argument, NULL, 'c' },
		{ "bulk", no_argument, NULL, 'b' },
		{ "concurrency", required_argument, NULL, 'n' },
		{ "transport", required_argument, NULL, 'T' },
		{ "tls-policy", no_argument, NULL, 0x130 },
		{ "ca-file", required_argument, NULL, 0x131 },
		{ "csv", no_argument, NULL, 'C' },
		{ "shard", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "jhbr:s:p:l:t:a:c:n:T:", longopts, NULL)) != -1) {
		if (opt == 'h') {
			route_usage(stdout);
			return -1;
		}
		if (opt == '?' || opt == ':') {
			cli_warn("route", "unknown option or missing value: %s", argv[optind - 1]);
			route_usage(stderr);
			return EX_USAGE;
		}
		if ((rc = apply_option(o, opt, optarg)) != EX_OK)
			return rc;
	}
	if (!o->bulk && (o->csv || o->shard.n))
		return cli_warn("route", "--csv and --shard go with --bulk"), EX_USAGE;
	if (o->bulk)
		return optind + 1 < argc ? (cli_warn("route",
						"--bulk reads one FILE "
						"(or - for standard input)"),
					       EX_USAGE)
					 : EX_OK;
	if (optind >= argc) {
		cli_warn("route", "no domain or address given");
		route_usage(stderr);
		return EX_USAGE;
	}
	return EX_OK;
}

/* Malformed arguments are reported first; the rest are still routed. */
static void
check_arguments(struct route_run *run)
{
	char canon[MX_DOMAIN_MAX + 1];

	for (int i = 0; i < run->argc; i++) {
		if (mx_domain_from_arg(run->args[i], canon, &run->invalid[i]) == MX_OK)
			continue;
		cli_warn("route", "\"%s\" %s", run->args[i], run->invalid[i].text);
		worsen(run, EX_DATAERR);
	}
}

static int
route_all(struct route_opts *o, int argc, char **argv)
{
	struct route_run run = {
		.json = o->json, .argc = argc, .args = argv, .want_sts = o->tls_policy
	};
	struct route_slot *slots = calloc((size_t)argc, sizeof(*slots));
	mx_err err = MX_OK;

	run.plans = calloc((size_t)argc, sizeof(*run.plans));
	run.invalid = calloc((size_t)argc, sizeof(*run.invalid));
	run.sts = calloc((size_t)argc, sizeof(*run.sts));
	if (slots == NULL || run.plans == NULL || run.invalid == NULL || run.sts == NULL) {
		cli_warn("route", "out of memory");
		run.exit_code = EX_OSERR;
		goto out;
	}
	check_arguments(&run);
	flush_ready(&run); /* leading invalid arguments, in JSON mode */
	for (int i = 0; i < argc && err == MX_OK; i++) {
		if (run.invalid[i].text[0] != '\0')
			continue;
		slots[i] = (struct route_slot){ &run, i };
		err = mx_route_start(
		    o->resolver, o->policy, argv[i], on_plan, &slots[i], &run.failure);
		if (err == MX_OK && o->tls_policy)
			err = mx_sts_start(o->resolver, argv[i], o->ca_file, on_sts, &slots[i]);
	}
	if (err == MX_OK)
		err = mx_resolver_run(o->resolver);
	if (err != MX_OK) {
		cli_warn("route", "%s%s%s", mx_strerror(err), run.failure.text[0] ? ": " : "",
		    run.failure.text);
		run.exit_code = cli_exit_for(err);
	}
out:
	free(slots);
	free(run.sts);
	free(run.plans);
	free(run.invalid);
	return run.exit_code;
}

int
cmd_route(int argc, char **argv)
{
	struct route_opts o = { 0 };
	int rc;

	if (mx_resolver_new(&o.resolver) != MX_OK || mx_policy_new(&o.policy) != MX_OK) {
		cli_warn("route", "cannot set up the resolver (out of memory or sockets)");
		rc = EX_OSERR;
		goto out;
	}
	rc = parse_options(argc, argv, &o);
	if (rc == EX_OK && (o.transport_set || o.bulk) &&
	    mx_resolver_set_transport(
		o.resolver, o.transport_set ? o.transport : MX_TRANSPORT_STUB) != MX_OK)
		rc = EX_SOFTWARE;
	if (rc == -1)
		rc = EX_OK;
	else if (rc == EX_OK && o.bulk)
		rc = cmd_bulk(&o, optind < argc ? argv[optind] : "-");
	else if (rc == EX_OK)
		rc = route_all(&o, argc - optind, argv + optind);
out:
	mx_policy_free(o.policy);
	mx_resolver_free(o.resolver);
	return rc;
}
