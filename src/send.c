/*
 * send.c - `mx send` (and sendmail -odi through send_now, sendmail.c):
 * reads the message from standard input (all of it, before any connection),
 * takes recipients from the arguments and/or the headers (-t), delivers
 * through libmx, queues what was deferred, and prints one log line per
 * recipient (or JSON).  Exit status as sendmail callers expect: 0 all
 * sent or safely queued, 75 deferred and not queued (--no-queue, or the
 * spool refused), 69 some bounced, 64 usage, 65 a malformed message or
 * address.
 */
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "options.h"
#include "send.h"

#define MAX_MESSAGE (64u * 1024u * 1024u)

struct send_opts {
	struct delivery_opts d;
	const char *from;
	bool from_headers;  /* -t */
	bool dots_are_data; /* -i, -oi */
	bool json;
	bool no_queue;   /* --no-queue: deferred means exit 75 */
	bool queue_only; /* --queue-only: queue without trying */
};

struct send_run {
	struct send_opts *o;
	int exit_code;
	bool done;
};

const struct option send_longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "no-queue", no_argument, NULL, 0x110 },
	{ "queue-only", no_argument, NULL, 0x111 },
	{ "help", no_argument, NULL, 0x1ff },
	DELIVERY_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static void
send_usage(FILE *to)
{
	fprintf(to,
	    "usage: mx send [-f SENDER] [-t] [-i] [-v] [--json] [--no-queue | --queue-only]\n"
	    "  [sendmail's -bm, -h HOPS, -oi, -B TYPE, -F NAME, -N DSN, -R RET, -V ENVID,\n"
	    "   -O OPTION, -X FILE: taken and ignored]\n" DELIVERY_USAGE
	    "  [RECIPIENT...]   (the message is read from standard input)\n");
}

/* Deferred recipients go to the queue; the exit says whether they are safe. */
static int
queue_deferred(struct send_run *run, mx_delivery *d)
{
	char id[MX_QUEUE_ID_MAX + 1];
	mx_queue *q = NULL;
	mx_why why;
	int rc;

	if (run->o->no_queue)
		return EX_TEMPFAIL;
	if ((rc = delivery_open_queue(&run->o->d, &q)) != EX_OK)
		return rc == EX_USAGE ? rc : EX_TEMPFAIL;
	if (mx_queue_add_deferred(q, d, id, &why) != MX_OK) {
		cli_warn("send", "%s: the deferred recipients are NOT queued", why.text);
		mx_queue_close(q);
		return EX_TEMPFAIL;
	}
	fprintf(stderr, "mx send: deferred recipients queued as %s in %s\n", id, run->o->d.spool);
	mx_queue_close(q);
	return EX_OK;
}

static void
on_delivery(mx_delivery *d, void *arg)
{
	struct send_run *run = arg;
	bool deferred = false, bounced = false;
	int queued = EX_OK;

	for (size_t i = 0; i < mx_delivery_count(d); i++) {
		char *line = NULL;
		mx_err err = run->o->json ? mx_delivery_to_json(d, i, &line)
					  : mx_delivery_log_line(d, i, &line);
		if (err == MX_OK)
			puts(line);
		free(line);
		deferred |= mx_delivery_status(d, i) == MX_RCPT_DEFERRED;
		bounced |= mx_delivery_status(d, i) == MX_RCPT_BOUNCED;
	}
	fflush(stdout);
	if (deferred)
		queued = queue_deferred(run, d);
	run->exit_code = bounced ? EX_UNAVAILABLE : queued;
	run->done = true;
	mx_delivery_free(d);
}

/*
 * sendmail's options that callers pass and that mean nothing here; -h is
 * the hop count, which Postfix ignores too (it counts Received: itself).
 */
static bool
ignored_sendmail_option(int opt)
{
	return opt == 'o' || opt == 'F' || opt == 'B' || opt == 'N' || opt == 'R' || opt == 'V' ||
	    opt == 'X' || opt == 'O' || opt == 'h';
}

/* ctx: the options; also called for the configuration file's settings. */
static int
apply_option(void *ctx, int opt, const char *v, const char *where)
{
	struct send_opts *o = ctx;
	int rc;

	o->d.where = where;
	switch (opt) {
	case 'f': o->from = v; return EX_OK;
	case 't': o->from_headers = true; return EX_OK;
	case 'i': o->dots_are_data = true; return EX_OK;
	case 'v': o->d.verbose = true; return EX_OK;
	case 'j': o->json = true; return EX_OK;
	case 0x110: o->no_queue = true; return EX_OK;
	case 0x111: o->queue_only = true; return EX_OK;
	}
	if (opt == 'o' && v != NULL && strcmp(v, "i") == 0)
		o->dots_are_data = true; /* -oi, as sendmail */
	/* -bm is "read the message, deliver it": what this always does.  Any
	 * other mode (-bp, -bs, -bv, -bi...) would be taken as mail here. */
	if (opt == 'b' && strcmp(v, "m") != 0)
		return cli_warn("send",
			   "-b%s is not supported: only -bm (deliver a message "
			   "from standard input); nothing was sent",
			   v),
		       EX_USAGE;
	if (opt == 'b' || ignored_sendmail_option(opt))
		return EX_OK;
	if ((rc = delivery_option(&o->d, opt, v)) == -1)
		return EX_USAGE;
	return rc;
}

