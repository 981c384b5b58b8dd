/*
 * route.h - `mx route` (route.c), for main.c to dispatch to.
 */
#ifndef MX_SRC_ROUTE_H
#define MX_SRC_ROUTE_H

int cmd_route(int argc, char **argv);

#endif
