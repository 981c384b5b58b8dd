/*
 * test_address.c - lib/address.c: envelope addresses (forms with and
 * without <>, the null path for senders only, every RFC 5321 4.5.3.1
 * length limit at its edge, Dot-string and Quoted-string rules, address
 * literals, IDN domains to A-labels, SMTPUTF8 local parts, the hostile
 * list: CR, LF, NUL and other controls anywhere) and RFC 5322
 * address-list fields (display names, comments, groups, obsolete forms,
 * folding, duplicates, bad entries and the cap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "address.h"

#define WHY_LINE_BREAK "contains a line break (CR or LF), which could smuggle in an SMTP command"
#define NEEDS_QUOTES                                                                               \
	"has a character in its local part that is allowed only inside "                           \
	"quotes: one of ( ) < > [ ] : ; \\ ,"

/* Expects a recipient (or sender) to parse with this path. */
static void
ok_role(const char *in, address_role role, const char *path)
{
	struct address a;
	const char *why = "not reset";

	assert_int_equal(address_parse_bytes(in, strlen(in), role, &a, &why), MX_OK);
	assert_null(why);
	assert_string_equal(a.path, path);
	assert_true(strlen(a.path) <= ADDRESS_PATH_MAX);
}

static void
ok(const char *in, const char *path)
{
	ok_role(in, ADDRESS_RECIPIENT, path);
	ok_role(in, ADDRESS_SENDER, path);
}

/* Expects len octets to fail in both roles with the sentence want. */
static void
bad_bytes(const char *in, size_t len, const char *want)
{
	struct address a;
	const char *why = NULL;

	for (int role = 0; role < 2; role++) {
		memset(&a, 'x', sizeof(a));
		assert_int_equal(
		    address_parse_bytes(in, len, (address_role)role, &a, &why), MX_ERR_BAD_ADDRESS);
		assert_non_null(why);
		if (want != NULL)
			assert_string_equal(why, want);
		assert_string_equal(a.path, "");
	}
}

static void
bad(const char *in, const char *want)
{
	bad_bytes(in, strlen(in), want);
}

