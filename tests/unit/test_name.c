/*
 * test_name.c - lib/name.c: mx_domain_from_arg (case folding, trailing
 * dot, addresses and the last @, address and IP literals, label and name
 * length limits, bad characters, hyphens, IDN to A-labels, a sentence in
 * *why on every BAD_DOMAIN), name_is_ip_literal, name_check_hostname,
 * name_equal and name_fold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mx.h"
#include "name.h"

/* Expects success and the canonical form want. */
static void
ok(const char *arg, const char *want)
{
	char out[MX_DOMAIN_MAX + 1];
	mx_why why;

	memset(out, 'x', sizeof(out));
	memset(&why, 'x', sizeof(why));
	assert_int_equal(mx_domain_from_arg(arg, out, &why), MX_OK);
	assert_string_equal(out, want);
	assert_string_equal(why.text, ""); /* "" on success */
}

/* Expects MX_ERR_BAD_DOMAIN with the sentence want (or any if NULL). */
static void
bad(const char *arg, const char *want)
{
	char out[MX_DOMAIN_MAX + 1];
	mx_why why;

	assert_int_equal(mx_domain_from_arg(arg, out, &why), MX_ERR_BAD_DOMAIN);
	assert_true(strlen(why.text) > 5);
	if (want != NULL)
		assert_string_equal(why.text, want);
}

