/*
 * test_smtp_cmd.c - the server's reading of MAIL and RCPT paths
 * (lib/serve/smtp_cmd.c's smtp_cmd_path, smtpd_session.c's MAIL and
 * RCPT, relay.c's verdict): RFC 5321 4.1.2 Quoted-string local parts
 * ("john doe"@b.c, "a\"b"@b.c, "x@y"@b.c) are taken and handed on as
 * sent, byte for byte; blanks outside quotes, control octets, local
 * parts over 64 octets and the open-relay spellings are still refused.
 * The session runs over hooks that record what it says; no I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay.h"
#include "smtp_cmd.h"
#include "smtpd_session.h"

/* ---- smtp_cmd_path ------------------------------------------------------ */

static void
path_is(const char *arg, const char *prefix, const char *want, const char *want_params)
{
	char path[SMTP_CMD_PATH_MAX + 1];
	const char *params = NULL;

	assert_true(smtp_cmd_path(arg, prefix, path, &params));
	assert_string_equal(path, want);
	assert_string_equal(params, want_params);
}

static void
no_path(const char *arg, const char *prefix)
{
	char path[SMTP_CMD_PATH_MAX + 1];
	const char *params = NULL;

	assert_false(smtp_cmd_path(arg, prefix, path, &params));
}

static void
test_path_plain(void **state)
{
	(void)state;
	path_is("FROM:<a@b.c>", "FROM:", "a@b.c", "");
	path_is("from: <a@b.c> SIZE=10", "FROM:", "a@b.c", "SIZE=10");
	path_is("FROM:<>", "FROM:", "", "");
	path_is("TO:<@r.test:u@b.c>", "TO:", "@r.test:u@b.c", "");
	no_path("FROM:a@b.c", "FROM:");
	no_path("FROM:<a@b.c", "FROM:");
	no_path("FROM:<a@b.c>x", "FROM:");
	no_path("TO:<a@b.c>", "FROM:");
}

static void
test_path_quoted(void **state)
{
	(void)state;
	path_is("TO:<\"john doe\"@example.com>", "TO:", "\"john doe\"@example.com", "");
	path_is("FROM:<\"john doe\"@example.com> SIZE=5", "FROM:", "\"john doe\"@example.com",
	    "SIZE=5");
	/* a quoted-pair does not close the string; ">" inside it is no end */
	path_is("TO:<\"a\\\"b\"@example.com>", "TO:", "\"a\\\"b\"@example.com", "");
	path_is("TO:<\"a\\\">b\"@example.com>", "TO:", "\"a\\\">b\"@example.com", "");
	path_is("TO:<\"a\\\\\"@example.com> X", "TO:", "\"a\\\\\"@example.com", "X");
	path_is("TO:<\"x@y\"@example.com>", "TO:", "\"x@y\"@example.com", "");
	path_is("TO:<\"a>b\"@example.com>", "TO:", "\"a>b\"@example.com", "");
	/* unnecessary quoting and quoted-pairs are kept as sent */
	path_is("TO:<\"abc\"@example.com>", "TO:", "\"abc\"@example.com", "");
	path_is("TO:<\"a\\ b\"@example.com>", "TO:", "\"a\\ b\"@example.com", "");
	/* still no path: a control octet, an unclosed quote eats the ">" */
	no_path("TO:<\"a\tb\"@example.com>", "TO:");
	no_path("TO:<\"a\\\"@example.com>", "TO:");
	no_path("TO:<\"ab@example.com>", "TO:");
}

/* ---- the session ---------------------------------------------------------- */

struct rec {
	char said[8192];
	size_t len;
	char sender[SMTP_CMD_PATH_MAX + 1];
	char rcpt[SMTP_CMD_PATH_MAX + 1];
	struct relay_policy policy;
	char local[1][MX_DOMAIN_MAX + 1];
	bool trusted;
};

static void
h_reply(void *arg, const char *text, size_t len)
{
	struct rec *r = arg;

	assert_true(r->len + len < sizeof(r->said));
	memcpy(r->said + r->len, text, len);
	r->len += len;
	r->said[r->len] = '\0';
}

