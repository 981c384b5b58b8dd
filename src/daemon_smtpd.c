/*
 * daemon_smtpd.c - `mx daemon`'s SMTP server options and set-up (see
 * daemon_smtpd.h).  The order is the safety: every port is bound while
 * the process is root, then it becomes the unprivileged user for good
 * (groups, gid, uid; checked that root cannot come back) before the
 * first client byte is read.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "daemon_smtpd.h"
#include "options.h"

#ifndef MX_USER
#define MX_USER "mx"
#endif

static int
push(const char **list, size_t *n, const char *name, const char *where, const char *v)
{
	if (*n >= SMTPD_OPT_MAX)
		return option_warn(
			   "daemon", where, name, "given more than %d times", SMTPD_OPT_MAX),
		       EX_USAGE;
	list[(*n)++] = v;
	return EX_OK;
}

static int
number(const char *name, const char *where, const char *v, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
	if (!cli_parse_uint(v, max, out) || *out < min)
		return option_warn(
			   "daemon", where, name, "takes %llu to %llu, not \"%s\"", min, max, v),
		       where ? EX_CONFIG : EX_USAGE;
	return EX_OK;
}

/*
 * The numeric options, one row each: bounds, and where the value goes (an
 * unsigned or an unsigned long long) with the flag that says it was given,
 * if the option has one.  As before the table, the value and the flag are
 * stored whether or not it was in bounds (the caller stops on the error).
 */
static int
number_option(struct smtpd_opts *o, int opt, const char *v, const char *where)
{
	const struct {
		int opt;
		const char *name;
		unsigned long long min, max;
		unsigned *u;
		unsigned long long *ull;
		bool *set;
	} rows[] = {
		{ 0x309, "max-message-size", 1024, 512ull << 20, NULL, &o->max_size, NULL },
		{ 0x30a, "max-recipients", 1, 1000, &o->max_rcpts, NULL, NULL },
		{ 0x30b, "client-limit", 1, 100000, &o->client_limit, NULL, NULL },
		{ 0x30c, "smtpd-timeout", 1, 3600, &o->timeout_s, NULL, NULL },
		{ 0x30d, "greet-pause", 0, 60000, &o->greet_pause_ms, NULL, &o->greet_pause_set },
		{ 0x314, "lmtp-concurrency", 1, 10000, &o->lmtp_limit, NULL, NULL },
		/* the backup domains' recipient verification and probes */
		{ 0x30f, "verify-positive-ttl", 0, 366ull * 86400, &o->verify_pos_ttl, NULL,
		    &o->verify_pos_set },
		{ 0x310, "verify-negative-ttl", 0, 366ull * 86400, &o->verify_neg_ttl, NULL,
		    &o->verify_neg_set },
		{ 0x311, "verify-cache-size", 1, 10000000, NULL, &o->verify_cache, NULL },
		{ 0x312, "verify-timeout", 100, 600000, &o->verify_timeout_ms, NULL, NULL },
		{ 0x313, "backup-probe-interval", 1, 3600, &o->backup_probe_s, NULL, NULL },
		{ 0x315, "verify-save-interval", 1, 86400, &o->verify_save_s, NULL, NULL },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		unsigned long long n = 0;
		int rc;

		if (rows[i].opt != opt)
			continue;
		rc = number(rows[i].name, where, v, rows[i].min, rows[i].max, &n);
		if (rows[i].u)
			*rows[i].u = (unsigned)n;
		else
			*rows[i].ull = n;
		if (rows[i].set)
			*rows[i].set = true;
		return rc;
	}
	return -1;
}

int
smtpd_option(struct smtpd_opts *o, int opt, const char *v, const char *where)
{
	switch (opt) {
	case 0x301: return push(o->listen, &o->n_listen, "listen", where, v);
	case 0x302: return push(o->local, &o->n_local, "local-domain", where, v);
	case 0x303: o->lmtp = v; return EX_OK;
	case 0x304: return push(o->backup, &o->n_backup, "backup-domain", where, v);
	case 0x305: o->backup_rcpts = v; return EX_OK;
	case 0x306: return push(o->nets, &o->n_nets, "relay-network", where, v);
	case 0x307: o->tls_cert = v; return EX_OK;
	case 0x308: o->tls_key = v; return EX_OK;
	case 0x30e: o->user = v; return EX_OK;
	}
	return number_option(o, opt, v, where);
}

