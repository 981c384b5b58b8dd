/*
 * check_ticket.c - the questions a live `mx check` has outstanding: each
 * holds a ticket from its start to its end, so the run knows when a phase
 * is over (the last ticket to end calls l->on_idle, which check_live.c
 * sets) and what to cancel at the deadline.  Knows no phase and no kind
 * of question; the tickets live in struct check_live.
 */
#include <string.h>

#include "check_ticket.h"

struct ticket *
live_ticket_new(struct check_live *l, enum ticket_kind kind, size_t i, size_t j)
{
	for (size_t k = 0; k < LIVE_TICKETS_MAX; k++) {
		struct ticket *t = &l->tickets[k];
		if (t->kind != TICKET_FREE)
			continue;
		memset(t, 0, sizeof(*t));
		t->l = l;
		t->kind = kind;
		t->i = i;
		t->j = j;
		l->pending++;
		return t;
	}
	l->out_of_tickets = true;
	return NULL;
}

void
live_ticket_done(struct ticket *t)
{
	struct check_live *l = t->l;

	t->kind = TICKET_FREE;
	t->handle = NULL;
	if (--l->pending == 0 && !l->finishing)
		l->on_idle(l);
}