/* A string of n copies of c. */
static char *
rep(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

#define EMPTY_LABEL "has an empty label (two dots in a row, or a leading dot)"
#define BAD_CHAR    "contains a character other than letters, digits, hyphens and dots"
#define HYPHEN      "has a label that begins or ends with a hyphen"
#define TOO_LONG    "is longer than 253 characters"
#define LONG_LABEL  "has a label longer than 63 characters"

static void
test_case_folding(void **state)
{
	(void)state;
	ok("Example.COM", "example.com");
	ok("MX-1.EXAMPLE.com", "mx-1.example.com");
	ok("example.com", "example.com");
	ok("a", "a");
}

static void
test_trailing_dot(void **state)
{
	(void)state;
	ok("example.com.", "example.com");
	ok("Example.COM.", "example.com");
	bad("example.com..", EMPTY_LABEL);
	bad(".", EMPTY_LABEL);
}

static void
test_addresses(void **state)
{
	(void)state;
	ok("user@Example.COM", "example.com");
	ok("user@example.com.", "example.com");
	ok("\"a@b\"@example.com", "example.com");
	ok("a@b@Example.Net", "example.net");
	ok("@example.com", "example.com");
	bad("@", "is an address with nothing after the @");
	bad("user@", "is an address with nothing after the @");
	bad("user@[192.0.2.1]",
	    "is an address literal: mail to it goes to "
	    "that address directly, not by MX");
	bad("user@[IPv6:2001:db8::1]",
	    "is an address literal: mail to it goes "
	    "to that address directly, not by MX");
}

static void
test_empty(void **state)
{
	(void)state;
	bad("", "is empty");
}

static void
test_ip_as_domain(void **state)
{
	(void)state;
	bad("192.0.2.1", "is an IP address, not a domain");
	bad("192.0.2.1.", "is an IP address, not a domain");
	bad("2001:db8::1", "is an IP address, not a domain");
	bad("user@192.0.2.1", "is an IP address, not a domain");
	bad("[192.0.2.1]", BAD_CHAR);
	/* Digits alone are a valid name when it is not an address. */
	ok("192.0.2.1.example", "192.0.2.1.example");
}

static void
test_empty_label(void **state)
{
	(void)state;
	bad("a..b", EMPTY_LABEL);
	bad(".a", EMPTY_LABEL);
	bad("user@.example.com", EMPTY_LABEL);
}

static void
test_label_length(void **state)
{
	char label[80], arg[200];

	(void)state;
	snprintf(arg, sizeof(arg), "%s.example", rep(label, 'a', 63));
	ok(arg, arg);
	snprintf(arg, sizeof(arg), "%s.example", rep(label, 'a', 64));
	bad(arg, LONG_LABEL);
	snprintf(arg, sizeof(arg), "example.%s", rep(label, 'b', 64));
	bad(arg, LONG_LABEL);
}

static void
test_name_length(void **state)
{
	char l63[64], l61[62], l62[63], arg[300], dotted[300];

	(void)state;
	rep(l63, 'a', 63);
	rep(l61, 'b', 61);
	rep(l62, 'b', 62);
	/* 63+1+63+1+63+1+61 = 253 */
	snprintf(arg, sizeof(arg), "%s.%s.%s.%s", l63, l63, l63, l61);
	assert_int_equal(strlen(arg), 253);
	ok(arg, arg);
	snprintf(dotted, sizeof(dotted), "%s.", arg);
	ok(dotted, arg);
	/* 254 */
	snprintf(arg, sizeof(arg), "%s.%s.%s.%s", l63, l63, l63, l62);
	assert_int_equal(strlen(arg), 254);
	bad(arg, TOO_LONG);
	snprintf(dotted, sizeof(dotted), "%s.", arg);
	bad(dotted, TOO_LONG);
	snprintf(dotted, sizeof(dotted), "user@%s", arg);
	bad(dotted, TOO_LONG);
}

static void
test_bad_characters(void **state)
{
	(void)state;
	bad("exa mple.com", BAD_CHAR);
	bad("ex_ample.com", BAD_CHAR);
	bad("_dmarc.example.com", BAD_CHAR);
	bad("exa\tmple.com", BAD_CHAR);
	bad("ex\001ample.com", BAD_CHAR);
	bad("example.com\r", BAD_CHAR);
	bad("exa\177mple.com", BAD_CHAR);
	bad("exa/mple.com", BAD_CHAR);
	bad("exa*.com", BAD_CHAR);
}

static void
test_hyphens(void **state)
{
	(void)state;
	bad("-example.com", HYPHEN);
	bad("example-.com", HYPHEN);
	bad("example.-com", HYPHEN);
	bad("example.com-", HYPHEN);
	bad("-", HYPHEN);
	ok("ex-ample.com", "ex-ample.com");
	ok("xn--bcher-kva.example", "xn--bcher-kva.example");
}

static void
test_idn(void **state)
{
	(void)state;
	ok("b\xc3\xbc"
	   "cher.example",
	    "xn--bcher-kva.example");
	ok("b\xc3\xbc"
	   "cher.example.",
	    "xn--bcher-kva.example");
	ok("user@b\xc3\xbc"
	   "cher.example",
	    "xn--bcher-kva.example");
	/* TR46 maps upper case: "B\u00dcCHER.Example" */
	ok("B\xc3\x9c"
	   "CHER.Example",
	    "xn--bcher-kva.example");
	/* Not UTF-8 at all. */
	bad("\xff\xfe.example", "is not a valid internationalised domain name (IDNA2008)");
}

static void
test_why_optional_and_null_args(void **state)
{
	char out[MX_DOMAIN_MAX + 1];
	mx_why why;

	(void)state;
	assert_int_equal(mx_domain_from_arg("Example.com", out, NULL), MX_OK);
	assert_string_equal(out, "example.com");
	assert_int_equal(mx_domain_from_arg("a..b", out, NULL), MX_ERR_BAD_DOMAIN);
	assert_int_equal(mx_domain_from_arg(NULL, out, &why), MX_ERR_INVALID);
	assert_true(why.text[0] != '\0');
	assert_int_equal(mx_domain_from_arg("example.com", NULL, &why), MX_ERR_INVALID);
}

/* Every BAD_DOMAIN outcome, over a table of bad arguments. */
static void
test_why_always_a_sentence(void **state)
{
	static const char *const args[] = { "", "@", "a@", "a..b", ".", "-a", "a b", "a_b",
		"1.2.3.4", "::1", "x@[::1]", "\xc3", "a\001b", "exa\177mple" };
	char out[MX_DOMAIN_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		mx_why why;
		assert_int_equal(mx_domain_from_arg(args[i], out, &why), MX_ERR_BAD_DOMAIN);
		assert_true(strlen(why.text) > 5);
		assert_true(why.text[0] >= 'a' && why.text[0] <= 'z');
	}
}

static void
test_ip_literal(void **state)
{
	char longname[100];

	(void)state;
	assert_true(name_is_ip_literal("192.0.2.1"));
	assert_true(name_is_ip_literal("192.0.2.1."));
	assert_true(name_is_ip_literal("2001:db8::1"));
	assert_true(name_is_ip_literal("::1"));
	assert_true(name_is_ip_literal("::ffff:192.0.2.1"));
	/* Every character an address may hold passes the quick scan. */
	assert_true(name_is_ip_literal("2001:DB8:ABCD:EF01::a"));
	assert_true(name_is_ip_literal("::FFFF:192.0.2.1"));
	assert_true(name_is_ip_literal("dead:beef::cafe"));
	assert_false(name_is_ip_literal("cafe.fade"));
	assert_false(name_is_ip_literal("dead:beef::cafe:x"));
	assert_false(name_is_ip_literal(""));
	assert_false(name_is_ip_literal("."));
	assert_false(name_is_ip_literal("example.com"));
	assert_false(name_is_ip_literal("192.0.2"));
	assert_false(name_is_ip_literal("1.2.3.4.5"));
	assert_false(name_is_ip_literal("256.0.0.1"));
	assert_false(name_is_ip_literal("[192.0.2.1]"));
	assert_false(name_is_ip_literal("192.0.2.1.example"));
	rep(longname, '1', 90);
	assert_false(name_is_ip_literal(longname));
}

static void
test_check_hostname(void **state)
{
	char buf[300];

	(void)state;
	assert_null(name_check_hostname("mx.example.com"));
	assert_null(name_check_hostname("a"));
	assert_null(name_check_hostname("1-2.example"));
	assert_string_equal(name_check_hostname(""), "is empty");
	assert_string_equal(name_check_hostname("a..b"), EMPTY_LABEL);
	assert_string_equal(name_check_hostname("a."), EMPTY_LABEL);
	assert_string_equal(name_check_hostname(".a"), EMPTY_LABEL);
	assert_string_equal(name_check_hostname("a b.c"), BAD_CHAR);
	assert_string_equal(name_check_hostname("a\\032b.c"), BAD_CHAR);
	assert_string_equal(name_check_hostname("a-.c"), HYPHEN);
	assert_string_equal(name_check_hostname("a.-c"), HYPHEN);
	rep(buf, 'a', 64);
	assert_string_equal(name_check_hostname(buf), LONG_LABEL);
	rep(buf, 'a', 63);
	assert_null(name_check_hostname(buf));
	rep(buf, 'a', 254);
	for (size_t i = 50; i < 254; i += 50)
		buf[i] = '.';
	assert_string_equal(name_check_hostname(buf), TOO_LONG);
	buf[253] = '\0';
	assert_null(name_check_hostname(buf));
}

static void
test_equal(void **state)
{
	(void)state;
	assert_true(name_equal("example.com", "example.com"));
	assert_true(name_equal("Example.COM.", "example.com"));
	assert_true(name_equal("example.com", "EXAMPLE.com."));
	assert_true(name_equal("a.", "a."));
	assert_false(name_equal("a..", "a"));
	assert_false(name_equal("example.com", "example.org"));
	assert_false(name_equal("ab", "a"));
	assert_false(name_equal("a", "ab"));
	assert_false(name_equal("mx.example.com", "example.com"));
}

static void
test_fold(void **state)
{
	char s[] = "AbC-1.EXAMPLE\xc3\x9c";

	(void)state;
	name_fold(s);
	assert_string_equal(s, "abc-1.example\xc3\x9c");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_case_folding),
		cmocka_unit_test(test_trailing_dot),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_ip_as_domain),
		cmocka_unit_test(test_empty_label),
		cmocka_unit_test(test_label_length),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_bad_characters),
		cmocka_unit_test(test_hyphens),
		cmocka_unit_test(test_idn),
		cmocka_unit_test(test_why_optional_and_null_args),
		cmocka_unit_test(test_why_always_a_sentence),
		cmocka_unit_test(test_ip_literal),
		cmocka_unit_test(test_check_hostname),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_fold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
