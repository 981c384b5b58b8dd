/*
 * test_connect.c - lib/connect.c against real sockets on loopback, inside
 * the sandbox's network namespace: listeners on 127.0.0.231-250 (no test
 * zone uses them) and ::1, on port 0 so parallel tests never collide;
 * refusals (a bound socket that does not listen); the sandbox's black
 * hole 127.0.0.99; and for the preference window a drop rule of our own
 * (nft table "mxconnect<pid>") that is lifted mid-race.  Outside the
 * sandbox it skips (77), or fails with MX_REQUIRE_SANDBOX=1.  Timing
 * bounds are loose on the slow side (sanitizers, a busy machine); on the
 * fast side they allow the few ms libevent's coarse clock fires early.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "connect.h"

#define MAX_ADDRS 16
#define MAX_SOCKETS 16
#define SAFETY_MS 10000   /* no race here may take longer */
#define BLACKHOLE "127.0.0.99"
#define DELAYED "127.0.0.250" /* our own drop rule, lifted mid-race */

struct fixture {
	struct event_base *base;
	int socks[MAX_SOCKETS];   /* listeners and refusers */
	size_t n_socks;
	char table[64];           /* nft table while it exists */
	struct sockaddr_storage addrs[MAX_ADDRS];
	socklen_t lens[MAX_ADDRS];
	size_t n;
};

struct outcome {
	bool called;
	int fd;
	size_t index;
	enum connect_failure failure;
	struct connect_attempt rec[MAX_ADDRS];
	size_t n;
	unsigned elapsed_ms;
	struct event_base *base;
	struct connect_race *race; /* to try a cancel from the callback */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->base = event_base_new()) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->table[0] != '\0') {
		int rc;

		snprintf(cmd, sizeof(cmd), "nft delete table inet %s", f->table);
		rc = system(cmd);
		(void)rc;
	}
	for (size_t i = 0; i < f->n_socks; i++)
		close(f->socks[i]);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void
fill(struct sockaddr_storage *ss, socklen_t *len, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	*len = sizeof(*sin6);
}

/* A socket bound to ip and a fresh port; listening, or refusing. */
static size_t
add_socket(struct fixture *f, const char *ip, bool listening)
{
	struct sockaddr_storage *ss = &f->addrs[f->n];
	socklen_t *len = &f->lens[f->n];
	int fd;

	assert_true(f->n < MAX_ADDRS && f->n_socks < MAX_SOCKETS);
	fill(ss, len, ip, 0);
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	f->socks[f->n_socks++] = fd;
	assert_int_equal(bind(fd, (struct sockaddr *)ss, *len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, len), 0);
	if (listening)
		assert_int_equal(listen(fd, 16), 0);
	return f->n++;
}

static size_t
add_listener(struct fixture *f, const char *ip)
{
	return add_socket(f, ip, true);
}

static size_t
add_refuser(struct fixture *f, const char *ip)
{
	return add_socket(f, ip, false);
}

static size_t
add_blackhole(struct fixture *f, uint16_t port)
{
	assert_true(f->n < MAX_ADDRS);
	fill(&f->addrs[f->n], &f->lens[f->n], BLACKHOLE, port);
	return f->n++;
}

/* Drops SYNs to the listener at index i until lift_drop(). */
static void
add_drop(struct fixture *f, size_t i)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&f->addrs[i];
	char cmd[512];

	snprintf(f->table, sizeof(f->table), "mxconnect%ld", (long)getpid());
	snprintf(cmd, sizeof(cmd),
	    "nft add table inet %s && "
	    "nft add chain inet %s input '{ type filter hook input priority 0; policy accept; }' && "
	    "nft add rule inet %s input ip daddr %s tcp dport %u drop",
	    f->table, f->table, f->table, DELAYED, ntohs(sin->sin_port));
	assert_int_equal(system(cmd), 0);
}

static void
lift_drop(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;
	char cmd[128];

	(void)fd;
	(void)what;
	snprintf(cmd, sizeof(cmd), "nft delete table inet %s", f->table);
	if (system(cmd) == 0)
		f->table[0] = '\0';
}

