/*
 * sts_public.c - mx_sts, the public face of sts.c for `mx route
 * --tls-policy`: the MTA-STS policy in force for a domain (looked up and
 * fetched live; no cache read or written), whether an MX host matches it,
 * and its JSON.  It never delivers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "plan.h"
#include "sts.h"

struct mx_sts {
	struct sts_lookup *l;
	mx_sts_cb cb;
	void *arg;
};

static void
on_done(struct sts_lookup *l, void *arg)
{
	mx_sts *s = arg;

	(void)l;
	s->cb(s, s->arg);
}

mx_err
mx_sts_start(
    mx_resolver *resolver, const char *domain, const char *ca_file, mx_sts_cb cb, void *arg)
{
	char canon[MX_DOMAIN_MAX + 1];
	mx_sts *s;
	mx_err err;

	if (resolver == NULL || domain == NULL || cb == NULL)
		return MX_ERR_INVALID;
	if ((err = mx_domain_from_arg(domain, canon, NULL)) != MX_OK)
		return err;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MX_ERR_NOMEM;
	s->cb = cb;
	s->arg = arg;
	if ((err = sts_lookup_start(resolver, canon, NULL, ca_file, 0, (int64_t)time(NULL), on_done,
		 s, &s->l)) != MX_OK) {
		free(s);
		return err;
	}
	return MX_OK;
}

const char *
mx_sts_mode(const mx_sts *s)
{
	return sts_mode_name(sts_lookup_outcome(s->l)->mode);
}

const char *
mx_sts_summary(const mx_sts *s)
{
	return sts_lookup_outcome(s->l)->note;
}

bool
mx_sts_matches(const mx_sts *s, const char *host)
{
	const struct sts_outcome *o = sts_lookup_outcome(s->l);

	return o->policy != NULL && sts_host_matches(o, host);
}

void
mx_sts_free(mx_sts *s)
{
	if (s == NULL)
		return;
	sts_lookup_free(s->l);
	free(s);
}

static void
policy_json(struct json_buf *b, const struct sts_cached *p)
{
	JSON_BUF_LITERAL(b, ", \"id\": ");
	json_buf_string(b, p->id);
	JSON_BUF_LITERAL(b, ", \"max_age\": ");
	json_buf_uint(b, (unsigned long)p->policy.max_age);
	JSON_BUF_LITERAL(b, ", \"mx\": [");
	for (size_t i = 0; i < p->policy.n_mx; i++) {
		json_buf_puts(b, i ? ", " : "");
		json_buf_string(b, p->policy.mx[i]);
	}
	JSON_BUF_LITERAL(b, "]");
}

mx_err
mx_sts_to_json(const mx_sts *s, const mx_plan *plan, char **out)
{
	const struct sts_outcome *o = sts_lookup_outcome(s->l);
	struct json_buf b = { 0 };

	JSON_BUF_LITERAL(&b, "{\"mode\": ");
	json_buf_string(&b, sts_mode_name(o->mode));
	if (o->policy != NULL)
		policy_json(&b, o->policy);
	JSON_BUF_LITERAL(&b, ", \"note\": ");
	json_buf_string(&b, o->note);
	JSON_BUF_LITERAL(&b, ", \"hosts\": [");
	for (size_t i = 0; plan != NULL && i < plan->n_hosts; i++) {
		json_buf_puts(&b, i ? ", {\"name\": " : "{\"name\": ");
		json_buf_string(&b, plan->hosts[i].name);
		json_buf_puts(&b,
		    mx_sts_matches(s, plan->hosts[i].name) ? ", \"matches\": true}"
							   : ", \"matches\": false}");
	}
	JSON_BUF_LITERAL(&b, "]}");
	return (*out = json_buf_end(&b)) != NULL ? MX_OK : MX_ERR_NOMEM;
}
