/*
 * plan_json.c - a plan as one line of JSON, the `mx route --json` schema
 * shared by every front end (route, bulk, later check and send).  Writes
 * into a growing buffer the caller frees; never prints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "plan.h"

struct buf {
	char *data;
	size_t len, cap;
	bool failed;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
puts_raw(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/*
 * RFC 8259 string escaping.  Names from DNS are ASCII by now (answer.c
 * escapes other bytes); user input may be UTF-8, which passes through,
 * while bytes that are not UTF-8 become U+FFFD so the line stays valid.
 */
static void
put_string(struct buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	char esc[8];
	size_t n;

	put(b, "\"", 1);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s++;
			put(b, esc, 2);
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *s++);
			put(b, esc, 6);
		} else if (*s < 0x80) {
			/* A run of plain ASCII goes in one piece: most of the output. */
			const unsigned char *run = s;
			while (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
				s++;
			put(b, (const char *)run, (size_t)(s - run));
		} else if ((n = json_utf8_length(s)) > 0) {
			put(b, (const char *)s, n);
			s += n;
		} else {
			put(b, "\\ufffd", 6);
			s++;
		}
	}
	put(b, "\"", 1);
}

static void
put_key(struct buf *b, const char *key, bool first)
{
	if (!first)
		puts_raw(b, ", ");
	put_string(b, key);
	puts_raw(b, ": ");
}

static void
put_uint(struct buf *b, unsigned long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lu", v);
	puts_raw(b, num);
}

static void
put_problems(struct buf *b, problem_set set)
{
	size_t n = problem_set_count(set);

	puts_raw(b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			puts_raw(b, ", ");
		put_string(b, mx_problem_name(problem_set_nth(set, i)));
	}
	puts_raw(b, "]");
}

static void
put_host(struct buf *b, const struct mx_host *h)
{
	puts_raw(b, "{");
	put_key(b, "host", true);
	put_string(b, h->name);
	put_key(b, "preference", false);
	put_uint(b, h->preference);
	put_key(b, "ttl", false);
	put_uint(b, h->ttl);
	put_key(b, "status", false);
	put_string(b, mx_host_status_name(h->status));
	put_key(b, "addresses", false);
	puts_raw(b, "[");
	for (size_t i = 0; i < h->n_addrs; i++) {
		if (i > 0)
			puts_raw(b, ", ");
		put_string(b, h->addrs[i].text);
	}
	puts_raw(b, "]");
	put_key(b, "problems", false);
	put_problems(b, h->problems);
	put_key(b, "reason", false);
	put_string(b, h->reason);
	puts_raw(b, "}");
}

static mx_err
finish(struct buf *b, char **out)
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
	struct buf b = {0};

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (arg == NULL || why == NULL)
		return MX_ERR_INVALID;
	puts_raw(&b, "{");
	put_key(&b, "domain", true);
	put_string(&b, arg);
	put_key(&b, "status", false);
	put_string(&b, "invalid");
	put_key(&b, "reason", false);
	put_string(&b, why);
	puts_raw(&b, "}");
	return finish(&b, out);
}

mx_err
mx_plan_to_json(const mx_plan *plan, char **out)
{
	struct buf b = {0};

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (plan == NULL)
		return MX_ERR_INVALID;
	puts_raw(&b, "{");
	put_key(&b, "domain", true);
	put_string(&b, plan->domain);
	put_key(&b, "status", false);
	put_string(&b, mx_status_name(plan->status));
	put_key(&b, "implicit_mx", false);
	puts_raw(&b, plan->implicit_mx ? "true" : "false");
	put_key(&b, "dnssec", false);
	put_string(&b, mx_dnssec_name(mx_plan_dnssec(plan)));
	put_key(&b, "problems", false);
	put_problems(&b, plan->problems);
	put_key(&b, "hosts", false);
	puts_raw(&b, "[");
	for (size_t i = 0; i < plan->n_hosts; i++) {
		if (i > 0)
			puts_raw(&b, ", ");
		put_host(&b, &plan->hosts[i]);
	}
	puts_raw(&b, "]");
	put_key(&b, "canonical", false);
	put_string(&b, plan->canonical);
	put_key(&b, "reason", false);
	put_string(&b, plan->reason);
	puts_raw(&b, "}");
	return finish(&b, out);
}
