/*
 * deliver.c - one message to its recipients along their domains' plans.
 * Per domain: the plan (lookup.c), TLSA records when the plan is DNSSEC-
 * secure (query.c), a staggered connection race over the usable hosts'
 * addresses (connect.c), one SMTP transaction (smtp_session.c); on a
 * temporary failure the race starts again at the next host.  It decides
 * each recipient's fate: sent, bounced (a permanent answer, or a domain
 * that cannot receive mail), or deferred (the plan ran out, or DNS
 * failed for now: never bounced).  It owns the delivery until the
 * caller's callback takes it.  With the sender's connection cache, a job
 * first takes a parked session to its domain (RSET, then the transaction)
 * and parks its own session after a transaction in step; a parked
 * session that turns out dead costs nothing: a fresh race follows.
 * A domain that is final here (sender_local) has no plan: its one address
 * is the LMTP server's (start_lmtp), spoken to in LMTP without TLS, and
 * each recipient's reply after the message is its own.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "mstime.h"
#include "conncache.h"
#include "deliver.h"
#include "deliver_sts.h"
#include "route.h"
#include "strbuf.h"
#include "why.h"
#include "query.h"
#include "resolver.h"

#define MAX_TLSA_PER_HOST 16
#define TLSA_TIMEOUT_MS   10000

struct host_tls {
	bool asked;
	bool failed; /* lookup failed or bogus: the host is unusable */
	struct tls_tlsa recs[MAX_TLSA_PER_HOST];
	uint8_t data[MAX_TLSA_PER_HOST][TLSA_DATA_MAX];
	size_t n;      /* usable records (DANE-TA and DANE-EE) */
	bool unusable; /* secure TLSA records, none usable: encrypt anyway */
};

struct deliver_job {
	mx_delivery *d;
	char domain[MX_DOMAIN_MAX + 1];
	size_t *rcpts; /* indexes into d->rcpts */
	size_t n_rcpts;
	mx_plan *plan;
	struct sockaddr_storage *addrs;
	socklen_t *lens;
	size_t *addr_host; /* plan host of each address */
	const char **addr_text;
	size_t n_addrs, next_addr;
	struct host_tls *tls; /* per plan host, when DANE may apply */
	size_t tlsa_pending;
	struct connect_race *race;
	struct smtp_session *session;
	bool done;
	/* The transaction under way. */
	const char **txn_rcpts;
	size_t *txn_map;
	struct smtp_txn txn;
	size_t host;
	size_t addr;    /* the address of the session under way */
	bool cleartext; /* retrying that address without STARTTLS */
	struct deliver_attempt *attempt;
	char last_reason[SMTP_TEXT_MAX];
	char last_dsn[16];
	/* MTA-STS (deliver_sts.c): the lookup, and its outcome once done. */
	struct sts_lookup *sts;
	const struct sts_outcome *sts_out;
	/* The connection cache (sender->cache). */
	bool reused;       /* the session under way came from the cache */
	bool no_cache;     /* a cached session failed: connect afresh */
	double opened;     /* when the session's connection was made */
	char local_ip[46]; /* the session's own address (TLS-RPT sending-mta-ip) */
	/* Final delivery: the LMTP server instead of a plan (NULL: MX). */
	const struct lmtp_target *lmtp;
};

static void start_race(struct deliver_job *job);
static enum tls_policy tls_policy_for(const struct deliver_job *job, size_t h);
static void sts_tell(struct deliver_job *job);
static bool sts_none_usable(struct deliver_job *job);
static void sts_note_failure(struct deliver_job *job, const struct smtp_session_result *res);

/* Plan host h's name, or the LMTP server's for a local domain. */
static const char *
host_name(const struct deliver_job *job, size_t h)
{
	return job->lmtp != NULL ? job->lmtp->text : job->plan->hosts[h].name;
}

static void
deliver_transcript(char dir, const char *line, size_t len, void *arg)
{
	struct deliver_job *job = arg;
	mx_sender *sender = job->d->sender;

	sender->transcript(host_name(job, job->host), dir, line, len, sender->transcript_arg);
}

double
deliver_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
settle(struct deliver_job *job, size_t r, mx_rcpt_status status, const char *dsn, const char *text)
{
	struct deliver_rcpt *rc = &job->d->rcpts[r];

	if (!rc->pending)
		return;
	rc->pending = false;
	rc->status = status;
	rc->delay = deliver_now() - job->d->started;
	snprintf(rc->dsn, sizeof(rc->dsn), "%s", dsn);
	snprintf(rc->text, sizeof(rc->text), "%s", text);
}

static void
settle_pending(struct deliver_job *job, mx_rcpt_status status, const char *dsn, const char *text)
{
	for (size_t i = 0; i < job->n_rcpts; i++)
		settle(job, job->rcpts[i], status, dsn, text);
}

static void
on_hand_over(evutil_socket_t fd, short what, void *arg)
{
	mx_delivery *d = arg;

	(void)fd;
	(void)what;
	resolver_lookup_add(d->sender->resolver, -1);
	d->cb(d, d->arg);
}

/* The caller gets the delivery from the event loop, never from inside
 * mx_send_start, even when every domain failed at once. */
