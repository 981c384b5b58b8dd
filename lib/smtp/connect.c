/*
 * connect.c - the connection race of connect.h: nonblocking connects
 * started one attempt delay apart (at once after a failure), at most
 * max_parallel in flight, each with its own timeout, under one deadline;
 * the most preferred address that connects wins, a less preferred one
 * waits at most the preference window for it.  It owns the sockets
 * until the callback; it never reads or writes on them, never resolves
 * names and never retries an address.
 */
#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/un.h>

#include "mstime.h"
#include "connect.h"

#define DEFAULT_ATTEMPT_DELAY_MS     250 /* RFC 8305 section 8 */
#define DEFAULT_CONNECT_TIMEOUT_MS   30000
#define DEFAULT_DEADLINE_MS          120000
#define DEFAULT_MAX_PARALLEL         8
#define DEFAULT_PREFERENCE_WINDOW_MS DEFAULT_ATTEMPT_DELAY_MS

struct attempt {
	struct connect_race *race;
	int fd;           /* -1 when closed */
	struct event *ev; /* writable or timed out, while pending */
};

struct connect_race {
	struct event_base *base;
	struct connect_opts opts;
	struct sockaddr_storage *addrs;
	socklen_t *lens;
	struct attempt *att;
	struct connect_attempt *rec;
	size_t n;
	size_t next;     /* the next address to start */
	size_t inflight; /* attempts pending */
	size_t best;     /* most preferred connected address; n: none */
	struct timespec t0;
	struct event *kick;    /* first start, from the loop */
	struct event *stagger; /* attempt delay */
	struct event *window;  /* preference window */
	struct event *deadline;
	connect_cb cb;
	void *arg;
	bool in_callback;
};

void
connect_opts_default(struct connect_opts *o)
{
	o->attempt_delay_ms = DEFAULT_ATTEMPT_DELAY_MS;
	o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	o->deadline_ms = DEFAULT_DEADLINE_MS;
	o->max_parallel = DEFAULT_MAX_PARALLEL;
	o->preference_window_ms = DEFAULT_PREFERENCE_WINDOW_MS;
}

static bool
opts_valid(const struct connect_opts *o)
{
	return o->attempt_delay_ms <= CONNECT_MAX_MS && o->connect_timeout_ms > 0 &&
	    o->connect_timeout_ms <= CONNECT_MAX_MS && o->deadline_ms > 0 &&
	    o->deadline_ms <= CONNECT_MAX_MS && o->max_parallel > 0 &&
	    o->max_parallel <= CONNECT_MAX_PARALLEL && o->preference_window_ms <= CONNECT_MAX_MS;
}

static bool
addr_valid(const struct sockaddr_storage *ss, socklen_t len)
{
	if (ss->ss_family == AF_INET)
		return len >= sizeof(struct sockaddr_in) && len <= sizeof(*ss);
	if (ss->ss_family == AF_INET6)
		return len >= sizeof(struct sockaddr_in6) && len <= sizeof(*ss);
	/* An LMTP server's unix socket (lmtp_target.c): a race of one. */
	if (ss->ss_family == AF_UNIX)
		return len > offsetof(struct sockaddr_un, sun_path) &&
		    len <= sizeof(struct sockaddr_un);
	return false;
}

static struct timeval
ms_tv(unsigned ms)
{
	struct timeval tv = ms_timeval(ms);

	return tv;
}

static unsigned
now_ms(const struct connect_race *r)
{
	struct timespec t;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &t);
	ns = (t.tv_sec - r->t0.tv_sec) * 1000000000LL + (t.tv_nsec - r->t0.tv_nsec);
	return ns < 0 ? 0 : (unsigned)(ns / 1000000);
}

static enum connect_outcome
outcome_of(int err)
{
	switch (err) {
	case 0: return CONNECT_OK;
	case ECONNREFUSED: return CONNECT_REFUSED;
	case ETIMEDOUT: return CONNECT_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case EAFNOSUPPORT: return CONNECT_UNREACHABLE;
	default: return CONNECT_ERROR;
	}
}

/* Ends attempt i (pending or connected-and-unused) with this errno. */
static void
attempt_end(struct connect_race *r, size_t i, int err)
{
	struct attempt *a = &r->att[i];

	if (a->ev != NULL) {
		event_free(a->ev);
		a->ev = NULL;
		r->inflight--;
		r->rec[i].outcome = err == ECANCELED ? CONNECT_CANCELLED : outcome_of(err);
		r->rec[i].err = err;
		r->rec[i].ended_ms = now_ms(r);
	}
	if (a->fd != -1)
		close(a->fd);
	a->fd = -1;
}

