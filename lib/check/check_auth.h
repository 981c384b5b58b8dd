/*
 * check_auth.h - asking one authoritative server for a name's MX RRset,
 * recursion off, without blocking (c-ares on the caller's libevent base).
 * See check_auth.c.
 */
#ifndef MX_CHECK_AUTH_H
#define MX_CHECK_AUTH_H

#include "check_dns.h"

struct event_base;
struct auth_query;

/* out (borrowed until then) is filled; runs from the loop, never inside auth_ask_mx. */
typedef void (*auth_cb)(struct dns_auth_mx *out, void *arg);

/* out->server and out->ns_name are the caller's; the rest is filled. */
mx_err auth_ask_mx(struct event_base *base, const struct ip_addr *server, uint16_t port,
    const char *domain, unsigned timeout_ms, struct dns_auth_mx *out, auth_cb cb, void *arg,
    struct auth_query **handle);
/* The callback will not run; NULL is a no-op. */
void auth_cancel(struct auth_query *q);

#endif