static void
hand_over(mx_delivery *d)
{
	struct timeval now = { 0, 0 };

	/* Every recipient has its answer and every connection is closed. */
	if (d->jobs_left > 0 || d->sessions_open > 0 || d->handed_over)
		return;
	d->handed_over = true;
	if (d->deadline != NULL)
		evtimer_del(d->deadline);
	if (event_base_once(
		resolver_base(d->sender->resolver), -1, EV_TIMEOUT, on_hand_over, d, &now) != 0)
		on_hand_over(-1, 0, d);
}

static void
job_done(struct deliver_job *job)
{
	mx_delivery *d = job->d;

	job->race = NULL;
	job->session = NULL;
	job->done = true;
	d->jobs_left--;
	hand_over(d);
}

static void
on_session_closed(void *arg)
{
	struct deliver_job *job = arg;

	job->d->sessions_open--;
	hand_over(job->d);
}

/* RFC 3463 codes for what DNS said, when no server said anything. */
static void
settle_by_plan(struct deliver_job *job)
{
	static const struct {
		mx_status status;
		const char *dsn;
	} codes[] = {
		{ MX_STATUS_NXDOMAIN, "5.1.2" },     /* bad destination system */
		{ MX_STATUS_NULL_MX, "5.1.10" },     /* RFC 7505 section 4.2 */
		{ MX_STATUS_NO_MAIL_HOST, "5.4.4" }, /* unable to route */
		{ MX_STATUS_LOOP, "5.4.6" },         /* routing loop */
		{ MX_STATUS_TEMPFAIL, "4.4.3" },     /* directory server failure */
	};
	const mx_plan *p = job->plan;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].status == p->status)
			settle_pending(job,
			    mx_status_permanent(p->status) ? MX_RCPT_BOUNCED : MX_RCPT_DEFERRED,
			    codes[i].dsn, p->reason);
}

/* Whether this host of the plan is to be tried, and with which TLS. */
static bool
host_usable(const struct deliver_job *job, size_t h)
{
	const struct host_tls *t = job->tls ? &job->tls[h] : NULL;

	if (job->plan->hosts[h].status != MX_HOST_OK)
		return false;
	if (t != NULL && t->failed)
		return false;
	/* MTA-STS enforce: only hosts its policy lists (DANE hosts excepted). */
	if (!dsts_host_allowed(job->sts_out, job->plan->hosts[h].name, t != NULL && t->n > 0))
		return false;
	/* DANE required: only hosts with usable, secure TLSA records. */
	return job->d->sender->tls != MX_TLS_DANE || (t != NULL && t->n > 0);
}

static mx_err
build_addresses(struct deliver_job *job)
{
	const mx_plan *p = job->plan;
	size_t n = 0;

	for (size_t h = 0; h < p->n_hosts; h++)
		n += host_usable(job, h) ? p->hosts[h].n_addrs : 0;
	job->addrs = calloc(n ? n : 1, sizeof(*job->addrs));
	job->lens = calloc(n ? n : 1, sizeof(*job->lens));
	job->addr_host = calloc(n ? n : 1, sizeof(*job->addr_host));
	job->addr_text = calloc(n ? n : 1, sizeof(*job->addr_text));
	if (!job->addrs || !job->lens || !job->addr_host || !job->addr_text)
		return MX_ERR_NOMEM;
	for (size_t h = 0; h < p->n_hosts; h++) {
		if (!host_usable(job, h))
			continue;
		for (size_t a = 0; a < p->hosts[h].n_addrs; a++) {
			job->lens[job->n_addrs] = mx_host_address_sockaddr(
			    &p->hosts[h], a, job->d->sender->port, &job->addrs[job->n_addrs]);
			job->addr_host[job->n_addrs] = h;
			job->addr_text[job->n_addrs++] = p->hosts[h].addrs[a].text;
		}
	}
	return MX_OK;
}

static void
record_attempt(struct deliver_job *job, size_t addr, enum connect_outcome outcome, unsigned ms)
{
	mx_delivery *d = job->d;
	struct deliver_attempt *a;

	job->attempt = NULL;
	if (d->n_attempts >= DELIVER_MAX_ATTEMPTS)
		return;
	a = &d->attempts[d->n_attempts++];
	memset(a, 0, sizeof(*a));
	a->job = (size_t)(job - d->jobs);
	snprintf(a->host, sizeof(a->host), "%s", host_name(job, job->addr_host[addr]));
	snprintf(a->address, sizeof(a->address), "%s", job->addr_text[addr]);
	a->connect = outcome;
	a->connect_ms = ms;
	job->attempt = a;
}

/* The first address of the next host after the current one. */
static size_t
next_host_start(const struct deliver_job *job, size_t addr)
{
	size_t h = job->addr_host[addr];

	while (addr < job->n_addrs && job->addr_host[addr] == h)
		addr++;
	return addr;
}

static size_t
pending_count(const struct deliver_job *job)
{
	size_t n = 0;

	for (size_t i = 0; i < job->n_rcpts; i++)
		n += job->d->rcpts[job->rcpts[i]].pending;
	return n;
}

/* The plan is exhausted: whoever is still pending waits for a retry. */
static void
give_up(struct deliver_job *job)
{
	settle_pending(job, MX_RCPT_DEFERRED, job->last_dsn[0] ? job->last_dsn : "4.4.1",
	    job->last_reason[0] ? job->last_reason : "no MX host could be reached");
	job_done(job);
}

static void
continue_or_finish(struct deliver_job *job)
{
	if (pending_count(job) == 0) {
		job_done(job);
		return;
	}
	if (job->next_addr >= job->n_addrs) {
		give_up(job);
		return;
	}
	start_race(job);
}

