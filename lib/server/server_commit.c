/*
 * server_commit.c - the batch of staged messages and its commit (see
 * server_commit.h).  The promise kept: a session hears 250 only after
 * spool_commit_staged reported its message durable; a batch that fails
 * is refused whole (451 to each), as one failed fsync refuses one
 * message.  Owns the staged records; never replies itself.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "server_clients.h"
#include "server_commit.h"

static void
run_batch(evutil_socket_t fd, short what, void *arg)
{
	mx_server *srv = arg;
	struct spool_staged *st[SERVER_BATCH_MAX];
	struct staged *b[SERVER_BATCH_MAX];
	size_t n = 0, all = srv->n_batch;
	const char *why = NULL;
	mx_err err;

	(void)fd, (void)what;
	/* The batch is an array of pointers: copying pointers is the point. */
	memcpy(b, srv->batch, all * sizeof(b[0])); // NOLINT(bugprone-sizeof-expression)
	srv->n_batch = 0;
	for (size_t i = 0; i < all; i++) {
		if (b[i]->conn == NULL) /* gone before its 250: never durable */
			spool_staged_abort(srv->spool, &b[i]->st);
		else
			st[n++] = &b[i]->st;
	}
	err = spool_commit_staged(srv->spool, st, n, &why);
	srv->st.commits += n > 0;
	srv->st.messages += err == MX_OK ? n : 0;
	if (err != MX_OK)
		server_log(srv, "warning: group commit of %zu messages failed: %s", n, why);
	for (size_t i = 0; i < all; i++) {
		if (b[i]->conn != NULL) {
			b[i]->conn->pending = NULL;
			b[i]->done(b[i]->conn, err == MX_OK, b[i]->st.id, why);
		}
		free(b[i]);
	}
}

struct event *
commit_event_new(mx_server *srv)
{
	return event_new(srv->base, -1, 0, run_batch, srv);
}

bool
commit_add(mx_server *srv, struct sconn *c, struct spool_entry *e,
    void (*done)(struct sconn *, bool, const char *, const char *), const char **why)
{
	struct staged *s;

	if (srv->n_batch >= SERVER_BATCH_MAX)
		run_batch(-1, 0, srv); /* a full batch goes now */
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
