/*
 * conncache.h - SMTP connections kept open between messages, as Postfix's
 * connection cache (scache) does: a session that finished a transaction
 * in step is parked under its destination (the recipients' domain), and
 * the next delivery to that destination takes it instead of connecting.
 * Bounded by idle time, total reuse time, reuse count and size.  It owns
 * the parked sessions (QUIT when they expire or the cache is freed); it
 * never connects and never decides where mail goes.
 */
#ifndef MX_CONNCACHE_H
#define MX_CONNCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "mx.h"
#include "plan.h"

struct event_base;
struct smtp_session;
struct conncache;

#define CONNCACHE_MAX 1000 /* parked sessions at most */

/* Postfix: smtp_connection_cache_time_limit 2 s, smtp_connection_reuse_time_limit
 * 300 s, smtp_connection_reuse_count_limit 0 (no limit). */
struct conncache_limits {
	unsigned idle_ms;     /* a parked session is closed after this */
	unsigned reuse_ms;    /* no reuse once the connection is this old */
	unsigned reuse_count; /* transactions per connection; 0: no limit */
	size_t max;           /* parked sessions; <= CONNCACHE_MAX */
};
void conncache_limits_default(struct conncache_limits *l);

/* Where a parked session goes (copied when parked). */
struct conncache_peer {
	char host[NAME_TEXT_MAX]; /* the MX host name */
	char address[46];         /* its address, as text */
	char local[46];           /* our end of it, as text ("" unknown) */
	unsigned transactions;    /* done on it so far */
	double opened;            /* CLOCK_MONOTONIC seconds when it connected */
};

struct conncache_stats {
	unsigned long parked, reused, expired, dropped;
	size_t idle; /* parked right now */
};

mx_err conncache_new(
    struct event_base *base, const struct conncache_limits *limits, struct conncache **out);
/* Closes every parked session (conncache_flush first for a polite QUIT);
 * the sessions are freed at the event loop's next turn.  NULL: a no-op. */
void conncache_free(struct conncache *c);
void conncache_set_limits(struct conncache *c, const struct conncache_limits *limits);

/*
 * Parks s (from inside its done callback, result.reusable) under key;
 * false (s untouched: the caller lets it QUIT) when a limit says no.
 */
bool conncache_put(struct conncache *c, const char *key, struct smtp_session *s,
    const struct conncache_peer *peer);
/* A parked session for key, now the caller's, and where it goes; NULL if none. */
struct smtp_session *
conncache_take(struct conncache *c, const char *key, struct conncache_peer *peer);
/* Closes every parked session (QUIT), as at shutdown. */
void conncache_flush(struct conncache *c);
void conncache_get_stats(const struct conncache *c, struct conncache_stats *out);

#endif