static const char *
dsn_of(const char *enhanced, int class)
{
	if (enhanced[0] != '\0')
		return enhanced;
	return class == 2 ? "2.0.0" : class == 5 ? "5.0.0" : "4.0.0";
}

/*
 * Remembers why the latest host failed for now.  A deferral's DSN is a
 * 4.x.x even when the host refused itself with a 5xx greeting (RFC 3463:
 * the class says what happened to the message, not to one host).
 */
static void
note_temporary(struct deliver_job *job, const char *text, const char *enhanced)
{
	if (text != NULL)
		snprintf(job->last_reason, sizeof(job->last_reason), "%s", text);
	snprintf(job->last_dsn, sizeof(job->last_dsn), "%s", dsn_of(enhanced, 4));
	job->last_dsn[0] = '4';
}

static void
set_relay(struct deliver_job *job, size_t r)
{
	struct deliver_rcpt *rc = &job->d->rcpts[r];

	snprintf(rc->relay_host, sizeof(rc->relay_host), "%s", host_name(job, job->host));
	/* The LMTP server's name is its address: logged alone (send.c). */
	snprintf(rc->relay_address, sizeof(rc->relay_address), "%s",
	    job->attempt && job->lmtp == NULL ? job->attempt->address : "");
}

/*
 * Who is done after this transaction: on COMPLETED the 2xx are sent (and
 * under LMTP a 2xx after the dot even if the session failed later); on
 * any outcome a 5xx to RCPT bounces that recipient; on PERMANENT the
 * others bounce with the transaction's reply; 4xx and untried stay.
 */
static void
apply_result(struct deliver_job *job, const struct smtp_session_result *res)
{
	for (size_t i = 0; i < res->n_rcpts; i++) {
		const struct smtp_rcpt_result *rr = &res->rcpts[i];
		size_t r = job->txn_map[i];
		set_relay(job, r);
		job->d->rcpts[r].reached |= rr->class == 2 || rr->class == 4;
		if (rr->class == 5)
			settle(job, r, MX_RCPT_BOUNCED, dsn_of(rr->enhanced, 5), rr->text);
		else if (rr->class == 2 && (res->outcome == SMTP_COMPLETED || rr->final))
			settle(job, r, MX_RCPT_SENT, dsn_of(rr->enhanced, 2), rr->text);
		else if (rr->class != 4 && res->outcome == SMTP_PERMANENT)
			settle(job, r, MX_RCPT_BOUNCED, dsn_of(res->enhanced, 5), res->text);
		else if (rr->class == 4)
			note_temporary(job, rr->text, rr->enhanced);
	}
}

/*
 * Under "may", a server whose TLS handshake fails gets one more
 * connection, without STARTTLS, as Postfix does: unauthenticated TLS was
 * never promised, and a broken TLS stack must not hold mail forever.
 * Never for encrypt, verify or DANE.
 */
static bool
retry_in_cleartext(struct deliver_job *job, const struct smtp_session_result *res)
{
	if (res->outcome != SMTP_TRY_NEXT || res->stage == NULL || job->cleartext ||
	    strcmp(res->stage, "TLS handshake") != 0 || pending_count(job) == 0 ||
	    tls_policy_for(job, job->host) != TLS_MAY)
		return false;
	job->cleartext = true;
	job->next_addr = job->addr;
	start_race(job);
	return true;
}

/* ---- the connection cache ---- */

/* Inside the done callback: a session in step goes to the cache. */
static void
park_session(struct deliver_job *job, struct smtp_session *s, const struct smtp_session_result *res)
{
	struct conncache_peer peer = { .transactions = res->transactions, .opened = job->opened };

	if (!res->reusable || job->d->sender->cache == NULL)
		return;
	snprintf(peer.host, sizeof(peer.host), "%s", host_name(job, job->host));
	snprintf(peer.address, sizeof(peer.address), "%s", job->addr_text[job->addr]);
	snprintf(peer.local, sizeof(peer.local), "%s", job->local_ip);
	if (conncache_put(job->d->sender->cache, job->domain, s, &peer))
		job->d->sessions_open--; /* the cache hears of its end, not us */
}

/* A cached session that died before any recipient was answered. */
static bool
retry_fresh(struct deliver_job *job, const struct smtp_session_result *res)
{
	if (!job->reused || res->outcome != SMTP_TRY_NEXT)
		return false;
	for (size_t i = 0; i < res->n_rcpts; i++)
		if (res->rcpts[i].class != 0)
			return false;
	job->reused = false;
	job->no_cache = true;
	job->next_addr = 0;
	free(job->txn_rcpts);
	free(job->txn_map);
	job->txn_rcpts = NULL;
	job->txn_map = NULL;
	start_race(job);
	return true;
}

static mx_err start_session(struct deliver_job *job, int fd, struct smtp_session *reuse);

