/*
 * tls.h - client-side TLS for SMTP STARTTLS (RFC 3207) under four
 * policies modelled on Postfix's smtp_tls_security_level, DANE as RFC
 * 7672 has it.  This module configures OpenSSL objects and judges a
 * finished handshake; it never touches a socket, never runs the event
 * loop and never speaks SMTP: the session code wraps the SSL object with
 * libevent (see the end of this file) and decides what a verdict means.
 *
 * Ownership: a tls_client (one SSL_CTX) is shared by every connection of
 * a thread.  tls_session_new hands out an SSL that the caller owns: it
 * gives it to bufferevent_openssl_*_new with BEV_OPT_CLOSE_ON_FREE (which
 * SSL_frees it) or frees it with SSL_free.  An SSL keeps its SSL_CTX
 * alive, so tls_client_free may come before the last SSL_free.  TLSA
 * records and names are borrowed for the call only (OpenSSL copies them).
 * Strings in struct tls_facts are OpenSSL's static strings or arrays in
 * the struct: they stay valid after SSL_free, and the struct may be copied.
 *
 * Threads: OpenSSL 3 objects; one tls_client and its sessions per thread.
 */
#ifndef MX_TLS_H
#define MX_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"

typedef struct ssl_st SSL;   /* the same typedef as <openssl/types.h> */
typedef struct x509_st X509; /* likewise */
struct tls_client;

enum tls_policy {
	TLS_MAY = 0, /* opportunistic (RFC 3207): TLS if offered, any certificate;
	              * whether it would have verified is recorded, for logs */
	TLS_ENCRYPT, /* TLS required, any certificate (Postfix "encrypt") */
	TLS_VERIFY,  /* TLS required; chain to the CA file or system store and the
	              * MX host name in the certificate (tests, later MTA-STS) */
	TLS_DANE,    /* TLS required; authenticated by the caller's TLSA records,
	              * which must come from DNSSEC-secure answers (RFC 7672) */
};

/* One TLSA record (RFC 6698 2.1); data is borrowed. */
struct tls_tlsa {
	uint8_t usage, selector, mtype;
	const uint8_t *data;
	size_t len;
};

/* Peer subject and issuer, OpenSSL's one-line form, truncated to fit. */
#define TLS_NAME_MAX 256

/* What a handshake gave, for the log line.  Filled even when it failed. */
struct tls_facts {
	const char *protocol; /* "TLSv1.3"; "" without a finished handshake */
	const char *cipher;   /* "TLS_AES_256_GCM_SHA384"; "" likewise */
	int cipher_bits;
	char subject[TLS_NAME_MAX]; /* printable ASCII (others escaped); "" if no certificate */
	char issuer[TLS_NAME_MAX];
	bool verified;            /* the chain verified and the name matched (verify),
	                           * or a TLSA record matched (dane); for may and
	                           * encrypt: whether it would have, with the name */
	const char *verify_error; /* OpenSSL's reason when !verified, else "" */
	int dane_depth;           /* chain depth a TLSA record matched (for a bare
	                           * DANE-TA key: of the certificate it signed); -1: none */
	int dane_usage, dane_selector, dane_mtype; /* that record's; -1: none */
};

/*
 * A client context: TLS 1.2 at least; trust anchors from ca_file (PEM,
 * one or more CA certificates) or, when ca_file is NULL, OpenSSL's system
 * default store.  Only TLS_VERIFY needs the anchors to succeed; may and
 * encrypt use them for facts.verified, DANE never does.  MX_ERR_CONFIG
 * when ca_file cannot be read or holds no certificate.
 */
mx_err tls_client_new(struct tls_client **out, const char *ca_file);
void tls_client_free(struct tls_client *client);

