/*
 * check.c - mx_check, the entry point: the object, its settings, the
 * start of a run and the getters.  A run gathers facts in check_live.c
 * (DNS, probes) or check_zone.c (a zone file); the rules of
 * check_rules.c and check_policy.c add findings to the list of
 * check_findings.c.  The check owns its findings; they live until the
 * next run or _free.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_findings.h"
#include "check_live.h"
#include "check_zone.h"
#include "grow.h"
#include "tls.h"
#include "why.h"

#define DEFAULT_TIMEOUT_MS 30000

/* Every id a check can report: mx-checks(7) documents each. */
static const char *const known_ids[] = {
	"mx-missing",
	"null-mx-mixed",
	"null-mx-preference",
	"mx-ip-literal",
	"mx-cname",
	"mx-no-address",
	"mx-bad-hostname",
	"mx-duplicate",
	"mx-single-host",
	"mx-address-private",
	"mx-ttl-low",
	"mx-ttl-mismatch",
	"mx-inconsistent",
	"smtp-unreachable",
	"smtp-banner-error",
	"smtp-slow",
	"smtp-no-starttls",
	"tls-handshake-failed",
	"tls-cert-invalid",
	"ptr-missing",
	"ptr-mismatch",
	"spf-missing",
	"spf-invalid",
	"dmarc-missing",
	"dmarc-invalid",
	"mta-sts-invalid",
	"tlsrpt-invalid",
	"dane-tlsa-insecure",
	"dane-mismatch",
	"dnssec-bogus",
	"tls-cert-expiring",
};

bool
mx_check_id_known(const char *id)
{
	if (id == NULL)
		return false;
	for (size_t i = 0; i < sizeof(known_ids) / sizeof(known_ids[0]); i++)
		if (strcmp(id, known_ids[i]) == 0)
			return true;
	return false;
}

mx_err
mx_check_new(mx_check **out, mx_resolver *resolver)
{
	mx_check *c;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MX_ERR_NOMEM;
	if ((c->findings = calloc(CHECK_FINDINGS_MAX, sizeof(*c->findings))) == NULL) {
		free(c);
		return MX_ERR_NOMEM;
	}
	c->resolver = resolver;
	c->smtp = true;
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	c->cert_warn_days = CHECK_CERT_WARN_DAYS;
	c->cert_error_days = CHECK_CERT_ERROR_DAYS;
	*out = c;
	return MX_OK;
}

/* Settings are copied field by field: the strings are the model's to free. */
mx_err
mx_check_new_like(mx_check **out, const mx_check *model)
{
	mx_check *c;
	mx_err err;

	if (out == NULL || model == NULL)
		return MX_ERR_INVALID;
	if ((err = mx_check_new(&c, model->resolver)) != MX_OK)
		return err;
	c->smtp = model->smtp;
	c->timeout_ms = model->timeout_ms;
	c->cert_warn_days = model->cert_warn_days;
	c->cert_error_days = model->cert_error_days;
	c->private_ok = model->private_ok;
	c->n_nets = model->n_nets;
	memcpy(c->nets, model->nets, sizeof(c->nets));
	c->n_ignore = model->n_ignore;
	memcpy(c->ignore, model->ignore, sizeof(c->ignore));
	c->probe_cache = model->probe_cache;
	if (string_replace(&c->ca_file, model->ca_file) != MX_OK ||
	    string_replace(&c->helo, model->helo) != MX_OK) {
		mx_check_free(c);
		return MX_ERR_NOMEM;
	}
	*out = c;
	return MX_OK;
}

void
mx_check_share_probes(mx_check *c, mx_check_probes *probes)
{
	c->probe_cache = probes;
}

mx_err
mx_check_set_cert_days(mx_check *c, unsigned warning_days, unsigned error_days)
{
	if (c == NULL || (warning_days != 0 && error_days > warning_days))
		return MX_ERR_INVALID;
	c->cert_warn_days = warning_days;
	c->cert_error_days = error_days;
	return MX_OK;
}

/* "10.0.0.0/8", "fd00::/8" or a bare address (all its bits). */
static bool
parse_net(const char *text, struct check_net *n)
{
	char addr[INET6_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long bits;

	if (len == 0 || len >= sizeof(addr))
		return false;
	memcpy(addr, text, len);
	addr[len] = '\0';
	memset(n, 0, sizeof(*n));
	n->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(n->family, addr, n->bytes) != 1)
		return false;
	n->bits = n->family == AF_INET ? 32 : 128;
	if (slash == NULL)
		return true;
	if (slash[1] < '0' || slash[1] > '9')
		return false;
	bits = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || bits > n->bits)
		return false;
	n->bits = (unsigned)bits;
	return true;
}

mx_err
mx_check_allow_private(mx_check *c, const char *network)
{
	struct check_net n;

	if (c == NULL)
		return MX_ERR_INVALID;
	if (network == NULL) {
		c->private_ok = true;
		return MX_OK;
	}
	if (!parse_net(network, &n) || c->n_nets == CHECK_NETS_MAX)
		return MX_ERR_INVALID;
	c->nets[c->n_nets++] = n;
	return MX_OK;
}

void
mx_check_free(mx_check *c)
{
	if (c == NULL)
		return;
	check_live_cancel(c->live);
	free(c->findings);
	free(c->ca_file);
	free(c->helo);
	free(c);
}

void
mx_check_set_smtp(mx_check *c, bool on)
{
	c->smtp = on;
}

