/*
 * tlsrpt.h - `mx tlsrpt` (tlsrpt.c), for main.c to dispatch to.
 */
#ifndef MX_SRC_TLSRPT_H
#define MX_SRC_TLSRPT_H

int cmd_tlsrpt(int argc, char **argv);

#endif
