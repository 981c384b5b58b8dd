/*
 * options.c - the options `mx send` and `mx queue` share (resolution,
 * connections, SMTP timeouts, TLS, the spool and its retry schedule):
 * their parsing and checking, and turning them into a configured
 * mx_sender and mx_queue.  The commands own their other options.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
#include "rewrite.h"

void
option_warn(const char *cmd, const char *where, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (where != NULL)
		fprintf(stderr, "mx %s: %s: %s ", cmd, where, name);
	else
		fprintf(stderr, "mx %s: --%s ", cmd, name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A file an option names must be readable now, not at the first use. */
static int
readable(struct delivery_opts *o, const char *name, const char *path)
{
	if (access(path, R_OK) == 0)
		return EX_OK;
	option_warn(o->cmd, o->where, name, "%s: %s", path, strerror(errno));
	return EX_NOINPUT;
}

/* A setting's FILE:LINE kept for a check made after the file is read:
 * o->where lives only while the setting is applied. */
static void
remember_where(char slot[CONFIG_WHERE_MAX], const char *where)
{
	snprintf(slot, CONFIG_WHERE_MAX, "%s", where != NULL ? where : "");
}

static const char *
where_or_null(const char *slot)
{
	return slot[0] != '\0' ? slot : NULL;
}

int
delivery_opts_init(struct delivery_opts *o, const char *cmd)
{
	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->spool = MX_SPOOL_DEFAULT;
	o->retry_first = MX_QUEUE_RETRY_FIRST;
	o->retry_max = MX_QUEUE_RETRY_MAX;
	o->lifetime = MX_QUEUE_LIFETIME;
	if (mx_resolver_new(&o->resolver) != MX_OK || mx_policy_new(&o->policy) != MX_OK)
		return EX_OSERR;
	return EX_OK;
}

void
delivery_opts_free(struct delivery_opts *o)
{
	mx_policy_free(o->policy);
	mx_resolver_free(o->resolver);
	free(o->config_text);
	o->policy = NULL;
	o->resolver = NULL;
	o->config_text = NULL;
}

static int
set_tls(struct delivery_opts *o, const char *v)
{
	static const struct {
		const char *name;
		mx_tls_policy policy;
	} names[] = {
		{ "may", MX_TLS_MAY },
		{ "encrypt", MX_TLS_ENCRYPT },
		{ "dane", MX_TLS_DANE },
		{ "verify", MX_TLS_VERIFY },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(v, names[i].name) == 0) {
			o->tls = names[i].policy;
			return EX_OK;
		}
	}
	option_warn(o->cmd, o->where, "tls", "takes may, encrypt, dane or verify, not \"%s\"", v);
	return EX_USAGE;
}

/* --smtp-timeout STAGE=SECONDS, STAGE as RFC 5321 4.5.3.2 names them. */
static int
set_stage_timeout(struct delivery_opts *o, const char *v)
{
	static const char *const names[] = { "greeting", "ehlo", "starttls", "mail", "rcpt", "data",
		"block", "dot" };
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
	option_warn(o->cmd, o->where, "smtp-timeout",
	    "takes STAGE=SECONDS, STAGE one of "
	    "greeting, ehlo, starttls, mail, rcpt, data, block, dot; not \"%s\"",
	    v);
	return EX_USAGE;
}

static int
set_resolver_option(struct delivery_opts *o, int opt, const char *v)
{
	unsigned ms;

	switch (opt) {
	case 'r':
		if (mx_resolver_add_server(o->resolver, v) == MX_OK)
			return EX_OK;
		option_warn(o->cmd, o->where, "resolver", "takes IP or IP@PORT, not \"%s\"", v);
		return EX_USAGE;
	case 'a':
		if (strcmp(v, "none") != 0 && readable(o, "trust-anchor", v) != EX_OK)
			return EX_NOINPUT;
		mx_resolver_set_trust_anchor(o->resolver, strcmp(v, "none") ? v : NULL);
		return EX_OK;
	case 'T':
		if (!cli_parse_seconds(v, 3600u * 1000u, &ms))
			return option_warn(
				   o->cmd, o->where, "timeout", "takes seconds, not \"%s\"", v),
			       EX_USAGE;
		mx_policy_set_timeout_ms(o->policy, ms);
		return EX_OK;
	}
	return -1;
}

/* Whole seconds for the queue's schedule: 0 allowed, up to a year. */
static int
set_queue_seconds(struct delivery_opts *o, const char *name, const char *v, unsigned *out)
{
	unsigned long long n;

	if (!cli_parse_uint(v, 366ull * 24 * 3600, &n))
		return option_warn(o->cmd, o->where, name, "takes whole seconds, not \"%s\"", v),
		       EX_USAGE;
	*out = (unsigned)n;
	remember_where(o->retry_where, o->where);
	return EX_OK;
}

