/*
 * test_records.c - lib/records.c: which TXT records claim to be SPF,
 * DMARC, MTA-STS or TLS-RPT; for each parser, valid records from the RFCs'
 * own examples and real deployments, and invalid ones, each with the
 * problem it must produce (fatal or a warning) and, for valid ones, the
 * fields read; the MTA-STS policy file with CRLF and LF lines; MX pattern
 * matching (RFC 8461 4.1); hostile input (NUL, 8-bit octets, 255-octet
 * strings joined, values longer than their arrays, more problems than fit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "records.h"

#define S(lit) (lit), sizeof(lit) - 1

/* ---- helpers ------------------------------------------------------------ */

/* Whether some problem of that kind holds the text. */
static bool
has(const struct record_problems *pr, bool fatal, const char *needle)
{
	for (size_t i = 0; i < pr->n; i++)
		if (pr->p[i].fatal == fatal && strstr(pr->p[i].text, needle))
			return true;
	return false;
}

static void
dump(const struct record_problems *pr)
{
	for (size_t i = 0; i < pr->n; i++)
		print_message("  %s %s\n", pr->p[i].fatal ? "fatal" : "warn ", pr->p[i].text);
}

/* Every problem text is NUL-terminated printable ASCII. */
static void
problems_sane(const struct record_problems *pr)
{
	assert_true(pr->n <= RECORD_PROBLEMS_MAX);
	for (size_t i = 0; i < pr->n; i++) {
		const char *t = pr->p[i].text;
		assert_non_null(memchr(t, '\0', RECORD_PROBLEM_TEXT));
		assert_true(t[0] != '\0');
		for (; *t; t++)
			assert_true(*t >= 0x20 && *t <= 0x7e);
	}
}

enum kind { SPF, DMARC, STS, POLICY, TLSRPT };

struct any {
	struct spf_record spf;
	struct dmarc_record dmarc;
	struct mta_sts_txt sts;
	struct mta_sts_policy policy;
	struct tlsrpt_record tlsrpt;
};

static int
parse(enum kind k, const char *s, size_t len, struct any *a, struct record_problems *pr)
{
	int rc = -2;

	switch (k) {
	case SPF: rc = spf_parse(s, len, &a->spf, pr); break;
	case DMARC: rc = dmarc_parse(s, len, &a->dmarc, pr); break;
	case STS: rc = mta_sts_txt_parse(s, len, &a->sts, pr); break;
	case POLICY: rc = mta_sts_policy_parse(s, len, &a->policy, pr); break;
	case TLSRPT: rc = tlsrpt_parse(s, len, &a->tlsrpt, pr); break;
	}
	problems_sane(pr);
	return rc;
}

/* One case: the record, whether it is valid, and a problem text that must
 * appear (fatal when invalid, a warning when valid), or NULL: no problem
 * at all. */
struct rcase {
	enum kind kind;
	const char *text;
	int rc;
	const char *problem;
};

static void
run_cases(const struct rcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct any *a = calloc(1, sizeof(*a));
		struct record_problems pr;
		int rc;

		assert_non_null(a);
		rc = parse(c[i].kind, c[i].text, strlen(c[i].text), a, &pr);
		if (rc != c[i].rc || (c[i].problem == NULL) != (pr.n == 0) ||
		    (c[i].problem && !has(&pr, c[i].rc != 0, c[i].problem))) {
			print_error("case %zu \"%s\": rc %d, want %d; want problem \"%s\"\n", i,
			    c[i].text, rc, c[i].rc, c[i].problem ? c[i].problem : "(none)");
			dump(&pr);
			fail();
		}
		free(a);
	}
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* ---- recognition ---------------------------------------------------------- */

