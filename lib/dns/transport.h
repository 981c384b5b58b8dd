/*
 * transport.h - what the resolver (resolver.c) and a transport that
 * answers its queries (the c-ares stub, stub.c) share: struct query as it
 * travels, and the callback a transport hands a finished query back
 * through.  Types only.  Here rather than in resolver.h so that the stub
 * needs nothing of the resolver's: the resolver calls the stub, the stub
 * calls back only through the function it was given (stub_new).
 */
#ifndef MX_TRANSPORT_H
#define MX_TRANSPORT_H

#include <sys/queue.h>

#include <stddef.h>
#include <string.h>

#include "answer.h"

struct query;
typedef void (*query_done_fn)(struct query *q);

struct query {
	TAILQ_ENTRY(query) link; /* waiting or completed list */
	uint16_t qtype;
	mx_resolver *resolver;
	query_done_fn done; /* called once with q->answer filled */
	void *owner;
	size_t host;   /* for address queries: the host index */
	int async_id;  /* libunbound's id while on the wire */
	void *backend; /* the stub transport's ticket or cache entry */
	enum { Q_IDLE, Q_WAITING, Q_ON_WIRE, Q_COMPLETED, Q_DONE } state;
	struct answer answer; /* owned; answer_clear when done with it */
	/*
	 * The name asked (a host name, never an escaped bad one; the
	 * trailing dot optional), in the owner's storage, which outlives
	 * the query: a lookup's plan holds its domain and hosts.  Inline,
	 * it made a query 448 bytes and a lookup with its five queries too
	 * big to stay in the cache with a thousand in flight.
	 */
	const char *name;
};

TAILQ_HEAD(query_list, query);

/* Zeroed, with no name. */
static inline void
query_clear(struct query *q)
{
	memset(q, 0, sizeof(*q));
	q->name = "";
}

/* A transport's answer for q is in q->answer: the resolver takes it back
 * (arg is what the resolver gave the transport with this function). */
typedef void (*transport_answered_fn)(void *arg, struct query *q);

#endif
