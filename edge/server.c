/* server.c: the libwebsockets side of the edge: the context on our own
 * (foreign) uv loop, the single protocol that serves both HTTP and
 * WebSocket on one port, dispatch of lws callbacks to conn.c / pusher.c /
 * http.c, and reassembly of fragmented inbound messages (bounded by
 * --max-message). Owns the lws context (swb_edge.lws). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "frames.h"
#include "log.h"
#include "tls.h"

/* Close now with code (from inside a RECEIVE callback). */
static int close_now(struct lws *wsi, int code, const char *reason)
{
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
	return -1;
}

static void deliver_message(swb_edge *e, swb_edge_conn *c, const char *p, size_t n, int *rc)
{
	if (!swb_edge_utf8_valid(p, n)) {
		e->st.bad_frames++;
		*rc = close_now(c->wsi, 1007, "Invalid UTF-8");
		return;
	}
	swb_edge_pusher_message(e, c, p, n);
}

/* One RECEIVE callback: a whole message, or a piece of one. */
static int ws_receive(swb_edge *e, swb_edge_conn *c, const char *in, size_t len)
{
	struct lws *wsi = c->wsi;
	bool final = lws_is_final_fragment(wsi);
	int rc = 0;
	if (lws_frame_is_binary(wsi)) {
		e->st.bad_frames++;
		return close_now(wsi, 1003, "Binary frames are not supported");
	}
	if (final) {
		c->rx_frames = 0;
	} else if (lws_remaining_packet_payload(wsi) == 0 && ++c->rx_frames > SWB_EDGE_MAX_FRAGMENTS) {
		e->st.bad_frames++;
		e->st.fragment_floods++;
		swb_debug("%s: message over %d frames, closing 1008", c->socket_id, SWB_EDGE_MAX_FRAGMENTS);
		return close_now(wsi, 1008, "Too many fragments");
	}
	if (c->rx_len + len > (size_t)e->cfg.max_message) {
		e->st.bad_frames++;
		swb_debug("%s: message over %ld bytes, closing 1009", c->socket_id, e->cfg.max_message);
		return close_now(wsi, 1009, "Message too big");
	}
	if (c->rx_len == 0 && final) {
		deliver_message(e, c, in, len, &rc); /* common case: no copy */
		return rc;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 1024;
		while (cap < c->rx_len + len)
			cap *= 2;
		if (cap > (size_t)e->cfg.max_message)
			cap = (size_t)e->cfg.max_message;
		char *p = realloc(c->rx, cap);
		if (!p)
			return close_now(wsi, 1011, "Out of memory");
		c->rx = p;
		c->rx_cap = cap;
	}
	if (len) /* an empty fragment comes with in == NULL */
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (final) {
		deliver_message(e, c, c->rx, c->rx_len, &rc);
		free(c->rx); /* idle connections keep no rx memory */
		c->rx = NULL;
		c->rx_len = c->rx_cap = 0;
	}
	return rc;
}

static int ws_callback(swb_edge *e, struct lws *wsi, int reason, swb_edge_pss *pss, void *in, size_t len)
{
	swb_edge_conn *c = pss->conn;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		if (!(c = swb_edge_conn_new(e, wsi)))
			return -1;
		pss->conn = c;
		swb_edge_pusher_established(e, c);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (!c)
			return -1;
		swb_edge_conn_activity(e, c);
		return ws_receive(e, c, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		swb_debug("%s: pong", c ? c->socket_id : "?");
		if (c)
			swb_edge_conn_activity(e, c);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* Our close frame went out already: this is the answer. */
		return (c && c->close_sent) ? -1 : 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? swb_edge_conn_writeable(e, c) : 0;
	case LWS_CALLBACK_CLOSED:
		if (c) {
			swb_edge_conn_free(e, c);
			pss->conn = NULL;
		}
		return 0;
	}
	return 0;
}