/* Which TXT records each recogniser claims (by the version tag alone). */
static const struct {
	bool (*is)(const char *txt, size_t len);
	const char *txt;
	size_t len;
	bool want;
} recognised[] = {
	{ spf_is_record, S("v=spf1"), true },
	{ spf_is_record, S("v=spf1 -all"), true },
	{ spf_is_record, S("V=SPF1 -all"), true },
	{ spf_is_record, S("v=spf10 -all"), false },
	{ spf_is_record, S("v=spf1\t-all"), false },
	{ spf_is_record, S(" v=spf1 -all"), false },
	{ spf_is_record, S("spf2.0/pra -all"), false },
	{ spf_is_record, S("v=spf"), false },
	{ spf_is_record, "v=spf1 -all", 5, false },
	{ dmarc_is_record, S("v=DMARC1; p=none"), true },
	{ dmarc_is_record, S("v=DMARC1"), true },
	{ dmarc_is_record, S("v = dmarc1 ;p=none"), true },
	{ dmarc_is_record, S("p=none; v=DMARC1"), false },
	{ dmarc_is_record, S("v=DMARC10; p=none"), false },
	{ dmarc_is_record, S("v=spf1 -all"), false },
	{ mta_sts_is_record, S("v=STSv1; id=1"), true },
	{ mta_sts_is_record, S("v=stsv1;id=1"), true },
	{ mta_sts_is_record, S("v=STSv2; id=1"), false },
	{ mta_sts_is_record, S("id=1; v=STSv1"), false },
	{ tlsrpt_is_record, S("v=TLSRPTv1; rua=mailto:a@b.c"), true },
	{ tlsrpt_is_record, S("v=TLSRPTv12; rua=mailto:a@b.c"), false },
	{ tlsrpt_is_record, S(""), false },
	{ dmarc_is_record, S(""), false },
	{ spf_is_record, S(""), false },
	{ mta_sts_is_record, S("v"), false },
};

static void
test_is_record(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(recognised) / sizeof(recognised[0]); i++) {
		if (recognised[i].is(recognised[i].txt, recognised[i].len) != recognised[i].want)
			print_error(
			    "row %zu: \"%.*s\"\n", i, (int)recognised[i].len, recognised[i].txt);
		if (recognised[i].want)
			assert_true(recognised[i].is(recognised[i].txt, recognised[i].len));
		else
			assert_false(recognised[i].is(recognised[i].txt, recognised[i].len));
	}
}

/* ---- SPF ------------------------------------------------------------------- */