int
delivery_option(struct delivery_opts *o, int opt, const char *v)
{
	unsigned long long n;
	unsigned ms;

	switch (opt) {
	case 'L': return set_tls(o, v);
	case 'C':
		o->ca_file = v;
		remember_where(o->ca_where, o->where);
		return readable(o, "ca-file", v);
	case 'H':
		o->helo = v;
		remember_where(o->helo_where, o->where);
		return EX_OK;
	case 'P': o->spool = v; return EX_OK;
	case 0x107: /* this host's own names: an MX list stops at them (mx route's) */
		if (mx_policy_add_local_name(o->policy, v) == MX_OK)
			return EX_OK;
		return option_warn(o->cmd, o->where, "local-name",
			   "\"%s\" is not a host name "
			   "(or more than 32 given)",
			   v),
		       o->where ? EX_CONFIG : EX_USAGE;
	case 'S': return set_stage_timeout(o, v);
	case 0x101: return set_queue_seconds(o, "retry-first", v, &o->retry_first);
	case 0x102: return set_queue_seconds(o, "retry-max", v, &o->retry_max);
	case 0x103: return set_queue_seconds(o, "lifetime", v, &o->lifetime);
	case 0x104: return EX_OK; /* --config: read before the others */
	case 0x106: o->aliases = v; return EX_OK;
	case 0x105:
		if (!rewrite_origin_ok(v))
			return option_warn(
				   o->cmd, o->where, "origin", "\"%s\" is not a domain name", v),
			       EX_USAGE;
		o->origin = v;
		return EX_OK;
	case 'D':
		if (!cli_parse_uint(v, 60000, &n))
			return option_warn(o->cmd, o->where, "attempt-delay",
				   "takes milliseconds, not \"%s\"", v),
			       EX_USAGE;
		o->attempt_delay_ms = (unsigned)n;
		o->attempt_delay_given = true;
		o->connect_set = true;
		return EX_OK;
	case 'c':
		if (!cli_parse_seconds(v, 3600u * 1000u, &ms))
			return option_warn(o->cmd, o->where, "connect-timeout",
				   "takes seconds, not \"%s\"", v),
			       EX_USAGE;
		o->connect_timeout_ms = ms;
		o->connect_set = true;
		return EX_OK;
	case 'E':
		if (!cli_parse_seconds(v, 24u * 3600u * 1000u, &ms))
			return option_warn(
				   o->cmd, o->where, "deadline", "takes seconds, not \"%s\"", v),
			       EX_USAGE;
		o->deadline_ms = ms;
		return EX_OK;
	}
	return set_resolver_option(o, opt, v);
}

/*
 * MTA-STS's cache and TLS-RPT's store live in SPOOL/mta-sts when the
 * spool exists (a command that only sends never creates the spool).
 */
static int
sts_configure(struct delivery_opts *o, mx_sender *sender)
{
	char dir[4096];
	struct stat st;
	int n = snprintf(dir, sizeof(dir), "%s/mta-sts", o->spool);
	bool have = stat(o->spool, &st) == 0 && S_ISDIR(st.st_mode);

	if (n < 0 || (size_t)n >= sizeof(dir))
		return cli_warn(o->cmd, "--spool: the path is too long"), EX_USAGE;
	if (mx_sender_set_sts(sender, true, have ? dir : NULL) != MX_OK)
		return cli_warn(o->cmd, "out of memory"), EX_OSERR;
	return EX_OK;
}

static void
transcript(const char *host, char dir, const char *line, size_t len, void *arg)
{
	(void)arg;
	/* '*': a note of the library's (the MTA-STS policy and its rule). */
	fprintf(stderr, "%s %c %.*s\n", host, dir == '>' || dir == '*' ? dir : '<', (int)len, line);
}

int
delivery_configure(struct delivery_opts *o, mx_sender *sender)
{
	mx_why why;
	mx_err err;

	if (o->helo != NULL && mx_sender_set_helo(sender, o->helo) != MX_OK)
		return option_warn(o->cmd, where_or_null(o->helo_where), "helo",
			   "\"%s\" is not a host name", o->helo),
		       o->helo_where[0] ? EX_CONFIG : EX_USAGE;
	/* The file was readable (delivery_option), so what fails is its content. */
	if ((err = mx_sender_set_tls(sender, o->tls, o->ca_file, &why)) == MX_ERR_CONFIG &&
	    o->ca_file)
		return option_warn(o->cmd, where_or_null(o->ca_where), "ca-file",
			   "%s: holds no PEM certificate "
			   "that OpenSSL can read",
			   o->ca_file),
		       EX_CONFIG;
	if (err != MX_OK)
		return cli_warn(o->cmd, "cannot set up TLS: %s", why.text), cli_exit_for(err);
	/* 0 is a real attempt delay: every address at once. */
	if (o->connect_set &&
	    mx_sender_set_connect(sender, o->attempt_delay_given ? o->attempt_delay_ms : 250,
		o->connect_timeout_ms ? o->connect_timeout_ms : 30000) != MX_OK)
		return EX_USAGE;
	for (int st = MX_SMTP_GREETING; st <= MX_SMTP_DOT; st++)
		if (o->stage_ms[st] &&
		    mx_sender_set_timeout(sender, (mx_smtp_stage)st, o->stage_ms[st]) != MX_OK)
			return EX_USAGE;
	if (mx_sender_set_deadline(sender, o->deadline_ms) != MX_OK)
		return EX_USAGE;
	if (o->verbose)
		mx_sender_set_transcript(sender, transcript, NULL);
	return sts_configure(o, sender);
}

int
delivery_opts_check(struct delivery_opts *o)
{
	if (o->retry_max < o->retry_first) {
		option_warn(o->cmd, where_or_null(o->retry_where), "retry-max",
		    "(%u) is shorter than "
		    "retry-first (%u)",
		    o->retry_max, o->retry_first);
		return o->retry_where[0] ? EX_CONFIG : EX_USAGE;
	}
	return EX_OK;
}

int
delivery_open_queue(struct delivery_opts *o, mx_queue **out)
{
	return delivery_open_queue_as(o, false, out);
}

int
delivery_open_queue_as(struct delivery_opts *o, bool existing_only, mx_queue **out)
{
	mx_why why;
	mx_err err;

	err = existing_only ? mx_queue_open_existing(out, o->spool, &why)
			    : mx_queue_open(out, o->spool, &why);
	if (err != MX_OK) {
		cli_warn(o->cmd, "spool %s: %s", o->spool, why.text);
		return EX_TEMPFAIL;
	}
	mx_queue_set_retry(*out, o->retry_first, o->retry_max, o->lifetime);
	return EX_OK;
}
