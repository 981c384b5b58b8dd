/*
 * check_live.h - a live `mx check`: gathering the facts through the
 * resolver and the probes, then judging them.  See check_live.c.
 */
#ifndef MX_CHECK_LIVE_H
#define MX_CHECK_LIVE_H

#include "check_facts.h"

/* Starts the run (c->live); it calls c->cb from the loop when done. */
mx_err check_live_start(mx_check *c, const char *domain, mx_why *why);
void check_live_cancel(struct check_live *l);
void check_live_free(struct check_live *l);

#endif
