/*
 * check_judge.h - what a live `mx check` gathered, turned into findings.
 * See check_judge.c.
 */
#ifndef MX_CHECK_JUDGE_H
#define MX_CHECK_JUDGE_H

#include "check_state.h"

void check_live_judge(struct check_live *l);

#endif
