/*
 * daemon_smtpd.h - the SMTP server's options of `mx daemon` (--listen and
 * the rest, from the command line or /etc/mx.conf), the mx_server they
 * make, and the drop from root to the unprivileged user once the ports
 * are bound.
 */
#ifndef MX_SRC_DAEMON_SMTPD_H
#define MX_SRC_DAEMON_SMTPD_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "mx.h"

#define SMTPD_OPT_MAX 64

struct smtpd_opts {
	const char *listen[SMTPD_OPT_MAX];
	size_t n_listen;
	const char *local[SMTPD_OPT_MAX], *backup[SMTPD_OPT_MAX], *nets[SMTPD_OPT_MAX];
	size_t n_local, n_backup, n_nets;
	const char *lmtp, *backup_rcpts, *tls_cert, *tls_key, *user;
	unsigned long long max_size;
	unsigned max_rcpts, client_limit, timeout_s, greet_pause_ms, lmtp_limit;
	bool greet_pause_set;
	/* recipient verification for the backup domains; set: given */
	unsigned verify_pos_ttl, verify_neg_ttl, verify_timeout_ms, backup_probe_s, verify_save_s;
	bool verify_pos_set, verify_neg_set;
	unsigned long long verify_cache;
};

#define SMTPD_LONGOPTS                                                                             \
	{ "listen", required_argument, NULL, 0x301 },                                              \
	    { "local-domain", required_argument, NULL, 0x302 },                                    \
	    { "lmtp", required_argument, NULL, 0x303 },                                            \
	    { "backup-domain", required_argument, NULL, 0x304 },                                   \
	    { "backup-recipients", required_argument, NULL, 0x305 },                               \
	    { "relay-network", required_argument, NULL, 0x306 },                                   \
	    { "tls-cert", required_argument, NULL, 0x307 },                                        \
	    { "tls-key", required_argument, NULL, 0x308 },                                         \
	    { "max-message-size", required_argument, NULL, 0x309 },                                \
	    { "max-recipients", required_argument, NULL, 0x30a },                                  \
	    { "client-limit", required_argument, NULL, 0x30b },                                    \
	    { "smtpd-timeout", required_argument, NULL, 0x30c },                                   \
	    { "greet-pause", required_argument, NULL, 0x30d },                                     \
	    { "user", required_argument, NULL, 0x30e },                                            \
	    { "verify-positive-ttl", required_argument, NULL, 0x30f },                             \
	    { "verify-negative-ttl", required_argument, NULL, 0x310 },                             \
	    { "verify-cache-size", required_argument, NULL, 0x311 },                               \
	    { "verify-timeout", required_argument, NULL, 0x312 },                                  \
	    { "lmtp-concurrency", required_argument, NULL, 0x314 },                                \
	    { "verify-save-interval", required_argument, NULL, 0x315 },                            \
	{                                                                                          \
		"backup-probe-interval", required_argument, NULL, 0x313                            \
	}

#define SMTPD_USAGE                                                                                \
	"  [--listen ADDR:PORT]... [--local-domain DOMAIN]... [--lmtp unix:PATH|HOST:PORT]\n"      \
	"  [--backup-domain DOMAIN]... [--backup-recipients FILE] [--relay-network CIDR]...\n"     \
	"  [--tls-cert FILE --tls-key FILE] [--max-message-size BYTES] [--max-recipients N]\n"     \
	"  [--client-limit N] [--smtpd-timeout SECONDS] [--greet-pause MS] [--user NAME]\n"        \
	"  [--verify-positive-ttl SECONDS] [--verify-negative-ttl SECONDS]\n"                      \
	"  [--verify-cache-size N] [--verify-timeout MS] [--backup-probe-interval SECONDS]\n"      \
	"  [--verify-save-interval SECONDS] [--lmtp-concurrency N]\n"

/* One of SMTPD_LONGOPTS: EX_OK or an exit code after a message; -1 when
 * opt is not one of them. */
int smtpd_option(struct smtpd_opts *o, int opt, const char *v, const char *where);
/*
 * --lmtp and --local-domain to the sender (with or without --listen: mail
 * for a local domain that was queued otherwise goes there too).  EX_OK,
 * or an exit code after a message.
 */
int smtpd_local(const struct smtpd_opts *o, mx_sender *sender);
/*
 * With --listen: the server made, its ports bound, root dropped (to
 * --user, default the mx user) and the server started on the resolver's
 * loop; *out NULL and EX_OK without --listen.  An exit code after a
 * message otherwise.
 */
int smtpd_setup(struct smtpd_opts *o, mx_resolver *resolver, const char *spool,
    const char *hostname, mx_daemon_log_fn log, void *log_arg, mx_server **out);

#endif
