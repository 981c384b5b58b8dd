/*
 * fuzz_answer.c - libFuzzer target for the pure half of libmx: one DNS
 * reply, as bytes, through answer_parse (qtype MX, A and AAAA, qname
 * example.test.), route_from_mx, route_add_addresses for every host that
 * needs addresses, route_finish and mx_plan_to_json.  A second plan, an
 * implicit MX for example.test, routes the same A and AAAA answers, so an
 * address reply reaches the routing code too.  Beyond crashes and leaks
 * it checks invariants and aborts when one breaks: answer kinds against
 * their records, the caps, exchange names against name_check_hostname,
 * host order and statuses, rule 7 (never permanent while a host is
 * temporary), and that the JSON is valid.
 *
 * Deterministic: the reply's ID field, which answer_parse never reads,
 * steers the run instead of a random source.
 *   ID byte 0, bits 0-1, 2-3, 4-5: DNSSEC security (unknown, insecure,
 *     secure, bogus) given to the MX, A and AAAA answers;
 *     bit 6: prefer IPv4; bit 7: mx1.example.test is a local name.
 *   ID byte 1, bit 0: AAAA answers are routed before A;
 *     bit 1: example.test is a local name; bits 2-7: the shuffle seed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "name.h"
#include "route.h"

#define QNAME  "example.test."
#define DOMAIN "example.test"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_answer: invariant broken: %s%s%s\n", what, detail ? ": " : "",
	    detail ? detail : "");
	abort();
}

#define CHECK(cond, detail)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			broken(#cond, (detail));                                                   \
	} while (0)

/* ---- a strict little JSON reader (RFC 8259, ASCII output only) ---- */

static const char *json_value(const char *p, int depth);

static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *
json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*p++;
		if (c == '"')
			return p;
		if (c < 0x20 || c >= 0x7f)
			return NULL;
		if (c != '\\')
			continue;
		c = (unsigned char)*p++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, p++)
				if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
					(*p >= 'A' && *p <= 'F')))
					return NULL;
		} else if (c == '\0' || strchr("\"\\/bfnrt", c) == NULL) {
			return NULL;
		}
	}
}

static const char *
json_list(const char *p, char close, bool object, int depth)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if ((p = json_string(json_ws(p))) == NULL)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if ((p = json_value(p, depth + 1)) == NULL)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *
json_value(const char *p, int depth)
{
	p = json_ws(p);
	if (depth > 8)
		return NULL;
	switch (*p) {
	case '{': return json_list(p, '}', true, depth);
	case '[': return json_list(p, ']', false, depth);
	case '"': return json_string(p);
	case 't': return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f': return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n': return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
		return p;
	}
}

/* ---- invariants ------------------------------------------------------- */

