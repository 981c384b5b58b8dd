/*
 * queue.c - `mx queue`: list, show, run (one pass, or --watch), flush and
 * delete over the spool, as thin as the library allows.  list, show and
 * delete never create the spool (a missing one is an empty queue).  Exit
 * status: 0 done, 64 usage, 66 no such entry, 75 the spool cannot be used
 * now or an entry is busy, 78 configuration.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "options.h"
#include "queue.h"

struct queue_opts {
	struct delivery_opts d;
	bool json;
	bool watch;
	unsigned interval;   /* --watch: seconds between passes at most */
	bool interval_given; /* --interval on the command line, not the file */
	bool watch_given;    /* --watch on the command line, not the file */
	unsigned concurrency;
	int log_to; /* --log: 0 stdout, 's' syslog, 'e' stderr */
};

const struct option queue_longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "watch", no_argument, NULL, 'w' },
	{ "interval", required_argument, NULL, 'I' },
	{ "concurrency", required_argument, NULL, 'n' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "log", required_argument, NULL, 'G' },
	{ "help", no_argument, NULL, 'h' },
	DELIVERY_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
queue_usage(FILE *to)
{
	fprintf(to,
	    "usage: mx queue list [--json] [--spool DIR]\n"
	    "       mx queue show [--json] [--spool DIR] ID\n"
	    "       mx queue delete [--spool DIR] ID...\n"
	    "       mx queue run [--watch [--interval SECONDS]] [--json] [-v]\n"
	    "                    [--log syslog|stderr]\n"
	    "                    [--concurrency N] OPTIONS\n"
	    "       mx queue flush [--json] [-v] [--concurrency N] OPTIONS\n"
	    "         (with mx daemon running on the spool: asks it to try everything now)\n"
	    "OPTIONS, as for mx send (also from /etc/mx.conf or --config FILE):\n" DELIVERY_USAGE);
}

/* ctx: the options; also called for the configuration file's settings. */
static int
apply_option(void *ctx, int opt, const char *v, const char *where)
{
	struct queue_opts *o = ctx;
	unsigned long long n;
	int rc;

	o->d.where = where;

	switch (opt) {
	case 'j': o->json = true; return EX_OK;
	case 'w': o->watch = true; return EX_OK;
	case 'G':
		if (strcmp(v, "syslog") != 0 && strcmp(v, "stderr") != 0)
			return cli_warn("queue", "--log takes syslog or stderr, not \"%s\"", v),
			       EX_USAGE;
		o->log_to = strcmp(v, "syslog") == 0 ? 's' : 'e';
		return EX_OK;
	case 'v': o->d.verbose = true; return EX_OK;
	case 'I':
		if (!cli_parse_uint(v, 24 * 3600, &n) || n == 0)
			return option_warn(
				   "queue", where, "interval", "takes seconds, not \"%s\"", v),
			       EX_USAGE;
		o->interval = (unsigned)n;
		return EX_OK;
	case 'n':
		if (!cli_parse_uint(v, 1000, &n) || n == 0)
			return option_warn(
				   "queue", where, "concurrency", "takes 1 to 1000, not \"%s\"", v),
			       EX_USAGE;
		o->concurrency = (unsigned)n;
		return EX_OK;
	}
	if ((rc = delivery_option(&o->d, opt, v)) == -1)
		return EX_USAGE;
	return rc;
}

static int
parse_options(int argc, char **argv, struct queue_opts *o)
{
	int opt, rc;

	if ((rc = config_load(config_path_from_args(argc, argv), "queue", queue_longopts, argc,
		 argv, apply_option, o, &o->d.config_text)) != EX_OK)
		return rc;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "vh", queue_longopts, NULL)) != -1) {
		if (opt == 'h') {
			queue_usage(stdout);
			return -1;
		}
		if (opt == '?' || opt == ':') {
			cli_warn("queue", "unknown option or missing value: %s", argv[optind - 1]);
			queue_usage(stderr);
			return EX_USAGE;
		}
		if ((rc = apply_option(o, opt, optarg, NULL)) != EX_OK)
			return rc;
		o->interval_given |= opt == 'I';
		o->watch_given |= opt == 'w';
	}
	return delivery_opts_check(&o->d);
}

