/*
 * test_json.c - lib/plan_json.c, mx_plan_to_json: the exact one-line
 * output of the `mx route --json` schema ({"domain", "status",
 * "implicit_mx", "dnssec", "problems", "hosts": [{"host", "preference",
 * "ttl", "status", "addresses", "problems", "reason"}], "canonical",
 * "reason"}) for
 * plans made by hand (every field set) and by route.c, with RFC 8259
 * escaping of '"', '\\', control bytes and DEL in names and reasons, and
 * the argument checks.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "answer.h"
#include "plan.h"
#include "route.h"

static mx_plan *
plan(const char *domain)
{
	mx_plan *p = NULL;

	assert_int_equal(plan_new(domain, &p), MX_OK);
	return p;
}

/* Room for one more of n items in the plan's store (as route.c grows them). */
static void *
grow(mx_plan *p, void *items, size_t n, size_t size)
{
	void *more = plan_alloc(p, (n + 1) * size);

	assert_non_null(more);
	if (n > 0)
		memcpy(more, items, n * size);
	return more;
}

static struct mx_host *
add_host(mx_plan *p, const char *name, uint16_t pref, uint32_t ttl, mx_host_status status,
    problem_set problems)
{
	struct mx_host *h;

	p->hosts = grow(p, p->hosts, p->n_hosts, sizeof(*p->hosts));
	h = &p->hosts[p->n_hosts++];
	host_init(h, plan_text(p, name));
	assert_non_null(h->name);
	h->preference = pref;
	h->ttl = ttl;
	h->status = status;
	h->problems = problems;
	return h;
}

static void
add_addr(mx_plan *p, struct mx_host *h, const char *text)
{
	struct ip_addr *a;

	h->addrs = grow(p, h->addrs, h->n_addrs, sizeof(*h->addrs));
	a = &h->addrs[h->n_addrs++];
	memset(a, 0, sizeof(*a));
	a->family = strchr(text, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a->family, text, a->bytes), 1);
	snprintf(a->text, sizeof(a->text), "%s", text);
}

/* Renders p, compares with want, frees p. */
static void
check(mx_plan *p, const char *want)
{
	char *out = NULL;

	assert_int_equal(mx_plan_to_json(p, &out), MX_OK);
	assert_non_null(out);
	assert_string_equal(out, want);
	assert_null(strchr(out, '\n'));
	free(out);
	mx_plan_free(p);
}

static void
test_fresh_plan(void **state)
{
	(void)state;
	check(plan("example.test"),
	    "{\"domain\": \"example.test\", \"status\": \"tempfail\", "
	    "\"implicit_mx\": false, \"dnssec\": \"indeterminate\", "
	    "\"problems\": [], \"hosts\": [], \"canonical\": \"example.test\", "
	    "\"reason\": \"\"}");
}

