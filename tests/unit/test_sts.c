/*
 * test_sts.c - MTA-STS's policy cache file (lib/policy/sts_cache.c) and
 * TLS-RPT's store and report (tlsrpt.c, tlsrpt_report.c): the file format
 * round trip and hostile files, durable store and load in a temporary
 * directory, a day's aggregation, the report's JSON, gzip and message.
 * No network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>
#include <openssl/x509_vfy.h>

#include "sts.h"
#include "sts_cache.h"
#include "tlsrpt.h"
#include "tlsrpt_post.h"
#include "tlsrpt_report.h"

static const char POLICY[] = "version: STSv1\nmode: enforce\nmx: mx1.example.test\n"
			     "mx: *.example.test\nmax_age: 86400\n";

static struct sts_cached *
entry(void)
{
	struct sts_cached *e = calloc(1, sizeof(*e));
	struct record_problems pr = { 0 };

	assert_non_null(e);
	snprintf(e->domain, sizeof(e->domain), "example.test");
	snprintf(e->id, sizeof(e->id), "20260101T1");
	e->fetched = 1000;
	e->expires = 1000 + 86400;
	e->body_len = strlen(POLICY);
	memcpy(e->body, POLICY, e->body_len + 1);
	assert_int_equal(mta_sts_policy_parse(e->body, e->body_len, &e->policy, &pr), 0);
	return e;
}

static void
cache_round_trip(void **state)
{
	struct sts_cached *e = entry(), *back = malloc(sizeof(*back));
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(sts_cache_format(e, &text, &len), MX_OK);
	assert_memory_equal(text,
	    "mx-mta-sts-cache 1\ndomain example.test\nid 20260101T1\n"
	    "fetched 1000\nexpires 87400\nbody 84\nversion: STSv1\n",
	    103);
	assert_int_equal(sts_cache_parse(text, len, back), 0);
	assert_string_equal(back->domain, "example.test");
	assert_string_equal(back->id, "20260101T1");
	assert_int_equal(back->expires, 87400);
	assert_string_equal(back->policy.mode, "enforce");
	assert_int_equal(back->policy.n_mx, 2);
	free(text);
	free(back);
	free(e);
}

/* A cache file from its fields, as a hostile hand might write one. */
static size_t
file_of(char *out, size_t size, const char *magic, const char *domain, const char *id,
    const char *fetched, const char *expires, const char *body_len, const char *body)
{
	return (size_t)snprintf(out, size,
	    "%s\ndomain %s\nid %s\nfetched %s\nexpires %s\nbody %s\n%s", magic, domain, id, fetched,
	    expires, body_len, body);
}

