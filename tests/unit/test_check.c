/*
 * test_check.c - the pure parts of `mx check`: the MX rules
 * (check_rules.c) over facts made by hand, the address classes of
 * mx-address-private, the policy rules (check_policy.c) over TXT records,
 * --ignore, the JSON writer, the API's argument checks and the readers of
 * raw replies (check_dns.c) on packets built with ldns.  Each rule has a
 * case where it fires and one where it stays quiet.  No network.
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
#include <stdbool.h> /* before ldns, which otherwise makes bool a signed char */
#include <ldns/ldns.h>

#include "check_dns.h"
#include "check_findings.h"
#include "check_policy.h"
#include "check_rules.h"
#include "strbuf.h"

static mx_check *
new_check(void)
{
	mx_check *c = NULL;

	assert_int_equal(mx_check_new(&c, NULL), MX_OK);
	snprintf(c->domain, sizeof(c->domain), "example.test");
	return c;
}

static size_t
count(const mx_check *c, const char *id)
{
	size_t n = 0;

	for (size_t i = 0; i < mx_check_finding_count(c); i++)
		n += strcmp(mx_finding_id(mx_check_finding(c, i)), id) == 0;
	return n;
}

static const mx_finding *
get(const mx_check *c, const char *id)
{
	for (size_t i = 0; i < mx_check_finding_count(c); i++)
		if (strcmp(mx_finding_id(mx_check_finding(c, i)), id) == 0)
			return mx_check_finding(c, i);
	fail_msg("no %s", id);
	return NULL;
}

static struct check_facts *
facts(void)
{
	struct check_facts *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->domain, sizeof(f->domain), "example.test");
	f->mx_state = TARGET_ADDRESSES;
	return f;
}

static void
add_mx(struct check_facts *f, uint16_t pref, const char *ex, uint32_t ttl)
{
	struct check_mx *m = &f->mx[f->n_mx++];

	memset(m, 0, sizeof(*m));
	m->pref = pref;
	m->ttl = ttl;
	m->line = (unsigned)f->n_mx;
	m->is_null = strcmp(ex, ".") == 0;
	snprintf(m->exchange, sizeof(m->exchange), "%s", ex);
}

static struct check_target *
add_target(struct check_facts *f, const char *name, enum target_state st, const char *addr)
{
	struct check_target *t = &f->targets[f->n_targets++];

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->state = st;
	if (addr != NULL) {
		struct ip_addr *a = &t->addrs[t->n_addrs++];
		a->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(a->family, addr, a->bytes), 1);
		snprintf(a->text, sizeof(a->text), "%s", addr);
	}
	return t;
}

/* Two hosts on two public addresses, one TTL: nothing to say. */
static struct check_facts *
good_facts(void)
{
	struct check_facts *f = facts();

	add_mx(f, 10, "mx1.example.test", 3600);
	add_mx(f, 20, "mx2.example.test", 3600);
	add_target(f, "mx1.example.test", TARGET_ADDRESSES, "93.184.215.14");
	add_target(f, "mx2.example.test", TARGET_ADDRESSES, "2606:2800:220:1::1");
	return f;
}

static void
test_good_is_quiet(void **state)
{
	mx_check *c = new_check();
	struct check_facts *f = good_facts();

	(void)state;
	check_rules_mx(c, f);
	assert_int_equal(mx_check_finding_count(c), 0);
	assert_int_equal(mx_check_worst(c), MX_SEVERITY_INFO);
	free(f);
	mx_check_free(c);
}

static void
test_missing(void **state)
{
	mx_check *c = new_check();
	struct check_facts *f = facts();

	(void)state;
	f->mx_state = TARGET_NODATA;
	f->self_state = TARGET_ADDRESSES;
	f->n_self_addrs = 1;
	check_rules_mx(c, f);
	assert_int_equal(mx_finding_severity(get(c, "mx-missing")), MX_SEVERITY_WARNING);
	check_reset(c);
	f->self_state = TARGET_NODATA;
	check_rules_mx(c, f);
	assert_int_equal(mx_finding_severity(get(c, "mx-missing")), MX_SEVERITY_ERROR);
	check_reset(c);
	f->mx_state = TARGET_NXDOMAIN;
	check_rules_mx(c, f);
	assert_non_null(strstr(mx_finding_message(get(c, "mx-missing")), "NXDOMAIN"));
	free(f);
	mx_check_free(c);
}

