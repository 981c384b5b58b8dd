/*
 * send.c - `mx send`, and `sendmail` when the binary is called so: reads
 * the message from standard input (all of it, before any connection),
 * takes recipients from the arguments and/or the headers (-t), delivers
 * through libmx, and prints one log line per recipient (or JSON).  Exit
 * status as sendmail callers expect: 0 all sent, 75 some deferred and
 * none bounced, 69 some bounced, 64 usage, 65 a malformed message or
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

#define MAX_MESSAGE (64u * 1024u * 1024u)

struct send_opts {
	const char *from;
	bool from_headers;      /* -t */
	bool dots_are_data;     /* -i, -oi */
	bool verbose;           /* -v */
	bool json;
	mx_tls_policy tls;
	const char *ca_file;
	const char *helo;
	unsigned attempt_delay_ms, connect_timeout_ms;
	bool connect_set;           /* --attempt-delay or --connect-timeout given */
	bool attempt_delay_given;
	unsigned deadline_ms;
	unsigned stage_ms[8];       /* --smtp-timeout, by mx_smtp_stage; 0: default */
	mx_resolver *resolver;
	mx_policy *policy;
};

struct send_run {
	struct send_opts *o;
	int exit_code;
	bool done;
};

static void
send_usage(FILE *to)
{
	fprintf(to,
	    "usage: mx send [-f SENDER] [-t] [-i] [-v] [--json] [--resolver IP[@PORT]]...\n"
	    "               [--tls may|encrypt|dane|verify] [--ca-file FILE]\n"
	    "               [--helo NAME] [--attempt-delay MS] [--connect-timeout SECONDS]\n"
	    "               [--smtp-timeout STAGE=SECONDS]... [--deadline SECONDS]\n"
	    "               [--trust-anchor FILE|none] [--timeout SECONDS] [RECIPIENT...]\n"
	    "       (the message is read from standard input)\n");
}

static void
transcript(const char *host, char dir, const char *line, size_t len, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s %c %.*s\n", host, dir == '>' ? '>' : '<', (int)len, line);
}

static void
on_delivery(mx_delivery *d, void *arg)
{
	struct send_run *run = arg;
	bool deferred = false, bounced = false;

	for (size_t i = 0; i < mx_delivery_count(d); i++) {
		char *line = NULL;
		mx_err err = run->o->json ? mx_delivery_to_json(d, i, &line) :
		    mx_delivery_log_line(d, i, &line);
		if (err == MX_OK)
			puts(line);
		free(line);
		deferred |= mx_delivery_status(d, i) == MX_RCPT_DEFERRED;
		bounced |= mx_delivery_status(d, i) == MX_RCPT_BOUNCED;
	}
	run->exit_code = bounced ? EX_UNAVAILABLE : deferred ? EX_TEMPFAIL : EX_OK;
	run->done = true;
	mx_delivery_free(d);
}

static int
set_tls(struct send_opts *o, const char *v)
{
	static const struct { const char *name; mx_tls_policy policy; } names[] = {
		{"may", MX_TLS_MAY}, {"encrypt", MX_TLS_ENCRYPT},
		{"dane", MX_TLS_DANE}, {"verify", MX_TLS_VERIFY},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(v, names[i].name) == 0) {
			o->tls = names[i].policy;
			return EX_OK;
		}
	}
	cli_warn("send", "--tls takes may, encrypt, dane or verify, not \"%s\"", v);
	return EX_USAGE;
}

static int
set_resolver_option(struct send_opts *o, int opt, const char *v)
{
	unsigned ms;

	switch (opt) {
	case 'r':
		if (mx_resolver_add_server(o->resolver, v) == MX_OK)
			return EX_OK;
		cli_warn("send", "--resolver takes IP or IP@PORT, not \"%s\"", v);
		return EX_USAGE;
	case 'a':
		if (strcmp(v, "none") != 0 && access(v, R_OK) != 0) {
			cli_warn("send", "--trust-anchor: cannot read %s", v);
			return EX_NOINPUT;
		}
		mx_resolver_set_trust_anchor(o->resolver, strcmp(v, "none") ? v : NULL);
		return EX_OK;
	case 'T':
		if (!cli_parse_seconds(v, 3600u * 1000u, &ms))
			return cli_warn("send", "--timeout takes seconds, not \"%s\"", v), EX_USAGE;
		mx_policy_set_timeout_ms(o->policy, ms);
		return EX_OK;
	}
	return EX_USAGE;
}

