/*
 * queue.h - `mx queue` (queue.c), for main.c to dispatch to.
 */
#ifndef MX_SRC_QUEUE_H
#define MX_SRC_QUEUE_H

int cmd_queue(int argc, char **argv);

#endif
