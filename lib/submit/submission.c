/*
 * submission.c - mx_message_drop, the public face of local submission:
 * a message read by mx_message_read and its envelope made into a drop
 * request (drop.h) and handed to mx-drop through drop_submit.  Checks
 * the request before the helper runs, so that a field that cannot be
 * written is the caller's error and never half a request.  Owns nothing
 * past the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "drop.h"
#include "send.h"
#include "why.h"

static void
fill_request(const mx_drop_envelope *e, char **rcpts, struct drop_request *r)
{
	for (size_t i = 0; i < e->rcpt_count; i++)
		rcpts[i] = (char *)e->rcpts[i];
	/* The request only reads these: drop_submit never frees or writes them. */
	r->sender = (char *)e->sender;
	r->sender_set = e->sender_set;
	r->name = (char *)e->full_name;
	r->rcpt = rcpts;
	r->rcpt_n = e->rcpt_count;
	r->error_mode = e->error_mode;
	r->ret = e->ret == 'f' ? DROP_RET_FULL : e->ret == 'h' ? DROP_RET_HDRS : DROP_RET_NONE;
	r->envid = (char *)e->envid;
	r->notify = (char *)e->notify;
	r->body = e->body == '7' ? DROP_BODY_7BIT
	    : e->body == '8'     ? DROP_BODY_8BITMIME
				 : DROP_BODY_NONE;
}

int
mx_message_drop(const mx_message *message, const mx_drop_envelope *envelope,
    const char *helper_path, mx_why *why)
{
	struct drop_request r = { 0 };
	mx_why scratch;
	struct payload p;
	char **rcpts, *head = NULL;
	size_t head_len;
	int rc = EX_DATAERR;

	if (why == NULL)
		why = &scratch;
	why_clear(why);
	if (message == NULL || envelope == NULL || helper_path == NULL ||
	    envelope->rcpt_count == 0 || envelope->rcpt_count > DROP_RCPT_MAX) {
		snprintf(why->text, sizeof(why->text), "between 1 and %d recipients are needed",
		    DROP_RCPT_MAX);
		return EX_DATAERR;
	}
	if ((rcpts = calloc(envelope->rcpt_count, sizeof(*rcpts))) == NULL) {
		snprintf(why->text, sizeof(why->text), "out of memory");
		return EX_TEMPFAIL;
	}
	fill_request(envelope, rcpts, &r);
	message_payload(message->m, &p);
	if (drop_header_format(
		&r, payload_len(&p), &head, &head_len, why->text, sizeof(why->text)) == MX_OK)
		rc = drop_submit(&r, &p, helper_path, why->text, sizeof(why->text));
	free(head);
	free(rcpts);
	return rc;
}
