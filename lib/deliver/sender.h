/*
 * sender.h - the insides of mx_sender: how to deliver (resolver and
 * policy, HELO name, TLS policy and client, connection timing, stage
 * timeouts, the deadline).  sender.c sets them through the public
 * setters; deliver.c reads them.
 */
#ifndef MX_SENDER_H
#define MX_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "connect.h"
#include "lmtp_target.h"
#include "mx.h"
#include "smtp_session.h"
#include "tls.h"

#define SMTP_PORT 25

struct conncache;

struct mx_sender {
	mx_resolver *resolver;
	mx_policy *policy; /* a copy */
	char helo[MX_DOMAIN_MAX + 1];
	mx_tls_policy tls;
	char *ca_file;                 /* NULL: the system's store */
	struct tls_client *tls_client; /* made on the first STARTTLS */
	bool tls_failed;
	struct connect_opts connect;
	struct smtp_timeouts timeouts;
	uint16_t port;
	unsigned deadline_ms; /* whole delivery; 0: none */
	mx_transcript_fn transcript;
	void *transcript_arg;
	/* MTA-STS and TLS-RPT (mx_sender_set_sts): the policy cache and the
	 * session store live here; NULL: policies fetched every time, no reports. */
	char *sts_dir;
	bool sts_off; /* mx_sender_set_sts(s, false, ...) */
	/* Connections kept between messages (the daemon's); NULL: none, every
	 * session says QUIT.  Borrowed. */
	struct conncache *cache;
	/* Final delivery (mx_sender_set_lmtp): recipients of these domains go
	 * to the LMTP server instead of their MX hosts.  NULL: none. */
	struct lmtp_target *lmtp;
	char (*local)[MX_DOMAIN_MAX + 1];
	size_t n_local;
};

/* The sender's TLS client, made on first use; NULL if it cannot be. */
struct tls_client *sender_tls_client(void *sender);

/* Whether mail for domain goes to the LMTP server (sender->lmtp). */
bool sender_local(const mx_sender *sender, const char *domain);

/* Sessions are kept in cache after their transaction (NULL: never). */
void sender_set_cache(mx_sender *sender, struct conncache *cache);

#endif
