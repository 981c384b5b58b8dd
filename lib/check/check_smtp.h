/*
 * check_smtp.h - the mail-service part of a live `mx check`: the probes
 * of every MX address and their verdicts.  See check_smtp.c.
 */
#ifndef MX_CHECK_SMTP_H
#define MX_CHECK_SMTP_H

#include "check_state.h"

void check_smtp_start(struct check_live *l);
void check_smtp_judge(struct check_live *l);

#endif
