/*
 * deliver_sts.c - MTA-STS's rules for one delivery and its TLS-RPT
 * records (deliver_sts.h).  Decisions over an sts_outcome and a session
 * result; the only I/O is tlsrpt_record's append under the sender's
 * state directory (none without one).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "deliver_sts.h"
#include "strbuf.h"
#include "tlsrpt.h"

static bool
enforcing(const struct sts_outcome *o)
{
	return o != NULL && o->mode == STS_MODE_ENFORCE;
}

bool
dsts_host_allowed(const struct sts_outcome *o, const char *host, bool dane)
{
	return !enforcing(o) || dane || sts_host_matches(o, host);
}

enum tls_policy
dsts_tls(const struct sts_outcome *o, enum tls_policy p)
{
	return enforcing(o) && p != TLS_DANE ? TLS_VERIFY : p;
}

bool
dsts_tls_failure(const struct smtp_session_result *res)
{
	if (res->outcome != SMTP_TRY_NEXT || res->tls || res->stage == NULL)
		return false;
	return strcmp(res->stage, "STARTTLS") == 0 || strcmp(res->stage, "TLS handshake") == 0 ||
	    strcmp(res->stage, "TLS") == 0 || strstr(res->text, "STARTTLS") != NULL;
}

static void
say(const mx_sender *s, const char *domain, const char *text)
{
	if (s->transcript != NULL)
		s->transcript(domain, '*', text, strlen(text), s->transcript_arg);
}

void
dsts_say(const mx_sender *s, const char *domain, const struct sts_outcome *o,
    const char *const *hosts, const bool *dane, size_t n)
{
	char line[600];
	struct strbuf sb;

	if (s->transcript == NULL || o == NULL)
		return;
	strbuf_init(&sb, line, sizeof(line));
	strbuf_printf(&sb, "MTA-STS: %s (%s): %s", sts_mode_name(o->mode), o->source, o->note);
	say(s, domain, line);
	for (size_t i = 0; o->policy != NULL && i < n; i++) {
		strbuf_init(&sb, line, sizeof(line));
		strbuf_printf(&sb, "MTA-STS: MX %s %s%s", hosts[i],
		    sts_host_matches(o, hosts[i]) ? "matches the policy"
						  : "does not match the policy",
		    dane[i]             ? "; DANE applies and takes precedence"
			: !enforcing(o) ? ""
			: sts_host_matches(o, hosts[i])
			? "; TLS with a verified certificate required"
			: "; not used");
		say(s, domain, line);
	}
}

/* Where TLS-RPT goes: only with a state directory and a policy to report on. */
static bool
reporting(const mx_sender *s, const struct sts_outcome *o)
{
	return s->sts_dir != NULL && o != NULL && o->policy != NULL && o->mode != STS_MODE_NONE;
}

static void
record(const mx_sender *s, const char *domain, const struct sts_outcome *o, bool dane,
    struct tlsrpt_session *r)
{
	r->policy_type = dane ? "tlsa" : "sts";
	if (!dane && o != NULL && o->policy != NULL) {
		r->policy_id = o->policy->id;
		r->policy_body = o->policy->body;
		r->policy_len = o->policy->body_len;
	}
	tlsrpt_record(s->sts_dir, domain, (int64_t)time(NULL), r);
}

/* The RFC 8460 result type of a session that did not get the TLS it needed. */
static const char *
result_type(const struct smtp_session_result *res, enum tls_policy used)
{
	if (res->tls)
		return res->tls_facts.verified
		    ? NULL
		    : tlsrpt_result_for_verify_error(res->tls_facts.verify_error);
	if (res->stage != NULL &&
	    (strcmp(res->stage, "TLS handshake") == 0 || strcmp(res->stage, "TLS") == 0))
		return used == TLS_DANE
		    ? "tlsa-invalid"
		    : tlsrpt_result_for_verify_error(res->tls_facts.verify_error);
	return used == TLS_DANE ? "dane-required" : "starttls-not-supported";
}

void
dsts_record_session(const mx_sender *s, const char *domain, const struct sts_outcome *o,
    const char *host, const char *ip, const char *local_ip, enum tls_policy used,
    bool cleartext_retry, const struct smtp_session_result *res)
{
	struct tlsrpt_session r = { .mx_host = host, .receiving_ip = ip, .sending_ip = local_ip };
	bool dane = used == TLS_DANE;

	/* No policy, or a session that never came to TLS (greeting refused),
	 * or the cleartext retry after a failure already recorded. */
	if ((!dane && !reporting(s, o)) || (dane && s->sts_dir == NULL) || cleartext_retry)
		return;
	if (!res->tls && res->stage != NULL &&
	    (strcmp(res->stage, "greeting") == 0 ||
		(strcmp(res->stage, "EHLO") == 0 && !dsts_tls_failure(res))))
		return;
	r.result_type = result_type(res, used);
	if (!dane && r.result_type == NULL && !sts_host_matches(o, host))
		r.result_type = "validation-failure";
	r.ok = r.result_type == NULL;
	r.info = r.ok               ? NULL
	    : res->tls              ? res->tls_facts.verify_error
	    : dsts_tls_failure(res) ? res->text
				    : "the server did not offer STARTTLS";
	record(s, domain, o, dane, &r);
}

void
dsts_record_unlisted(
    const mx_sender *s, const char *domain, const struct sts_outcome *o, const char *host)
{
	struct tlsrpt_session r = { .mx_host = host,
		.receiving_ip = "",
		.result_type = "validation-failure",
		.info = "MX host not listed in the MTA-STS policy" };

	if (reporting(s, o))
		record(s, domain, o, false, &r);
}

void
dsts_record_fetch(const mx_sender *s, const char *domain, const struct sts_outcome *o)
{
	struct tlsrpt_session r = { .receiving_ip = "", .info = NULL };

	if (s->sts_dir == NULL || o == NULL || o->fetch_failure == NULL)
		return;
	r.result_type = o->fetch_failure;
	r.info = o->fetch_detail;
	r.policy_type = "sts";
	r.policy_id = o->policy != NULL ? o->policy->id : NULL;
	tlsrpt_record(s->sts_dir, domain, (int64_t)time(NULL), &r);
}
