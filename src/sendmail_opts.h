/*
 * sendmail_opts.h - the options of one sendmail invocation, as
 * sendmail.c parses them and its modes (sendmail_bs.c, sendmail_msg.c)
 * read them.  Types only.
 */
#ifndef MX_SENDMAIL_OPTS_H
#define MX_SENDMAIL_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "mx.h"
#include "rewrite.h"

#define SENDMAIL_MAX_MESSAGE (64u * 1024u * 1024u)

struct sendmail_opts {
	char mode;        /* 'm' -bm, 's' -bs, 'p' -bp, 'i' -bi, 'q' -q */
	bool deliver_now; /* -odi */
	const char *from; /* -f or -r, as given (brackets removed) */
	char from_buf[512];
	const char *full_name;   /* -F */
	bool from_headers;       /* -t */
	bool dots_are_data;      /* -i, -oi */
	bool verbose;            /* -v */
	mx_drop_envelope env;    /* -oeX, -R, -V, -N, -B */
	const char *origin_opt;  /* --origin */
	const char *aliases_opt; /* --aliases */
	const char *spool;       /* --spool, for mailq */
	char origin[REWRITE_ORIGIN_MAX + 1];
	const char *helper; /* mx-drop */
	char **pass;        /* long options handed to send or queue (-odi, -q, -bp) */
	int n_pass;
};

#endif
