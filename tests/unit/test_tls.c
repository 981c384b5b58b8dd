/*
 * test_tls.c - lib/tls.c end to end with real OpenSSL: a test PKI made
 * here (a CA, a leaf for mx-tls.send.test, the same name expired, a
 * self-signed one, one from a CA nobody trusts), a TLS server thread on
 * an AF_UNIX socketpair, and every policy against it: may and encrypt
 * take anything and record whether it verified; verify wants the CA and
 * the name; dane takes DANE-EE matches whatever the name or dates, wants
 * the name under DANE-TA, ignores PKIX usages and never falls back to the
 * CA store; servers below TLS 1.2 are refused.  Then the libevent path
 * the SMTP session will use (socket and filter bufferevents), the facts,
 * and the argument checks.  No network, no files but a temporary CA file.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define HOST "mx-tls.send.test"
#define DAY  (24L * 3600L)

/* ---- the test PKI ----------------------------------------------------- */

struct pki {
	EVP_PKEY *ca_key, *stranger_key, *leaf_key, *self_key;
	X509 *ca;        /* trusted: in ca_file */
	X509 *stranger;  /* a CA nobody trusts */
	X509 *good;      /* CA -> HOST, valid now */
	X509 *expired;   /* CA -> HOST, expired yesterday */
	X509 *self;      /* self-signed, HOST */
	X509 *untrusted; /* stranger -> HOST */
	char ca_file[64];
	struct tls_client *client; /* trusts ca_file */
};

