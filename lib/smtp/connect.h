/*
 * connect.h - one TCP connection out of an ordered address list, the
 * attempts staggered as RFC 8305 ("Happy Eyeballs") section 5 does, but
 * with the list's order (MX preference, then family preference) winning
 * over speed: a connection to a less preferred address is held while a
 * more preferred attempt is still pending, for at most the preference
 * window; at the deadline the best one held, if any, is handed out.  It
 * never retries an address: after a failed session, race the rest of the
 * list (addrs + index + 1).  Runs on the caller's libevent base.
 *
 * Ownership: the addresses are copied at start.  The race owns every
 * socket until its callback runs; the callback owns the fd it is given.
 * After the callback returns the race frees itself; before that the
 * caller may end it with connect_race_cancel (no callback follows).  The
 * callback never runs from inside connect_race_start.
 */
#ifndef MX_CONNECT_H
#define MX_CONNECT_H

#include "mx.h"

#define CONNECT_MAX_ADDRS    1024 /* addresses in one race */
#define CONNECT_MAX_PARALLEL 64   /* attempts in flight at once */
#define CONNECT_MAX_MS       (24u * 3600u * 1000u)

struct connect_opts {
	unsigned attempt_delay_ms;     /* stagger between starts; 250; 0 = all at once */
	unsigned connect_timeout_ms;   /* per attempt; 30000; > 0 */
	unsigned deadline_ms;          /* whole race; 120000; > 0 */
	unsigned max_parallel;         /* attempts in flight; 8; 1..CONNECT_MAX_PARALLEL */
	unsigned preference_window_ms; /* hold a less preferred connection, from
	                                  the first that connects; 250; 0 = a turn
	                                  of the loop */
};

void connect_opts_default(struct connect_opts *o);

enum connect_outcome {
	CONNECT_NOT_TRIED = 0,
	CONNECT_OK,          /* connected (only result.index is handed out) */
	CONNECT_REFUSED,     /* ECONNREFUSED */
	CONNECT_TIMEOUT,     /* its own timeout, the deadline, or ETIMEDOUT */
	CONNECT_UNREACHABLE, /* ENETUNREACH, EHOSTUNREACH, no such family... */
	CONNECT_ERROR,       /* any other errno, local ones (EMFILE) included */
	CONNECT_CANCELLED,   /* still pending when another address won */
};

/* What happened to one address; times in ms since connect_race_start. */
struct connect_attempt {
	enum connect_outcome outcome;
	int err; /* errno; 0 for OK and NOT_TRIED */
	unsigned started_ms, ended_ms;
};

enum connect_failure {
	CONNECT_FAIL_NONE = 0, /* connected */
	CONNECT_FAIL_TIMEOUT,  /* some address timed out or was never tried */
	CONNECT_FAIL_REFUSED,  /* every address refused or was unreachable */
	CONNECT_FAIL_ERROR,    /* otherwise: some local error */
};

struct connect_result {
	int fd;       /* connected, nonblocking, CLOEXEC; -1 on failure */
	size_t index; /* the address fd is connected to; n on failure */
	enum connect_failure failure;
	const struct connect_attempt *attempts; /* n, valid during the callback */
	size_t n;
	unsigned elapsed_ms;
};

/* Called once from the event loop; every failure is temporary for mail. */
typedef void (*connect_cb)(const struct connect_result *result, void *arg);

struct connect_race;

/*
 * Starts a race over n addresses (AF_INET or AF_INET6 with their port),
 * most preferred first.  opts NULL means the defaults.  On error nothing
 * is left behind and *out is NULL.
 */
mx_err connect_race_start(struct event_base *base, const struct sockaddr_storage *addrs,
    const socklen_t *lens, size_t n, const struct connect_opts *opts, connect_cb cb, void *arg,
    struct connect_race **out);
/* Closes every socket and frees the race; no callback afterwards.
 * NULL, and a call from inside the race's own callback, do nothing. */
void connect_race_cancel(struct connect_race *race);

const char *connect_outcome_name(enum connect_outcome outcome);
const char *connect_failure_name(enum connect_failure failure);

#endif
