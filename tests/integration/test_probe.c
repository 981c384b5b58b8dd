/*
 * test_probe.c - lib/probe.c and lib/https_get.c against the sandbox's
 * real peers: connection refused (127.0.0.208), the black hole
 * (127.0.0.99), a 554 greeting (.205), no STARTTLS (.212), a slow greeting
 * (.215), good TLS (.211 with the test CA), a wrong name (.211 under
 * another name; .213 self-signed), an expired certificate (.225), an
 * untrusted chain (no CA file), DANE match and mismatch (.221/.222, with
 * the TLSA data the signed zone publishes, computed here from the same
 * certificates); many targets with bounded concurrency; cancel; that no
 * mail command is ever sent (the peer's transcript).  The MTA-STS fetch
 * against https_peer.py on 127.0.0.231: 200, 404, a name the certificate
 * lacks, no CA file, an oversized body, a redirect, a wrong Content-Type,
 * refused and black-holed.  Outside the sandbox it skips (77), or fails
 * with MX_REQUIRE_SANDBOX=1.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "https_get.h"
#include "probe.h"
#include "records.h"

#define MAX_T 16
#define SAFETY_S 30
#define HTTPS_ADDR "127.0.0.231"
#define POLICY_PATH "/.well-known/mta-sts.txt"

/* ---- running a probe ------------------------------------------------------- */

struct run {
	struct event *safety;    /* deleted by the callback: the loop then ends
	                            only when the probe left nothing behind */
	bool called;
	size_t n;
	struct probe_target targets[MAX_T];
	struct probe_result results[MAX_T];
	struct event_base *base;
};

static void
on_done(const struct probe_target *t, const struct probe_result *r, size_t n, void *arg)
{
	struct run *run = arg;

	assert_false(run->called);
	assert_true(n <= MAX_T);
	run->called = true;
	run->n = n;
	if (n > 0) {
		memcpy(run->targets, t, n * sizeof(*t));
		memcpy(run->results, r, n * sizeof(*r));
	}
	event_del(run->safety);
}

static void
on_safety(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void
target(struct probe_target *t, const char *host, const char *ip)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	snprintf(t->addr.text, sizeof(t->addr.text), "%s", ip);
	t->addr.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, t->addr.bytes), 1);
	t->port = 25;
}

static struct probe_config
config(void)
{
	return (struct probe_config){
		.connect_timeout_ms = 2000, .reply_timeout_ms = 5000, .tls_timeout_ms = 5000,
		.max_parallel = 4, .ca_file = getenv("MX_SANDBOX_CA"), .helo = "probe-test.example",
	};
}

static void
run_probe(struct run *run, const struct probe_config *cfg, const struct probe_target *t, size_t n)
{
	struct event_base *base = event_base_new();
	struct timeval safety = { SAFETY_S, 0 };
	struct event *ev;
	struct probe *p = NULL;

	assert_non_null(base);
	memset(run, 0, sizeof(*run));
	run->safety = ev = evtimer_new(base, on_safety, base);
	evtimer_add(ev, &safety);
	assert_int_equal(probe_start(base, cfg, t, n, on_done, run, &p), MX_OK);
	assert_non_null(p);
	assert_false(run->called); /* never from inside probe_start */
	event_base_dispatch(base);
	assert_true(run->called);
	event_free(ev);
	event_base_free(base);
}

static const struct probe_result *
probe_one(const char *host, const char *ip, const struct probe_config *cfg)
{
	static struct run run;
	struct probe_target t;

	target(&t, host, ip);
	run_probe(&run, cfg, &t, 1);
	assert_int_equal(run.n, 1);
	return &run.results[0];
}

/* ---- connect and SMTP ------------------------------------------------------ */

static void
test_refused(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r = probe_one("mx-refused.send.test", "127.0.0.208", &cfg);

	(void)state;
	assert_int_equal(r->connect, PROBE_REFUSED);
	assert_int_equal(r->connect_errno, ECONNREFUSED);
	assert_true(r->connect_ms < 1000);
	assert_int_equal(r->banner_code, 0);
	assert_false(r->ehlo_ok);
	assert_false(r->tls_tried);
	assert_string_equal(probe_connect_name(r->connect), "refused");
}

