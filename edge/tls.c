/* tls.c: TLS for WebSocket and HTTP on the edge listener.
 *
 * --tls-cert (PEM chain, leaf first), --tls-key (PEM, unencrypted) and the
 * optional --tls-ca (PEM bundle: clients must then present a certificate
 * signed by it) are read and cross-checked here at start-up, so a bad file
 * is a clear exit 2 before lws ever sees it; lws then loads the same files
 * into the vhost's SSL_CTX.
 *
 * Reload (SIGHUP -> swb_edge_tls_reload): lws 4.1.6 has
 * lws_tls_cert_updated(), but it loads the certificate and the key into
 * the live SSL_CTX one after the other and reports no failure (it always
 * returns 0), so a bad key file leaves the context with the new
 * certificate and no usable key: every later handshake fails. Re-creating
 * the vhost is no better: its listening socket and every connection go
 * with it. So this file keeps the SSL_CTX lws made (captured from
 * LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS), reads the new
 * files completely into memory first, checks that the key matches the
 * certificate, and only then installs certificate, chain and key in one go
 * on the loop thread, so no handshake sees a half-updated context.
 * OpenSSL copies the certificate set into each SSL at accept, so open
 * connections keep theirs. A change of key type (RSA <-> EC) is refused:
 * an SSL_CTX holds one certificate per key type and OpenSSL has no call
 * to remove one, so the old certificate would still be offered to some
 * clients; that change needs a restart. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "edge.h"
#include "log.h"

typedef struct tls_material {
	X509 *leaf;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
	X509_STORE *ca;                /* NULL without --tls-ca */
	STACK_OF(X509_NAME) *ca_names;
} tls_material;

static void material_free(tls_material *m)
{
	X509_free(m->leaf);
	sk_X509_pop_free(m->chain, X509_free);
	EVP_PKEY_free(m->key);
	X509_STORE_free(m->ca);
	sk_X509_NAME_pop_free(m->ca_names, X509_NAME_free);
	memset(m, 0, sizeof(*m));
}

/* An encrypted key must fail, never prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static const char *ssl_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *r = code ? ERR_reason_error_string(code) : NULL;
	return r ? r : "no PEM data";
}

static BIO *open_file(const char *what, const char *path, char *err, size_t errlen)
{
	errno = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(errno ? errno : EIO));
		return NULL;
	}
	BIO *b = BIO_new_fp(f, BIO_CLOSE);
	if (!b) {
		fclose(f);
		snprintf(err, errlen, "cannot read %s '%s': out of memory", what, path);
	}
	return b;
}

static int load_chain(tls_material *m, const char *path, char *err, size_t errlen)
{
	BIO *b = open_file("--tls-cert", path, err, errlen);
	if (!b)
		return -1;
	m->leaf = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL);
	m->chain = sk_X509_new_null();
	X509 *x;
	while (m->leaf && m->chain && (x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)))
		if (!sk_X509_push(m->chain, x))
			X509_free(x);
	BIO_free(b);
	if (!m->leaf || !m->chain) {
		snprintf(err, errlen, "--tls-cert '%s' holds no PEM certificate (%s)", path, ssl_reason());
		return -1;
	}
	ERR_clear_error(); /* the end of the file reads as an error */
	return 0;
}

static int load_key(tls_material *m, const char *path, char *err, size_t errlen)
{
	BIO *b = open_file("--tls-key", path, err, errlen);
	if (!b)
		return -1;
	m->key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (!m->key) {
		snprintf(err, errlen, "--tls-key '%s' holds no unencrypted PEM private key (%s)", path, ssl_reason());
		return -1;
	}
	if (X509_check_private_key(m->leaf, m->key) != 1) {
		snprintf(err, errlen, "--tls-key '%s' does not match the certificate in --tls-cert", path);
		return -1;
	}
	return 0;
}

static int load_ca(tls_material *m, const char *path, char *err, size_t errlen)
{
	BIO *b = open_file("--tls-ca", path, err, errlen); /* for the errno message */
	if (!b)
		return -1;
	BIO_free(b);
	m->ca = X509_STORE_new();
	m->ca_names = SSL_load_client_CA_file(path);
	if (!m->ca || X509_STORE_load_file(m->ca, path) != 1 || !m->ca_names) {
		snprintf(err, errlen, "--tls-ca '%s' holds no PEM CA certificate (%s)", path, ssl_reason());
		return -1;
	}
	return 0;
}

