/*
 * sender.c - mx_sender, how to deliver: its resolver and policy, the HELO
 * name, the TLS policy (the client context made on the first STARTTLS),
 * connection timing, stage timeouts and the deadline.  Settings only: it
 * never connects or sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "route.h"
#include "sender.h"
#include "tls.h"
#include "why.h"

mx_err
mx_sender_new(mx_sender **out, mx_resolver *resolver, const mx_policy *policy)
{
	mx_sender *s;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (resolver == NULL || policy == NULL)
		return MX_ERR_INVALID;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->policy = calloc(1, sizeof(*policy))) == NULL ||
	    policy_copy(s->policy, policy) != MX_OK) {
		if (s != NULL)
			free(s->policy);
		free(s);
		return MX_ERR_NOMEM;
	}
	s->resolver = resolver;
	s->port = SMTP_PORT;
	connect_opts_default(&s->connect);
	smtp_timeouts_default(&s->timeouts);
	if (gethostname(s->helo, sizeof(s->helo) - 1) != 0 || s->helo[0] == '\0')
		snprintf(s->helo, sizeof(s->helo), "localhost");
	*out = s;
	return MX_OK;
}

void
mx_sender_free(mx_sender *s)
{
	if (s == NULL)
		return;
	tls_client_free(s->tls_client);
	free(s->ca_file);
	free(s->sts_dir);
	free(s->lmtp);
	free(s->local);
	mx_policy_free(s->policy);
	free(s);
}

mx_err
mx_sender_set_helo(mx_sender *s, const char *name)
{
	char canon[MX_DOMAIN_MAX + 1];

	if (s == NULL || name == NULL || mx_domain_from_arg(name, canon, NULL) != MX_OK)
		return MX_ERR_INVALID;
	memcpy(s->helo, canon, sizeof(canon));
	return MX_OK;
}

struct tls_client *
sender_tls_client(void *arg)
{
	mx_sender *s = arg;

	if (s->tls_client == NULL && !s->tls_failed &&
	    tls_client_new(&s->tls_client, s->ca_file) != MX_OK)
		s->tls_failed = true; /* a STARTTLS then fails this host for now */
	return s->tls_client;
}

/*
 * A CA file is checked here, so a typo is a configuration error now and
 * not a deferral later; the system store is read only when first needed.
 */
mx_err
mx_sender_set_tls(mx_sender *s, mx_tls_policy policy, const char *ca_file, mx_why *why)
{
	struct tls_client *c = NULL;
	char *copy = NULL;
	mx_err err;

	why_clear(why);
	if (s == NULL || policy > MX_TLS_VERIFY)
		return why_set(why, MX_ERR_INVALID, "no sender, or an unknown TLS policy");
	if (ca_file != NULL) {
		if ((err = tls_client_new(&c, ca_file)) != MX_OK)
			return tls_client_why(err, ca_file, why);
		if ((copy = strdup(ca_file)) == NULL) {
			tls_client_free(c);
			return why_set(why, MX_ERR_NOMEM, "out of memory");
		}
	}
	tls_client_free(s->tls_client);
	free(s->ca_file);
	free(s->sts_dir);
	s->tls_client = c;
	s->ca_file = copy;
	s->tls_failed = false;
	s->tls = policy;
	return MX_OK;
}

mx_err
mx_sender_set_connect(mx_sender *s, unsigned attempt_delay_ms, unsigned connect_timeout_ms)
{
	if (s == NULL || connect_timeout_ms == 0 || connect_timeout_ms > CONNECT_MAX_MS ||
	    attempt_delay_ms > CONNECT_MAX_MS)
		return MX_ERR_INVALID;
	s->connect.attempt_delay_ms = attempt_delay_ms;
	s->connect.connect_timeout_ms = connect_timeout_ms;
	s->connect.preference_window_ms = attempt_delay_ms;
	if (s->connect.deadline_ms < connect_timeout_ms)
		s->connect.deadline_ms = connect_timeout_ms;
	return MX_OK;
}

mx_err
mx_sender_set_timeout(mx_sender *s, mx_smtp_stage stage, unsigned ms)
{
	unsigned *slot[] = {
		[MX_SMTP_GREETING] = &s->timeouts.greeting,
		[MX_SMTP_EHLO] = &s->timeouts.ehlo,
		[MX_SMTP_STARTTLS] = &s->timeouts.starttls,
		[MX_SMTP_MAIL] = &s->timeouts.mail,
		[MX_SMTP_RCPT] = &s->timeouts.rcpt,
		[MX_SMTP_DATA] = &s->timeouts.data,
		[MX_SMTP_BLOCK] = &s->timeouts.block,
		[MX_SMTP_DOT] = &s->timeouts.final_dot,
	};

	if ((unsigned)stage >= sizeof(slot) / sizeof(slot[0]) || ms == 0 || ms > CONNECT_MAX_MS)
		return MX_ERR_INVALID;
	*slot[stage] = ms;
	return MX_OK;
}

mx_err
mx_sender_set_deadline(mx_sender *s, unsigned ms)
{
	if (s == NULL || ms > CONNECT_MAX_MS)
		return MX_ERR_INVALID;
	s->deadline_ms = ms;
	return MX_OK;
}

void
mx_sender_set_transcript(mx_sender *s, mx_transcript_fn fn, void *arg)
{
	s->transcript = fn;
	s->transcript_arg = arg;
}

/* ---- MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) ---- */

mx_err
mx_sender_set_sts(mx_sender *s, bool on, const char *dir)
{
	char *copy = NULL;

	if (s == NULL)
		return MX_ERR_INVALID;
	if (dir != NULL && (copy = strdup(dir)) == NULL)
		return MX_ERR_NOMEM;
	free(s->sts_dir);
	s->sts_dir = copy;
	s->sts_off = !on;
	return MX_OK;
}

void
sender_set_cache(mx_sender *s, struct conncache *cache)
{
	s->cache = cache;
}

mx_err
mx_sender_set_lmtp(mx_sender *s, const char *target, mx_why *why)
{
	struct lmtp_target *t;
	mx_err err;

	why_clear(why);
	if (s == NULL || target == NULL)
		return why_set(why, MX_ERR_INVALID, "a NULL argument");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return why_set(why, MX_ERR_NOMEM, "out of memory");
	if ((err = lmtp_target_parse(target, t, why)) != MX_OK) {
		free(t);
		return err;
	}
	free(s->lmtp);
	s->lmtp = t;
	return MX_OK;
}

mx_err
mx_sender_add_local_domain(mx_sender *s, const char *domain)
{
	char canon[MX_DOMAIN_MAX + 1];
	char(*list)[MX_DOMAIN_MAX + 1];

	if (s == NULL || domain == NULL || mx_domain_from_arg(domain, canon, NULL) != MX_OK)
		return MX_ERR_INVALID;
	if (sender_local(s, canon))
		return MX_OK;
	if ((list = realloc(s->local, (s->n_local + 1) * sizeof(*list))) == NULL)
		return MX_ERR_NOMEM;
	memcpy(list[s->n_local++], canon, sizeof(canon));
	s->local = list;
	return MX_OK;
}

bool
sender_local(const mx_sender *s, const char *domain)
{
	for (size_t i = 0; s->lmtp != NULL && i < s->n_local; i++)
		if (strcasecmp(s->local[i], domain) == 0)
			return true;
	return false;
}
