/*
 * plan_json.c - a plan as one line of JSON, the `mx route --json` schema
 * shared by every front end (route, bulk, later check and send).  Writes
 * into a memory stream whose buffer the caller frees; never prints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "plan.h"

static void
put_key(FILE *f, const char *key, bool first)
{
	if (!first)
		fputs(", ", f);
	json_string(f, key);
	fputs(": ", f);
}

static void
put_uint(FILE *f, unsigned long v)
{
	fprintf(f, "%lu", v);
}

static void
put_problems(FILE *f, problem_set set)
{
	size_t n = problem_set_count(set);

	fputs("[", f);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		json_string(f, mx_problem_name(problem_set_nth(set, i)));
	}
	fputs("]", f);
}

static void
put_host(FILE *f, const struct mx_host *h)
{
	fputs("{", f);
	put_key(f, "host", true);
	json_string(f, h->name);
	put_key(f, "preference", false);
	put_uint(f, h->preference);
	put_key(f, "ttl", false);
	put_uint(f, h->ttl);
	put_key(f, "status", false);
	json_string(f, mx_host_status_name(h->status));
	put_key(f, "addresses", false);
	fputs("[", f);
	for (size_t i = 0; i < h->n_addrs; i++) {
		if (i > 0)
			fputs(", ", f);
		json_string(f, h->addrs[i].text);
	}
	fputs("]", f);
	put_key(f, "problems", false);
	put_problems(f, h->problems);
	put_key(f, "reason", false);
	json_string(f, h->reason);
	fputs("}", f);
}

static mx_err
finish(FILE *f, char **out)
{
	/* A stream that failed to grow fails at fclose. */
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return MX_ERR_NOMEM;
	}
	return MX_OK;
}

mx_err
mx_invalid_to_json(const char *arg, const char *why, char **out)
{
	size_t size;
	FILE *f;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (arg == NULL || why == NULL)
		return MX_ERR_INVALID;
	if ((f = open_memstream(out, &size)) == NULL)
		return MX_ERR_NOMEM;
	fputs("{", f);
	put_key(f, "domain", true);
	json_string(f, arg);
	put_key(f, "status", false);
	json_string(f, "invalid");
	put_key(f, "reason", false);
	json_string(f, why);
	fputs("}", f);
	return finish(f, out);
}

mx_err
mx_plan_to_json(const mx_plan *plan, char **out)
{
	size_t size;
	FILE *f;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (plan == NULL)
		return MX_ERR_INVALID;
	if ((f = open_memstream(out, &size)) == NULL)
		return MX_ERR_NOMEM;
	fputs("{", f);
	put_key(f, "domain", true);
	json_string(f, plan->domain);
	put_key(f, "status", false);
	json_string(f, mx_status_name(plan->status));
	put_key(f, "implicit_mx", false);
	fputs(plan->implicit_mx ? "true" : "false", f);
	put_key(f, "dnssec", false);
	json_string(f, mx_dnssec_name(mx_plan_dnssec(plan)));
	put_key(f, "problems", false);
	put_problems(f, plan->problems);
	put_key(f, "hosts", false);
	fputs("[", f);
	for (size_t i = 0; i < plan->n_hosts; i++) {
		if (i > 0)
			fputs(", ", f);
		put_host(f, &plan->hosts[i]);
	}
	fputs("]", f);
	put_key(f, "canonical", false);
	json_string(f, plan->canonical);
	put_key(f, "reason", false);
	json_string(f, plan->reason);
	fputs("}", f);
	return finish(f, out);
}