/* One line per race in the test log, for timing failures on slow hosts. */
static void
print_result(const struct connect_result *res)
{
	fprintf(stderr, "  index %zu, failure %s, %u ms:", res->index,
	    connect_failure_name(res->failure), res->elapsed_ms);
	for (size_t i = 0; i < res->n; i++)
		fprintf(stderr, " [%zu %s %u-%u]", i,
		    connect_outcome_name(res->attempts[i].outcome),
		    res->attempts[i].started_ms, res->attempts[i].ended_ms);
	fprintf(stderr, "\n");
}

static void
on_result(const struct connect_result *res, void *arg)
{
	struct outcome *o = arg;

	assert_false(o->called);
	o->called = true;
	o->fd = res->fd;
	o->index = res->index;
	o->failure = res->failure;
	o->n = res->n;
	o->elapsed_ms = res->elapsed_ms;
	memcpy(o->rec, res->attempts, res->n * sizeof(*res->attempts));
	print_result(res);
	if (o->race != NULL)
		connect_race_cancel(o->race); /* must do nothing */
	event_base_loopbreak(o->base);
}

static void
run_for(struct fixture *f, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static struct outcome
race(struct fixture *f, const struct connect_opts *opts)
{
	struct outcome o = { .fd = -1, .base = f->base };
	struct connect_race *r;

	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, f->n, opts,
	    on_result, &o, &r), MX_OK);
	assert_non_null(r);
	assert_false(o.called);
	run_for(f, SAFETY_MS);
	assert_true(o.called);
	assert_int_equal(o.n, f->n);
	return o;
}

static void
assert_peer(int fd, const struct sockaddr_storage *want)
{
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);

	assert_int_equal(getpeername(fd, (struct sockaddr *)&got, &len), 0);
	assert_int_equal(got.ss_family, want->ss_family);
	if (got.ss_family == AF_INET) {
		const struct sockaddr_in *a = (void *)&got, *b = (const void *)want;
		assert_int_equal(a->sin_port, b->sin_port);
		assert_memory_equal(&a->sin_addr, &b->sin_addr, sizeof(a->sin_addr));
	} else {
		const struct sockaddr_in6 *a = (void *)&got, *b = (const void *)want;
		assert_int_equal(a->sin6_port, b->sin6_port);
		assert_memory_equal(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr));
	}
}