/* ---- list and show ------------------------------------------------------ */

static const char *
state_word(mx_queue_rcpt_state s)
{
	return s == MX_QUEUE_SENT ? "sent" : s == MX_QUEUE_BOUNCED ? "bounced" : "pending";
}

static void
utc(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(out, 32, "now");
	else
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct list_ctx {
	struct queue_opts *o;
	size_t entries, bad;
};

static void
print_item(const mx_queue_item *it, void *arg)
{
	struct list_ctx *c = arg;
	char created[32], next[32];
	size_t len;

	c->entries++;
	if (c->o->json) {
		char *line = NULL;
		if (mx_queue_item_to_json(it, &line) == MX_OK)
			puts(line);
		free(line);
		return;
	}
	len = mx_queue_item_size(it);
	utc(mx_queue_item_created(it), created);
	printf(
	    "%-20s %9zu %s <%s>\n", mx_queue_item_id(it), len, created, mx_queue_item_sender(it));
	for (size_t i = 0; i < mx_queue_item_recipient_count(it); i++) {
		utc(mx_queue_item_next_attempt(it, i), next);
		printf("    <%s> %s, %u attempt%s", mx_queue_item_recipient(it, i),
		    state_word(mx_queue_item_state(it, i)), mx_queue_item_attempts(it, i),
		    mx_queue_item_attempts(it, i) == 1 ? "" : "s");
		if (mx_queue_item_state(it, i) == MX_QUEUE_PENDING)
			printf(", next %s", next);
		if (mx_queue_item_reason(it, i)[0] != '\0')
			printf("\n      (%s)", mx_queue_item_reason(it, i));
		putchar('\n');
	}
}

static void
print_bad(const char *name, const char *why, void *arg)
{
	struct list_ctx *c = arg;

	c->bad++;
	cli_warn("queue", "%s: %s", name, why);
}

static int
cmd_list(struct queue_opts *o, mx_queue *q)
{
	struct list_ctx c = { o, 0, 0 };
	mx_why why;
	mx_err err;

	if ((err = mx_queue_list(q, print_item, print_bad, &c, &why)) != MX_OK)
		return cli_warn("queue", "%s", why.text), cli_exit_for(err);
	if (!o->json)
		printf("-- %zu entr%s in %s%s\n", c.entries, c.entries == 1 ? "y" : "ies",
		    o->d.spool,
		    access(o->d.spool, F_OK) != 0 && errno == ENOENT
			? " (it does not exist: nothing was queued there yet)"
			: "");
	return EX_OK;
}

/* The message as it was queued, without the wire's CRLF and stuffed dots. */
static void
print_message(const uint8_t *data, size_t len)
{
	const char *p = (const char *)data, *end = p + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && p[0] == '.')
			p++, n--;
		fwrite(p, 1, n, stdout);
		putchar('\n');
		p = eol ? eol + 1 : end;
	}
}

static int
cmd_show(struct queue_opts *o, mx_queue *q, const char *id)
{
	struct list_ctx c = { o, 0, 0 };
	mx_queue_item *it = NULL;
	const uint8_t *data;
	size_t len;
	mx_why why;
	mx_err err;

	if ((err = mx_queue_load(q, id, &it, &why)) != MX_OK) {
		cli_warn("queue", "%s", why.text);
		return cli_exit_for(err);
	}
	print_item(it, &c);
	if (!o->json) {
		if ((data = mx_queue_item_data(it, &len)) == NULL) {
			cli_warn("queue", "%s: the message cannot be read back from the spool", id);
			mx_queue_item_free(it);
			return EX_IOERR;
		}
		printf("-- message\n");
		print_message(data, len);
	}
	mx_queue_item_free(it);
	return EX_OK;
}

static int
cmd_delete(mx_queue *q, int n, char **ids)
{
	int rc = EX_OK;

	for (int i = 0; i < n; i++) {
		mx_why why;
		mx_err err = mx_queue_delete(q, ids[i], &why);
		if (err == MX_OK) {
			printf("%s: deleted\n", ids[i]);
			continue;
		}
		cli_warn("queue", "%s", why.text);
		if (rc == EX_OK)
			rc = cli_exit_for(err);
	}
	return rc;
}