static void
h_mail(void *arg, const char *sender)
{
	struct rec *r = arg;

	snprintf(r->sender, sizeof(r->sender), "%s", sender);
}

/* As lib/server's hook does: relay.c's verdict on the path. */
static bool
h_rcpt(void *arg, const char *path, struct smtpd_verdict *v)
{
	struct rec *r = arg;
	char addr[321];
	enum relay_class k = relay_judge(&r->policy, r->trusted, path, addr);

	v->ok = k == RELAY_LOCAL || k == RELAY_OUT;
	snprintf(v->reply, sizeof(v->reply), "%s",
	    v->ok                ? "250 2.1.5 Ok"
		: k == RELAY_BAD ? "501 5.1.3 Bad recipient address syntax"
				 : "554 5.7.1 Relay access denied");
	if (v->ok)
		snprintf(r->rcpt, sizeof(r->rcpt), "%s", addr);
	return true;
}

static void
h_reset(void *arg)
{
	(void)arg;
}

static bool
h_data_start(void *arg)
{
	(void)arg;
	return true;
}

static bool
h_data_write(void *arg, const char *p, size_t n)
{
	(void)arg, (void)p, (void)n;
	return true;
}

static void
h_void(void *arg)
{
	(void)arg;
}

static const struct smtpd_hooks hooks = { h_reply, h_mail, h_rcpt, h_reset, h_data_start,
	h_data_write, h_void, h_void };
static const struct smtpd_settings settings = { "mx.test", 10240000, 1000, false };

/* One command after EHLO (and MAIL FROM:<s@b.c> for a RCPT): its reply. */
static const char *
say(struct rec *r, bool trusted, const char *cmd)
{
	static struct smtpd_session s;
	char line[1024];
	size_t before;

	memset(r, 0, sizeof(*r));
	snprintf(r->local[0], sizeof(r->local[0]), "local.test");
	r->policy.local = r->local;
	r->policy.n_local = 1;
	r->trusted = trusted;
	smtpd_session_init(&s, &settings, &hooks, r, false);
	smtpd_session_feed(&s, "EHLO c.test\r\n", 13);
	if (strncmp(cmd, "RCPT", 4) == 0)
		smtpd_session_feed(&s, "MAIL FROM:<s@b.c>\r\n", 19);
	before = r->len;
	snprintf(line, sizeof(line), "%s\r\n", cmd);
	assert_int_equal(smtpd_session_feed(&s, line, strlen(line)), strlen(line));
	return r->said + before;
}

static void
replies(bool trusted, const char *cmd, const char *want)
{
	struct rec r;
	const char *got = say(&r, trusted, cmd);

	if (strncmp(got, want, strlen(want)) != 0)
		fail_msg("%s: got %s, want %s", cmd, got, want);
}

static void
test_mail_quoted(void **state)
{
	static const char *const taken[] = { "\"john doe\"@example.com", "\"a\\\"b\"@example.com",
		"\"x@y\"@example.com", "\"abc\"@example.com", "\"a\\ b\"@example.com",
		"\" lead and trail \"@example.com", "\"a>b\"@example.com", "\";sleep 66;\"@b.c" };
	struct rec r;
	char cmd[512];

	(void)state;
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", taken[i]);
		replies(false, cmd, "250 2.1.0");
		say(&r, false, cmd);
		assert_string_equal(r.sender, taken[i]); /* as sent, never normalised */
	}
	say(&r, false, "MAIL FROM:<@r.test:\"john doe\"@example.com> SIZE=10");
	assert_string_equal(r.sender, "\"john doe\"@example.com");
}