static void
test_full_plan(void **state)
{
	mx_plan *p = plan("example.test");
	struct mx_host *h;

	(void)state;
	p->status = MX_STATUS_OK;
	p->decided = true;
	plan_note_security(p, SEC_SECURE);
	plan_note_security(p, SEC_INSECURE);
	p->problems =
	    PROBLEM_BIT(MX_PROBLEM_DUPLICATE_HOST) | PROBLEM_BIT(MX_PROBLEM_NULL_MX_MIXED);
	p->canonical = "real.example.test";
	plan_set_reason(p, "%d of %d MX hosts usable", 1, 3);
	h = add_host(p, "mx1.example.test", 10, 300, MX_HOST_OK,
	    PROBLEM_BIT(MX_PROBLEM_ADDRESS_TEMPFAIL) | PROBLEM_BIT(MX_PROBLEM_CNAME_TARGET));
	add_addr(p, h, "2001:db8::1");
	add_addr(p, h, "192.0.2.1");
	h = add_host(
	    p, "mx2.example.test", 20, 3600, MX_HOST_TEMPFAIL, PROBLEM_BIT(MX_PROBLEM_TIMEOUT));
	host_add_reason(p, h, "AAAA lookup failed: %s", "timeout");
	add_host(p, "192.0.2.9", 65535, 4294967295u, MX_HOST_IP_LITERAL,
	    PROBLEM_BIT(MX_PROBLEM_IP_LITERAL_TARGET));
	check(p,
	    "{\"domain\": \"example.test\", \"status\": \"ok\", "
	    "\"implicit_mx\": false, \"dnssec\": \"insecure\", "
	    "\"problems\": [\"null-mx-mixed\", \"duplicate-host\"], "
	    "\"hosts\": ["
	    "{\"host\": \"mx1.example.test\", \"preference\": 10, \"ttl\": 300, "
	    "\"status\": \"ok\", \"addresses\": [\"2001:db8::1\", \"192.0.2.1\"], "
	    "\"problems\": [\"cname-target\", \"address-tempfail\"], \"reason\": \"\"}, "
	    "{\"host\": \"mx2.example.test\", \"preference\": 20, \"ttl\": 3600, "
	    "\"status\": \"tempfail\", \"addresses\": [], "
	    "\"problems\": [\"timeout\"], \"reason\": \"AAAA lookup failed: timeout\"}, "
	    "{\"host\": \"192.0.2.9\", \"preference\": 65535, \"ttl\": 4294967295, "
	    "\"status\": \"ip-literal\", \"addresses\": [], "
	    "\"problems\": [\"ip-literal-target\"], \"reason\": \"\"}], "
	    "\"canonical\": \"real.example.test\", "
	    "\"reason\": \"1 of 3 MX hosts usable\"}");
}

static void
test_statuses_and_verdicts(void **state)
{
	mx_plan *p;
	struct mx_host *h;

	(void)state;
	p = plan("example.test");
	p->status = MX_STATUS_LOOP;
	p->implicit_mx = true;
	plan_note_security(p, SEC_SECURE);
	h = add_host(p, "example.test", 0, 0, MX_HOST_PRUNED, PROBLEM_BIT(MX_PROBLEM_LOCAL_NAME));
	host_add_reason(p, h, "this host");
	check(p,
	    "{\"domain\": \"example.test\", \"status\": \"loop\", "
	    "\"implicit_mx\": true, \"dnssec\": \"secure\", \"problems\": [], "
	    "\"hosts\": [{\"host\": \"example.test\", \"preference\": 0, \"ttl\": 0, "
	    "\"status\": \"pruned\", \"addresses\": [], \"problems\": [\"local-name\"], "
	    "\"reason\": \"this host\"}], "
	    "\"canonical\": \"example.test\", \"reason\": \"\"}");

	p = plan("example.test");
	p->status = MX_STATUS_NULL_MX;
	plan_note_security(p, SEC_SECURE);
	plan_note_security(p, SEC_BOGUS);
	p->problems = PROBLEM_BIT(MX_PROBLEM_NULL_MX_PREFERENCE);
	check(p,
	    "{\"domain\": \"example.test\", \"status\": \"null-mx\", "
	    "\"implicit_mx\": false, \"dnssec\": \"bogus\", "
	    "\"problems\": [\"null-mx-preference\"], \"hosts\": [], "
	    "\"canonical\": \"example.test\", \"reason\": \"\"}");

	p = plan("example.test");
	p->status = MX_STATUS_NO_MAIL_HOST;
	add_host(p, "a\\032b.example.test", 1, 2, MX_HOST_BAD_NAME,
	    PROBLEM_BIT(MX_PROBLEM_BAD_HOSTNAME));
	add_host(p, "c.example.test", 3, 4, MX_HOST_NO_ADDRESS, 0);
	check(p,
	    "{\"domain\": \"example.test\", \"status\": \"no-mail-host\", "
	    "\"implicit_mx\": false, \"dnssec\": \"indeterminate\", \"problems\": [], "
	    "\"hosts\": [{\"host\": \"a\\\\032b.example.test\", \"preference\": 1, "
	    "\"ttl\": 2, \"status\": \"bad-name\", \"addresses\": [], "
	    "\"problems\": [\"bad-hostname\"], \"reason\": \"\"}, "
	    "{\"host\": \"c.example.test\", \"preference\": 3, \"ttl\": 4, "
	    "\"status\": \"no-address\", \"addresses\": [], \"problems\": [], "
	    "\"reason\": \"\"}], "
	    "\"canonical\": \"example.test\", \"reason\": \"\"}");

	p = plan("gone.test");
	p->status = MX_STATUS_NXDOMAIN;
	p->problems = (problem_set)((1u << MX_PROBLEM_COUNT_) - 1);
	check(p,
	    "{\"domain\": \"gone.test\", \"status\": \"nxdomain\", "
	    "\"implicit_mx\": false, \"dnssec\": \"indeterminate\", "
	    "\"problems\": [\"null-mx-mixed\", \"null-mx-preference\", "
	    "\"duplicate-host\", \"dnssec-bogus\", \"cname-target\", "
	    "\"ip-literal-target\", \"bad-hostname\", \"cname-loop\", "
	    "\"address-tempfail\", \"local-name\", \"not-better-than-self\", "
	    "\"timeout\"], \"hosts\": [], \"canonical\": \"gone.test\", \"reason\": \"\"}");
}