static void
test_null_mx(void **state)
{
	mx_check *c = new_check();
	struct check_facts *f = facts();

	(void)state;
	add_mx(f, 0, ".", 3600);
	check_rules_mx(c, f);
	assert_int_equal(mx_check_finding_count(c), 0); /* a proper null MX */
	add_mx(f, 10, "mx1.example.test", 3600);
	add_target(f, "mx1.example.test", TARGET_ADDRESSES, "93.184.215.14");
	check_rules_mx(c, f);
	assert_int_equal(count(c, "null-mx-mixed"), 1);
	assert_int_equal(mx_finding_line(get(c, "null-mx-mixed")), 1);
	assert_int_equal(count(c, "null-mx-preference"), 0);
	check_reset(c);
	f->n_mx = 0;
	f->n_targets = 0;
	add_mx(f, 10, ".", 3600);
	check_rules_mx(c, f);
	assert_int_equal(count(c, "null-mx-preference"), 1);
	assert_int_equal(count(c, "null-mx-mixed"), 0);
	free(f);
	mx_check_free(c);
}

static void
test_names(void **state)
{
	mx_check *c = new_check();
	struct check_facts *f = good_facts();

	(void)state;
	add_mx(f, 30, "192.0.2.1", 3600);
	add_mx(f, 40, "mail_host.example.test", 3600);
	add_mx(f, 50, "2001:db8::1", 3600);
	check_rules_mx(c, f);
	assert_int_equal(count(c, "mx-ip-literal"), 2);
	assert_int_equal(count(c, "mx-bad-hostname"), 1);
	assert_int_equal(mx_finding_line(get(c, "mx-bad-hostname")), 4);
	free(f);
	mx_check_free(c);
}

static void
test_duplicate_and_single(void **state)
{
	mx_check *c = new_check();
	struct check_facts *f = facts();

	(void)state;
	add_mx(f, 10, "mx1.example.test", 3600);
	add_mx(f, 20, "mx1.example.test", 3600);
	add_target(f, "mx1.example.test", TARGET_ADDRESSES, "93.184.215.14");
	check_rules_mx(c, f);
	assert_int_equal(count(c, "mx-duplicate"), 1);
	assert_int_equal(count(c, "mx-single-host"), 1);
	assert_int_equal(mx_finding_evidence_count(get(c, "mx-duplicate")), 2);
	check_reset(c);
	/* two names, one address: still no redundancy */
	f->n_mx = 0;
	add_mx(f, 10, "mx1.example.test", 3600);
	add_mx(f, 20, "mx2.example.test", 3600);
	add_target(f, "mx2.example.test", TARGET_ADDRESSES, "93.184.215.14");
	check_rules_mx(c, f);
	assert_int_equal(count(c, "mx-duplicate"), 0);
	assert_int_equal(count(c, "mx-single-host"), 1);
	check_reset(c);
	/* a second host not judged (outside the zone) may be another one */
	f->targets[1].state = TARGET_UNKNOWN;
	f->targets[1].n_addrs = 0;
	check_rules_mx(c, f);
	assert_int_equal(count(c, "mx-single-host"), 0);
	free(f);
	mx_check_free(c);
}

