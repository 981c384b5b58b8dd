/*
 * server_commit.h - group commit: messages staged in tmp/ by any session
 * are made durable together by the spool's syncer thread (syncer.h),
 * while the loop goes on reading and answering the other sessions; the
 * sessions that finish DATA during one commit form the next (the busier
 * the server, the more one sync covers).
 */
#ifndef MX_SERVER_COMMIT_H
#define MX_SERVER_COMMIT_H

#include "server_state.h"

/* Stages e for c; done is called after the batch's commit.  false with
 * *why when the spool refuses it now (nothing is staged then). */
bool commit_add(mx_server *srv, struct sconn *c, struct spool_entry *e,
    void (*done)(struct sconn *, bool, const char *, const char *), const char **why);
/* The client left before its 250: its staged message is dropped (or, when
 * its commit is under way already, committed and left to the queue). */
void commit_forget(struct sconn *c);
/* The batch's event and the syncer, once the spool is open; MX_ERR_NOMEM
 * or MX_ERR_SYSTEM. */
mx_err commit_setup(mx_server *srv);
/* Waits for the commit under way, drops what is staged, frees the rest:
 * after the sessions were freed, before the spool is closed. */
void commit_teardown(mx_server *srv);

#endif