static const struct rcase spf_cases[] = {
	/* RFC 7208 appendix A and section 10 examples */
	{ SPF, "v=spf1 +all", 0, "\"+all\"" },
	{ SPF, "v=spf1 all", 0, "\"+all\"" },
	{ SPF, "v=spf1 a -all", 0, NULL },
	{ SPF, "v=spf1 a:example.org -all", 0, NULL },
	{ SPF, "v=spf1 mx -all", 0, NULL },
	{ SPF, "v=spf1 mx:example.org -all", 0, NULL },
	{ SPF, "v=spf1 mx mx:example.org -all", 0, NULL },
	{ SPF, "v=spf1 mx/30 mx:example.org/30 -all", 0, NULL },
	{ SPF, "v=spf1 ptr -all", 0, "\"ptr\"" },
	{ SPF, "v=spf1 ip4:192.0.2.128/28 -all", 0, NULL },
	{ SPF, "v=spf1 mx include:mx.example.org -all", 0, NULL },
	{ SPF, "v=spf1 mx -all exp=explain._spf.%{d}", 0, NULL },
	{ SPF, "v=spf1 -ptr +all", 0, "\"+all\"" },
	{ SPF, "v=spf1 -mx redirect=_spf.example.com", 0, NULL },
	{ SPF, "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", 0, "\"+all\"" },
	{ SPF, "v=spf1 -ip4:192.0.2.0/24 +all", 0, "\"+all\"" },
	{ SPF, "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all", 0, NULL },
	{ SPF, "v=spf1 ip6:2001:db8::/32 ip6:::1 ip4:0.0.0.0/0 ~all", 0, NULL },
	{ SPF, "v=spf1 a//64 a/24//64 mx:mx.example.com//128 ?all", 0, NULL },
	{ SPF, "v=spf1", 0, NULL },
	{ SPF, "v=spf1   ", 0, NULL },
	{ SPF, "v=spf1  ip4:192.0.2.1   -all  ", 0, NULL },
	{ SPF, "v=spf1 include:_spf.google.com ~all", 0, NULL },
	{ SPF, "V=SPF1 MX INCLUDE:Example.COM -ALL", 0, NULL },
	{ SPF, "v=spf1 foo=bar -all", 0, NULL },
	{ SPF, "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", 0, NULL },
	{ SPF, "v=spf1 exists:%{i}.%{v}.arpa._spf.%{d2} -all", 0, NULL },
	{ SPF, "v=spf1 include:%{d}.example.com -all", 0, NULL },
	{ SPF, "v=spf1 a:%{d} -all", 0, NULL },
	{ SPF, "v=spf1 a:%%%_%-.example.com -all", 0, NULL },
	{ SPF, "v=spf1 -all ip4:192.0.2.1", 0, "after \"all\"" },
	{ SPF, "v=spf1 redirect=example.com -all", 0, "\"redirect\" is ignored" },
	{ SPF, "v=spf1 include:example.com.", 0, NULL },
	/* invalid */
	{ SPF, "v=spf1 foo -all", -1, "unknown mechanism \"foo\"" },
	{ SPF, "v=spf1 -foo:bar.com -all", -1, "unknown mechanism \"-foo:bar.com\"" },
	{ SPF, "v=spf1 ip4:1.2.3 -all", -1, "not an IPv4 address" },
	{ SPF, "v=spf1 ip4:256.2.3.4 -all", -1, "not an IPv4 address" },
	{ SPF, "v=spf1 ip4:1.2.3.4/33 -all", -1, "bad prefix length" },
	{ SPF, "v=spf1 ip4:1.2.3.4/ -all", -1, "bad prefix length" },
	{ SPF, "v=spf1 ip4:1.2.3.4/08 -all", -1, "bad prefix length" },
	{ SPF, "v=spf1 ip4 -all", -1, "needs \":\"" },
	{ SPF, "v=spf1 ip6:2001:db8::g -all", -1, "not an IPv6 address" },
	{ SPF, "v=spf1 ip6:2001:db8::/129 -all", -1, "bad prefix length" },
	{ SPF, "v=spf1 ip6:192.0.2.1 -all", -1, "not an IPv6 address" },
	{ SPF, "v=spf1 ip4:2001:db8:: -all", -1, "not an IPv4 address" },
	{ SPF, "v=spf1 include -all", -1, "needs \":\" and a domain" },
	{ SPF, "v=spf1 include: -all", -1, "needs \":\" and a domain" },
	{ SPF, "v=spf1 include:-bad.example -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 include:a..b -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 include:example.123 -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 include:%{x}.example.com -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 include:%{d -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 include:%{c}.example.com -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 include:%x.example.com -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 include:%{d}example -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 exists -all", -1, "needs \":\"" },
	{ SPF, "v=spf1 a: -all", -1, "without a domain" },
	{ SPF, "v=spf1 a/33 -all", -1, "bad CIDR length" },
	{ SPF, "v=spf1 a//129 -all", -1, "bad CIDR length" },
	{ SPF, "v=spf1 a/24/64 -all", -1, "bad CIDR length" },
	{ SPF, "v=spf1 mx:example.com/ -all", -1, "bad CIDR length" },
	{ SPF, "v=spf1 ab -all", -1, "unknown mechanism" },
	{ SPF, "v=spf1 all:foo", -1, "takes no argument" },
	{ SPF, "v=spf1 ptr: -all", -1, "bad argument" },
	{ SPF, "v=spf1 redirect=a.example redirect=b.example", -1, "more than once" },
	{ SPF, "v=spf1 exp=a.example exp=b.example -all", -1, "more than once" },
	{ SPF, "v=spf1 redirect= -all", -1, "not a valid domain-spec" },
	{ SPF, "v=spf1 1foo=bar -all", -1, "not a valid modifier name" },
	{ SPF, "v=spf1 =bar -all", -1, "not a valid modifier name" },
	{ SPF, "v=spf1 foo=%{z} -all", -1, "bad value" },
	{ SPF, "v=spf1 +-all", -1, "unknown mechanism" },
	{ SPF, "v=spf1 -all\t", -1, "octet 0x09" },
	{ SPF, "v=spf1 a:ex\xc3\xa4mple.com -all", -1, "octet 0xc3" },
	{ SPF, "v=spf2 -all", -1, "must start with \"v=spf1\"" },
	{ SPF, "v=spf1x -all", -1, "must start with \"v=spf1\"" },
	{ SPF, "", -1, "must start with \"v=spf1\"" },
	/* RFC 7208 4.6.4: 11 DNS-querying terms */
	{ SPF,
	    "v=spf1 a mx ptr:x.example exists:y.example include:a.example include:b.example "
	    "a:c.example mx:d.example include:e.example include:f.example redirect=g.example",
	    -1, "11 DNS-querying terms" },
};

static void
test_spf_cases(void **state)
{
	(void)state;
	RUN(spf_cases);
}

