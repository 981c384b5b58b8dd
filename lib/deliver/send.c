/*
 * send.c - what a finished mx_delivery says: statuses, the Postfix-style
 * log line administrators grep for, and JSON with every attempt; and the
 * public calls that hand a message to delivery (mx_message_*,
 * mx_send_message).  The delivery itself is deliver.c's, the sender's
 * settings sender.c's; this file never does I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "deliver.h"
#include "json.h"
#include "message.h"
#include "route.h"
#include "send.h"
#include "why.h"

size_t
mx_delivery_count(const mx_delivery *d)
{
	return d->n_rcpts;
}

mx_rcpt_status
mx_delivery_status(const mx_delivery *d, size_t i)
{
	return i < d->n_rcpts ? d->rcpts[i].status : MX_RCPT_DEFERRED;
}

const char *
mx_delivery_reason(const mx_delivery *d, size_t i)
{
	return i < d->n_rcpts ? d->rcpts[i].text : "";
}

const char *
mx_delivery_recipient(const mx_delivery *d, size_t i)
{
	return i < d->n_rcpts ? d->rcpts[i].address : "";
}

static const char *
status_word(mx_rcpt_status s)
{
	return s == MX_RCPT_SENT ? "sent" : s == MX_RCPT_BOUNCED ? "bounced" : "deferred";
}

mx_err
mx_delivery_log_line(const mx_delivery *d, size_t i, char **out)
{
	const struct deliver_rcpt *r;
	char relay[NAME_TEXT_MAX + 64];

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (d == NULL || i >= d->n_rcpts)
		return MX_ERR_INVALID;
	r = &d->rcpts[i];
	if (r->relay_host[0] != '\0' && r->relay_address[0] == '\0') /* LMTP: unix:PATH */
		snprintf(relay, sizeof(relay), "%s", r->relay_host);
	else if (r->relay_host[0] != '\0')
		snprintf(relay, sizeof(relay), "%s[%s]:%u", r->relay_host, r->relay_address,
		    d->sender->port);
	else
		snprintf(relay, sizeof(relay), "none");
	return asprintf(out, "to=<%s>, relay=%s, delay=%.2f, dsn=%s, status=%s (%s)", r->address,
		   relay, r->delay, r->dsn, status_word(r->status), r->text) < 0
	    ? MX_ERR_NOMEM
	    : MX_OK;
}

static void
put_attempt(FILE *f, const mx_sender *s, const struct deliver_attempt *a)
{
	fputs("{\"host\": ", f);
	json_string(f, a->host);
	fputs(", \"address\": ", f);
	json_string(f, a->address);
	fprintf(f, ", \"port\": %u, \"connect\": ", s->port);
	json_string(f, connect_outcome_name(a->connect));
	fprintf(f, ", \"connect_ms\": %u, \"stage\": ", a->connect_ms);
	if (a->stage != NULL)
		json_string(f, a->stage);
	else
		fputs("null", f);
	fprintf(f, ", \"code\": %u, \"reply\": ", a->code);
	json_string(f, a->text);
	fprintf(f, ", \"tls\": %s", a->tls ? "true" : "false");
	if (a->tls) {
		fputs(", \"tls_cipher\": ", f);
		json_string(f, a->tls_desc);
	}
	fputc('}', f);
}

mx_err
mx_delivery_to_json(const mx_delivery *d, size_t i, char **out)
{
	const struct deliver_rcpt *r;
	size_t size = 0;
	FILE *f;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (d == NULL || i >= d->n_rcpts)
		return MX_ERR_INVALID;
	r = &d->rcpts[i];
	if ((f = open_memstream(out, &size)) == NULL)
		return MX_ERR_NOMEM;
	fputs("{\"to\": ", f);
	json_string(f, r->address);
	fputs(", \"status\": ", f);
	json_string(f, status_word(r->status));
	fputs(", \"dsn\": ", f);
	json_string(f, r->dsn);
	fputs(", \"relay\": ", f);
	if (r->relay_host[0] != '\0') {
		fputs("{\"host\": ", f);
		json_string(f, r->relay_host);
		fputs(", \"address\": ", f);
		json_string(f, r->relay_address);
		fprintf(f, ", \"port\": %u}", d->sender->port);
	} else {
		fputs("null", f);
	}
	fprintf(f, ", \"delay\": %.3f, \"reply\": ", r->delay);
	json_string(f, r->text);
	fputs(", \"attempts\": [", f);
	for (size_t k = 0, n = 0; k < d->n_attempts; k++) {
		if (d->attempts[k].job != r->job)
			continue;
		if (n++ > 0)
			fputs(", ", f);
		put_attempt(f, d->sender, &d->attempts[k]);
	}
	fputs("]}", f);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return MX_ERR_NOMEM;
	}
	return MX_OK;
}

