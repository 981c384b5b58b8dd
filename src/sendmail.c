/*
 * sendmail.c - the sendmail front end: `mx` called as sendmail, mailq or
 * newaliases, or `mx sendmail`.  Parses Postfix sendmail's options and
 * runs one mode: -bm (the default: the message checked and handed to the
 * set-group-ID helper mx-drop, silently), -odi (delivered now as `mx
 * send`), -bp (the queue in Postfix's mailq format), -bi (the alias file
 * checked), -q (one queue run), -bs (SMTP on stdin/stdout, sendmail_bs.c).
 * Never delivers in the default mode and never prints on standard output
 * there; what goes wrong goes to standard error with a sysexits code.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "cli.h"
#include "config.h"
#include "options.h"
#include "queue.h"
#include "send.h"
#include "sendmail.h"
#include "sendmail_bs.h"
#include "sendmail_msg.h"

#define ALIASES_DEFAULT "/etc/aliases"
#define PASS_MAX        64

const struct option sendmail_longopts[] = {
	DELIVERY_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static int
usage_error(const char *fmt, const char *arg)
{
	fputs("sendmail: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("; nothing was sent (see mx(1), SENDMAIL COMPATIBILITY)\n", stderr);
	return EX_USAGE;
}

/* -oX...: the ones that mean something; every other -o is ignored, as Postfix does. */
static int
option_o(struct sendmail_opts *o, const char *v)
{
	if (strcmp(v, "i") == 0)
		return o->dots_are_data = true, EX_OK;
	if (strcmp(v, "di") == 0)
		return o->deliver_now = true, EX_OK;
	if (strcmp(v, "db") == 0 || strcmp(v, "dq") == 0 || strcmp(v, "dd") == 0)
		return o->deliver_now = false, EX_OK;
	if (v[0] == 'd')
		return usage_error("-o%s: the delivery mode is b, q, d or i", v);
	if (v[0] == 'e' && v[1] != '\0' && v[2] == '\0' && strchr("empq", v[1]) != NULL)
		return o->env.error_mode = v[1], EX_OK;
	if (v[0] == 'e')
		return usage_error("-o%s: the error mode is e, m, p or q", v);
	if (v[0] == '\0')
		return usage_error("-o%s needs an option letter", v);
	return EX_OK;
}

static int
option_b(struct sendmail_opts *o, const char *v)
{
	if (strlen(v) == 1 && strchr("mspi", v[0]) != NULL)
		return o->mode = v[0], EX_OK;
	return usage_error("-b%s is not supported: only -bm, -bs, -bp and -bi", v);
}

/* -N never | a list of success, delay, failure (RFC 3461 NOTIFY). */
static bool
notify_ok(const char *v)
{
	char buf[64], *save = NULL;

	if (strcasecmp(v, "never") == 0)
		return true;
	if (strlen(v) >= sizeof(buf) || v[0] == '\0')
		return false;
	strcpy(buf, v);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
		if (strcasecmp(w, "success") && strcasecmp(w, "delay") && strcasecmp(w, "failure"))
			return false;
	return buf[strlen(buf) - 1] != ',';
}

static bool
envid_ok(const char *v)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			return false;
	return n > 0 && n <= 100;
}

/* -f and -r: angle brackets dropped, "<>" and "" the null sender. */
static const char *
strip_brackets(const char *v, char *buf, size_t size)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '<' && v[n - 1] == '>' && n - 2 < size) {
		memcpy(buf, v + 1, n - 2);
		buf[n - 2] = '\0';
		return buf;
	}
	return v;
}