static void
test_targets(void **state)
{
	mx_check *c = new_check();
	struct check_facts *f = facts();
	struct check_target *t;

	(void)state;
	add_mx(f, 10, "alias.example.test", 3600);
	add_mx(f, 20, "gone.example.test", 3600);
	add_mx(f, 30, "noaddr.example.test", 3600);
	add_mx(f, 40, "lan.example.test", 3600);
	add_mx(f, 50, "later.example.test", 3600);
	t = add_target(f, "alias.example.test", TARGET_ADDRESSES, "93.184.215.14");
	t->is_cname = true;
	snprintf(t->cname, sizeof(t->cname), "real.example.test");
	add_target(f, "gone.example.test", TARGET_NXDOMAIN, NULL);
	add_target(f, "noaddr.example.test", TARGET_NODATA, NULL);
	add_target(f, "lan.example.test", TARGET_ADDRESSES, "192.168.1.10");
	add_target(f, "later.example.test", TARGET_TEMPFAIL, NULL);
	check_rules_mx(c, f);
	assert_int_equal(count(c, "mx-cname"), 1);
	assert_int_equal(count(c, "mx-no-address"), 2); /* not the temporary one */
	assert_int_equal(count(c, "mx-address-private"), 1);
	assert_non_null(strstr(mx_finding_message(get(c, "mx-address-private")), "192.168.1.10"));
	assert_int_equal(mx_check_worst(c), MX_SEVERITY_ERROR);
	free(f);
	mx_check_free(c);
}

static void
test_ttls(void **state)
{
	mx_check *c = new_check();
	struct check_facts *f = good_facts();

	(void)state;
	f->mx[1].ttl = 60;
	check_rules_mx(c, f);
	assert_int_equal(count(c, "mx-ttl-low"), 1);
	assert_int_equal(count(c, "mx-ttl-mismatch"), 1);
	assert_int_equal(mx_finding_severity(get(c, "mx-ttl-low")), MX_SEVERITY_NOTICE);
	check_reset(c);
	f->mx[0].ttl = f->mx[1].ttl = CHECK_TTL_LOW;
	check_rules_mx(c, f);
	assert_int_equal(mx_check_finding_count(c), 0);
	free(f);
	mx_check_free(c);
}

