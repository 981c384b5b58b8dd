/*
 * server_mailbox.h - whether a recipient of a local domain has a mailbox,
 * asked of the LMTP mail store (server_mailbox.c) and kept in a small
 * cache, so that an unknown one is refused at RCPT instead of bounced.
 */
#ifndef MX_SERVER_MAILBOX_H
#define MX_SERVER_MAILBOX_H

#include "server_state.h"

/* no: NULL (take the recipient) or the refusal to send. */
typedef void (*mailbox_done_fn)(struct sconn *c, const char *addr, const char *no);

/*
 * true when the answer is known now (cached, or it cannot be asked: then
 * the recipient is taken and the store's reply after the message
 * decides), with *no as done's; false when done(c, addr, no) will run
 * from the event loop, unless mailbox_forget(c) ran first.
 */
bool mailbox_check(struct sconn *c, const char *addr, mailbox_done_fn done, const char **no);
/* The client left: a question under way no longer answers it. */
void mailbox_forget(struct sconn *c);

#endif