static int
option_value(struct sendmail_opts *o, int opt, const char *v)
{
	unsigned long long n;

	switch (opt) {
	case 'f':
	case 'r': o->from = strip_brackets(v, o->from_buf, sizeof(o->from_buf)); return EX_OK;
	case 'F': o->full_name = v; return EX_OK;
	case 'V':
		if (!envid_ok(v))
			return usage_error("-V %s: an envelope id is 1 to 100 printable octets", v);
		return o->env.envid = v, EX_OK;
	case 'N':
		if (!notify_ok(v))
			return usage_error("-N %s: takes never, or success, delay, failure", v);
		return o->env.notify = v, EX_OK;
	case 'R':
		if (strcasecmp(v, "full") && strcasecmp(v, "hdrs"))
			return usage_error("-R %s: takes full or hdrs", v);
		return o->env.ret = (char)(strcasecmp(v, "full") == 0 ? 'f' : 'h'), EX_OK;
	case 'B':
		if (strcasecmp(v, "7bit") && strcasecmp(v, "8bitmime"))
			return usage_error("-B %s: takes 7BIT or 8BITMIME", v);
		return o->env.body = (char)(strcasecmp(v, "7bit") == 0 ? '7' : '8'), EX_OK;
	case 'h':
		if (!cli_parse_uint(v, 1000, &n))
			return usage_error("-h %s: the hop count is a number", v);
		return EX_OK; /* Postfix counts Received: fields itself */
	case 'o': return option_o(o, v);
	case 'b': return option_b(o, v);
	}
	return EX_OK; /* -L, -O, -X, -A: taken and ignored, as Postfix */
}

static int
option_q(struct sendmail_opts *o, const char *v)
{
	if (v != NULL && (v[0] == 'R' || v[0] == 'I' || v[0] == 'S'))
		return usage_error("-q%s: only -q (one queue run) is supported", v);
	o->mode = 'q'; /* -qINTERVAL: Postfix runs the queue once too */
	return EX_OK;
}

/* A long option: --origin and --aliases are ours; all are handed on to
 * send or queue when a mode runs them (-odi, -q, -bp). */
static int
long_option(struct sendmail_opts *o, int index, const char *v)
{
	const struct option *lo = &sendmail_longopts[index];
	size_t n;
	char *s;

	if (lo->val == 0x105)
		o->origin_opt = v;
	if (lo->val == 0x106)
		o->aliases_opt = v;
	if (lo->val == 'P')
		o->spool = v;
	if (o->n_pass >= PASS_MAX)
		return usage_error("%s: too many long options", lo->name);
	n = strlen(lo->name) + (v ? strlen(v) : 0) + 4;
	if ((s = malloc(n)) == NULL)
		return EX_OSERR;
	snprintf(s, n, "--%s%s%s", lo->name, v ? "=" : "", v ? v : "");
	o->pass[o->n_pass++] = s;
	return EX_OK;
}

static int
unknown_option(int opt, const char *arg)
{
	char letter[2] = { (char)optopt, '\0' };

	if (opt == ':' && strncmp(arg, "--", 2) == 0)
		return usage_error("%s needs a value", arg);
	if (opt == ':')
		return usage_error("-%s needs a value", letter);
	if (strncmp(arg, "--", 2) == 0 || optopt == 0)
		return usage_error("unknown option %s", arg);
	return usage_error("unknown option -%s", letter);
}

/* The configuration file's origin and aliases (the rest is send's and queue's). */
static int
config_apply(void *ctx, int opt, const char *v, const char *where)
{
	struct sendmail_opts *o = ctx;

	if (opt == 0x105 && !rewrite_origin_ok(v))
		return cli_warn("sendmail", "%s: origin \"%s\" is not a domain name", where, v),
		       EX_CONFIG;
	if (opt == 0x105)
		o->origin_opt = v;
	if (opt == 0x106)
		o->aliases_opt = v;
	if (opt == 'P')
		o->spool = v;
	return EX_OK;
}

/* -t -i -v -I, and the flags Postfix takes and ignores (-G -U -m -n). */
static int
option_flag(struct sendmail_opts *o, int opt)
{
	if (opt == 't')
		o->from_headers = true;
	else if (opt == 'i')
		o->dots_are_data = true;
	else if (opt == 'v')
		o->verbose = true;
	else if (opt == 'I')
		o->mode = 'i';
	return EX_OK;
}

