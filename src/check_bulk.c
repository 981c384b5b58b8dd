/*
 * check_bulk.c - `mx check --bulk`: a live check of every domain in a file
 * or on standard input, --concurrency of them in flight on one resolver
 * (one cache), each finished check written at once as one line in the
 * `mx check --json` schema (or a CSV row), in completion order.  The
 * checks are a fixed pool made like the one the options configured
 * (mx_check_new_like) and reused, so memory follows the concurrency, not
 * the input.  SMTP is off unless --smtp; then every (MX host, address) is
 * probed once for the whole run (mx_check_probes).  The input, shards and
 * progress line are bulk_input.c's, as for `mx route --bulk`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bulk_input.h"
#include "check_bulk.h"

#define DEFAULT_CONCURRENCY 200

struct check_bulk;

struct slot {
	struct check_bulk *b;
	mx_check *check;
	struct slot *next_free;
};

struct check_bulk {
	struct bulk_input in;
	struct bulk_clock clock;
	struct slot *slots, *free;
	unsigned inflight, concurrency;
	unsigned long done, invalid, unknown, by_worst[MX_SEVERITY_ERROR + 1];
	bool csv, write_error;
	mx_err failure;
	struct cli_shard shard;
	mx_resolver *resolver;
	mx_check_probes *probes;
};

/* The distinct ids of one severity, space-separated (findings are sorted). */
static void
put_ids(const mx_check *c, mx_severity s)
{
	const char *prev = "";
	size_t shown = 0;

	for (size_t i = 0; i < mx_check_finding_count(c); i++) {
		const mx_finding *f = mx_check_finding(c, i);
		if (mx_finding_severity(f) != s || strcmp(prev, mx_finding_id(f)) == 0)
			continue;
		printf("%s%s", shown++ ? " " : "", mx_finding_id(f));
		prev = mx_finding_id(f);
	}
	putchar(',');
}

static size_t
count_of(const mx_check *c, mx_severity s)
{
	size_t n = 0;

	for (size_t i = 0; i < mx_check_finding_count(c); i++)
		n += mx_finding_severity(mx_check_finding(c, i)) == s;
	return n;
}

/* CSV: domain,state,errors,warnings,notices,error_ids,warning_ids,
 * notice_ids,reason (mx(1)); state is ok, warning, error or unknown. */
static void
put_csv(const mx_check *c)
{
	mx_severity w = mx_check_worst(c);
	const char *state = mx_check_tempfail(c) ? "unknown"
	    : w == MX_SEVERITY_ERROR             ? "error"
	    : w == MX_SEVERITY_WARNING           ? "warning"
						 : "ok";

	cli_csv_field(stdout, mx_check_domain(c), false);
	printf("%s,%zu,%zu,%zu,", state, count_of(c, MX_SEVERITY_ERROR),
	    count_of(c, MX_SEVERITY_WARNING), count_of(c, MX_SEVERITY_NOTICE));
	put_ids(c, MX_SEVERITY_ERROR);
	put_ids(c, MX_SEVERITY_WARNING);
	put_ids(c, MX_SEVERITY_NOTICE);
	cli_csv_field(stdout, mx_check_tempfail_reason(c), true);
}

/* Takes line (NULL when it could not be made). */
static void
put_json(struct check_bulk *b, char *line)
{
	if (line == NULL || fputs(line, stdout) == EOF || putchar('\n') == EOF)
		b->write_error = true;
	free(line);
}

static void
on_check(mx_check *c, void *arg)
{
	struct slot *s = arg;
	struct check_bulk *b = s->b;
	char *line = NULL;

	if (b->csv)
		put_csv(c);
	else if (mx_check_to_json(c, &line) == MX_OK)
		put_json(b, line);
	else
		b->write_error = true;
	if (mx_check_tempfail(c))
		b->unknown++;
	else
		b->by_worst[mx_check_finding_count(c) ? mx_check_worst(c) : MX_SEVERITY_INFO]++;
	b->done++;
	b->inflight--;
	s->next_free = b->free;
	b->free = s;
}

static void
put_invalid(struct check_bulk *b, const char *text, const char *why)
{
	char reason[256], *line = NULL;

	snprintf(reason, sizeof(reason), "line %lu %.200s", b->in.line_no, why);
	if (b->csv) {
		cli_csv_field(stdout, text, false);
		fputs("invalid,0,0,0,,,,", stdout);
		cli_csv_field(stdout, reason, true);
	} else if (mx_check_invalid_to_json(text, reason, &line) == MX_OK) {
		put_json(b, line);
	} else {
		b->write_error = true;
	}
	b->invalid++;
	b->done++;
}

static void
start_line(struct check_bulk *b, enum bulk_line kind, char *text)
{
	char canon[MX_DOMAIN_MAX + 1];
	mx_why why;
	struct slot *s;
	mx_err err;

	switch (bulk_classify(&b->shard, kind, text, canon, &why)) {
	case BULK_SKIP: return;
	case BULK_INVALID: put_invalid(b, text, why.text); return;
	case BULK_START: break;
	}
	s = b->free;
	if ((err = mx_check_start(s->check, canon, on_check, s, NULL)) != MX_OK) {
		b->failure = err;
		return;
	}
	b->free = s->next_free;
	b->inflight++;
}