static void
test_spf_fields(void **state)
{
	struct spf_record r;
	struct record_problems pr;
	const char rec[] =
	    "v=spf1 a mx include:_spf.example.com include:%{d}.x.example "
	    "ip4:192.0.2.0/24 exists:%{i}.e.example ~all redirect=r.example exp=why.example";

	(void)state;
	assert_int_equal(spf_parse(S(rec), &r, &pr), 0);
	assert_int_equal(r.lookup_terms, 6); /* a mx include include exists redirect */
	assert_int_equal(r.all, '~');
	assert_int_equal(r.n_includes, 1); /* the macro target is not listed */
	assert_string_equal(r.includes[0], "_spf.example.com");
	assert_string_equal(r.redirect, "r.example");
	assert_string_equal(r.exp, "why.example");
	assert_true(r.has_macros);
	assert_false(r.has_ptr);
	assert_true(has(&pr, false, "\"redirect\" is ignored"));

	assert_int_equal(spf_parse(S("v=spf1 redirect=%{d}.example"), &r, &pr), 0);
	assert_string_equal(r.redirect, "");
	assert_int_equal(r.lookup_terms, 1);
	assert_int_equal(r.all, 0);
	assert_int_equal(pr.n, 0);

	/* exactly 10 is fine */
	assert_int_equal(spf_parse(S("v=spf1 a mx ptr exists:a.b include:c.d a:e.f mx:g.h "
				     "include:i.j include:k.l redirect=m.n"),
			     &r, &pr),
	    0);
	assert_int_equal(r.lookup_terms, 10);
	assert_true(r.has_ptr);
	assert_int_equal(r.n_includes, 3);
	/* ip4, ip6, all do not count */
	assert_int_equal(spf_parse(S("v=spf1 ip4:1.2.3.4 ip6:::1 -all"), &r, &pr), 0);
	assert_int_equal(r.lookup_terms, 0);
	assert_int_equal(r.all, '-');
}

/* A record split over many 255-octet strings and joined; include targets
 * past SPF_TARGETS_MAX; a domain longer than 253; an embedded NUL. */
static void
test_spf_hostile(void **state)
{
	struct spf_record r;
	struct record_problems pr;
	char buf[4096], *p = buf;
	char label[64];

	(void)state;
	p += sprintf(p, "v=spf1");
	for (int i = 0; i < 40; i++)
		p += sprintf(p, " include:i%d.example.com", i);
	assert_int_equal(spf_parse(buf, (size_t)(p - buf), &r, &pr), -1);
	assert_int_equal(r.n_includes, SPF_TARGETS_MAX);
	assert_int_equal(r.lookup_terms, 40);
	assert_true(has(&pr, false, "more than 32 include targets"));
	assert_true(has(&pr, true, "40 DNS-querying terms"));

	memset(label, 'a', 63);
	label[63] = '\0';
	p = buf + sprintf(buf, "v=spf1 include:");
	for (int i = 0; i < 4; i++)
		p += sprintf(p, "%s.", label);
	p += sprintf(p, "com -all");
	assert_int_equal(spf_parse(buf, (size_t)(p - buf), &r, &pr), -1);
	assert_true(has(&pr, true, "not a valid domain-spec"));
	assert_int_equal(r.n_includes, 0);

	/* a 64-octet label */
	p = buf + sprintf(buf, "v=spf1 a:%sa.example -all", label);
	assert_int_equal(spf_parse(buf, (size_t)(p - buf), &r, &pr), -1);
	p = buf + sprintf(buf, "v=spf1 a:%s.example -all", label);
	assert_int_equal(spf_parse(buf, (size_t)(p - buf), &r, &pr), 0);

	assert_int_equal(spf_parse(S("v=spf1 a\0mx -all"), &r, &pr), -1);
	assert_true(has(&pr, true, "octet 0x00 at offset 8"));

	/* many problems: only RECORD_PROBLEMS_MAX kept, the rest counted */
	assert_int_equal(spf_parse(S("v=spf1 a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11"), &r, &pr), -1);
	assert_int_equal(pr.n, RECORD_PROBLEMS_MAX);
	assert_int_equal(pr.n_dropped, 11 - RECORD_PROBLEMS_MAX);
	assert_int_equal(pr.n_fatal, 11);
	/* a fatal problem past the kept ones still makes the record invalid */
	assert_int_equal(
	    spf_parse(S("v=spf1 ptr ptr ptr ptr ptr ptr ptr ptr ptr -all"), &r, &pr), 0);
	assert_int_equal(pr.n, 1); /* the ptr warning, once */
	{
		struct dmarc_record d;
		assert_int_equal(
		    dmarc_parse(S("v=DMARC1; x1=1; x2=1; x3=1; x4=1; x5=1; x6=1; x7=1; "
				  "x8=1; x9=1; p=bogus"),
			&d, &pr),
		    -1);
	}
	assert_int_equal(pr.n, RECORD_PROBLEMS_MAX);
	assert_int_equal(pr.n_fatal, 1);
	assert_int_equal(pr.n_dropped, 2);
}

/* ---- DMARC ------------------------------------------------------------------ */