static int
parse_options(int argc, char **argv, struct sendmail_opts *o, char **config_text)
{
	int opt, index, rc;

	opterr = 0;
	optind = 1;
	/* DELIVERY_LONGOPTS reuse letters (--resolver is 'r'): a long option
	 * is told apart by the index getopt_long sets only for those. */
	while ((index = -1,
		   opt = getopt_long(argc, argv, ":f:r:F:tivL:N:R:V:B:h:o:b:q::O:X:A:GUmnI",
		       sendmail_longopts, &index)) != -1) {
		if (opt == '?' || opt == ':')
			return unknown_option(opt, argv[optind - 1]);
		if (index >= 0)
			rc = long_option(o, index, optarg);
		else if (opt == 'q')
			rc = option_q(o, optarg);
		else if (strchr("frFLNRVBhobOXA", opt) != NULL)
			rc = option_value(o, opt, optarg);
		else
			rc = option_flag(o, opt);
		if (rc != EX_OK)
			return rc;
	}
	if (o->origin_opt != NULL && !rewrite_origin_ok(o->origin_opt))
		return usage_error("--origin %s: not a domain name", o->origin_opt);
	rc = config_load(config_path_from_args(argc, argv), "sendmail", sendmail_longopts, argc,
	    argv, config_apply, o, config_text);
	if (rc != EX_OK)
		return rc;
	if (o->origin_opt != NULL)
		snprintf(o->origin, sizeof(o->origin), "%s", o->origin_opt);
	else
		rewrite_origin_default(o->origin);
	return EX_OK;
}

/* Checks an address as the envelope will carry it: qualified. */
static int
check_address(const struct sendmail_opts *o, const char *what, const char *addr, bool sender)
{
	char q[1024] = "";

	if (sender && addr[0] == '\0')
		return EX_OK;
	if (rewrite_address(addr, o->origin, q, sizeof(q)) != MX_OK ||
	    mx_address_check(q, sender, NULL) != MX_OK) {
		sendmail_warn(o, "%s \"%s\" %s; nothing was queued", what, addr,
		    q[0] ? "is not an address" : "is too long");
		return EX_DATAERR;
	}
	return EX_OK;
}

/* A recipient as the envelope carries it: angle brackets dropped (-t
 * gives "<a@b>"); the copy is owned by the caller. */
static char *
bare_copy(const char *r)
{
	size_t n = strlen(r);

	if (n >= 2 && r[0] == '<' && r[n - 1] == '>')
		return strndup(r + 1, n - 2);
	return strdup(r);
}

static void
free_rcpts(char **r, size_t n)
{
	for (size_t i = 0; r != NULL && i < n; i++)
		free(r[i]);
	free(r);
}

/* The arguments, then (-t) the header's recipients, each checked. */
static int
collect_rcpts(const struct sendmail_opts *o, const mx_message *m, int argc, char **argv,
    char ***out, size_t *n)
{
	size_t cap = (size_t)argc + mx_message_recipient_count(m);
	char **r = calloc(cap ? cap : 1, sizeof(*r));
	int rc = EX_OK;

	if (r == NULL)
		return EX_OSERR;
	*n = 0;
	for (int i = 0; i < argc && rc == EX_OK; i++)
		rc = (r[(*n)++] = bare_copy(argv[i])) ? EX_OK : EX_OSERR;
	for (size_t i = 0; o->from_headers && i < mx_message_recipient_count(m) && rc == EX_OK; i++)
		rc = (r[(*n)++] = bare_copy(mx_message_recipient(m, i))) ? EX_OK : EX_OSERR;
	for (size_t i = 0; i < *n && rc == EX_OK; i++)
		rc = check_address(o, "recipient", r[i], false);
	if (rc == EX_OK && *n == 0) {
		sendmail_warn(o,
		    "no recipients: give them as arguments, or -t; nothing was "
		    "queued");
		rc = EX_USAGE;
	}
	if (rc != EX_OK)
		free_rcpts(r, *n);
	else
		*out = r;
	return rc;
}