/* Takes a parked session to this job's domain, at an address of its plan. */
static bool
try_cached(struct deliver_job *job)
{
	mx_sender *snd = job->d->sender;
	struct conncache_peer peer;
	struct smtp_session *s;
	size_t i = 0;

	if (snd->cache == NULL || job->no_cache || job->cleartext || job->next_addr != 0)
		return false;
	while ((s = conncache_take(snd->cache, job->domain, &peer)) != NULL) {
		for (i = 0; i < job->n_addrs; i++)
			if (strcmp(job->addr_text[i], peer.address) == 0 &&
			    strcasecmp(host_name(job, job->addr_host[i]), peer.host) == 0)
				break;
		if (i < job->n_addrs)
			break;
		smtp_session_quit(s); /* the plan no longer has that host */
	}
	if (s == NULL)
		return false;
	record_attempt(job, i, CONNECT_OK, 0);
	job->host = job->addr_host[i];
	job->addr = i;
	job->next_addr = next_host_start(job, i);
	job->opened = peer.opened;
	snprintf(job->local_ip, sizeof(job->local_ip), "%s", peer.local);
	job->reused = true;
	if (start_session(job, -1, s) != MX_OK) {
		smtp_session_quit(s);
		free(job->txn_rcpts);
		free(job->txn_map);
		job->txn_rcpts = NULL;
		job->txn_map = NULL;
		job->reused = false;
		job->no_cache = true;
		job->next_addr = 0;
		return false;
	}
	return true;
}

static void
on_session(const struct smtp_session_result *res, void *arg)
{
	struct deliver_job *job = arg;
	struct deliver_attempt *a = job->attempt;

	park_session(job, job->session, res);
	job->session = NULL;
	if (retry_fresh(job, res))
		return;
	job->reused = false;
	if (a != NULL) {
		a->stage = res->stage;
		a->code = res->code;
		snprintf(a->text, sizeof(a->text), "%s", res->text);
		/* A transaction ended by RCPT replies: show the first of them. */
		if (res->code == 0 && res->text[0] == '\0' && res->n_rcpts > 0) {
			a->code = res->rcpts[0].code;
			snprintf(a->text, sizeof(a->text), "%s", res->rcpts[0].text);
		}
		a->tls = res->tls;
		if (res->tls)
			snprintf(a->tls_desc, sizeof(a->tls_desc), "%s %s", res->tls_facts.protocol,
			    res->tls_facts.cipher);
	}
	if (res->outcome == SMTP_TRY_NEXT) {
		/* Precisions keep the parts inside the buffer, cut rather than lost. */
		snprintf(job->last_reason, sizeof(job->last_reason),
		    "host %.200s said: %.250s (in reply to %.30s)", host_name(job, job->host),
		    res->text, res->stage ? res->stage : "the connection");
		note_temporary(job, NULL, res->enhanced);
		sts_note_failure(job, res);
	}
	if (job->lmtp == NULL) /* no MTA-STS or TLS-RPT for the mail store */
		dsts_record_session(job->d->sender, job->domain, job->sts_out,
		    host_name(job, job->host), job->attempt ? job->attempt->address : "",
		    job->local_ip, tls_policy_for(job, job->host), job->cleartext, res);
	apply_result(job, res);
	free(job->txn_rcpts);
	free(job->txn_map);
	job->txn_rcpts = NULL;
	job->txn_map = NULL;
	if (retry_in_cleartext(job, res))
		return;
	job->cleartext = false;
	continue_or_finish(job);
}

static enum tls_policy
tls_policy_for(const struct deliver_job *job, size_t h)
{
	const struct host_tls *t = job->tls ? &job->tls[h] : NULL;

	if (job->lmtp != NULL) /* no STARTTLS is ever tried (start_session) */
		return TLS_MAY;
	if (t != NULL && t->n > 0)
		return TLS_DANE;
	if (t != NULL && t->unusable && job->d->sender->tls != MX_TLS_VERIFY)
		return dsts_tls(job->sts_out, TLS_ENCRYPT);
	switch (job->d->sender->tls) {
	case MX_TLS_ENCRYPT: return dsts_tls(job->sts_out, TLS_ENCRYPT);
	case MX_TLS_VERIFY: return TLS_VERIFY;
	default: return dsts_tls(job->sts_out, TLS_MAY);
	}
}

/* The transaction for the job's recipients still pending. */
static mx_err
build_txn(struct deliver_job *job)
{
	mx_delivery *d = job->d;
	size_t n = 0;

	job->txn_rcpts = calloc(job->n_rcpts, sizeof(*job->txn_rcpts));
	job->txn_map = calloc(job->n_rcpts, sizeof(*job->txn_map));
	if (job->txn_rcpts == NULL || job->txn_map == NULL)
		return MX_ERR_NOMEM;
	for (size_t i = 0; i < job->n_rcpts; i++) {
		struct deliver_rcpt *rc = &d->rcpts[job->rcpts[i]];
		if (!rc->pending)
			continue;
		job->txn_map[n] = job->rcpts[i];
		job->txn_rcpts[n++] = rc->address;
	}
	job->txn = (struct smtp_txn){
		.helo = d->sender->helo,
		.mail_from = d->mail_from,
		.rcpts = job->txn_rcpts,
		.n_rcpts = n,
		.payload = &d->payload,
		.size = d->size,
		.needs_8bitmime = d->needs_8bitmime,
		.needs_smtputf8 = d->needs_smtputf8,
	};
	return MX_OK;
}