static void
assert_won(const struct fixture *f, struct outcome *o, size_t index)
{
	assert_int_equal(o->index, index);
	assert_true(o->fd >= 0);
	assert_int_equal(o->failure, CONNECT_FAIL_NONE);
	assert_int_equal(o->rec[index].outcome, CONNECT_OK);
	assert_peer(o->fd, &f->addrs[index]);
	assert_true(fcntl(o->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(o->fd, F_GETFD) & FD_CLOEXEC);
	close(o->fd);
	o->fd = -1;
}

static void
assert_between(unsigned v, unsigned lo, unsigned hi)
{
	if (v < lo || v > hi)
		fail_msg("%u ms, expected %u..%u ms", v, lo, hi);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void
test_first_listening(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	add_listener(f, "127.0.0.231");
	add_listener(f, "127.0.0.232");
	add_refuser(f, "127.0.0.233");
	o = race(f, NULL);
	assert_won(f, &o, 0);
	assert_between(o.elapsed_ms, 0, 100);
	assert_int_equal(o.rec[1].outcome, CONNECT_NOT_TRIED);
	assert_int_equal(o.rec[2].outcome, CONNECT_NOT_TRIED);
	/* The listener really has the connection. */
	assert_true(accept(f->socks[0], NULL, NULL) >= 0);
}

static void
test_first_refused(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	add_refuser(f, "127.0.0.234");
	add_listener(f, "127.0.0.235");
	o = race(f, NULL);
	assert_won(f, &o, 1);
	assert_between(o.elapsed_ms, 0, 50);
	assert_int_equal(o.rec[0].outcome, CONNECT_REFUSED);
	assert_int_equal(o.rec[0].err, ECONNREFUSED);
}

/* The second starts one attempt delay in and connects at once; it is
 * handed out when the preference window (one more delay) has passed. */
static void
test_blackhole_then_listening(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	add_blackhole(f, 2501);
	add_listener(f, "127.0.0.236");
	o = race(f, NULL);
	assert_won(f, &o, 1);
	assert_between(o.rec[1].started_ms, 200, 350);
	assert_between(o.rec[1].ended_ms, 200, 500);
	assert_between(o.elapsed_ms, 450, 800);
	assert_int_equal(o.rec[0].outcome, CONNECT_CANCELLED);
	assert_between(o.rec[0].ended_ms, o.elapsed_ms - 5, o.elapsed_ms);
}

static void
test_blackhole_no_window(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o;

	connect_opts_default(&opts);
	opts.preference_window_ms = 0;
	add_blackhole(f, 2501);
	add_listener(f, "127.0.0.236");
	o = race(f, &opts);
	assert_won(f, &o, 1);
	assert_between(o.elapsed_ms, 200, 500);
}

static void
test_two_blackholes(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o;

	connect_opts_default(&opts);
	opts.preference_window_ms = 0;
	add_blackhole(f, 2501);
	add_blackhole(f, 2502);
	add_listener(f, "127.0.0.237");
	o = race(f, &opts);
	assert_won(f, &o, 2);
	assert_between(o.rec[1].started_ms, 200, 350);
	assert_between(o.elapsed_ms, 450, 750);
	assert_int_equal(o.rec[0].outcome, CONNECT_CANCELLED);
	assert_int_equal(o.rec[1].outcome, CONNECT_CANCELLED);
}

static void
test_all_refused(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	add_refuser(f, "127.0.0.238");
	add_refuser(f, "127.0.0.239");
	add_refuser(f, "::1");
	o = race(f, NULL);
	assert_int_equal(o.fd, -1);
	assert_int_equal(o.index, 3);
	assert_int_equal(o.failure, CONNECT_FAIL_REFUSED);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(o.rec[i].outcome, CONNECT_REFUSED);
		assert_int_equal(o.rec[i].err, ECONNREFUSED);
	}
	assert_between(o.elapsed_ms, 0, 50);
}

static void
test_all_blackholed(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o;

	connect_opts_default(&opts);
	opts.attempt_delay_ms = 100;
	opts.connect_timeout_ms = 600;
	for (uint16_t p = 2501; p <= 2503; p++)
		add_blackhole(f, p);
	o = race(f, &opts);
	assert_int_equal(o.fd, -1);
	assert_int_equal(o.failure, CONNECT_FAIL_TIMEOUT);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(o.rec[i].outcome, CONNECT_TIMEOUT);
		assert_int_equal(o.rec[i].err, ETIMEDOUT);
		assert_between(o.rec[i].started_ms, i * 100, i * 100 + 80);
		assert_between(o.rec[i].ended_ms, 590 + i * 100, 600 + i * 100 + 150);
	}
	assert_between(o.elapsed_ms, 750, 1100);
}

static void
test_deadline(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o;

	connect_opts_default(&opts);
	opts.attempt_delay_ms = 150;
	opts.deadline_ms = 400;
	for (uint16_t p = 2501; p <= 2505; p++)
		add_blackhole(f, p);
	o = race(f, &opts);
	assert_int_equal(o.failure, CONNECT_FAIL_TIMEOUT);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(o.rec[i].outcome, CONNECT_TIMEOUT);
	assert_int_equal(o.rec[3].outcome, CONNECT_NOT_TRIED);
	assert_int_equal(o.rec[4].outcome, CONNECT_NOT_TRIED);
	assert_between(o.elapsed_ms, 390, 600);
}

static void
test_max_parallel(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o;

	connect_opts_default(&opts);
	opts.attempt_delay_ms = 10;
	opts.connect_timeout_ms = 200;
	opts.max_parallel = 3;
	for (uint16_t p = 2601; p <= 2610; p++)
		add_blackhole(f, p);
	o = race(f, &opts);
	assert_int_equal(o.failure, CONNECT_FAIL_TIMEOUT);
	for (size_t i = 0; i < f->n; i++) {
		unsigned alive = 0;

		assert_int_equal(o.rec[i].outcome, CONNECT_TIMEOUT);
		for (size_t j = 0; j < f->n; j++)
			alive += o.rec[j].started_ms <= o.rec[i].started_ms &&
			    o.rec[i].started_ms < o.rec[j].ended_ms;
		assert_true(alive <= 3);
	}
	assert_between(o.elapsed_ms, 750, 1300);
}

