/*
 * test_lmtp_target.c - lib/smtp/lmtp_target.c: --lmtp's "unix:PATH" and
 * "IP:PORT" / "[IPv6]:PORT" to socket addresses, and everything else
 * refused with a sentence (names are not resolved: a mail store never
 * waits for DNS).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "lmtp_target.h"

static void
test_unix(void **state)
{
	struct lmtp_target t;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&t.addr;

	(void)state;
	assert_int_equal(lmtp_target_parse("unix:/run/dovecot/lmtp", &t, NULL), MX_OK);
	assert_int_equal(sun->sun_family, AF_UNIX);
	assert_string_equal(sun->sun_path, "/run/dovecot/lmtp");
	assert_true(t.unix_socket);
	assert_int_equal(
	    t.len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/dovecot/lmtp") + 1);
	assert_string_equal(t.text, "unix:/run/dovecot/lmtp");
}

static void
test_inet(void **state)
{
	struct lmtp_target t;
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)&t.addr;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&t.addr;
	char text[64];

	(void)state;
	assert_int_equal(lmtp_target_parse("127.0.7.1:24", &t, NULL), MX_OK);
	assert_int_equal(in4->sin_family, AF_INET);
	assert_int_equal(ntohs(in4->sin_port), 24);
	assert_string_equal(inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text)), "127.0.7.1");
	assert_false(t.unix_socket);
	assert_int_equal(lmtp_target_parse("[::1]:2424", &t, NULL), MX_OK);
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 2424);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = { "", "unix:", "unix:relative/path", "localhost:24",
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:24x",
		"::1:24", "[::1]", "[127.0.0.1]:24", ":24" };
	char long_path[200], arg[256];
	struct lmtp_target t;
	mx_why why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why.text[0] = '\0';
		if (lmtp_target_parse(bad[i], &t, &why) != MX_ERR_INVALID)
			fail_msg("\"%s\" was taken", bad[i]);
		assert_true(why.text[0] != '\0');
	}
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	snprintf(arg, sizeof(arg), "unix:%s", long_path);
	assert_int_equal(lmtp_target_parse(arg, &t, &why), MX_ERR_INVALID);
	assert_non_null(strstr(why.text, "at most"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_inet),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
