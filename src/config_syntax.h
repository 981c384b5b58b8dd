/*
 * config_syntax.h - the syntax of the configuration file (config_syntax.c):
 * "name value" lines of a command's long options.  Reading the file, and
 * which commands share it, is config.h's.
 */
#ifndef MX_CONFIG_SYNTAX_H
#define MX_CONFIG_SYNTAX_H

#include <getopt.h>
#include <stddef.h>

#define CONFIG_WHERE_MAX 4200 /* "FILE:LINE": a path of PATH_MAX, ':' and a line number */

typedef int (*config_apply_fn)(void *ctx, int opt, const char *value, const char *where);
/*
 * "name value" lines, name being a long option of the command (without
 * "--"; an option without a value stands alone), '#' comments, blank
 * lines, over len octets of text followed by one more that it may
 * overwrite (values are cut in place).  A setting that is not this
 * command's but another's (others, a NULL-terminated list of their
 * tables, or NULL) is passed over; a name none of them takes is an error.
 * Settings of options also on the command line are skipped, so that the
 * command line wins.  apply is called as for a command-line option, with
 * where = "FILE:LINE" (for its messages; it lives only during the call).
 * EX_OK or an exit code after a message ("FILE:LINE: ..."): a value the
 * option refuses is EX_CONFIG, as any other fault of the file.
 */
int config_parse(char *text, size_t len, const char *path, const char *cmd,
    const struct option *longopts, const struct option *const *others, int argc, char **argv,
    config_apply_fn apply, void *ctx);

#endif