static const struct rcase dmarc_cases[] = {
	/* RFC 7489 appendix B examples */
	{ DMARC, "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com", 0, NULL },
	{ DMARC,
	    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; "
	    "ruf=mailto:auth-reports@thirdparty.example.net",
	    0, NULL },
	{ DMARC,
	    "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,"
	    "mailto:tld-test@thirdparty.example.net!10m; pct=25",
	    0, NULL },
	{ DMARC, "v=DMARC1; p=reject", 0, NULL },
	{ DMARC, "v=DMARC1;p=reject;sp=none;adkim=s;aspf=r;pct=0;fo=1:d:s;rf=afrf;ri=3600;", 0,
	    NULL },
	{ DMARC, "v=DMARC1 ; p = Reject ; ", 0, NULL },
	{ DMARC, "V=DMARC1; P=none", 0, NULL },
	{ DMARC, "v=DMARC1; p=none; rua=mailto:a@example.com , mailto:b@example.org!5", 0, NULL },
	{ DMARC, "v=DMARC1; p=none; np=reject", 0, "unknown tag \"np\"" },
	{ DMARC, "v=DMARC1; p=none; rua=https://example.com/dmarc", 0, "not a mailto: URI" },
	{ DMARC, "v=DMARC1; p=none; rf=iodef", 0, "only afrf" },
	/* invalid */
	{ DMARC, "v=DMARC1", -1, "\"p\" is missing" },
	{ DMARC, "v=DMARC1; sp=reject", -1, "\"p\" is missing" },
	{ DMARC, "v=DMARC1; p=block", -1, "must be none, quarantine or reject" },
	{ DMARC, "v=DMARC1; p=", -1, "must be none, quarantine or reject" },
	{ DMARC, "v=DMARC1; p=none; sp=all", -1, "must be none, quarantine or reject" },
	{ DMARC, "v=DMARC1; p=none; p=reject", -1, "more than once" },
	{ DMARC, "v=dmarc1; p=none", -1, "is not \"DMARC1\"" },
	{ DMARC, "p=none; v=DMARC1", -1, "must start with \"v=DMARC1\"" },
	{ DMARC, " v=DMARC1; p=none", -1, "must start with \"v=DMARC1\"" },
	{ DMARC, ";v=DMARC1; p=none", -1, "must start with \"v=DMARC1\"" },
	{ DMARC, "v=DMARC1; p=none; v=DMARC1", -1, "first tag" },
	{ DMARC, "v=DMARC1; p=none; pct=101", -1, "from 0 to 100" },
	{ DMARC, "v=DMARC1; p=none; pct=-1", -1, "from 0 to 100" },
	{ DMARC, "v=DMARC1; p=none; pct=5x", -1, "from 0 to 100" },
	{ DMARC, "v=DMARC1; p=none; adkim=x", -1, "must be r or s" },
	{ DMARC, "v=DMARC1; p=none; aspf=relaxed", -1, "must be r or s" },
	{ DMARC, "v=DMARC1; p=none; rua=mailto:nobody", -1, "not a valid mailto: URI" },
	{ DMARC, "v=DMARC1; p=none; rua=mailto:@example.com", -1, "not a valid mailto: URI" },
	{ DMARC, "v=DMARC1; p=none; rua=mailto:a@-x.example", -1, "not a valid mailto: URI" },
	{ DMARC, "v=DMARC1; p=none; rua=mailto:a@example.com!10x", -1, "bad size limit" },
	{ DMARC, "v=DMARC1; p=none; rua=mailto:a@example.com!", -1, "bad size limit" },
	{ DMARC, "v=DMARC1; p=none; rua=", -1, "has no URI" },
	{ DMARC, "v=DMARC1; p=none; rua=mailto:a@example.com,", -1, "empty URI" },
	{ DMARC, "v=DMARC1; p=none; ruf=mailto:a b@example.com", -1, "not a valid mailto: URI" },
	{ DMARC, "v=DMARC1; p=none; fo=2", -1, "must be 0, 1, d or s" },
	{ DMARC, "v=DMARC1; p=none; fo=0:", -1, "must be 0, 1, d or s" },
	{ DMARC, "v=DMARC1; p=none; fo=01", -1, "must be 0, 1, d or s" },
	{ DMARC, "v=DMARC1; p=none; rf=", -1, "report format names" },
	{ DMARC, "v=DMARC1; p=none; ri=1h", -1, "whole number of seconds" },
	{ DMARC, "v=DMARC1; p=none; ri=4294967296", -1, "whole number of seconds" },
	{ DMARC, "v=DMARC1; p=none; garbage", -1, "not a tag=value pair" },
	{ DMARC, "v=DMARC1; p=none\x7f", -1, "octet 0x7f" },
	{ DMARC, "v=DMARC1; p=none; rua=mailto:a@\xc3\xa9.example", -1, "octet 0xc3" },
};

static void
test_dmarc_cases(void **state)
{
	(void)state;
	RUN(dmarc_cases);
}

