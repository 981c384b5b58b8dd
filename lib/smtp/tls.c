/*
 * tls.c - tls_client (an OpenSSL SSL_CTX for SMTP clients), the SSL of
 * each connection set up for its policy (SNI, reference name, DANE TLSA
 * records), and the verdict on a finished handshake with the facts for
 * the log.  It never reads or writes a socket, never runs the event loop
 * and never prints; OpenSSL errors it causes itself are taken off the
 * thread's error queue so they cannot be blamed on a later call.
 * Policy decisions that need the SMTP dialogue (STARTTLS not offered,
 * cleartext retry) belong to the session code.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "why.h"

/* RFC 6698 2.1.1-2.1.3 and RFC 7218 names. */
#define TLSA_USAGE_DANE_TA 2
#define TLSA_USAGE_DANE_EE 3
#define TLSA_SELECTOR_SPKI 1
#define TLSA_MTYPE_SHA512  2
#define SHA256_LEN         32
#define SHA512_LEN         64

struct tls_client {
	SSL_CTX *ctx;
};

static void
set_why(const char **why, const char *text)
{
	if (why != NULL)
		*why = text;
}

static mx_err
load_anchors(SSL_CTX *ctx, const char *ca_file)
{
	if (ca_file == NULL)
		return SSL_CTX_set_default_verify_paths(ctx) == 1 ? MX_OK : MX_ERR_CONFIG;
	return SSL_CTX_load_verify_locations(ctx, ca_file, NULL) == 1 ? MX_OK : MX_ERR_CONFIG;
}

/*
 * SSL_OP_IGNORE_UNEXPECTED_EOF: SMTP ends itself (QUIT, 221), so a server
 * that closes without close_notify has truncated nothing; OpenSSL 3 would
 * report an error instead of end of file.
 */
