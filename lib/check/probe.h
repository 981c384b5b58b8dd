/*
 * probe.h - what an MX address says when a mail checker knocks: TCP
 * connect, greeting, EHLO, STARTTLS, the TLS handshake and certificate (with
 * DANE matching when TLSA records are given), then QUIT.  Never sends mail.
 * Runs on the caller's libevent base with bounded concurrency.
 *
 * Ownership: targets (and the TLSA data they point to) are borrowed until
 * the callback runs or the probe is cancelled; the probe frees itself after
 * its callback returns.  The callback never runs from inside probe_start.
 */
#ifndef MX_PROBE_H
#define MX_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mx.h"
#include "plan.h"
#include "tls.h"

struct event_base;

struct probe_target {
	char host[NAME_TEXT_MAX];    /* MX host name: SNI, certificate name check, DANE */
	struct ip_addr addr;         /* base/ipaddr.h */
	uint16_t port;               /* 25 */
	const struct tls_tlsa *tlsa; /* borrowed until the callback; n_tlsa 0: no DANE check */
	size_t n_tlsa;
};
enum probe_connect { PROBE_CONNECTED, PROBE_REFUSED, PROBE_TIMEOUT, PROBE_UNREACHABLE };
/*
 * One target's answers.  The TLS fields mean something only when tls_tried.
 * The handshake runs under TLS_MAY so that a bad certificate is still seen;
 * OpenSSL's verification against ca_file (or the system store) and the host
 * name is kept going past the first fault, and each fault sets its flag:
 * cert_expired (expired or not yet valid), cert_name_mismatch (host not in
 * the certificate), cert_untrusted (any other chain fault: no path to a
 * trusted CA, self-signed, bad signature, wrong purpose).  tls.verified is
 * true only without any of them.  dane_checked: the target had TLSA records
 * usable for SMTP (tls_tlsa_usable) and a second connection reached the end
 * of a handshake under TLS_DANE; dane_match says whether it authenticated.
 */
struct probe_result {
	enum probe_connect connect;
	int connect_errno;
	unsigned connect_ms;
	int banner_code;  /* 0 when no greeting (timeout, closed) */
	char banner[512]; /* the greeting's first line, printable */
	bool ehlo_ok, starttls_offered;
	bool tls_tried, tls_ok; /* handshake attempted / completed */
	char tls_error[256];    /* why the handshake failed */
	struct tls_facts
	    tls; /* from lib/tls.h: protocol, subject, issuer, verified, verify_error */
	bool cert_expired, cert_untrusted, cert_name_mismatch;
	bool dane_checked, dane_match;
	char not_after[32];       /* certificate expiry, ISO 8601 UTC */
	long long not_after_unix; /* the same in seconds since 1970 (UTC); 0 unknown */
	/* additions */
	char error[256];    /* what ended the session early ("" when it ran to QUIT):
	                                  "greeting timed out", "connection closed", ... */
	unsigned banner_ms; /* from connected to the greeting's end */
	int ehlo_code;      /* 0 when EHLO was not answered */
	bool helo_ok;       /* EHLO refused (5xx), HELO accepted: a server
	                                  without ESMTP, so without STARTTLS */
};
struct probe_config {
	unsigned connect_timeout_ms, reply_timeout_ms, tls_timeout_ms;
	unsigned max_parallel; /* connections at once */
	const char *ca_file;   /* NULL: system store */
	const char *helo;      /* EHLO name */
};
struct probe;
/* results[i] answers targets[i]; both arrays are valid only during the call. */
typedef void (*probe_cb)(
    const struct probe_target *targets, const struct probe_result *results, size_t n, void *arg);
/* 0 timeouts mean 10000 (connect), 30000 (each reply), 10000 (TLS handshake);
 * max_parallel 0 means 8, at most CONNECT_MAX_PARALLEL (64); helo NULL means
 * "localhost".  Each target gets one connection, and a second one for DANE
 * when it has usable TLSA records and the first handshake finished.  n 0 is
 * fine (the callback still runs, from the loop).  The TLS client (trust store)
 * is loaded here.  MX_ERR_CONFIG: ca_file unreadable or without certificates;
 * MX_ERR_INVALID: bad arguments (a helo with spaces); MX_ERR_NOMEM. */
mx_err probe_start(struct event_base *base, const struct probe_config *cfg,
    const struct probe_target *targets, size_t n, probe_cb cb, void *arg, struct probe **out);
/* The callback will not run; NULL is a no-op.  Not from inside the callback
 * (the probe frees itself right after it). */
void probe_cancel(struct probe *p);

const char *probe_connect_name(enum probe_connect c); /* "connected", "refused", ... */

#endif