static void
test_private_addresses(void **state)
{
	static const struct {
		const char *a;
		bool priv;
	} cases[] = {
		{ "127.0.0.1", true },
		{ "10.1.2.3", true },
		{ "172.16.0.1", true },
		{ "172.32.0.1", false },
		{ "192.168.0.1", true },
		{ "169.254.1.1", true },
		{ "100.64.0.1", true },
		{ "100.128.0.1", false },
		{ "0.1.2.3", true },
		{ "192.0.2.1", true },
		{ "224.0.0.1", true },
		{ "255.255.255.255", true },
		{ "93.184.215.14", false },
		{ "8.8.8.8", false },
		{ "::1", true },
		{ "::", true },
		{ "fe80::1", true },
		{ "fc00::1", true },
		{ "fd12::1", true },
		{ "2001:db8::1", true },
		{ "ff02::1", true },
		{ "::ffff:10.0.0.1", true },
		{ "::ffff:93.184.215.14", false },
		{ "2606:2800:220:1::1", false },
		{ "2a00:1450::1", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_addr a = { 0 };
		const char *kind = NULL;
		a.family = strchr(cases[i].a, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(a.family, cases[i].a, a.bytes), 1);
		if (check_addr_private(&a, &kind) != cases[i].priv)
			fail_msg(
			    "%s: expected %s", cases[i].a, cases[i].priv ? "private" : "public");
		if (cases[i].priv)
			assert_non_null(kind);
	}
}

static void
set_txt(struct check_txts *t, const char *text)
{
	struct check_txt *r = &t->t[t->n++];

	t->state = TARGET_ADDRESSES;
	r->len = strlen(text);
	memcpy(r->text, text, r->len + 1);
	r->line = (unsigned)t->n;
}

static void
test_policy(void **state)
{
	mx_check *c = new_check();
	struct check_policy_txts *p = calloc(1, sizeof(*p));

	(void)state;
	p->spf.state = p->dmarc.state = TARGET_NODATA;
	check_rules_policy(c, p, -1, NULL);
	assert_int_equal(count(c, "spf-missing"), 1);
	assert_int_equal(count(c, "dmarc-missing"), 1);
	assert_int_equal(count(c, "mta-sts-invalid") + count(c, "tlsrpt-invalid"), 0);
	check_reset(c);
	set_txt(&p->spf, "v=spf1 mx -all");
	set_txt(&p->dmarc, "v=DMARC1; p=reject");
	set_txt(&p->mta_sts, "v=STSv1; id=20261122");
	set_txt(&p->tlsrpt, "v=TLSRPTv1; rua=mailto:r@example.test");
	check_rules_policy(c, p, 1, NULL);
	assert_int_equal(mx_check_finding_count(c), 0);
	/* more than ten lookups counted through the includes */
	check_rules_policy(c, p, 11, "evidence of the count");
	assert_int_equal(count(c, "spf-invalid"), 1);
	check_reset(c);
	set_txt(&p->spf, "v=spf1 a -all");
	check_rules_policy(c, p, 2, NULL);
	assert_non_null(strstr(mx_finding_message(get(c, "spf-invalid")), "2 SPF records"));
	check_reset(c);
	p->spf.n = 0;
	set_txt(&p->spf, "v=spf1 +all");
	check_rules_policy(c, p, 0, NULL);
	assert_non_null(strstr(mx_finding_message(get(c, "spf-invalid")), "+all"));
	check_reset(c);
	p->spf.state = TARGET_TEMPFAIL;
	snprintf(p->spf.why, sizeof(p->spf.why), "SERVFAIL");
	check_rules_policy(c, p, -1, NULL);
	assert_int_equal(count(c, "spf-missing") + count(c, "spf-invalid"), 0);
	assert_int_equal(mx_check_untested_count(c), 1);
	assert_string_equal(mx_check_untested_test(c, 0), "spf");
	free(p);
	mx_check_free(c);
}

static void
test_ignore_and_ids(void **state)
{
	mx_check *c = new_check();
	struct check_facts *f = facts();

	(void)state;
	assert_true(mx_check_id_known("mx-cname"));
	assert_false(mx_check_id_known("mx-nope"));
	assert_false(mx_check_id_known(NULL));
	assert_int_equal(mx_check_ignore(c, "mx-nope"), MX_ERR_INVALID);
	assert_int_equal(mx_check_ignore(c, "mx-missing"), MX_OK);
	assert_int_equal(mx_check_ignore(c, "mx-missing"), MX_OK);
	f->mx_state = TARGET_NXDOMAIN;
	check_rules_mx(c, f);
	assert_int_equal(mx_check_finding_count(c), 0);
	assert_int_equal(c->n_ignored, 1);
	assert_string_equal(mx_severity_name(MX_SEVERITY_WARNING), "warning");
	assert_string_equal(mx_severity_name(MX_SEVERITY_INFO), "info");
	free(f);
	mx_check_free(c);
}

static void
test_json(void **state)
{
	mx_check *c = new_check();
	struct mx_finding *fd;
	char *json = NULL;

	(void)state;
	assert_int_equal(mx_check_to_json(c, &json), MX_OK);
	assert_string_equal(json,
	    "{\"domain\":\"example.test\",\"mode\":\"live\",\"findings\":[],"
	    "\"untested\":[],\"summary\":{\"error\":0,\"warning\":0,\"notice\":0,\"info\":0,"
	    "\"worst\":null,\"tempfail\":false,\"ignored\":0,\"dropped\":0}}");
	free(json);
	fd = check_add(c, "mx-cname", MX_SEVERITY_WARNING, 7, "say \"%s\"", "x\\y");
	check_evidence(fd, "line\none");
	check_add_untested(c, "smtp", "turned off");
	c->zone_mode = true;
	assert_int_equal(mx_check_to_json(c, &json), MX_OK);
	assert_string_equal(json,
	    "{\"domain\":\"example.test\",\"mode\":\"zone\",\"findings\":["
	    "{\"id\":\"mx-cname\",\"severity\":\"warning\",\"message\":\"say \\\"x\\\\y\\\"\","
	    "\"evidence\":[\"line\\u000aone\"],\"line\":7}],"
	    "\"untested\":[{\"test\":\"smtp\",\"reason\":\"turned off\"}],"
	    "\"summary\":{\"error\":0,\"warning\":1,\"notice\":0,\"info\":0,"
	    "\"worst\":\"warning\",\"tempfail\":false,\"ignored\":0,\"dropped\":0}}");
	free(json);
	mx_check_free(c);
}

/* The ids and messages in report order, as one string to compare. */
static void
order_text(const mx_check *c, char *buf, size_t size)
{
	struct strbuf sb;

	strbuf_init(&sb, buf, size);
	for (size_t i = 0; i < mx_check_finding_count(c); i++) {
		const mx_finding *f = mx_check_finding(c, i);
		strbuf_printf(
		    &sb, "%s|%s|%u\n", mx_finding_id(f), mx_finding_message(f), mx_finding_line(f));
	}
	assert_false(sb.truncated);
}

static void
add_scrambled(mx_check *c, const size_t *perm)
{
	static const struct {
		const char *id;
		mx_severity sev;
		unsigned line;
		const char *message;
	} items[] = {
		{ "ptr-missing", MX_SEVERITY_WARNING, 0,
		    "the MX address 127.0.0.3 (c.example.test)" },
		{ "mx-ttl-low", MX_SEVERITY_NOTICE, 0, "the MX records of example.test" },
		{ "mx-no-address", MX_SEVERITY_ERROR, 0, "the MX target z.example.test" },
		{ "ptr-missing", MX_SEVERITY_WARNING, 0,
		    "the MX address 127.0.0.1 (a.example.test)" },
		{ "dmarc-missing", MX_SEVERITY_WARNING, 0, "example.test has no DMARC record" },
		{ "mx-no-address", MX_SEVERITY_ERROR, 0, "the MX target a.example.test" },
		{ "ptr-missing", MX_SEVERITY_WARNING, 0,
		    "the MX address 127.0.0.2 (b.example.test)" },
		{ "mx-cname", MX_SEVERITY_WARNING, 9, "line nine" },
		{ "mx-cname", MX_SEVERITY_WARNING, 3, "line three" },
	};

	check_reset(c);
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		size_t k = perm[i];
		check_add(c, items[k].id, items[k].sev, items[k].line, "%s", items[k].message);
	}
	check_sort(c);
}