/* Mark (lws opaque user data) of a connection that sent a whole request
 * head, for the heads_dropped counter. (lws sets a new connection's opaque
 * data after LWS_CALLBACK_WSI_CREATE, and a TLS handshake that fails at
 * once ends it before SERVER_NEW_CLIENT_INSTANTIATED: so the unmarked ones
 * are counted when they go.) */
static char head_seen;

static void head_arrived(struct lws *wsi)
{
	/* (were HTTP/2 offered, a request would be a child stream of the
	 * network connection, which is the one that closes) */
	struct lws *net = lws_get_network_wsi(wsi);
	lws_set_opaque_user_data(wsi, &head_seen);
	if (net)
		lws_set_opaque_user_data(net, &head_seen);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	swb_edge *e = lws_context_user(lws_get_context(wsi));
	swb_edge_pss *pss = user;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		head_arrived(wsi);
		return pss ? ws_callback(e, wsi, (int)reason, pss, in, len) : 0;
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_RECEIVE_PONG:
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_CLOSED:
		return pss ? ws_callback(e, wsi, (int)reason, pss, in, len) : 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* A draining edge takes no new WebSockets: 503 to the upgrade
		 * (the client retries, through its load balancer, elsewhere). */
		if (e->draining || e->stopping) {
			head_arrived(wsi); /* a whole head: not a dropped one */
			lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "Server draining");
			return -1;
		}
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Not marked: the connection never sent a whole request head
		 * (slow or silent client, oversized head, failed TLS
		 * handshake, TCP probe). At shutdown the listener goes too. */
		if (lws_get_opaque_user_data(wsi) != &head_seen && !e->stopping)
			e->st.heads_dropped++;
		return 0;
	case LWS_CALLBACK_HTTP:
		head_arrived(wsi);
		return pss ? swb_edge_http_callback(e, wsi, (int)reason, pss, in, len) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
	case LWS_CALLBACK_HTTP_WRITEABLE:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		return pss ? swb_edge_http_callback(e, wsi, (int)reason, pss, in, len) : 0;
	case LWS_CALLBACK_TIMER:
		return pss ? swb_edge_http_deadline(e, pss) : 0;
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		/* --tls-ca: len is OpenSSL's preverify_ok. lws's default
		 * (the dummy callback) answers 0 = accept, whatever it is. */
		if (!len)
			swb_debug("TLS client certificate refused: not signed by --tls-ca");
		return len ? 0 : 1;
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		swb_edge_tls_set_ctx(e, user); /* user is the vhost's SSL_CTX here */
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	/* tx_packet_size: lws otherwise caps each send() at rx_buffer_size and
	 * buffers the rest, so a frame over 4 KB would take several loop turns. */
	{ "pusher", callback, sizeof(swb_edge_pss), SWB_EDGE_RX_BUFFER, 0, NULL, SWB_EDGE_TX_PACKET },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		swb_err("lws: %.*s", (int)n, line);
	else if (level & LLL_WARN)
		swb_warn("lws: %.*s", (int)n, line);
	else
		swb_debug("lws: %.*s", (int)n, line);
}

/* lws's own log goes through ours: errors and warnings always, notices
 * at debug (lws logs nothing per message at these levels). */
void swb_edge_server_log_level(swb_edge *e)
{
	int lvl = LLL_ERR | LLL_WARN;
	if (swb_log_get_level() >= SWB_LOG_DEBUG)
		lvl |= LLL_NOTICE;
	lws_set_log_level(lvl, lws_log_emit);
}

