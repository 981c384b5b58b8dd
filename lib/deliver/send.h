/*
 * send.h - what send.c shares inside the library: a message read for
 * sending (the public mx_message) and its envelope made ready for the
 * wire, so that the queue stores exactly what mx_send_message would send.
 */
#ifndef MX_SEND_H
#define MX_SEND_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "message.h"
#include "payload.h"

struct mx_message {
	struct message *m;
	char (*rcpts)[ADDRESS_PATH_MAX + 1]; /* -t: the headers' recipients */
	size_t n_rcpts;
};

/* A checked envelope: bare paths, one per mailbox, in the order given. */
struct envelope {
	char from[ADDRESS_PATH_MAX + 1]; /* "" for the null sender */
	char (*paths)[ADDRESS_PATH_MAX + 1];
	const char **rcpts; /* n pointers into paths */
	size_t n;
	bool smtputf8; /* an address needs SMTPUTF8 */
};

/* MX_ERR_BAD_ADDRESS for an address that is not one, with why naming it;
 * free with envelope_free. */
mx_err envelope_prepare(
    const char *mail_from, const char *const *rcpts, size_t n, struct envelope *out, mx_why *why);
void envelope_free(struct envelope *env);

/* A view of m's payload (nothing copied, nothing owned: it lives as long
 * as m) for deliver_start and the spool, which copy what they keep. */
void message_payload(const struct message *m, struct payload *out);

#endif