/* ---- addresses and messages for callers of the public API ------------- */

mx_err
mx_address_check(const char *address, bool sender, mx_why *why)
{
	const char *reason = NULL;
	struct address a;
	mx_err err;

	why_clear(why);
	if (address == NULL)
		return why_set(why, MX_ERR_INVALID, "no address (NULL)");
	err = sender ? address_parse_sender(address, &a, &reason)
		     : address_parse(address, &a, &reason);
	if (err != MX_OK)
		why_set(why, err, "%s", reason ? reason : mx_strerror(err));
	return err;
}

static mx_err
keep_header_recipients(mx_message *mm, mx_why *why)
{
	const struct address_list *l = &mm->m->recipients;

	/* sendmail would bounce them; refusing now loses nothing. */
	if (l->n_bad > 0)
		return why_set(why, MX_ERR_BAD_ADDRESS,
		    "has a To, Cc or Bcc address that is not a mail address");
	if (l->n_items == 0)
		return MX_OK;
	if ((mm->rcpts = calloc(l->n_items, sizeof(*mm->rcpts))) == NULL)
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < l->n_items; i++)
		snprintf(mm->rcpts[i], sizeof(mm->rcpts[i]), "%s", l->items[i].path);
	mm->n_rcpts = l->n_items;
	return MX_OK;
}

static mx_err
message_error_to_mx(message_err code)
{
	switch (code) {
	case MESSAGE_OK: return MX_OK;
	case MESSAGE_ERR_MALFORMED: return MX_ERR_BAD_MESSAGE;
	case MESSAGE_ERR_TOO_BIG: return MX_ERR_TOO_BIG;
	case MESSAGE_ERR_NOMEM: return MX_ERR_NOMEM;
	case MESSAGE_ERR_IO: return MX_ERR_SYSTEM;
	default: return MX_ERR_INVALID;
	}
}

mx_err
mx_message_read(int fd, unsigned flags, size_t max_size, mx_message **out, mx_why *why)
{
	struct message_error merr = { 0 };
	struct message_options opt = {
		.max_size = max_size,
		.dot_is_content = (flags & MX_MESSAGE_DOTS_ARE_DATA) != 0,
		.extract_recipients = (flags & MX_MESSAGE_FROM_HEADERS) != 0,
	};
	mx_message *mm;
	mx_err err;

	why_clear(why);
	if (out == NULL)
		return why_set(why, MX_ERR_INVALID, "nowhere to put the message (out is NULL)");
	*out = NULL;
	if ((mm = calloc(1, sizeof(*mm))) == NULL)
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	/* Into an unlinked file, never whole in memory (message.h). */
	if (message_read_fd_spooled(fd, &opt, &mm->m, &merr) != MESSAGE_OK) {
		free(mm);
		err = message_error_to_mx(merr.code);
		return why_set(why, err, "%s", merr.why[0] ? merr.why : mx_strerror(err));
	}
	if ((err = keep_header_recipients(mm, why)) != MX_OK) {
		mx_message_free(mm);
		return err;
	}
	*out = mm;
	return MX_OK;
}

void
mx_message_free(mx_message *mm)
{
	if (mm == NULL)
		return;
	message_free(mm->m);
	free(mm->rcpts);
	free(mm);
}

mx_err
mx_message_complete(mx_message *mm, const char *sender, const char *host)
{
	time_t now = time(NULL);
	struct address from;

	if (mm == NULL || sender == NULL || host == NULL)
		return MX_ERR_INVALID;
	if (address_parse_sender(sender[0] ? sender : "<>", &from, NULL) != MX_OK)
		return MX_ERR_BAD_ADDRESS;
	if (message_add_date(mm->m, now, NULL) != MESSAGE_OK ||
	    message_add_message_id(mm->m, host, now, NULL) != MESSAGE_OK)
		return MX_ERR_INVALID;
	if (!from.null && message_add_from(mm->m, &from, NULL) != MESSAGE_OK)
		return MX_ERR_NOMEM;
	return MX_OK;
}