/* --smtp-timeout STAGE=SECONDS, STAGE as RFC 5321 4.5.3.2 names them. */
static int
set_stage_timeout(struct send_opts *o, const char *v)
{
	static const char *const names[] = {"greeting", "ehlo", "starttls", "mail",
	    "rcpt", "data", "block", "dot"};
	const char *eq = strchr(v, '=');
	unsigned ms;

	for (size_t i = 0; eq != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) != (size_t)(eq - v) || strncmp(v, names[i], (size_t)(eq - v)))
			continue;
		if (!cli_parse_seconds(eq + 1, 24u * 3600u * 1000u, &ms))
			break;
		o->stage_ms[i] = ms;
		return EX_OK;
	}
	cli_warn("send", "--smtp-timeout takes STAGE=SECONDS, STAGE one of greeting, ehlo, "
	    "starttls, mail, rcpt, data, block, dot; not \"%s\"", v);
	return EX_USAGE;
}

/* sendmail's options that callers pass and that mean nothing here. */
static bool
ignored_sendmail_option(int opt)
{
	return opt == 'o' || opt == 'F' || opt == 'B' || opt == 'N' || opt == 'R' ||
	    opt == 'V' || opt == 'X' || opt == 'O';
}

static int
apply_option(struct send_opts *o, int opt, const char *v)
{
	unsigned long long n;
	unsigned ms;

	switch (opt) {
	case 'f': o->from = v; return EX_OK;
	case 't': o->from_headers = true; return EX_OK;
	case 'i': o->dots_are_data = true; return EX_OK;
	case 'v': o->verbose = true; return EX_OK;
	case 'j': o->json = true; return EX_OK;
	case 'L': return set_tls(o, v);
	case 'C': o->ca_file = v; return EX_OK;
	case 'H': o->helo = v; return EX_OK;
	case 'D':
		if (!cli_parse_uint(v, 60000, &n))
			return cli_warn("send", "--attempt-delay takes milliseconds, not \"%s\"", v),
			    EX_USAGE;
		o->attempt_delay_ms = (unsigned)n;
		o->attempt_delay_given = true;
		o->connect_set = true;
		return EX_OK;
	case 'c':
		if (!cli_parse_seconds(v, 3600u * 1000u, &ms))
			return cli_warn("send", "--connect-timeout takes seconds, not \"%s\"", v),
			    EX_USAGE;
		o->connect_timeout_ms = ms;
		o->connect_set = true;
		return EX_OK;
	case 'E':
		if (!cli_parse_seconds(v, 24u * 3600u * 1000u, &ms))
			return cli_warn("send", "--deadline takes seconds, not \"%s\"", v), EX_USAGE;
		o->deadline_ms = ms;
		return EX_OK;
	case 'S':
		return set_stage_timeout(o, v);
	}
	if (opt == 'o' && v != NULL && strcmp(v, "i") == 0)
		o->dots_are_data = true; /* -oi, as sendmail */
	if (ignored_sendmail_option(opt))
		return EX_OK;
	return set_resolver_option(o, opt, v);
}

static int
parse_options(int argc, char **argv, struct send_opts *o)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"resolver", required_argument, NULL, 'r'},
		{"tls", required_argument, NULL, 'L'},
		{"ca-file", required_argument, NULL, 'C'},
		{"helo", required_argument, NULL, 'H'},
		{"attempt-delay", required_argument, NULL, 'D'},
		{"connect-timeout", required_argument, NULL, 'c'},
		{"deadline", required_argument, NULL, 'E'},
		{"smtp-timeout", required_argument, NULL, 'S'},
		{"trust-anchor", required_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt, rc;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:tivhF:B:N:R:V:X:O:o:", longopts, NULL)) != -1) {
		if (opt == 'h') {
			send_usage(stdout);
			return -1;
		}
		if (opt == '?' || opt == ':') {
			if (optopt != 0)
				cli_warn("send", "unknown option or missing value: -%c", optopt);
			else
				cli_warn("send", "unknown option or missing value: %s",
				    argv[optind - 1]);
			send_usage(stderr);
			return EX_USAGE;
		}
		if ((rc = apply_option(o, opt, optarg)) != EX_OK)
			return rc;
	}
	return EX_OK;
}

static int
configure(struct send_opts *o, mx_sender *sender)
{
	if (o->helo != NULL && mx_sender_set_helo(sender, o->helo) != MX_OK)
		return cli_warn("send", "--helo \"%s\" is not a host name", o->helo), EX_USAGE;
	if (mx_sender_set_tls(sender, o->tls, o->ca_file) != MX_OK)
		return cli_warn("send", "cannot set up TLS%s%s", o->ca_file ? " with " : "",
		    o->ca_file ? o->ca_file : ""), EX_CONFIG;
	/* 0 is a real attempt delay: every address at once. */
	if (o->connect_set && mx_sender_set_connect(sender,
	    o->attempt_delay_given ? o->attempt_delay_ms : 250,
	    o->connect_timeout_ms ? o->connect_timeout_ms : 30000) != MX_OK)
		return EX_USAGE;
	for (int st = MX_SMTP_GREETING; st <= MX_SMTP_DOT; st++)
		if (o->stage_ms[st] && mx_sender_set_timeout(sender, (mx_smtp_stage)st,
		    o->stage_ms[st]) != MX_OK)
			return EX_USAGE;
	if (mx_sender_set_deadline(sender, o->deadline_ms) != MX_OK)
		return EX_USAGE;
	if (o->verbose)
		mx_sender_set_transcript(sender, transcript, NULL);
	return EX_OK;
}

