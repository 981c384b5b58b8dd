/*
 * bulk.c - `mx route --bulk`: streams domains (or addresses) from a file
 * or standard input, keeps at most --concurrency plans in flight on one
 * resolver (the c-ares stub transport unless --transport says otherwise),
 * and writes each finished plan as one JSON line, in completion order.
 * Memory is bounded by the concurrency, never by the input: a line is
 * read only when a slot is free, a plan is freed once printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bulk.h"
#include "cli.h"

#define DEFAULT_CONCURRENCY 1000
#define MAX_LINE 4096 /* longer lines are reported invalid, not read whole */

struct bulk {
	FILE *in;
	const char *path;
	bool eof;
	bool read_error;
	unsigned long line_no;
	unsigned inflight, concurrency;
	unsigned long done, invalid;
	unsigned long by_status[MX_STATUS_LOOP + 1];
	off_t size;                   /* of a regular input file, for the ETA */
	off_t consumed;
	double started, last_progress;
	bool progress;
	bool write_error;
	mx_err failure;               /* the resolver could not start a lookup */
	mx_why why;                   /* ... and why; or why a line is bad */
	mx_resolver *resolver;
	const mx_policy *policy;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
put_line(struct bulk *b, const char *line)
{
	if (fputs(line, stdout) == EOF || putchar('\n') == EOF)
		b->write_error = true;
}

static void
put_invalid(struct bulk *b, const char *text, const char *why)
{
	char reason[256], *line = NULL;

	snprintf(reason, sizeof(reason), "line %lu %s", b->line_no, why);
	if (mx_invalid_to_json(text, reason, &line) == MX_OK)
		put_line(b, line);
	else
		b->write_error = true;
	free(line);
	b->invalid++;
	b->done++;
}

static void
on_plan(mx_plan *plan, void *arg)
{
	struct bulk *b = arg;
	char *json = NULL;

	if (mx_plan_to_json(plan, &json) == MX_OK)
		put_line(b, json);
	else
		b->write_error = true;
	free(json);
	b->by_status[mx_plan_status(plan)]++;
	b->done++;
	b->inflight--;
	mx_plan_free(plan);
}

/* Strips blanks and comments; returns NULL when nothing is left. */
static char *
trim(char *line)
{
	char *end, *hash = strchr(line, '#');

	if (hash != NULL)
		*hash = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	end = line + strlen(line);
	while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
	    end[-1] == '\r'))
		*--end = '\0';
	return *line ? line : NULL;
}

/* Skips the rest of an overlong line. */
static void
skip_rest(struct bulk *b)
{
	int c;

	while ((c = getc(b->in)) != EOF && c != '\n')
		b->consumed++;
}

static void
start_line(struct bulk *b, char *buf)
{
	char *text;
	size_t len = strlen(buf);
	mx_err err;

	b->line_no++;
	b->consumed += (off_t)len;
	if (len == MAX_LINE - 1 && buf[len - 1] != '\n') {
		skip_rest(b);
		buf[64] = '\0';
		put_invalid(b, buf, "is longer than 4096 bytes");
		return;
	}
	if ((text = trim(buf)) == NULL)
		return;
	/* mx_route_start checks the line as mx_domain_from_arg does, and
	 * says why a bad one is bad in the same words. */
	err = mx_route_start(b->resolver, b->policy, text, on_plan, b, &b->why);
	if (err == MX_ERR_BAD_DOMAIN) {
		put_invalid(b, text, b->why.text);
		b->why.text[0] = '\0'; /* the line's, not the run's */
		return;
	}
	/* Only a bad line is the line's fault; anything else ends the run. */
	if (err != MX_OK) {
		b->failure = err;
		return;
	}
	b->inflight++;
}

static void
fill(struct bulk *b)
{
	char buf[MAX_LINE];

	while (!b->eof && b->failure == MX_OK && b->inflight < b->concurrency) {
		if (fgets(buf, sizeof(buf), b->in) == NULL) {
			b->eof = true;
			b->read_error = ferror(b->in) != 0;
			return;
		}
		start_line(b, buf);
	}
}

