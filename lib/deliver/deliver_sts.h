/*
 * deliver_sts.h - what an MTA-STS policy (RFC 8461) means for one delivery
 * and what delivery tells TLS-RPT (RFC 8460): which MX hosts may be used,
 * which TLS rule each gets, the 4.7.5 deferral, the -v notes and the
 * session records.  deliver.c calls these at its few hook points; they
 * never connect, never settle recipients and never call back into it.
 */
#ifndef MX_DELIVER_STS_H
#define MX_DELIVER_STS_H

#include <stdbool.h>

#include "sender.h"
#include "smtp_session.h"
#include "sts.h"
#include "tls.h"

/* Under enforce, only hosts matching the policy (DANE hosts excepted:
 * RFC 8461 2, DANE takes precedence). */
bool dsts_host_allowed(const struct sts_outcome *o, const char *host, bool dane);
/* Under enforce, a host without DANE gets PKIX verification (TLS_VERIFY:
 * the sender's CA file or the system store, the MX host name). */
enum tls_policy dsts_tls(const struct sts_outcome *o, enum tls_policy p);
/* Whether a session that ended so failed on TLS (no STARTTLS, handshake,
 * certificate): under enforce its deferral is 4.7.5. */
bool dsts_tls_failure(const struct smtp_session_result *res);

/* -v: the policy found and, per MX host, whether it matches. */
void dsts_say(const mx_sender *s, const char *domain, const struct sts_outcome *o,
    const char *const *hosts, const bool *dane, size_t n);
/* TLS-RPT: one finished session to host (ip) from local_ip (our end,
 * "" when unknown) under the TLS rule used. */
void dsts_record_session(const mx_sender *s, const char *domain, const struct sts_outcome *o,
    const char *host, const char *ip, const char *local_ip, enum tls_policy used,
    bool cleartext_retry, const struct smtp_session_result *res);
/* TLS-RPT: a host left out (enforce) or used although it does not match
 * (testing); a policy that could not be fetched. */
void dsts_record_unlisted(
    const mx_sender *s, const char *domain, const struct sts_outcome *o, const char *host);
void dsts_record_fetch(const mx_sender *s, const char *domain, const struct sts_outcome *o);

#endif
