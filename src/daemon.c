/*
 * daemon.c - `mx daemon`: the long-running mail system in the foreground
 * (for systemd: Type=notify, READY=1 once the spool is scanned and the
 * control socket listens, STOPPING=1 on SIGTERM), and `mx daemon status`
 * through the control socket.  Options as `mx queue run`'s, plus the
 * limits, from the command line or /etc/mx.conf; SIGHUP re-reads the
 * file's limits and reopens the log.  The log: Postfix-style lines, to
 * syslog (facility mail, as mx/qmgr and mx/smtp) or to stderr.  Exit
 * status: 0 stopped, 64 usage, 69 no daemon answers (status), 75 the
 * spool cannot be used, 78 configuration.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#ifdef MX_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "daemon_smtpd.h"
#include "logsink.h"
#include "options.h"

#define DAEMON_GRACE_MS    10000  /* SIGTERM: deliveries under way may finish */
#define DAEMON_DEADLINE_MS 600000 /* one delivery at most, unless --deadline */

struct daemon_opts {
	struct delivery_opts d;
	unsigned concurrency, dest_concurrency, hold, reuse_idle_ms, reuse_count, grace_ms;
	const char *hostname;
	struct log_sink log; /* syslog (socket: --log-socket) or stderr */
	int argc;
	char **argv;
	mx_daemon *daemon;
	const char *tlsrpt_from, *tlsrpt_submitter;
	bool no_tlsrpt;
	mx_queue *q;
	struct smtpd_opts s; /* the SMTP server's (--listen ...) */
	mx_server *server;
};

const struct option daemon_longopts[] = {
	{ "concurrency", required_argument, NULL, 'n' },
	{ "destination-concurrency", required_argument, NULL, 'N' },
	{ "hostname", required_argument, NULL, 0x201 },
	{ "log", required_argument, NULL, 0x202 },
	{ "log-socket", required_argument, NULL, 0x203 },
	{ "hold", required_argument, NULL, 0x204 },
	{ "reuse-idle", required_argument, NULL, 0x205 },
	{ "reuse-count", required_argument, NULL, 0x206 },
	{ "grace", required_argument, NULL, 0x207 },
	{ "tlsrpt-from", required_argument, NULL, 0x208 },
	{ "tlsrpt-submitter", required_argument, NULL, 0x209 },
	{ "no-tlsrpt", no_argument, NULL, 0x20a },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	DELIVERY_LONGOPTS,
	SMTPD_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static void
daemon_usage(FILE *to)
{
	fprintf(to,
	    "usage: mx daemon [--config FILE] [--spool DIR] [--concurrency N]\n"
	    "                 [--destination-concurrency N] [--resolver IP[@PORT]]...\n"
	    "                 [--trust-anchor FILE|none] [--hostname NAME]\n"
	    "                 [--log syslog|stderr] [--log-socket PATH] [--hold SECONDS]\n"
	    "                 [--reuse-idle MS] [--reuse-count N] [--grace SECONDS]\n"
	    "                 [--tlsrpt-from ADDRESS] [--tlsrpt-submitter NAME] [--no-tlsrpt]\n"
	    "                 OPTIONS\n"
	    "       mx daemon status [--spool DIR] [--config FILE]\n"
	    "SMTP server (no listener unless --listen is given):\n" SMTPD_USAGE
	    "OPTIONS, as for mx send (also from /etc/mx.conf or --config FILE):\n" DELIVERY_USAGE);
}

static int
set_uint(const char *name, const char *where, const char *v, unsigned long long max, unsigned *out)
{
	unsigned long long n;

	if (!cli_parse_uint(v, max, &n) || n == 0)
		return option_warn("daemon", where, name, "takes 1 to %llu, not \"%s\"", max, v),
		       where ? EX_CONFIG : EX_USAGE;
	*out = (unsigned)n;
	return EX_OK;
}

static int
set_log(struct daemon_opts *o, const char *where, const char *v)
{
	if (strcmp(v, "syslog") != 0 && strcmp(v, "stderr") != 0)
		return option_warn("daemon", where, "log", "takes syslog or stderr, not \"%s\"", v),
		       where ? EX_CONFIG : EX_USAGE;
	o->log.to_stderr = strcmp(v, "stderr") == 0;
	return EX_OK;
}

/* ctx: the options; also called for the configuration file's settings. */
static int
apply_option(void *ctx, int opt, const char *v, const char *where)
{
	struct daemon_opts *o = ctx;
	int rc;

	o->d.where = where;
	switch (opt) {
	case 'v': o->d.verbose = true; return EX_OK;
	case 'n': return set_uint("concurrency", where, v, 10000, &o->concurrency);
	case 'N': return set_uint("destination-concurrency", where, v, 10000, &o->dest_concurrency);
	case 0x201: o->hostname = v; return EX_OK;
	case 0x202: return set_log(o, where, v);
	case 0x203: o->log.socket = v; return EX_OK;
	case 0x204: return set_uint("hold", where, v, 86400, &o->hold);
	case 0x205: return set_uint("reuse-idle", where, v, 3600000, &o->reuse_idle_ms);
	case 0x206: return set_uint("reuse-count", where, v, 1000000, &o->reuse_count);
	case 0x207:
		if ((rc = set_uint("grace", where, v, 3600, &o->grace_ms)) == EX_OK)
			o->grace_ms *= 1000;
		return rc;
	case 0x208: o->tlsrpt_from = v; return EX_OK;
	case 0x209: o->tlsrpt_submitter = v; return EX_OK;
	case 0x20a: o->no_tlsrpt = true; return EX_OK;
	}
	if ((rc = smtpd_option(&o->s, opt, v, where)) != -1)
		return rc;
	if ((rc = delivery_option(&o->d, opt, v)) == -1)
		return EX_USAGE;
	return rc;
}

static int
parse_options(int argc, char **argv, struct daemon_opts *o)
{
	int opt, rc;

	if ((rc = config_load(config_path_from_args(argc, argv), "daemon", daemon_longopts, argc,
		 argv, apply_option, o, &o->d.config_text)) != EX_OK)
		return rc;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "vh", daemon_longopts, NULL)) != -1) {
		if (opt == 'h') {
			daemon_usage(stdout);
			return -1;
		}
		if (opt == '?' || opt == ':') {
			cli_warn("daemon", "unknown option or missing value: %s", argv[optind - 1]);
			daemon_usage(stderr);
			return EX_USAGE;
		}
		if ((rc = apply_option(o, opt, optarg, NULL)) != EX_OK)
			return rc;
	}
	return delivery_opts_check(&o->d);
}