mx_err
mx_check_set_timeout_ms(mx_check *c, unsigned ms)
{
	if (c == NULL || ms == 0)
		return MX_ERR_INVALID;
	c->timeout_ms = ms;
	return MX_OK;
}

/* Loaded once here, so that a file without a certificate is a configuration
 * error now rather than a TLS failure blamed on every MX host. */
mx_err
mx_check_set_ca_file(mx_check *c, const char *path, mx_why *why)
{
	struct tls_client *t = NULL;
	mx_err err;

	why_clear(why);
	if (c == NULL)
		return why_set(why, MX_ERR_INVALID, "no check (NULL)");
	if (path != NULL && (err = tls_client_new(&t, path)) != MX_OK)
		return tls_client_why(err, path, why);
	tls_client_free(t);
	return string_replace(&c->ca_file, path);
}

mx_err
mx_check_set_helo(mx_check *c, const char *name)
{
	return c == NULL || name == NULL ? MX_ERR_INVALID : string_replace(&c->helo, name);
}

mx_err
mx_check_ignore(mx_check *c, const char *id)
{
	if (c == NULL || !mx_check_id_known(id))
		return MX_ERR_INVALID;
	if (check_ignored(c, id))
		return MX_OK;
	if (c->n_ignore == CHECK_IGNORE_MAX)
		return MX_ERR_INVALID;
	snprintf(c->ignore[c->n_ignore++], CHECK_ID_MAX, "%s", id);
	return MX_OK;
}

mx_err
mx_check_zone(mx_check *c, const char *path, const char *origin, mx_why *why)
{
	mx_why scratch;

	if (why == NULL)
		why = &scratch;
	why_clear(why);
	if (c == NULL || path == NULL || c->live != NULL)
		return why_set(why, MX_ERR_INVALID,
		    "no check or no path (NULL), or a live "
		    "run under way");
	check_reset(c);
	c->zone_mode = true;
	return check_zone_run(c, path, origin, why->text, sizeof(why->text));
}

mx_err
mx_check_start(mx_check *c, const char *domain, mx_check_cb cb, void *arg, mx_why *why)
{
	char canon[MX_DOMAIN_MAX + 1];
	mx_err err;

	why_clear(why);
	if (c == NULL || domain == NULL || c->resolver == NULL || c->live != NULL)
		return why_set(why, MX_ERR_INVALID,
		    "no check, no domain or no resolver "
		    "(NULL), or a run under way");
	if ((err = mx_domain_from_arg(domain, canon, why)) != MX_OK)
		return err;
	check_reset(c);
	c->zone_mode = false;
	c->cb = cb;
	c->cb_arg = arg;
	snprintf(c->domain, sizeof(c->domain), "%s", canon);
	return check_live_start(c, canon, why);
}

static void
run_done(mx_check *c, void *arg)
{
	(void)c;
	*(bool *)arg = true;
}

mx_err
mx_check_run(mx_check *c, const char *domain, mx_why *why)
{
	bool done = false;
	mx_err err;

	if ((err = mx_check_start(c, domain, run_done, &done, why)) != MX_OK)
		return err;
	while (!done)
		if ((err = mx_resolver_run_once(c->resolver)) != MX_OK)
			return why_set(why, err, "the event loop failed");
	return MX_OK;
}

const char *
mx_check_domain(const mx_check *c)
{
	return c->domain;
}

bool
mx_check_tempfail(const mx_check *c)
{
	return c->tempfail;
}

const char *
mx_check_tempfail_reason(const mx_check *c)
{
	return c->tempfail_why;
}

size_t
mx_check_finding_count(const mx_check *c)
{
	return c->n_findings;
}

const mx_finding *
mx_check_finding(const mx_check *c, size_t i)
{
	return i < c->n_findings ? &c->findings[i] : NULL;
}

mx_severity
mx_check_worst(const mx_check *c)
{
	mx_severity worst = MX_SEVERITY_INFO;

	for (size_t i = 0; i < c->n_findings; i++)
		if (c->findings[i].severity > worst)
			worst = c->findings[i].severity;
	return worst;
}

size_t
mx_check_untested_count(const mx_check *c)
{
	return c->n_untested;
}

const char *
mx_check_untested_test(const mx_check *c, size_t i)
{
	return i < c->n_untested ? c->untested[i].test : "";
}

const char *
mx_check_untested_reason(const mx_check *c, size_t i)
{
	return i < c->n_untested ? c->untested[i].reason : "";
}

const char *
mx_finding_id(const mx_finding *f)
{
	return f->id;
}

mx_severity
mx_finding_severity(const mx_finding *f)
{
	return f->severity;
}

const char *
mx_finding_message(const mx_finding *f)
{
	return f->message;
}

unsigned
mx_finding_line(const mx_finding *f)
{
	return f->line;
}

size_t
mx_finding_evidence_count(const mx_finding *f)
{
	return f->n_evidence;
}

const char *
mx_finding_evidence(const mx_finding *f, size_t i)
{
	return i < f->n_evidence ? f->evidence[i] : "";
}

const char *
mx_severity_name(mx_severity s)
{
	switch (s) {
	case MX_SEVERITY_ERROR: return "error";
	case MX_SEVERITY_WARNING: return "warning";
	case MX_SEVERITY_NOTICE: return "notice";
	case MX_SEVERITY_INFO: return "info";
	}
	return "info";
}
