/*
 * config.h - the configuration file (config.c) that gives `mx send` and
 * `mx queue` their long options: /etc/mx.conf or --config FILE.
 */
#ifndef MX_CONFIG_H
#define MX_CONFIG_H

#include <getopt.h>
#include <stddef.h>

#define MX_CONFIG_DEFAULT "/etc/mx.conf"
#define CONFIG_WHERE_MAX  4200 /* "FILE:LINE": a path of PATH_MAX, ':' and a line number */

/*
 * The configuration file: "name value" lines, name being a long option of
 * the command (without "--"; an option without a value stands alone),
 * '#' comments, blank lines.  The file is shared by every command that
 * reads it: a setting that is not this command's but another's (others,
 * a NULL-terminated list of their tables) is passed over; a name none of
 * them takes is an error.  Settings of options also on the command
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
    const struct option *longopts, const struct option *const *others, int argc, char **argv,
    config_apply_fn apply, void *ctx);
/* The long options of each command that reads the file (config_file.c
 * lists them; each is defined beside its command). */
extern const struct option daemon_longopts[], queue_longopts[], send_longopts[],
    sendmail_longopts[], tlsrpt_longopts[];
extern const struct option *const config_every_command[];
/* The value of --config among the arguments, or NULL. */
const char *config_path_from_args(int argc, char **argv);

#endif