/* ---- the log ------------------------------------------------------------------ */

static void
log_line(const char *program, const char *line, void *arg)
{
	struct daemon_opts *o = arg;

	log_sink_line(&o->log, program, line);
}

/* The queue's lines: per recipient (smtp), or about the entry (qmgr). */
static void
queue_line(const char *line, void *arg)
{
	log_line(strstr(line, ": to=<") != NULL ? "smtp" : "qmgr", line, arg);
}

/* ---- settings to the daemon, and SIGHUP ---------------------------------------- */

static int
apply_limits(struct daemon_opts *o)
{
	if (mx_daemon_set_limits(o->daemon, o->concurrency ? o->concurrency : 100,
		o->dest_concurrency ? o->dest_concurrency : 20) != MX_OK ||
	    mx_daemon_set_lmtp_limit(o->daemon, o->s.lmtp_limit ? o->s.lmtp_limit : 10) != MX_OK)
		return EX_USAGE;
	if (o->hold &&
	    mx_daemon_set_hold(o->daemon, o->hold, o->hold > 3600 ? o->hold : 3600) != MX_OK)
		return EX_USAGE;
	if ((o->reuse_idle_ms || o->reuse_count) &&
	    mx_daemon_set_reuse(
		o->daemon, o->reuse_idle_ms ? o->reuse_idle_ms : 2000, o->reuse_count) != MX_OK)
		return EX_USAGE;
	return EX_OK;
}

/* Mail held for a backup domain goes once a better MX host answers. */
static int
watch_backups(struct daemon_opts *o)
{
	for (size_t i = 0; i < o->s.n_backup; i++)
		if (mx_daemon_add_backup_domain(o->daemon, o->s.backup[i]) != MX_OK)
			return option_warn("daemon", NULL, "backup-domain",
				   "\"%s\" is not a domain", o->s.backup[i]),
			       EX_USAGE;
	if (o->s.backup_probe_s &&
	    mx_daemon_set_backup_probe(o->daemon, o->s.backup_probe_s) != MX_OK)
		return EX_USAGE;
	return EX_OK;
}