/*
 * An option not understood stops everything with EX_USAGE: a caller that
 * took exit 0 as "the mail is taken" must never get it for mail that was
 * not read.  getopt's optopt is the letter; a long option has none.
 */
static int
unknown_option(int opt, const char *arg)
{
	bool is_long = strncmp(arg, "--", 2) == 0;

	if (opt == ':' && is_long)
		cli_warn("send", "%s needs a value; nothing was sent", arg);
	else if (opt == ':')
		cli_warn("send", "-%c needs a value; nothing was sent", optopt);
	else if (is_long || optopt == 0)
		cli_warn("send", "unknown option %s; nothing was sent", arg);
	else
		cli_warn("send", "unknown option -%c; nothing was sent", optopt);
	send_usage(stderr);
	return EX_USAGE;
}

/* --help is a question, answered with exit 0 (sendmail.c refuses it). */
static int
help(void)
{
	send_usage(stdout);
	return -1;
}

static int
parse_options(int argc, char **argv, struct send_opts *o)
{
	int opt, rc;

	if ((rc = config_load(config_path_from_args(argc, argv), "send", send_longopts, argc, argv,
		 apply_option, o, &o->d.config_text)) != EX_OK)
		return rc;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":f:tivb:h:F:B:N:R:V:X:O:o:", send_longopts, NULL)) !=
	    -1) {
		if (opt == 0x1ff)
			return help();
		if (opt == '?' || opt == ':')
			return unknown_option(opt, argv[optind - 1]);
		if ((rc = apply_option(o, opt, optarg, NULL)) != EX_OK)
			return rc;
	}
	if (o->no_queue && o->queue_only) {
		cli_warn("send", "--no-queue and --queue-only contradict each other");
		return EX_USAGE;
	}
	return delivery_opts_check(&o->d);
}

/* Envelope recipients: the arguments, then (-t) the header's, checked. */
static int
collect_rcpts(
    struct send_opts *o, const mx_message *m, int argc, char **argv, const char ***out, size_t *n)
{
	size_t cap = (size_t)argc + mx_message_recipient_count(m);
	const char **r = calloc(cap ? cap : 1, sizeof(*r));
	mx_why why;

	if (r == NULL)
		return EX_OSERR;
	*n = 0;
	for (int i = 0; i < argc; i++)
		r[(*n)++] = argv[i];
	for (size_t i = 0; o->from_headers && i < mx_message_recipient_count(m); i++)
		r[(*n)++] = mx_message_recipient(m, i);
	for (size_t i = 0; i < *n; i++) {
		if (mx_address_check(r[i], false, &why) != MX_OK) {
			cli_warn("send", "recipient \"%s\" %s", r[i], why.text);
			free(r);
			return EX_DATAERR;
		}
	}
	if (*n == 0) {
		cli_warn("send", "no recipients (give them as arguments, or -t)");
		free(r);
		return EX_USAGE;
	}
	*out = r;
	return EX_OK;
}

/*
 * The envelope sender: -f, where "" is the null sender <>, as sendmail
 * has it; without -f, the invoking user at this host, as Postfix does.
 */
static const char *
envelope_sender(struct send_opts *o, char *buf, size_t size)
{
	struct passwd *pw;
	char host[256] = "localhost";

	if (o->from != NULL)
		return o->from[0] ? o->from : "<>";
	gethostname(host, sizeof(host) - 1);
	pw = getpwuid(getuid());
	snprintf(buf, size, "%s@%s", pw && pw->pw_name ? pw->pw_name : "root",
	    o->d.helo ? o->d.helo : host);
	return buf;
}

/* --queue-only: accepted once it is safely in the spool, nothing tried. */
static int
queue_only(struct send_opts *o, const char *from, const char **rcpts, size_t n, const mx_message *m)
{
	char id[MX_QUEUE_ID_MAX + 1];
	mx_queue *q = NULL;
	mx_why why;
	mx_err err;
	int rc;

	if ((rc = delivery_open_queue(&o->d, &q)) != EX_OK)
		return rc;
	if ((err = mx_queue_add(q, from, rcpts, n, m, id, &why)) != MX_OK) {
		cli_warn("send", "%s", why.text);
		mx_queue_close(q);
		return cli_exit_for(err);
	}
	if (o->json)
		printf(
		    "{\"queue_id\": \"%s\", \"status\": \"queued\", \"recipients\": %zu}\n", id, n);
	else
		printf("queued as %s (%zu recipient%s)\n", id, n, n == 1 ? "" : "s");
	mx_queue_close(q);
	return EX_OK;
}