static void
test_finding_order(void **state)
{
	static const size_t perms[][9] = {
		{ 0, 1, 2, 3, 4, 5, 6, 7, 8 },
		{ 8, 7, 6, 5, 4, 3, 2, 1, 0 },
		{ 3, 0, 6, 8, 2, 7, 1, 5, 4 },
		{ 5, 2, 4, 1, 7, 0, 8, 6, 3 },
	};
	const char *want = "mx-no-address|the MX target a.example.test|0\n"
			   "mx-no-address|the MX target z.example.test|0\n"
			   "dmarc-missing|example.test has no DMARC record|0\n"
			   "mx-cname|line three|3\n"
			   "mx-cname|line nine|9\n"
			   "ptr-missing|the MX address 127.0.0.1 (a.example.test)|0\n"
			   "ptr-missing|the MX address 127.0.0.2 (b.example.test)|0\n"
			   "ptr-missing|the MX address 127.0.0.3 (c.example.test)|0\n"
			   "mx-ttl-low|the MX records of example.test|0\n";
	mx_check *c = new_check();
	char got[2048];

	(void)state;
	for (size_t p = 0; p < sizeof(perms) / sizeof(perms[0]); p++) {
		add_scrambled(c, perms[p]);
		order_text(c, got, sizeof(got));
		assert_string_equal(got, want);
	}
	mx_check_free(c);
}

/* The comparator alone: a total order (reflexive, antisymmetric), each key
 * deciding before the next, evidence last. */
