/*
 * options.h - the options `mx send` and `mx queue` share: how to resolve,
 * how to connect and speak SMTP and TLS, where the spool is and how the
 * queue retries.  The configuration file that may give any of them is
 * config.h's.
 */
#ifndef MX_OPTIONS_H
#define MX_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>

#include "config_syntax.h"
#include "mx.h"

#ifdef MX_SPOOLDIR
#define MX_SPOOL_DEFAULT MX_SPOOLDIR /* meson option spooldir */
#else
#define MX_SPOOL_DEFAULT "/var/spool/mx"
#endif

struct delivery_opts {
	const char *cmd; /* "send", "queue": for messages */
	mx_tls_policy tls;
	const char *ca_file;
	const char *helo;
	unsigned attempt_delay_ms, connect_timeout_ms;
	bool connect_set; /* --attempt-delay or --connect-timeout given */
	bool attempt_delay_given;
	unsigned deadline_ms;
	unsigned stage_ms[8]; /* --smtp-timeout, by mx_smtp_stage; 0: default */
	bool verbose;         /* -v: the SMTP dialogue on stderr */
	const char *spool;
	const char *origin;  /* --origin: the domain of bare local names; NULL: the host's */
	const char *aliases; /* --aliases: the alias file; NULL: /etc/aliases if it exists */
	unsigned retry_first, retry_max, lifetime; /* seconds */
	mx_resolver *resolver;
	mx_policy *policy;
	char *config_text; /* the configuration file; its values point into it */
	const char *where; /* "FILE:LINE" of the setting being applied, NULL on
	                               the command line: for messages; it lives only
	                               while the setting is applied */
	/* Where those were set, copied for checks made after the file is read
	 * ("" on the command line). */
	char helo_where[CONFIG_WHERE_MAX], ca_where[CONFIG_WHERE_MAX],
	    retry_where[CONFIG_WHERE_MAX];
};

/* Long options of delivery_opts, to append to a command's table (no end). */
#define DELIVERY_LONGOPTS                                                                          \
	{ "resolver", required_argument, NULL, 'r' }, { "tls", required_argument, NULL, 'L' },     \
	    { "ca-file", required_argument, NULL, 'C' }, { "helo", required_argument, NULL, 'H' }, \
	    { "attempt-delay", required_argument, NULL, 'D' },                                     \
	    { "connect-timeout", required_argument, NULL, 'c' },                                   \
	    { "deadline", required_argument, NULL, 'E' },                                          \
	    { "smtp-timeout", required_argument, NULL, 'S' },                                      \
	    { "trust-anchor", required_argument, NULL, 'a' },                                      \
	    { "timeout", required_argument, NULL, 'T' },                                           \
	    { "spool", required_argument, NULL, 'P' },                                             \
	    { "retry-first", required_argument, NULL, 0x101 },                                     \
	    { "retry-max", required_argument, NULL, 0x102 },                                       \
	    { "lifetime", required_argument, NULL, 0x103 },                                        \
	    { "config", required_argument, NULL, 0x104 },                                          \
	    { "origin", required_argument, NULL, 0x105 },                                          \
	    { "aliases", required_argument, NULL, 0x106 },                                         \
	{                                                                                          \
		"local-name", required_argument, NULL, 0x107                                       \
	}

#define DELIVERY_USAGE                                                                             \
	"  [--resolver IP[@PORT]]... [--tls may|encrypt|dane|verify] [--ca-file FILE]\n"           \
	"  [--helo NAME] [--attempt-delay MS] [--connect-timeout SECONDS]\n"                       \
	"  [--smtp-timeout STAGE=SECONDS]... [--deadline SECONDS]\n"                               \
	"  [--trust-anchor FILE|none] [--timeout SECONDS] [--spool DIR]\n"                         \
	"  [--retry-first SECONDS] [--retry-max SECONDS] [--lifetime SECONDS]\n"                   \
	"  [--config FILE] [--origin DOMAIN] [--aliases FILE]\n"                                   \
	"  [--local-name NAME]...\n"

/* Makes the resolver and policy; EX_OK or an exit code. */
int delivery_opts_init(struct delivery_opts *o, const char *cmd);
void delivery_opts_free(struct delivery_opts *o);
/* Applies one of DELIVERY_LONGOPTS; EX_OK, or an exit code after a message
 * (saying o->where when it is set).  Returns -1 when opt is not one of them. */
int delivery_option(struct delivery_opts *o, int opt, const char *value);
/* What no single option can check (retry-max against retry-first), once all
 * are in, before anything is read or sent; EX_OK or an exit code after a
 * message. */
int delivery_opts_check(struct delivery_opts *o);
/* Sets the sender up from the options; EX_OK or an exit code. */
int delivery_configure(struct delivery_opts *o, mx_sender *sender);
/* Opens the spool with the retry settings; EX_OK or EX_TEMPFAIL after a
 * message (a missing, full or read-only spool is a temporary failure). */
int delivery_open_queue(struct delivery_opts *o, mx_queue **out);
/* The same; with existing_only, for commands that only read or remove
 * (mx_queue_open_existing): a missing spool is an empty queue, and
 * nothing is created. */
int delivery_open_queue_as(struct delivery_opts *o, bool existing_only, mx_queue **out);

/* "mx CMD: --NAME MESSAGE" on the command line, "mx CMD: WHERE: NAME MESSAGE"
 * for a setting of the configuration file (where not NULL). */
void option_warn(const char *cmd, const char *where, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