/*
 * The first address's SYN is dropped until 300 ms, so it connects at the
 * kernel's first SYN retransmission (1 s); the second connects at 100 ms
 * and is held, and the first still wins inside the 2 s window.
 */
static void
test_preference_first_wins(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct timeval lift = { 0, 300000 };
	struct outcome o;

	connect_opts_default(&opts);
	opts.attempt_delay_ms = 100;
	opts.preference_window_ms = 2000;
	add_drop(f, add_listener(f, DELAYED));
	add_listener(f, "127.0.0.240");
	assert_int_equal(event_base_once(f->base, -1, EV_TIMEOUT, lift_drop, f, &lift), 0);
	o = race(f, &opts);
	assert_won(f, &o, 0);
	assert_string_equal(f->table, "");
	assert_between(o.elapsed_ms, 900, 1600);
	assert_int_equal(o.rec[1].outcome, CONNECT_OK); /* connected, closed */
	assert_between(o.rec[1].ended_ms, 90, 250);
}

static void
test_preference_window_expires(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o;

	connect_opts_default(&opts);
	opts.attempt_delay_ms = 100;
	opts.preference_window_ms = 300;
	add_drop(f, add_listener(f, DELAYED)); /* never lifted */
	add_listener(f, "127.0.0.241");
	o = race(f, &opts);
	assert_won(f, &o, 1);
	assert_between(o.elapsed_ms, 390, 650);
	assert_int_equal(o.rec[0].outcome, CONNECT_CANCELLED);
	assert_int_equal(o.rec[0].err, ECANCELED);
}

/*
 * The third connects at once and is held; the second (SYN dropped until
 * 300 ms) connects at about 1.1 s and replaces it; the first times out at
 * 1.5 s, which ends the wait long before the 3 s window.
 */
static void
test_better_replaces_held(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct timeval lift = { 0, 300000 };
	struct outcome o;

	connect_opts_default(&opts);
	opts.attempt_delay_ms = 100;
	opts.connect_timeout_ms = 1500;
	opts.preference_window_ms = 3000;
	add_blackhole(f, 2501);
	add_drop(f, add_listener(f, DELAYED));
	add_listener(f, "127.0.0.242");
	assert_int_equal(event_base_once(f->base, -1, EV_TIMEOUT, lift_drop, f, &lift), 0);
	o = race(f, &opts);
	assert_won(f, &o, 1);
	assert_between(o.rec[1].ended_ms, 1000, 1400);
	assert_int_equal(o.rec[2].outcome, CONNECT_OK); /* held, then closed */
	assert_between(o.rec[2].ended_ms, 190, 350);
	assert_int_equal(o.rec[0].outcome, CONNECT_TIMEOUT);
	assert_between(o.elapsed_ms, 1490, 1800);
}

/* Attempt delay 0: the next starts on the next turn of the loop. */
static void
test_no_attempt_delay(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o;

	connect_opts_default(&opts);
	opts.attempt_delay_ms = 0;
	opts.preference_window_ms = 100;
	add_blackhole(f, 2501);
	add_blackhole(f, 2502);
	add_listener(f, "127.0.0.242");
	add_listener(f, "127.0.0.242");
	o = race(f, &opts);
	assert_won(f, &o, 2);
	assert_between(o.rec[2].started_ms, 0, 20);
	assert_between(o.elapsed_ms, 90, 300);
	assert_int_equal(o.rec[0].outcome, CONNECT_CANCELLED);
	assert_int_equal(o.rec[1].outcome, CONNECT_CANCELLED);
}

static void
test_cancel_closes_everything(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o = { .fd = -1, .base = f->base };
	struct connect_race *r;
	int before;

	connect_opts_default(&opts);
	opts.attempt_delay_ms = 50;
	add_blackhole(f, 2501);
	add_blackhole(f, 2502);
	add_listener(f, "127.0.0.243");
	before = count_fds();
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, f->n, &opts,
	    on_result, &o, &r), MX_OK);
	run_for(f, 150); /* two pending, the third connected and held */
	assert_false(o.called);
	assert_int_equal(count_fds(), before + 3);
	connect_race_cancel(r);
	assert_int_equal(count_fds(), before);
	run_for(f, 500);
	assert_false(o.called);
	connect_race_cancel(NULL);
}