static char *
rep(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void
test_forms(void **state)
{
	struct address a;

	(void)state;
	ok("user@example.test", "<user@example.test>");
	ok("<user@example.test>", "<user@example.test>");
	ok("User.Name+tag@Example.TEST", "<User.Name+tag@example.test>");
	ok("user@example.test.", "<user@example.test>");
	assert_int_equal(address_parse("Joe@EXAMPLE.test", &a, NULL), MX_OK);
	assert_string_equal(a.local, "Joe");
	assert_string_equal(a.domain, "example.test");
	assert_false(a.smtputf8);
	assert_false(a.null);
}

static void
test_null_path(void **state)
{
	struct address a;
	const char *why = NULL;

	(void)state;
	assert_int_equal(address_parse_sender("<>", &a, &why), MX_OK);
	assert_true(a.null);
	assert_string_equal(a.path, "<>");
	assert_string_equal(a.local, "");
	assert_string_equal(a.domain, "");
	assert_int_equal(address_parse("<>", &a, &why), MX_ERR_BAD_ADDRESS);
	assert_string_equal(why, "is the null path <>, which only a sender can be");
	assert_int_equal(address_parse_sender("", &a, &why), MX_ERR_BAD_ADDRESS);
	assert_string_equal(why, "is empty");
	assert_int_equal(address_parse(NULL, &a, &why), MX_ERR_INVALID);
	assert_int_equal(address_parse("a@b.test", NULL, &why), MX_ERR_INVALID);
}

static void
test_hostile(void **state)
{
	static const char nul[] = "us\0er@example.test";

	(void)state;
	bad("user@example.test\r\nDATA", WHY_LINE_BREAK);
	bad("user@example.test\r\nRCPT TO:<victim@example.test>", WHY_LINE_BREAK);
	bad("<user@example.test>\r\n.\r\nMAIL FROM:<x@y.test>", WHY_LINE_BREAK);
	bad("user@example.test\n", WHY_LINE_BREAK);
	bad("user@example.test\r", WHY_LINE_BREAK);
	bad("\nuser@example.test", WHY_LINE_BREAK);
	bad("\"a\r\nb\"@example.test", WHY_LINE_BREAK);
	bad_bytes(nul, sizeof(nul) - 1, "contains a NUL byte");
	bad_bytes("user@example.test\0", 18, "contains a NUL byte");
	bad("us\ter@example.test", "contains a control character");
	bad("\"us\ter\"@example.test", "contains a control character");
	bad("user\x1b[31m@example.test", "contains a control character");
	bad("us\x7f"
	    "er@example.test",
	    "contains a control character");
	bad("us\xc2\x85"
	    "er@example.test",
	    "contains a control character");
	bad("user@exam\xc2\x9fple.test", "contains a control character");
}

static void
test_dot_string(void **state)
{
	(void)state;
	ok("a.b.c@example.test", "<a.b.c@example.test>");
	ok("!#$%&'*+-/=?^_`{|}~@example.test", "<!#$%&'*+-/=?^_`{|}~@example.test>");
	ok("a|b$c`d@example.test", "<a|b$c`d@example.test>");
	bad("a..b@x.test", "has two dots in a row in its local part");
	bad(".a@x.test", "has a local part that begins with a dot");
	bad("a.@x.test", "has a local part that ends with a dot");
	bad("a b@example.test", "contains a space outside quotes");
	bad(" user@example.test", "contains a space outside quotes");
	bad("a\"b\"@x.test", "has a quote inside its local part (quote all of it or nothing)");
	bad("a;b@example.test", NEEDS_QUOTES);
	bad("a(b)@example.test", NEEDS_QUOTES);
	bad("a,b@example.test", NEEDS_QUOTES);
	bad("a<b@example.test", NEEDS_QUOTES);
	bad("a\\b@example.test", NEEDS_QUOTES);
	bad("a:b@example.test", NEEDS_QUOTES);
	bad("a[b]@example.test", NEEDS_QUOTES);
	bad("<<a@example.test>>", NEEDS_QUOTES);
}

static void
test_quoted_string(void **state)
{
	struct address a;

	(void)state;
	ok("\"a b\"@example.test", "<\"a b\"@example.test>");
	ok("<\"a b\"@example.test>", "<\"a b\"@example.test>");
	ok("\"a\\\"b\"@example.test", "<\"a\\\"b\"@example.test>");
	ok("\"a\\\\b\"@example.test", "<\"a\\\\b\"@example.test>");
	ok("\"a@b\"@example.test", "<\"a@b\"@example.test>");
	ok("\"a..b\"@example.test", "<\"a..b\"@example.test>");
	ok("\"|cmd; rm -rf / <x> (y), [z]\"@example.test",
	    "<\"|cmd; rm -rf / <x> (y), [z]\"@example.test>");
	ok("\"\"@example.test", "<\"\"@example.test>");
	/* as the server queues them: unnecessary quoting and pairs kept, never normalised */
	ok("\"john doe\"@Example.TEST", "<\"john doe\"@example.test>");
	ok("\"abc\"@example.test", "<\"abc\"@example.test>");
	ok("\"a\\ b\"@example.test", "<\"a\\ b\"@example.test>");
	ok("\" \"@example.test", "<\" \"@example.test>");
	ok("\"x@y\"@example.test", "<\"x@y\"@example.test>");
	/* 4.5.3.1.1: 64 octets of local part, the quotes and the blank counted */
	ok("\"john doe xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"@example.test",
	    "<\"john doe xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"@example.test>");
	bad("\"john doe xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"@example.test",
	    "has a local part longer than 64 octets");
	bad("john doe@example.test", "contains a space outside quotes");
	bad("\"john\" doe@example.test", "has text between the closing quote and the @");
	bad("\"john\tdoe\"@example.test", "contains a control character");
	bad("\"john\rdoe\"@example.test", WHY_LINE_BREAK);
	assert_int_equal(address_parse("\"Case Kept\"@example.test", &a, NULL), MX_OK);
	assert_string_equal(a.local, "\"Case Kept\"");
	bad("\"abc@example.test", "has a quoted local part without its closing quote");
	bad("\"abc\\\"@example.test", "has a quoted local part without its closing quote");
	bad("\"a\"b@example.test", "has text between the closing quote and the @");
	bad("\"a\"", "has no @domain");
}

static void
test_at_signs(void **state)
{
	(void)state;
	bad("user", "has no @domain");
	bad("<user>", "has no @domain");
	bad("@example.test", "has an empty local part");
	bad("user@", "has nothing after the @");
	bad("a@b@example.test", "has more than one @ outside quotes");
	bad("<@relay.test:user@example.test>",
	    "has a source route (@host,...:), which is obsolete and not supported");
	bad("<@relay.test,@r2.test:user@example.test>",
	    "has a source route (@host,...:), which is obsolete and not supported");
}

static void
test_brackets(void **state)
{
	(void)state;
	bad("<user@example.test", "has a < without a closing >");
	bad("<", "has a < without a closing >");
	bad("user@example.test>", "has a > without an opening <");
	bad(">", "has a > without an opening <");
}

static void
test_domain(void **state)
{
	(void)state;
	bad("user@[192.0.2.1]", "has an address literal ([...]) as its domain: not supported yet");
	bad("<user@[IPv6:2001:db8::1]>",
	    "has an address literal ([...]) as its domain: not supported yet");
	bad("user@exa mple.test", "contains a space outside quotes");
	bad("user@example.test ", "contains a space outside quotes");
	bad("user@-bad.test", "has a label that begins or ends with a hyphen");
	bad("user@a..test", "has an empty label (two dots in a row, or a leading dot)");
	bad("user@ex_ample.test",
	    "contains a character other than letters, digits, "
	    "hyphens and dots");
	bad("user@192.0.2.1", "is an IP address, not a domain");
	bad("user@exa|mple.test", NULL);
	bad("user@b\xfc"
	    "cher.test",
	    "is not a valid internationalised domain name (IDNA2008)");
}

static void
test_utf8(void **state)
{
	struct address a;

	(void)state;
	assert_int_equal(address_parse("user@b\xc3\xbc"
				       "cher.test",
			     &a, NULL),
	    MX_OK);
	assert_string_equal(a.domain, "xn--bcher-kva.test");
	assert_string_equal(a.path, "<user@xn--bcher-kva.test>");
	assert_false(a.smtputf8);
	assert_int_equal(address_parse("j\xc3\xb6@example.test", &a, NULL), MX_OK);
	assert_true(a.smtputf8);
	assert_string_equal(a.local, "j\xc3\xb6");
	assert_string_equal(a.path, "<j\xc3\xb6@example.test>");
	assert_int_equal(address_parse("\"j\xc3\xb6 x\"@b\xc3\xbc"
				       "cher.test",
			     &a, NULL),
	    MX_OK);
	assert_true(a.smtputf8);
	assert_string_equal(a.path, "<\"j\xc3\xb6 x\"@xn--bcher-kva.test>");
	/* CJK and astral plane */
	assert_int_equal(address_parse("\xe7\x94\xa8\xe6\x88\xb7@example.test", &a, NULL), MX_OK);
	assert_int_equal(address_parse("\xf0\x9f\x98\x80@example.test", &a, NULL), MX_OK);
	bad("\xff@example.test", "has a local part that is not valid UTF-8");
	bad("\xc3\x41@example.test", "has a local part that is not valid UTF-8");
	bad("\xc0\xaf@example.test", "has a local part that is not valid UTF-8");
	bad("\xed\xa0\x80@example.test", "has a local part that is not valid UTF-8");
	bad("\xf4\x90\x80\x80@example.test", "has a local part that is not valid UTF-8");
	bad("a\xc3@example.test", "has a local part that is not valid UTF-8");
}

static void
test_local_length(void **state)
{
	char local[80], in[200], want[210];

	(void)state;
	snprintf(in, sizeof(in), "%s@example.test", rep(local, 'a', 64));
	snprintf(want, sizeof(want), "<%s>", in);
	ok(in, want);
	snprintf(in, sizeof(in), "%s@example.test", rep(local, 'a', 65));
	bad(in, "has a local part longer than 64 octets");
	/* quotes count: 62 inside + 2 */
	snprintf(in, sizeof(in), "\"%s\"@example.test", rep(local, 'q', 62));
	snprintf(want, sizeof(want), "<%s>", in);
	ok(in, want);
	snprintf(in, sizeof(in), "\"%s\"@example.test", rep(local, 'q', 63));
	bad(in, "has a local part longer than 64 octets");
	/* octets, not characters: 32 two-octet characters fit, 33 do not */
	in[0] = '\0';
	for (int i = 0; i < 32; i++)
		strcat(in, "\xc3\xb6");
	strcat(in, "@example.test");
	assert_int_equal(address_parse(in, &(struct address){ 0 }, NULL), MX_OK);
	memmove(in + 2, in, strlen(in) + 1);
	memcpy(in, "\xc3\xb6", 2);
	bad(in, "has a local part longer than 64 octets");
}

/* A valid domain of exactly n octets: labels of 63 'd's and dots. */
static void
domain_exact(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = i % 64 == 63 ? '.' : 'd';
	if (buf[n - 1] == '.') {
		buf[n - 2] = '.';
		buf[n - 1] = 'd';
	}
	buf[n] = '\0';
}

#define PATH_TOO_LONG "is longer than 256 octets as an SMTP path <local@domain>"

static void
test_domain_length(void **state)
{
	char dom[300], local[80], in[1200], want[1210];

	(void)state;
	/* "<a@" + 252 + ">" is 256 octets: the longest domain a path holds */
	domain_exact(dom, 252);
	snprintf(in, sizeof(in), "a@%s", dom);
	snprintf(want, sizeof(want), "<%s>", in);
	ok(in, want);
	assert_int_equal(strlen(want), ADDRESS_PATH_MAX);
	domain_exact(dom, 253);
	snprintf(in, sizeof(in), "a@%s", dom);
	bad(in, PATH_TOO_LONG);
	/* DNS holds 253 octets of text; RFC 5321 names 255 */
	domain_exact(dom, 254);
	snprintf(in, sizeof(in), "a@%s", dom);
	bad(in, "is longer than 253 characters");
	domain_exact(dom, 255);
	snprintf(in, sizeof(in), "a@%s", dom);
	bad(in, "is longer than 253 characters");
	domain_exact(dom, 256);
	snprintf(in, sizeof(in), "a@%s", dom);
	bad(in, "has a domain longer than 255 octets");
	/* the whole path: 64 + 189 + 3 = 256 */
	rep(local, 'l', 64);
	domain_exact(dom, 189);
	snprintf(in, sizeof(in), "<%s@%s>", local, dom);
	ok(in, in);
	domain_exact(dom, 190);
	snprintf(in, sizeof(in), "<%s@%s>", local, dom);
	bad(in, PATH_TOO_LONG);
	/* the input cap */
	memset(in, 'a', 1100);
	memcpy(in + 1000, "@example.test", 14);
	bad(in, "has a local part longer than 64 octets");
	memset(in, 'a', 1100);
	in[1100] = '\0';
	in[5] = '@';
	bad(in, "is longer than 1024 octets");
}

static void
test_same(void **state)
{
	struct address a, b;

	(void)state;
	assert_int_equal(address_parse("Joe@Example.TEST", &a, NULL), MX_OK);
	assert_int_equal(address_parse("<Joe@example.test.>", &b, NULL), MX_OK);
	assert_true(address_same(&a, &b));
	assert_int_equal(address_parse("joe@example.test", &b, NULL), MX_OK);
	assert_false(address_same(&a, &b));
}

/* ---- address-list ---- */

/* Parses field; expects the paths given (then NULL) and n_bad bad entries. */
static void
list_is(const char *field, size_t n_bad, ...)
{
	struct address_list list = { 0 };
	const char *path;
	size_t n = 0;
	va_list ap;

	assert_int_equal(address_list_parse(field, strlen(field), 100, &list), MX_OK);
	va_start(ap, n_bad);
	while ((path = va_arg(ap, const char *)) != NULL) {
		assert_true(n < list.n_items);
		assert_string_equal(list.items[n].path, path);
		n++;
	}
	va_end(ap);
	assert_int_equal(list.n_items, n);
	assert_int_equal(list.n_bad, n_bad);
	for (size_t i = 0; i < list.n_bad; i++) {
		assert_non_null(list.bad[i].why);
		assert_true(strlen(list.bad[i].why) > 5);
	}
	assert_false(list.overflow);
	address_list_clear(&list);
}

/* Expects exactly one bad entry with this text and sentence. */
static void
list_bad(const char *field, const char *text, const char *why)
{
	struct address_list list = { 0 };

	assert_int_equal(address_list_parse(field, strlen(field), 100, &list), MX_OK);
	assert_int_equal(list.n_bad, 1);
	assert_string_equal(list.bad[0].text, text);
	if (why != NULL)
		assert_string_equal(list.bad[0].why, why);
	address_list_clear(&list);
}

static void
test_list_rfc5322_examples(void **state)
{
	(void)state;
	/* RFC 5322 appendix A.1 */
	list_is(" John Doe <jdoe@machine.example>", 0, "<jdoe@machine.example>", NULL);
	list_is(" Mary Smith <mary@example.net>", 0, "<mary@example.net>", NULL);
	list_is(" \"Joe Q. Public\" <john.q.public@example.com>", 0, "<john.q.public@example.com>",
	    NULL);
	list_is(" Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", 0,
	    "<mary@x.test>", "<jdoe@example.org>", "<one@y.test>", NULL);
	list_is(" <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", 0,
	    "<boss@nil.test>", "<sysservices@example.net>", NULL);
	list_is(" A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", 0,
	    "<c@a.test>", "<joe@where.test>", "<jdoe@one.test>", NULL);
	list_is(" Undisclosed recipients:;", 0, NULL);
	/* A.5, white space and comments */
	list_is(" Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", 0,
	    "<pete@silly.test>", NULL);
	list_is("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;", 0, NULL);
	/* A.6.1, obsolete: Joe Q. Public with an unquoted dot */
	list_is(
	    " Joe Q. Public <john.q.public@example.com>", 0, "<john.q.public@example.com>", NULL);
	list_is(" Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example", 0,
	    "<mary@example.net>", "<jdoe@test.example>", NULL);
}

static void
test_list_forms(void **state)
{
	(void)state;
	list_is("", 0, NULL);
	list_is("   ", 0, NULL);
	list_is("undisclosed-recipients:;", 0, NULL);
	list_is("undisclosed-recipients: ;", 0, NULL);
	list_is("a@x.test", 0, "<a@x.test>", NULL);
	list_is("a@x.test,", 0, "<a@x.test>", NULL);
	list_is(",,a@x.test,,", 0, "<a@x.test>", NULL);
	list_is("a@x.test,\r\n b@y.test,\n\tc@z.test", 0, "<a@x.test>", "<b@y.test>", "<c@z.test>",
	    NULL);
	list_is("\"a b\"@x.test", 0, "<\"a b\"@x.test>", NULL);
	list_is("\"john\".doe@x.test", 0, "<\"john.doe\"@x.test>", NULL);
	list_is("john . doe @ x . test", 0, "<john.doe@x.test>", NULL);
	list_is("<@route.test,@r2.test:user@x.test>", 0, "<user@x.test>", NULL);
	list_is("Group: a@x.test", 0, "<a@x.test>", NULL);
	list_is("Team: a@x.test, b@y.test; c@z.test", 0, "<a@x.test>", "<b@y.test>", "<c@z.test>",
	    NULL);
	list_is("A@Example.TEST, <A@example.test>, a@example.test", 0, "<A@example.test>",
	    "<a@example.test>", NULL);
	list_is("j\xc3\xb6@example.test", 0, "<j\xc3\xb6@example.test>", NULL);
	list_is("Name <user@b\xc3\xbc"
		"cher.test>",
	    0, "<user@xn--bcher-kva.test>", NULL);
	list_is("\"Fold\r\n ed\" <f@x.test>", 0, "<f@x.test>", NULL);
	list_is("\"a\\\"q\"@x.test", 0, "<\"a\\\"q\"@x.test>", NULL);
}

static void
test_list_bad(void **state)
{
	(void)state;
	list_bad("John Doe", "John Doe", "has no @domain (a name alone is not an address)");
	list_bad("a@x.test b@y.test", "a@x.test b@y.test",
	    "has text after the address (a name needs <...> around the address)");
	list_bad("a@x.test, \"unterminated", "\"unterminated",
	    "has a quoted string without its closing quote");
	list_bad("<a@[192.0.2.1]>", "<a@[192.0.2.1]>",
	    "has an address literal ([...]) as its domain: not supported yet");
	list_bad("a@x.test; b@y.test", ";",
	    "has a ; outside a group (addresses are separated by commas)");
	list_bad("Mary <mary@x.test", "Mary <mary@x.test", "has no > after its address");
	list_bad("Mary <mary@x.test> extra", "Mary <mary@x.test> extra", "has text after the >");
	list_bad("a@x.test>", "a@x.test>",
	    "has text after the address (a name needs <...> around the address)");
	list_bad(">", ">", "has a > without an opening <");
	list_bad("@x.test", "@x.test", "has nothing before the @");
	list_bad("a.@x.test", "a.@x.test", "has a local part that is not words joined by dots");
	list_bad("a@", "a@", "has nothing usable after the @");
	list_bad("a@x..test", "a@x..test", "has a domain with an empty label");
	list_bad("G1: G2: a@x.test;", "G2: a@x.test", "has a group inside a group");
	list_bad("(unclosed a@x.test", "(unclosed a@x.test",
	    "has a comment without its closing parenthesis");
	list_bad("a\x01"
		 "b@x.test",
	    "a?b@x.test", "contains a control character");
	list_bad("<>", "<>", "is the null path <>, which only a sender can be");
	list_bad("Joe@Home <joe@x.test>", "Joe@Home <joe@x.test>",
	    "has text after the address (a name needs <...> around the address)");
	list_bad("a@b@x.test", "a@b@x.test",
	    "has text after the address (a name needs <...> around the address)");
	list_bad("user@-x.test", "user@-x.test", "has a label that begins or ends with a hyphen");
	list_bad("a..b@x.test", "a..b@x.test", "has a local part that is not words joined by dots");
	{
		char big[1200];
		memset(big, 'a', 1100);
		memcpy(big + 1100, "@x.test", 8);
		list_is(big, 1, NULL);
	}
	/* a bad entry does not stop the others */
	list_is("a@x.test, John, b@y.test, <c@[1.2.3.4]>, d@z.test", 2, "<a@x.test>", "<b@y.test>",
	    "<d@z.test>", NULL);
	list_is("\"a\r\nb\" <x@y.test>, ok@z.test", 0, "<x@y.test>", "<ok@z.test>", NULL);
}

static void
test_list_nul_and_text(void **state)
{
	static const char field[] = "a@x.test, b\0c@y.test, d@z.test";
	struct address_list list = { 0 };
	char big[600];

	(void)state;
	assert_int_equal(address_list_parse(field, sizeof(field) - 1, 100, &list), MX_OK);
	assert_int_equal(list.n_items, 2);
	assert_int_equal(list.n_bad, 1);
	assert_string_equal(list.bad[0].text, "b?c@y.test");
	address_list_clear(&list);
	/* bad text is cut with "..." */
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[300] = ' ';
	assert_int_equal(address_list_parse(big, strlen(big), 100, &list), MX_OK);
	assert_int_equal(list.n_bad, 1);
	assert_int_equal(strlen(list.bad[0].text), ADDRESS_BAD_TEXT_MAX + 3);
	assert_string_equal(list.bad[0].text + ADDRESS_BAD_TEXT_MAX, "...");
	address_list_clear(&list);
	address_list_clear(NULL);
	assert_int_equal(address_list_parse(NULL, 0, 100, &list), MX_OK);
	assert_int_equal(address_list_parse(NULL, 3, 100, &list), MX_ERR_INVALID);
	assert_int_equal(address_list_parse("a@b.test", 8, 100, NULL), MX_ERR_INVALID);
}

static void
test_list_cap_and_append(void **state)
{
	struct address_list list = { 0 };
	const char *f1 = "a@x.test, b@x.test, c@x.test", *f2 = "d@x.test, junk, e@x.test";

	(void)state;
	assert_int_equal(address_list_parse(f1, strlen(f1), 5, &list), MX_OK);
	assert_int_equal(list.n_items, 3);
	assert_false(list.overflow);
	assert_int_equal(address_list_parse(f2, strlen(f2), 5, &list), MX_OK);
	assert_int_equal(list.n_items, 4);
	assert_int_equal(list.n_bad, 1);
	assert_true(list.overflow);
	assert_string_equal(list.items[3].path, "<d@x.test>");
	address_list_clear(&list);
	assert_null(list.items);
	assert_int_equal(list.n_items, 0);
	/* duplicates do not count against the cap */
	assert_int_equal(address_list_parse("a@x.test, a@x.test, a@x.test", 28, 1, &list), MX_OK);
	assert_int_equal(list.n_items, 1);
	address_list_clear(&list);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_null_path),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_dot_string),
		cmocka_unit_test(test_quoted_string),
		cmocka_unit_test(test_at_signs),
		cmocka_unit_test(test_brackets),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_local_length),
		cmocka_unit_test(test_domain_length),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_list_rfc5322_examples),
		cmocka_unit_test(test_list_forms),
		cmocka_unit_test(test_list_bad),
		cmocka_unit_test(test_list_nul_and_text),
		cmocka_unit_test(test_list_cap_and_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