static int material_load(tls_material *m, const char *cert, const char *key, const char *ca, char *err,
			 size_t errlen)
{
	memset(m, 0, sizeof(*m));
	int rc = load_chain(m, cert, err, errlen);
	if (rc == 0)
		rc = load_key(m, key, err, errlen);
	if (rc == 0 && ca)
		rc = load_ca(m, ca, err, errlen);
	if (rc < 0)
		material_free(m);
	ERR_clear_error();
	return rc;
}

int swb_edge_tls_check(const char *cert, const char *key, const char *ca, char *err, size_t errlen)
{
	if (!cert != !key) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		return -1;
	}
	if (ca && !cert) {
		snprintf(err, errlen, "--tls-ca needs --tls-cert and --tls-key");
		return -1;
	}
	if (!cert)
		return 0;
	tls_material m;
	if (material_load(&m, cert, key, ca, err, errlen) < 0)
		return -1;
	material_free(&m);
	return 0;
}

void swb_edge_tls_vhost_info(swb_edge *e, struct lws_context_creation_info *info)
{
	if (!e->cfg.tls_cert)
		return;
	info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info->ssl_cert_filepath = e->cfg.tls_cert;
	info->ssl_private_key_filepath = e->cfg.tls_key;
	/* HTTP/1.1 only: lws would offer h2 by ALPN, and the edge (WebSocket
	 * upgrades, the API, the per-connection limits) is built and tested
	 * on HTTP/1.1 connections. */
	info->alpn = "http/1.1";
	if (e->cfg.tls_ca) {
		info->ssl_ca_filepath = e->cfg.tls_ca;
		info->options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
	}
}

void swb_edge_tls_set_ctx(swb_edge *e, void *ssl_ctx)
{
	e->tls_ctx = ssl_ctx;
}

/* Everything checked: install in one go (no handshake runs meanwhile: we
 * are on the loop thread). The SSL_CTX takes its own references. */
static int material_install(SSL_CTX *ctx, tls_material *m)
{
	if (SSL_CTX_use_certificate(ctx, m->leaf) != 1 || SSL_CTX_clear_chain_certs(ctx) != 1)
		return -1;
	for (int i = 0; i < sk_X509_num(m->chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(m->chain, i)) != 1)
			return -1;
	if (SSL_CTX_use_PrivateKey(ctx, m->key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		return -1;
	if (m->ca) {
		SSL_CTX_set_cert_store(ctx, m->ca); /* owned by ctx from here */
		SSL_CTX_set_client_CA_list(ctx, m->ca_names);
		m->ca = NULL;
		m->ca_names = NULL;
	}
	return 0;
}

static const char *key_type(int id)
{
	return id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_ED25519 ? "Ed25519" : "other";
}

int swb_edge_tls_reload(swb_edge *e)
{
	char err[512];
	tls_material m;
	SSL_CTX *ctx = e->tls_ctx;
	if (!e->cfg.tls_cert || !ctx)
		return 1;
	if (material_load(&m, e->cfg.tls_cert, e->cfg.tls_key, e->cfg.tls_ca, err, sizeof(err)) < 0) {
		e->st.tls_reload_failures++;
		swb_err("TLS reload refused, still serving the previous certificate: %s", err);
		return -1;
	}
	EVP_PKEY *cur = SSL_CTX_get0_privatekey(ctx);
	int was = cur ? EVP_PKEY_get_base_id(cur) : 0, now = EVP_PKEY_get_base_id(m.key);
	int rc = 0;
	if (cur && was != now) {
		swb_err("TLS reload refused, still serving the previous certificate: the key type changed (%s -> %s); "
			"restart the edge to switch key types", key_type(was), key_type(now));
		rc = -1;
	} else if (material_install(ctx, &m) < 0) {
		swb_err("TLS reload failed while installing the new certificate (%s)", ssl_reason());
		rc = -1;
	}
	material_free(&m);
	ERR_clear_error();
	if (rc < 0) {
		e->st.tls_reload_failures++;
		return -1;
	}
	e->st.tls_reloads++;
	swb_info("TLS certificate reloaded from %s (new handshakes use it; open connections keep theirs)",
		 e->cfg.tls_cert);
	return 0;
}
