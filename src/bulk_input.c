/*
 * bulk_input.c - the input side of the bulk commands: a list of any
 * length read one line at a time (a line is read only when the caller has
 * room for it, so memory follows the concurrency, not the input), each
 * line's shard key, the progress line and the output buffer.  Knows
 * nothing of routes or checks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bulk_input.h"

double
bulk_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
bulk_input_open(struct bulk_input *in, const char *cmd, const char *path)
{
	struct stat sb;

	memset(in, 0, sizeof(*in));
	in->path = path;
	in->in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (in->in == NULL) {
		cli_warn(cmd, "--bulk: cannot read %s: %s", path, strerror(errno));
		return EX_NOINPUT;
	}
	if (fstat(fileno(in->in), &sb) == 0 && S_ISREG(sb.st_mode))
		in->size = sb.st_size;
	return EX_OK;
}

void
bulk_input_close(struct bulk_input *in)
{
	if (in->in != NULL && in->in != stdin)
		fclose(in->in);
	in->in = NULL;
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
	while (
	    end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return *line ? line : NULL;
}

enum bulk_line
bulk_input_next(struct bulk_input *in, char buf[BULK_LINE_MAX], char **text)
{
	size_t len;
	int c;

	if (in->eof || fgets(buf, BULK_LINE_MAX, in->in) == NULL) {
		in->eof = true;
		in->read_error = ferror(in->in) != 0;
		return BULK_EOF;
	}
	len = strlen(buf);
	in->line_no++;
	in->consumed += (off_t)len;
	if (len == BULK_LINE_MAX - 1 && buf[len - 1] != '\n') {
		while ((c = getc(in->in)) != EOF && c != '\n')
			in->consumed++;
		buf[64] = '\0';
		*text = buf;
		return BULK_OVERLONG;
	}
	*text = trim(buf);
	return *text ? BULK_TEXT : BULK_BLANK;
}

/* The key that picks a line's shard: the canonical domain of text (into
 * canon; why->text ""), or, for a line that is not a domain, text itself
 * (why says what is wrong). */
static const char *
bulk_key(const char *text, char canon[MX_DOMAIN_MAX + 1], mx_why *why)
{
	if (mx_domain_from_arg(text, canon, why) == MX_OK)
		return canon;
	if (why->text[0] == '\0')
		snprintf(why->text, sizeof(why->text), "is not a domain");
	return text;
}

enum bulk_verdict
bulk_classify(const struct cli_shard *shard, enum bulk_line kind, const char *text,
    char canon[MX_DOMAIN_MAX + 1], mx_why *why)
{
	const char *key;

	if (kind == BULK_OVERLONG) {
		snprintf(why->text, sizeof(why->text), "is longer than %d bytes", BULK_LINE_MAX);
		return cli_shard_mine(shard, text) ? BULK_INVALID : BULK_SKIP;
	}
	key = bulk_key(text, canon, why);
	if (!cli_shard_mine(shard, key))
		return BULK_SKIP;
	return why->text[0] != '\0' ? BULK_INVALID : BULK_START;
}

void
bulk_clock_start(struct bulk_clock *c)
{
	c->started = bulk_now();
	c->last = 0;
	c->on = isatty(STDERR_FILENO);
}

void
bulk_progress(struct bulk_clock *c, const struct bulk_input *in, unsigned long done,
    unsigned long errors, bool final)
{
	double t = bulk_now(), elapsed = t - c->started;
	double rate = elapsed > 0 ? (double)done / elapsed : 0;

	if (!c->on || (!final && t - c->last < 0.5))
		return;
	c->last = t;
	fprintf(stderr, "\r%lu done, %.0f/s, %lu errors", done, rate, errors);
	if (in->size > 0 && in->consumed > 0 && !final)
		fprintf(stderr, ", ETA %.0f s   ",
		    elapsed * (double)(in->size - in->consumed) / (double)in->consumed);
	if (final)
		fputs("                \n", stderr);
}

void
bulk_buffer_stdout(void)
{
	/* glibc ignores the size unless given the buffer, which must outlive
	 * stdout: static.  To a terminal, lines go out as they come. */
	static char out_buffer[64 * 1024];

	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, out_buffer, _IOFBF, sizeof(out_buffer));
}
