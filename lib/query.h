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
mx_err oneshot_start(mx_resolver *r, const char *name, uint16_t qtype,
    unsigned timeout_ms, oneshot_cb cb, void *arg, struct oneshot **out);
/* Withdraws an unanswered query: its callback will not run. */
void oneshot_cancel(struct oneshot *o);

#endif
