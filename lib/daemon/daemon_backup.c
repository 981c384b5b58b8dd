/*
 * daemon_backup.c - mail this host holds as a backup MX goes to the
 * domain's better MX hosts as soon as one is back, not a backoff later:
 * every backup_interval seconds, for each backup domain whose mail waits
 * because no server answered, a reachability probe (verify_probe.c:
 * connect, EHLO, QUIT, to the hosts better than this one) runs, and when
 * a host answers the destination is released (daemon_release: its hold
 * ends and its entries go at once).  It never delivers itself.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"
#include "daemon_backup.h"
#include "name.h"
#include "sender.h"
#include "verify_probe.h"

#define BACKUP_MAX          256
#define BACKUP_PROBE_MAX_MS 10000 /* one probe, DNS included */

mx_err
mx_daemon_add_backup_domain(mx_daemon *d, const char *domain)
{
	char folded[MX_DOMAIN_MAX + 1];
	void *p;

	if (d == NULL || domain == NULL || strlen(domain) > MX_DOMAIN_MAX ||
	    d->n_backups >= BACKUP_MAX)
		return MX_ERR_INVALID;
	snprintf(folded, sizeof(folded), "%s", domain);
	name_fold(folded);
	if (name_check_hostname(folded) != NULL)
		return MX_ERR_INVALID;
	if ((p = reallocarray(d->backups, d->n_backups + 1, sizeof(*d->backups))) == NULL)
		return MX_ERR_NOMEM;
	d->backups = p;
	memset(&d->backups[d->n_backups], 0, sizeof(d->backups[0]));
	memcpy(d->backups[d->n_backups].domain, folded, sizeof(folded));
	d->backups[d->n_backups++].d = d;
	return MX_OK;
}

mx_err
mx_daemon_set_backup_probe(mx_daemon *d, unsigned interval_s)
{
	if (d == NULL || interval_s == 0 || interval_s > 3600)
		return MX_ERR_INVALID;
	d->backup_interval = interval_s;
	return MX_OK;
}

static void
on_probe(const struct verify_result *r, void *arg)
{
	struct dbackup *b = arg;
	char why[MX_DOMAIN_MAX + 64];

	b->probe = NULL;
	if (r->answer != VERIFY_ACCEPTED)
		return;
	snprintf(why, sizeof(why), "better MX host %s answers", r->host);
	daemon_release(b->d, b->domain, why);
}

static void
probe_one(mx_daemon *d, struct dbackup *b)
{
	unsigned ms = d->backup_interval * 1000u;
	struct verify_probe_opts o = { .resolver = d->resolver,
		.policy = d->sender->policy,
		.helo = d->sender->helo[0] ? d->sender->helo : "localhost",
		.port = d->sender->port,
		.deadline_ms = ms < BACKUP_PROBE_MAX_MS ? ms : BACKUP_PROBE_MAX_MS };

	if (b->probe != NULL || d->stopping || !daemon_waiting(d, b->domain))
		return;
	if (verify_probe_start(&o, b->domain, NULL, on_probe, b, &b->probe) != MX_OK)
		daemon_log(d, "qmgr", "warning: cannot probe the better MX hosts of %s", b->domain);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	mx_daemon *d = arg;

	(void)fd, (void)what;
	for (size_t i = 0; i < d->n_backups; i++)
		probe_one(d, &d->backups[i]);
}

mx_err
backup_start(mx_daemon *d)
{
	struct timeval tv = { .tv_sec = d->backup_interval };

	if (d->n_backups == 0)
		return MX_OK;
	if ((d->backup_timer = event_new(d->base, -1, EV_PERSIST, on_tick, d)) == NULL ||
	    event_add(d->backup_timer, &tv) != 0)
		return MX_ERR_NOMEM;
	return MX_OK;
}

void
backup_stop(mx_daemon *d)
{
	if (d->backup_timer != NULL)
		event_free(d->backup_timer);
	d->backup_timer = NULL;
	for (size_t i = 0; i < d->n_backups; i++) {
		verify_probe_cancel(d->backups[i].probe);
		d->backups[i].probe = NULL;
	}
}