static mx_err
client_init(struct tls_client *c, const char *ca_file)
{
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return MX_ERR_NOMEM;
	if (SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_dane_enable(c->ctx) <= 0)
		return MX_ERR_SYSTEM;
	SSL_CTX_set_options(
	    c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	return load_anchors(c->ctx, ca_file);
}

mx_err
tls_client_new(struct tls_client **out, const char *ca_file)
{
	struct tls_client *c;
	mx_err err;

	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MX_ERR_NOMEM;
	ERR_set_mark();
	err = client_init(c, ca_file);
	ERR_pop_to_mark();
	if (err != MX_OK) {
		tls_client_free(c);
		return err;
	}
	*out = c;
	return MX_OK;
}

void
tls_client_free(struct tls_client *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

const char *
tls_policy_name(enum tls_policy policy)
{
	switch (policy) {
	case TLS_MAY: return "may";
	case TLS_ENCRYPT: return "encrypt";
	case TLS_VERIFY: return "verify";
	case TLS_DANE: return "dane";
	}
	return "unknown";
}

bool
tls_policy_required(enum tls_policy policy)
{
	return policy != TLS_MAY;
}

static bool
valid_policy(enum tls_policy policy)
{
	return policy == TLS_MAY || policy == TLS_ENCRYPT || policy == TLS_VERIFY ||
	    policy == TLS_DANE;
}

/*
 * RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP; selectors
 * 0 (certificate) and 1 (SPKI); matching types 0 (full), 1 (SHA-256) and
 * 2 (SHA-512) with a digest of the right length.  Whether full data
 * parses is OpenSSL's to say, in add_tlsa.
 */
static bool
tlsa_usable(const struct tls_tlsa *t)
{
	if (t->usage != TLSA_USAGE_DANE_TA && t->usage != TLSA_USAGE_DANE_EE)
		return false;
	if (t->selector > TLSA_SELECTOR_SPKI || t->mtype > TLSA_MTYPE_SHA512)
		return false;
	if (t->data == NULL || t->len == 0)
		return false;
	if (t->mtype == 1)
		return t->len == SHA256_LEN;
	return t->mtype == 0 || t->len == SHA512_LEN;
}

size_t
tls_tlsa_usable(const struct tls_tlsa *tlsa, size_t n_tlsa)
{
	size_t usable = 0;

	for (size_t i = 0; tlsa != NULL && i < n_tlsa; i++)
		if (tlsa_usable(&tlsa[i]))
			usable++;
	return usable;
}

/* One trailing dot dropped; false if nothing or too much is left. */
static bool
copy_host(char out[static MX_DOMAIN_MAX + 1], const char *host)
{
	size_t len;

	if (host == NULL)
		return false;
	len = strlen(host);
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len > MX_DOMAIN_MAX)
		return false;
	memcpy(out, host, len);
	out[len] = '\0';
	return true;
}

/*
 * verify fails the handshake on a bad certificate; may and encrypt let it
 * finish, but OpenSSL still verifies, so facts can say whether it would
 * have succeeded, name included.
 */
static mx_err
setup_pkix(SSL *ssl, const char *host, enum tls_policy policy)
{
	if (SSL_set1_host(ssl, host) != 1)
		return MX_ERR_NOMEM;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set_verify(ssl, policy == TLS_VERIFY ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return MX_OK;
}

/* 1: added; 0: unusable or malformed (OpenSSL's complaint dropped). */
static int
add_tlsa(SSL *ssl, const struct tls_tlsa *t)
{
	int added;

	if (!tlsa_usable(t))
		return 0;
	ERR_set_mark();
	added = SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len);
	ERR_pop_to_mark();
	return added > 0;
}

/*
 * The base domain is the MX host name, and so the reference name for
 * DANE-TA chains (RFC 7672 3.2); DANE-EE matches skip names and, in
 * OpenSSL, dates (RFC 7672 3.1.1).  Without a usable record OpenSSL would
 * quietly fall back to the CA store, so that is refused here.
 */
static mx_err
setup_dane(SSL *ssl, const char *host, const struct tls_tlsa *tlsa, size_t n_tlsa, const char **why)
{
	size_t added = 0;

	if (SSL_dane_enable(ssl, host) <= 0) {
		set_why(why, "OpenSSL could not enable DANE");
		return MX_ERR_SYSTEM;
	}
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	for (size_t i = 0; i < n_tlsa; i++)
		added += (size_t)add_tlsa(ssl, &tlsa[i]);
	if (added == 0) {
		set_why(why,
		    "no usable TLSA records (only PKIX usages, unknown "
		    "parameters or malformed data): DANE cannot authenticate the server");
		return MX_ERR_SYSTEM;
	}
	return MX_OK;
}

static mx_err
session_setup(SSL *ssl, const char *host, enum tls_policy policy, const struct tls_tlsa *tlsa,
    size_t n_tlsa, const char **why)
{
	if (SSL_set_tlsext_host_name(ssl, host) != 1) {
		set_why(why, "out of memory");
		return MX_ERR_NOMEM;
	}
	if (policy == TLS_DANE)
		return setup_dane(ssl, host, tlsa, n_tlsa, why);
	set_why(why, "out of memory");
	return setup_pkix(ssl, host, policy);
}

mx_err
tls_session_new(struct tls_client *c, const char *host, enum tls_policy policy,
    const struct tls_tlsa *tlsa, size_t n_tlsa, SSL **out, const char **why)
{
	char name[MX_DOMAIN_MAX + 1];
	SSL *ssl;
	mx_err err;

	set_why(why, "invalid argument");
	if (out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if (c == NULL || !valid_policy(policy) || !copy_host(name, host) ||
	    (tlsa == NULL && n_tlsa > 0))
		return MX_ERR_INVALID;
	set_why(why, "out of memory");
	if ((ssl = SSL_new(c->ctx)) == NULL)
		return MX_ERR_NOMEM;
	ERR_set_mark();
	err = session_setup(ssl, name, policy, tlsa, n_tlsa, why);
	ERR_pop_to_mark();
	if (err != MX_OK) {
		SSL_free(ssl);
		return err;
	}
	set_why(why, NULL);
	*out = ssl;
	return MX_OK;
}

static void
name_text(char out[static TLS_NAME_MAX], const X509_NAME *name)
{
	out[0] = '\0';
	if (name != NULL && X509_NAME_oneline(name, out, TLS_NAME_MAX) == NULL)
		out[0] = '\0';
}

static void
dane_facts(SSL *ssl, struct tls_facts *f)
{
	uint8_t usage, selector, mtype;

	f->dane_depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, NULL, NULL);
	if (f->dane_depth < 0) {
		f->dane_depth = -1;
		return;
	}
	f->dane_usage = usage;
	f->dane_selector = selector;
	f->dane_mtype = mtype;
}

/* X509_V_OK is also what SSL_get_verify_result says before any check. */
static void
verify_facts(SSL *ssl, struct tls_facts *f)
{
	long result = SSL_get_verify_result(ssl);
	bool peer = SSL_get0_peer_certificate(ssl) != NULL;

	f->verified = peer && result == X509_V_OK;
	if (result != X509_V_OK)
		f->verify_error = X509_verify_cert_error_string(result);
	else if (!peer)
		f->verify_error = "no server certificate";
}

X509 *
tls_peer_leaf(SSL *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) * chain;

	if (peer != NULL)
		return peer;
	chain = SSL_get_peer_cert_chain(ssl);
	return chain != NULL && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
}

