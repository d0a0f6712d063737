/* tls.h: TLS on the edge listener (tls.c): --tls-cert / --tls-key /
 * --tls-ca checked at start-up, handed to lws for the vhost, and swapped
 * in place on SIGHUP without touching live connections. */
#ifndef SWB_EDGE_TLS_H
#define SWB_EDGE_TLS_H

#include <stddef.h>

#include <libwebsockets.h>

struct swb_edge;

/* Load and cross-check the files (certificate chain, matching unencrypted
 * private key, CA bundle if ca != NULL) without keeping anything. 0, or -1
 * with a one-line reason in err. */
int swb_edge_tls_check(const char *cert, const char *key, const char *ca, char *err, size_t errlen);
/* Fill the vhost's TLS fields and options (no-op without --tls-cert). */
void swb_edge_tls_vhost_info(struct swb_edge *e, struct lws_context_creation_info *info);
/* The vhost's SSL_CTX, from LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS. */
void swb_edge_tls_set_ctx(struct swb_edge *e, void *ssl_ctx);
/* Re-read the certificate, key (and CA) files and switch new handshakes to
 * them; connections already open keep their session. Nothing changes when
 * a file is unreadable or the pair does not match (logged, counted).
 * 0 = reloaded, 1 = TLS not enabled, -1 = refused (old files stay). */
int swb_edge_tls_reload(struct swb_edge *e);

#endif