/* Names from DNS may hold any byte: JSON must stay JSON. */
static void
test_escaping(void **state)
{
	mx_plan *p = plan("q\"uote\\back\001\037\177.test");
	struct mx_host *h;

	(void)state;
	p->status = MX_STATUS_OK;
	p->canonical = "tab\there\nnl\rcr";
	plan_set_reason(p, "say \"hi\" \\ bye\b\f");
	h = add_host(p, "h\"o\\st\x01\x7f\xff", 10, 60, MX_HOST_OK, 0);
	add_addr(p, h, "192.0.2.1");
	host_add_reason(p, h, "\"odd\"\a");
	check(p,
	    "{\"domain\": \"q\\\"uote\\\\back\\u0001\\u001f\\u007f.test\", "
	    "\"status\": \"ok\", \"implicit_mx\": false, \"dnssec\": \"indeterminate\", "
	    "\"problems\": [], \"hosts\": [{\"host\": \"h\\\"o\\\\st\\u0001\\u007f\\ufffd\", "
	    "\"preference\": 10, \"ttl\": 60, \"status\": \"ok\", "
	    "\"addresses\": [\"192.0.2.1\"], \"problems\": [], "
	    "\"reason\": \"\\\"odd\\\"\\u0007\"}], "
	    "\"canonical\": \"tab\\u0009here\\u000anl\\u000dcr\", "
	    "\"reason\": \"say \\\"hi\\\" \\\\ bye\\u0008\\u000c\"}");
}

/* A long plan: the buffer grows past its first 512 bytes. */
static void
test_large_plan(void **state)
{
	mx_plan *p = plan("example.test");
	char *out = NULL, name[64];
	size_t hosts = 0;

	(void)state;
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "mx%03d.example.test", i);
		add_addr(p, add_host(p, name, (uint16_t)i, 60, MX_HOST_OK, 0), "2001:db8::1");
	}
	assert_int_equal(mx_plan_to_json(p, &out), MX_OK);
	assert_true(strlen(out) > 300 * 100);
	assert_non_null(strstr(out, "{\"host\": \"mx000.example.test\", \"preference\": 0,"));
	assert_non_null(strstr(out,
	    "{\"host\": \"mx299.example.test\", \"preference\": 299, "
	    "\"ttl\": 60, \"status\": \"ok\", \"addresses\": [\"2001:db8::1\"], "
	    "\"problems\": [], \"reason\": \"\"}], \"canonical\""));
	for (const char *s = out; (s = strstr(s, "\"host\": ")) != NULL; s++)
		hosts++;
	assert_int_equal(hosts, 300);
	assert_int_equal(out[strlen(out) - 1], '}');
	free(out);
	mx_plan_free(p);
}

