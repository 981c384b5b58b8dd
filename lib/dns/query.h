/*
 * query.h - one question to the resolver outside a routing plan (TLSA
 * records for DANE, later PTR and TXT for checks), answered once through
 * a callback with the parsed answer and its DNSSEC status.
 */
#ifndef MX_QUERY_H
#define MX_QUERY_H

#include "resolver.h"

struct oneshot;

/* The answer is borrowed for the call; the query is freed after it. */
typedef void (*oneshot_cb)(const struct answer *answer, void *arg);

/* name is a host name without trailing dot; cancel with oneshot_cancel. */
mx_err oneshot_start(mx_resolver *r, const char *name, uint16_t qtype, unsigned timeout_ms,
    oneshot_cb cb, void *arg, struct oneshot **out);
/* Withdraws an unanswered query: its callback will not run. */
void oneshot_cancel(struct oneshot *o);

/*
 * The raw form, for records answer.c does not read (TXT, PTR, NS, SOA):
 * the reply's wire bytes, its rcode (-1 when none came: why says what
 * happened) and its DNSSEC status (SEC_BOGUS: wire is NULL, why is the
 * validator's reason).  Needs the unbound transport (MX_ERR_INVALID with
 * the stub).  The callback runs from the event loop, never from inside
 * rawquery_start; wire is borrowed for the call.
 */
struct rawquery;
typedef void (*rawquery_cb)(
    const uint8_t *wire, size_t len, int rcode, answer_security sec, const char *why, void *arg);
mx_err rawquery_start(mx_resolver *r, const char *name, uint16_t qtype, unsigned timeout_ms,
    rawquery_cb cb, void *arg, struct rawquery **out);
void rawquery_cancel(struct rawquery *q);

#endif
