/*
 * https_get.h - one HTTPS GET for an MTA-STS policy (RFC 8461 3.3), on the
 * caller's libevent base: the certificate verified against the host name,
 * no redirects, a capped body.  Used by `mx check` (check_live.c) and, for
 * enforcement, by delivery.
 *
 * Ownership: host, addr, path and ca_file are borrowed until
 * https_get_start returns; the struct frees itself after its callback.
 */
#ifndef MX_HTTPS_GET_H
#define MX_HTTPS_GET_H

#include <stddef.h>
#include <stdint.h>

#include "mx.h"
#include "plan.h"

struct event_base;

/* MTA-STS policy fetch (RFC 8461 3.3): GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt from addr,
 * certificate verified against host (ca_file or system store), no redirects, body capped at 64 KiB,
 * Content-Type text/plain.  Uses libevent's evhttp over bufferevent_openssl.
 * The callback runs once, from the loop: status is the HTTP status (0 when no response: error says
 * why); body (NUL-terminated, len bytes) is the response body for any status; error is non-NULL
 * when the fetch failed or the response breaks a rule (3xx, wrong Content-Type, body over the cap),
 * and then status may still be set.  The struct frees itself after the callback. */
#define HTTPS_GET_BODY_MAX 65536
struct https_get;
typedef void (*https_get_cb)(
    int status, const char *body, size_t len, const char *error, void *arg);
mx_err https_get_start(struct event_base *base, const char *host, const struct ip_addr *addr,
    uint16_t port, const char *path, const char *ca_file, unsigned timeout_ms, https_get_cb cb,
    void *arg, struct https_get **out);
/* The same as a POST of body (len octets, content_type; copied), for
 * TLS-RPT's https: rua (RFC 8460 5.4): no rule on the response's
 * Content-Type, its status says whether the report was taken. */
mx_err https_post_start(struct event_base *base, const char *host, const struct ip_addr *addr,
    uint16_t port, const char *path, const char *ca_file, unsigned timeout_ms,
    const char *content_type, const void *body, size_t len, https_get_cb cb, void *arg,
    struct https_get **out);
void https_get_cancel(struct https_get *g); /* the callback will not run; NULL is a no-op */

#endif
