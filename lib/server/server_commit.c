/*
 * server_commit.c - the batch of staged messages and its commit (see
 * server_commit.h).  The promise kept: a session hears 250 only after
 * spool_commit_staged reported its message durable; a batch that fails
 * is refused whole (451 to each), as one failed fsync refuses one
 * message.  Two batches at most: the one with the syncer, and the one
 * filling meanwhile, handed over when the first ends.  Owns the staged
 * records; never replies itself.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "server_clients.h"
#include "server_commit.h"

/* The filling batch goes to the syncer if it is idle; if not, on_synced
 * hands it over when the commit under way ended. */
static void
submit_batch(mx_server *srv)
{
	size_t n = 0;

	if (srv->n_batch == 0 || syncer_busy(srv->syncer))
		return;
	for (size_t i = 0; i < srv->n_batch; i++) {
		struct staged *b = srv->batch[i];

		if (b->conn == NULL) { /* gone before its 250: never durable */
			spool_staged_abort(srv->spool, &b->st);
			free(b);
			continue;
		}
		srv->flight[n] = b;
		srv->job.st[n++] = &b->st;
	}
	srv->n_batch = 0;
	srv->n_flight = srv->job.n = n;
	srv->job.removals = false;
	if (n > 0)
		syncer_submit(srv->syncer, &srv->job);
}

static void
run_batch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	submit_batch(arg);
}

/* The syncer ended a commit: each session hears of it.  The callbacks may
 * stage and even submit the next batch (which reuses srv->job and
 * srv->flight), so what is needed of this one is copied first. */
static void
on_synced(struct sync_job *job, void *arg)
{
	mx_server *srv = arg;
	struct staged *b[SERVER_BATCH_MAX];
	size_t n = srv->n_flight;
	bool ok = job->err == MX_OK;
	char why[sizeof(job->why)];

	memcpy(why, job->why, sizeof(why));
	/* The batch is an array of pointers: copying pointers is the point. */
	memcpy(b, srv->flight, n * sizeof(b[0])); // NOLINT(bugprone-sizeof-expression)
	srv->n_flight = 0;
	srv->st.commits++;
	srv->st.messages += ok ? n : 0;
	if (!ok)
		server_log(srv, "warning: group commit of %zu messages failed: %s", n, why);
	for (size_t i = 0; i < n; i++) {
		if (b[i]->conn != NULL) {
			b[i]->conn->pending = NULL;
			b[i]->done(b[i]->conn, ok, b[i]->st.id, ok ? NULL : why);
		}
		free(b[i]);
	}
	submit_batch(srv);
}

mx_err
commit_setup(mx_server *srv)
{
	mx_err err;

	if (srv->commit_ev == NULL &&
	    (srv->commit_ev = event_new(srv->base, -1, 0, run_batch, srv)) == NULL)
		return MX_ERR_NOMEM;
	if (srv->syncer == NULL &&
	    (err = syncer_new(srv->base, srv->spool, on_synced, srv, &srv->syncer)) != MX_OK)
		return err;
	return MX_OK;
}

void
commit_teardown(mx_server *srv)
{
	syncer_free(srv->syncer); /* reports the commit under way first */
	srv->syncer = NULL;
	for (size_t i = 0; i < srv->n_batch; i++) {
		spool_staged_abort(srv->spool, &srv->batch[i]->st);
		free(srv->batch[i]);
	}
	srv->n_batch = 0;
	if (srv->commit_ev != NULL)
		event_free(srv->commit_ev);
	srv->commit_ev = NULL;
}

bool
commit_add(mx_server *srv, struct sconn *c, struct spool_entry *e,
    void (*done)(struct sconn *, bool, const char *, const char *), const char **why)
{
	struct staged *s;

	if (srv->n_batch >= SERVER_BATCH_MAX) { /* full: it goes as soon as it can */
		syncer_wait(srv->syncer);
		submit_batch(srv);
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		*why = "out of memory";
		return false;
	}
	if (spool_stage(srv->spool, e, &s->st, why) != MX_OK) {
		free(s);
		return false;
	}
	s->conn = c;
	s->done = done;
	c->pending = s;
	srv->batch[srv->n_batch++] = s;
	if (srv->n_batch == 1)
		event_active(srv->commit_ev, 0, 0);
	return true;
}

void
commit_forget(struct sconn *c)
{
	if (c->pending != NULL)
		c->pending->conn = NULL;
	c->pending = NULL;
}