int swb_edge_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon)
		return -1;
	size_t hn = (size_t)(colon - s);
	const char *h = s;
	if (hn >= 2 && s[0] == '[' && s[hn - 1] == ']') {
		h++;
		hn -= 2;
	}
	if (hn >= hostlen)
		return -1;
	memcpy(host, h, hn);
	host[hn] = '\0';
	if (!strcmp(host, "*") || !strcmp(host, "::"))
		host[0] = '\0'; /* every address, IPv6 and IPv4 */
	else if (!strcmp(host, "localhost"))
		snprintf(host, hostlen, "127.0.0.1");
	unsigned char a[16];
	if (host[0] && inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return -1; /* lws takes an address or an interface name; we want addresses */
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || p < 1 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

int swb_edge_server_start(swb_edge *e)
{
	static char host[256];
	int port;
	if (swb_edge_parse_listen(e->cfg.listen, host, sizeof(host), &port) < 0) {
		swb_err("invalid --listen '%s': expected HOST:PORT", e->cfg.listen);
		return -1;
	}
	swb_edge_server_log_level(e);
	static void *loops[1];
	loops[0] = &e->loop;
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	/* --reuseport: lws does not listen; listen.c accepts and adopts. */
	info.port = e->cfg.reuseport ? CONTEXT_PORT_NO_LISTEN_SERVER : port;
	/* An IPv4 host needs IPv6 off, or lws 4.1 binds [::] (every address,
	 * checked with ss); "0.0.0.0" is every IPv4 address: no iface. */
	struct in_addr a4;
	bool v4 = inet_pton(AF_INET, host, &a4) == 1, any4 = !strcmp(host, "0.0.0.0");
	info.iface = (host[0] && !any4) ? host : NULL;
	info.protocols = protocols;
	info.user = e;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (v4)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = loops;
	/* --handshake-timeout bounds every stage before a request is whole:
	 * the TLS accept and each gap in a body (timeout_secs), the request
	 * head however slowly it trickles in (timeout_secs_ah_idle: lws does
	 * not restart it per byte), and the whole body (http.c's timer). */
	info.timeout_secs = (unsigned)e->cfg.handshake_timeout;
	info.timeout_secs_ah_idle = (unsigned)e->cfg.handshake_timeout;
	swb_edge_tls_vhost_info(e, &info);
	/* No lws validity timer: lws would keep one per connection in a
	 * sorted list (pt_sul_owner), and each insert walks it, O(n): at 17k
	 * connections per edge that was 29% of the edge's CPU during a
	 * connection ramp (perf: lws_dll2_add_sorted). Liveness is ours
	 * (conn.c: activity timeout, ping, pong timeout). */
	static const lws_retry_bo_t no_validity = { .secs_since_valid_ping = 0, .secs_since_valid_hangup = 0 };
	info.retry_and_idle_policy = &no_validity;
	e->lws = lws_create_context(&info);
	if (!e->lws) {
		swb_err("libwebsockets context creation failed");
		return -1;
	}
	/* The vhost is created on its own so that a failed listen is seen
	 * here (lws_create_context does not report it reliably). */
	struct lws_vhost *vh = lws_create_vhost(e->lws, &info);
	if (!vh) {
		swb_err("cannot listen on %s", e->cfg.listen);
		return -1;
	}
	if (e->cfg.reuseport && swb_edge_listener_start(e, vh, host, port) < 0)
		return -1;
	swb_info("listening on %s%s (%s /app/{key}, %s API /apps/{id}/...)", e->cfg.listen,
		 e->cfg.reuseport ? " with SO_REUSEPORT" : "", e->cfg.tls_cert ? "wss" : "WebSocket",
		 e->cfg.tls_cert ? "HTTPS" : "HTTP");
	return 0;
}

/* First stage, from inside the loop: lws closes every connection and
 * starts closing its uv handles; the loop then runs until they are gone. */
void swb_edge_server_stop(swb_edge *e)
{
	swb_edge_listener_stop(e);
	if (e->lws && !e->lws_stopping) {
		e->lws_stopping = true;
		lws_context_destroy(e->lws);
	}
}

/* Last stage, after uv_run returned: with a foreign loop lws 4.1 frees the
 * context only when lws_context_destroy is called again once its handles
 * have closed (each call advances its teardown by one stage). */
void swb_edge_server_free(swb_edge *e)
{
	if (e->lws) {
		lws_context_destroy(e->lws);
		e->lws = NULL;
	}
}
