/*
 * smtpd_session.h - one SMTP server session as a state machine (RFC 5321,
 * 1870 SIZE, 2920 PIPELINING, 3207 STARTTLS, 6152 8BITMIME, 2034
 * ENHANCEDSTATUSCODES): bytes in through smtp_cmd.c, replies out through
 * the caller's hooks.  What a recipient is worth, where the message goes
 * and how TLS is done are the hooks' (the server's I/O in lib/server);
 * this file only keeps the protocol straight: order of commands, limits,
 * errors per session, DATA in wire form, the loop count of Received
 * lines.  Pure: no I/O, no allocation, no clock.
 */
#ifndef MX_SMTPD_SESSION_H
#define MX_SMTPD_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp_cmd.h"

#define SMTPD_ERRORS_MAX 20  /* 4xx/5xx for the client's faults (Postfix's hard limit) */
#define SMTPD_JUNK_MAX   100 /* NOOP, VRFY, HELP, RSET, HELO/EHLO again (Postfix's) */
#define SMTPD_HOPS_MAX   100 /* Received lines a message may carry (RFC 5321 6.3) */
#define SMTPD_REPLY_MAX  512 /* one reply line, CRLF included (RFC 5321 4.5.3.1.5) */
#define SMTPD_HELO_MAX   255

/* What a hook says of a recipient: the whole reply line, without CRLF. */
struct smtpd_verdict {
	bool ok;                     /* accepted: counts as a recipient */
	char reply[SMTPD_REPLY_MAX]; /* "250 2.1.5 Ok", "554 5.7.1 ..." */
};

struct smtpd_hooks {
	/* A reply (one or more CRLF-ended lines) to send. */
	void (*reply)(void *arg, const char *text, size_t len);
	/* MAIL was accepted: a new transaction (the previous one is gone). */
	void (*mail)(void *arg, const char *sender);
	/* RCPT's path (between the angle brackets): true when *v is filled
	 * now, false when the hook will call smtpd_session_rcpt_done. */
	bool (*rcpt)(void *arg, const char *path, struct smtpd_verdict *v);
	/* RSET, EHLO, HELO, STARTTLS or the end of a transaction: forget the
	 * envelope and any message being written. */
	void (*reset)(void *arg);
	/* DATA: make a place for the message; false answers 451. */
	bool (*data_start)(void *arg);
	/* A piece of the message in wire form (CRLF lines, dot-stuffed). */
	bool (*data_write)(void *arg, const char *p, size_t n);
	/* The message is whole and fine: make it durable and call
	 * smtpd_session_data_done. */
	void (*data_commit)(void *arg);
	/* After "220 Ready to start TLS": discard buffered input, do the
	 * handshake, then call smtpd_session_tls_done. */
	void (*starttls)(void *arg);
};

struct smtpd_settings {
	const char *hostname;
	size_t max_size; /* SIZE; message octets allowed */
	unsigned max_rcpts;
	bool tls_offer; /* STARTTLS in the EHLO reply */
};

enum smtpd_state {
	SMTPD_READY = 0,   /* reading commands or DATA */
	SMTPD_WAIT_RCPT,   /* a RCPT's verdict is pending */
	SMTPD_WAIT_COMMIT, /* the message is being made durable */
	SMTPD_WAIT_TLS,    /* the handshake is the caller's */
	SMTPD_CLOSED,      /* QUIT or a fatal fault: send what is queued and close */
};

struct smtpd_session {
	struct smtp_cmd rd;
	const struct smtpd_settings *set;
	const struct smtpd_hooks *hooks;
	void *arg;
	enum smtpd_state state;
	bool helo_seen, esmtp, tls;
	bool has_mail, eight_bit;
	char helo[SMTPD_HELO_MAX + 1];
	char sender[SMTP_CMD_PATH_MAX + 1];
	unsigned n_rcpts;
	unsigned errors, junk;
	/* DATA */
	bool in_header, write_failed;
	unsigned hops;
	size_t messages; /* accepted in this session */
};

void smtpd_session_init(struct smtpd_session *s, const struct smtpd_settings *set,
    const struct smtpd_hooks *hooks, void *arg, bool tls);
/* The 220 greeting. */
void smtpd_session_greet(struct smtpd_session *s);
/*
 * Takes the client's octets p[0..n) while the session is READY and
 * returns how many it took: it stops at a pending verdict, a commit, a
 * STARTTLS (the caller then discards everything after it) or the close.
 */
size_t smtpd_session_feed(struct smtpd_session *s, const char *p, size_t n);
void smtpd_session_rcpt_done(struct smtpd_session *s, const struct smtpd_verdict *v);
/* id: the queue ID when ok; why: the reason when not. */
void smtpd_session_data_done(struct smtpd_session *s, bool ok, const char *id, const char *why);
/* The handshake succeeded: a fresh session (RFC 3207 4.2: EHLO again). */
void smtpd_session_tls_done(struct smtpd_session *s);
/* A fatal reply ("421 ..." without CRLF) and the close. */
void smtpd_session_abort(struct smtpd_session *s, const char *reply);

#endif
