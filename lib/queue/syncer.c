/*
 * syncer.c - the spool's sync thread (see syncer.h).  One job at a time:
 * the loop's thread hands it over under the lock and hears of its end
 * from the eventfd; the thread only ever waits for a job, runs it, and
 * says it ended.  A job that ended is reported to done exactly once,
 * from the eventfd's callback or from syncer_wait, whichever comes first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "syncer.h"

struct syncer {
	struct spool *sp;
	struct event *ev;
	int efd;
	syncer_done_fn done;
	void *arg;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a job came, a job ended, or quit */
	/* Under lock: */
	struct sync_job *job; /* handed over and not yet reported */
	bool ended;           /* the thread ended job */
	bool quit;
};

static void
copy_why(char *dst, size_t size, const char *why)
{
	snprintf(dst, size, "%s", why != NULL ? why : "");
}

/* The job's system calls.  A commit's fsync of queue/ covers removals made
 * before it; they get one of their own only without a successful commit. */
static void
run_job(struct spool *sp, struct sync_job *job)
{
	const char *why = NULL;

	job->err = job->removals_err = MX_OK;
	job->why[0] = job->removals_why[0] = '\0';
	if (job->n > 0) {
		job->err = spool_commit_staged(sp, job->st, job->n, &why);
		copy_why(job->why, sizeof(job->why), why);
	}
	if (job->removals && (job->n == 0 || job->err != MX_OK)) {
		job->removals_err = spool_sync_queue(sp, &why);
		copy_why(job->removals_why, sizeof(job->removals_why), why);
	}
	/* Once queue/ no longer names them for good; else tmp/ keeps them
	 * for spool_clean_tmp. */
	if (job->removals_err == MX_OK && (job->n == 0 || job->err == MX_OK))
		spool_gone_unlink(sp, &job->gone);
	free(job->gone.names);
	job->gone = (struct spool_gone){ 0 };
}

static void
signal_end(struct syncer *s)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	s->ended = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* A full counter (never, at one a job) would only delay the report
	 * to syncer_wait; nothing to do about a failed write here. */
	(void)!write(s->efd, &one, sizeof(one));
}

static void *
thread_main(void *arg)
{
	struct syncer *s = arg;
	struct sync_job *job;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->quit && (s->job == NULL || s->ended))
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->job == NULL || s->ended) /* quit, and nothing left to run */
			break;
		job = s->job;
		pthread_mutex_unlock(&s->lock);
		run_job(s->sp, job);
		signal_end(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* The job that ended goes back to done; nothing when none ended. */
static void
report(struct syncer *s)
{
	struct sync_job *job = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->job != NULL && s->ended) {
		job = s->job;
		s->job = NULL;
		s->ended = false;
	}
	pthread_mutex_unlock(&s->lock);
	if (job != NULL)
		s->done(job, s->arg);
}

static void
on_ended(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	(void)!read(fd, &n, sizeof(n)); /* EAGAIN: syncer_wait reported it */
	report(arg);
}

mx_err
syncer_new(
    struct event_base *base, struct spool *sp, syncer_done_fn done, void *arg, struct syncer **out)
{
	struct syncer *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return MX_ERR_NOMEM;
	s->sp = sp;
	s->done = done;
	s->arg = arg;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		syncer_free(s);
		return MX_ERR_SYSTEM;
	}
	s->ev = event_new(base, s->efd, EV_READ | EV_PERSIST, on_ended, s);
	if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
		syncer_free(s);
		return MX_ERR_NOMEM;
	}
	*out = s;
	return MX_OK;
}

bool
syncer_busy(const struct syncer *s)
{
	/* Only the loop's thread sets and clears job: no lock needed to read it there. */
	return s->job != NULL;
}

void
syncer_submit(struct syncer *s, struct sync_job *job)
{
	pthread_mutex_lock(&s->lock);
	s->job = job;
	s->ended = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (!s->started)
		s->started = pthread_create(&s->thread, NULL, thread_main, s) == 0;
	if (!s->started) { /* no thread: the job runs here, reported by the loop */
		run_job(s->sp, job);
		signal_end(s);
	}
}

void
syncer_wait(struct syncer *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->job != NULL && !s->ended)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	report(s);
}

void
syncer_free(struct syncer *s)
{
	if (s == NULL)
		return;
	syncer_wait(s);
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->quit = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->efd >= 0)
		close(s->efd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
