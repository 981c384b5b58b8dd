/*
 * config.h - the configuration file (config.c) that gives mx send, mx
 * queue, mx daemon, mx tlsrpt and sendmail their long options:
 * /etc/mx.conf or --config FILE, one file shared by them all.
 */
#ifndef MX_CONFIG_H
#define MX_CONFIG_H

#include "config_syntax.h"

#define MX_CONFIG_DEFAULT "/etc/mx.conf"

/*
 * Reads the file and applies its settings (config_syntax.h says how; the
 * settings of the other commands that share the file are passed over).
 * A repeatable option (resolver) is taken from one place, never merged.
 * path NULL means /etc/mx.conf when it exists; a path given must exist.
 * Values point into the file's text: *text_out receives it (when the file
 * was read) for the caller to free after the last use of the options.
 * EX_OK or an exit code after a message.
 */
int config_load(const char *path, const char *cmd, const struct option *longopts, int argc,
    char **argv, config_apply_fn apply, void *ctx, char **text_out);
/* The long options of each command that reads the file (config.c lists
 * them; each is defined beside its command). */
extern const struct option daemon_longopts[], queue_longopts[], send_longopts[],
    sendmail_longopts[], tlsrpt_longopts[];
extern const struct option *const config_every_command[];
/* The value of --config among the arguments, or NULL. */
const char *config_path_from_args(int argc, char **argv);

#endif