static void
test_blackhole(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r;

	(void)state;
	cfg.connect_timeout_ms = 600;
	r = probe_one("mx-blackhole.send.test", "127.0.0.99", &cfg);
	assert_int_equal(r->connect, PROBE_TIMEOUT);
	assert_true(r->connect_ms >= 550 && r->connect_ms < 3000);
	assert_int_equal(r->banner_code, 0);
	assert_false(r->tls_tried);
}

static void
test_unreachable_v6(void **state)
{
	struct probe_config cfg = config();
	struct probe_target t[2];
	struct run run;

	(void)state;
	/* no route to 2001:db8::/32 in the namespace; nothing on [::1]:25 */
	for (size_t i = 0; i < 2; i++) {
		target(&t[i], "mx.v6.probe.test", "127.0.0.1");
		t[i].addr.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, i ? "::1" : "2001:db8::11", t[i].addr.bytes), 1);
	}
	run_probe(&run, &cfg, t, 2);
	assert_int_equal(run.results[0].connect, PROBE_UNREACHABLE);
	assert_int_equal(run.results[0].connect_errno, ENETUNREACH);
	assert_int_equal(run.results[1].connect, PROBE_REFUSED);
	assert_int_equal(run.results[1].connect_errno, ECONNREFUSED);
	assert_false(run.results[0].tls_tried || run.results[1].tls_tried);
}

static void
test_greeting_554(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r = probe_one("mx-greet554.send.test", "127.0.0.205", &cfg);

	(void)state;
	assert_int_equal(r->connect, PROBE_CONNECTED);
	assert_int_equal(r->connect_errno, 0);
	assert_int_equal(r->banner_code, 554);
	assert_non_null(strstr(r->banner, "554 5.3.2 No SMTP service here"));
	assert_false(r->ehlo_ok);
	assert_false(r->starttls_offered);
	assert_false(r->tls_tried);
}

static void
test_no_esmtp(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r = probe_one("mx-noesmtp.send.test", "127.0.0.226", &cfg);

	(void)state;
	assert_int_equal(r->banner_code, 220);
	assert_int_equal(r->ehlo_code, 500);
	assert_false(r->ehlo_ok);
	assert_true(r->helo_ok);
	assert_false(r->starttls_offered);
	assert_false(r->tls_tried);
	assert_string_equal(r->error, "");
	/* an ESMTP server never gets HELO */
	r = probe_one("mx-notls.send.test", "127.0.0.212", &cfg);
	assert_true(r->ehlo_ok);
	assert_false(r->helo_ok);
}

/* Broken replies end the session with the reader's reason, never a guess. */
static void
test_bad_replies(void **state)
{
	struct probe_config cfg = config();
	struct probe_target t[3];
	struct run run;

	(void)state;
	target(&t[0], "mx-badreply-barelf.send.test", "127.0.0.219");    /* LF-only greeting */
	target(&t[1], "mx-badreply-longline.send.test", "127.0.0.217");  /* 1 MiB EHLO line */
	target(&t[2], "mx-badreply-mismatch.send.test", "127.0.0.216");  /* 250-/550- in one reply */
	run_probe(&run, &cfg, t, 3);
	assert_int_equal(run.results[0].connect, PROBE_CONNECTED);
	assert_int_equal(run.results[0].banner_code, 0);
	assert_non_null(strstr(run.results[0].error, "malformed reply in the greeting"));
	assert_int_equal(run.results[1].banner_code, 220);
	assert_false(run.results[1].ehlo_ok);
	assert_non_null(strstr(run.results[1].error, "malformed reply in the EHLO reply"));
	assert_int_equal(run.results[2].banner_code, 220);
	assert_false(run.results[2].ehlo_ok);
	assert_non_null(strstr(run.results[2].error, "malformed reply in the EHLO reply"));
	assert_false(run.results[0].tls_tried || run.results[1].tls_tried || run.results[2].tls_tried);
}

