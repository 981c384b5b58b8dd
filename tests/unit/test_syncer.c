/*
 * test_syncer.c - lib/queue/syncer.c on a real spool in a temporary
 * directory: the loop's timers run while a commit's fsync is under way
 * (the fsync waits for one of them: with the syncs on the loop's thread it
 * would wait in vain); each job is reported once, with the spool's error
 * when a sync fails (and nothing left in tmp/ or queue/); syncer_wait and
 * syncer_free return only after the job under way was reported; a job of
 * removals alone makes one fsync of queue/ and then unlinks the files it
 * was given (a removed entry's own file stays in tmp/'s pool).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <cmocka.h>

#include "spool.h"
#include "syncer.h"

#define STAGED 3

struct fixture {
	char dir[128];
	struct spool *sp;
	struct event_base *base;
	struct syncer *sy;
	struct sync_job job;
	struct spool_staged st[STAGED];
	unsigned reports;
	mx_err err;
	char why[256];
};

/* The fsync stand-ins, set per test: they run on the syncer's thread. */
static atomic_int released; /* set by the loop's timer */
static atomic_int fsyncs;
static atomic_int saw_release; /* an fsync returned because of the timer */

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits up to 3 s for the loop's timer; a loop blocked in this fsync
 * never runs it. */
static int
gated_fsync(int fd)
{
	atomic_fetch_add(&fsyncs, 1);
	for (int i = 0; i < 300 && !atomic_load(&released); i++)
		sleep_ms(10);
	if (atomic_load(&released))
		atomic_store(&saw_release, 1);
	return fsync(fd);
}

static int
slow_fsync(int fd)
{
	atomic_fetch_add(&fsyncs, 1);
	sleep_ms(200);
	return fsync(fd);
}

static int
failing_fsync(int fd)
{
	(void)fd;
	atomic_fetch_add(&fsyncs, 1);
	errno = EIO;
	return -1;
}

static int
counting_fsync(int fd)
{
	atomic_fetch_add(&fsyncs, 1);
	return fsync(fd);
}

static void
on_done(struct sync_job *job, void *arg)
{
	struct fixture *f = arg;

	f->reports++;
	f->err = job->err;
	snprintf(f->why, sizeof(f->why), "%s", job->why);
	event_base_loopbreak(f->base);
}