/* ---- run and flush ------------------------------------------------------ */

static void
print_line(const char *line, void *arg)
{
	(void)arg;
	puts(line);
	fflush(stdout);
}

/* --log syslog: facility mail, program mx, as Postfix's lines are. */
static void
syslog_line(const char *line, void *arg)
{
	(void)arg;
	syslog(LOG_INFO, "%s", line);
}

static void
stderr_line(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static void
print_stats(const struct queue_opts *o, const mx_queue_stats *st, double secs)
{
	if (o->json) {
		fprintf(stderr,
		    "{\"summary\": {\"entries\": %zu, \"tried\": %zu, \"sent\": %zu, "
		    "\"deferred\": %zu, \"bounced\": %zu, \"expired\": %zu, \"dsns\": %zu, "
		    "\"skipped\": %zu, \"locked\": %zu, \"corrupt\": %zu, \"removed\": %zu, "
		    "\"seconds\": %.3f}}\n",
		    st->entries, st->tried, st->sent, st->deferred, st->bounced, st->expired,
		    st->dsns, st->skipped, st->locked, st->corrupt, st->removed, secs);
		return;
	}
	fprintf(stderr,
	    "mx queue: %zu entries, %zu tried: %zu sent, %zu deferred "
	    "(%zu not tried: destination down), %zu bounced (%zu expired), %zu DSNs, "
	    "%zu locked by another runner, %zu corrupt, %zu finished; %.2f s\n",
	    st->entries, st->tried, st->sent, st->deferred, st->skipped, st->bounced, st->expired,
	    st->dsns, st->locked, st->corrupt, st->removed, secs);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
one_pass(struct queue_opts *o, mx_queue *q, mx_sender *sender, unsigned flags, int64_t *next_due)
{
	mx_queue_stats st = { 0 };
	double start = now_seconds();
	mx_why why;
	mx_err err;

	/* What local users submitted joins the queue first (mx-drop's drop/). */
	if (mx_queue_pickup(q, o->d.origin, o->d.aliases, NULL, &why) != MX_OK)
		cli_warn("queue", "pickup: %s", why.text);
	err = mx_queue_run(q, sender, flags, &st, &why);

	print_stats(o, &st, now_seconds() - start);
	if (next_due != NULL)
		*next_due = st.next_due;
	if (err != MX_OK) {
		cli_warn("queue", "%s", why.text);
		return cli_exit_for(err);
	}
	return EX_OK;
}

/* --watch: a pass, then sleep until the next entry is due (at most interval). */
static int
watch(struct queue_opts *o, mx_queue *q, mx_sender *sender)
{
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	while (!stop_requested) {
		int64_t due = 0, now;
		int rc = one_pass(o, q, sender, 0, &due);
		unsigned wait = o->interval ? o->interval : 60;
		if (rc == EX_CONFIG)
			return rc;
		now = (int64_t)time(NULL);
		if (due > 0 && due - now < (int64_t)wait)
			wait = due <= now ? 1 : (unsigned)(due - now);
		for (unsigned i = 0; i < wait && !stop_requested; i++)
			sleep(1);
	}
	return EX_OK;
}

static int
cmd_run(struct queue_opts *o, mx_queue *q, unsigned flags)
{
	mx_sender *sender = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (mx_sender_new(&sender, o->d.resolver, o->d.policy) != MX_OK)
		return EX_OSERR;
	if ((rc = delivery_configure(&o->d, sender)) == EX_OK) {
		if (o->log_to == 's')
			openlog("mx", LOG_PID, LOG_MAIL);
		mx_queue_set_log(q,
		    o->log_to == 's'       ? syslog_line
			: o->log_to == 'e' ? stderr_line
					   : print_line,
		    o->json, NULL);
		if (o->concurrency)
			mx_queue_set_concurrency(q, o->concurrency);
		rc = o->watch ? watch(o, q, sender) : one_pass(o, q, sender, flags, NULL);
	}
	mx_sender_free(sender);
	return rc;
}

/* flush with `mx daemon` running: its reply; -1 when no daemon answers. */
static int
ask_daemon(struct queue_opts *o)
{
	char *reply = NULL;

	if (mx_daemon_control(o->d.spool, "flush", &reply) != MX_OK)
		return -1;
	fputs(reply, stdout);
	free(reply);
	return EX_OK;
}

/*
 * Root working on a spool that belongs to another user (the mx user of
 * `mx setup`) becomes that user first, with its groups (mxdrop too, to
 * read drop/), so every file stays the daemon's and root never reads
 * files users wrote.  EX_OK when there is nothing to do.
 */
static int
become_spool_owner(const char *spool)
{
	struct stat st;
	struct passwd *pw;

	char queue[4096];

	/* The spool itself is root's (0755); queue/ says whose the queue is. */
	snprintf(queue, sizeof(queue), "%s/queue", spool);
	if (geteuid() != 0 || stat(queue, &st) != 0 || st.st_uid == 0)
		return EX_OK;
	if ((pw = getpwuid(st.st_uid)) == NULL)
		return cli_warn("queue",
			   "the spool %s belongs to uid %u, which has no "
			   "passwd entry",
			   spool, (unsigned)st.st_uid),
		       EX_CONFIG;
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		return cli_warn("queue", "cannot become the spool's owner %s: %s", pw->pw_name,
			   strerror(errno)),
		       EX_OSERR;
	return EX_OK;
}

int
cmd_queue(int argc, char **argv)
{
	struct queue_opts o;
	const char *sub = argc > 1 ? argv[1] : NULL;
	mx_queue *q = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		queue_usage(sub ? stdout : stderr);
		return sub ? EX_OK : EX_USAGE;
	}
	if ((rc = delivery_opts_init(&o.d, "queue")) != EX_OK)
		goto out;
	if ((rc = parse_options(argc - 1, argv + 1, &o)) != EX_OK) {
		rc = rc == -1 ? EX_OK : rc;
		goto out;
	}
	argc -= 1 + optind;
	argv += 1 + optind;
	bool takes_ids = strcmp(sub, "show") == 0 || strcmp(sub, "delete") == 0;
	if ((takes_ids && argc == 0) || (!takes_ids && argc > 0) ||
	    (strcmp(sub, "show") == 0 && argc != 1) || (o.watch_given && strcmp(sub, "run") != 0)) {
		queue_usage(stderr);
		rc = EX_USAGE;
		goto out;
	}
	if (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "delete") &&
	    strcmp(sub, "run") && strcmp(sub, "flush")) {
		cli_warn("queue", "no such subcommand: %s", sub);
		queue_usage(stderr);
		rc = EX_USAGE;
		goto out;
	}
	/* The file's watch is run's; list, show, delete and flush pass it over. */
	o.watch &= strcmp(sub, "run") == 0;
	/* A one-shot run given --interval was most likely meant to watch:
	 * say so rather than run once (the file's interval is for --watch). */
	if (o.interval_given && !o.watch) {
		cli_warn("queue",
		    "--interval is the longest sleep between --watch passes: "
		    "add --watch, or leave --interval out");
		rc = EX_USAGE;
		goto out;
	}
	if (strcmp(sub, "flush") == 0 && (rc = ask_daemon(&o)) != -1)
		goto out;
	if ((rc = become_spool_owner(o.d.spool)) != EX_OK)
		goto out;
	/* list, show and delete only read or remove: they create nothing. */
	if ((rc = delivery_open_queue_as(
		 &o.d, strcmp(sub, "run") != 0 && strcmp(sub, "flush") != 0, &q)) != EX_OK)
		goto out;
	if (strcmp(sub, "list") == 0)
		rc = cmd_list(&o, q);
	else if (strcmp(sub, "show") == 0)
		rc = cmd_show(&o, q, argv[0]);
	else if (strcmp(sub, "delete") == 0)
		rc = cmd_delete(q, argc, argv);
	else
		rc = cmd_run(&o, q, strcmp(sub, "flush") == 0 ? MX_QUEUE_FLUSH : 0);
out:
	mx_queue_close(q);
	delivery_opts_free(&o.d);
	return rc;
}
