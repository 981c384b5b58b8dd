/*
 * bulk.c - `mx route --bulk`: streams domains (or addresses) from a file
 * or standard input (bulk_input.c), keeps at most --concurrency plans in
 * flight on one resolver (the c-ares stub transport unless --transport
 * says otherwise), and writes each finished plan as one JSON line (or CSV
 * row), in completion order.  Memory is bounded by the concurrency, never
 * by the input: a line is read only when a slot is free, a plan is freed
 * once printed.  --shard K/N keeps the lines whose domain hashes to K.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bulk.h"
#include "bulk_input.h"
#include "cli.h"

#define DEFAULT_CONCURRENCY 1000

struct bulk {
	struct bulk_input in;
	struct bulk_clock clock;
	unsigned inflight, concurrency;
	unsigned long done, invalid;
	unsigned long by_status[MX_STATUS_LOOP + 1];
	bool csv;
	bool write_error;
	mx_err failure; /* the resolver could not start a lookup */
	mx_why why;     /* why the run failed */
	struct cli_shard shard;
	mx_resolver *resolver;
	const mx_policy *policy;
};

static void
put_line(struct bulk *b, const char *line)
{
	if (fputs(line, stdout) == EOF || putchar('\n') == EOF)
		b->write_error = true;
}

/* CSV: domain,status,reason,dnssec,implicit_mx,hosts,addresses (mx(1)). */
static void
put_csv_plan(const mx_plan *plan)
{
	size_t n = mx_plan_host_count(plan);

	cli_csv_field(stdout, mx_plan_domain(plan), false);
	cli_csv_field(stdout, mx_status_name(mx_plan_status(plan)), false);
	cli_csv_field(stdout, mx_plan_reason(plan), false);
	cli_csv_field(stdout, mx_dnssec_name(mx_plan_dnssec(plan)), false);
	cli_csv_field(stdout, mx_plan_implicit_mx(plan) ? "yes" : "no", false);
	for (size_t i = 0; i < n; i++) {
		const mx_host *h = mx_plan_host(plan, i);
		printf("%s%u:%s", i ? " " : "", mx_host_preference(h), mx_host_name(h));
	}
	putchar(',');
	for (size_t i = 0, k = 0; i < n; i++) {
		const mx_host *h = mx_plan_host(plan, i);
		for (size_t j = 0; j < mx_host_address_count(h); j++)
			printf("%s%s", k++ ? " " : "", mx_host_address(h, j));
	}
	putchar('\n');
}

static void
put_invalid(struct bulk *b, const char *text, const char *why)
{
	char reason[256], *line = NULL;

	snprintf(reason, sizeof(reason), "line %lu %.200s", b->in.line_no, why);
	if (b->csv) {
		cli_csv_field(stdout, text, false);
		cli_csv_field(stdout, "invalid", false);
		cli_csv_field(stdout, reason, false);
		fputs("none,no,,\n", stdout);
	} else if (mx_invalid_to_json(text, reason, &line) == MX_OK) {
		put_line(b, line);
	} else {
		b->write_error = true;
	}
	free(line);
	b->invalid++;
	b->done++;
}

static void
on_plan(mx_plan *plan, void *arg)
{
	struct bulk *b = arg;
	char *json = NULL;

	if (b->csv)
		put_csv_plan(plan);
	else if (mx_plan_to_json(plan, &json) == MX_OK)
		put_line(b, json);
	else
		b->write_error = true;
	free(json);
	b->by_status[mx_plan_status(plan)]++;
	b->done++;
	b->inflight--;
	mx_plan_free(plan);
}

static void
start_line(struct bulk *b, enum bulk_line kind, char *text)
{
	char canon[MX_DOMAIN_MAX + 1];
	mx_why why;
	mx_err err;

	switch (bulk_classify(&b->shard, kind, text, canon, &why)) {
	case BULK_SKIP: return;
	case BULK_INVALID: put_invalid(b, text, why.text); return;
	case BULK_START: break;
	}
	/* Only a bad line is the line's fault; anything else ends the run. */
	if ((err = mx_route_start(b->resolver, b->policy, canon, on_plan, b, &b->why)) != MX_OK) {
		b->failure = err;
		return;
	}
	b->inflight++;
}

static void
fill(struct bulk *b)
{
	char buf[BULK_LINE_MAX], *text;
	enum bulk_line kind;

	while (!b->in.eof && b->failure == MX_OK && b->inflight < b->concurrency)
		if ((kind = bulk_input_next(&b->in, buf, &text)) == BULK_TEXT ||
		    kind == BULK_OVERLONG)
			start_line(b, kind, text);
}

static void
summary(struct bulk *b)
{
	struct mx_resolver_stats st;
	double elapsed = bulk_now() - b->clock.started;

	mx_resolver_get_stats(b->resolver, &st);
	fprintf(stderr, "mx route --bulk: %lu lines in %.2f s (%.0f/s): ", b->done, elapsed,
	    elapsed > 0 ? (double)b->done / elapsed : 0.0);
	for (int s = MX_STATUS_OK; s <= MX_STATUS_LOOP; s++)
		fprintf(stderr, "%s %lu, ", mx_status_name((mx_status)s), b->by_status[s]);
	fprintf(stderr,
	    "invalid %lu; queries %lu, retries %lu, timeouts %lu, "
	    "address cache hits %lu\n",
	    b->invalid, st.queries, st.retries, st.timeouts, st.cache_hits);
}

static void
run(struct bulk *b, mx_err *err)
{
	for (;;) {
		fill(b);
		if (b->inflight == 0 && (b->in.eof || b->failure != MX_OK))
			break;
		if ((*err = mx_resolver_run_once(b->resolver)) != MX_OK)
			break;
		bulk_progress(&b->clock, &b->in, b->done,
		    b->invalid + b->by_status[MX_STATUS_TEMPFAIL], false);
	}
	bulk_progress(
	    &b->clock, &b->in, b->done, b->invalid + b->by_status[MX_STATUS_TEMPFAIL], true);
}

int
cmd_bulk(struct route_opts *o, const char *path)
{
	struct bulk b = { 0 };
	mx_err err = MX_OK;
	int rc;

	if ((rc = bulk_input_open(&b.in, "route", path)) != EX_OK)
		return rc;
	b.resolver = o->resolver;
	b.policy = o->policy;
	b.csv = o->csv;
	b.shard = o->shard;
	b.concurrency = o->concurrency ? o->concurrency : DEFAULT_CONCURRENCY;
	bulk_buffer_stdout();
	bulk_clock_start(&b.clock);
	if (mx_resolver_set_max_inflight(o->resolver, b.concurrency) != MX_OK)
		return EX_SOFTWARE;
	/* one header for the concatenated shards: shard 1's */
	if (b.csv && b.shard.k <= 1)
		puts("domain,status,reason,dnssec,implicit_mx,hosts,addresses");
	run(&b, &err);
	summary(&b);
	bulk_input_close(&b.in);
	if (fflush(stdout) == EOF)
		b.write_error = true;
	if (err == MX_OK)
		err = b.failure;
	if (err != MX_OK) {
		cli_warn("route", "--bulk stopped at line %lu: %s%s%s", b.in.line_no,
		    mx_strerror(err), b.why.text[0] ? ": " : "", b.why.text);
		return cli_exit_for(err);
	}
	if (b.in.read_error) {
		cli_warn("route", "--bulk: read error on %s", path);
		return EX_IOERR;
	}
	return b.write_error ? EX_IOERR : EX_OK;
}