static void
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* issuer NULL: self-signed.  Validity in days from now. */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long from_days,
    long to_days, bool ca, long serial)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX ctx;
	char san[128];

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from_days * DAY));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to_days * DAY));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(
			     name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
	    1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (ca) {
		add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		add_ext(x, &ctx, NID_subject_alt_name, san);
		add_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
	}
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static void
write_ca_file(struct pki *p)
{
	int fd;
	FILE *f;

	snprintf(p->ca_file, sizeof(p->ca_file), "/tmp/mx-test-tls-ca-XXXXXX");
	assert_true((fd = mkstemp(p->ca_file)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	assert_int_equal(PEM_write_X509(f, p->ca), 1);
	assert_int_equal(fclose(f), 0);
}

static int
setup_pki(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->ca_key = EVP_EC_gen("P-256");
	p->stranger_key = EVP_EC_gen("P-256");
	p->leaf_key = EVP_EC_gen("P-256");
	p->self_key = EVP_EC_gen("P-256");
	assert_true(p->ca_key && p->stranger_key && p->leaf_key && p->self_key);
	p->ca = make_cert("mxkit test CA", p->ca_key, NULL, NULL, -1, 30, true, 1);
	p->stranger = make_cert("stranger CA", p->stranger_key, NULL, NULL, -1, 30, true, 2);
	p->good = make_cert(HOST, p->leaf_key, p->ca, p->ca_key, -1, 30, false, 3);
	p->expired = make_cert(HOST, p->leaf_key, p->ca, p->ca_key, -3, -1, false, 4);
	p->self = make_cert(HOST, p->self_key, NULL, NULL, -1, 30, false, 5);
	p->untrusted = make_cert(HOST, p->leaf_key, p->stranger, p->stranger_key, -1, 30, false, 6);
	write_ca_file(p);
	assert_int_equal(tls_client_new(&p->client, p->ca_file), MX_OK);
	*state = p;
	return 0;
}

static int
teardown_pki(void **state)
{
	struct pki *p = *state;

	tls_client_free(p->client);
	unlink(p->ca_file);
	X509_free(p->ca);
	X509_free(p->stranger);
	X509_free(p->good);
	X509_free(p->expired);
	X509_free(p->self);
	X509_free(p->untrusted);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->stranger_key);
	EVP_PKEY_free(p->leaf_key);
	EVP_PKEY_free(p->self_key);
	free(p);
	return 0;
}

/* ---- TLSA data ---------------------------------------------------------- */

struct tlsa_buf {
	struct tls_tlsa rr;
	uint8_t data[2048];
};

static void
tlsa_of(struct tlsa_buf *t, uint8_t usage, uint8_t selector, uint8_t mtype, X509 *x)
{
	unsigned char *der = NULL;
	int len =
	    selector == 0 ? i2d_X509(x, &der) : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	unsigned n = 0;

	assert_true(len > 0 && (size_t)len <= sizeof(t->data));
	if (mtype == 0) {
		memcpy(t->data, der, (size_t)len);
		n = (unsigned)len;
	} else {
		assert_int_equal(EVP_Digest(der, (size_t)len, t->data, &n,
				     mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL),
		    1);
	}
	OPENSSL_free(der);
	t->rr = (struct tls_tlsa){ usage, selector, mtype, t->data, n };
}

/* ---- the server thread --------------------------------------------------- */

struct server {
	X509 *cert;
	EVP_PKEY *key;
	X509 *extra;     /* sent after cert, or NULL */
	int max_version; /* 0: OpenSSL's; below TLS 1.2 also lowers the security level */
	int fd;
	bool accepted;
};

static SSL_CTX *
server_ctx(const struct server *s)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_num_tickets(ctx, 0);
	if (s->max_version != 0) {
		SSL_CTX_set_max_proto_version(ctx, s->max_version);
		if (s->max_version < TLS1_2_VERSION) {
			SSL_CTX_set_security_level(ctx, 0);
			SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
			SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
		}
	}
	if (SSL_CTX_use_certificate(ctx, s->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, s->key) != 1 ||
	    (s->extra != NULL && SSL_CTX_add1_chain_cert(ctx, s->extra) != 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Accepts, says hello, reads until the client goes away. */
static void *
serve(void *arg)
{
	struct server *s = arg;
	SSL_CTX *ctx = server_ctx(s);
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	char buf[256];

	if (ssl != NULL && SSL_set_fd(ssl, s->fd) == 1 && SSL_accept(ssl) == 1) {
		s->accepted = true;
		(void)SSL_write(ssl, "hello\r\n", 7);
		while (SSL_read(ssl, buf, sizeof(buf)) > 0)
			;
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(s->fd);
	OPENSSL_thread_stop();
	return NULL;
}

/* ---- one handshake --------------------------------------------------------- */

struct outcome {
	mx_err err; /* tls_session_new */
	const char *new_why;
	bool ok; /* tls_session_check */
	const char *why;
	struct tls_facts facts;
	bool accepted; /* the server finished its side */
};

static void
handshake(struct tls_client *client, struct server *srv, const char *host, enum tls_policy policy,
    const struct tls_tlsa *tlsa, size_t n, struct outcome *o)
{
	int sv[2];
	pthread_t t;
	SSL *ssl = NULL;

	memset(o, 0, sizeof(*o));
	o->err = tls_session_new(client, host, policy, tlsa, n, &ssl, &o->new_why);
	if (o->err != MX_OK) {
		assert_null(ssl);
		return;
	}
	assert_null(o->new_why);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	srv->fd = sv[1];
	srv->accepted = false;
	assert_int_equal(pthread_create(&t, NULL, serve, srv), 0);
	assert_int_equal(SSL_set_fd(ssl, sv[0]), 1);
	(void)SSL_connect(ssl);
	o->ok = tls_session_check(ssl, policy, &o->facts, &o->why);
	SSL_free(ssl);
	close(sv[0]);
	assert_int_equal(pthread_join(t, NULL), 0);
	o->accepted = srv->accepted;
	ERR_clear_error();
}

static void
expect_ok(const struct outcome *o, bool verified)
{
	assert_int_equal(o->err, MX_OK);
	if (!o->ok)
		fail_msg("refused: %s", o->why);
	assert_null(o->why);
	assert_true(o->accepted);
	assert_int_equal(o->facts.verified, verified);
	assert_string_equal(o->facts.protocol, "TLSv1.3");
	assert_true(o->facts.cipher[0] != '\0');
	assert_true(o->facts.cipher_bits >= 128);
	assert_non_null(strstr(o->facts.subject, "CN=" HOST));
	if (verified)
		assert_string_equal(o->facts.verify_error, "");
	else
		assert_true(o->facts.verify_error[0] != '\0');
}

static void
expect_refused(const struct outcome *o, const char *why_part)
{
	assert_int_equal(o->err, MX_OK);
	assert_false(o->ok);
	assert_false(o->accepted);
	assert_false(o->facts.verified);
	assert_non_null(o->why);
	if (why_part != NULL && strstr(o->why, why_part) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", o->why, why_part);
}

static struct server
serving(X509 *cert, EVP_PKEY *key)
{
	return (struct server){ .cert = cert, .key = key, .fd = -1 };
}

/* ---- may and encrypt ------------------------------------------------------ */

static void
test_unauthenticated(void **state)
{
	struct pki *p = *state;
	enum tls_policy policies[] = { TLS_MAY, TLS_ENCRYPT };
	struct outcome o;

	for (size_t i = 0; i < 2; i++) {
		struct server self = serving(p->self, p->self_key);
		struct server good = serving(p->good, p->leaf_key);
		struct server expired = serving(p->expired, p->leaf_key);

		handshake(p->client, &self, HOST, policies[i], NULL, 0, &o);
		expect_ok(&o, false);
		assert_string_equal(o.facts.verify_error, "self-signed certificate");
		assert_non_null(strstr(o.facts.issuer, "CN=" HOST));

		handshake(p->client, &good, HOST, policies[i], NULL, 0, &o);
		expect_ok(&o, true);
		assert_non_null(strstr(o.facts.issuer, "CN=mxkit test CA"));
		assert_int_equal(o.facts.dane_depth, -1);
		assert_int_equal(o.facts.dane_usage, -1);

		/* The right chain but another name: would not have verified. */
		handshake(p->client, &good, "other.send.test", policies[i], NULL, 0, &o);
		expect_ok(&o, false);
		assert_string_equal(o.facts.verify_error, "hostname mismatch");

		handshake(p->client, &expired, HOST, policies[i], NULL, 0, &o);
		expect_ok(&o, false);
		assert_string_equal(o.facts.verify_error, "certificate has expired");
	}
}

/* ---- verify --------------------------------------------------------------- */

static void
test_verify(void **state)
{
	struct pki *p = *state;
	struct server good = serving(p->good, p->leaf_key);
	struct server expired = serving(p->expired, p->leaf_key);
	struct server self = serving(p->self, p->self_key);
	struct server untrusted = serving(p->untrusted, p->leaf_key);
	struct outcome o;

	handshake(p->client, &good, HOST, TLS_VERIFY, NULL, 0, &o);
	expect_ok(&o, true);
	/* A trailing dot on the MX name is the same name. */
	handshake(p->client, &good, HOST ".", TLS_VERIFY, NULL, 0, &o);
	expect_ok(&o, true);

	handshake(p->client, &good, "other.send.test", TLS_VERIFY, NULL, 0, &o);
	expect_refused(&o, "hostname mismatch");
	assert_non_null(strstr(o.facts.subject, "CN=" HOST)); /* what was shown */
	assert_string_equal(o.facts.protocol, "");

	handshake(p->client, &expired, HOST, TLS_VERIFY, NULL, 0, &o);
	expect_refused(&o, "expired");
	handshake(p->client, &self, HOST, TLS_VERIFY, NULL, 0, &o);
	expect_refused(&o, "self-signed");
	handshake(p->client, &untrusted, HOST, TLS_VERIFY, NULL, 0, &o);
	expect_refused(&o, "unable to get local issuer certificate");
}

/* The system store (NULL) does not know the test CA. */
static void
test_verify_system_store(void **state)
{
	struct pki *p = *state;
	struct server good = serving(p->good, p->leaf_key);
	struct tls_client *sys = NULL;
	struct outcome o;

	assert_int_equal(tls_client_new(&sys, NULL), MX_OK);
	handshake(sys, &good, HOST, TLS_VERIFY, NULL, 0, &o);
	expect_refused(&o, "unable to get local issuer certificate");
	tls_client_free(sys);
}

/* ---- dane ------------------------------------------------------------------ */

static void
expect_dane(const struct outcome *o, int usage, int depth)
{
	expect_ok(o, true);
	assert_int_equal(o->facts.dane_usage, usage);
	assert_int_equal(o->facts.dane_depth, depth);
}

/* DANE-EE: names and dates do not matter (RFC 7672 3.1.1). */
static void
test_dane_ee(void **state)
{
	struct pki *p = *state;
	struct server self = serving(p->self, p->self_key);
	struct server expired = serving(p->expired, p->leaf_key);
	struct server good = serving(p->good, p->leaf_key);
	struct tlsa_buf self_spki, leaf_spki, leaf_cert512, self_full;
	struct outcome o;

	tlsa_of(&self_spki, 3, 1, 1, p->self);
	tlsa_of(&leaf_spki, 3, 1, 1, p->good);
	tlsa_of(&leaf_cert512, 3, 0, 2, p->expired);
	tlsa_of(&self_full, 3, 1, 0, p->self);

	handshake(p->client, &self, "wrong.example", TLS_DANE, &self_spki.rr, 1, &o);
	expect_dane(&o, 3, 0);
	assert_int_equal(o.facts.dane_selector, 1);
	assert_int_equal(o.facts.dane_mtype, 1);
	handshake(p->client, &expired, "wrong.example", TLS_DANE, &leaf_spki.rr, 1, &o);
	expect_dane(&o, 3, 0);
	handshake(p->client, &expired, HOST, TLS_DANE, &leaf_cert512.rr, 1, &o);
	expect_dane(&o, 3, 0);
	assert_int_equal(o.facts.dane_mtype, 2);
	handshake(p->client, &self, HOST, TLS_DANE, &self_full.rr, 1, &o);
	expect_dane(&o, 3, 0);

	/* Mismatch: refused even though the CA file would vouch for it. */
	handshake(p->client, &good, HOST, TLS_DANE, &self_spki.rr, 1, &o);
	expect_refused(&o, "no matching DANE TLSA records");
	assert_int_equal(o.facts.dane_depth, -1);
}

/* DANE-TA: the chain up to the CA named by TLSA, and the MX name. */
static void
test_dane_ta(void **state)
{
	struct pki *p = *state;
	struct server chain = serving(p->good, p->leaf_key);
	struct server leaf_only = serving(p->good, p->leaf_key);
	struct tlsa_buf ca_cert, ca_spki_full, stranger;
	struct outcome o;

	chain.extra = p->ca;
	tlsa_of(&ca_cert, 2, 0, 1, p->ca);
	tlsa_of(&ca_spki_full, 2, 1, 0, p->ca);
	tlsa_of(&stranger, 2, 0, 1, p->stranger);

	handshake(p->client, &chain, HOST, TLS_DANE, &ca_cert.rr, 1, &o);
	expect_dane(&o, 2, 1);
	handshake(p->client, &chain, "other.send.test", TLS_DANE, &ca_cert.rr, 1, &o);
	expect_refused(&o, "hostname mismatch");
	/* A full trust-anchor key needs no CA certificate from the server;
	 * OpenSSL then names the depth of the certificate the key signed. */
	handshake(p->client, &leaf_only, HOST, TLS_DANE, &ca_spki_full.rr, 1, &o);
	expect_dane(&o, 2, 0);
	assert_int_equal(o.facts.dane_selector, 1);
	assert_int_equal(o.facts.dane_mtype, 0);
	handshake(p->client, &chain, HOST, TLS_DANE, &stranger.rr, 1, &o);
	expect_refused(&o, NULL);
}

/* PKIX-TA(0), PKIX-EE(1), unknown parameters and bad data are unusable. */
static void
test_dane_unusable(void **state)
{
	struct pki *p = *state;
	struct server good = serving(p->good, p->leaf_key);
	struct tlsa_buf pkix_ta, pkix_ee, good_ee, short_digest, bad_full, bad_mtype;
	struct outcome o;

	tlsa_of(&pkix_ta, 0, 0, 1, p->ca);
	tlsa_of(&pkix_ee, 1, 1, 1, p->good);
	tlsa_of(&good_ee, 3, 1, 1, p->good);
	short_digest = good_ee;
	short_digest.rr.data = short_digest.data;
	short_digest.rr.len = 31;
	tlsa_of(&bad_full, 3, 1, 0, p->good);
	bad_full.rr.data = bad_full.data;
	bad_full.rr.len = 20; /* not a SubjectPublicKeyInfo */
	bad_mtype = good_ee;
	bad_mtype.rr.data = bad_mtype.data;
	bad_mtype.rr.mtype = 3;

	{
		struct tls_tlsa only_pkix[] = { pkix_ta.rr, pkix_ee.rr };
		struct tls_tlsa broken[] = { short_digest.rr, bad_full.rr, bad_mtype.rr };
		struct tls_tlsa mixed[] = { pkix_ta.rr, bad_full.rr, good_ee.rr };

		assert_int_equal(tls_tlsa_usable(only_pkix, 2), 0);
		handshake(p->client, &good, HOST, TLS_DANE, only_pkix, 2, &o);
		assert_int_equal(o.err, MX_ERR_SYSTEM);
		assert_true(mx_err_temporary(o.err));
		assert_non_null(strstr(o.new_why, "no usable TLSA"));

		handshake(p->client, &good, HOST, TLS_DANE, broken, 3, &o);
		assert_int_equal(o.err, MX_ERR_SYSTEM);
		assert_non_null(strstr(o.new_why, "no usable TLSA"));
		/* OpenSSL's complaint about bad_full is not left behind. */
		assert_int_equal(ERR_peek_error(), 0);
		handshake(p->client, &good, HOST, TLS_DANE, NULL, 0, &o);
		assert_int_equal(o.err, MX_ERR_SYSTEM);

		/* One good record among bad ones is enough. */
		handshake(p->client, &good, HOST, TLS_DANE, mixed, 3, &o);
		expect_dane(&o, 3, 0);
		/* Other policies ignore TLSA records. */
		handshake(p->client, &good, HOST, TLS_VERIFY, only_pkix, 2, &o);
		expect_ok(&o, true);
	}
}

static void
test_tlsa_usable(void **state)
{
	static const uint8_t d32[32], d64[64], d100[100];
	struct tls_tlsa t[] = {
		{ 3, 1, 1, d32, 32 },
		{ 2, 0, 1, d32, 32 },
		{ 3, 0, 2, d64, 64 },
		{ 2, 1, 0, d100, 100 }, /* usable: 4 */
		{ 0, 0, 1, d32, 32 },
		{ 1, 1, 1, d32, 32 }, /* PKIX */
		{ 4, 1, 1, d32, 32 },
		{ 3, 2, 1, d32, 32 },
		{ 3, 1, 3, d32, 32 },
		{ 3, 1, 1, d64, 64 },
		{ 3, 1, 2, d32, 32 },
		{ 3, 1, 1, NULL, 0 },
		{ 3, 1, 0, d32, 0 },
		{ 255, 255, 255, d32, 32 },
	};

	(void)state;
	assert_int_equal(tls_tlsa_usable(t, sizeof(t) / sizeof(t[0])), 4);
	assert_int_equal(tls_tlsa_usable(NULL, 3), 0);
	assert_int_equal(tls_tlsa_usable(t, 0), 0);
}

/* ---- protocol versions ------------------------------------------------------ */

static void
test_old_protocols(void **state)
{
	struct pki *p = *state;
	enum tls_policy policies[] = { TLS_MAY, TLS_ENCRYPT, TLS_VERIFY, TLS_DANE };
	int versions[] = { TLS1_VERSION, TLS1_1_VERSION };
	struct tlsa_buf ee;
	struct outcome o;

	tlsa_of(&ee, 3, 1, 1, p->good);
	for (size_t v = 0; v < 2; v++) {
		for (size_t i = 0; i < 4; i++) {
			struct server old = serving(p->good, p->leaf_key);

			old.max_version = versions[v];
			handshake(p->client, &old, HOST, policies[i], &ee.rr, 1, &o);
			expect_refused(&o, "handshake failed");
			assert_string_equal(o.facts.protocol, "");
		}
	}
}

/* The old server does speak TLS 1.1 to a client that allows it. */
static void
test_old_protocols_control(void **state)
{
	struct pki *p = *state;
	struct server old = serving(p->good, p->leaf_key);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	int sv[2];
	pthread_t t;

	assert_non_null(ctx);
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
	assert_non_null(ssl = SSL_new(ctx));
	old.max_version = TLS1_1_VERSION;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	old.fd = sv[1];
	assert_int_equal(pthread_create(&t, NULL, serve, &old), 0);
	SSL_set_fd(ssl, sv[0]);
	assert_int_equal(SSL_connect(ssl), 1);
	assert_string_equal(SSL_get_version(ssl), "TLSv1.1");
	SSL_free(ssl);
	close(sv[0]);
	assert_int_equal(pthread_join(t, NULL), 0);
	SSL_CTX_free(ctx);
}

static void
test_tls12(void **state)
{
	struct pki *p = *state;
	struct server tls12 = serving(p->good, p->leaf_key);
	struct outcome o;

	tls12.max_version = TLS1_2_VERSION;
	handshake(p->client, &tls12, HOST, TLS_VERIFY, NULL, 0, &o);
	assert_true(o.ok);
	assert_string_equal(o.facts.protocol, "TLSv1.2");
	assert_true(o.facts.cipher[0] != '\0');
	assert_true(o.facts.verified);
}

/* ---- libevent, as the SMTP session will use it ------------------------------- */

struct bev_run {
	struct event_base *base;
	enum tls_policy policy;
	bool checked, ok;
	const char *why;
	struct tls_facts facts;
	char got[16];
};

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct bev_run *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (evbuffer_get_length(in) < 7)
		return;
	evbuffer_remove(in, r->got, 7);
	event_base_loopexit(r->base, NULL);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct bev_run *r = arg;

	if (what & (BEV_EVENT_CONNECTED | BEV_EVENT_ERROR)) {
		r->checked = true;
		r->ok = tls_session_check(
		    bufferevent_openssl_get_ssl(bev), r->policy, &r->facts, &r->why);
	}
	if (!(what & BEV_EVENT_CONNECTED) || !r->ok)
		event_base_loopexit(r->base, NULL);
}

static struct bufferevent *
wrap(struct event_base *base, int fd, SSL *ssl, bool filter)
{
	struct bufferevent *plain;

	if (!filter)
		return bufferevent_openssl_socket_new(
		    base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	plain = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(plain);
	return bufferevent_openssl_filter_new(
	    base, plain, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
}

static void
bev_handshake(struct tls_client *client, struct server *srv, const char *host,
    enum tls_policy policy, bool filter, struct bev_run *r)
{
	struct timeval limit = { 10, 0 };
	struct bufferevent *bev;
	pthread_t t;
	SSL *ssl;
	int sv[2];

	memset(r, 0, sizeof(*r));
	r->policy = policy;
	assert_non_null(r->base = event_base_new());
	assert_int_equal(tls_session_new(client, host, policy, NULL, 0, &ssl, NULL), MX_OK);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	srv->fd = sv[1];
	assert_int_equal(pthread_create(&t, NULL, serve, srv), 0);
	assert_non_null(bev = wrap(r->base, sv[0], ssl, filter));
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_set_timeouts(bev, &limit, &limit);
	bufferevent_setcb(bev, on_read, NULL, on_event, r);
	assert_int_equal(bufferevent_enable(bev, EV_READ), 0);
	assert_int_equal(event_base_dispatch(r->base), 0);
	/* libevent finishes a freed bufferevent (SSL_free, close) from the
	 * loop, or here in event_base_free: only then does the server see EOF. */
	bufferevent_free(bev);
	event_base_free(r->base);
	assert_int_equal(pthread_join(t, NULL), 0);
	ERR_clear_error();
}

static void
test_libevent(void **state)
{
	struct pki *p = *state;
	struct bev_run r;

	for (int filter = 0; filter < 2; filter++) {
		struct server good = serving(p->good, p->leaf_key);

		bev_handshake(p->client, &good, HOST, TLS_VERIFY, filter, &r);
		assert_true(r.checked);
		assert_true(r.ok);
		assert_true(r.facts.verified);
		assert_string_equal(r.facts.protocol, "TLSv1.3");
		assert_memory_equal(r.got, "hello\r\n", 7);

		bev_handshake(p->client, &good, "other.send.test", TLS_VERIFY, filter, &r);
		assert_true(r.checked);
		assert_false(r.ok);
		assert_string_equal(r.why, "hostname mismatch");
		assert_non_null(strstr(r.facts.subject, "CN=" HOST));
	}
}

/* ---- arguments and names ----------------------------------------------------- */

static void
test_arguments(void **state)
{
	struct pki *p = *state;
	char long_name[MX_DOMAIN_MAX + 3];
	struct tls_client *c = (struct tls_client *)&c;
	const char *why = NULL;
	struct tls_facts f;
	SSL *ssl = (SSL *)&ssl;

	assert_int_equal(tls_client_new(NULL, NULL), MX_ERR_INVALID);
	assert_int_equal(tls_client_new(&c, "/nonexistent/ca.pem"), MX_ERR_CONFIG);
	assert_null(c);
	assert_int_equal(tls_client_new(&c, "/dev/null"), MX_ERR_CONFIG);
	assert_null(c);
	tls_client_free(NULL);

	assert_int_equal(
	    tls_session_new(p->client, HOST, TLS_MAY, NULL, 0, NULL, &why), MX_ERR_INVALID);
	assert_int_equal(tls_session_new(NULL, HOST, TLS_MAY, NULL, 0, &ssl, &why), MX_ERR_INVALID);
	assert_null(ssl);
	assert_string_equal(why, "invalid argument");
	assert_int_equal(
	    tls_session_new(p->client, NULL, TLS_MAY, NULL, 0, &ssl, NULL), MX_ERR_INVALID);
	assert_int_equal(
	    tls_session_new(p->client, "", TLS_MAY, NULL, 0, &ssl, NULL), MX_ERR_INVALID);
	assert_int_equal(
	    tls_session_new(p->client, ".", TLS_MAY, NULL, 0, &ssl, NULL), MX_ERR_INVALID);
	assert_int_equal(tls_session_new(p->client, HOST, (enum tls_policy)9, NULL, 0, &ssl, NULL),
	    MX_ERR_INVALID);
	assert_int_equal(
	    tls_session_new(p->client, HOST, TLS_DANE, NULL, 2, &ssl, NULL), MX_ERR_INVALID);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(
	    tls_session_new(p->client, long_name, TLS_MAY, NULL, 0, &ssl, NULL), MX_ERR_INVALID);
	long_name[MX_DOMAIN_MAX] = '.'; /* 253 octets and a trailing dot */
	long_name[MX_DOMAIN_MAX + 1] = '\0';
	assert_int_equal(
	    tls_session_new(p->client, long_name, TLS_MAY, NULL, 0, &ssl, NULL), MX_OK);
	SSL_free(ssl);

	assert_false(tls_session_check(NULL, TLS_MAY, &f, &why));
	assert_string_equal(why, "invalid argument");
	assert_string_equal(f.protocol, "");
	assert_int_equal(f.dane_depth, -1);
}

/* Before any handshake nothing is claimed. */
static void
test_check_before_handshake(void **state)
{
	struct pki *p = *state;
	struct tls_facts f;
	const char *why = NULL;
	SSL *ssl;

	assert_int_equal(tls_session_new(p->client, HOST, TLS_MAY, NULL, 0, &ssl, &why), MX_OK);
	assert_null(why);
	assert_false(tls_session_check(ssl, TLS_MAY, &f, &why));
	assert_string_equal(why, "TLS handshake failed");
	assert_false(f.verified);
	assert_string_equal(f.protocol, "");
	assert_string_equal(f.cipher, "");
	assert_string_equal(f.subject, "");
	assert_string_equal(f.verify_error, "no server certificate");
	assert_true(tls_session_check(ssl, TLS_MAY, NULL, NULL) == false);
	SSL_free(ssl);
}

static void
test_policy_names(void **state)
{
	(void)state;
	assert_string_equal(tls_policy_name(TLS_MAY), "may");
	assert_string_equal(tls_policy_name(TLS_ENCRYPT), "encrypt");
	assert_string_equal(tls_policy_name(TLS_VERIFY), "verify");
	assert_string_equal(tls_policy_name(TLS_DANE), "dane");
	assert_string_equal(tls_policy_name((enum tls_policy)42), "unknown");
	assert_false(tls_policy_required(TLS_MAY));
	assert_true(tls_policy_required(TLS_ENCRYPT));
	assert_true(tls_policy_required(TLS_VERIFY));
	assert_true(tls_policy_required(TLS_DANE));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unauthenticated),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_system_store),
		cmocka_unit_test(test_dane_ee),
		cmocka_unit_test(test_dane_ta),
		cmocka_unit_test(test_dane_unusable),
		cmocka_unit_test(test_tlsa_usable),
		cmocka_unit_test(test_old_protocols),
		cmocka_unit_test(test_old_protocols_control),
		cmocka_unit_test(test_tls12),
		cmocka_unit_test(test_libevent),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_check_before_handshake),
		cmocka_unit_test(test_policy_names),
	};

	/* A server thread may write to a client that has gone. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