static void
show_progress(struct bulk *b, bool final)
{
	double t = now(), elapsed = t - b->started;
	double rate = elapsed > 0 ? (double)b->done / elapsed : 0;
	unsigned long errors = b->invalid + b->by_status[MX_STATUS_TEMPFAIL];

	if (!b->progress || (!final && t - b->last_progress < 0.5))
		return;
	b->last_progress = t;
	fprintf(stderr, "\r%lu done, %.0f/s, %lu errors", b->done, rate, errors);
	if (b->size > 0 && b->consumed > 0 && !final)
		fprintf(stderr, ", ETA %.0f s   ",
		    elapsed * (double)(b->size - b->consumed) / (double)b->consumed);
	if (final)
		fputs("                \n", stderr);
}

static void
summary(struct bulk *b)
{
	struct mx_resolver_stats st;
	double elapsed = now() - b->started;

	mx_resolver_get_stats(b->resolver, &st);
	fprintf(stderr, "mx route --bulk: %lu lines in %.2f s (%.0f/s): ", b->done,
	    elapsed, elapsed > 0 ? (double)b->done / elapsed : 0.0);
	for (int s = MX_STATUS_OK; s <= MX_STATUS_LOOP; s++)
		fprintf(stderr, "%s %lu, ", mx_status_name((mx_status)s), b->by_status[s]);
	fprintf(stderr, "invalid %lu; queries %lu, retries %lu, timeouts %lu, "
	    "address cache hits %lu\n", b->invalid, st.queries, st.retries,
	    st.timeouts, st.cache_hits);
}

static int
open_input(struct bulk *b, const char *path)
{
	struct stat sb;

	b->path = path;
	b->in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (b->in == NULL) {
		cli_warn("route", "--bulk: cannot read %s: %s", path, strerror(errno));
		return EX_NOINPUT;
	}
	if (fstat(fileno(b->in), &sb) == 0 && S_ISREG(sb.st_mode))
		b->size = sb.st_size;
	return EX_OK;
}

int
cmd_bulk(struct route_opts *o, const char *path)
{
	static char out_buffer[64 * 1024];
	struct bulk b = {0};
	mx_err err = MX_OK;
	int rc;

	if ((rc = open_input(&b, path)) != EX_OK)
		return rc;
	b.resolver = o->resolver;
	b.policy = o->policy;
	b.concurrency = o->concurrency ? o->concurrency : DEFAULT_CONCURRENCY;
	b.progress = isatty(STDERR_FILENO);
	/* Into a file or a pipe, lines go out in 64 KiB writes instead of
	 * stdio's 4 KiB ones (glibc ignores the size unless given the buffer,
	 * which must outlive stdout: static); to a terminal, as they come. */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, out_buffer, _IOFBF, sizeof(out_buffer));
	b.started = now();
	if (mx_resolver_set_max_inflight(o->resolver, b.concurrency) != MX_OK)
		return EX_SOFTWARE;
	for (;;) {
		fill(&b);
		if (b.inflight == 0 && (b.eof || b.failure != MX_OK))
			break;
		if ((err = mx_resolver_run_once(o->resolver)) != MX_OK)
			break;
		show_progress(&b, false);
	}
	show_progress(&b, true);
	summary(&b);
	if (b.in != stdin)
		fclose(b.in);
	if (fflush(stdout) == EOF)
		b.write_error = true;
	if (err == MX_OK)
		err = b.failure;
	if (err != MX_OK) {
		cli_warn("route", "--bulk stopped at line %lu: %s%s%s", b.line_no,
		    mx_strerror(err), b.why.text[0] ? ": " : "", b.why.text);
		return cli_exit_for(err);
	}
	if (b.read_error) {
		cli_warn("route", "--bulk: read error on %s", path);
		return EX_IOERR;
	}
	return b.write_error ? EX_IOERR : EX_OK;
}
