/*
 * server_commit.h - group commit: messages staged in tmp/ by any session
 * are made durable together, once per turn of the event loop (and the
 * loop blocks in that sync, so the sessions that finish DATA meanwhile
 * form the next batch: the busier the server, the more one sync covers).
 */
#ifndef MX_SERVER_COMMIT_H
#define MX_SERVER_COMMIT_H

#include "server_state.h"

/* Stages e for c; done is called after the batch's commit.  false with
 * *why when the spool refuses it now (nothing is staged then). */
bool commit_add(mx_server *srv, struct sconn *c, struct spool_entry *e,
    void (*done)(struct sconn *, bool, const char *, const char *), const char **why);
/* The client left before its 250: its staged message is dropped. */
void commit_forget(struct sconn *c);
/* The event that runs the batch; NULL on failure. */
struct event *commit_event_new(mx_server *srv);

#endif
