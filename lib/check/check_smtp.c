/*
 * check_smtp.c - the mail-service part of a live `mx check`: hands every
 * MX address to the probe (probe.c: connect, greeting, EHLO, STARTTLS,
 * certificate, DANE, QUIT; never mail) and turns what each address said
 * into smtp-*, tls-* and dane-mismatch findings.  When every address
 * fails to connect in the same way (all time out, all unreachable), the
 * likelier cause is the checking host's own network (port 25 blocked):
 * that is listed as untested, not reported as the domain's fault.  A slow
 * greeting (a tarpit) is slow, not down.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check_findings.h"
#include "check_probes.h"
#include "check_smtp.h"
#include "check_ticket.h"

#define SLOW_GREETING_MS 3000

/* The results are in l->probe_results already (check_probes.c). */
static void
on_probed(bool complete, void *arg)
{
	struct ticket *t = arg;
	struct check_live *l = t->l;

	l->probed = complete;
	live_ticket_done(t);
}

static unsigned
min_ms(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

void
check_smtp_start(struct check_live *l)
{
	mx_check *c = l->c;
	struct probe_config cfg = { 0 };
	struct ticket *t;
	struct shared_probe *p;

	if (!c->smtp) {
		check_add_untested(c, "smtp", "turned off (--no-smtp)");
		return;
	}
	for (size_t i = 0; i < l->facts.n_targets; i++) {
		const struct check_target *tg = &l->facts.targets[i];
		const struct live_target *lt = &l->targets[i];
		for (size_t j = 0; j < tg->n_addrs && l->n_probes < LIVE_PROBES_MAX; j++) {
			struct probe_target *pt = &l->probe_targets[l->n_probes];
			memset(pt, 0, sizeof(*pt));
			snprintf(pt->host, sizeof(pt->host), "%s", tg->name);
			pt->addr = tg->addrs[j];
			pt->port = 25;
			pt->tlsa = lt->n_tlsa ? lt->tlsa : NULL;
			pt->n_tlsa = lt->n_tlsa;
			l->probe_target_of[l->n_probes++] = i;
		}
	}
	if (l->n_probes == 0)
		return;
	cfg.connect_timeout_ms = min_ms(5000, c->timeout_ms / 4 + 1);
	cfg.reply_timeout_ms = min_ms(15000, c->timeout_ms / 2 + 1);
	cfg.tls_timeout_ms = min_ms(8000, c->timeout_ms / 3 + 1);
	cfg.max_parallel = 8;
	cfg.ca_file = c->ca_file;
	cfg.helo = c->helo;
	if ((t = live_ticket_new(l, TICKET_PROBE, 0, 0)) == NULL)
		return;
	if (shared_probe_start(c->probe_cache, l->base, &cfg, l->probe_targets, l->n_probes,
		l->probe_results, on_probed, t, &p) != MX_OK) {
		t->kind = TICKET_FREE;
		l->pending--;
		check_add_untested(c, "smtp", "could not start the SMTP probes");
		return;
	}
	t->handle = p;
	l->probe_started = true;
}

static const char *
connect_text(const struct probe_result *r)
{
	switch (r->connect) {
	case PROBE_CONNECTED: return "connected";
	case PROBE_REFUSED: return "connection refused";
	case PROBE_TIMEOUT: return "connection timed out";
	case PROBE_UNREACHABLE: return "network unreachable";
	}
	return "failed";
}

/* Every address failed to connect, all in the same way (not refusals). */
static bool
blocked_from_here(const struct check_live *l)
{
	for (size_t i = 0; i < l->n_probes; i++) {
		const struct probe_result *r = &l->probe_results[i];
		if (r->connect == PROBE_CONNECTED || r->connect == PROBE_REFUSED ||
		    r->connect != l->probe_results[0].connect)
			return false;
	}
	return true;
}

static void
judge_connect(mx_check *c, const struct probe_target *pt, const struct probe_result *r)
{
	struct mx_finding *fd;

	if (r->connect != PROBE_CONNECTED) {
		fd = check_add(c, "smtp-unreachable", MX_SEVERITY_ERROR, 0,
		    "the MX host %s does not accept connections on port 25 at %s (%s): "
		    "senders wait and retry; start the mail server or fix its firewall",
		    pt->host, pt->addr.text, connect_text(r));
		check_evidence(fd, "connect %s:25: %s", pt->addr.text, connect_text(r));
		return;
	}
	if (r->banner_code == 0) {
		fd = check_add(c, "smtp-unreachable", MX_SEVERITY_ERROR, 0,
		    "the MX host %s at %s accepts connections on port 25 but sends no "
		    "greeting (%s)",
		    pt->host, pt->addr.text, r->error[0] ? r->error : "none came");
		check_evidence(fd, "connect %s:25: connected; greeting: %s", pt->addr.text,
		    r->error[0] ? r->error : "none");
	}
}

static void
judge_session(
    mx_check *c, const struct probe_target *pt, const struct probe_result *r, bool dane_usable)
{
	struct mx_finding *fd;

	if (r->banner_code >= 400) {
		fd = check_add(c, "smtp-banner-error", MX_SEVERITY_ERROR, 0,
		    "the MX host %s at %s greets with %d: it refuses mail (%s); fix the "
		    "server or remove it from the MX records",
		    pt->host, pt->addr.text, r->banner_code,
		    r->banner_code >= 500 ? "for good" : "for now");
		check_evidence(fd, "%s:25 <<< %s", pt->addr.text, r->banner);
		return;
	}
	if (r->banner_code > 0 && r->banner_ms >= SLOW_GREETING_MS) {
		fd = check_add(c, "smtp-slow", MX_SEVERITY_NOTICE, 0,
		    "the MX host %s at %s waits %u s or more before its greeting (a "
		    "tarpit, or an overloaded server); impatient senders may give up",
		    pt->host, pt->addr.text, r->banner_ms / 1000);
		/* whole seconds, rounded down: the same text on every run */
		check_evidence(
		    fd, "%s:25 <<< %s (after %u s)", pt->addr.text, r->banner, r->banner_ms / 1000);
	}
	if (r->ehlo_ok && !r->starttls_offered && dane_usable) {
		/* RFC 7672 2.2: with usable TLSA records, no TLS means no delivery */
		fd = check_add(c, "smtp-no-starttls", MX_SEVERITY_ERROR, 0,
		    "the MX host %s at %s publishes DANE TLSA records but does not offer "
		    "STARTTLS: DANE senders will not deliver to it; enable TLS in the "
		    "mail server (or withdraw the TLSA records)",
		    pt->host, pt->addr.text);
		check_evidence(fd, "%s:25 <<< %s", pt->addr.text, r->banner);
		check_evidence(fd, "EHLO: %d, no STARTTLS in the extensions", r->ehlo_code);
	} else if (r->ehlo_ok && !r->starttls_offered) {
		fd = check_add(c, "smtp-no-starttls", MX_SEVERITY_WARNING, 0,
		    "the MX host %s at %s does not offer STARTTLS: mail to it travels "
		    "in clear text; enable TLS in the mail server",
		    pt->host, pt->addr.text);
		check_evidence(fd, "%s:25 <<< %s", pt->addr.text, r->banner);
		check_evidence(fd, "EHLO: %d, no STARTTLS in the extensions", r->ehlo_code);
	}
}

static void
judge_tls(
    mx_check *c, const struct probe_target *pt, const struct probe_result *r, bool dane_usable)
{
	struct mx_finding *fd;

	if (r->tls_tried && !r->tls_ok) {
		fd = check_add(c, "tls-handshake-failed", MX_SEVERITY_ERROR, 0,
		    "the MX host %s at %s offers STARTTLS but the TLS handshake fails "
		    "(%s): senders that require TLS cannot deliver",
		    pt->host, pt->addr.text, r->tls_error[0] ? r->tls_error : "no reason given");
		check_evidence(fd, "%s:25 STARTTLS: %s", pt->addr.text, r->tls_error);
		return;
	}
	if (!r->tls_ok)
		return;
	if (r->dane_checked && !r->dane_match && dane_usable) {
		fd = check_add(c, "dane-mismatch", MX_SEVERITY_ERROR, 0,
		    "no TLSA record of %s matches the certificate served at %s: "
		    "DANE senders refuse to deliver; update the TLSA records (or the "
		    "certificate)",
		    pt->host, pt->addr.text);
		check_evidence(fd, "certificate subject: %s", r->tls.subject);
		check_evidence(fd, "issuer: %s", r->tls.issuer);
	}
	/* DANE senders authenticate by the TLSA records alone (RFC 7672 3.1). */
	if ((r->cert_expired || r->cert_untrusted || r->cert_name_mismatch) && !dane_usable) {
		fd = check_add(c, "tls-cert-invalid", MX_SEVERITY_WARNING, 0,
		    "the certificate of the MX host %s at %s is %s: senders that "
		    "verify (MTA-STS) refuse it; install one from a trusted CA for %s",
		    pt->host, pt->addr.text,
		    r->cert_expired             ? "expired"
			: r->cert_name_mismatch ? "for another name"
						: "not trusted",
		    pt->host);
		check_evidence(fd, "subject: %s", r->tls.subject);
		check_evidence(fd, "issuer: %s", r->tls.issuer);
		if (r->not_after[0])
			check_evidence(fd, "not after: %s", r->not_after);
		if (r->tls.verify_error && r->tls.verify_error[0])
			check_evidence(fd, "verification: %s", r->tls.verify_error);
	}
}

/*
 * A certificate that still verifies but runs out soon: check_smtp -D's
 * warning.  Whole days left (rounded down), so the text changes once a day,
 * not on every run.  An expired one is tls-cert-invalid's.
 */
static void
judge_expiry(mx_check *c, const struct probe_target *pt, const struct probe_result *r,
    bool dane_usable, long long now)
{
	struct mx_finding *fd;
	long long days;
	mx_severity sev;

	if (!r->tls_ok || r->cert_expired || dane_usable || r->not_after_unix == 0 ||
	    c->cert_warn_days == 0)
		return;
	days = (r->not_after_unix - now) / 86400;
	if (days < 0 || days >= (long long)c->cert_warn_days)
		return;
	sev = days < (long long)c->cert_error_days ? MX_SEVERITY_ERROR : MX_SEVERITY_WARNING;
	fd = check_add(c, "tls-cert-expiring", sev, 0,
	    "the certificate of the MX host %s at %s expires in %lld day(s), on %s: "
	    "renew it before senders that verify (MTA-STS) refuse it",
	    pt->host, pt->addr.text, days, r->not_after);
	check_evidence(fd, "subject: %s", r->tls.subject);
	check_evidence(fd, "issuer: %s", r->tls.issuer);
	check_evidence(fd, "not after: %s", r->not_after);
}

void
check_smtp_judge(struct check_live *l)
{
	mx_check *c = l->c;
	long long now = (long long)time(NULL);

	if (!l->probed) {
		if (l->probe_started)
			check_add_untested(c, "smtp", "the probes did not finish in time");
		return;
	}
	if (blocked_from_here(l)) {
		check_add_untested(c, "smtp",
		    "port 25 could not be reached on any of the "
		    "%zu MX address(es), all failing the same way (%s): probably blocked "
		    "from this host, not down",
		    l->n_probes, connect_text(&l->probe_results[0]));
		return;
	}
	for (size_t i = 0; i < l->n_probes; i++) {
		const struct probe_target *pt = &l->probe_targets[i];
		const struct probe_result *r = &l->probe_results[i];
		const struct live_target *lt = &l->targets[l->probe_target_of[i]];
		bool dane_usable = lt->n_tlsa > 0 && lt->tlsa_security == SEC_SECURE &&
		    l->mx_security == SEC_SECURE;
		judge_connect(c, pt, r);
		if (r->connect != PROBE_CONNECTED || r->banner_code == 0)
			continue;
		judge_session(c, pt, r, dane_usable);
		judge_tls(c, pt, r, dane_usable);
		judge_expiry(c, pt, r, dane_usable, now);
	}
}
