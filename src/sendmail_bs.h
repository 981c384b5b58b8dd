/*
 * sendmail_bs.h - sendmail -bs (sendmail_bs.c): SMTP on standard input
 * and output.
 */
#ifndef MX_SENDMAIL_BS_H
#define MX_SENDMAIL_BS_H

#include "sendmail_opts.h"

/* -bs: SMTP on standard input and output; the exit code. */
int sendmail_bs(const struct sendmail_opts *o);

#endif
