/*
 * server_verify.h - whether a recipient of a local domain has a mailbox,
 * asked of the LMTP mail store (server_verify.c) and kept in a small
 * cache, so that an unknown one is refused at RCPT instead of bounced.
 */
#ifndef MX_SERVER_VERIFY_H
#define MX_SERVER_VERIFY_H

#include "server_state.h"

/* no: NULL (take the recipient) or the refusal to send. */
typedef void (*verify_done_fn)(struct sconn *c, const char *addr, const char *no);

/*
 * true when the answer is known now (cached, or it cannot be asked: then
 * the recipient is taken and the store's reply after the message
 * decides), with *no as done's; false when done(c, addr, no) will run
 * from the event loop, unless server_verify_detach(c) ran first.
 */
bool server_verify(struct sconn *c, const char *addr, verify_done_fn done, const char **no);
/* The client left: a question under way no longer answers it. */
void server_verify_detach(struct sconn *c);

#endif