static void
test_dmarc_fields(void **state)
{
	struct dmarc_record r;
	struct record_problems pr;

	(void)state;
	assert_int_equal(dmarc_parse(S("v=DMARC1; p=none"), &r, &pr), 0);
	assert_string_equal(r.p, "none");
	assert_string_equal(r.sp, "");
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.adkim, 'r');
	assert_int_equal(r.aspf, 'r');
	assert_int_equal(r.n_rua, 0);
	assert_int_equal(r.ri, 86400);
	assert_string_equal(r.fo, "0");

	assert_int_equal(
	    dmarc_parse(S("v=DMARC1; p=QUARANTINE; sp=reject; pct=30; adkim=s; aspf=S; "
			  "rua=mailto:a@example.com,mailto:b@example.net!10m; "
			  "ruf=mailto:c@example.org; fo=d:s; ri=60"),
		&r, &pr),
	    0);
	assert_string_equal(r.p, "quarantine");
	assert_string_equal(r.sp, "reject");
	assert_int_equal(r.pct, 30);
	assert_int_equal(r.adkim, 's');
	assert_int_equal(r.aspf, 's');
	assert_int_equal(r.n_rua, 2);
	assert_string_equal(r.rua[0], "mailto:a@example.com");
	assert_string_equal(r.rua[1], "mailto:b@example.net");
	assert_int_equal(r.n_ruf, 1);
	assert_string_equal(r.fo, "d:s");
	assert_int_equal(r.ri, 60);
	assert_int_equal(pr.n, 0);
}

static void
test_dmarc_hostile(void **state)
{
	struct dmarc_record r;
	struct record_problems pr;
	char buf[2048], *p;

	(void)state;
	/* more URIs than fit: kept up to 8, all checked */
	p = buf + sprintf(buf, "v=DMARC1; p=none; rua=");
	for (int i = 0; i < 12; i++)
		p += sprintf(p, "%smailto:r%d@example.com", i ? "," : "", i);
	assert_int_equal(dmarc_parse(buf, (size_t)(p - buf), &r, &pr), 0);
	assert_int_equal(r.n_rua, 8);
	/* a URI longer than its array is checked but not kept */
	p = buf + sprintf(buf, "v=DMARC1; p=none; rua=mailto:");
	memset(p, 'x', 300);
	p += 300;
	p += sprintf(p, "@example.com");
	assert_int_equal(dmarc_parse(buf, (size_t)(p - buf), &r, &pr), 0);
	assert_int_equal(r.n_rua, 0);
	/* NUL inside */
	assert_int_equal(dmarc_parse(S("v=DMARC1; p=none\0; p=reject"), &r, &pr), -1);
	assert_true(has(&pr, true, "octet 0x00"));
	/* a length that stops inside the record: only that much is read */
	assert_int_equal(dmarc_parse("v=DMARC1; p=nonesense", 16, &r, &pr), 0);
	assert_string_equal(r.p, "none");
}

/* ---- MTA-STS ------------------------------------------------------------------ */

static const struct rcase sts_cases[] = {
	{ STS, "v=STSv1; id=20160831085700Z;", 0, NULL }, /* RFC 8461 3.1 */
	{ STS, "v=STSv1;id=1", 0, NULL },
	{ STS, "v=STSv1; id=abcdefghijklmnopqrstuvwxyz012345", 0, NULL },
	{ STS, "v=STSv1; id=1; ext_1.x-y=some:value", 0, NULL },
	{ STS, "v=STSv1", -1, "\"id\" is missing" },
	{ STS, "v=STSv1; id=", -1, "1 to 32 letters" },
	{ STS, "v=STSv1; id=abcdefghijklmnopqrstuvwxyz0123456", -1, "1 to 32 letters" },
	{ STS, "v=STSv1; id=2016-08-31", -1, "1 to 32 letters" },
	{ STS, "v=STSv1; id=1; id=2", -1, "more than once" },
	{ STS, "v=STSv1; id = 1", -1, "without spaces" },
	{ STS, "v=stsv1; id=1", -1, "case matters" },
	{ STS, "v=STSv1 id=1", -1, "\";\" must follow" },
	{ STS, "v=STSv10; id=1", -1, "must start with" },
	{ STS, "id=1; v=STSv1", -1, "must start with" },
	{ STS, "v=STSv1; id=1; -x=y", -1, "not a valid extension" },
	{ STS, "v=STSv1; id=1; x=", -1, "not a valid extension" },
	{ STS, "v=STSv1; id=1; junk", -1, "not a field=value pair" },
	{ STS, "v=STSv1; id=1\x80", -1, "octet 0x80" },
};

