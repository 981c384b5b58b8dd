/*
 * sendmail_bs.c - `sendmail -bs`: SMTP spoken on standard input and
 * output (Symfony Mailer's transport, as Postfix's sendmail runs smtpd).
 * Commands and DATA come through lib/serve/smtp_cmd.c's strict reader; a
 * bare CR or LF ends the session (521) so that no "\n.\n" can ever end a
 * message; each accepted message is checked like the default mode's and
 * handed to mx-drop, and 250 is said only once mx-drop exited 0.  No
 * network, no TLS, no AUTH: the peer is a local process.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail_bs.h"
#include "sendmail_msg.h"
#include "smtp_cmd.h"

#define BS_RCPT_MAX  1000 /* Postfix smtpd_recipient_limit */
#define BS_ERROR_MAX 20   /* Postfix smtpd_hard_error_limit */

struct bs {
	const struct sendmail_opts *o;
	struct smtp_cmd r;
	bool have_mail;
	char from[SMTP_CMD_PATH_MAX + 1];
	char **rcpts;
	size_t n;
	mx_drop_envelope env; /* MAIL's parameters */
	char envid[SMTP_CMD_PATH_MAX + 1];
	FILE *data; /* DATA, unstuffed, LF line ends */
	unsigned errors;
	bool quit;
	int exit_code;
};

static bool reply(struct bs *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replies return a bool so that a handler may end with return reply(...). */
static bool
reply(struct bs *s, const char *fmt, ...)
{
	va_list ap;

	(void)s;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("\r\n", stdout);
	fflush(stdout);
	return true;
}

static bool
reset(struct bs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->n = 0;
	s->have_mail = false;
	memset(&s->env, 0, sizeof(s->env));
	if (s->data != NULL)
		fclose(s->data);
	s->data = NULL;
	return true;
}

static bool
error(struct bs *s, const char *fmt, const char *arg)
{
	char line[600];

	snprintf(line, sizeof(line), fmt, arg);
	reply(s, "%s", line);
	if (++s->errors >= BS_ERROR_MAX) {
		reply(s, "421 4.7.0 %s Error: too many errors", s->o->origin);
		s->quit = true;
	}
	return false;
}

/* MAIL's parameters: SIZE, BODY, RET, ENVID (RFC 1870, 6152, 3461). */
static bool
mail_params(struct bs *s, const char *p)
{
	char buf[SMTP_CMD_LINE_MAX + 1], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", p);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strncasecmp(w, "SIZE=", 5) == 0 &&
		    strtoull(w + 5, NULL, 10) > SENDMAIL_MAX_MESSAGE)
			return error(s, "552 5.3.4 Message size exceeds fixed limit%s", "");
		else if (strcasecmp(w, "BODY=8BITMIME") == 0 || strcasecmp(w, "BODY=7BIT") == 0)
			s->env.body = w[5] == '8' ? '8' : '7';
		else if (strcasecmp(w, "RET=FULL") == 0 || strcasecmp(w, "RET=HDRS") == 0)
			s->env.ret = (w[4] == 'F' || w[4] == 'f') ? 'f' : 'h';
		else if (strncasecmp(w, "ENVID=", 6) == 0 && strlen(w + 6) <= 100)
			snprintf(s->envid, sizeof(s->envid), "%s", w + 6), s->env.envid = s->envid;
		else if (strncasecmp(w, "SIZE=", 5) != 0)
			return error(s, "555 5.5.4 Unsupported option: %s", w);
	}
	return true;
}

static bool
cmd_mail(struct bs *s, const char *arg)
{
	const char *params;
	char q[1024] = "";

	if (s->have_mail)
		return error(s, "503 5.5.1 Error: nested MAIL command%s", "");
	if (!smtp_cmd_path(arg, "FROM:", s->from, &params))
		return error(s, "501 5.5.4 Syntax: MAIL FROM:<address>%s", "");
	if (s->from[0] != '\0' &&
	    (rewrite_address(s->from, s->o->origin, q, sizeof(q)) != MX_OK ||
		mx_address_check(q, true, NULL) != MX_OK))
		return error(s, "553 5.1.7 <%s>: Sender address rejected: not an address", s->from);
	if (!mail_params(s, params))
		return false;
	s->have_mail = true;
	return reply(s, "250 2.1.0 Ok");
}

static bool
cmd_rcpt(struct bs *s, const char *arg)
{
	char path[SMTP_CMD_PATH_MAX + 1], q[1024] = "", **grown;
	const char *params;

	if (!s->have_mail)
		return error(s, "503 5.5.1 Error: need MAIL command%s", "");
	if (s->n >= BS_RCPT_MAX)
		return reply(s, "452 4.5.3 Error: too many recipients");
	if (!smtp_cmd_path(arg, "TO:", path, &params) || path[0] == '\0')
		return error(s, "501 5.5.4 Syntax: RCPT TO:<address>%s", "");
	if (rewrite_address(path, s->o->origin, q, sizeof(q)) != MX_OK ||
	    mx_address_check(q, false, NULL) != MX_OK)
		return error(s, "553 5.1.3 <%s>: Recipient address rejected: not an address", path);
	if ((grown = realloc(s->rcpts, (s->n + 1) * sizeof(*grown))) == NULL ||
	    (s->rcpts = grown, grown[s->n] = strdup(path)) == NULL)
		return reply(s, "451 4.3.0 Error: out of memory");
	s->n++;
	return reply(s, "250 2.1.5 Ok");
}