static void
test_cancel_in_callback(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { .fd = -1, .base = f->base };
	int before;

	add_listener(f, "127.0.0.244");
	before = count_fds();
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, f->n, NULL,
	    on_result, &o, &o.race), MX_OK);
	run_for(f, SAFETY_MS);
	assert_true(o.called);
	assert_int_equal(count_fds(), before + 1);
	close(o.fd);
}

static void
test_no_callback_from_start(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { .fd = -1, .base = f->base };
	struct connect_race *r;

	add_refuser(f, "127.0.0.245");
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, f->n, NULL,
	    on_result, &o, &r), MX_OK);
	assert_false(o.called);
	run_for(f, SAFETY_MS);
	assert_true(o.called);
	assert_int_equal(o.failure, CONNECT_FAIL_REFUSED);
}

static void
test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct connect_opts opts;
	struct outcome o = { .fd = -1, .base = f->base };
	struct connect_race *r = (void *)1;
	int before;

	add_listener(f, "127.0.0.246");
	before = count_fds();
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, 0, NULL,
	    on_result, &o, &r), MX_ERR_INVALID);
	assert_null(r);
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, 1, NULL,
	    NULL, &o, &r), MX_ERR_INVALID);
	connect_opts_default(&opts);
	opts.max_parallel = 0;
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, 1, &opts,
	    on_result, &o, &r), MX_ERR_INVALID);
	opts.max_parallel = CONNECT_MAX_PARALLEL + 1;
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, 1, &opts,
	    on_result, &o, &r), MX_ERR_INVALID);
	f->addrs[0].ss_family = AF_PACKET;
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, 1, NULL,
	    on_result, &o, &r), MX_ERR_INVALID);
	/* a unix socket (an LMTP server's) is allowed, but not without a path */
	socklen_t len = f->lens[0];
	f->addrs[0].ss_family = AF_UNIX;
	f->lens[0] = sizeof(sa_family_t);
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, 1, NULL,
	    on_result, &o, &r), MX_ERR_INVALID);
	f->lens[0] = len;
	f->addrs[0].ss_family = AF_INET;
	f->lens[0] = 4;
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, 1, NULL,
	    on_result, &o, &r), MX_ERR_INVALID);
	assert_int_equal(connect_race_start(f->base, f->addrs, f->lens, 1, NULL,
	    on_result, &o, NULL), MX_ERR_INVALID);
	assert_int_equal(count_fds(), before);
	run_for(f, 50);
	assert_false(o.called);
	assert_string_equal(connect_outcome_name(CONNECT_NOT_TRIED), "not-tried");
	assert_string_equal(connect_outcome_name(CONNECT_CANCELLED), "cancelled");
	assert_string_equal(connect_outcome_name((enum connect_outcome)99), "unknown");
	assert_string_equal(connect_failure_name(CONNECT_FAIL_REFUSED), "refused");
}

static void
test_ipv6(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	add_refuser(f, "::1");
	add_blackhole(f, 2501);
	add_listener(f, "::1");
	add_listener(f, "127.0.0.247");
	o = race(f, NULL);
	assert_won(f, &o, 2);
	assert_int_equal(o.rec[0].outcome, CONNECT_REFUSED);
	assert_int_equal(o.rec[1].outcome, CONNECT_CANCELLED);
	assert_int_equal(o.rec[3].outcome, CONNECT_NOT_TRIED);
	assert_between(o.rec[2].started_ms, 200, 350);
}

static void
test_ipv6_first(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	add_listener(f, "::1");
	add_listener(f, "127.0.0.248");
	o = race(f, NULL);
	assert_won(f, &o, 0);
	assert_between(o.elapsed_ms, 0, 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_listening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blackhole_then_listening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blackhole_no_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_blackholes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_blackholed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preference_first_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preference_window_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_better_replaces_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_attempt_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_closes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_callback_from_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_first, setup, teardown),
	};

	if (getenv("MX_SANDBOX") == NULL) {
		const char *req = getenv("MX_REQUIRE_SANDBOX");

		fprintf(stderr, "test_connect: needs the sandbox (tests/sandbox/sandbox run)\n");
		return req != NULL && strcmp(req, "1") == 0 ? 1 : 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