static void
check_answer(const struct answer *a, uint16_t qtype)
{
	CHECK(a->kind <= ANSWER_TEMPFAIL, NULL);
	CHECK(a->n_mx <= ANSWER_MAX_MX && a->n_addrs <= ANSWER_MAX_ADDRS, NULL);
	CHECK(a->cname_hops <= ANSWER_MAX_CNAME_HOPS + 1, NULL);
	CHECK(a->cname_loop || a->cname_hops <= ANSWER_MAX_CNAME_HOPS, NULL);
	CHECK(!a->cname_loop || a->kind == ANSWER_TEMPFAIL, NULL);
	CHECK(strnlen(answer_canonical(a), NAME_TEXT_MAX) < NAME_TEXT_MAX, NULL);
	CHECK(strnlen(answer_why(a), ANSWER_WHY_MAX) < ANSWER_WHY_MAX, NULL);
	CHECK(a->kind != ANSWER_TEMPFAIL || answer_why(a)[0] != '\0', NULL);
	if (a->kind != ANSWER_RECORDS)
		CHECK(a->n_mx == 0 && a->n_addrs == 0, NULL);
	else if (qtype == RR_TYPE_MX)
		CHECK(a->n_mx > 0 && a->n_addrs == 0, NULL);
	else
		CHECK(a->n_addrs > 0 && a->n_mx == 0, NULL);
	for (size_t i = 0; i < a->n_mx; i++) {
		const struct answer_mx *m = &a->mx[i];
		CHECK(m->exchange != NULL && strnlen(m->exchange, NAME_TEXT_MAX) < NAME_TEXT_MAX,
		    NULL);
		CHECK(m->ttl < 0x80000000u, m->exchange);
		CHECK(m->is_null == (m->exchange[0] == '\0'), m->exchange);
		if (!m->is_null)
			CHECK(
			    m->bad_name == (name_check_hostname(m->exchange) != NULL), m->exchange);
	}
	for (size_t i = 0; i < a->n_addrs; i++) {
		const struct ip_addr *ad = &a->addrs[i];
		char text[INET6_ADDRSTRLEN];
		CHECK(ad->family == (qtype == RR_TYPE_A ? AF_INET : AF_INET6), NULL);
		CHECK(ad->ttl < 0x80000000u, NULL);
		CHECK(inet_ntop(ad->family, ad->bytes, text, sizeof(text)) != NULL, NULL);
		CHECK(strcmp(text, ad->text) == 0, ad->text);
	}
	/* Glue: only in MX answers, for a usable exchange, at or below the domain. */
	CHECK(a->n_glue <= ANSWER_MAX_GLUE, NULL);
	CHECK(a->n_glue == 0 || (qtype == RR_TYPE_MX && a->kind == ANSWER_RECORDS), NULL);
	for (size_t i = 0; i < a->n_glue; i++) {
		const struct answer_glue *g = &a->glue[i];
		const char *x;
		size_t lx, ld;
		CHECK(g->mx < a->n_mx, NULL);
		x = a->mx[g->mx].exchange;
		CHECK(!a->mx[g->mx].is_null && !a->mx[g->mx].bad_name, x);
		lx = strlen(x);
		ld = strlen(answer_canonical(a));
		CHECK(strcmp(x, answer_canonical(a)) == 0 ||
			(lx > ld && x[lx - ld - 1] == '.' &&
			    strcmp(x + lx - ld, answer_canonical(a)) == 0),
		    x);
		CHECK(g->qtype == RR_TYPE_A || g->qtype == RR_TYPE_AAAA, x);
		CHECK(g->addr.family == (g->qtype == RR_TYPE_A ? AF_INET : AF_INET6), x);
		CHECK(g->addr.ttl < 0x80000000u, x);
	}
}

static void
check_plan(const mx_plan *plan, const struct answer *mx, bool implicit)
{
	size_t usable = 0, temp = 0;
	char *json = NULL;
	const char *end;

	CHECK(plan->decided, NULL);
	CHECK(plan->status <= MX_STATUS_LOOP, NULL);
	CHECK(mx_plan_dnssec(plan) <= MX_DNSSEC_BOGUS, NULL);
	CHECK(plan->canonical != NULL && plan->reason != NULL &&
		strnlen(plan->canonical, NAME_TEXT_MAX) < NAME_TEXT_MAX &&
		strnlen(plan->reason, PLAN_REASON_MAX) < PLAN_REASON_MAX,
	    NULL);
	CHECK(plan->reason[0] != '\0', mx_status_name(plan->status));
	if (!implicit && (mx->kind == ANSWER_TEMPFAIL || mx->security == SEC_BOGUS))
		CHECK(plan->status == MX_STATUS_TEMPFAIL && plan->n_hosts == 0, NULL);
	if (mx->security == SEC_BOGUS)
		CHECK(mx_plan_dnssec(plan) == MX_DNSSEC_BOGUS, NULL);
	if (plan->status == MX_STATUS_NULL_MX || plan->status == MX_STATUS_NXDOMAIN)
		CHECK(plan->n_hosts == 0, NULL);
	CHECK(plan->n_hosts <= (implicit ? 1 : ANSWER_MAX_MX), NULL);
	CHECK(plan->implicit_mx == (plan->n_hosts == 1 && (implicit || mx->kind == ANSWER_NODATA)),
	    NULL);
	for (size_t i = 0; i < plan->n_hosts; i++) {
		const struct mx_host *h = &plan->hosts[i];
		CHECK(h->status <= MX_HOST_BAD_NAME, h->name);
		CHECK(strnlen(h->name, NAME_TEXT_MAX) < NAME_TEXT_MAX, NULL);
		CHECK(strnlen(h->reason, HOST_REASON_MAX) < HOST_REASON_MAX, NULL);
		CHECK(h->n_addrs <= 2 * ANSWER_MAX_ADDRS, h->name);
		CHECK(h->problems < PROBLEM_BIT(MX_PROBLEM_COUNT_), h->name);
		if (i > 0)
			CHECK(plan->hosts[i - 1].preference <= h->preference, h->name);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(plan->hosts[j].name, h->name) != 0, h->name);
		if (plan->status != MX_STATUS_LOOP) {
			CHECK((h->status == MX_HOST_OK) == (h->n_addrs > 0), h->name);
			CHECK(h->status == MX_HOST_OK || h->reason[0] != '\0', h->name);
		}
		usable += h->status == MX_HOST_OK;
		temp += h->status == MX_HOST_TEMPFAIL;
	}
	if (plan->status == MX_STATUS_OK)
		CHECK(usable > 0, NULL);
	else
		CHECK(usable == 0, mx_status_name(plan->status));
	/* Rule 7: temporary never becomes permanent. */
	if (plan->status == MX_STATUS_NO_MAIL_HOST)
		CHECK(temp == 0, NULL);

	if (mx_plan_to_json(plan, &json) != MX_OK)
		return;
	CHECK(strncmp(json, "{\"domain\": \"", 12) == 0, json);
	end = json_value(json, 0);
	CHECK(end != NULL && *end == '\0', json);
	free(json);
}