static bool
cmd_data(struct bs *s)
{
	if (!s->have_mail)
		return error(s, "503 5.5.1 Error: need MAIL command%s", "");
	if (s->n == 0)
		return error(s, "554 5.5.1 Error: no valid recipients%s", "");
	if ((s->data = tmpfile()) == NULL)
		return reply(s, "451 4.3.0 Error: cannot keep the message: %s", strerror(errno));
	smtp_cmd_start_data(&s->r, SENDMAIL_MAX_MESSAGE);
	return reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* The end of DATA: checked as the default mode checks, then dropped. */
static bool
data_end(struct bs *s)
{
	struct sendmail_opts o = *s->o;
	mx_message *m = NULL;
	mx_why why;
	int rc;

	if (s->r.data_fault != SMTP_DATA_OK) {
		reply(s,
		    s->r.data_fault == SMTP_DATA_TOO_BIG ? "552 5.3.4 Error: message too big"
			: s->r.data_fault == SMTP_DATA_NUL
			? "554 5.6.0 Error: a NUL octet in the message"
			: "554 5.6.0 Error: a line longer than 998 octets");
		return reset(s);
	}
	o.env.error_mode = 'q'; /* the reply says what is wrong, not stderr */
	if (fflush(s->data) != 0 || lseek(fileno(s->data), 0, SEEK_SET) != 0 ||
	    (rc = sendmail_read_message(&o, fileno(s->data), MX_MESSAGE_DOTS_ARE_DATA, &m)) !=
		EX_OK) {
		reply(s, "554 5.6.0 Error: message refused as malformed");
		return reset(s);
	}
	s->env.sender = s->from;
	s->env.sender_set = true;
	s->env.rcpts = (const char *const *)s->rcpts;
	s->env.rcpt_count = s->n;
	s->env.error_mode = s->o->env.error_mode;
	rc = mx_message_drop(m, &s->env, s->o->helper, &why);
	mx_message_free(m);
	if (rc == EX_OK)
		reply(s, "250 2.0.0 Ok: queued");
	else if (rc == EX_DATAERR)
		reply(s, "554 5.6.0 Error: %s", why.text);
	else
		reply(s, "451 4.3.0 Error: queue file write error: %s", why.text);
	return reset(s);
}

static bool
command(struct bs *s, const char *line)
{
	const char *arg;

	switch (smtp_cmd_verb(line, &arg)) {
	case SMTP_VERB_EHLO:
		reset(s);
		return reply(s,
		    "250-%s\r\n250-SIZE %u\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
		    "250 PIPELINING",
		    s->o->origin, SENDMAIL_MAX_MESSAGE);
	case SMTP_VERB_HELO: reset(s); return reply(s, "250 %s", s->o->origin);
	case SMTP_VERB_MAIL: return cmd_mail(s, arg);
	case SMTP_VERB_RCPT: return cmd_rcpt(s, arg);
	case SMTP_VERB_DATA: return cmd_data(s);
	case SMTP_VERB_RSET: reset(s); return reply(s, "250 2.0.0 Ok");
	case SMTP_VERB_NOOP: return reply(s, "250 2.0.0 Ok");
	case SMTP_VERB_VRFY: return reply(s, "252 2.0.0 Cannot VRFY; send some mail");
	case SMTP_VERB_HELP: return reply(s, "214 2.0.0 See mx(1), SENDMAIL COMPATIBILITY");
	case SMTP_VERB_QUIT: s->quit = true; return reply(s, "221 2.0.0 Bye");
	case SMTP_VERB_STARTTLS:
	case SMTP_VERB_BDAT:
	case SMTP_VERB_UNKNOWN: break;
	}
	return error(s, "502 5.5.2 Error: command not recognized%s", "");
}

/* One event of the reader. */
static void
event(struct bs *s, smtp_cmd_event ev)
{
	if (ev == SMTP_CMD_LINE)
		command(s, s->r.line);
	else if (ev == SMTP_CMD_TOO_LONG)
		error(s, "500 5.5.2 Error: line too long%s", "");
	else if (ev == SMTP_CMD_DATA_LINE && s->r.data_fault == SMTP_DATA_OK) {
		fwrite(s->r.line, 1, s->r.len, s->data);
		fputc('\n', s->data);
	} else if (ev == SMTP_CMD_DATA_END)
		data_end(s);
	else if (ev == SMTP_CMD_BARE) {
		reply(s, "521 5.5.2 %s Error: bare <CR> or <LF> received; closing", s->o->origin);
		s->quit = true;
		s->exit_code = EX_PROTOCOL;
	}
}

int
sendmail_bs(const struct sendmail_opts *o)
{
	struct bs s = { .o = o };
	char buf[8192];
	ssize_t got = 0;

	smtp_cmd_init(&s.r);
	reply(&s, "220 %s ESMTP mx sendmail -bs", o->origin);
	while (!s.quit && (got = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		size_t off = 0;
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		while (!s.quit && off < (size_t)got) {
			smtp_cmd_event ev;
			off += smtp_cmd_feed(&s.r, buf + off, (size_t)got - off, &ev);
			event(&s, ev);
		}
	}
	reset(&s);
	return s.exit_code;
}