static mx_err
start_session(struct deliver_job *job, int fd, struct smtp_session *reuse)
{
	mx_delivery *d = job->d;
	struct smtp_session_opts opts = { 0 };

	if (build_txn(job) != MX_OK)
		return MX_ERR_NOMEM;
	opts.timeouts = d->sender->timeouts;
	opts.peer_name = host_name(job, job->host);
	opts.tls = tls_policy_for(job, job->host);
	/* The cleartext retry offers no STARTTLS at all, nor does LMTP to the
	 * mail store (a unix socket, or a host of this site's own network). */
	opts.tls_client = job->cleartext || job->lmtp != NULL ? NULL : sender_tls_client;
	opts.lmtp = job->lmtp != NULL;
	opts.tls_ctx = d->sender;
	if (job->tls != NULL) {
		opts.tlsa = job->tls[job->host].recs;
		opts.n_tlsa = job->tls[job->host].n;
	}
	opts.transcript = d->sender->transcript ? deliver_transcript : NULL;
	opts.transcript_arg = job;
	opts.closed = on_session_closed;
	opts.keep = d->sender->cache != NULL;
	if (reuse != NULL) {
		if (smtp_session_next(reuse, &job->txn, &opts, on_session, job) != MX_OK)
			return MX_ERR_NOMEM;
		job->session = reuse;
	} else if (smtp_session_start(resolver_base(d->sender->resolver), fd, &job->txn, &opts,
		       on_session, job, &job->session) != MX_OK) {
		return MX_ERR_NOMEM;
	}
	d->sessions_open++;
	return MX_OK;
}

/*
 * Why no address connected, in the words the JSON attempts use
 * (connect_outcome_name): each outcome once, in the order met, so that the
 * log line and the JSON tell one story (an IPv6-only host without an IPv6
 * route is "unreachable" in both, never "refused").
 */
static void
connect_outcomes(const struct connect_result *res, char *out, size_t size)
{
	unsigned seen = 0;

	out[0] = '\0';
	for (size_t i = 0; i < res->n; i++) {
		enum connect_outcome o = res->attempts[i].outcome;
		if (o == CONNECT_NOT_TRIED || o == CONNECT_OK || (seen & (1u << o)))
			continue;
		seen |= 1u << o;
		if (out[0] != '\0')
			strncat(out, ", ", size - strlen(out) - 1);
		strncat(out, connect_outcome_name(o), size - strlen(out) - 1);
	}
	if (out[0] == '\0') /* nothing was tried before the deadline */
		snprintf(out, size, "%s", connect_failure_name(res->failure));
}