static int
configure(struct smtpd_opts *o, mx_server *srv)
{
	mx_why why;

	for (size_t i = 0; i < o->n_local; i++)
		if (mx_server_add_domain(srv, o->local[i], false) != MX_OK)
			return option_warn("daemon", NULL, "local-domain", "\"%s\" is not a domain",
				   o->local[i]),
			       EX_USAGE;
	for (size_t i = 0; i < o->n_backup; i++)
		if (mx_server_add_domain(srv, o->backup[i], true) != MX_OK)
			return option_warn("daemon", NULL, "backup-domain",
				   "\"%s\" is not a domain", o->backup[i]),
			       EX_USAGE;
	for (size_t i = 0; i < o->n_nets; i++)
		if (mx_server_add_relay_network(srv, o->nets[i]) != MX_OK)
			return option_warn("daemon", NULL, "relay-network",
				   "\"%s\" is not a CIDR "
				   "network (192.0.2.0/24, 2001:db8::/32)",
				   o->nets[i]),
			       EX_USAGE;
	if (mx_server_set_verify(srv, o->verify_pos_set ? o->verify_pos_ttl : 86400,
		o->verify_neg_set ? o->verify_neg_ttl : 3600,
		o->verify_cache ? (size_t)o->verify_cache : 10000,
		o->verify_timeout_ms ? o->verify_timeout_ms : 10000) != MX_OK)
		return cli_warn("daemon", "the verification settings are out of range"), EX_USAGE;
	if (o->verify_save_s && mx_server_set_verify_save(srv, o->verify_save_s) != MX_OK)
		return cli_warn("daemon", "--verify-save-interval is out of range"), EX_USAGE;
	if (o->lmtp != NULL && mx_server_set_lmtp(srv, o->lmtp, &why) != MX_OK)
		return cli_warn("daemon", "%s", why.text), EX_USAGE;
	if (o->backup_rcpts != NULL &&
	    mx_server_set_backup_recipients(srv, o->backup_rcpts, &why) != MX_OK)
		return cli_warn("daemon", "%s", why.text), EX_CONFIG;
	if ((o->tls_cert != NULL) != (o->tls_key != NULL))
		return cli_warn("daemon", "--tls-cert and --tls-key go together"), EX_USAGE;
	if (o->tls_cert != NULL && mx_server_set_tls(srv, o->tls_cert, o->tls_key, &why) != MX_OK)
		return cli_warn("daemon", "%s", why.text), EX_CONFIG;
	if (mx_server_set_limits(srv, o->max_size ? o->max_size : 10240000,
		o->max_rcpts ? o->max_rcpts : 1000, o->client_limit ? o->client_limit : 50,
		o->timeout_s ? o->timeout_s : 300,
		o->greet_pause_set ? o->greet_pause_ms : 1000) != MX_OK)
		return cli_warn("daemon", "the server's limits are out of range"), EX_USAGE;
	return EX_OK;
}

int
smtpd_local(const struct smtpd_opts *o, mx_sender *sender)
{
	mx_why why;

	if (o->n_local > 0 && o->lmtp == NULL)
		return cli_warn("daemon", "--local-domain needs --lmtp unix:PATH|HOST:PORT"),
		       EX_USAGE;
	if (o->lmtp == NULL)
		return EX_OK;
	if (mx_sender_set_lmtp(sender, o->lmtp, &why) != MX_OK)
		return option_warn("daemon", NULL, "lmtp", "%s", why.text), EX_USAGE;
	for (size_t i = 0; i < o->n_local; i++)
		if (mx_sender_add_local_domain(sender, o->local[i]) != MX_OK)
			return option_warn("daemon", NULL, "local-domain", "\"%s\" is not a domain",
				   o->local[i]),
			       EX_USAGE;
	return EX_OK;
}

/* Root becomes the user for good; its spool's queue/ must be that user's. */
static int
drop_root(const char *user, const char *spool)
{
	struct passwd *pw;
	struct stat st;
	char queue[4096];

	if (geteuid() != 0)
		return EX_OK;
	if ((pw = getpwnam(user)) == NULL || pw->pw_uid == 0)
		return cli_warn("daemon",
			   "--user %s: no such unprivileged user (mx setup makes "
			   "the mx user); the server never runs as root",
			   user),
		       EX_CONFIG;
	snprintf(queue, sizeof(queue), "%s/queue", spool);
	if (stat(queue, &st) != 0 || st.st_uid != pw->pw_uid)
		return cli_warn("daemon", "%s does not belong to %s (mx setup, or chown -R)", queue,
			   user),
		       EX_CONFIG;
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		return cli_warn("daemon", "cannot become %s: %s", user, strerror(errno)), EX_OSERR;
	if (setuid(0) == 0 || geteuid() == 0) /* a kernel that lets root back is refused */
		return cli_warn("daemon", "root could be regained after dropping it"), EX_OSERR;
	return EX_OK;
}

int
smtpd_setup(struct smtpd_opts *o, mx_resolver *resolver, const char *spool, const char *hostname,
    mx_daemon_log_fn log, void *log_arg, mx_server **out)
{
	mx_server *srv = NULL;
	mx_why why;
	int rc = EX_OK;

	*out = NULL;
	if (o->n_listen == 0)
		return EX_OK;
	if (mx_server_new(&srv, resolver, spool, hostname) != MX_OK)
		return cli_warn("daemon", "--hostname \"%s\" is not usable", hostname), EX_USAGE;
	mx_server_set_log(srv, log, log_arg);
	if ((rc = configure(o, srv)) != EX_OK)
		goto out;
	for (size_t i = 0; i < o->n_listen; i++)
		if (mx_server_listen(srv, o->listen[i], &why) != MX_OK) {
			cli_warn("daemon", "%s", why.text);
			rc = EX_OSERR;
			goto out;
		}
	if ((rc = drop_root(o->user ? o->user : MX_USER, spool)) != EX_OK)
		goto out;
	if (mx_server_start(srv, &why) != MX_OK) {
		cli_warn("daemon", "%s", why.text);
		rc = EX_TEMPFAIL;
		goto out;
	}
	*out = srv;
	srv = NULL;
out:
	mx_server_free(srv);
	return rc;
}
