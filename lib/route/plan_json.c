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

/*
 * Keys are this file's own plain ASCII words: written as they are, each
 * with the punctuation around it as one literal (a plan line is written
 * for every domain of a bulk run).
 */
#define PUT(b, lit) JSON_BUF_LITERAL(b, lit)

static void
put_problems(struct json_buf *b, problem_set set)
{
	size_t n = problem_set_count(set);

	PUT(b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			PUT(b, ", ");
		json_buf_string(b, mx_problem_name(problem_set_nth(set, i)));
	}
	PUT(b, "]");
}

static void
put_host(struct json_buf *b, const struct mx_host *h)
{
	PUT(b, "{\"host\": ");
	json_buf_string(b, h->name);
	PUT(b, ", \"preference\": ");
	json_buf_uint(b, h->preference);
	PUT(b, ", \"ttl\": ");
	json_buf_uint(b, h->ttl);
	PUT(b, ", \"status\": ");
	json_buf_string(b, mx_host_status_name(h->status));
	PUT(b, ", \"addresses\": [");
	for (size_t i = 0; i < h->n_addrs; i++) {
		if (i > 0)
			PUT(b, ", ");
		json_buf_string(b, h->addrs[i].text);
	}
	PUT(b, "], \"problems\": ");
	put_problems(b, h->problems);
	PUT(b, ", \"reason\": ");
	json_buf_string(b, h->reason);
	PUT(b, "}");
}

/* Hands the line out, or says that an allocation failed. */
static mx_err
finish(struct json_buf *b, char **out)
{
	return (*out = json_buf_end(b)) != NULL ? MX_OK : MX_ERR_NOMEM;
}

mx_err
mx_invalid_to_json(const char *arg, const char *why, char **out)
{
	struct json_buf b = { 0 };

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (arg == NULL || why == NULL)
		return MX_ERR_INVALID;
	PUT(&b, "{\"domain\": ");
	json_buf_string(&b, arg);
	PUT(&b, ", \"status\": \"invalid\", \"reason\": ");
	json_buf_string(&b, why);
	PUT(&b, "}");
	return finish(&b, out);
}

mx_err
mx_plan_to_json(const mx_plan *plan, char **out)
{
	struct json_buf b = { 0 };

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (plan == NULL)
		return MX_ERR_INVALID;
	PUT(&b, "{\"domain\": ");
	json_buf_string(&b, plan->domain);
	PUT(&b, ", \"status\": ");
	json_buf_string(&b, mx_status_name(plan->status));
	if (plan->implicit_mx)
		PUT(&b, ", \"implicit_mx\": true, \"dnssec\": ");
	else
		PUT(&b, ", \"implicit_mx\": false, \"dnssec\": ");
	json_buf_string(&b, mx_dnssec_name(mx_plan_dnssec(plan)));
	PUT(&b, ", \"problems\": ");
	put_problems(&b, plan->problems);
	PUT(&b, ", \"hosts\": [");
	for (size_t i = 0; i < plan->n_hosts; i++) {
		if (i > 0)
			PUT(&b, ", ");
		put_host(&b, &plan->hosts[i]);
	}
	PUT(&b, "], \"canonical\": ");
	json_buf_string(&b, plan->canonical);
	PUT(&b, ", \"reason\": ");
	json_buf_string(&b, plan->reason);
	PUT(&b, "}");
	return finish(&b, out);
}