static void
use_fsync(struct fixture *f, int (*fn)(int))
{
	struct spool_ops ops;

	spool_get_ops_for_testing(f->sp, &ops);
	ops.fsync = fn;
	spool_set_ops_for_testing(f->sp, &ops);
	atomic_store(&fsyncs, 0);
	atomic_store(&released, 0);
	atomic_store(&saw_release, 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char why[256];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_syncer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spool_open(f->dir, &f->sp, why, sizeof(why)), MX_OK);
	assert_non_null(f->base = event_base_new());
	assert_int_equal(syncer_new(f->base, f->sp, on_done, f, &f->sy), MX_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	syncer_free(f->sy);
	event_base_free(f->base);
	spool_close(f->sp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static size_t
count_dir(const struct fixture *f, const char *sub)
{
	char path[256];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", f->dir, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* STAGED entries in tmp/, in f->job. */
static void
stage_all(struct fixture *f)
{
	struct spool_rcpt rcpt = { .address = "rcpt@example.com" };
	uint8_t data[] = "Subject: x\r\n\r\nhello\r\n";
	const char *why = NULL;

	memset(&f->job, 0, sizeof(f->job));
	for (size_t i = 0; i < STAGED; i++) {
		struct spool_entry e = {
			.rcpts = &rcpt, .n_rcpts = 1, .data = data, .len = sizeof(data) - 1
		};

		snprintf(e.sender, sizeof(e.sender), "s%zu@example.org", i);
		assert_int_equal(spool_stage(f->sp, &e, &f->st[i], &why), MX_OK);
		f->job.st[f->job.n++] = &f->st[i];
	}
	assert_true(count_dir(f, "tmp") >= STAGED); /* and any pooled file */
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	atomic_store(&released, 1);
}

static void
test_loop_runs_during_the_commit(void **state)
{
	struct fixture *f = *state;
	struct timeval soon = { 0, 20000 };
	struct event *timer = evtimer_new(f->base, on_timer, NULL);

	stage_all(f);
	use_fsync(f, gated_fsync);
	assert_non_null(timer);
	evtimer_add(timer, &soon);
	syncer_submit(f->sy, &f->job);
	assert_true(syncer_busy(f->sy));
	assert_int_equal(event_base_dispatch(f->base), 0);
	assert_int_equal(f->reports, 1);
	assert_int_equal(f->err, MX_OK);
	assert_false(syncer_busy(f->sy));
	/* The data's sync waited for the loop's timer and got it. */
	assert_int_equal(atomic_load(&saw_release), 1);
	assert_int_equal(count_dir(f, "queue"), STAGED);
	assert_int_equal(count_dir(f, "tmp"), 0);
	event_free(timer);
}

static void
test_failure_is_reported_and_takes_all_back(void **state)
{
	struct fixture *f = *state;

	stage_all(f);
	use_fsync(f, failing_fsync);
	syncer_submit(f->sy, &f->job);
	assert_int_equal(event_base_dispatch(f->base), 0);
	assert_int_equal(f->reports, 1);
	assert_int_equal(f->err, MX_ERR_SYSTEM);
	assert_non_null(strstr(f->why, "fsync of the spool files failed"));
	assert_non_null(strstr(f->why, strerror(EIO)));
	assert_int_equal(count_dir(f, "queue"), 0);
	assert_int_equal(count_dir(f, "tmp"), 0);
}

static void
test_wait_returns_after_the_report(void **state)
{
	struct fixture *f = *state;

	stage_all(f);
	use_fsync(f, slow_fsync);
	syncer_submit(f->sy, &f->job);
	syncer_wait(f->sy); /* no loop turn: the report comes from the wait */
	assert_int_equal(f->reports, 1);
	assert_int_equal(f->err, MX_OK);
	assert_false(syncer_busy(f->sy));
	assert_int_equal(count_dir(f, "queue"), STAGED);
	/* The eventfd's late callback finds nothing to report a second time. */
	assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
	assert_int_equal(f->reports, 1);
	syncer_wait(f->sy); /* idle: returns at once */
	assert_int_equal(f->reports, 1);
}

static void
test_free_reports_the_job_under_way(void **state)
{
	struct fixture *f = *state;

	stage_all(f);
	use_fsync(f, slow_fsync);
	syncer_submit(f->sy, &f->job);
	syncer_free(f->sy);
	f->sy = NULL;
	assert_int_equal(f->reports, 1);
	assert_int_equal(f->err, MX_OK);
	assert_int_equal(count_dir(f, "queue"), STAGED);
}

static void
test_removals_alone_sync_queue_once(void **state)
{
	struct fixture *f = *state;

	/* An entry committed, then removed: its file goes to tmp/'s pool and
	 * stays; what the job was given to unlink goes after its fsync. */
	const char *why = NULL;
	char path[256];
	FILE *fp;

	stage_all(f);
	assert_int_equal(spool_commit_staged(f->sp, f->job.st, 1, &why), MX_OK);
	spool_group_removals(f->sp, true);
	assert_int_equal(spool_remove(f->sp, f->st[0].id, &why), MX_OK);
	assert_int_equal(count_dir(f, "queue"), 0);
	for (size_t i = 1; i < STAGED; i++)
		spool_staged_abort(f->sp, &f->st[i]);
	assert_int_equal(count_dir(f, "tmp"), 1);
	memset(&f->job, 0, sizeof(f->job));
	f->job.removals = true;
	assert_true(spool_take_removals(f->sp, &f->job.gone));
	assert_int_equal(f->job.gone.n, 0); /* pooled, nothing to unlink */
	snprintf(path, sizeof(path), "%s/tmp/free.evicted", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	free(f->job.gone.names);
	assert_non_null(f->job.gone.names = calloc(1, sizeof(f->job.gone.names[0])));
	strcpy(f->job.gone.names[0], "free.evicted");
	f->job.gone.n = 1;
	use_fsync(f, counting_fsync);
	syncer_submit(f->sy, &f->job);
	assert_int_equal(event_base_dispatch(f->base), 0);
	assert_int_equal(f->reports, 1);
	assert_int_equal(f->job.removals_err, MX_OK);
	assert_int_equal(atomic_load(&fsyncs), 1);
	assert_int_equal(count_dir(f, "tmp"), 1); /* the pooled one */
	assert_null(f->job.gone.names);
	/* With a commit, its fsync of queue/ covers the removals. */
	stage_all(f);
	f->job.removals = true;
	atomic_store(&fsyncs, 0);
	syncer_submit(f->sy, &f->job);
	assert_int_equal(event_base_dispatch(f->base), 0);
	assert_int_equal(f->reports, 2);
	assert_int_equal(atomic_load(&fsyncs), 2); /* the files (syncfs stand-in), queue/ */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_loop_runs_during_the_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failure_is_reported_and_takes_all_back, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wait_returns_after_the_report, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_free_reports_the_job_under_way, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_removals_alone_sync_queue_once, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