/* Every cut of a valid file, and each field made wrong, is refused. */
static void
cache_hostile(void **state)
{
	static const char *const cases[][6] = {
		/* magic, domain, id, fetched, expires, body length */
		{ "mx-mta-sts-cache 2", "a.test", "1", "1", "2", "84" },
		{ "mx-mta-sts-cache 1", "../a.test", "1", "1", "2", "84" },
		{ "mx-mta-sts-cache 1", ".a.test", "1", "1", "2", "84" },
		{ "mx-mta-sts-cache 1", "a/b", "1", "1", "2", "84" },
		{ "mx-mta-sts-cache 1", "a.test", "a-b", "1", "2", "84" },
		{ "mx-mta-sts-cache 1", "a.test", "", "1", "2", "84" },
		{ "mx-mta-sts-cache 1", "a.test", "1", "-1", "2", "84" },
		{ "mx-mta-sts-cache 1", "a.test", "1", "01", "2", "84" },
		{ "mx-mta-sts-cache 1", "a.test", "1", "5", "5", "84" },
		{ "mx-mta-sts-cache 1", "a.test", "1", "1", "31557602", "84" },
		{ "mx-mta-sts-cache 1", "a.test", "1", "1", "2", "83" },
		{ "mx-mta-sts-cache 1", "a.test", "1", "1", "2", "85" },
		{ "mx-mta-sts-cache 1", "a.test", "1", "1", "2", "0" },
		{ "mx-mta-sts-cache 1", "a.test", "1", "1", "2", "9999999" },
	};
	struct sts_cached *back = malloc(sizeof(*back));
	char buf[1024];
	size_t len;

	(void)state;
	len =
	    file_of(buf, sizeof(buf), "mx-mta-sts-cache 1", "a.test", "1", "1", "2", "84", POLICY);
	assert_int_equal(sts_cache_parse(buf, len, back), 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(sts_cache_parse(buf, cut, back), -1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = file_of(buf, sizeof(buf), cases[i][0], cases[i][1], cases[i][2], cases[i][3],
		    cases[i][4], cases[i][5], POLICY);
		assert_int_equal(sts_cache_parse(buf, len, back), -1);
	}
	/* A body that is no valid policy, and a NUL inside a field. */
	len = file_of(buf, sizeof(buf), "mx-mta-sts-cache 1", "a.test", "1", "1", "2", "16",
	    "mode: sometimes\n");
	assert_int_equal(sts_cache_parse(buf, len, back), -1);
	len =
	    file_of(buf, sizeof(buf), "mx-mta-sts-cache 1", "a.test", "1", "1", "2", "84", POLICY);
	buf[27] = '\0';
	assert_int_equal(sts_cache_parse(buf, len, back), -1);
	free(back);
}

static void
cache_store_load(void **state)
{
	char dir[] = "/tmp/test_sts.XXXXXX", cmd[128];
	struct sts_cached *e = entry(), *back = malloc(sizeof(*back));

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sts_cache_load(dir, "example.test", back), MX_ERR_SYSTEM);
	assert_int_equal(sts_cache_store(dir, e, 2000), MX_OK);
	assert_int_equal(sts_cache_load(dir, "example.test", back), MX_OK);
	assert_string_equal(back->id, "20260101T1");
	assert_int_equal(sts_cache_load(dir, "../example.test", back), MX_ERR_BAD_DOMAIN);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(back);
	free(e);
}

static void
matches(void **state)
{
	struct sts_cached *e = entry();
	struct sts_outcome o = { .mode = STS_MODE_ENFORCE, .policy = e };

	(void)state;
	assert_true(sts_host_matches(&o, "mx1.example.test"));
	assert_true(sts_host_matches(&o, "mx9.example.test"));
	assert_false(sts_host_matches(&o, "a.b.example.test"));
	assert_false(sts_host_matches(&o, "mx1.example.org"));
	assert_true(sts_host_matches(NULL, "anything"));
	free(e);
}

static void
verify_errors(void **state)
{
	(void)state;
	assert_string_equal(tlsrpt_result_for_verify_error(
				X509_verify_cert_error_string(X509_V_ERR_HOSTNAME_MISMATCH)),
	    "certificate-host-mismatch");
	assert_string_equal(tlsrpt_result_for_verify_error(
				X509_verify_cert_error_string(X509_V_ERR_CERT_HAS_EXPIRED)),
	    "certificate-expired");
	assert_string_equal(tlsrpt_result_for_verify_error(X509_verify_cert_error_string(
				X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)),
	    "certificate-not-trusted");
	assert_string_equal(tlsrpt_result_for_verify_error("something else"), "validation-failure");
}

/* v2 lines, and v1 lines (no sending IP) as a store written before them has. */
static const char DAY[] =
    "v1\tok\tsts\t1\t-\tmx1.example.test\t192.0.2.1\t-\n"
    "v2\tok\tsts\t1\t-\tmx1.example.test\t192.0.2.1\t198.51.100.7\t-\n"
    "v2\tfail\tsts\t1\tstarttls-not-supported\tmx2.example.test\t192.0.2.2\t198.51.100.7\t"
    "no \"STARTTLS\"\n"
    "v2\tfail\tsts\t1\tstarttls-not-supported\tmx2.example.test\t192.0.2.2\t198.51.100.7\t"
    "no \"STARTTLS\"\n"
    "v1\tfail\tsts\t1\tsts-policy-fetch-error\t-\t-\ttimed out\n"
    "v2\tfail\tsts\t1\t-\tmissing\tresult\t-\t-\n"
    "v2\tfail\tsts\t1\tvalidation-failure\tmx3.example.test\t192.0.2.3\tv1's fields\n"
    "v1\tfail\tsts\t1\tvalidation-failure\tmx3.example.test\t192.0.2.3\t-\tv2's\n"
    "garbage\n"
    "v2\tok\tsts\t1\t-\tcut by a crash";

