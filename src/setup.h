/*
 * setup.h - `mx setup` (setup.c), for main.c to dispatch to.
 */
#ifndef MX_SRC_SETUP_H
#define MX_SRC_SETUP_H

int cmd_setup(int argc, char **argv);

#endif
