/*
 * smtp_session.h - one SMTP transaction over one connected socket: the
 * greeting, EHLO (HELO as fallback), STARTTLS as the TLS policy says,
 * MAIL, RCPT, DATA (pipelined when offered), QUIT.  It judges each reply
 * by RFC 5321 and says, per recipient, what happened and whether the next
 * MX host should be tried.  It never resolves, never picks hosts.
 */
#ifndef MX_SMTP_SESSION_H
#define MX_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"
#include "payload.h"
#include "tls.h"

struct event_base;
struct smtp_session;

#define SMTP_TEXT_MAX 512

/* What to send: borrowed for the session's life. */
struct smtp_txn {
	const char *helo;         /* our host name for EHLO/HELO */
	const char *mail_from;    /* reverse-path without <>; "" for <> */
	const char *const *rcpts; /* forward-paths without <> */
	size_t n_rcpts;
	/* dot-stuffed, CRLF lines, no final ".": sent a chunk at a time.
	 * NULL: a probe that ends before DATA: address verification (MAIL,
	 * the RCPTs, QUIT, as Postfix's verify(8) does) or, with no
	 * recipients, a reachability probe (greeting, EHLO, QUIT). */
	const struct payload *payload;
	size_t size;         /* RFC 1870 SIZE: without stuffing */
	bool needs_8bitmime; /* some octet >= 0x80 in the message */
	bool needs_smtputf8; /* an address or header needs SMTPUTF8 */
};

/* RFC 5321 4.5.3.2 defaults, in milliseconds. */
struct smtp_timeouts {
	unsigned greeting, ehlo, starttls, mail, rcpt, data, block, final_dot, quit;
};
void smtp_timeouts_default(struct smtp_timeouts *t);

struct smtp_session_opts {
	struct smtp_timeouts timeouts;
	const char *peer_name; /* the MX host name: TLS SNI, names */
	enum tls_policy tls;   /* TLS_MAY and TLS_ENCRYPT, TLS_VERIFY, TLS_DANE */
	/* The TLS client, made on first use (loading a trust store costs tens
	 * of milliseconds: only a STARTTLS pays it); NULL: no STARTTLS. */
	struct tls_client *(*tls_client)(void *ctx);
	void *tls_ctx;
	const struct tls_tlsa *tlsa; /* TLS_DANE: the host's usable records */
	size_t n_tlsa;
	/* -v: every line sent ('>') and received ('<'), without CRLF. */
	void (*transcript)(char dir, const char *line, size_t len, void *arg);
	void *transcript_arg;
	/* Called (with the done callback's arg) when the connection is gone,
	 * after done: a finished session lingers to say QUIT properly. */
	void (*closed)(void *arg);
	/* Keep the connection for another transaction: after a transaction
	 * the server answered in step, done sees result.reusable and may
	 * smtp_session_park the session instead of letting it say QUIT. */
	bool keep;
	/* RFC 2033 LMTP: LHLO (no HELO fallback), and after the final dot one
	 * reply per recipient accepted at RCPT, in RCPT order, each final for
	 * its recipient alone. */
	bool lmtp;
	/* Address verification: MAIL and RCPT only, never DATA; the
	 * transaction ends after the last RCPT reply (COMPLETED, each
	 * recipient's class saying what the server would do). */
	bool verify;
};

/* How the session ended for the transaction as a whole. */
enum smtp_outcome {
	SMTP_COMPLETED = 0, /* every recipient has a final answer from this host */
	SMTP_TRY_NEXT,      /* this host failed for now: recipients still pending */
	SMTP_PERMANENT,     /* a 5xx to MAIL, DATA or the final dot */
};

/* Per recipient: 2 accepted, 4 temporary here, 5 refused for good, 0 untried. */
struct smtp_rcpt_result {
	int class;
	bool final; /* answered after the final dot: this class is the message's fate */
	unsigned code;
	char enhanced[16];
	char text[SMTP_TEXT_MAX];
};

struct smtp_session_result {
	enum smtp_outcome outcome;
	const char *stage; /* "greeting", "EHLO", "STARTTLS", "MAIL", ... */
	unsigned code;     /* the reply that decided the outcome, 0 if none */
	char enhanced[16];
	char text[SMTP_TEXT_MAX]; /* reply text, or what went wrong */
	bool tls;                 /* the transaction ran under TLS */
	struct tls_facts tls_facts;
	struct smtp_rcpt_result *rcpts; /* n_rcpts, owned by the session */
	size_t n_rcpts;
	bool reusable;         /* opts.keep: idle now, may be parked in done */
	unsigned transactions; /* transactions on this connection, this one too */
};

typedef void (*smtp_done_cb)(const struct smtp_session_result *result, void *arg);

/*
 * Starts the session on fd (the session owns and closes it).  done runs
 * once, from the event loop, never from inside this call; the session
 * frees itself after done returns.  smtp_session_cancel ends it early
 * without calling done.
 */
mx_err smtp_session_start(struct event_base *base, int fd, const struct smtp_txn *txn,
    const struct smtp_session_opts *opts, smtp_done_cb done, void *arg, struct smtp_session **out);
void smtp_session_cancel(struct smtp_session *s);

/*
 * More than one transaction per connection (a connection cache's use).
 * smtp_session_park, only from inside a done callback that saw
 * result.reusable, keeps the idle session: it no longer calls the old
 * owner; closed(arg) runs when the server drops it or it is ended.  On a
 * session already parked it only changes closed and arg (NULL: none).
 * smtp_session_next starts another transaction on a parked session: RSET
 * (pipelined with MAIL, RCPT and DATA when the server offers PIPELINING),
 * then as smtp_session_start, with opts' timeouts and callbacks (its TLS
 * fields are ignored: the connection keeps what it has).  A dropped idle
 * connection shows as a TRY_NEXT at stage "RSET".  smtp_session_quit says
 * QUIT on a parked session and frees it (closed runs).
 */
void smtp_session_park(struct smtp_session *s, void (*closed)(void *arg), void *arg);
mx_err smtp_session_next(struct smtp_session *s, const struct smtp_txn *txn,
    const struct smtp_session_opts *opts, smtp_done_cb done, void *arg);
void smtp_session_quit(struct smtp_session *s);

#endif