/* The message to these recipients, now: Date, Message-ID and From added,
 * then queued (--queue-only) or delivered. */
static int
deliver_to(struct send_opts *o, mx_sender *sender, mx_message *m, const char *from,
    const char **rcpts, size_t n)
{
	struct send_run run = { .o = o, .exit_code = EX_SOFTWARE };
	char host[256] = "localhost";
	mx_why why;
	mx_err err;

	gethostname(host, sizeof(host) - 1);
	if (mx_message_complete(m, from, o->d.helo ? o->d.helo : host) != MX_OK)
		return cli_warn("send", "cannot add Date, Message-ID or From"), EX_SOFTWARE;
	if (o->queue_only)
		return queue_only(o, from, rcpts, n, m);
	err = mx_send_message(sender, from, rcpts, n, m, on_delivery, &run, &why);
	if (err == MX_OK && (err = mx_resolver_run(o->d.resolver)) != MX_OK)
		snprintf(why.text, sizeof(why.text), "the event loop failed");
	if (err != MX_OK) {
		cli_warn("send", "%s%s%s", mx_strerror(err), why.text[0] ? ": " : "", why.text);
		return cli_exit_for(err);
	}
	return run.exit_code;
}

static int
deliver(struct send_opts *o, mx_sender *sender, mx_message *m, int argc, char **argv)
{
	const char **rcpts = NULL;
	char buf[512];
	const char *from = envelope_sender(o, buf, sizeof(buf));
	mx_why why;
	size_t n = 0;
	int rc;

	if (mx_address_check(from, true, &why) != MX_OK)
		return cli_warn("send", "sender \"%s\" %s", from, why.text), EX_DATAERR;
	if ((rc = collect_rcpts(o, m, argc, argv, &rcpts, &n)) != EX_OK)
		return rc;
	rc = deliver_to(o, sender, m, from, rcpts, n);
	free(rcpts);
	return rc;
}

/* The sender made from the options; EX_OK or an exit code. */
static int
setup(struct send_opts *o, int argc, char **argv, mx_sender **sender)
{
	int rc;

	/* A server that hangs up must be an error reply, not a dead process. */
	signal(SIGPIPE, SIG_IGN);
	if ((rc = delivery_opts_init(&o->d, "send")) != EX_OK)
		return rc;
	if ((rc = parse_options(argc, argv, o)) != EX_OK)
		return rc;
	if (mx_sender_new(sender, o->d.resolver, o->d.policy) != MX_OK)
		return EX_OSERR;
	return delivery_configure(&o->d, *sender);
}

int
send_now(int argc, char **argv, mx_message *m, const char *from, const char **rcpts, size_t n)
{
	struct send_opts o = { 0 };
	mx_sender *sender = NULL;
	int rc;

	if ((rc = setup(&o, argc, argv, &sender)) == EX_OK)
		rc = deliver_to(&o, sender, m, from, rcpts, n);
	mx_sender_free(sender);
	delivery_opts_free(&o.d);
	return rc == -1 ? EX_USAGE : rc;
}

int
cmd_send(int argc, char **argv)
{
	struct send_opts o = { 0 };
	mx_sender *sender = NULL;
	mx_message *m = NULL;
	mx_why why;
	mx_err err;
	int rc;

	if ((rc = setup(&o, argc, argv, &sender)) != EX_OK) {
		rc = rc == -1 ? EX_OK : rc;
		goto out;
	}
	/* The whole message first: a malformed one never opens a connection. */
	if ((err = mx_message_read(STDIN_FILENO,
		 (o.from_headers ? MX_MESSAGE_FROM_HEADERS : 0) |
		     (o.dots_are_data ? MX_MESSAGE_DOTS_ARE_DATA : 0),
		 MAX_MESSAGE, &m, &why)) != MX_OK) {
		cli_warn("send", "message refused: %s", why.text[0] ? why.text : "unreadable");
		/* Malformed or too big: 65; a read error: 74; out of memory: 75. */
		rc = err == MX_ERR_SYSTEM ? EX_IOERR : cli_exit_for(err);
		goto out;
	}
	rc = deliver(&o, sender, m, argc - optind, argv + optind);
out:
	mx_message_free(m);
	mx_sender_free(sender);
	delivery_opts_free(&o.d);
	return rc;
}
