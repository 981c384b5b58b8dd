/*
 * tlsrpt_post.h - a TLS-RPT report to the https: addresses of a domain's
 * rua (RFC 8460 5.4: POST, Content-Type application/tlsrpt+gzip), one
 * after the other on the resolver's loop (tlsrpt_post.c).  The mailto:
 * addresses are the queue's (tlsrpt_send.c).
 */
#ifndef MX_TLSRPT_POST_H
#define MX_TLSRPT_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"

#define TLSRPT_URI_PATH_MAX 1024

/* Pure: "https://HOST[:PORT][/PATH]" read strictly (a host name, a port
 * of 1 to 65535, a path of visible octets; "/" when none). */
bool tlsrpt_https_uri(
    const char *uri, char host[MX_DOMAIN_MAX + 1], uint16_t *port, char path[TLSRPT_URI_PATH_MAX]);

struct tlsrpt_post;
/* posted: how many took the report (a 2xx status); failed: how many did
 * not, why the last of them (borrowed for the call). */
typedef void (*tlsrpt_post_fn)(unsigned posted, unsigned failed, const char *why, void *arg);

/*
 * Posts gz (len octets, copied) to every https: URI among uris (the
 * others are skipped), verifying each server's certificate for its host
 * name against ca_file (NULL: the system's store).  done runs once, from
 * the loop, never from inside this call; the post frees itself after it.
 * *out is NULL and nothing runs when no URI is an https: one.
 */
mx_err tlsrpt_post_start(mx_resolver *r, const char *ca_file, const char *const *uris, size_t n,
    const unsigned char *gz, size_t len, tlsrpt_post_fn done, void *arg, struct tlsrpt_post **out);
/* Ends it early; done will not run.  NULL is a no-op. */
void tlsrpt_post_cancel(struct tlsrpt_post *p);

#endif
