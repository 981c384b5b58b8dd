/*
 * check_zone.h - `mx check --zone`: the rules over a zone file by path,
 * or an open stream.  See check_zone.c.
 */
#ifndef MX_CHECK_ZONE_H
#define MX_CHECK_ZONE_H

#include <stdio.h>

#include "check_facts.h"

/* A zone file by path, or an open stream (seekable: it is read twice;
 * the fuzzer gives an fmemopen one). */
mx_err
check_zone_run(mx_check *c, const char *path, const char *origin, char *why, size_t why_size);
mx_err check_zone_fp(mx_check *c, FILE *fp, const char *origin, char *why, size_t why_size);

#endif