static const char *
helper_path(void)
{
	const char *env = getenv("MX_DROP_HELPER");

	return env != NULL && env[0] != '\0' ? env : MX_DROP_HELPER;
}

/* The default mode: the message and its envelope to mx-drop. */
static int
drop(struct sendmail_opts *o, mx_message *m, const char **rcpts, size_t n)
{
	mx_why why;
	int rc;

	o->env.sender = o->from;
	o->env.sender_set = o->from != NULL;
	o->env.full_name = o->full_name;
	o->env.rcpts = rcpts;
	o->env.rcpt_count = n;
	rc = mx_message_drop(m, &o->env, o->helper, &why);
	if (rc != EX_OK)
		sendmail_warn(o, "the message was not queued: %s", why.text);
	else if (o->verbose)
		fprintf(stderr, "sendmail: queued for %zu recipient%s through %s\n", n,
		    n == 1 ? "" : "s", o->helper);
	return rc;
}

/* The alias file: --aliases (must be readable), else /etc/aliases when
 * it exists.  *out NULL means no aliases. */
static int
load_aliases(const struct sendmail_opts *o, struct aliases **out, bool *missing)
{
	const char *path = o->aliases_opt ? o->aliases_opt : ALIASES_DEFAULT;
	char why[512];
	mx_err err = aliases_load(path, out, why, sizeof(why));

	*missing = false;
	if (err == MX_OK)
		return EX_OK;
	if (err == MX_ERR_SYSTEM && errno == ENOENT && o->aliases_opt == NULL) {
		*missing = true;
		return EX_OK;
	}
	sendmail_warn(o, "%s", why);
	return err == MX_ERR_NOMEM ? EX_TEMPFAIL : EX_CONFIG;
}

/* Appends rcpt's expansion to list (deduplicated); an exit code. */
static int
expand_one(const struct sendmail_opts *o, const struct aliases *a, const char *rcpt, char ***list,
    size_t *n)
{
	char why[1024] = "", **got = NULL, **grown;
	size_t k = 0;
	mx_err err = aliases_expand(a, o->origin, rcpt, &got, &k, why, sizeof(why));

	if (why[0] != '\0')
		sendmail_warn(o, "%s", why);
	if (err != MX_OK)
		return err == MX_ERR_NOMEM ? EX_TEMPFAIL : EX_DATAERR;
	if ((grown = realloc(*list, (*n + k) * sizeof(*grown))) == NULL) {
		aliases_list_free(got, k);
		return EX_TEMPFAIL;
	}
	*list = grown;
	for (size_t i = 0; i < k; i++) {
		bool dup = false;
		for (size_t j = 0; j < *n && !dup; j++)
			dup = strcasecmp((*list)[j], got[i]) == 0;
		if (dup)
			free(got[i]);
		else
			(*list)[(*n)++] = got[i];
	}
	free(got);
	return EX_OK;
}

/* -odi: aliases and qualification here, then delivery as `mx send`. */
static int
deliver_now(struct sendmail_opts *o, mx_message *m, const char **rcpts, size_t n)
{
	struct aliases *a = NULL;
	char **list = NULL, from[1024], login[256];
	size_t k = 0;
	bool missing;
	int rc;

	if ((rc = load_aliases(o, &a, &missing)) != EX_OK)
		return rc;
	for (size_t i = 0; i < n && rc == EX_OK; i++)
		rc = expand_one(o, a, rcpts[i], &list, &k);
	if (o->from != NULL)
		rewrite_address(o->from, o->origin, from, sizeof(from));
	else {
		/* As Postfix: the real uid's login, never $LOGNAME or getlogin(). */
		struct passwd *pw = getpwuid(getuid());
		if (pw != NULL && pw->pw_name != NULL)
			snprintf(login, sizeof(login), "%s", pw->pw_name);
		else
			snprintf(login, sizeof(login), "uid%u", (unsigned)getuid());
		snprintf(from, sizeof(from), "%s@%s", login, o->origin);
	}
	if (rc == EX_OK) {
		char **argv = calloc((size_t)o->n_pass + 2, sizeof(*argv));
		if (argv == NULL)
			rc = EX_OSERR;
		else {
			argv[0] = "send";
			memcpy(argv + 1, o->pass, (size_t)o->n_pass * sizeof(*argv));
			rc = send_now(
			    o->n_pass + 1, argv, m, from[0] ? from : "<>", (const char **)list, k);
			free(argv);
		}
	}
	aliases_list_free(list, k);
	aliases_free(a);
	return rc;
}

