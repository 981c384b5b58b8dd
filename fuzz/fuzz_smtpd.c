/*
 * fuzz_smtpd.c - libFuzzer target for the SMTP server's reading path:
 * lib/serve/smtpd_session.c over smtp_cmd.c, with relay.c judging every
 * RCPT as the server does (the first octet picks whether the client is
 * inside the relay networks, the second the piece size).  The hooks
 * stand in for the server's I/O: STARTTLS succeeds at once, a commit
 * succeeds or fails by a bit of the input.  Checks the session's
 * promises: every reply is CRLF-ended lines of a 3-digit code; no DATA
 * is written outside a transaction with a recipient; what is written
 * is wire form (no bare CR or LF, CRLF-ended, dot-stuffed); a recipient
 * of a domain neither local nor backup is accepted only for a trusted
 * client; nothing is taken after the session closed; a sender taken is
 * null or an address address.c reads, and a recipient taken keeps its
 * local part as sent (a quoted one with its quotes: never normalised).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "relay.h"
#include "smtpd_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz {
	struct smtpd_session s;
	struct relay_policy p;
	bool trusted, in_tx, writing, commit_ok, tls;
	size_t rcpts;
	char last; /* last octet written to the message */
	char prev;
};

static void
f_reply(void *arg, const char *t, size_t n)
{
	(void)arg;
	if (n < 5 || t[n - 2] != '\r' || t[n - 1] != '\n' || t[0] < '2' || t[0] > '5')
		abort();
	for (size_t i = 0; i + 1 < n; i++)
		if ((t[i] == '\n' && (i == 0 || t[i - 1] != '\r')) ||
		    (t[i] == '\r' && t[i + 1] != '\n'))
			abort(); /* CRLF-ended lines, nothing else */
}

static void
f_mail(void *arg, const char *sender)
{
	struct fuzz *f = arg;

	struct address a;

	if (sender[0] != '\0' && address_parse_sender(sender, &a, NULL) != MX_OK)
		abort(); /* queued, it would bounce to nobody */
	f->in_tx = true;
	f->rcpts = 0;
}

/* The address to queue is an address, whose local part is the path's as sent. */
static void
local_kept(const char *path, const char *addr)
{
	struct address a;
	const char *colon = strchr(path, ':');

	if (address_parse(addr, &a, NULL) != MX_OK)
		abort();
	if (path[0] == '@' && colon != NULL)
		path = colon + 1; /* a source route, dropped */
	if (strncmp(path, a.local, strlen(a.local)) != 0 || path[strlen(a.local)] != '@')
		abort();
}

static bool
f_rcpt(void *arg, const char *path, struct smtpd_verdict *v)
{
	struct fuzz *f = arg;
	char addr[321];
	enum relay_class k = relay_judge(&f->p, f->trusted, path, addr);

	if (!f->in_tx)
		abort();
	if (k == RELAY_OUT && !f->trusted)
		abort(); /* an open relay */
	v->ok = k == RELAY_LOCAL || k == RELAY_OUT;
	if (v->ok || k == RELAY_BACKUP)
		local_kept(path, addr);
	strcpy(v->reply, v->ok ? "250 2.1.5 Ok" : "554 5.7.1 Relay access denied");
	f->rcpts += v->ok;
	return true;
}

static void
f_reset(void *arg)
{
	struct fuzz *f = arg;

	f->in_tx = f->writing = false;
	f->rcpts = 0;
}

static bool
f_data_start(void *arg)
{
	struct fuzz *f = arg;

	if (!f->in_tx || f->rcpts == 0)
		abort();
	f->writing = true;
	f->last = '\n';
	f->prev = '\r';
	return true;
}

static bool
f_data_write(void *arg, const char *p, size_t n)
{
	struct fuzz *f = arg;

	if (!f->writing)
		abort();
	for (size_t i = 0; i < n; i++) {
		if ((p[i] == '\n' && f->last != '\r') || (f->last == '\r' && p[i] != '\n'))
			abort(); /* wire form: CRLF and nothing else */
		f->prev = f->last;
		f->last = p[i];
	}
	return true;
}

static void
f_commit(void *arg)
{
	struct fuzz *f = arg;

	if (!f->writing || f->last != '\n' || f->prev != '\r')
		abort(); /* the message ends on a line end */
	f->writing = false;
	smtpd_session_data_done(&f->s, f->commit_ok, "ID", "fuzz");
}

static void
f_starttls(void *arg)
{
	struct fuzz *f = arg;

	f->tls = true;
}

static const struct smtpd_hooks hooks = {
	.reply = f_reply,
	.mail = f_mail,
	.rcpt = f_rcpt,
	.reset = f_reset,
	.data_start = f_data_start,
	.data_write = f_data_write,
	.data_commit = f_commit,
	.starttls = f_starttls,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char local[1][MX_DOMAIN_MAX + 1] = { "local.test" };
	static char backup[1][MX_DOMAIN_MAX + 1] = { "backup.test" };
	struct smtpd_settings set = {
		.hostname = "mx.test", .max_size = 4096, .max_rcpts = 5, .tls_offer = true
	};
	struct fuzz f = { 0 };
	size_t off = 2, step;

	if (size < 2)
		return 0;
	f.trusted = data[0] & 1;
	f.commit_ok = data[0] & 2;
	step = (size_t)(data[1] % 64) + 1;
	f.p.local = local;
	f.p.n_local = 1;
	f.p.backup = backup;
	f.p.n_backup = 1;
	smtpd_session_init(&f.s, &set, &hooks, &f, false);
	smtpd_session_greet(&f.s);
	while (off < size && f.s.state != SMTPD_CLOSED) {
		size_t len = size - off < step ? size - off : step;
		size_t used = smtpd_session_feed(&f.s, (const char *)data + off, len);
		if (used > len)
			abort();
		off += used;
		if (f.s.state == SMTPD_WAIT_TLS) { /* the server drops the rest of the piece */
			off += len - used;
			f.tls = false;
			smtpd_session_tls_done(&f.s);
		} else if (used == 0 && f.s.state == SMTPD_READY && len > 0) {
			abort(); /* a ready session always takes something */
		}
	}
	if (f.s.state == SMTPD_CLOSED && smtpd_session_feed(&f.s, "NOOP\r\n", 6) != 0)
		abort();
	return 0;
}
