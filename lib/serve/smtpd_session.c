/*
 * smtpd_session.c - the server's side of one SMTP session (see
 * smtpd_session.h): one function per command, the DATA lines written out
 * in wire form and counted, the limits of a session, the sender read by
 * address.c.  Pure: every effect goes through the hooks; it never reads,
 * writes or looks at a clock, and allocates nothing of its own (libidn2
 * does, briefly, for an internationalized sender domain).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "smtpd_session.h"

static void
say(struct smtpd_session *s, const char *line)
{
	char buf[SMTPD_REPLY_MAX + 2];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);

	if (n < 0 || (size_t)n >= sizeof(buf)) /* never cut a reply's CRLF */
		n = snprintf(buf, sizeof(buf), "451 4.3.0 internal error\r\n");
	s->hooks->reply(s->arg, buf, (size_t)n);
}

void
smtpd_session_abort(struct smtpd_session *s, const char *reply)
{
	if (s->state == SMTPD_CLOSED)
		return;
	say(s, reply);
	s->hooks->reset(s->arg);
	s->state = SMTPD_CLOSED;
}

/* A reply for the client's fault; too many of them end the session. */
static void
fault(struct smtpd_session *s, const char *reply)
{
	say(s, reply);
	if (++s->errors >= SMTPD_ERRORS_MAX)
		smtpd_session_abort(s, "421 4.7.0 Error: too many errors");
}

static void
junk(struct smtpd_session *s)
{
	if (++s->junk > SMTPD_JUNK_MAX)
		smtpd_session_abort(s, "421 4.7.0 Error: too many commands that move no mail");
}

static void
transaction_reset(struct smtpd_session *s)
{
	s->has_mail = s->eight_bit = false;
	s->sender[0] = '\0';
	s->n_rcpts = 0;
	s->hooks->reset(s->arg);
}

void
smtpd_session_init(struct smtpd_session *s, const struct smtpd_settings *set,
    const struct smtpd_hooks *hooks, void *arg, bool tls)
{
	memset(s, 0, sizeof(*s));
	smtp_cmd_init(&s->rd);
	s->set = set;
	s->hooks = hooks;
	s->arg = arg;
	s->tls = tls;
}

void
smtpd_session_greet(struct smtpd_session *s)
{
	char line[SMTPD_REPLY_MAX];

	snprintf(line, sizeof(line), "220 %s ESMTP mx", s->set->hostname);
	say(s, line);
}

/* A host name or an address literal: printable, no blanks (RFC 5321 4.1.1.1). */
static bool
helo_ok(const char *arg)
{
	size_t n = strlen(arg);

	if (n == 0 || n > SMTPD_HELO_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)arg[i] <= ' ' || (unsigned char)arg[i] >= 0x7f)
			return false;
	return true;
}