/*
 * Attempt i connected: it is the most preferred so far, as every attempt
 * less preferred than the one held was ended when that one connected.
 * The held one (if any) is closed, and so is everything after i.
 */
static void
attempt_connected(struct connect_race *r, size_t i)
{
	assert(i < r->best);
	r->rec[i].outcome = CONNECT_OK;
	r->rec[i].ended_ms = now_ms(r);
	if (r->best < r->n)
		attempt_end(r, r->best, 0);
	r->best = i;
	for (size_t j = i + 1; j < r->next; j++)
		attempt_end(r, j, ECANCELED);
	if (!evtimer_pending(r->window, NULL)) {
		struct timeval tv = ms_tv(r->opts.preference_window_ms);

		evtimer_add(r->window, &tv);
	}
}

static void on_attempt(evutil_socket_t fd, short what, void *arg);

/* Starts address i; false when it failed at once. */
static bool
attempt_start(struct connect_race *r, size_t i)
{
	struct attempt *a = &r->att[i];
	struct timeval tv = ms_tv(r->opts.connect_timeout_ms);
	const struct sockaddr *sa = (const struct sockaddr *)&r->addrs[i];
	int err = ENOMEM;

	r->rec[i].started_ms = now_ms(r);
	a->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd == -1) {
		err = errno;
		goto failed;
	}
	if (connect(a->fd, sa, r->lens[i]) == 0) {
		attempt_connected(r, i);
		return true;
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		err = errno;
		goto failed;
	}
	a->ev = event_new(r->base, a->fd, EV_WRITE, on_attempt, a);
	if (a->ev == NULL || event_add(a->ev, &tv) != 0)
		goto failed;
	r->inflight++;
	return true;
failed:
	if (a->ev != NULL)
		event_free(a->ev);
	a->ev = NULL;
	if (a->fd != -1)
		close(a->fd);
	a->fd = -1;
	r->rec[i].outcome = outcome_of(err);
	r->rec[i].err = err;
	r->rec[i].ended_ms = now_ms(r);
	return false;
}

/* Starts addresses until one is pending or connected, or none may start. */
static void
launch(struct connect_race *r)
{
	struct timeval tv = ms_tv(r->opts.attempt_delay_ms);

	while (r->best == r->n && r->next < r->n && r->inflight < r->opts.max_parallel) {
		if (!attempt_start(r, r->next++))
			continue;
		if (r->best == r->n)
			evtimer_add(r->stagger, &tv);
		return;
	}
}

static enum connect_failure
failure_of(const struct connect_race *r)
{
	bool error = false;

	for (size_t i = 0; i < r->n; i++) {
		switch (r->rec[i].outcome) {
		case CONNECT_NOT_TRIED:
		case CONNECT_TIMEOUT:
		case CONNECT_CANCELLED: return CONNECT_FAIL_TIMEOUT;
		case CONNECT_ERROR: error = true; break;
		default: break;
		}
	}
	return error ? CONNECT_FAIL_ERROR : CONNECT_FAIL_REFUSED;
}

static void
race_free(struct connect_race *r)
{
	for (size_t i = 0; r->att != NULL && i < r->n; i++)
		attempt_end(r, i, ECANCELED);
	if (r->kick != NULL)
		event_free(r->kick);
	if (r->stagger != NULL)
		event_free(r->stagger);
	if (r->window != NULL)
		event_free(r->window);
	if (r->deadline != NULL)
		event_free(r->deadline);
	free(r->addrs);
	free(r->lens);
	free(r->att);
	free(r->rec);
	free(r);
}

/* Hands out the best connection (or the failure) and frees the race;
 * attempts still pending end with err (ECANCELED or ETIMEDOUT). */
static void
finish(struct connect_race *r, int err)
{
	struct connect_result res = { .fd = -1, .index = r->n, .attempts = r->rec, .n = r->n };

	for (size_t i = 0; i < r->n; i++)
		if (r->att[i].ev != NULL)
			attempt_end(r, i, err);
	if (r->best < r->n) {
		res.fd = r->att[r->best].fd;
		res.index = r->best;
		r->att[r->best].fd = -1;
	} else {
		res.failure = failure_of(r);
	}
	res.elapsed_ms = now_ms(r);
	r->in_callback = true;
	r->cb(&res, r->arg);
	race_free(r);
}

