/*
 * plan_json.c - a plan as one line of JSON, the `mx route --json` schema
 * shared by every front end (route, bulk, later check and send).  Writes
 * into a growing buffer (json_buf) that the caller frees; never prints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "plan.h"

/* Keys are this file's own plain ASCII words: written as they are. */
static void
put_key(struct json_buf *b, const char *key, bool first)
{
	if (!first)
		json_buf_put(b, ", ", 2);
	json_buf_put(b, "\"", 1);
	json_buf_puts(b, key);
	json_buf_put(b, "\": ", 3);
}

static void
put_problems(struct json_buf *b, problem_set set)
{
	size_t n = problem_set_count(set);

	json_buf_put(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			json_buf_put(b, ", ", 2);
		json_buf_string(b, mx_problem_name(problem_set_nth(set, i)));
	}
	json_buf_put(b, "]", 1);
}

static void
put_host(struct json_buf *b, const struct mx_host *h)
{
	json_buf_put(b, "{", 1);
	put_key(b, "host", true);
	json_buf_string(b, h->name);
	put_key(b, "preference", false);
	json_buf_uint(b, h->preference);
	put_key(b, "ttl", false);
	json_buf_uint(b, h->ttl);
	put_key(b, "status", false);
	json_buf_string(b, mx_host_status_name(h->status));
	put_key(b, "addresses", false);
	json_buf_put(b, "[", 1);
	for (size_t i = 0; i < h->n_addrs; i++) {
		if (i > 0)
			json_buf_put(b, ", ", 2);
		json_buf_string(b, h->addrs[i].text);
	}
	json_buf_put(b, "]", 1);
	put_key(b, "problems", false);
	put_problems(b, h->problems);
	put_key(b, "reason", false);
	json_buf_string(b, h->reason);
	json_buf_put(b, "}", 1);
}

/* Hands the buffer out, or frees it if any allocation failed. */
static mx_err
finish(struct json_buf *b, char **out)
{
	if (b->failed) {
		free(b->data);
		return MX_ERR_NOMEM;
	}
	*out = b->data;
	return MX_OK;
}

mx_err
mx_invalid_to_json(const char *arg, const char *why, char **out)
{
	struct json_buf b = {0};

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (arg == NULL || why == NULL)
		return MX_ERR_INVALID;
	json_buf_put(&b, "{", 1);
	put_key(&b, "domain", true);
	json_buf_string(&b, arg);
	put_key(&b, "status", false);
	json_buf_string(&b, "invalid");
	put_key(&b, "reason", false);
	json_buf_string(&b, why);
	json_buf_put(&b, "}", 1);
	return finish(&b, out);
}

mx_err
mx_plan_to_json(const mx_plan *plan, char **out)
{
	struct json_buf b = {0};

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (plan == NULL)
		return MX_ERR_INVALID;
	json_buf_put(&b, "{", 1);
	put_key(&b, "domain", true);
	json_buf_string(&b, plan->domain);
	put_key(&b, "status", false);
	json_buf_string(&b, mx_status_name(plan->status));
	put_key(&b, "implicit_mx", false);
	json_buf_puts(&b, plan->implicit_mx ? "true" : "false");
	put_key(&b, "dnssec", false);
	json_buf_string(&b, mx_dnssec_name(mx_plan_dnssec(plan)));
	put_key(&b, "problems", false);
	put_problems(&b, plan->problems);
	put_key(&b, "hosts", false);
	json_buf_put(&b, "[", 1);
	for (size_t i = 0; i < plan->n_hosts; i++) {
		if (i > 0)
			json_buf_put(&b, ", ", 2);
		put_host(&b, &plan->hosts[i]);
	}
	json_buf_put(&b, "]", 1);
	put_key(&b, "canonical", false);
	json_buf_string(&b, plan->canonical);
	put_key(&b, "reason", false);
	json_buf_string(&b, plan->reason);
	json_buf_put(&b, "}", 1);
	return finish(&b, out);
}