/* -bm (and -odi): the message from standard input. */
static int
mode_mail(struct sendmail_opts *o, int argc, char **argv)
{
	unsigned flags = (o->from_headers ? MX_MESSAGE_FROM_HEADERS : 0) |
	    (o->dots_are_data ? MX_MESSAGE_DOTS_ARE_DATA : 0);
	char **rcpts = NULL;
	mx_message *m = NULL;
	size_t n = 0;
	int rc;

	if (o->from != NULL && (rc = check_address(o, "sender", o->from, true)) != EX_OK)
		return rc;
	if (!o->from_headers && argc == 0)
		return sendmail_warn(o,
			   "no recipients: give them as arguments, or -t; nothing "
			   "was read"),
		       EX_USAGE;
	if ((rc = sendmail_read_message(o, STDIN_FILENO, flags, &m)) != EX_OK)
		return rc;
	if ((rc = collect_rcpts(o, m, argc, argv, &rcpts, &n)) == EX_OK)
		rc = o->deliver_now ? deliver_now(o, m, (const char **)rcpts, n)
				    : drop(o, m, (const char **)rcpts, n);
	free_rcpts(rcpts, n);
	mx_message_free(m);
	return rc;
}

/* -bi, newaliases: the alias file's problems, FILE:LINE: sentence. */
static int
mode_newaliases(struct sendmail_opts *o)
{
	const char *path = o->aliases_opt ? o->aliases_opt : ALIASES_DEFAULT;
	struct aliases *a = NULL;
	char why[512];
	size_t problems;

	if (aliases_load(path, &a, why, sizeof(why)) != MX_OK) {
		cli_warn("newaliases", "%s", why);
		return EX_CONFIG;
	}
	problems = aliases_problem_count(a);
	for (size_t i = 0; i < problems; i++)
		fprintf(stderr, "%s\n", aliases_problem(a, i));
	if (o->verbose || problems > 0)
		fprintf(stderr, "newaliases: %s: %zu aliases, %zu problem%s\n", path,
		    aliases_count(a), problems, problems == 1 ? "" : "s");
	aliases_free(a);
	return problems > 0 ? EX_DATAERR : EX_OK;
}

/* -q: one queue run, as `mx queue run` with the long options given. */
static int
mode_queue(struct sendmail_opts *o, const char *sub)
{
	char **argv = calloc((size_t)o->n_pass + 3, sizeof(*argv));
	int rc;

	if (argv == NULL)
		return EX_OSERR;
	argv[0] = "queue";
	argv[1] = (char *)sub;
	memcpy(argv + 2, o->pass, (size_t)o->n_pass * sizeof(*argv));
	rc = cmd_queue(o->n_pass + 2, argv);
	free(argv);
	return rc;
}

/* mailq's totals while the entries are printed. */
struct mailq_run {
	size_t count;
	unsigned long long octets;
};

/*
 * One entry as Postfix's showq prints it: "ID SIZE ARRIVAL SENDER" (the
 * ID padded to 11, the size to 7, the arrival time as asctime's first 20
 * octets), then each recipient still to be delivered, 41 blanks in,
 * after its reason in parentheses when there is one.
 */