/* The newest transcript of a smtp_peer.py peer that names our EHLO. */
static bool
transcript(const char *peer, const char *helo, char *out, size_t size)
{
	char dir[512], path[1024];
	const char *mail = getenv("MX_SANDBOX_MAIL");
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", mail ? mail : "/nonexistent", peer);
	if ((d = opendir(dir)) == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		FILE *f;
		size_t len;
		if (strncmp(de->d_name, "session.", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		len = fread(out, 1, size - 1, f);
		out[len] = '\0';
		fclose(f);
		if (strstr(out, helo) && strstr(out, "-- end")) {
			found = true;
			break;
		}
	}
	closedir(d);
	return found;
}

static void
test_no_starttls_and_no_mail(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r;
	char helo[64], text[8192];
	bool seen = false;

	(void)state;
	snprintf(helo, sizeof(helo), "probe-%ld.example", (long)getpid());
	cfg.helo = helo;
	r = probe_one("mx-notls.send.test", "127.0.0.212", &cfg);
	assert_int_equal(r->connect, PROBE_CONNECTED);
	assert_int_equal(r->banner_code, 220);
	assert_true(r->ehlo_ok);
	assert_int_equal(r->ehlo_code, 250);
	assert_false(r->starttls_offered);
	assert_false(r->tls_tried);
	assert_string_equal(r->error, "");
	/* the peer saw EHLO and QUIT and nothing that sends mail */
	for (int i = 0; i < 50 && !(seen = transcript("notls", helo, text, sizeof(text))); i++)
		usleep(20000);
	assert_true(seen);
	assert_non_null(strstr(text, "C: QUIT"));
	assert_null(strstr(text, "C: MAIL"));
	assert_null(strstr(text, "C: RCPT"));
	assert_null(strstr(text, "C: DATA"));
}

static void
test_slow_greeting(void **state)
{
	struct probe_config cfg = config();
	struct probe_target t[2];
	struct run run;

	(void)state;
	/* the peer greets after 5 s: within 8 s that is fine, within 1 s not */
	target(&t[0], "mx-slowgreet.send.test", "127.0.0.215");
	cfg.reply_timeout_ms = 8000;
	run_probe(&run, &cfg, t, 1);
	assert_int_equal(run.results[0].banner_code, 220);
	assert_true(run.results[0].banner_ms >= 4000);
	assert_true(run.results[0].ehlo_ok);
	cfg.reply_timeout_ms = 1000;
	run_probe(&run, &cfg, t, 1);
	assert_int_equal(run.results[0].connect, PROBE_CONNECTED);
	assert_int_equal(run.results[0].banner_code, 0);
	assert_non_null(strstr(run.results[0].error, "timed out waiting for the greeting"));
}

/* ---- TLS ------------------------------------------------------------------- */

static void
test_tls_good(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r = probe_one("mx-tls.send.test", "127.0.0.211", &cfg);
	char year[5];
	time_t now = time(NULL);

	(void)state;
	assert_true(r->starttls_offered);
	assert_true(r->tls_tried);
	assert_true(r->tls_ok);
	assert_string_equal(r->tls_error, "");
	assert_true(r->tls.verified);
	assert_string_equal(r->tls.verify_error, "");
	assert_true(strncmp(r->tls.protocol, "TLSv1.", 6) == 0);
	assert_non_null(strstr(r->tls.subject, "mx-tls.send.test"));
	assert_false(r->cert_expired);
	assert_false(r->cert_untrusted);
	assert_false(r->cert_name_mismatch);
	assert_false(r->dane_checked);
	/* made at sandbox start, valid 30 days */
	assert_int_equal(strlen(r->not_after), 20);
	strftime(year, sizeof(year), "%Y", gmtime(&now));
	assert_true(strncmp(r->not_after, year, 4) >= 0);
	assert_string_equal(r->error, "");
}

static void
test_tls_wrong_name(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r = probe_one("other.send.test", "127.0.0.211", &cfg);

	(void)state;
	assert_true(r->tls_ok);
	assert_false(r->tls.verified);
	assert_true(r->cert_name_mismatch);
	assert_false(r->cert_untrusted);
	assert_false(r->cert_expired);
	/* wrongcert: self-signed for wrong.invalid: two faults at once */
	r = probe_one("mx-wrongcert.send.test", "127.0.0.213", &cfg);
	assert_true(r->tls_ok);
	assert_false(r->tls.verified);
	assert_true(r->cert_name_mismatch);
	assert_true(r->cert_untrusted);
	assert_false(r->cert_expired);
	assert_non_null(strstr(r->tls.subject, "wrong.invalid"));
}

static void
test_tls_broken(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r = probe_one("mx-badtls.send.test", "127.0.0.224", &cfg);

	(void)state;
	/* 220 to STARTTLS, then garbage instead of a handshake */
	assert_true(r->starttls_offered);
	assert_true(r->tls_tried);
	assert_false(r->tls_ok);
	assert_true(r->tls_error[0] != '\0');
	assert_false(r->tls.verified);
	assert_string_equal(r->not_after, "");
}

static void
test_tls_expired(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r = probe_one("mx-expired.send.test", "127.0.0.225", &cfg);

	(void)state;
	assert_true(r->tls_ok);
	assert_false(r->tls.verified);
	assert_true(r->cert_expired);
	assert_false(r->cert_untrusted);
	assert_false(r->cert_name_mismatch);
	assert_string_equal(r->not_after, "2020-02-01T00:00:00Z");
	assert_non_null(strstr(r->tls.verify_error, "expired"));
}

static void
test_tls_untrusted(void **state)
{
	struct probe_config cfg = config();
	const struct probe_result *r;

	(void)state;
	cfg.ca_file = NULL; /* the system store does not know the test CA */
	r = probe_one("mx-tls.send.test", "127.0.0.211", &cfg);
	assert_true(r->tls_ok);
	assert_false(r->tls.verified);
	assert_true(r->cert_untrusted);
	assert_false(r->cert_name_mismatch);
	assert_false(r->cert_expired);
}

/* TLSA 3 1 1 data of a PEM certificate: SHA-256 of its SubjectPublicKeyInfo,
 * as the sandbox writes into signed.test. */
static void
tlsa_311(const char *pem, uint8_t out[32])
{
	char path[512];
	FILE *f;
	X509 *x;
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len;

	snprintf(path, sizeof(path), "%s/tls/%s", getenv("MX_SANDBOX_DIR"), pem);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	len = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	assert_true(len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(mdlen, 32);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_dane(void **state)
{
	struct probe_config cfg = config();
	uint8_t good[32], wrong[32];
	struct tls_tlsa ok = { 3, 1, 1, good, 32 }, bad = { 3, 1, 1, wrong, 32 };
	struct tls_tlsa pkix = { 1, 1, 1, good, 32 };
	struct probe_target t[4];
	struct run run;

	(void)state;
	tlsa_311("server.pem", good);
	tlsa_311("wrong.pem", wrong);
	target(&t[0], "mx-dane-ok.signed.test", "127.0.0.221");
	t[0].tlsa = &ok;
	t[0].n_tlsa = 1;
	target(&t[1], "mx-dane-bad.signed.test", "127.0.0.222");
	t[1].tlsa = &bad;
	t[1].n_tlsa = 1;
	target(&t[2], "mx-dane-ok.signed.test", "127.0.0.221"); /* no TLSA: no check */
	target(&t[3], "mx-dane-ok.signed.test", "127.0.0.221"); /* PKIX-EE: unusable for SMTP */
	t[3].tlsa = &pkix;
	t[3].n_tlsa = 1;
	run_probe(&run, &cfg, t, 4);
	assert_true(run.results[0].tls_ok);
	assert_true(run.results[0].dane_checked);
	assert_true(run.results[0].dane_match);
	assert_true(run.results[1].tls_ok); /* the first handshake (may) still worked */
	assert_true(run.results[1].dane_checked);
	assert_false(run.results[1].dane_match);
	assert_true(run.results[2].tls_ok);
	assert_false(run.results[2].dane_checked);
	assert_false(run.results[2].dane_match);
	assert_true(run.results[3].tls_ok);
	assert_false(run.results[3].dane_checked);
}

/* Results in target order, whatever order the sessions end in, with two
 * at a time; the black hole holds a slot without stopping the others. */
static void
test_many(void **state)
{
	struct probe_config cfg = config();
	static const char *const ips[] = { "127.0.0.99", "127.0.0.211", "127.0.0.208",
		"127.0.0.205", "127.0.0.212", "127.0.0.213", "127.0.0.225", "127.0.0.201" };
	struct probe_target t[8];
	struct run run;

	(void)state;
	cfg.max_parallel = 2;
	cfg.connect_timeout_ms = 1500;
	for (size_t i = 0; i < 8; i++)
		target(&t[i], "mx.probe.test", ips[i]);
	run_probe(&run, &cfg, t, 8);
	assert_int_equal(run.n, 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(run.targets[i].addr.text, ips[i]);
	assert_int_equal(run.results[0].connect, PROBE_TIMEOUT);
	assert_true(run.results[1].tls_ok);
	assert_int_equal(run.results[2].connect, PROBE_REFUSED);
	assert_int_equal(run.results[3].banner_code, 554);
	assert_false(run.results[4].starttls_offered);
	assert_true(run.results[4].ehlo_ok);
	assert_true(run.results[5].cert_untrusted);
	assert_true(run.results[6].cert_expired);
	assert_int_equal(run.results[7].banner_code, 220);  /* smtp-sink */
	assert_false(run.results[7].starttls_offered);
}

static void
never(const struct probe_target *t, const struct probe_result *r, size_t n, void *arg)
{
	(void)t;
	(void)r;
	(void)n;
	*(bool *)arg = true;
}

static void
test_cancel_and_empty(void **state)
{
	struct probe_config cfg = config();
	struct event_base *base = event_base_new();
	struct probe_target t[2];
	struct probe *p;
	struct run run;
	bool called = false;

	(void)state;
	target(&t[0], "mx-tls.send.test", "127.0.0.211");
	target(&t[1], "mx-blackhole.send.test", "127.0.0.99");
	assert_int_equal(probe_start(base, &cfg, t, 2, never, &called, &p), MX_OK);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	probe_cancel(p);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_false(called);
	event_base_free(base);
	probe_cancel(NULL);

	/* no targets: the callback still comes, from the loop */
	run_probe(&run, &cfg, NULL, 0);
	assert_int_equal(run.n, 0);
}

static void
test_bad_arguments(void **state)
{
	struct probe_config cfg = config();
	struct event_base *base = event_base_new();
	struct probe_target t;
	struct probe *p = (struct probe *)&cfg;
	bool called = false;

	(void)state;
	target(&t, "mx-tls.send.test", "127.0.0.211");
	cfg.helo = "two words";
	assert_int_equal(probe_start(base, &cfg, &t, 1, never, &called, &p), MX_ERR_INVALID);
	assert_null(p);
	cfg = config();
	cfg.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(probe_start(base, &cfg, &t, 1, never, &called, &p), MX_ERR_CONFIG);
	assert_null(p);
	cfg = config();
	assert_int_equal(probe_start(base, &cfg, NULL, 1, never, &called, &p), MX_ERR_INVALID);
	assert_int_equal(probe_start(base, &cfg, &t, 1, NULL, &called, &p), MX_ERR_INVALID);
	assert_false(called);
	event_base_free(base);
}

/* ---- https_get --------------------------------------------------------------- */

struct fetch {
	struct event *safety;
	bool called;
	int status;
	char body[80000];
	size_t len;
	char error[256];
	bool has_error;
};

static void
on_fetch(int status, const char *body, size_t len, const char *error, void *arg)
{
	struct fetch *f = arg;

	assert_false(f->called);
	f->called = true;
	f->status = status;
	assert_non_null(body);
	assert_int_equal(body[len], '\0');
	f->len = len < sizeof(f->body) ? len : sizeof(f->body) - 1;
	memcpy(f->body, body, f->len);
	f->body[f->len] = '\0';
	f->has_error = error != NULL;
	snprintf(f->error, sizeof(f->error), "%s", error ? error : "");
	if (f->safety != NULL)
		event_del(f->safety);
}

static struct fetch *
fetch(const char *host, const char *ip, uint16_t port, const char *path, const char *ca,
    unsigned timeout_ms)
{
	static struct fetch f;
	struct event_base *base = event_base_new();
	struct timeval safety = { SAFETY_S, 0 };
	struct event *ev = evtimer_new(base, on_safety, base);
	struct ip_addr addr = { .family = AF_INET };
	struct https_get *g = NULL;

	memset(&f, 0, sizeof(f));
	f.safety = ev;
	snprintf(addr.text, sizeof(addr.text), "%s", ip);
	assert_int_equal(inet_pton(AF_INET, ip, addr.bytes), 1);
	evtimer_add(ev, &safety);
	assert_int_equal(https_get_start(base, host, &addr, port, path, ca, timeout_ms, on_fetch, &f,
	    &g), MX_OK);
	assert_non_null(g);
	assert_false(f.called);
	event_base_dispatch(base);
	assert_true(f.called);
	event_free(ev);
	event_base_free(base);
	return &f;
}

static void
test_https_ok(void **state)
{
	struct fetch *f = fetch("mta-sts.probe-ok.test", HTTPS_ADDR, 443, POLICY_PATH,
	    getenv("MX_SANDBOX_CA"), 5000);
	struct mta_sts_policy pol;
	struct record_problems pr;

	(void)state;
	assert_int_equal(f->status, 200);
	assert_false(f->has_error);
	assert_int_equal(mta_sts_policy_parse(f->body, f->len, &pol, &pr), 0);
	assert_string_equal(pol.mode, "enforce");
	assert_int_equal(pol.n_mx, 2);
	assert_true(mta_sts_mx_match(pol.mx[1], "mx1.probe.test"));
	/* a fully qualified name (trailing dot) is the same host */
	f = fetch("mta-sts.probe-ok.test.", HTTPS_ADDR, 443, POLICY_PATH, getenv("MX_SANDBOX_CA"), 5000);
	assert_int_equal(f->status, 200);
	assert_false(f->has_error);
}

static void
test_https_404(void **state)
{
	struct fetch *f = fetch("mta-sts.probe-ok.test", HTTPS_ADDR, 443, "/nothing-here",
	    getenv("MX_SANDBOX_CA"), 5000);

	(void)state;
	assert_int_equal(f->status, 404);
	assert_false(f->has_error);
}

static void
test_https_bad_cert(void **state)
{
	struct fetch *f;

	(void)state;
	/* a name the certificate does not carry */
	f = fetch("mta-sts.not-in-cert.test", HTTPS_ADDR, 443, POLICY_PATH, getenv("MX_SANDBOX_CA"), 5000);
	assert_int_equal(f->status, 0);
	assert_true(f->has_error);
	assert_non_null(strstr(f->error, "certificate not accepted"));
	assert_non_null(strstr(f->error, "mismatch"));
	/* the right name, but a trust store without the test CA */
	f = fetch("mta-sts.probe-ok.test", HTTPS_ADDR, 443, POLICY_PATH, NULL, 5000);
	assert_int_equal(f->status, 0);
	assert_true(f->has_error);
	assert_non_null(strstr(f->error, "certificate not accepted"));
}

static void
test_https_rules(void **state)
{
	const char *ca = getenv("MX_SANDBOX_CA");
	struct fetch *f;

	(void)state;
	f = fetch("mta-sts.probe-big.test", HTTPS_ADDR, 443, POLICY_PATH, ca, 5000);
	assert_true(f->has_error);
	assert_non_null(strstr(f->error, "64 KiB"));
	assert_int_equal(f->len, 0);
	f = fetch("mta-sts.probe-redirect.test", HTTPS_ADDR, 443, POLICY_PATH, ca, 5000);
	assert_int_equal(f->status, 301);
	assert_true(f->has_error);
	assert_non_null(strstr(f->error, "redirect"));
	f = fetch("mta-sts.probe-html.test", HTTPS_ADDR, 443, POLICY_PATH, ca, 5000);
	assert_int_equal(f->status, 200);
	assert_true(f->has_error);
	assert_non_null(strstr(f->error, "text/html"));
}

static void
test_https_unreachable(void **state)
{
	struct fetch *f;
	struct timespec t0, t1;

	(void)state;
	f = fetch("mta-sts.probe-ok.test", "127.0.0.208", 443, POLICY_PATH, getenv("MX_SANDBOX_CA"), 5000);
	assert_int_equal(f->status, 0);
	assert_true(f->has_error);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	f = fetch("mta-sts.probe-ok.test", "127.0.0.99", 443, POLICY_PATH, getenv("MX_SANDBOX_CA"), 700);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(f->status, 0);
	assert_non_null(strstr(f->error, "timed out"));
	assert_true(t1.tv_sec - t0.tv_sec < 5);
}

static void
test_https_cancel(void **state)
{
	struct event_base *base = event_base_new();
	struct ip_addr addr = { .family = AF_INET, .text = HTTPS_ADDR };
	struct https_get *g = NULL;
	struct fetch f = { 0 };

	(void)state;
	inet_pton(AF_INET, HTTPS_ADDR, addr.bytes);
	assert_int_equal(https_get_start(base, "mta-sts.probe-ok.test", &addr, 443, POLICY_PATH,
	    getenv("MX_SANDBOX_CA"), 5000, on_fetch, &f, &g), MX_OK);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	https_get_cancel(g);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_false(f.called);
	assert_int_equal(https_get_start(base, "bad host", &addr, 443, POLICY_PATH, NULL, 5000,
	    on_fetch, &f, &g), MX_ERR_INVALID);
	assert_int_equal(https_get_start(base, "h.test", &addr, 443, "no-slash", NULL, 5000,
	    on_fetch, &f, &g), MX_ERR_INVALID);
	assert_null(g);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_blackhole),
		cmocka_unit_test(test_unreachable_v6),
		cmocka_unit_test(test_greeting_554),
		cmocka_unit_test(test_no_starttls_and_no_mail),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_no_esmtp),
		cmocka_unit_test(test_slow_greeting),
		cmocka_unit_test(test_tls_good),
		cmocka_unit_test(test_tls_wrong_name),
		cmocka_unit_test(test_tls_broken),
		cmocka_unit_test(test_tls_expired),
		cmocka_unit_test(test_tls_untrusted),
		cmocka_unit_test(test_dane),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_cancel_and_empty),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_https_ok),
		cmocka_unit_test(test_https_404),
		cmocka_unit_test(test_https_bad_cert),
		cmocka_unit_test(test_https_rules),
		cmocka_unit_test(test_https_unreachable),
		cmocka_unit_test(test_https_cancel),
	};

	if (getenv("MX_SANDBOX") == NULL || getenv("MX_SANDBOX_CA") == NULL) {
		const char *req = getenv("MX_REQUIRE_SANDBOX");

		fprintf(stderr, "test_probe: needs the sandbox with its SMTP peers (tests/sandbox/sandbox run)\n");
		return req != NULL && strcmp(req, "1") == 0 ? 1 : 77;
	}
	if (getenv("TEST_FILTER") != NULL) /* e.g. TEST_FILTER='test_https_*' */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
