/*
 * deliver.h - the insides of mx_delivery (send.c reads them for the
 * public getters, log lines and JSON; deliver.c fills them).
 */
#ifndef MX_DELIVER_H
#define MX_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "connect.h"
#include "payload.h"
#include "plan.h"
#include "sender.h"
#include "smtp_session.h"

#define DELIVER_MAX_ATTEMPTS 64 /* attempts kept per delivery, for logs */

/* One try at one address, for --json and the logs. */
struct deliver_attempt {
	size_t job; /* the domain it was for */
	char host[NAME_TEXT_MAX];
	char address[46];
	enum connect_outcome connect;
	unsigned connect_ms;
	const char *stage; /* static; NULL when no session ran */
	unsigned code;
	char text[SMTP_TEXT_MAX];
	bool tls;
	char tls_desc[96];
};

struct deliver_rcpt {
	char address[512]; /* the forward-path, as sent */
	char domain[MX_DOMAIN_MAX + 1];
	mx_rcpt_status status;
	bool pending;
	char dsn[16];
	char text[SMTP_TEXT_MAX]; /* the reply, or why not delivered */
	char relay_host[NAME_TEXT_MAX];
	char relay_address[46];
	double delay; /* seconds from start to the final word */
	size_t job;   /* its domain: attempts with this job are its */
	bool reached; /* a server answered its RCPT (any class) */
};

struct mx_delivery {
	mx_sender *sender;
	struct deliver_rcpt *rcpts;
	size_t n_rcpts;
	struct deliver_attempt *attempts;
	size_t n_attempts;
	struct deliver_job *jobs;
	size_t n_jobs, jobs_left;
	size_t sessions_open; /* connections still saying QUIT */
	struct event *deadline;
	bool handed_over;
	bool deadline_passed;
	double started;
	mx_send_cb cb;
	void *arg;
	/* The message as it goes on the wire: its own copy of the head, its
	 * own descriptor for the file part, never the whole in memory. */
	struct payload payload;
	size_t size; /* for SIZE=: without the stuffing dots */
	bool needs_8bitmime, needs_smtputf8;
	char mail_from[512];
};

/*
 * mx_send_start for a message whose payload is head_len octets of head
 * followed by file_len octets of fd from off (fd -1: none) and whose SIZE
 * (without stuffing dots) is size: the head is copied and fd dup'd, so
 * the caller may free its message once this returns.  flags as
 * mx_send_start's (MX_SEND_8BITMIME, MX_SEND_SMTPUTF8).
 */
mx_err
deliver_start(mx_sender *sender, const char *mail_from, const char *const *rcpts, size_t n_rcpts,
    const struct payload *src, size_t size, unsigned flags, mx_send_cb cb, void *arg, mx_why *why);

double deliver_now(void);

#endif