static const struct rcase policy_cases[] = {
	{ POLICY,
	    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
	    "mx: backupmx.example.com\r\nmax_age: 604800\r\n",
	    0, NULL }, /* RFC 8461 3.2 */
	{ POLICY, "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400", 0, NULL },
	{ POLICY, "version: STSv1\nmode: none\nmax_age: 0\n", 0, NULL },
	{ POLICY, "version:STSv1\nmode:\tenforce  \nmx: a.example\nmax_age: 31557600\nfoo: bar\n",
	    0, NULL },
	{ POLICY, "version: STSv1\nmode: none\nmax_age: 1\nmode: enforce\n", 0,
	    "the first one counts" },
	{ POLICY, "version: STSv1\n\nmode: none\nmax_age: 1\n", 0, "empty line" },
	{ POLICY, "version: STSv1\nmode: enforce\nmax_age: 86400\n", -1,
	    "needs at least one \"mx\"" },
	{ POLICY, "version: STSv1\nmode: testing\nmax_age: 86400\n", -1,
	    "needs at least one \"mx\"" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", -1,
	    "max_age" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", -1, "max_age" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1d\n", -1, "max_age" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999999999999\n",
	    -1, "max_age" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: a.example\n", -1, "\"max_age\" is missing" },
	{ POLICY, "mode: enforce\nmx: a.example\nmax_age: 1\n", -1,
	    "\"version: STSv1\" is missing" },
	{ POLICY, "version: STSv1\nmx: a.example\nmax_age: 1\n", -1, "\"mode\" is missing" },
	{ POLICY, "version: STSv2\nmode: none\nmax_age: 1\n", -1, "is not \"STSv1\"" },
	{ POLICY, "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", -1,
	    "enforce, testing or none" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", -1,
	    "not a host name" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: mail*.example\nmax_age: 1\n", -1,
	    "not a host name" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: a.example.\nmax_age: 1\n", -1,
	    "not a host name" },
	{ POLICY, "version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", -1, "not a host name" },
	{ POLICY, "version: STSv1\nmode: none\nmax_age: 1\ngarbage\n", -1, "has no \":\"" },
	{ POLICY, "version: STSv1\nmode:\nmax_age: 1\n", -1, "lacks a name or a value" },
	{ POLICY, "version: STSv1\nmo de: none\nmax_age: 1\n", -1, "bad field name" },
	{ POLICY, "version: STSv1\nmode: none\nmax_age: 1\n_ext: x\n", -1, "bad field name" },
	{ POLICY,
	    "version: STSv1\nmode: none\nmax_age: 1\n"
	    "a23456789012345678901234567890123: x\n",
	    -1, "bad field name" },
	{ POLICY,
	    "version: STSv1\nmode: none\nmax_age: 1\n"
	    "a2345678901234567890123456789012: x\n",
	    0, NULL },
	{ POLICY, "version: STSv1\rmode: none\rmax_age: 1\r", -1, "octet 0x0d" },
	{ POLICY, "version: STSv1\nmode: none\nmax_age: 1\n\x01", -1, "octet 0x01" },
	{ POLICY, "", -1, "is missing" },
	{ POLICY, "<html><body>Not Found</body></html>", -1, "has no \":\"" },
};

static const struct rcase tlsrpt_cases[] = {
	/* RFC 8460 3.1 examples */
	{ TLSRPT, "v=TLSRPTv1;rua=mailto:reports@example.com", 0, NULL },
	{ TLSRPT, "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", 0, NULL },
	{ TLSRPT, "v=TLSRPTv1; rua=mailto:reports@example.com,https://reporting.example.com:8443/x",
	    0, NULL },
	{ TLSRPT, "v=TLSRPTv1; rua=mailto:a@example.com;", 0, NULL },
	{ TLSRPT, "v=TLSRPTv1; rua=mailto:a@example.com; ext=1", 0, NULL },
	{ TLSRPT, "v=TLSRPTv1", -1, "\"rua\" is missing" },
	{ TLSRPT, "v=TLSRPTv1; rua=", -1, "has no URI" },
	{ TLSRPT, "v=TLSRPTv1; rua=http://example.com/r", -1, "not a valid mailto: or https: URI" },
	{ TLSRPT, "v=TLSRPTv1; rua=https://", -1, "not a valid mailto: or https: URI" },
	{ TLSRPT, "v=TLSRPTv1; rua=https://example.com:0/", -1,
	    "not a valid mailto: or https: URI" },
	{ TLSRPT, "v=TLSRPTv1; rua=https://example.com:99999/", -1,
	    "not a valid mailto: or https: URI" },
	{ TLSRPT, "v=TLSRPTv1; rua=reports@example.com", -1, "not a valid mailto: or https: URI" },
	{ TLSRPT, "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", -1,
	    "more than once" },
	{ TLSRPT, "v=TLSRPTv1; rua = mailto:a@example.com", -1, "no spaces" },
	{ TLSRPT, "v=tlsrptv1; rua=mailto:a@example.com", -1, "case matters" },
	{ TLSRPT, "v=TLSRPTv1; rua=mailto:a@example.com; bogus", -1, "not a valid field" },
	{ TLSRPT, "v=TLSRPTv1; rua=mailto:a@example.com\n", -1, "octet 0x0a" },
	{ TLSRPT, "v=TLSRPTv1 rua=mailto:a@example.com", -1, "\";\" must follow" },
};

