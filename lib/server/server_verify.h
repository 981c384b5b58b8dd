/*
 * server_verify.h - the verdict on a recipient of a backup domain (see
 * server_verify.c): from the cache, from a probe of the domain's better
 * MX hosts, else from the backup recipients list.
 */
#ifndef MX_SERVER_VERIFY_H
#define MX_SERVER_VERIFY_H

#include "server_state.h"

/* no: NULL to take the recipient, else the reply (lives for the call). */
typedef void (*verify_verdict_fn)(struct sconn *c, const char *addr, const char *no);

/*
 * True with *no set when the verdict is known now; false when a probe
 * was started: done(c, addr, no) runs later from the loop, unless
 * verify_forget(c) ran first.
 */
bool verify_rcpt(struct sconn *c, const char *addr, const char **no, verify_verdict_fn done);
/* The connection goes: its probe is cancelled, done never called. */
void verify_forget(struct sconn *c);
void verify_defaults(mx_server *srv);
/* At the server's start: the policy, the cache and the own addresses. */
mx_err verify_setup(mx_server *srv);
void verify_clear(mx_server *srv);

#endif
