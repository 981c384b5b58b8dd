/*
 * sendmail_msg.h - what sendmail's modes share (sendmail_msg.c): reading
 * the message with its address fields qualified, and saying what went
 * wrong.
 */
#ifndef MX_SENDMAIL_MSG_H
#define MX_SENDMAIL_MSG_H

#include "sendmail_opts.h"

/* Reads a message from fd, its address fields qualified with origin
 * (rewrite_header), as mx_message_read; the exit code and a message on
 * stderr when it fails. */
int sendmail_read_message(const struct sendmail_opts *o, int fd, unsigned flags, mx_message **out);

/* Says what went wrong on stderr, unless -oeq asked for quiet. */
void sendmail_warn(const struct sendmail_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