static void
do_ehlo(struct smtpd_session *s, const char *arg, bool esmtp)
{
	char buf[1024];
	int n;

	if (!helo_ok(arg)) {
		fault(s,
		    esmtp ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	if (s->helo_seen)
		junk(s);
	transaction_reset(s);
	memcpy(s->helo, arg, strlen(arg) + 1);
	s->helo_seen = true;
	s->esmtp = esmtp;
	if (!esmtp) {
		snprintf(buf, sizeof(buf), "250 %s", s->set->hostname);
		say(s, buf);
		return;
	}
	n = snprintf(buf, sizeof(buf),
	    "250-%s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n"
	    "250-8BITMIME\r\n%s250 ENHANCEDSTATUSCODES\r\n",
	    s->set->hostname, s->set->max_size,
	    s->set->tls_offer && !s->tls ? "250-STARTTLS\r\n" : "");
	if (n > 0 && (size_t)n < sizeof(buf))
		s->hooks->reply(s->arg, buf, (size_t)n);
}

/* A decimal number of at most 19 digits. */
static bool
parse_size(const char *v, size_t len, unsigned long long *out)
{
	*out = 0;
	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		*out = *out * 10 + (unsigned)(v[i] - '0');
	}
	return true;
}

/* MAIL's parameters: SIZE=, BODY=7BIT|8BITMIME; a reply when refused. */
static const char *
mail_params(struct smtpd_session *s, const char *p)
{
	while (*p != '\0') {
		size_t len = strcspn(p, " ");
		unsigned long long size;
		if (len > 5 && strncasecmp(p, "SIZE=", 5) == 0) {
			if (!parse_size(p + 5, len - 5, &size))
				return "501 5.5.4 Bad SIZE parameter";
			if (size > s->set->max_size)
				return "552 5.3.4 Message size exceeds the fixed limit";
		} else if (len == 13 && strncasecmp(p, "BODY=8BITMIME", 13) == 0) {
			s->eight_bit = true;
		} else if (!(len == 9 && strncasecmp(p, "BODY=7BIT", 9) == 0)) {
			return "555 5.5.4 Unsupported option in MAIL FROM";
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	return NULL;
}

/*
 * A reverse-path the rest of mx can use: "" (the null one) or a Mailbox
 * as address.c reads it (RFC 5321 4.1.2 and the 4.5.3.1 sizes), after an
 * optional source route, which is dropped (RFC 5321 C: "SHOULD ignore").
 * Anything else (";sleep 66;", CVE-2020-7247's sender) would be queued
 * only to be refused by the client that delivers it, and bounced to
 * nobody.  NULL when bad; else the part of path to keep.
 */
static const char *
sender_path(const char *path)
{
	struct address a;
	const char *colon = strchr(path, ':');

	if (path[0] == '\0')
		return path;
	if (path[0] == '@' && colon != NULL) {
		if (memchr(path, ' ', (size_t)(colon - path)) != NULL)
			return NULL; /* a route's domains never hold a blank */
		path = colon + 1;
	}
	return address_parse_sender(path, &a, NULL) == MX_OK && !a.null ? path : NULL;
}

static void
do_mail(struct smtpd_session *s, const char *arg)
{
	char path[SMTP_CMD_PATH_MAX + 1];
	const char *params, *refused, *sender;

	if (!s->helo_seen) {
		fault(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->has_mail) {
		fault(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	/* A blank is taken only inside a quoted local part: address.c says. */
	if (!smtp_cmd_path(arg, "FROM:", path, &params)) {
		fault(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if ((sender = sender_path(path)) == NULL) {
		fault(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	s->eight_bit = false;
	if ((refused = mail_params(s, params)) != NULL) {
		fault(s, refused);
		return;
	}
	memcpy(s->sender, sender, strlen(sender) + 1);
	s->has_mail = true;
	s->hooks->mail(s->arg, s->sender);
	say(s, "250 2.1.0 Ok");
}

static void
rcpt_reply(struct smtpd_session *s, const struct smtpd_verdict *v)
{
	if (v->ok)
		s->n_rcpts++;
	if (v->ok || v->reply[0] == '4')
		say(s, v->reply); /* a 4xx of the server's own is no client fault */
	else
		fault(s, v->reply);
}

static void
do_rcpt(struct smtpd_session *s, const char *arg)
{
	char path[SMTP_CMD_PATH_MAX + 1];
	const char *params;
	struct smtpd_verdict v = { 0 };

	if (!s->has_mail) {
		fault(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (!smtp_cmd_path(arg, "TO:", path, &params) || path[0] == '\0') {
		fault(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (*params != '\0') {
		fault(s, "555 5.5.4 Unsupported option in RCPT TO");
		return;
	}
	if (s->n_rcpts >= s->set->max_rcpts) {
		say(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (!s->hooks->rcpt(s->arg, path, &v)) {
		s->state = SMTPD_WAIT_RCPT;
		return;
	}
	rcpt_reply(s, &v);
}

void
smtpd_session_rcpt_done(struct smtpd_session *s, const struct smtpd_verdict *v)
{
	if (s->state != SMTPD_WAIT_RCPT)
		return;
	s->state = SMTPD_READY;
	rcpt_reply(s, v);
}

static void
do_data(struct smtpd_session *s, const char *arg)
{
	if (*arg != '\0') {
		fault(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!s->has_mail) {
		fault(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->n_rcpts == 0) {
		fault(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (!s->hooks->data_start(s->arg)) {
		say(s, "451 4.3.0 Error: the queue cannot take a message now");
		return;
	}
	s->in_header = true;
	s->write_failed = false;
	s->hops = 0;
	/* One line over the limit is enough to know it is too big. */
	smtp_cmd_start_data(&s->rd, s->set->max_size);
	say(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
do_starttls(struct smtpd_session *s, const char *arg)
{
	if (*arg != '\0') {
		fault(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (!s->set->tls_offer || s->tls) {
		fault(s,
		    s->tls ? "503 5.5.1 Error: TLS already active"
			   : "502 5.5.1 Error: command not implemented");
		return;
	}
	say(s, "220 2.0.0 Ready to start TLS");
	transaction_reset(s);
	s->state = SMTPD_WAIT_TLS;
	s->hooks->starttls(s->arg);
}

void
smtpd_session_tls_done(struct smtpd_session *s)
{
	if (s->state != SMTPD_WAIT_TLS)
		return;
	/* RFC 3207 4.2: the server forgets all it knew from the client. */
	smtp_cmd_init(&s->rd);
	s->tls = true;
	s->helo_seen = s->esmtp = false;
	s->helo[0] = '\0';
	s->state = SMTPD_READY;
}

static void
do_command(struct smtpd_session *s, const char *line)
{
	const char *arg;

	switch (smtp_cmd_verb(line, &arg)) {
	case SMTP_VERB_EHLO: do_ehlo(s, arg, true); break;
	case SMTP_VERB_HELO: do_ehlo(s, arg, false); break;
	case SMTP_VERB_MAIL: do_mail(s, arg); break;
	case SMTP_VERB_RCPT: do_rcpt(s, arg); break;
	case SMTP_VERB_DATA: do_data(s, arg); break;
	case SMTP_VERB_STARTTLS: do_starttls(s, arg); break;
	case SMTP_VERB_RSET:
		transaction_reset(s);
		say(s, "250 2.0.0 Ok");
		junk(s);
		break;
	case SMTP_VERB_NOOP:
		say(s, "250 2.0.0 Ok");
		junk(s);
		break;
	case SMTP_VERB_VRFY:
		say(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
		junk(s);
		break;
	case SMTP_VERB_HELP:
		say(s, "214 2.0.0 See RFC 5321");
		junk(s);
		break;
	case SMTP_VERB_QUIT:
		say(s, "221 2.0.0 Bye");
		transaction_reset(s);
		s->state = SMTPD_CLOSED;
		break;
	case SMTP_VERB_BDAT: fault(s, "502 5.5.1 Error: command not implemented"); break;
	default: fault(s, "500 5.5.2 Error: command not recognized"); break;
	}
}

/* One line of DATA: counted, then written in wire form (dot-stuffed). */
static void
data_line(struct smtpd_session *s, const char *line, size_t len)
{
	if (s->in_header && len == 0)
		s->in_header = false;
	else if (s->in_header && len >= 9 && strncasecmp(line, "Received:", 9) == 0)
		s->hops++;
	if (s->rd.data_fault != SMTP_DATA_OK || s->write_failed || s->hops >= SMTPD_HOPS_MAX)
		return; /* read to the end, written no more */
	if ((line[0] == '.' && !s->hooks->data_write(s->arg, ".", 1)) ||
	    !s->hooks->data_write(s->arg, line, len) || !s->hooks->data_write(s->arg, "\r\n", 2))
		s->write_failed = true;
}

static void
data_end(struct smtpd_session *s)
{
	const char *refused = NULL;

	switch (s->rd.data_fault) {
	case SMTP_DATA_TOO_BIG: refused = "552 5.3.4 Error: message too big"; break;
	case SMTP_DATA_LINE_LONG: refused = "554 5.6.0 Error: a line over 998 octets"; break;
	case SMTP_DATA_NUL: refused = "554 5.6.0 Error: a NUL octet in the message"; break;
	case SMTP_DATA_OK: break;
	}
	if (refused == NULL && s->hops >= SMTPD_HOPS_MAX)
		refused = "554 5.4.6 Error: too many Received lines, a mail loop";
	if (refused == NULL && s->write_failed)
		refused = "451 4.3.0 Error: the queue could not store the message";
	if (refused != NULL) {
		transaction_reset(s);
		if (refused[0] == '4')
			say(s, refused);
		else
			fault(s, refused);
		return;
	}
	s->state = SMTPD_WAIT_COMMIT;
	s->hooks->data_commit(s->arg);
}

void
smtpd_session_data_done(struct smtpd_session *s, bool ok, const char *id, const char *why)
{
	char line[SMTPD_REPLY_MAX];

	if (s->state != SMTPD_WAIT_COMMIT)
		return;
	s->state = SMTPD_READY;
	if (ok) {
		snprintf(line, sizeof(line), "250 2.0.0 Ok: queued as %s", id);
		s->messages++;
	} else {
		snprintf(line, sizeof(line), "451 4.3.0 Error: queue file write error (%.200s)",
		    why != NULL ? why : "unknown");
	}
	transaction_reset(s);
	say(s, line);
}

static void
event(struct smtpd_session *s, smtp_cmd_event ev)
{
	switch (ev) {
	case SMTP_CMD_LINE: do_command(s, s->rd.line); break;
	case SMTP_CMD_TOO_LONG: fault(s, "500 5.5.2 Error: line too long"); break;
	case SMTP_CMD_DATA_LINE: data_line(s, s->rd.line, s->rd.len); break;
	case SMTP_CMD_DATA_END: data_end(s); break;
	case SMTP_CMD_BARE:
		/* Smuggling's raw material: never guessed at, in DATA or not. */
		smtpd_session_abort(s,
		    "421 4.5.0 Error: bare CR or LF, or NUL, is not SMTP; "
		    "closing (RFC 5321 2.3.8)");
		break;
	case SMTP_CMD_MORE: break;
	}
}

size_t
smtpd_session_feed(struct smtpd_session *s, const char *p, size_t n)
{
	size_t used = 0;

	while (used < n && s->state == SMTPD_READY) {
		smtp_cmd_event ev;
		size_t k = smtp_cmd_feed(&s->rd, p + used, n - used, &ev);
		used += k;
		if (ev == SMTP_CMD_MORE)
			break;
		event(s, ev);
		if (ev == SMTP_CMD_BARE)
			return n; /* nothing more is read */
	}
	return used;
}