static void
facts_clear(struct tls_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->protocol = "";
	f->cipher = "";
	f->verify_error = "";
	f->dane_depth = f->dane_usage = f->dane_selector = f->dane_mtype = -1;
}

static void
fill_facts(SSL *ssl, struct tls_facts *f)
{
	const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
	X509 *leaf = tls_peer_leaf(ssl);

	facts_clear(f);
	if (SSL_is_init_finished(ssl)) {
		f->protocol = SSL_get_version(ssl);
		f->cipher = cipher != NULL ? SSL_CIPHER_get_name(cipher) : "";
		f->cipher_bits = cipher != NULL ? SSL_CIPHER_get_bits(cipher, NULL) : 0;
	}
	if (leaf != NULL) {
		name_text(f->subject, X509_get_subject_name(leaf));
		name_text(f->issuer, X509_get_issuer_name(leaf));
	}
	verify_facts(ssl, f);
	dane_facts(ssl, f);
}

/* DANE also needs a TLSA match: never a CA store's word alone. */
static bool
judge(SSL *ssl, enum tls_policy policy, const struct tls_facts *f, const char **why)
{
	if (!SSL_is_init_finished(ssl)) {
		set_why(why,
		    SSL_get_verify_result(ssl) != X509_V_OK ? f->verify_error
							    : "TLS handshake failed");
		return false;
	}
	if (SSL_version(ssl) < TLS1_2_VERSION) {
		set_why(why, "TLS version below 1.2");
		return false;
	}
	if (policy == TLS_MAY || policy == TLS_ENCRYPT)
		return true;
	if (!f->verified) {
		set_why(why, f->verify_error);
		return false;
	}
	if (policy == TLS_DANE && f->dane_depth < 0) {
		set_why(why, "no TLSA record matched the server's certificate chain");
		return false;
	}
	return true;
}

bool
tls_session_check(SSL *ssl, enum tls_policy policy, struct tls_facts *facts, const char **why)
{
	struct tls_facts local = { 0 };
	struct tls_facts *f = facts != NULL ? facts : &local;

	set_why(why, NULL);
	if (ssl == NULL || !valid_policy(policy)) {
		facts_clear(f);
		set_why(why, "invalid argument");
		return false;
	}
	fill_facts(ssl, f);
	return judge(ssl, policy, f, why);
}

mx_err
tls_client_why(mx_err err, const char *ca_file, mx_why *why)
{
	if (err == MX_ERR_CONFIG)
		return why_set(why, err,
		    "CA file %s: cannot be read, or holds no PEM "
		    "certificate that OpenSSL can read",
		    ca_file ? ca_file : "(system store)");
	return why_set(why, err, "OpenSSL could not set up TLS: %s", mx_strerror(err));
}
