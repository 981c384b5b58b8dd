/*
 * stub.h - the c-ares stub transport with its shared address cache, used
 * by resolver.c when a resolver is set to MX_TRANSPORT_STUB.  It knows
 * nothing of the resolver: answers go back through the function given to
 * stub_new.
 */
#ifndef MX_STUB_H
#define MX_STUB_H

#include "transport.h"

struct stub;

struct stub_config {
	char *const *servers; /* "IP" or "IP@PORT"; none: resolv.conf */
	size_t n_servers;
	const char *resolv_conf;   /* NULL: /etc/resolv.conf */
	unsigned query_timeout_ms; /* first try; c-ares backs off from it */
	unsigned tries;
	size_t cache_entries;
	/* The resolvers asked, as text for messages about transport failures
	 * (resolver_servers_text's); copied, cut below 160 bytes. */
	const char *servers_text;
};

/* Every query sent comes back once through answered(arg, q), from the
 * event loop, never from inside stub_send; a cancelled one never does. */
mx_err stub_new(struct stub **out, struct event_base *base, const struct stub_config *cfg,
    transport_answered_fn answered, void *arg);
void stub_free(struct stub *s);
void stub_send(struct stub *s, struct query *q);
void stub_cancel(struct stub *s, struct query *q);
void stub_stats(const struct stub *s, struct mx_resolver_stats *out);

#endif
