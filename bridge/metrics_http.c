/* metrics_http.c: the bridge's --metrics-listen HOST:PORT, a minimal HTTP/1.x
 * responder on the bridge's libuv loop that serves GET /metrics (the
 * Prometheus text of metrics.c) and nothing else.
 *
 * One request per connection (Connection: close). Hostile clients are
 * bounded: a request head larger than MH_REQ_MAX gets 431, a connection
 * that has not sent a whole head within MH_TIMEOUT_MS is closed (slowloris),
 * at most MH_CONNS_MAX connections at once (more are closed at accept).
 * Other paths: 404; other methods: 405; a malformed request line: 400.
 * Owns the listener and every connection; all freed in stop(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "log.h"

#define MH_REQ_MAX 8192
#define MH_CONNS_MAX 64
#define MH_TIMEOUT_MS 5000

typedef struct mh_conn mh_conn;
typedef struct swb_bridge_mhttp {
	swb_bridge *b;
	uv_tcp_t listener;
	mh_conn *conns; /* doubly linked */
	size_t n;
} swb_bridge_mhttp;

struct mh_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sh;
	swb_bridge_mhttp *srv;
	char buf[MH_REQ_MAX];
	size_t len;
	char *resp; /* owned while being written */
	bool responded;
	int open;   /* handles not yet closed */
	mh_conn *prev, *next;
};

static void on_conn_closed(uv_handle_t *h)
{
	mh_conn *c = h->data;
	if (--c->open == 0) {
		free(c->resp);
		free(c);
	}
}

static void conn_close(mh_conn *c)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	swb_bridge_mhttp *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n--;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *r, int status) {}

/* Lingering close: send FIN, then read and discard until the client
 * closes or the connection timer fires. Closing with unread input (e.g.
 * the rest of a head refused with 431) makes the kernel send a RST, and
 * the client may never see the response. */
static void on_written(uv_write_t *w, int status)
{
	mh_conn *c = w->data;
	if (status < 0 || uv_shutdown(&c->sh, (uv_stream_t *)&c->tcp, on_shutdown) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

static void respond(mh_conn *c, int status, const char *reason, const char *ctype, const char *body, size_t blen,
		    const char *extra)
{
	c->responded = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	char head[256];
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
			  status, reason, ctype, blen, extra ? extra : "");
	c->resp = malloc((size_t)hl + blen);
	if (!c->resp) {
		conn_close(c);
		return;
	}
	memcpy(c->resp, head, (size_t)hl);
	memcpy(c->resp + hl, body, blen);
	uv_buf_t buf = uv_buf_init(c->resp, (unsigned)((size_t)hl + blen));
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
		conn_close(c);
}

static void respond_text(mh_conn *c, int status, const char *reason, const char *msg, const char *extra)
{
	respond(c, status, reason, "text/plain; charset=utf-8", msg, strlen(msg), extra);
}

static void serve_metrics(mh_conn *c, bool head)
{
	size_t len = 0;
	char *text = swb_bridge_metrics_render(c->srv->b, &len);
	if (!text) {
		respond_text(c, 500, "Internal Server Error", "out of memory\n", NULL);
		return;
	}
	respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, head ? 0 : len, NULL);
	free(text);
}

/* The head is complete: "METHOD SP TARGET SP HTTP/1.x". */
static void handle_head(mh_conn *c)
{
	char method[16], target[1024], version[16];
	char *eol = memchr(c->buf, '\n', c->len);
	size_t n = (size_t)(eol - c->buf);
	char line[1100];
	if (n >= sizeof(line) - 1) {
		respond_text(c, 414, "URI Too Long", "request line too long\n", NULL);
		return;
	}
	memcpy(line, c->buf, n);
	line[n] = '\0';
	if (n && line[n - 1] == '\r')
		line[n - 1] = '\0';
	if (sscanf(line, "%15s %1023s %15s", method, target, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0) {
		respond_text(c, 400, "Bad Request", "malformed request line\n", NULL);
		return;
	}
	char *q = strchr(target, '?');
	if (q)
		*q = '\0';
	bool get = !strcmp(method, "GET"), head = !strcmp(method, "HEAD");
	if (strcmp(target, "/metrics") != 0)
		respond_text(c, 404, "Not Found", "not found: only /metrics is served here\n", NULL);
	else if (!get && !head)
		respond_text(c, 405, "Method Not Allowed", "method not allowed: use GET\n", "Allow: GET, HEAD\r\n");
	else
		serve_metrics(c, head);
}

static bool head_complete(const mh_conn *c)
{
	for (size_t i = 0; i + 1 < c->len; i++)
		if (c->buf[i] == '\n' && (c->buf[i + 1] == '\n' || (c->buf[i + 1] == '\r' && i + 2 < c->len &&
								      c->buf[i + 2] == '\n')))
			return true;
	return false;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	mh_conn *c = h->data;
	if (c->responded)
		c->len = 0; /* lingering: whatever comes is discarded */
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(MH_REQ_MAX - c->len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	mh_conn *c = st->data;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (c->responded)
		return;
	c->len += (size_t)nread;
	if (head_complete(c))
		handle_head(c);
	else if (c->len >= MH_REQ_MAX)
		respond_text(c, 431, "Request Header Fields Too Large", "request head too large\n", NULL);
}

static void on_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_connection(uv_stream_t *l, int status)
{
	swb_bridge_mhttp *s = l->data;
	if (status < 0)
		return;
	mh_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = s;
	uv_tcp_init(l->loop, &c->tcp);
	uv_timer_init(l->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open = 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || s->n > MH_CONNS_MAX) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, MH_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* HOST:PORT or [V6]:PORT; HOST an IP address, localhost or *. */
static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -1;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 1 || port > 65535)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -1;
	}
	const char *h = !strcmp(host, "localhost") ? "127.0.0.1" : !strcmp(host, "*") ? "0.0.0.0" : host;
	return uv_ip4_addr(h, (int)port, (struct sockaddr_in *)ss) == 0 ? 0 : -1;
}

int swb_bridge_mhttp_valid(const char *listen)
{
	struct sockaddr_storage ss;
	return parse_addr(listen, &ss);
}

int swb_bridge_mhttp_start(swb_bridge *b, const char *listen)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (parse_addr(listen, &ss) < 0) {
		swb_err("invalid --metrics-listen '%s' (HOST:PORT)", listen);
		return -1;
	}
	swb_bridge_mhttp *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->b = b;
	b->mhttp = s;
	uv_tcp_init(b->loop, &s->listener);
	s->listener.data = s;
	int rv;
	if ((rv = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&s->listener, 64, on_connection)) != 0) {
		swb_err("cannot listen for metrics on %s: %s", listen, uv_strerror(rv));
		return -1;
	}
	swb_info("serving metrics on http://%s/metrics", listen);
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	free(h->data);
}

void swb_bridge_mhttp_stop(swb_bridge *b)
{
	swb_bridge_mhttp *s = b->mhttp;
	if (!s)
		return;
	b->mhttp = NULL;
	while (s->conns)
		conn_close(s->conns);
	uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