/* Envelope recipients: the arguments, then (-t) the header's, checked. */
static int
collect_rcpts(struct send_opts *o, const mx_message *m, int argc, char **argv,
    const char ***out, size_t *n)
{
	size_t cap = (size_t)argc + mx_message_recipient_count(m);
	const char **r = calloc(cap ? cap : 1, sizeof(*r));
	const char *why;

	if (r == NULL)
		return EX_OSERR;
	*n = 0;
	for (int i = 0; i < argc; i++)
		r[(*n)++] = argv[i];
	for (size_t i = 0; o->from_headers && i < mx_message_recipient_count(m); i++)
		r[(*n)++] = mx_message_recipient(m, i);
	for (size_t i = 0; i < *n; i++) {
		if (mx_address_check(r[i], false, &why) != MX_OK) {
			cli_warn("send", "recipient \"%s\" %s", r[i], why);
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
	    o->helo ? o->helo : host);
	return buf;
}

static int
deliver(struct send_opts *o, mx_sender *sender, mx_message *m, int argc, char **argv)
{
	struct send_run run = {.o = o, .exit_code = EX_SOFTWARE};
	const char **rcpts = NULL;
	char buf[512], host[256] = "localhost";
	const char *why, *from = envelope_sender(o, buf, sizeof(buf));
	size_t n = 0;
	mx_err err;
	int rc;

	if (mx_address_check(from, true, &why) != MX_OK)
		return cli_warn("send", "sender \"%s\" %s", from, why), EX_DATAERR;
	if ((rc = collect_rcpts(o, m, argc, argv, &rcpts, &n)) != EX_OK)
		return rc;
	gethostname(host, sizeof(host) - 1);
	if (mx_message_complete(m, from, o->helo ? o->helo : host) != MX_OK) {
		free(rcpts);
		return cli_warn("send", "cannot add Date, Message-ID or From"), EX_SOFTWARE;
	}
	err = mx_send_message(sender, from, rcpts, n, m, on_delivery, &run);
	if (err == MX_OK)
		err = mx_resolver_run(o->resolver);
	free(rcpts);
	if (err != MX_OK) {
		cli_warn("send", "%s%s%s", mx_strerror(err),
		    mx_resolver_diagnostic(o->resolver)[0] ? ": " : "",
		    mx_resolver_diagnostic(o->resolver));
		return cli_exit_for(err);
	}
	return run.exit_code;
}

int
cmd_send(int argc, char **argv)
{
	struct send_opts o = {0};
	mx_sender *sender = NULL;
	mx_message *m = NULL;
	const char *why = NULL;
	mx_err err;
	int rc;

	/* A server that hangs up must be an error reply, not a dead process. */
	signal(SIGPIPE, SIG_IGN);
	if (mx_resolver_new(&o.resolver) != MX_OK || mx_policy_new(&o.policy) != MX_OK) {
		rc = EX_OSERR;
		goto out;
	}
	if ((rc = parse_options(argc, argv, &o)) != EX_OK) {
		rc = rc == -1 ? EX_OK : rc;
		goto out;
	}
	if (mx_sender_new(&sender, o.resolver, o.policy) != MX_OK ||
	    (rc = configure(&o, sender)) != EX_OK)
		goto out;
	/* The whole message first: a malformed one never opens a connection. */
	if ((err = mx_message_read(STDIN_FILENO, (o.from_headers ? MX_MESSAGE_FROM_HEADERS : 0) |
	    (o.dots_are_data ? MX_MESSAGE_DOTS_ARE_DATA : 0), MAX_MESSAGE, &m, &why)) != MX_OK) {
		cli_warn("send", "message refused: %s", why ? why : "unreadable");
		/* Malformed or too big: 65; a read error: 74; out of memory: 75. */
		rc = err == MX_ERR_SYSTEM ? EX_IOERR : err == MX_ERR_NOMEM ? EX_TEMPFAIL :
		    EX_DATAERR;
		goto out;
	}
	rc = deliver(&o, sender, m, argc - optind, argv + optind);
out:
	mx_message_free(m);
	mx_sender_free(sender);
	mx_policy_free(o.policy);
	mx_resolver_free(o.resolver);
	return rc;
}
