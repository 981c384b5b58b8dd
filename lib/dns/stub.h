/*
 * stub.h - the c-ares stub transport with its shared address cache, used
 * by resolver.c when a resolver is set to MX_TRANSPORT_STUB.
 */
#ifndef MX_STUB_H
#define MX_STUB_H

#include "resolver.h"

struct stub;

struct stub_config {
	char *const *servers;      /* "IP" or "IP@PORT"; none: resolv.conf */
	size_t n_servers;
	const char *resolv_conf;   /* NULL: /etc/resolv.conf */
	unsigned query_timeout_ms; /* first try; c-ares backs off from it */
	unsigned tries;
	size_t cache_entries;
};

mx_err stub_new(struct stub **out, mx_resolver *r, struct event_base *base,
    const struct stub_config *cfg);
void stub_free(struct stub *s);
/* Answers come back through resolver_answered(), never from inside. */
void stub_send(struct stub *s, struct query *q);
void stub_cancel(struct stub *s, struct query *q);
void stub_stats(const struct stub *s, struct mx_resolver_stats *out);

#endif
