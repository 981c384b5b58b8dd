/*
 * check_bulk.h - `mx check --bulk` (check_bulk.c), which check.c hands
 * its options to.
 */
#ifndef MX_SRC_CHECK_BULK_H
#define MX_SRC_CHECK_BULK_H

#include "check_opts.h"

/* `mx check --bulk`: a check of every line of path ("-": stdin). */
int cmd_check_bulk(struct check_opts *o, const char *path);

#endif
