/*
 * config.c - /etc/mx.conf (or --config FILE): the long options of a
 * command written one per line, so that a cron job or a service unit
 * needs no long command line.  It owns the file's syntax only; every
 * value goes through the same code as the command line's.
 *
 * Hand-written because the format is a list of the command's own
 * options; no library parses "name value" lines into getopt options.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

#define CONFIG_SIZE_MAX  (64 * 1024)
#define CONFIG_LINE_MAX  1024
#define CONFIG_WHERE_MAX 4200 /* a path of PATH_MAX, ':' and a line number */

const char *
config_path_from_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}

/* Whether the command line gives this long option itself. */
static bool
given_on_command_line(const char *name, int argc, char **argv)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, n) == 0 &&
		    (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
			return true;
	}
	return false;
}

static const struct option *
find_option(const struct option *longopts, const char *name, size_t n)
{
	for (const struct option *o = longopts; o->name != NULL; o++)
		if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

static char *
skip_blanks(char *p, char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* One line (without its LF): EX_OK, or an exit code after a message. */
static int
parse_line(char *p, char *end, const char *path, size_t lineno, const char *cmd,
    const struct option *longopts, int argc, char **argv, config_apply_fn apply, void *ctx)
{
	char *name, *name_end, *v, where[CONFIG_WHERE_MAX];
	const struct option *opt;
	size_t vlen;
	int rc;

	if (end > p && end[-1] == '\r')
		end--;
	p = skip_blanks(p, end);
	if (p == end || *p == '#')
		return EX_OK;
	for (char *c = p; c < end; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return cli_warn(cmd, "%s:%zu: a control character (0x%02x)", path, lineno,
				   (unsigned char)*c),
			       EX_CONFIG;
	name = p;
	while (p < end && *p != ' ' && *p != '\t' && *p != '=')
		p++;
	name_end = p;
	p = skip_blanks(p, end);
	if (p < end && *p == '=')
		p = skip_blanks(p + 1, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	v = p;
	vlen = (size_t)(end - v);
	opt = find_option(longopts, name, (size_t)(name_end - name));
	if (opt == NULL || strcmp(opt->name, "config") == 0 || strcmp(opt->name, "help") == 0)
		return cli_warn(cmd, "%s:%zu: \"%.*s\" is not a setting of mx %s", path, lineno,
			   (int)(name_end - name > 64 ? 64 : name_end - name), name, cmd),
		       EX_CONFIG;
	if (opt->has_arg == required_argument && vlen == 0)
		return cli_warn(cmd, "%s:%zu: %s needs a value", path, lineno, opt->name),
		       EX_CONFIG;
	if (opt->has_arg == no_argument && vlen > 0)
		return cli_warn(cmd, "%s:%zu: %s takes no value", path, lineno, opt->name),
		       EX_CONFIG;
	if (given_on_command_line(opt->name, argc, argv))
		return EX_OK;
	v[vlen] = '\0'; /* over a blank, CR, LF or the caller's extra octet */
	snprintf(where, sizeof(where), "%s:%zu", path, lineno);
	rc = apply(ctx, opt->val, opt->has_arg == no_argument ? NULL : v, where);
	/* The option said what is wrong, with where; a value it refuses (or a
	 * file it names that cannot be read) is a fault of the file, which
	 * mx(1) promises as EX_CONFIG, not the command line's EX_USAGE. */
	return rc == EX_OK || rc == EX_OSERR ? rc : EX_CONFIG;
}

int
config_parse(char *text, size_t len, const char *path, const char *cmd,
    const struct option *longopts, int argc, char **argv, config_apply_fn apply, void *ctx)
{
	char *p = text, *end = text + len;
	size_t lineno = 0;
	int rc;

	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		char *line_end = eol ? eol : end;
		lineno++;
		if (line_end - p > CONFIG_LINE_MAX)
			return cli_warn(cmd, "%s:%zu: line longer than %d octets", path, lineno,
				   CONFIG_LINE_MAX),
			       EX_CONFIG;
		if ((rc = parse_line(p, line_end, path, lineno, cmd, longopts, argc, argv, apply,
			 ctx)) != EX_OK)
			return rc;
		p = eol ? eol + 1 : end;
	}
	return EX_OK;
}

int
config_load(const char *path, const char *cmd, const struct option *longopts, int argc, char **argv,
    config_apply_fn apply, void *ctx, char **text_out)
{
	bool required = path != NULL;
	char *text = NULL;
	struct stat st;
	ssize_t got = 0;
	int fd, rc = EX_CONFIG;

	if (path == NULL)
		path = MX_CONFIG_DEFAULT;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (!required && errno == ENOENT)
			return EX_OK;
		cli_warn(cmd, "cannot open %s: %s", path, strerror(errno));
		return required ? EX_NOINPUT : EX_CONFIG;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_SIZE_MAX) {
		cli_warn(cmd, "%s: not a regular file of at most %d octets", path, CONFIG_SIZE_MAX);
		goto out;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = EX_OSERR;
		goto out;
	}
	while (got < st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)(st.st_size - got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	if (got != st.st_size) {
		cli_warn(cmd, "cannot read %s", path);
		goto out;
	}
	text[got] = '\0';
	rc = config_parse(text, (size_t)got, path, cmd, longopts, argc, argv, apply, ctx);
	*text_out = text; /* the values point into it */
	text = NULL;
out:
	free(text);
	close(fd);
	return rc;
}
