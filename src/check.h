/*
 * check.h - `mx check` (check.c), for main.c to dispatch to.
 */
#ifndef MX_SRC_CHECK_H
#define MX_SRC_CHECK_H

int cmd_check(int argc, char **argv);

#endif