/* The connection's own address as text ("" when the OS will not say). */
static void
local_address(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss = { 0 }; /* the analyzer cannot see getsockname fill it */
	socklen_t len = sizeof(ss);
	const void *a = NULL;

	out[0] = '\0';
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET)
		a = &((const struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
	if (a == NULL || inet_ntop(ss.ss_family, a, out, (socklen_t)size) == NULL)
		out[0] = '\0';
}

static void
on_connect(const struct connect_result *res, void *arg)
{
	struct deliver_job *job = arg;
	size_t base = job->next_addr;

	job->race = NULL;
	/* Every address tried, the abandoned ones too (a black-holed primary
	 * shows up as "cancelled" once the backup won). */
	for (size_t i = 0; i < res->n; i++)
		if (res->attempts[i].outcome != CONNECT_NOT_TRIED &&
		    res->attempts[i].outcome != CONNECT_OK)
			record_attempt(job, base + i, res->attempts[i].outcome,
			    res->attempts[i].ended_ms - res->attempts[i].started_ms);
	if (res->fd < 0) {
		char why[96];
		connect_outcomes(res, why, sizeof(why));
		snprintf(job->last_reason, sizeof(job->last_reason),
		    job->lmtp != NULL ? "connecting to the LMTP server %s failed (%s)"
				      : "connecting to the MX hosts%.0s failed (%s)",
		    job->lmtp != NULL ? job->lmtp->text : "", why);
		snprintf(job->last_dsn, sizeof(job->last_dsn), "4.4.1");
		job->next_addr = job->n_addrs;
		give_up(job);
		return;
	}
	record_attempt(job, base + res->index, CONNECT_OK,
	    res->attempts[res->index].ended_ms - res->attempts[res->index].started_ms);
	job->host = job->addr_host[base + res->index];
	/* A cleartext retry that reached another host is over. */
	if (job->cleartext && base + res->index != job->addr)
		job->cleartext = false;
	job->addr = base + res->index;
	job->next_addr = next_host_start(job, base + res->index);
	job->opened = deliver_now();
	local_address(res->fd, job->local_ip, sizeof(job->local_ip));
	if (start_session(job, res->fd, NULL) != MX_OK) {
		snprintf(job->last_reason, sizeof(job->last_reason), "out of memory");
		continue_or_finish(job);
	}
}

static void
start_race(struct deliver_job *job)
{
	size_t from = job->next_addr;

	if (try_cached(job))
		return;
	if (connect_race_start(resolver_base(job->d->sender->resolver), job->addrs + from,
		job->lens + from, job->n_addrs - from, &job->d->sender->connect, on_connect, job,
		&job->race) != MX_OK) {
		snprintf(job->last_reason, sizeof(job->last_reason),
		    "cannot open connections (out of sockets or memory)");
		give_up(job);
	}
}

static void
start_delivery(struct deliver_job *job)
{
	/* DNS answered after the deadline: nothing more is started. */
	if (job->d->deadline_passed) {
		settle_pending(job, MX_RCPT_DEFERRED, "4.4.7",
		    "the delivery's deadline passed before the MX hosts answered");
		job_done(job);
		return;
	}
	sts_tell(job);
	if (build_addresses(job) != MX_OK) {
		settle_pending(job, MX_RCPT_DEFERRED, "4.3.0", "out of memory");
		job_done(job);
		return;
	}
	if (job->n_addrs == 0 && sts_none_usable(job))
		return;
	if (job->n_addrs == 0) {
		/* DANE required, or every host's TLSA lookup failed. */
		snprintf(job->last_reason, sizeof(job->last_reason),
		    "no MX host of %s can "
		    "be used under the TLS policy (DANE requires DNSSEC-secure TLSA records)",
		    job->domain);
		snprintf(job->last_dsn, sizeof(job->last_dsn), "4.7.5");
		give_up(job);
		return;
	}
	start_race(job);
}

/* RFC 7672 2.2: only DANE-TA(2) and DANE-EE(3) records count for SMTP. */
static void
keep_tlsa(struct host_tls *t, const struct answer *a)
{
	for (size_t i = 0; i < a->n_tlsa && t->n < MAX_TLSA_PER_HOST; i++) {
		const struct answer_tlsa *r = &a->tlsa[i];
		if ((r->usage != 2 && r->usage != 3) || r->too_long || r->len == 0)
			continue;
		memcpy(t->data[t->n], r->data, r->len);
		t->recs[t->n] =
		    (struct tls_tlsa){ r->usage, r->selector, r->mtype, t->data[t->n], r->len };
		t->n++;
	}
	/* RFC 7672 2.2: records there but none usable still demand TLS,
	 * unauthenticated (Postfix's "encrypt" for this case). */
	if (a->n_tlsa > 0 && tls_tlsa_usable(t->recs, t->n) == 0) {
		t->n = 0;
		t->unusable = true;
	}
}

struct tlsa_ask {
	struct deliver_job *job;
	size_t host;
};

static void
on_tlsa(const struct answer *a, void *arg)
{
	struct tlsa_ask *ask = arg;
	struct deliver_job *job = ask->job;
	struct host_tls *t = &job->tls[ask->host];

	/* RFC 7672 2.2.2: a failed or bogus TLSA lookup makes the host
	 * unusable; an insecure answer, or none, means no DANE. */
	if (a->security == SEC_BOGUS || a->kind == ANSWER_TEMPFAIL)
		t->failed = true;
	else if (a->security == SEC_SECURE && a->kind == ANSWER_RECORDS)
		keep_tlsa(t, a);
	free(ask);
	if (--job->tlsa_pending == 0)
		start_delivery(job);
}

/* DANE applies when the MX answer and the host's addresses are secure. */
static void
fetch_tlsa(struct deliver_job *job)
{
	const mx_plan *p = job->plan;
	char name[NAME_TEXT_MAX + 16];

	if ((job->tls = calloc(p->n_hosts, sizeof(*job->tls))) == NULL) {
		start_delivery(job);
		return;
	}
	job->tlsa_pending = 1; /* held until every question is out */
	for (size_t h = 0; h < p->n_hosts; h++) {
		struct tlsa_ask *ask;
		if (p->hosts[h].status != MX_HOST_OK || !p->hosts[h].addrs_secure)
			continue;
		if ((ask = calloc(1, sizeof(*ask))) == NULL)
			continue;
		*ask = (struct tlsa_ask){ job, h };
		snprintf(name, sizeof(name), "_%u._tcp.%s", job->d->sender->port, p->hosts[h].name);
		job->tlsa_pending++;
		if (oneshot_start(job->d->sender->resolver, name, RR_TYPE_TLSA, TLSA_TIMEOUT_MS,
			on_tlsa, ask, NULL) != MX_OK) {
			job->tls[h].failed = true;
			job->tlsa_pending--;
			free(ask);
		}
	}
	if (--job->tlsa_pending == 0)
		start_delivery(job);
}

static void
after_sts(struct deliver_job *job)
{
	const mx_plan *plan = job->plan;

	if (plan->mx_security == SEC_SECURE) {
		fetch_tlsa(job);
		return;
	}
	start_delivery(job);
}

/* ---- MTA-STS hooks (deliver_sts.c has the rules) ---- */

static void
on_sts(struct sts_lookup *l, void *arg)
{
	struct deliver_job *job = arg;

	job->sts_out = sts_lookup_outcome(l);
	dsts_record_fetch(job->d->sender, job->domain, job->sts_out);
	after_sts(job);
}

/* The policy first (RFC 8461 5: before any MX host is tried). */
static void
start_sts(struct deliver_job *job)
{
	mx_sender *s = job->d->sender;

	if (s->sts_off ||
	    sts_lookup_start(s->resolver, job->domain, s->sts_dir, s->ca_file,
		s->policy->timeout_ms, (int64_t)time(NULL), on_sts, job, &job->sts) != MX_OK) {
		after_sts(job);
		return;
	}
}

/* -v says which rule decided, once the hosts and their DANE are known. */
static void
sts_tell(struct deliver_job *job)
{
	const mx_plan *p = job->plan;
	const char *hosts[64];
	bool dane[64];
	size_t n = 0;

	for (size_t h = 0; h < p->n_hosts && n < 64; h++, n++) {
		hosts[n] = p->hosts[h].name;
		dane[n] = job->tls != NULL && job->tls[h].n > 0;
	}
	dsts_say(job->d->sender, job->domain, job->sts_out, hosts, dane, n);
}

/* Enforce left no host: defer with 4.7.5, never in clear text. */
static bool
sts_none_usable(struct deliver_job *job)
{
	const mx_plan *p = job->plan;

	if (job->sts_out == NULL || job->sts_out->mode != STS_MODE_ENFORCE)
		return false;
	for (size_t h = 0; h < p->n_hosts; h++)
		if (p->hosts[h].status == MX_HOST_OK &&
		    !dsts_host_allowed(job->sts_out, p->hosts[h].name, false))
			dsts_record_unlisted(
			    job->d->sender, job->domain, job->sts_out, p->hosts[h].name);
	snprintf(job->last_reason, sizeof(job->last_reason),
	    "no MX host of %s is listed in its "
	    "MTA-STS policy (mode enforce, id %s)",
	    job->domain, job->sts_out->policy->id);
	snprintf(job->last_dsn, sizeof(job->last_dsn), "4.7.5");
	give_up(job);
	return true;
}

/* Under enforce, a host that failed on TLS defers with 4.7.5 (RFC 3463:
 * cryptographic failure), and the reason names the policy. */
static void
sts_note_failure(struct deliver_job *job, const struct smtp_session_result *res)
{
	char text[SMTP_TEXT_MAX];
	struct strbuf sb;

	if (job->sts_out == NULL || job->sts_out->mode != STS_MODE_ENFORCE ||
	    tls_policy_for(job, job->host) == TLS_DANE || !dsts_tls_failure(res))
		return;
	strbuf_init(&sb, text, sizeof(text));
	strbuf_printf(
	    &sb, "MTA-STS policy of %s (enforce) not met: %s", job->domain, job->last_reason);
	memcpy(job->last_reason, text, sizeof(text));
	snprintf(job->last_dsn, sizeof(job->last_dsn), "4.7.5");
}

/* A local domain: one address, the LMTP server's, and no plan. */
static void
start_lmtp(struct deliver_job *job)
{
	const struct lmtp_target *t = job->d->sender->lmtp;

	job->lmtp = t;
	job->addrs = calloc(1, sizeof(*job->addrs));
	job->lens = calloc(1, sizeof(*job->lens));
	job->addr_host = calloc(1, sizeof(*job->addr_host));
	job->addr_text = calloc(1, sizeof(*job->addr_text));
	if (!job->addrs || !job->lens || !job->addr_host || !job->addr_text) {
		settle_pending(job, MX_RCPT_DEFERRED, "4.3.0", "out of memory");
		job_done(job);
		return;
	}
	memcpy(job->addrs, &t->addr, sizeof(t->addr));
	job->lens[0] = t->len;
	job->addr_text[0] = t->text;
	job->n_addrs = 1;
	snprintf(job->last_dsn, sizeof(job->last_dsn), "4.4.1");
	start_race(job);
}

static void
on_plan(mx_plan *plan, void *arg)
{
	struct deliver_job *job = arg;

	job->plan = plan;
	if (plan->status != MX_STATUS_OK) {
		settle_by_plan(job);
		job_done(job);
		return;
	}
	start_sts(job);
}

/* RFC 1870 SIZE: the message as the sender wrote it, without the dots
 * stuffing added at the start of lines (RFC 5321 4.5.2). */
static size_t
message_size(const uint8_t *data, size_t len)
{
	size_t dots = 0;

	for (size_t i = 0; i < len; i++)
		if (data[i] == '.' && (i == 0 || data[i - 1] == '\n'))
			dots++;
	return len - dots;
}

/* The domain of a forward-path, canonical, for grouping. */
static mx_err
rcpt_domain(const char *address, char out[MX_DOMAIN_MAX + 1])
{
	const char *at = strrchr(address, '@');

	return at == NULL ? MX_ERR_BAD_ADDRESS : mx_domain_from_arg(at + 1, out, NULL);
}

static struct deliver_job *
job_for(mx_delivery *d, const char *domain)
{
	for (size_t j = 0; j < d->n_jobs; j++)
		if (strcmp(d->jobs[j].domain, domain) == 0)
			return &d->jobs[j];
	d->jobs[d->n_jobs].d = d;
	memcpy(d->jobs[d->n_jobs].domain, domain, strlen(domain) + 1);
	return &d->jobs[d->n_jobs++];
}

/* One job per domain, in the order the domains first appear. */
static mx_err
group(mx_delivery *d)
{
	for (size_t i = 0; i < d->n_rcpts; i++) {
		struct deliver_job *job = job_for(d, d->rcpts[i].domain);
		size_t *p = realloc(job->rcpts, (job->n_rcpts + 1) * sizeof(*p));
		if (p == NULL)
			return MX_ERR_NOMEM;
		job->rcpts = p;
		job->rcpts[job->n_rcpts++] = i;
		d->rcpts[i].job = (size_t)(job - d->jobs);
	}
	return MX_OK;
}

static mx_err
fill(mx_delivery *d, const char *mail_from, const char *const *rcpts, size_t n,
    const struct payload *src)
{
	mx_err err;

	d->rcpts = calloc(n, sizeof(*d->rcpts));
	d->jobs = calloc(n, sizeof(*d->jobs));
	d->attempts = calloc(DELIVER_MAX_ATTEMPTS, sizeof(*d->attempts));
	if (!d->rcpts || !d->jobs || !d->attempts)
		return MX_ERR_NOMEM;
	if ((err = payload_init(
		 &d->payload, src->head, src->head_len, src->fd, src->off, src->file_len)) != MX_OK)
		return err;
	d->n_rcpts = n;
	if (strlen(mail_from) >= sizeof(d->mail_from))
		return MX_ERR_INVALID;
	memcpy(d->mail_from, mail_from, strlen(mail_from) + 1);
	for (size_t i = 0; i < n; i++) {
		struct deliver_rcpt *rc = &d->rcpts[i];
		if (strlen(rcpts[i]) >= sizeof(rc->address))
			return MX_ERR_INVALID;
		memcpy(rc->address, rcpts[i], strlen(rcpts[i]) + 1);
		if (rcpt_domain(rcpts[i], rc->domain) != MX_OK)
			return MX_ERR_BAD_ADDRESS;
		rc->pending = true;
		rc->status = MX_RCPT_DEFERRED;
	}
	return group(d);
}

/*
 * The delivery's deadline: connections and sessions under way are
 * abandoned, and whoever is still pending is deferred.  DNS lookups keep
 * their own deadline (the policy's) and finish by themselves.
 */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	mx_delivery *d = arg;

	(void)fd;
	(void)what;
	d->deadline_passed = true;
	for (size_t j = 0; j < d->n_jobs; j++) {
		struct deliver_job *job = &d->jobs[j];
		if (job->done || (job->race == NULL && job->session == NULL))
			continue;
		connect_race_cancel(job->race);
		smtp_session_cancel(job->session);
		settle_pending(job, MX_RCPT_DEFERRED, "4.4.7",
		    "the delivery's deadline passed before the MX hosts answered");
		job_done(job);
	}
}