static void
test_finding_cmp(void **state)
{
	struct mx_finding *a = calloc(2, sizeof(*a)), *b = a + 1;

	(void)state;
	assert_non_null(a);
	snprintf(a->id, sizeof(a->id), "ptr-missing");
	snprintf(a->message, sizeof(a->message), "the MX address 127.0.0.1");
	a->severity = MX_SEVERITY_WARNING;
	*b = *a;
	assert_int_equal(check_finding_cmp(a, b), 0);
	b->n_evidence = 1;
	snprintf(b->evidence[0], CHECK_EVIDENCE_TEXT, "PTR 127.0.0.1: no records");
	assert_true(check_finding_cmp(a, b) < 0 && check_finding_cmp(b, a) > 0);
	a->n_evidence = 1;
	snprintf(a->evidence[0], CHECK_EVIDENCE_TEXT, "PTR 127.0.0.1: z");
	assert_true(check_finding_cmp(a, b) > 0 && check_finding_cmp(b, a) < 0);
	snprintf(b->message, sizeof(b->message), "the MX address 127.0.0.2");
	assert_true(check_finding_cmp(a, b) < 0); /* message before evidence */
	b->line = 1;
	a->line = 2;
	assert_true(check_finding_cmp(a, b) > 0); /* line before message */
	snprintf(a->id, sizeof(a->id), "mx-cname");
	assert_true(check_finding_cmp(a, b) < 0); /* id before line */
	b->severity = MX_SEVERITY_ERROR;
	assert_true(check_finding_cmp(a, b) > 0); /* the worst first */
	assert_true(check_finding_cmp(b, a) < 0);
	free(a);
}

static void
test_caps_and_arguments(void **state)
{
	mx_check *c = new_check();
	struct mx_finding *fd = NULL;

	(void)state;
	for (int i = 0; i < CHECK_FINDINGS_MAX + 5; i++)
		fd = check_add(c, "mx-cname", MX_SEVERITY_INFO, 0, "n %d", i);
	assert_null(fd);
	assert_int_equal(mx_check_finding_count(c), CHECK_FINDINGS_MAX);
	assert_int_equal(c->n_dropped, 5);
	fd = mx_check_finding(c, 0) ? &c->findings[0] : NULL;
	for (int i = 0; i < CHECK_EVIDENCE_MAX + 3; i++)
		check_evidence(fd, "e %d", i);
	assert_int_equal(mx_finding_evidence_count(fd), CHECK_EVIDENCE_MAX);
	assert_null(mx_check_finding(c, CHECK_FINDINGS_MAX));
	/* a check without a resolver does zone files only */
	assert_int_equal(mx_check_start(c, "example.test", NULL, NULL, NULL), MX_ERR_INVALID);
	assert_int_equal(mx_check_set_timeout_ms(c, 0), MX_ERR_INVALID);
	assert_int_equal(mx_check_new(NULL, NULL), MX_ERR_INVALID);
	mx_check_free(NULL);
	mx_check_free(c);
}

/* A reply to (qname, qtype) with the records given as zone-file lines;
 * section 'a' answer, 'n' authority.  The caller frees *wire. */