static void
test_other_cases(void **state)
{
	(void)state;
	RUN(sts_cases);
	RUN(policy_cases);
	RUN(tlsrpt_cases);
}

static void
test_sts_fields(void **state)
{
	struct mta_sts_txt t;
	struct mta_sts_policy p;
	struct tlsrpt_record r;
	struct record_problems pr;
	char buf[8192], *b;

	(void)state;
	assert_int_equal(mta_sts_txt_parse(S("v=STSv1; id=20160831085700Z;"), &t, &pr), 0);
	assert_string_equal(t.id, "20160831085700Z");

	assert_int_equal(mta_sts_policy_parse(
			     S("version: STSv1\r\nmode: enforce\r\n"
			       "mx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"),
			     &p, &pr),
	    0);
	assert_string_equal(p.mode, "enforce");
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.n_mx, 2);
	assert_string_equal(p.mx[0], "mail.example.com");
	assert_string_equal(p.mx[1], "*.example.net");

	/* more mx lines than fit */
	b = buf + sprintf(buf, "version: STSv1\nmode: enforce\nmax_age: 10\n");
	for (int i = 0; i < 40; i++)
		b += sprintf(b, "mx: mx%d.example.com\n", i);
	assert_int_equal(mta_sts_policy_parse(buf, (size_t)(b - buf), &p, &pr), 0);
	assert_int_equal(p.n_mx, MTA_STS_MX_MAX);
	assert_true(has(&pr, false, "more than 32 mx lines"));

	assert_int_equal(
	    tlsrpt_parse(S("v=TLSRPTv1; rua=mailto:a@example.com, https://r.example/x"), &r, &pr),
	    0);
	assert_int_equal(r.n_rua, 2);
	assert_string_equal(r.rua[0], "mailto:a@example.com");
	assert_string_equal(r.rua[1], "https://r.example/x");
}

/* RFC 8461 4.1: an MX pattern, a host, whether the host matches. */
static const struct {
	const char *pattern, *host;
	bool want;
} mx_matches[] = {
	{ "mail.example.com", "mail.example.com", true },
	{ "mail.example.com", "MAIL.Example.com.", true },
	{ "*.example.com", "mail.example.com", true },
	{ "*.Example.COM", "mx1.example.com", true },
	{ "*.example.com", "example.com", false },
	{ "*.example.com", "a.b.example.com", false },
	{ "*.example.com", ".example.com", false },
	{ "*.example.com", "mail.example.com.evil", false },
	{ "*.example.com", "mailexample.com", false },
	{ "mail.example.com", "mail.example.org", false },
	{ "mail.example.com", "xmail.example.com", false },
	{ "example.com", "mail.example.com", false },
	{ "", "", false },
	{ "*.", "a.", false },
	{ "*", "a", false },
};

static void
test_mx_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(mx_matches) / sizeof(mx_matches[0]); i++) {
		if (mta_sts_mx_match(mx_matches[i].pattern, mx_matches[i].host) !=
		    mx_matches[i].want)
			print_error("row %zu: \"%s\" and \"%s\"\n", i, mx_matches[i].pattern,
			    mx_matches[i].host);
		if (mx_matches[i].want)
			assert_true(mta_sts_mx_match(mx_matches[i].pattern, mx_matches[i].host));
		else
			assert_false(mta_sts_mx_match(mx_matches[i].pattern, mx_matches[i].host));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_record),
		cmocka_unit_test(test_spf_cases),
		cmocka_unit_test(test_spf_fields),
		cmocka_unit_test(test_spf_hostile),
		cmocka_unit_test(test_dmarc_cases),
		cmocka_unit_test(test_dmarc_fields),
		cmocka_unit_test(test_dmarc_hostile),
		cmocka_unit_test(test_other_cases),
		cmocka_unit_test(test_sts_fields),
		cmocka_unit_test(test_mx_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