/*
 * A connection's SSL in client mode, ready for the handshake: SNI and the
 * reference name are host (the MX host name; one trailing dot dropped),
 * certificate checks as the policy says.  For TLS_DANE, records with
 * usage DANE-TA(2) or DANE-EE(3) are used; PKIX-TA(0) and PKIX-EE(1) are
 * unusable for SMTP (RFC 7672 3.1.3), as are unknown selectors or
 * matching types and malformed data.  DANE-EE matches ignore names and
 * dates (RFC 7672 3.1.1); DANE-TA chains must carry host.  tlsa is
 * ignored by the other policies.
 *
 * Errors (*out is NULL, *why says what, why may be NULL):
 *   MX_ERR_INVALID  a bad argument: host empty or over MX_DOMAIN_MAX, an
 *                   unknown policy, tlsa NULL with n_tlsa > 0 (usage)
 *   MX_ERR_SYSTEM   TLS_DANE and no usable record: nothing can authenticate
 *                   the server, so the host is a temporary failure (try the
 *                   next MX, then defer).  Postfix instead falls back to
 *                   "encrypt" here; a caller that wants that checks
 *                   tls_tlsa_usable() first and asks for TLS_ENCRYPT.
 *                   Also: OpenSSL refused to set the connection up.
 *   MX_ERR_NOMEM    out of memory (temporary)
 */
mx_err tls_session_new(struct tls_client *client, const char *host, enum tls_policy policy,
    const struct tls_tlsa *tlsa, size_t n_tlsa, SSL **out, const char **why);

/*
 * The verdict on a handshake under the policy it was set up with: true
 * when the session may carry mail.  Call it once the handshake ended,
 * successfully or not (after BEV_EVENT_CONNECTED, and also after
 * BEV_EVENT_ERROR during the handshake, to learn why).  facts (may be
 * NULL) is filled either way; *why (may be NULL) is set when false and
 * points to a static string.
 *
 * verify and dane fail the handshake itself on a bad certificate (the
 * server gets an alert), so a false here mostly explains an error event;
 * may and encrypt accept any certificate.  Every false is temporary for
 * mail: try the next MX host, then defer (Postfix answers 4.7.5).  Under
 * TLS_MAY a failed handshake may instead be retried in cleartext on a
 * new connection, as Postfix does.
 */
bool tls_session_check(SSL *ssl, enum tls_policy policy, struct tls_facts *facts, const char **why);

/* How many of the records tls_session_new would use (see above); pure. */
size_t tls_tlsa_usable(const struct tls_tlsa *tlsa, size_t n_tlsa);

/* "may", "encrypt", "verify", "dane"; "unknown" otherwise. */
const char *tls_policy_name(enum tls_policy policy);

/* TLS_MAY is the only policy that lets mail go in cleartext. */
bool tls_policy_required(enum tls_policy policy);
/*
 * The certificate the server presented, also after a failed check:
 * OpenSSL keeps the peer certificate only once it passed, the chain as
 * sent before that.  Borrowed from ssl; NULL when none came.
 */
X509 *tls_peer_leaf(SSL *ssl);

/*
 * For the SMTP session.  After "220" to STARTTLS:
 *  1. Discard everything already read and not yet parsed: bytes after the
 *     220 line came before TLS and must not be taken as coming from the
 *     TLS peer (RFC 3207 4.2, CVE-2011-0411): evbuffer_drain() the whole
 *     input buffer.  Forget the EHLO answer too (RFC 3207 4.2): EHLO again.
 *  2. Wrap, either way:
 *       bev = bufferevent_openssl_filter_new(base, plain_bev, ssl,
 *           BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
 *     (the filter frees plain_bev and ssl with itself), or free plain_bev
 *     without closing fd and
 *       bev = bufferevent_openssl_socket_new(base, fd, ssl,
 *           BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
 *     NULL means out of memory; libevent releases differ on whether the
 *     SSL was freed then, so leave it alone (a leak beats a double free).
 *     bufferevent_openssl_set_allow_dirty_shutdown(bev, 1) spares an
 *     error event when a server closes after 221 without close_notify.
 *  3. Set a timeout (bufferevent_set_timeouts) for the handshake; the
 *     event callback gets BEV_EVENT_CONNECTED or BEV_EVENT_ERROR (or
 *     BEV_EVENT_EOF, BEV_EVENT_TIMEOUT); call tls_session_check on
 *     bufferevent_openssl_get_ssl(bev) in both of the first two, before
 *     freeing bev.  Only after true send EHLO.
 *  4. bufferevent_free finishes (SSL_free, close) from the event loop or
 *     in event_base_free, not at once.
 * A server that does not offer STARTTLS: TLS_MAY goes on in cleartext;
 * every other policy fails the host (temporary: the next MX, then defer).
 */

/* tls_client_new's failure for ca_file, in words, into why. */
mx_err tls_client_why(mx_err err, const char *ca_file, mx_why *why);

#endif