size_t
mx_message_recipient_count(const mx_message *mm)
{
	return mm->n_rcpts;
}

const char *
mx_message_recipient(const mx_message *mm, size_t i)
{
	return i < mm->n_rcpts ? mm->rcpts[i] : NULL;
}

/* "<local@domain>" to what goes between the brackets of MAIL and RCPT. */
static void
bare_path(const struct address *a, char out[ADDRESS_PATH_MAX + 1])
{
	size_t len = strlen(a->path);

	if (len >= 2 && a->path[0] == '<' && a->path[len - 1] == '>') {
		memcpy(out, a->path + 1, len - 2);
		out[len - 2] = '\0';
	} else {
		memcpy(out, a->path, len + 1);
	}
}

mx_err
envelope_prepare(const char *mail_from, const char *const *rcpts, size_t n_rcpts,
    struct envelope *env, mx_why *why)
{
	const char *reason = NULL;
	struct address a;

	memset(env, 0, sizeof(*env));
	if (mail_from == NULL || rcpts == NULL)
		return why_set(why, MX_ERR_INVALID, "no sender or no recipients (NULL)");
	if (address_parse_sender(mail_from[0] ? mail_from : "<>", &a, &reason) != MX_OK)
		return why_set(why, MX_ERR_BAD_ADDRESS, "sender \"%s\" %s", mail_from,
		    reason ? reason : "is not an address");
	bare_path(&a, env->from);
	env->smtputf8 = a.smtputf8;
	env->paths = calloc(n_rcpts ? n_rcpts : 1, sizeof(*env->paths));
	env->rcpts = calloc(n_rcpts ? n_rcpts : 1, sizeof(*env->rcpts));
	if (env->paths == NULL || env->rcpts == NULL) {
		envelope_free(env);
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_rcpts; i++) {
		bool seen = false;
		if (address_parse(rcpts[i], &a, &reason) != MX_OK) {
			envelope_free(env);
			return why_set(why, MX_ERR_BAD_ADDRESS, "recipient \"%s\" %s",
			    rcpts[i] ? rcpts[i] : "(NULL)", reason ? reason : "is not an address");
		}
		bare_path(&a, env->paths[env->n]);
		/* One RCPT per mailbox, however often it was named. */
		for (size_t k = 0; k < env->n && !seen; k++)
			seen = strcmp(env->paths[k], env->paths[env->n]) == 0;
		if (seen)
			continue;
		env->rcpts[env->n] = env->paths[env->n];
		env->n++;
		env->smtputf8 |= a.smtputf8;
	}
	return MX_OK;
}

void
envelope_free(struct envelope *env)
{
	free(env->paths);
	free(env->rcpts);
	env->paths = NULL;
	env->rcpts = NULL;
	env->n = 0;
}

mx_err
mx_send_message(mx_sender *sender, const char *mail_from, const char *const *rcpts, size_t n_rcpts,
    const mx_message *mm, mx_send_cb cb, void *arg, mx_why *why)
{
	struct payload src;
	struct envelope env;
	mx_err err;

	why_clear(why);
	if (sender == NULL || mm == NULL)
		return why_set(why, MX_ERR_INVALID, "no sender or no message (NULL)");
	if ((err = envelope_prepare(mail_from, rcpts, n_rcpts, &env, why)) != MX_OK)
		return err;
	message_payload(mm->m, &src);
	err = deliver_start(sender, env.from, env.rcpts, env.n, &src, mm->m->size,
	    (mm->m->eight_bit ? MX_SEND_8BITMIME : 0) |
		(env.smtputf8 || mm->m->eight_bit_header ? MX_SEND_SMTPUTF8 : 0),
	    cb, arg, why);
	envelope_free(&env);
	return err;
}

void
message_payload(const struct message *m, struct payload *out)
{
	*out = (struct payload){ .head = (uint8_t *)m->data,
		.head_len = m->len,
		.fd = m->fd,
		.off = 0,
		.file_len = m->file_len };
}
