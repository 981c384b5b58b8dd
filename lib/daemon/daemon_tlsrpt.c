/*
 * daemon_tlsrpt.c - the daemon's TLS-RPT reports (RFC 8460 4.1): once
 * shortly after the start (days that ended while it was down), then once
 * a day after UTC midnight plus a random delay of up to an hour (so that
 * the world's senders do not all report at 00:00), the days that are over
 * are reported through the queue (queue/tlsrpt_send.c) on the daemon's own
 * event loop: the lookups of _smtp._tls go through its resolver, and the
 * loop never waits on them.  The queued reports reach the daemon as any
 * new entry does (inotify); https: addresses get theirs POSTed from the
 * same loop.  It never delivers and never writes the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "daemon.h"
#include "daemon_tlsrpt.h"
#include "sender.h"
#include "tlsrpt_send.h"

#define DAY_SECONDS    86400
#define SPREAD_S       3600 /* the random delay after midnight, at most */
#define FIRST_MIN_S    60   /* after the start: the spool settles first */
#define FIRST_SPREAD_S 240

struct daemon_tlsrpt {
	char *submitter, *from;
	unsigned every_s;       /* 0: daily; else every so many seconds (tests) */
	int64_t clock_offset_s; /* added to the clock that says a day is over (tests) */
	bool first_done;
	struct event *timer;
	struct tlsrpt_run *run;
};

static unsigned
spread(unsigned max)
{
	return max > 0 ? arc4random_uniform(max) : 0;
}

/* Seconds until the next run. */
static unsigned
next_delay(const struct daemon_tlsrpt *t)
{
	int64_t now = (int64_t)time(NULL);

	if (t->every_s > 0)
		return t->every_s;
	if (!t->first_done)
		return FIRST_MIN_S + spread(FIRST_SPREAD_S);
	return (unsigned)(DAY_SECONDS - now % DAY_SECONDS) + spread(SPREAD_S);
}

static void
arm(mx_daemon *d)
{
	struct timeval tv = { next_delay(d->tlsrpt), 0 };

	if (evtimer_add(d->tlsrpt->timer, &tv) != 0)
		daemon_log(d, "tlsrpt", "cannot schedule the TLS-RPT reports (event loop)");
}

static void
on_done(mx_err err, unsigned queued, unsigned posted, const mx_why *why, void *arg)
{
	mx_daemon *d = arg;

	d->tlsrpt->run = NULL;
	if (err != MX_OK)
		daemon_log(d, "tlsrpt",
		    "%u TLS-RPT report%s queued, %u posted; some were not (%s: %.300s); they are "
		    "kept for the next run",
		    queued, queued == 1 ? "" : "s", posted, mx_strerror(err), why->text);
	else if (queued > 0 || posted > 0)
		daemon_log(d, "tlsrpt", "%u TLS-RPT report%s queued, %u posted", queued,
		    queued == 1 ? "" : "s", posted);
	if (!d->stopping)
		arm(d);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	mx_daemon *d = arg;
	struct daemon_tlsrpt *t = d->tlsrpt;
	char dir[sizeof(d->dir) + 16];
	struct stat st;
	mx_err err;

	(void)fd;
	(void)what;
	t->first_done = true;
	snprintf(dir, sizeof(dir), "%s/mta-sts", d->dir);
	if (d->stopping || t->run != NULL)
		return;
	if (stat(dir, &st) != 0) { /* nothing recorded yet */
		arm(d);
		return;
	}
	/* https: rua verified as the sender verifies MX hosts (--ca-file) */
	err = tlsrpt_send_start(d->q, d->resolver, dir, t->submitter, t->from, d->sender->ca_file,
	    (int64_t)time(NULL) + t->clock_offset_s, on_done, d, &t->run);
	if (err != MX_OK) {
		daemon_log(d, "tlsrpt", "cannot start the TLS-RPT reports: %s", mx_strerror(err));
		arm(d);
	}
}

mx_err
mx_daemon_set_tlsrpt(
    mx_daemon *d, const char *submitter, const char *from, unsigned every_s, int64_t clock_offset_s)
{
	struct daemon_tlsrpt *t;

	if (d == NULL || (submitter == NULL) != (from == NULL) ||
	    (from != NULL && mx_address_check(from, true, NULL) != MX_OK))
		return MX_ERR_INVALID;
	if (d->tlsrpt != NULL && d->tlsrpt->timer != NULL)
		return MX_ERR_BUSY; /* set before the run */
	daemon_tlsrpt_free(d);
	if (submitter == NULL)
		return MX_OK;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return MX_ERR_NOMEM;
	d->tlsrpt = t;
	t->every_s = every_s;
	t->clock_offset_s = clock_offset_s;
	if ((t->submitter = strdup(submitter)) == NULL || (t->from = strdup(from)) == NULL) {
		daemon_tlsrpt_free(d);
		return MX_ERR_NOMEM;
	}
	return MX_OK;
}

mx_err
daemon_tlsrpt_start(mx_daemon *d)
{
	if (d->tlsrpt == NULL)
		return MX_OK;
	if ((d->tlsrpt->timer = evtimer_new(d->base, on_timer, d)) == NULL)
		return MX_ERR_NOMEM;
	arm(d);
	return MX_OK;
}

void
daemon_tlsrpt_stop(mx_daemon *d)
{
	if (d->tlsrpt == NULL)
		return;
	tlsrpt_send_cancel(d->tlsrpt->run);
	d->tlsrpt->run = NULL;
	if (d->tlsrpt->timer != NULL)
		event_free(d->tlsrpt->timer);
	d->tlsrpt->timer = NULL;
}

void
daemon_tlsrpt_free(mx_daemon *d)
{
	if (d->tlsrpt == NULL)
		return;
	daemon_tlsrpt_stop(d);
	free(d->tlsrpt->submitter);
	free(d->tlsrpt->from);
	free(d->tlsrpt);
	d->tlsrpt = NULL;
}