/* After every event: done when nothing more preferred can still connect. */
static void
settle(struct connect_race *r)
{
	if (r->inflight > 0)
		return;
	if (r->best < r->n || r->next == r->n)
		finish(r, ECANCELED);
}

static void
on_attempt(evutil_socket_t fd, short what, void *arg)
{
	struct attempt *a = arg;
	struct connect_race *r = a->race;
	size_t i = (size_t)(a - r->att);
	int err = ETIMEDOUT;
	socklen_t len = sizeof(err);

	if ((what & EV_WRITE) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		attempt_end(r, i, err);
		launch(r);
	} else {
		event_free(a->ev);
		a->ev = NULL;
		r->inflight--;
		attempt_connected(r, i);
	}
	settle(r);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct connect_race *r = arg;

	(void)fd;
	(void)what;
	launch(r);
	settle(r);
}

static void
on_window(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg, ECANCELED);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg, ETIMEDOUT);
}

static mx_err
race_init(struct connect_race *r, const struct sockaddr_storage *addrs, const socklen_t *lens)
{
	struct timeval tv = ms_tv(r->opts.deadline_ms);

	r->addrs = calloc(r->n, sizeof(*r->addrs));
	r->lens = calloc(r->n, sizeof(*r->lens));
	r->att = calloc(r->n, sizeof(*r->att));
	r->rec = calloc(r->n, sizeof(*r->rec));
	if (!r->addrs || !r->lens || !r->att || !r->rec)
		return MX_ERR_NOMEM;
	memcpy(r->addrs, addrs, r->n * sizeof(*addrs));
	memcpy(r->lens, lens, r->n * sizeof(*lens));
	for (size_t i = 0; i < r->n; i++)
		r->att[i] = (struct attempt){ .race = r, .fd = -1 };
	r->kick = evtimer_new(r->base, on_timer, r);
	r->stagger = evtimer_new(r->base, on_timer, r);
	r->window = evtimer_new(r->base, on_window, r);
	r->deadline = evtimer_new(r->base, on_deadline, r);
	if (!r->kick || !r->stagger || !r->window || !r->deadline)
		return MX_ERR_SYSTEM;
	if (evtimer_add(r->deadline, &tv) != 0)
		return MX_ERR_SYSTEM;
	event_active(r->kick, EV_TIMEOUT, 0);
	return MX_OK;
}

mx_err
connect_race_start(struct event_base *base, const struct sockaddr_storage *addrs,
    const socklen_t *lens, size_t n, const struct connect_opts *opts, connect_cb cb, void *arg,
    struct connect_race **out)
{
	struct connect_race *r;
	mx_err err;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (base == NULL || addrs == NULL || lens == NULL || cb == NULL || n == 0 ||
	    n > CONNECT_MAX_ADDRS || (opts != NULL && !opts_valid(opts)))
		return MX_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (!addr_valid(&addrs[i], lens[i]))
			return MX_ERR_INVALID;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MX_ERR_NOMEM;
	r->base = base;
	r->n = r->best = n;
	r->cb = cb;
	r->arg = arg;
	if (opts != NULL)
		r->opts = *opts;
	else
		connect_opts_default(&r->opts);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	if ((err = race_init(r, addrs, lens)) != MX_OK) {
		race_free(r);
		return err;
	}
	*out = r;
	return MX_OK;
}

void
connect_race_cancel(struct connect_race *race)
{
	if (race == NULL || race->in_callback)
		return;
	race_free(race);
}

const char *
connect_outcome_name(enum connect_outcome outcome)
{
	static const char *const names[] = {
		[CONNECT_NOT_TRIED] = "not-tried",
		[CONNECT_OK] = "ok",
		[CONNECT_REFUSED] = "refused",
		[CONNECT_TIMEOUT] = "timeout",
		[CONNECT_UNREACHABLE] = "unreachable",
		[CONNECT_ERROR] = "error",
		[CONNECT_CANCELLED] = "cancelled",
	};

	if ((unsigned)outcome >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[outcome];
}

const char *
connect_failure_name(enum connect_failure failure)
{
	static const char *const names[] = {
		[CONNECT_FAIL_NONE] = "none",
		[CONNECT_FAIL_TIMEOUT] = "timeout",
		[CONNECT_FAIL_REFUSED] = "refused",
		[CONNECT_FAIL_ERROR] = "error",
	};

	if ((unsigned)failure >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[failure];
}