static void
mailq_entry(const mx_queue_item *item, void *arg)
{
	struct mailq_run *run = arg;
	time_t when = (time_t)mx_queue_item_created(item);
	const char *sender = mx_queue_item_sender(item);
	char date[64] = "";
	struct tm tm;
	size_t size = 0;

	mx_queue_item_data(item, &size);
	if (localtime_r(&when, &tm) != NULL)
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S", &tm);
	if (run->count++ == 0)
		printf("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
	printf("%-11s %7zu %-20.20s %s\n", mx_queue_item_id(item), size, date,
	    sender[0] ? sender : "MAILER-DAEMON");
	for (size_t i = 0; i < mx_queue_item_recipient_count(item); i++) {
		const char *reason = mx_queue_item_reason(item, i);
		if (mx_queue_item_state(item, i) != MX_QUEUE_PENDING)
			continue;
		if (reason != NULL && reason[0] != '\0')
			printf("%*s(%s)\n", 8, "", reason);
		printf("%41s%s\n", "", mx_queue_item_recipient(item, i));
	}
	printf("\n");
	run->octets += size;
}

static void
mailq_bad(const char *name, const char *why, void *arg)
{
	(void)arg;
	fprintf(stderr, "mailq: %s: %s\n", name, why);
}

/* -bp, mailq: root and the spool's owner only (the queue is private). */
static int
mode_mailq(struct sendmail_opts *o)
{
	const char *spool = o->spool ? o->spool : MX_SPOOL_DEFAULT;
	struct mailq_run run = { 0 };
	struct stat st;
	mx_queue *q = NULL;
	mx_why why;

	if (stat(spool, &st) != 0 && errno == ENOENT)
		return printf("Mail queue is empty\n"), EX_OK;
	if (geteuid() != 0 && (stat(spool, &st) != 0 || st.st_uid != geteuid())) {
		cli_warn("mailq",
		    "permission denied: only root and the owner of %s (the mx user) "
		    "may list the queue",
		    spool);
		return EX_NOPERM;
	}
	if (mx_queue_open_existing(&q, spool, &why) != MX_OK) {
		cli_warn("mailq", "%s", why.text);
		return EX_TEMPFAIL;
	}
	if (mx_queue_list(q, mailq_entry, mailq_bad, &run, &why) != MX_OK) {
		cli_warn("mailq", "%s", why.text);
		mx_queue_close(q);
		return EX_TEMPFAIL;
	}
	mx_queue_close(q);
	if (run.count == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %llu Kbytes in %zu Request%s.\n", (run.octets + 1023) / 1024, run.count,
		    run.count == 1 ? "" : "s");
	return EX_OK;
}

static const char *
base_name(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	return base ? base + 1 : argv0;
}

static int
run_mode(struct sendmail_opts *o, int argc, char **argv)
{
	switch (o->mode) {
	case 'p': return mode_mailq(o);
	case 'i': return mode_newaliases(o);
	case 'q': return mode_queue(o, "run");
	case 's': return sendmail_bs(o);
	}
	return mode_mail(o, argc, argv);
}

/* argv[0] "sendmail", "mailq", "newaliases", or "sendmail" after `mx`. */
int
cmd_sendmail(int argc, char **argv)
{
	struct sendmail_opts o = { .mode = 'm' };
	char *config_text = NULL, *pass[PASS_MAX];
	const char *name = base_name(argv[0]);
	int rc;

	o.pass = pass;
	o.helper = helper_path();
	if (strcmp(name, "mailq") == 0)
		o.mode = 'p';
	if (strcmp(name, "newaliases") == 0)
		o.mode = 'i';
	if ((rc = parse_options(argc, argv, &o, &config_text)) == EX_OK)
		rc = run_mode(&o, argc - optind, argv + optind);
	for (int i = 0; i < o.n_pass; i++)
		free(pass[i]);
	free(config_text);
	fflush(stdout);
	return rc;
}