static void
test_mail_refused(void **state)
{
	(void)state;
	replies(false, "MAIL FROM:<john doe@example.com>", "501 5.1.7");
	replies(false, "MAIL FROM:<\"john\" doe@example.com>", "501 5.1.7");
	replies(false, "MAIL FROM:<john\" \"doe@example.com>", "501 5.1.7");
	replies(false, "MAIL FROM:<\"john doe\"@exa mple.com>", "501 5.1.7");
	replies(false, "MAIL FROM:<;sleep 66;>", "501 5.");
	replies(false, "MAIL FROM:<@r test:a@b.c>", "501 5.1.7");
	replies(false, "MAIL FROM:<\"a\tb\"@b.c>", "501 5.5.4");
	replies(false, "MAIL FROM:<\"a\x7f b\"@b.c>", "501 5.1.7");
	replies(false, "MAIL FROM:<\"ab@b.c>", "501 5.5.4");
	/* 4.5.3.1.1: 64 octets of local part, quotes included, and no more */
	replies(false,
	    "MAIL FROM:<\"john doe xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"@b.c>",
	    "250");
	replies(false,
	    "MAIL FROM:<\"john doe xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"@b.c>",
	    "501 5.1.7");
}

static void
test_rcpt_quoted(void **state)
{
	struct rec r;

	(void)state;
	replies(false, "RCPT TO:<\"john doe\"@local.test>", "250 2.1.5");
	say(&r, false, "RCPT TO:<\"john doe\"@LOCAL.test>");
	assert_string_equal(r.rcpt, "\"john doe\"@local.test"); /* the domain lowered */
	say(&r, false, "RCPT TO:<\"A\\\"b\"@local.test>");
	assert_string_equal(r.rcpt, "\"A\\\"b\"@local.test");
	say(&r, true, "RCPT TO:<\"x@y\"@example.com>");
	assert_string_equal(r.rcpt, "\"x@y\"@example.com"); /* out, for a relay client */
	replies(false, "RCPT TO:<\"John  Doe\"@local.test>", "250 2.1.5");
}

static void
test_rcpt_refused(void **state)
{
	(void)state;
	/* the open-relay battery's quoted spellings: relay denied, not syntax */
	replies(false, "RCPT TO:<\"a@b.test\"@local.test>", "554 5.7.1");
	replies(false, "RCPT TO:<\"a%evil.test\"@local.test>", "554 5.7.1");
	replies(false, "RCPT TO:<\"a!b\"@local.test>", "554 5.7.1");
	replies(false, "RCPT TO:<\"john doe\"@evil.test>", "554 5.7.1");
	replies(true, "RCPT TO:<\"a@b.test\"@local.test>", "554 5.7.1");
	replies(false, "RCPT TO:<john doe@local.test>", "554");
	replies(true, "RCPT TO:<john doe@local.test>", "501 5.1.3");
	replies(true, "RCPT TO:<@r test:a@local.test>", "501 5.1.3");
	replies(true, "RCPT TO:<\"a\rb\"@local.test>", "421 4.5.0");
	replies(true, "RCPT TO:<\"a\nb\"@local.test>", "421 4.5.0");
	replies(true, "RCPT TO:<\"a\tb\"@local.test>", "501 5.5.4");
	replies(true,
	    "RCPT TO:<\"john doe "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"@local.test>",
	    "501 5.1.3");
}

/* A NUL inside the quotes ends the session as anywhere else in a command. */
static void
test_nul_in_quotes(void **state)
{
	static const char start[] = "EHLO c.test\r\nMAIL FROM:<\"a b\"@b.c>\r\n";
	static const char line[] = "RCPT TO:<\"a\0b\"@local.test>\r\nRCPT TO:<u@local.test>\r\n";
	struct smtpd_session s;
	struct rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	smtpd_session_init(&s, &settings, &hooks, &r, false);
	smtpd_session_feed(&s, start, sizeof(start) - 1);
	assert_non_null(strstr(r.said, "250 2.1.0"));
	r.len = 0;
	smtpd_session_feed(&s, line, sizeof(line) - 1);
	assert_int_equal(strncmp(r.said, "421 4.5.0", 9), 0);
	assert_null(strstr(r.said, "250"));
	assert_string_equal(r.rcpt, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_plain),
		cmocka_unit_test(test_path_quoted),
		cmocka_unit_test(test_mail_quoted),
		cmocka_unit_test(test_mail_refused),
		cmocka_unit_test(test_rcpt_quoted),
		cmocka_unit_test(test_rcpt_refused),
		cmocka_unit_test(test_nul_in_quotes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