static mx_err
arm_deadline(mx_delivery *d)
{
	unsigned ms = d->sender->deadline_ms;
	struct timeval tv = ms_timeval(ms);

	if (ms == 0)
		return MX_OK;
	d->deadline = evtimer_new(resolver_base(d->sender->resolver), on_deadline, d);
	if (d->deadline == NULL || evtimer_add(d->deadline, &tv) != 0)
		return MX_ERR_SYSTEM;
	return MX_OK;
}

mx_err
mx_send_start(mx_sender *sender, const char *mail_from, const char *const *rcpts, size_t n_rcpts,
    const uint8_t *data, size_t len, unsigned flags, mx_send_cb cb, void *arg, mx_why *why)
{
	/* Only read: payload_init copies the head. */
	struct payload src = { .head = (uint8_t *)(uintptr_t)data, .head_len = len, .fd = -1 };

	why_clear(why);
	if (data == NULL)
		return why_set(why, MX_ERR_INVALID, "no message data (NULL)");
	return deliver_start(
	    sender, mail_from, rcpts, n_rcpts, &src, message_size(data, len), flags, cb, arg, why);
}

mx_err
deliver_start(mx_sender *sender, const char *mail_from, const char *const *rcpts, size_t n_rcpts,
    const struct payload *src, size_t size, unsigned flags, mx_send_cb cb, void *arg, mx_why *why)
{
	mx_delivery *d;
	mx_err err;

	if (sender == NULL || mail_from == NULL || rcpts == NULL || n_rcpts == 0 || src == NULL ||
	    cb == NULL || (flags & ~(MX_SEND_8BITMIME | MX_SEND_SMTPUTF8)) != 0)
		return why_set(why, MX_ERR_INVALID,
		    "a NULL argument, no recipient, "
		    "or an unknown flag");
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	d->payload.fd = -1;
	d->sender = sender;
	d->cb = cb;
	d->arg = arg;
	d->needs_8bitmime = (flags & MX_SEND_8BITMIME) != 0;
	d->needs_smtputf8 = (flags & MX_SEND_SMTPUTF8) != 0;
	d->size = size;
	d->started = deliver_now();
	/* A broken resolver set-up (trust anchor, resolv.conf) is the
	 * caller's to report, not a reason to defer every recipient. */
	if ((err = resolver_ready(sender->resolver, why)) != MX_OK ||
	    (err = fill(d, mail_from, rcpts, n_rcpts, src)) != MX_OK ||
	    (err = arm_deadline(d)) != MX_OK) {
		mx_delivery_free(d);
		return why_first(why, err, "cannot start the delivery: %s%s", mx_strerror(err),
		    err == MX_ERR_INVALID ? " (an address of 512 octets or more)" : "");
	}
	d->jobs_left = d->n_jobs;
	/* mx_resolver_run keeps running until the delivery is handed over. */
	resolver_lookup_add(sender->resolver, 1);
	for (size_t j = 0; j < d->n_jobs; j++) {
		struct deliver_job *job = &d->jobs[j];
		if (sender_local(sender, job->domain)) {
			start_lmtp(job);
			continue;
		}
		if (mx_route_start(sender->resolver, sender->policy, job->domain, on_plan, job,
			NULL) != MX_OK) {
			settle_pending(
			    job, MX_RCPT_DEFERRED, "4.3.0", "cannot start the MX lookup");
			job_done(job);
		}
	}
	return MX_OK;
}

void
mx_delivery_free(mx_delivery *d)
{
	if (d == NULL)
		return;
	for (size_t j = 0; d->jobs != NULL && j < d->n_jobs; j++) {
		struct deliver_job *job = &d->jobs[j];
		mx_plan_free(job->plan);
		sts_lookup_free(job->sts);
		free(job->rcpts);
		free(job->addrs);
		free(job->lens);
		free(job->addr_host);
		free(job->addr_text);
		free(job->tls);
		free(job->txn_rcpts);
		free(job->txn_map);
	}
	if (d->deadline != NULL)
		event_free(d->deadline);
	free(d->jobs);
	free(d->rcpts);
	free(d->attempts);
	payload_clear(&d->payload);
	free(d);
}