static void
day_parse(void **state)
{
	struct tlsrpt_day *d = malloc(sizeof(*d));

	(void)state;
	tlsrpt_day_parse(DAY, strlen(DAY), d);
	assert_int_equal(d->n_pol, 1);
	assert_int_equal(d->bad_lines, 5);
	assert_int_equal(d->pol[0].ok, 2);
	assert_int_equal(d->pol[0].failed, 3);
	assert_int_equal(d->pol[0].n_fail, 2);
	assert_int_equal(d->pol[0].fail[0].count, 2);
	assert_string_equal(d->pol[0].fail[0].sending, "198.51.100.7");
	assert_string_equal(d->pol[0].fail[0].info, "no \"STARTTLS\"");
	assert_string_equal(d->pol[0].fail[1].mx, "");
	assert_string_equal(d->pol[0].fail[1].sending, "");
	assert_string_equal(d->pol[0].fail[1].info, "timed out");
	free(d);
}

static void
report_json_gzip_message(void **state)
{
	struct tlsrpt_day *d = malloc(sizeof(*d));
	const char *texts[] = { POLICY };
	struct tlsrpt_meta m = { .organization = "Example Org",
		.contact = "r@example.test",
		.submitter = "mx.example.test",
		.domain = "example.test",
		.report_id = "id-1",
		.start = 1796515200,
		.end = 1796515200 + 86400,
		.policy_text = texts };
	char *json, *msg, back[8192];
	unsigned char *gz;
	size_t len, glen, mlen;
	z_stream z = { 0 };

	(void)state;
	tlsrpt_day_parse(DAY, strlen(DAY), d);
	assert_int_equal(tlsrpt_json(d, &m, &json, &len), MX_OK);
	assert_string_equal(json,
	    "{\"organization-name\": \"Example Org\", \"date-range\": "
	    "{\"start-datetime\": \"2026-12-06T00:00:00Z\", \"end-datetime\": "
	    "\"2026-12-06T23:59:59Z\"}, \"contact-info\": \"r@example.test\", \"report-id\": "
	    "\"id-1\", \"policies\": [{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": "
	    "[\"version: STSv1\", \"mode: enforce\", \"mx: mx1.example.test\", "
	    "\"mx: *.example.test\", \"max_age: 86400\"], \"mx-host\": [\"mx1.example.test\", "
	    "\"*.example.test\"], \"policy-domain\": \"example.test\"}, \"summary\": "
	    "{\"total-successful-session-count\": 2, \"total-failure-session-count\": 3}, "
	    "\"failure-details\": [{\"result-type\": \"starttls-not-supported\", "
	    "\"sending-mta-ip\": \"198.51.100.7\", \"receiving-ip\": \"192.0.2.2\", "
	    "\"receiving-mx-hostname\": \"mx2.example.test\", "
	    "\"failed-session-count\": 2, \"additional-information\": \"no \\\"STARTTLS\\\"\"}, "
	    "{\"result-type\": \"sts-policy-fetch-error\", \"failed-session-count\": 1, "
	    "\"additional-information\": \"timed out\"}]}]}\n");
	assert_int_equal(tlsrpt_gzip(json, len, &gz, &glen), MX_OK);
	assert_true(glen > 18 && gz[0] == 0x1f && gz[1] == 0x8b);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)glen;
	z.next_out = (unsigned char *)back;
	z.avail_out = sizeof(back);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, len);
	assert_memory_equal(back, json, len);
	inflateEnd(&z);
	assert_int_equal(tlsrpt_message(&m, "r@example.test", "rua@example.test", 1796600000, gz,
			     glen, &msg, &mlen),
	    MX_OK);
	assert_non_null(strstr(msg,
	    "\nSubject: Report Domain: example.test Submitter: "
	    "mx.example.test Report-ID: <id-1>\nTLS-Report-Domain: example.test\n"
	    "TLS-Report-Submitter: mx.example.test\n"));
	assert_non_null(strstr(msg, "Content-Type: multipart/report; report-type=\"tlsrpt\""));
	assert_non_null(strstr(msg, "Content-Type: application/tlsrpt+gzip\n"));
	assert_non_null(strstr(msg,
	    "filename=\"mx.example.test!example.test!1796515200!"
	    "1796601599.json.gz\""));
	m.domain = "evil\nBcc: x@example.test";
	free(msg);
	assert_int_equal(
	    tlsrpt_message(&m, "r@example.test", "rua@example.test", 1, gz, glen, &msg, &mlen),
	    MX_ERR_INVALID);
	free(gz);
	free(json);
	free(d);
}