static void
fill(struct check_bulk *b)
{
	char buf[BULK_LINE_MAX], *text;
	enum bulk_line kind;

	while (!b->in.eof && b->failure == MX_OK && b->free != NULL)
		if ((kind = bulk_input_next(&b->in, buf, &text)) == BULK_TEXT ||
		    kind == BULK_OVERLONG)
			start_line(b, kind, text);
}

static void
summary(struct check_bulk *b)
{
	struct mx_resolver_stats st;
	double elapsed = bulk_now() - b->clock.started;
	unsigned long probed, reused;

	mx_resolver_get_stats(b->resolver, &st);
	mx_check_probes_stats(b->probes, &probed, &reused);
	fprintf(stderr,
	    "mx check --bulk: %lu lines in %.2f s (%.0f/s): ok %lu, "
	    "notice %lu, warning %lu, error %lu, unknown %lu, invalid %lu; queries %lu, "
	    "retries %lu, timeouts %lu; SMTP probes %lu, reused %lu\n",
	    b->done, elapsed, elapsed > 0 ? (double)b->done / elapsed : 0.0,
	    b->by_worst[MX_SEVERITY_INFO], b->by_worst[MX_SEVERITY_NOTICE],
	    b->by_worst[MX_SEVERITY_WARNING], b->by_worst[MX_SEVERITY_ERROR], b->unknown,
	    b->invalid, st.queries, st.retries, st.timeouts, probed, reused);
}

static mx_err
make_pool(struct check_bulk *b, const mx_check *model)
{
	mx_err err;

	if ((b->slots = calloc(b->concurrency, sizeof(*b->slots))) == NULL)
		return MX_ERR_NOMEM;
	for (unsigned i = 0; i < b->concurrency; i++) {
		struct slot *s = &b->slots[i];
		if ((err = mx_check_new_like(&s->check, model)) != MX_OK)
			return err;
		s->b = b;
		s->next_free = b->free;
		b->free = s;
	}
	return MX_OK;
}

static void
free_pool(struct check_bulk *b)
{
	for (unsigned i = 0; b->slots != NULL && i < b->concurrency; i++)
		mx_check_free(b->slots[i].check);
	free(b->slots);
}

static mx_err
run(struct check_bulk *b)
{
	mx_err err = MX_OK;
	unsigned long errors;

	for (;;) {
		fill(b);
		if (b->inflight == 0 && (b->in.eof || b->failure != MX_OK))
			break;
		if ((err = mx_resolver_run_once(b->resolver)) != MX_OK)
			break;
		errors = b->invalid + b->unknown;
		bulk_progress(&b->clock, &b->in, b->done, errors, false);
	}
	bulk_progress(&b->clock, &b->in, b->done, b->invalid + b->unknown, true);
	return err != MX_OK ? err : b->failure;
}

static int
finish(struct check_bulk *b, mx_err err)
{
	summary(b);
	bulk_input_close(&b->in);
	if (fflush(stdout) == EOF)
		b->write_error = true;
	if (err != MX_OK) {
		cli_warn("check", "--bulk stopped at line %lu: %s%s%s", b->in.line_no,
		    mx_strerror(err), mx_resolver_diagnostic(b->resolver)[0] ? ": " : "",
		    mx_resolver_diagnostic(b->resolver));
		return cli_exit_for(err);
	}
	if (b->in.read_error) {
		cli_warn("check", "--bulk: read error on %s", b->in.path);
		return EX_IOERR;
	}
	return b->write_error ? EX_IOERR : EX_OK;
}

int
cmd_check_bulk(struct check_opts *o, const char *path)
{
	struct check_bulk b = { 0 };
	mx_err err;
	int rc;

	if ((rc = bulk_input_open(&b.in, "check", path)) != EX_OK)
		return rc;
	b.resolver = o->resolver;
	b.csv = o->csv;
	b.shard = o->shard;
	b.concurrency = o->concurrency ? o->concurrency : DEFAULT_CONCURRENCY;
	mx_check_set_smtp(o->check, o->smtp_asked);
	if (o->smtp_asked && mx_check_probes_new(&b.probes) != MX_OK)
		err = MX_ERR_NOMEM;
	else
		err = MX_OK;
	mx_check_share_probes(o->check, b.probes);
	if (err == MX_OK)
		err = make_pool(&b, o->check);
	bulk_buffer_stdout();
	bulk_clock_start(&b.clock);
	if (b.csv && b.shard.k <= 1)
		puts(
		    "domain,state,errors,warnings,notices,error_ids,warning_ids,notice_ids,reason");
	if (err == MX_OK)
		err = run(&b);
	rc = finish(&b, err);
	free_pool(&b);
	mx_check_share_probes(o->check, NULL);
	mx_check_probes_free(b.probes);
	return rc;
}