static size_t
reply(const char *qname, ldns_rr_type qtype, ldns_pkt_rcode rcode, bool aa, const char *const *rrs,
    const char *sections, uint8_t **wire)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype, LDNS_RR_CLASS_IN, 0);
	size_t len = 0;

	assert_non_null(p);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, aa);
	ldns_pkt_set_rcode(p, rcode);
	for (size_t i = 0; rrs != NULL && rrs[i] != NULL; i++) {
		ldns_rr *rr = NULL;
		assert_int_equal(
		    ldns_rr_new_frm_str(&rr, rrs[i], 3600, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(
		    p, sections[i] == 'a' ? LDNS_SECTION_ANSWER : LDNS_SECTION_AUTHORITY, rr);
	}
	assert_int_equal(ldns_pkt2wire(wire, p, &len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return len;
}

static void
test_dns_readers(void **state)
{
	static const char *const txt[] = { "d.test. 300 IN TXT \"v=spf1 \" \"mx -all\"",
		"d.test. 300 IN TXT \"other\"", NULL };
	static const char *const txt_rotated[] = { txt[1], txt[0], NULL };
	static const char *const ptr[] = { "1.2.0.192.in-addr.arpa. 300 IN PTR Mail.Example.",
		NULL };
	static const char *const soa[] = {
		"Zone.Test. 300 IN SOA ns.zone.test. h.zone.test. 1 2 3 4 5", NULL
	};
	static const char *const mx[] = { "d.test. 3600 IN MX 10 MX1.d.test.",
		"d.test. 600 IN MX 0 .", NULL };
	struct check_txts *t = calloc(1, sizeof(*t));
	struct dns_auth_mx *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char names[4][NAME_TEXT_MAX], owner[NAME_TEXT_MAX];
	uint8_t *w = NULL;
	size_t len;

	(void)state;
	len = reply("d.test.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, false, txt, "aa", &w);
	dns_txts(w, len, 0, NULL, t);
	assert_int_equal(t->state, TARGET_ADDRESSES);
	assert_int_equal(t->n, 2);
	/* sorted: the order of the RRset on the wire does not matter */
	assert_string_equal(t->t[0].text, "other");
	assert_string_equal(t->t[1].text, "v=spf1 mx -all"); /* strings joined */
	assert_int_equal(t->t[1].len, 14);
	free(w);
	len = reply("d.test.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, false, txt_rotated, "aa", &w);
	dns_txts(w, len, 0, NULL, t);
	assert_int_equal(t->n, 2);
	assert_string_equal(t->t[0].text, "other");
	assert_string_equal(t->t[1].text, "v=spf1 mx -all");
	dns_txts(w, len, 3, NULL, t);
	assert_int_equal(t->state, TARGET_NXDOMAIN);
	dns_txts(w, len, 2, "SERVFAIL", t);
	assert_int_equal(t->state, TARGET_TEMPFAIL);
	assert_string_equal(t->why, "SERVFAIL");
	dns_txts(w, 5, 0, NULL, t); /* cut short */
	assert_int_equal(t->state, TARGET_TEMPFAIL);
	free(w);

	len = reply(
	    "1.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR, false, ptr, "a", &w);
	assert_int_equal(dns_names(w, len, 12, names, 4), 1);
	assert_string_equal(names[0], "mail.example");
	assert_int_equal(dns_names(w, len, 2, names, 4), 0);
	free(w);

	len = reply("x.zone.test.", LDNS_RR_TYPE_SOA, LDNS_RCODE_NXDOMAIN, true, soa, "n", &w);
	assert_true(dns_soa_owner(w, len, owner, sizeof(owner)));
	assert_string_equal(owner, "zone.test");
	free(w);

	len = reply("d.test.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR, true, mx, "aa", &w);
	dns_auth_parse(w, len, a);
	assert_true(a->answered);
	assert_true(a->authoritative);
	assert_int_equal(a->n, 2);
	/* by preference, not as the server sent them (check_mx_sort) */
	assert_true(a->mx[0].is_null);
	assert_string_equal(a->mx[0].exchange, ".");
	assert_string_equal(a->mx[1].exchange, "mx1.d.test");
	/* the same set with other TTLs and order is the same */
	*b = *a;
	b->mx[0] = a->mx[1];
	b->mx[1] = a->mx[0];
	b->mx[0].ttl = 1;
	assert_true(dns_mx_same(a, b));
	b->mx[1].pref = 20;
	assert_false(dns_mx_same(a, b));
	free(w);
	free(t);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_is_quiet),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_duplicate_and_single),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_ttls),
		cmocka_unit_test(test_private_addresses),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_ignore_and_ids),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_finding_order),
		cmocka_unit_test(test_finding_cmp),
		cmocka_unit_test(test_caps_and_arguments),
		cmocka_unit_test(test_dns_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
