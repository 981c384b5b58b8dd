/*
 * verify_probe.h - one question to a domain's better MX hosts, on the
 * resolver's event loop: the domain's plan (pruned of this host by name
 * through the policy's local names, RFC 5321 5.1, and here by address),
 * a connection to the best reachable host, then either RCPT TO for one
 * address in a session that ends before DATA (address verification) or
 * just the greeting and EHLO (a reachability probe).  It never writes
 * anything and never decides what a server does with the answer.
 */
#ifndef MX_VERIFY_PROBE_H
#define MX_VERIFY_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mx.h"

#define VERIFY_TEXT_MAX 512
#define VERIFY_SELF_MAX 16 /* own addresses a probe skips */

enum verify_answer {
	VERIFY_UNKNOWN = 0, /* no better host answered, or it said 4xx */
	VERIFY_ACCEPTED,    /* 2xx to RCPT; for a reachability probe: EHLO answered */
	VERIFY_REFUSED,     /* 5xx to RCPT */
};

struct verify_result {
	enum verify_answer answer;
	unsigned code;                /* the RCPT reply's code; 0 when none */
	char host[MX_DOMAIN_MAX + 1]; /* the better host that answered; "" */
	char text[VERIFY_TEXT_MAX];   /* its reply, or why no host answered */
};

/* Borrowed for the call only: the probe copies what it keeps. */
struct verify_probe_opts {
	mx_resolver *resolver;
	const mx_policy *policy; /* with this host's name among the local names */
	const char *helo;
	/* This host's addresses (listening ones): an MX host with one of them
	 * is this host, and it and every host not better are skipped. */
	const struct sockaddr_storage *self;
	size_t n_self;
	uint16_t port;        /* 25 */
	unsigned deadline_ms; /* the whole probe, DNS included */
};

typedef void (*verify_cb)(const struct verify_result *result, void *arg);
struct verify_probe;

/*
 * Starts a probe of domain's better hosts: rcpt NULL for reachability.
 * cb runs once from the loop, never from inside this call, unless
 * verify_probe_cancel ran first.  A probe still running when the
 * resolver is freed is freed with it, calling back no one.
 */
mx_err verify_probe_start(const struct verify_probe_opts *opts, const char *domain,
    const char *rcpt, verify_cb cb, void *arg, struct verify_probe **out);
/* No callback afterwards; what the probe holds is released (now, or when
 * its DNS lookup ends).  NULL is a no-op. */
void verify_probe_cancel(struct verify_probe *probe);

const char *verify_answer_name(enum verify_answer answer);
/* The policy a probe's plans are made with: hostname among the local
 * names (a name that is no host name, "localhost", prunes nothing). */
mx_err verify_policy_new(const char *hostname, mx_policy **out);
void verify_policy_free(mx_policy *policy);

#endif