static void
record_and_read(void **state)
{
	char dir[] = "/tmp/test_sts.XXXXXX", path[256], cmd[128], buf[1024];
	struct tlsrpt_session s = { .ok = false,
		.policy_type = "sts",
		.policy_id = "7",
		.policy_body = POLICY,
		.policy_len = strlen(POLICY),
		.result_type = "certificate-expired",
		.mx_host = "mx1.example.test",
		.receiving_ip = "192.0.2.1",
		.sending_ip = "198.51.100.7",
		.info = "tab\there\nnewline" };
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(tlsrpt_record(dir, "example.test", 1796515200 + 5, &s), MX_OK);
	assert_int_equal(tlsrpt_record(dir, "../x", 1796515200, &s), MX_ERR_INVALID);
	snprintf(path, sizeof(path), "%s/tlsrpt/2026-12-06/example.test", dir);
	assert_non_null(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf,
	    "v2\tfail\tsts\t7\tcertificate-expired\tmx1.example.test\t"
	    "192.0.2.1\t198.51.100.7\ttab here newline\n");
	snprintf(path, sizeof(path), "%s/tlsrpt/2026-12-06/example.test!7.sts", dir);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(tlsrpt_day_start("2026-12-06"), 1796515200);
	assert_int_equal(tlsrpt_day_start("2026-13-06"), -1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* queue/tlsrpt_post.c's reading of an https: rua (RFC 8460 3, 5.4). */
static void
https_uris(void **state)
{
	static const struct {
		const char *uri, *host, *path;
		uint16_t port;
	} ok[] = {
		{ "https://reporting.example.com/v1/tlsrpt", "reporting.example.com", "/v1/tlsrpt",
		    443 },
		{ "HTTPS://r.example:8443", "r.example", "/", 8443 },
		{ "https://r.example:1/a?b=c", "r.example", "/a?b=c", 1 },
	};
	static const char *const bad[] = { "mailto:a@example.com", "https://", "https:///x",
		"https://r.example:0/", "https://r.example:65536/", "https://r.example:/x",
		"https://r.example:8x/", "https://r_example/", "https://r.example/a b",
		"https://r.example/\x7f", "https://[2001:db8::1]/", "http://r.example/" };
	char host[MX_DOMAIN_MAX + 1], path[TLSRPT_URI_PATH_MAX], longer[2100];
	uint16_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_true(tlsrpt_https_uri(ok[i].uri, host, &port, path));
		assert_string_equal(host, ok[i].host);
		assert_string_equal(path, ok[i].path);
		assert_int_equal(port, ok[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(tlsrpt_https_uri(bad[i], host, &port, path));
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	memcpy(longer, "https://r.example/", 18);
	assert_false(tlsrpt_https_uri(longer, host, &port, path)); /* path over the cap */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cache_round_trip),
		cmocka_unit_test(cache_hostile),
		cmocka_unit_test(cache_store_load),
		cmocka_unit_test(matches),
		cmocka_unit_test(verify_errors),
		cmocka_unit_test(day_parse),
		cmocka_unit_test(report_json_gzip_message),
		cmocka_unit_test(record_and_read),
		cmocka_unit_test(https_uris),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
