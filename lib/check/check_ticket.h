/*
 * check_ticket.h - the questions a live `mx check` has outstanding.
 * See check_ticket.c.
 */
#ifndef MX_CHECK_TICKET_H
#define MX_CHECK_TICKET_H

#include "check_state.h"

/* A new outstanding question (NULL when too many), and its end: the last
 * one to end starts the next phase (l->on_idle). */
struct ticket *live_ticket_new(struct check_live *l, enum ticket_kind kind, size_t i, size_t j);
void live_ticket_done(struct ticket *t);

#endif
