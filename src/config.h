/*
 * config.h - the configuration file (config.c) that gives `mx send` and
 * `mx queue` their long options: /etc/mx.conf or --config FILE.
 */
#ifndef MX_CONFIG_H
#define MX_CONFIG_H

#include <getopt.h>
#include <stddef.h>

#define MX_CONFIG_DEFAULT "/etc/mx.conf"

/*
 * The configuration file: "name value" lines, name being a long option of
 * the command (without "--"; an option without a value stands alone),
 * '#' comments, blank lines.  Settings of options also on the command
 * line are skipped, so that the command line wins; a repeatable option
 * (resolver) is taken from one place, never merged.  path NULL means
 * /etc/mx.conf when it exists; a path given must exist.  apply is called
 * as for a command-line option, with values that point into the file's
 * text and where = "FILE:LINE" (for its messages); *text_out receives the
 * text (when the file was read) for the caller to free after the last use
 * of the options.  EX_OK or an exit code after a message ("FILE:LINE: ..."):
 * a value the option refuses is EX_CONFIG, as any other fault of the file.
 */
typedef int (*config_apply_fn)(void *ctx, int opt, const char *value, const char *where);
int config_load(const char *path, const char *cmd, const struct option *longopts, int argc,
    char **argv, config_apply_fn apply, void *ctx, char **text_out);
/* The parser on its own, over len octets of text followed by one more that
 * it may overwrite (for the fuzzer): values are cut in place. */
int config_parse(char *text, size_t len, const char *path, const char *cmd,
    const struct option *longopts, int argc, char **argv, config_apply_fn apply, void *ctx);
/* The value of --config among the arguments, or NULL. */
const char *config_path_from_args(int argc, char **argv);

#endif
