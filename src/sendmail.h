/*
 * sendmail.h - what the sendmail front end's files share (sendmail.c:
 * options, modes, mailq, newaliases; sendmail_bs.c: -bs).
 */
#ifndef MX_SENDMAIL_H
#define MX_SENDMAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "mx.h"
#include "rewrite.h"

#define SENDMAIL_MAX_MESSAGE (64u * 1024u * 1024u)

struct sendmail_opts {
	char mode;                 /* 'm' -bm, 's' -bs, 'p' -bp, 'i' -bi, 'q' -q */
	bool deliver_now;          /* -odi */
	const char *from;          /* -f or -r, as given (brackets removed) */
	char from_buf[512];
	const char *full_name;     /* -F */
	bool from_headers;         /* -t */
	bool dots_are_data;        /* -i, -oi */
	bool verbose;              /* -v */
	mx_drop_envelope env;      /* -oeX, -R, -V, -N, -B */
	const char *origin_opt;    /* --origin */
	const char *aliases_opt;   /* --aliases */
	const char *spool;         /* --spool, for mailq */
	char origin[REWRITE_ORIGIN_MAX + 1];
	const char *helper;        /* mx-drop */
	char **pass;               /* long options handed to send or queue (-odi, -q, -bp) */
	int n_pass;
};

/* Reads a message from fd, its address fields qualified with origin
 * (rewrite_header), as mx_message_read; the exit code and a message on
 * stderr when it fails. */
int sendmail_read_message(const struct sendmail_opts *o, int fd, unsigned flags,
    mx_message **out);

/* Says what went wrong on stderr, unless -oeq asked for quiet. */
void sendmail_warn(const struct sendmail_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* -bs: SMTP on standard input and output; the exit code. */
int sendmail_bs(const struct sendmail_opts *o);

/* -odi: the message delivered now as `mx send` would (send.c). */
int send_now(int argc, char **argv, mx_message *m, const char *from, const char **rcpts,
    size_t n);

int cmd_sendmail(int argc, char **argv);

#endif