/* ---- the run ---------------------------------------------------------- */

static const answer_security securities[4] = { SEC_UNKNOWN, SEC_INSECURE, SEC_SECURE, SEC_BOGUS };

static void
route_addresses(mx_plan *plan, const struct answer *a4, const struct answer *a6, bool aaaa_first,
    const mx_policy *pol)
{
	for (size_t i = 0; i < plan->n_hosts; i++) {
		if (!plan->hosts[i].need_addresses)
			continue;
		for (int k = 0; k < 2; k++) {
			bool aaaa = (k == 0) == aaaa_first;
			if (route_add_addresses(plan, i, aaaa ? RR_TYPE_AAAA : RR_TYPE_A,
				aaaa ? a6 : a4, pol) != MX_OK)
				return;
		}
	}
}

static void
run_plan(const struct answer *mx, const struct answer *a4, const struct answer *a6, bool aaaa_first,
    bool implicit, const mx_policy *pol)
{
	mx_plan *plan = NULL;

	if (plan_new(DOMAIN, &plan) != MX_OK)
		return;
	if (route_from_mx(plan, mx, pol) == MX_OK) {
		if (!plan->decided)
			route_addresses(plan, a4, a6, aaaa_first, pol);
		route_finish(plan);
		check_plan(plan, mx, implicit);
	}
	mx_plan_free(plan);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t c0 = size > 0 ? data[0] : 0, c1 = size > 1 ? data[1] : 0;
	struct answer mx, a4, a6, implicit;
	mx_policy *pol = NULL;
	bool ok;

	ok = answer_parse(data, size, QNAME, RR_TYPE_MX, &mx) == MX_OK;
	ok = answer_parse(data, size, QNAME, RR_TYPE_A, &a4) == MX_OK && ok;
	ok = answer_parse(data, size, QNAME, RR_TYPE_AAAA, &a6) == MX_OK && ok;
	if (!ok || mx_policy_new(&pol) != MX_OK)
		goto out;
	check_answer(&mx, RR_TYPE_MX);
	check_answer(&a4, RR_TYPE_A);
	check_answer(&a6, RR_TYPE_AAAA);
	mx.security = securities[c0 & 3];
	a4.security = securities[(c0 >> 2) & 3];
	a6.security = securities[(c0 >> 4) & 3];

	mx_policy_set_seed(pol, c1 >> 2);
	mx_policy_set_prefer(pol, (c0 & 0x40) ? MX_PREFER_IPV4 : MX_PREFER_IPV6);
	if ((c0 & 0x80) && mx_policy_add_local_name(pol, "mx1.example.test") != MX_OK)
		broken("mx_policy_add_local_name", "mx1.example.test");
	if ((c1 & 2) && mx_policy_add_local_name(pol, DOMAIN) != MX_OK)
		broken("mx_policy_add_local_name", DOMAIN);

	run_plan(&mx, &a4, &a6, c1 & 1, false, pol);
	/* The same address answers for the domain's own implicit MX. */
	memset(&implicit, 0, sizeof(implicit));
	implicit.kind = ANSWER_NODATA;
	implicit.security = mx.security == SEC_BOGUS ? SEC_SECURE : mx.security;
	run_plan(&implicit, &a4, &a6, c1 & 1, true, pol);
out:
	mx_policy_free(pol);
	answer_clear(&mx);
	answer_clear(&a4);
	answer_clear(&a6);
	return 0;
}