/* ---- SIGHUP: the settings read again, as at a start ------------------------------ */

static int configure(struct daemon_opts *o, mx_sender *sender);
static int parse_options(int argc, char **argv, struct daemon_opts *o);

static void
log_reload(struct daemon_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
log_reload(struct daemon_opts *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line("qmgr", line, o);
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
same_listen(const struct smtpd_opts *a, const struct smtpd_opts *b)
{
	if (a->n_listen != b->n_listen)
		return false;
	for (size_t i = 0; i < a->n_listen; i++)
		if (strcmp(a->listen[i], b->listen[i]) != 0)
			return false;
	return true;
}

/* What only a start can change (the spool is open and watched, the ports
 * bound and root given up): said, as Postfix says it of such parameters,
 * and kept. */
static void
keep_restart_settings(struct daemon_opts *o, const struct daemon_opts *f)
{
	if (strcmp(o->d.spool, f->d.spool) != 0)
		log_reload(o, "reload: spool %s needs a restart; kept %s", f->d.spool, o->d.spool);
	if (!same_listen(&o->s, &f->s))
		log_reload(
		    o, "reload: listen addresses changed: needs a restart; kept those in force");
	if (!same(o->s.user, f->s.user))
		log_reload(o, "reload: user %s needs a restart; kept %s",
		    f->s.user ? f->s.user : "(default)", o->s.user ? o->s.user : "(default)");
	if (o->server != NULL && o->s.tls_cert != NULL && f->s.tls_cert == NULL)
		log_reload(o, "reload: turning STARTTLS off needs a restart; kept it on");
}

static void
reload_limits(struct daemon_opts *o, const struct daemon_opts *f)
{
	o->concurrency = f->concurrency;
	o->dest_concurrency = f->dest_concurrency;
	o->hold = f->hold;
	o->reuse_idle_ms = f->reuse_idle_ms;
	o->reuse_count = f->reuse_count;
	o->log.to_stderr = f->log.to_stderr;
	log_sink_open(&o->log, "daemon");
	apply_limits(o);
	mx_queue_set_retry(o->q, f->d.retry_first, f->d.retry_max, f->d.lifetime);
	if (mx_daemon_set_pickup(o->daemon, f->d.origin, f->d.aliases) != MX_OK)
		log_reload(o, "reload: out of memory for the pickup settings; kept those in force");
}

/* A new resolver (its cache starts empty) and sender with the new
 * resolver, trust anchor, TLS, HELO and timing settings, for the
 * deliveries that start from now on. */
static void
reload_delivery(struct daemon_opts *o, struct daemon_opts *f)
{
	mx_sender *sender = NULL;
	mx_why why;

	if ((f->hostname != NULL && mx_policy_add_local_name(f->d.policy, f->hostname) != MX_OK) ||
	    mx_sender_new(&sender, f->d.resolver, f->d.policy) != MX_OK ||
	    configure(f, sender) != EX_OK) {
		log_reload(o,
		    "reload: the delivery settings cannot be applied (see stderr); kept "
		    "the resolver and delivery settings in force");
		mx_sender_free(sender);
		return;
	}
	if (mx_daemon_set_sender(o->daemon, sender, f->d.resolver, &why) != MX_OK) {
		log_reload(
		    o, "reload: %s; kept the resolver and delivery settings in force", why.text);
		mx_sender_free(sender);
		return;
	}
	f->d.resolver = NULL; /* the daemon's now */
	log_reload(o, "reload: new deliveries use a new resolver and the delivery settings read");
}

/* The server's certificate and key read again (a renewed certificate). */
static void
reload_server_tls(struct daemon_opts *o, const struct daemon_opts *f)
{
	mx_why why;

	if (o->server == NULL || f->s.tls_cert == NULL || f->s.tls_key == NULL)
		return;
	if (mx_server_set_tls(o->server, f->s.tls_cert, f->s.tls_key, &why) != MX_OK)
		log_reload(o, "reload: %s; kept the certificate in force", why.text);
	else
		log_reload(o, "reload: STARTTLS certificate %s read", f->s.tls_cert);
}

/* SIGHUP: the configuration file and the command line read again, as at
 * a start; what only a start can change is said and kept. */
static void
reload(struct daemon_opts *o)
{
	struct daemon_opts fresh;

	memset(&fresh, 0, sizeof(fresh));
	fresh.log.fd = -1;
	fresh.log.socket = o->log.socket;
	if (delivery_opts_init_on(&fresh.d, "daemon", mx_daemon_event_base(o->daemon)) != EX_OK ||
	    parse_options(o->argc, o->argv, &fresh) != EX_OK) {
		log_reload(o,
		    "reload: the configuration has faults (see stderr); kept the "
		    "settings in force");
		goto out;
	}
	keep_restart_settings(o, &fresh);
	reload_limits(o, &fresh);
	reload_delivery(o, &fresh);
	reload_server_tls(o, &fresh);
out:
	delivery_opts_free(&fresh.d);
}

/* The server's verification answers written now (a stop, SIGHUP), so
 * that a restart while the primary is down still knows the recipients;
 * the server's log says what it wrote, or why it could not. */
static void
sync_server(struct daemon_opts *o)
{
	mx_why why;

	if (o->server != NULL)
		(void)mx_server_sync(o->server, &why);
}

static void
on_event(mx_daemon *d, mx_daemon_event ev, void *arg)
{
	struct daemon_opts *o = arg;

	(void)d;
	switch (ev) {
	case MX_DAEMON_READY:
#ifdef MX_HAVE_SYSTEMD
		sd_notify(0, "READY=1\nSTATUS=delivering");
#endif
		break;
	case MX_DAEMON_RELOAD:
#ifdef MX_HAVE_SYSTEMD
		sd_notify(0, "RELOADING=1");
#endif
		reload(o);
		sync_server(o);
#ifdef MX_HAVE_SYSTEMD
		sd_notify(0, "READY=1");
#endif
		break;
	case MX_DAEMON_STOPPING:
#ifdef MX_HAVE_SYSTEMD
		sd_notify(0, "STOPPING=1");
#endif
		sync_server(o);
		break;
	}
}

/* ---- run and status ------------------------------------------------------------- */

static int
configure(struct daemon_opts *o, mx_sender *sender)
{
	int rc;

	/* Our name in EHLO too (run gave it to the policy). */
	if (o->hostname != NULL && o->d.helo == NULL)
		o->d.helo = o->hostname;
	if (o->d.deadline_ms == 0)
		o->d.deadline_ms = DAEMON_DEADLINE_MS;
	if ((rc = delivery_configure(&o->d, sender)) != EX_OK)
		return rc;
	return smtpd_local(&o->s, sender);
}

/*
 * The daily TLS-RPT reports (mx tlsrpt send's defaults: the submitter is
 * --tlsrpt-submitter, else the EHLO name, else the host name).  For tests
 * only, MX_TLSRPT_EVERY (seconds between runs) and MX_TLSRPT_CLOCK_OFFSET
 * (seconds added to the clock that says which days are over) replace the
 * daily schedule; mx(1) documents them as such.
 */
static int
set_tlsrpt(struct daemon_opts *o)
{
	char host[256] = "localhost", from[512];
	const char *sub = o->tlsrpt_submitter ? o->tlsrpt_submitter : o->d.helo;
	const char *every = getenv("MX_TLSRPT_EVERY"), *offset = getenv("MX_TLSRPT_CLOCK_OFFSET");
	unsigned long long e = 0, off = 0;

	if (o->no_tlsrpt)
		return EX_OK;
	if ((every && !cli_parse_uint(every, 86400, &e)) ||
	    (offset && !cli_parse_uint(offset, 864000, &off)))
		return cli_warn("daemon",
			   "MX_TLSRPT_EVERY or MX_TLSRPT_CLOCK_OFFSET is not a "
			   "number of seconds"),
		       EX_USAGE;
	if (sub == NULL && gethostname(host, sizeof(host) - 1) == 0)
		sub = host;
	snprintf(from, sizeof(from), "tlsrpt-noreply@%s", sub ? sub : "localhost");
	if (mx_daemon_set_tlsrpt(o->daemon, sub ? sub : "localhost",
		o->tlsrpt_from ? o->tlsrpt_from : from, (unsigned)e, (int64_t)off) != MX_OK)
		return option_warn("daemon", NULL, "tlsrpt-from", "\"%s\" is not an address",
			   o->tlsrpt_from ? o->tlsrpt_from : from),
		       EX_USAGE;
	return EX_OK;
}

/* The SMTP server, when --listen is given: bound as root, then root is
 * dropped before the loop runs. */
static int
start_server(struct daemon_opts *o)
{
	char host[256] = "localhost";

	if (o->hostname != NULL)
		snprintf(host, sizeof(host), "%s", o->hostname);
	else if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	return smtpd_setup(&o->s, o->d.resolver, o->d.spool, host, log_line, o, &o->server);
}

static int
run(struct daemon_opts *o, mx_queue *q)
{
	mx_sender *sender = NULL;
	bool abandoned = false;
	mx_why why;
	mx_err err;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	/* Our name: an MX list stops at it (RFC 5321 5.1); the policy is
	 * copied by mx_sender_new, so it goes in first. */
	if (o->hostname != NULL && mx_policy_add_local_name(o->d.policy, o->hostname) != MX_OK)
		return option_warn(
			   "daemon", NULL, "hostname", "\"%s\" is not a host name", o->hostname),
		       EX_USAGE;
	if (mx_sender_new(&sender, o->d.resolver, o->d.policy) != MX_OK)
		return EX_OSERR;
	if ((rc = configure(o, sender)) != EX_OK)
		goto out;
	o->q = q;
	if (mx_daemon_new(&o->daemon, q, sender, o->d.resolver, o->d.spool) != MX_OK) {
		rc = EX_OSERR;
		goto out;
	}
	if ((rc = apply_limits(o)) != EX_OK || (rc = watch_backups(o)) != EX_OK ||
	    (rc = set_tlsrpt(o)) != EX_OK)
		goto out;
	log_sink_open(&o->log, "daemon");
	mx_queue_set_log(q, queue_line, false, o);
	mx_daemon_set_log(o->daemon, log_line, o);
	mx_daemon_set_events(o->daemon, on_event, o);
	if ((err = mx_daemon_set_pickup(o->daemon, o->d.origin, o->d.aliases)) != MX_OK) {
		rc = cli_exit_for(err);
		goto out;
	}
	if ((rc = start_server(o)) != EX_OK)
		goto out;
	if ((err = mx_daemon_run(o->daemon, o->grace_ms ? o->grace_ms : DAEMON_GRACE_MS, &abandoned,
		 &why)) != MX_OK) {
		cli_warn("daemon", "%s", why.text);
		rc = err == MX_ERR_BUSY ? EX_TEMPFAIL : cli_exit_for(err);
		goto out;
	}
	log_line("qmgr",
	    abandoned ? "stopped; deliveries under way abandoned (their "
			"entries are tried again at the next start)"
		      : "stopped",
	    o);
	if (abandoned) {
		/* Their sessions and entries live on the loop still: the kernel
		 * closes them; the spool on disk is as it was before them. */
		sync_server(o);
		fflush(NULL);
		_exit(EX_OK);
	}
out:
	mx_server_free(o->server);
	mx_daemon_free(o->daemon);
	mx_sender_free(sender);
	return rc;
}

static int
status(struct daemon_opts *o, const char *command)
{
	char *reply = NULL;

	if (mx_daemon_control(o->d.spool, command, &reply) != MX_OK) {
		cli_warn("daemon", "no mx daemon answers on %s/private/control", o->d.spool);
		return EX_UNAVAILABLE;
	}
	fputs(reply, stdout);
	free(reply);
	return EX_OK;
}

int
cmd_daemon(int argc, char **argv)
{
	struct daemon_opts o;
	mx_queue *q = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	o.log.fd = -1;
	o.argc = argc;
	o.argv = argv;
	if ((rc = delivery_opts_init(&o.d, "daemon")) != EX_OK)
		goto out;
	bool is_status = argc > 1 && strcmp(argv[1], "status") == 0;
	if ((rc = parse_options(argc - is_status, argv + is_status, &o)) != EX_OK) {
		rc = rc == -1 ? EX_OK : rc;
		goto out;
	}
	if (optind != argc - is_status) {
		daemon_usage(stderr);
		rc = EX_USAGE;
		goto out;
	}
	if (is_status) {
		rc = status(&o, "status");
		goto out;
	}
	if ((rc = delivery_open_queue(&o.d, &q)) == EX_OK)
		rc = run(&o, q);
out:
	log_sink_close(&o.log);
	mx_queue_close(q);
	delivery_opts_free(&o.d);
	return rc;
}