/* A plan made by route.c end to end, as `mx route --json` prints it. */
static void
test_routed_plan(void **state)
{
	struct answer_mx recs[2] = {
		{ .preference = 20, .ttl = 600, .exchange = "mx2.example.test" },
		{ .preference = 10, .ttl = 300, .exchange = "mx1.example.test" },
	};
	struct answer mx = { .kind = ANSWER_RECORDS,
		.security = SEC_SECURE,
		.canonical = "example.test",
		.mx = recs,
		.n_mx = 2 };
	struct ip_addr v4 = {
		.family = AF_INET, .bytes = { 192, 0, 2, 1 }, .ttl = 60, .text = "192.0.2.1"
	};
	struct answer a = {
		.kind = ANSWER_RECORDS, .security = SEC_SECURE, .addrs = &v4, .n_addrs = 1
	};
	struct answer nodata = { .kind = ANSWER_NODATA, .security = SEC_SECURE };
	struct answer fail = { .kind = ANSWER_TEMPFAIL, .why = "SERVFAIL" };
	mx_policy *pol = NULL;
	mx_plan *p = plan("example.test");

	(void)state;
	assert_int_equal(mx_policy_new(&pol), MX_OK);
	mx_policy_set_seed(pol, 7);
	assert_int_equal(route_from_mx(p, &mx, pol), MX_OK);
	assert_int_equal(route_add_addresses(p, 0, RR_TYPE_A, &a, pol), MX_OK);
	assert_int_equal(route_add_addresses(p, 0, RR_TYPE_AAAA, &nodata, pol), MX_OK);
	assert_int_equal(route_add_addresses(p, 1, RR_TYPE_A, &fail, pol), MX_OK);
	assert_int_equal(route_add_addresses(p, 1, RR_TYPE_AAAA, &fail, pol), MX_OK);
	route_finish(p);
	check(p,
	    "{\"domain\": \"example.test\", \"status\": \"ok\", "
	    "\"implicit_mx\": false, \"dnssec\": \"secure\", \"problems\": [], "
	    "\"hosts\": [{\"host\": \"mx1.example.test\", \"preference\": 10, "
	    "\"ttl\": 300, \"status\": \"ok\", \"addresses\": [\"192.0.2.1\"], "
	    "\"problems\": [], \"reason\": \"\"}, {\"host\": \"mx2.example.test\", "
	    "\"preference\": 20, \"ttl\": 600, \"status\": \"tempfail\", "
	    "\"addresses\": [], \"problems\": [], \"reason\": \"A lookup failed: "
	    "SERVFAIL; AAAA lookup failed: SERVFAIL\"}], \"canonical\": \"example.test\", "
	    "\"reason\": \"1 of 2 MX hosts usable\"}");
	mx_policy_free(pol);
}

static void
test_arguments(void **state)
{
	mx_plan *p = plan("example.test");
	char sentinel[] = "untouched", *out = sentinel;

	(void)state;
	/* On failure the out-parameter is NULL, as everywhere in mx.h. */
	assert_int_equal(mx_plan_to_json(NULL, &out), MX_ERR_INVALID);
	assert_null(out);
	assert_int_equal(mx_plan_to_json(p, NULL), MX_ERR_INVALID);
	out = sentinel;
	assert_int_equal(mx_invalid_to_json(NULL, "why", &out), MX_ERR_INVALID);
	assert_null(out);
	mx_plan_free(p);
}

/* Arguments that are not domains: UTF-8 kept, other bytes replaced. */
static void
test_invalid_line(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(mx_invalid_to_json("b\xc3\xbc"
					    "cher..test",
			     "has \"two\" dots", &out),
	    MX_OK);
	assert_string_equal(out,
	    "{\"domain\": \"b\xc3\xbc"
	    "cher..test\", \"status\": "
	    "\"invalid\", \"reason\": \"has \\\"two\\\" dots\"}");
	free(out);
	/* Truncated, overlong and surrogate sequences are not UTF-8. */
	assert_int_equal(
	    mx_invalid_to_json("a\xc3|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80", "x", &out), MX_OK);
	assert_string_equal(out,
	    "{\"domain\": \"a\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd"
	    "\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd\", \"status\": \"invalid\", \"reason\": \"x\"}");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_plan),
		cmocka_unit_test(test_full_plan),
		cmocka_unit_test(test_statuses_and_verdicts),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_large_plan),
		cmocka_unit_test(test_routed_plan),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_invalid_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
