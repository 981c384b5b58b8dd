/*
 * config_syntax.c - /etc/mx.conf (or --config FILE): the long options of a
 * command written one per line, so that a cron job or a service unit
 * needs no long command line.  It owns the file's syntax only (reading
 * the file is config.c's); every value goes through the same code
 * as the command line's.
 *
 * Hand-written because the format is a list of the command's own
 * options; no library parses "name value" lines into getopt options.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "config_syntax.h"

#define CONFIG_LINE_MAX 1024

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

/* Whether another mx command takes this setting: the file is shared by
 * them all (as Postfix's main.cf is by its programs), so a command passes
 * over the others' settings; only a name none of them takes is an error. */
static bool
another_commands(const struct option *const *others, const char *name, size_t n)
{
	for (; others != NULL && *others != NULL; others++) {
		const struct option *o = find_option(*others, name, n);
		if (o != NULL && strcmp(o->name, "config") != 0 && strcmp(o->name, "help") != 0)
			return true;
	}
	return false;
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
    const struct option *longopts, const struct option *const *others, int argc, char **argv,
    config_apply_fn apply, void *ctx)
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
	if (opt == NULL && another_commands(others, name, (size_t)(name_end - name)))
		return EX_OK;
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
    const struct option *longopts, const struct option *const *others, int argc, char **argv,
    config_apply_fn apply, void *ctx)
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
		if ((rc = parse_line(p, line_end, path, lineno, cmd, longopts, others, argc, argv,
			 apply, ctx)) != EX_OK)
			return rc;
		p = eol ? eol + 1 : end;
	}
	return EX_OK;
}
