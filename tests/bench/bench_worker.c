/* bench_worker.c: one subscriber process of swb-bench. It owns the client
 * connections [lo, hi): opens them (bounded rate and handshakes in flight,
 * source addresses spread over loopback), does the WebSocket upgrade and the
 * Pusher handshake (connection_established -> subscribe ->
 * subscription_succeeded), then records every delivery of the bench event:
 * latency from the publish timestamp in the payload, duplicates through a
 * per-connection sequence window. It reports to its parent over ctrl (see
 * bench.h) and answers pings (WebSocket and pusher:ping) meanwhile.
 * Everything runs on one level-triggered epoll loop. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_seq.h"
#include "bench_ws.h"

enum { CS_IDLE = 0, CS_CONNECTING, CS_UPGRADING, CS_WAIT_EST, CS_SUBSCRIBING, CS_READY, CS_CLOSED, CS_FAILED };

#define CTRL_TAG UINT64_MAX
#define MAX_FRAME (16u << 20)
#define RX_KEEP 4096 /* partial-frame buffers above this are freed once empty */

typedef struct wconn {
	int fd;
	uint8_t state;
	bool want_out;
	uint32_t id; /* global connection index */
	uint64_t t_start;
	uint8_t *rx;
	uint32_t rx_len, rx_cap;
	uint8_t *tx;
	uint32_t tx_len, tx_off;
	swb_ws_asm *as; /* only while a fragmented message is being reassembled */
	swb_seqwin win;
} wconn;

typedef struct worker {
	const bench_cfg *c;
	uint32_t lo, n;
	wconn *conns;
	int ep, ctrl;
	uint32_t next, inflight, max_inflight;
	uint32_t setup_scan; /* conns below this index are out of setup (check_timeouts) */
	double rate;
	uint64_t rng, salt;
	uint32_t *subs;
	bench_setup_rep setup;
	bool setup_sent;
	bench_step_rep *steps[BENCH_MAX_STEPS + 1];
	bool reported[BENCH_MAX_STEPS + 1];
	bench_final_rep fin;
	uint64_t now;
	char upgrade_tail[256];
	uint8_t rbuf[65536];
} worker;

static uint64_t rnd64(worker *w)
{
	uint64_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return w->rng = x;
}

static void set_err(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *dst, size_t cap, const char *fmt, ...)
{
	if (dst[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n) {
		ssize_t r = write(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(3); /* parent gone */
		b += r;
		n -= (size_t)r;
	}
}

static void send_msg(worker *w, uint32_t type, uint32_t step, const void *body, size_t blen, const void *extra,
		     size_t elen)
{
	bench_msg_hdr h = { type, step, elen };
	write_all(w->ctrl, &h, sizeof(h));
	write_all(w->ctrl, body, blen);
	if (elen)
		write_all(w->ctrl, extra, elen);
}

static void ws_key_for(worker *w, uint32_t id, char key[25])
{
	uint8_t r[16];
	uint64_t a = w->salt ^ (0x9e3779b97f4a7c15ull * (id + 1)), b = a * 0xbf58476d1ce4e5b9ull + id;
	memcpy(r, &a, 8);
	memcpy(r + 8, &b, 8);
	swb_ws_key(r, key);
}

static void epoll_mod(worker *w, wconn *k, bool out)
{
	if (k->want_out == out)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u64 = (uint64_t)(k - w->conns) };
	epoll_ctl(w->ep, EPOLL_CTL_MOD, k->fd, &ev);
	k->want_out = out;
}

static bool in_setup(const wconn *k)
{
	return k->state >= CS_CONNECTING && k->state <= CS_SUBSCRIBING;
}

static void conn_close(worker *w, wconn *k, uint8_t state)
{
	if (in_setup(k))
		w->inflight--;
	if (k->fd >= 0) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, k->fd, NULL);
		close(k->fd);
	}
	k->fd = -1;
	k->state = state;
	free(k->rx);
	free(k->tx);
	k->rx = k->tx = NULL;
	k->rx_len = k->rx_cap = k->tx_len = k->tx_off = 0;
	if (k->as) {
		swb_ws_asm_free(k->as);
		free(k->as);
		k->as = NULL;
	}
}

/* A connection that did not make it through setup. */
static void conn_fail(worker *w, wconn *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void conn_fail(worker *w, wconn *k, const char *fmt, ...)
{
	if (!w->setup.first_error[0]) {
		char msg[120];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		int n = snprintf(w->setup.first_error, sizeof(w->setup.first_error), "connection %u to %s: %s",
				 k->id, w->c->targets[k->id % w->c->ntargets].hostport, msg);
		(void)n; /* a long message is cut; that is fine for a report */
	}
	w->setup.failed++;
	conn_close(w, k, CS_FAILED);
}

/* A subscribed connection that went away. */
static void conn_lost(worker *w, wconn *k, const char *why)
{
	w->fin.disconnects++;
	set_err(w->fin.first_error, sizeof(w->fin.first_error), "connection %u: %s", k->id, why);
	conn_close(w, k, CS_CLOSED);
}

static void conn_drop(worker *w, wconn *k, const char *why)
{
	if (in_setup(k))
		conn_fail(w, k, "%s", why);
	else
		conn_lost(w, k, why);
}

/* Write what is queued; false if the connection was dropped. */
static bool conn_flush(worker *w, wconn *k)
{
	while (k->tx_off < k->tx_len) {
		ssize_t r = write(k->fd, k->tx + k->tx_off, k->tx_len - k->tx_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			epoll_mod(w, k, true);
			return true;
		}
		if (r <= 0) {
			char why[80];
			snprintf(why, sizeof(why), "write: %s", r < 0 ? strerror(errno) : "closed");
			conn_drop(w, k, why);
			return false;
		}
		k->tx_off += (uint32_t)r;
	}
	k->tx_off = k->tx_len = 0;
	free(k->tx);
	k->tx = NULL;
	if (k->state != CS_CONNECTING)
		epoll_mod(w, k, false);
	return true;
}

static bool conn_send(worker *w, wconn *k, const void *data, size_t len)
{
	if (k->tx_len == 0) {
		ssize_t r;
		do
			r = write(k->fd, data, len);
		while (r < 0 && errno == EINTR);
		if (r == (ssize_t)len)
			return true;
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			char why[80];
			snprintf(why, sizeof(why), "write: %s", strerror(errno));
			conn_drop(w, k, why);
			return false;
		}
		if (r < 0)
			r = 0;
		data = (const char *)data + r;
		len -= (size_t)r;
	}
	uint8_t *t = realloc(k->tx, k->tx_len + len);
	if (!t) {
		conn_drop(w, k, "out of memory");
		return false;
	}
	memcpy(t + k->tx_len, data, len);
	k->tx = t;
	k->tx_len += (uint32_t)len;
	epoll_mod(w, k, true);
	return true;
}

static bool send_frame(worker *w, wconn *k, int op, const void *p, size_t len)
{
	uint8_t buf[1024];
	size_t n = swb_ws_build(buf, sizeof(buf), op, p, len, (uint32_t)rnd64(w));
	if (!n) {
		conn_drop(w, k, "frame to send too large");
		return false;
	}
	return conn_send(w, k, buf, n);
}

static bool send_text(worker *w, wconn *k, const char *s)
{
	return send_frame(w, k, SWB_WS_TEXT, s, strlen(s));
}

static void on_connected(worker *w, wconn *k)
{
	const bench_cfg *c = w->c;
	char key[25], req[1024];
	ws_key_for(w, k->id, key);
	int n = snprintf(req, sizeof(req),
			 "GET /app/%s?protocol=7&client=swb-bench&version=%s&flash=false HTTP/1.1\r\n"
			 "Host: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
			 c->app_key, SWB_VERSION, c->targets[k->id % c->ntargets].hostport, key);
	w->setup.tcp_connected++;
	k->state = CS_UPGRADING;
	if (conn_send(w, k, req, (size_t)n))
		epoll_mod(w, k, k->tx_len > 0);
}

static void start_conn(worker *w, wconn *k)
{
	const bench_cfg *c = w->c;
	k->t_start = bench_now_ns();
	if (!w->setup.t_first_ns)
		w->setup.t_first_ns = k->t_start;
	k->state = CS_CONNECTING;
	w->inflight++;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_fail(w, k, "socket: %s", strerror(errno));
		return;
	}
	k->fd = fd;
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in src = { .sin_family = AF_INET };
	src.sin_addr.s_addr = htonl(c->source_base_ip + k->id % (uint32_t)c->source_ips);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		conn_fail(w, k, "bind to a source address: %s", strerror(errno));
		return;
	}
	const bench_target *t = &c->targets[k->id % c->ntargets];
	int r = connect(fd, (const struct sockaddr *)&t->addr, sizeof(t->addr));
	if (r < 0 && errno != EINPROGRESS) {
		conn_fail(w, k, "connect: %s", strerror(errno));
		return;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)(k - w->conns) };
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		k->fd = fd;
		conn_fail(w, k, "epoll: %s", strerror(errno));
		return;
	}
	k->want_out = true;
	if (r == 0)
		on_connected(w, k);
}

static bench_step_rep *step_rep(worker *w, uint32_t step)
{
	if (!w->steps[step]) {
		w->steps[step] = calloc(1, sizeof(bench_step_rep));
		if (!w->steps[step])
			_exit(3);
		swb_hist_init(&w->steps[step]->lat);
	}
	return w->steps[step];
}

/* Parse a decimal number at *p (bounded by end), advance past one ':'. */
static bool num_field(const char **p, const char *end, uint64_t *out, char term)
{
	const char *s = *p;
	uint64_t v = 0;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	if (s >= end || *s != term)
		return false;
	*p = s + 1;
	*out = v;
	return true;
}

/* data is "b:STEP:CHANNEL:SEQ:SENT_NS:padding" */
static void on_delivery(worker *w, wconn *k, const char *msg, size_t len)
{
	static const char tag[] = "\"data\":\"b:";
	const char *end = msg + len;
	const char *d = memmem(msg, len, tag, sizeof(tag) - 1);
	uint64_t step, ch, seq, ts;
	if (!d) {
		step_rep(w, 0)->bad_payload++;
		return;
	}
	d += sizeof(tag) - 1;
	if (!num_field(&d, end, &step, ':') || step > BENCH_MAX_STEPS || !num_field(&d, end, &ch, ':') ||
	    !num_field(&d, end, &seq, ':') || !num_field(&d, end, &ts, ':')) {
		step_rep(w, 0)->bad_payload++;
		return;
	}
	if (w->reported[step]) {
		w->fin.late++;
		return;
	}
	bench_step_rep *st = step_rep(w, (uint32_t)step);
	if (ch != bench_channel_of(w->c, k->id)) {
		st->wrong_channel++;
		return;
	}
	if (swb_seqwin_see(&k->win, (uint32_t)seq) != SWB_SEQ_NEW) {
		st->duplicates++;
		return;
	}
	st->received++;
	swb_hist_add(&st->lat, w->now > ts ? w->now - ts : 0);
	if (w->now > st->t_last_ns)
		st->t_last_ns = w->now;
}

static void subscribed(worker *w, wconn *k)
{
	k->state = CS_READY;
	w->inflight--;
	w->setup.subscribed++;
	w->subs[bench_channel_of(w->c, k->id)]++;
	w->setup.t_last_ns = w->now;
	swb_hist_add(&w->setup.handshake, w->now - k->t_start);
}

static bool event_is(const char *ev, size_t evl, const char *name)
{
	return evl == strlen(name) && !memcmp(ev, name, evl);
}

/* One complete text message. false if the connection was dropped. */
static bool on_message(worker *w, wconn *k, const char *msg, size_t len)
{
	static const char key[] = "\"event\":\"";
	const char *ev = memmem(msg, len < 64 ? len : 64, key, sizeof(key) - 1);
	if (!ev) {
		w->fin.other_events++;
		return true;
	}
	ev += sizeof(key) - 1;
	const char *q = memchr(ev, '"', (size_t)(msg + len - ev));
	if (!q) {
		w->fin.other_events++;
		return true;
	}
	size_t evl = (size_t)(q - ev);
	if (event_is(ev, evl, BENCH_EVENT)) {
		if (k->state == CS_READY)
			on_delivery(w, k, msg, len);
		return true;
	}
	if (event_is(ev, evl, "pusher:connection_established")) {
		if (k->state != CS_WAIT_EST)
			return true;
		char chname[256], sub[400];
		bench_channel_name(w->c, bench_channel_of(w->c, k->id), chname, sizeof(chname));
		snprintf(sub, sizeof(sub),
			 "{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"\",\"channel\":\"%s\"}}", chname);
		k->state = CS_SUBSCRIBING;
		return send_text(w, k, sub);
	}
	if (event_is(ev, evl, "pusher_internal:subscription_succeeded")) {
		if (k->state == CS_SUBSCRIBING)
			subscribed(w, k);
		return true;
	}
	if (event_is(ev, evl, "pusher:ping")) {
		w->fin.pings++;
		return send_text(w, k, "{\"event\":\"pusher:pong\",\"data\":{}}");
	}
	if (event_is(ev, evl, "pusher:error")) {
		w->fin.pusher_errors++;
		set_err(w->fin.first_error, sizeof(w->fin.first_error), "pusher:error: %.*s",
			(int)(len > 120 ? 120 : len), msg);
		if (in_setup(k)) {
			conn_fail(w, k, "pusher:error %.*s", (int)(len > 90 ? 90 : len), msg);
			return false;
		}
		return true;
	}
	w->fin.other_events++;
	return true;
}

/* Handle one frame; false if the connection was dropped. */
static bool on_frame(worker *w, wconn *k, const swb_ws_frame *f)
{
	const char *err = NULL;
	switch (f->opcode) {
	case SWB_WS_PING:
		w->fin.ws_pings++;
		return send_frame(w, k, SWB_WS_PONG, f->payload, (size_t)f->len);
	case SWB_WS_PONG:
		return true;
	case SWB_WS_CLOSE: {
		int code = f->len >= 2 ? f->payload[0] << 8 | f->payload[1] : 1005;
		char why[160];
		snprintf(why, sizeof(why), "closed by the server: %d %.*s", code, (int)(f->len > 2 ? f->len - 2 : 0),
			 (const char *)f->payload + 2);
		uint8_t cb[2] = { (uint8_t)(code >> 8), (uint8_t)code };
		if (code != 1005)
			send_frame(w, k, SWB_WS_CLOSE, cb, 2);
		if (k->fd >= 0)
			conn_drop(w, k, why);
		return false;
	}
	default:
		break;
	}
	if (f->opcode == SWB_WS_CONT || !f->fin) {
		if (!k->as) {
			k->as = malloc(sizeof(*k->as));
			if (!k->as) {
				conn_drop(w, k, "out of memory");
				return false;
			}
			swb_ws_asm_init(k->as);
		}
	}
	const uint8_t *msg;
	size_t len;
	int op;
	int r;
	if (k->as) {
		r = swb_ws_asm_feed(k->as, f, MAX_FRAME, &msg, &len, &op, &err);
	} else {
		r = 1;
		msg = f->payload;
		len = (size_t)f->len;
		op = f->opcode;
	}
	if (r < 0) {
		w->fin.protocol_errors++;
		char why[120];
		snprintf(why, sizeof(why), "WebSocket protocol error: %s", err);
		conn_drop(w, k, why);
		return false;
	}
	if (r == 0)
		return true;
	bool ok = op == SWB_WS_TEXT ? on_message(w, k, (const char *)msg, len) : true;
	if (ok && k->as && !k->as->opcode) {
		swb_ws_asm_free(k->as);
		free(k->as);
		k->as = NULL;
	}
	return ok;
}

/* The 101 response. Returns bytes consumed, 0 for more, -1 if dropped. */
static long on_upgrade(worker *w, wconn *k, const uint8_t *p, size_t n)
{
	int status;
	long hl = swb_http_head((const char *)p, n, &status);
	if (hl == 0)
		return 0;
	if (hl < 0) {
		conn_fail(w, k, "upgrade response head too long");
		return -1;
	}
	if (status != 101) {
		conn_fail(w, k, "upgrade answered with HTTP %d", status);
		return -1;
	}
	char key[25], want[29];
	size_t vl;
	ws_key_for(w, k->id, key);
	swb_ws_accept(key, want);
	const char *v = swb_http_header((const char *)p, (size_t)hl, "Sec-WebSocket-Accept", &vl);
	if (!v || vl != 28 || memcmp(v, want, 28) != 0) {
		conn_fail(w, k, "bad or missing Sec-WebSocket-Accept");
		return -1;
	}
	w->setup.upgraded++;
	k->state = CS_WAIT_EST;
	return hl;
}

/* Process buffered input; returns bytes consumed or -1 if dropped. */
static long process(worker *w, wconn *k, const uint8_t *p, size_t n)
{
	size_t off = 0;
	if (k->state == CS_UPGRADING) {
		long r = on_upgrade(w, k, p, n);
		if (r <= 0)
			return r;
		off = (size_t)r;
	}
	while (off < n) {
		swb_ws_frame f;
		const char *err = NULL;
		int r = swb_ws_parse(p + off, n - off, MAX_FRAME, &f, &err);
		if (r == 0)
			break;
		if (r < 0) {
			w->fin.protocol_errors++;
			char why[120];
			snprintf(why, sizeof(why), "WebSocket protocol error: %s", err);
			conn_drop(w, k, why);
			return -1;
		}
		off += f.frame_len;
		if (!on_frame(w, k, &f))
			return -1;
	}
	return (long)off;
}

static void on_readable(worker *w, wconn *k)
{
	ssize_t r;
	do
		r = read(k->fd, w->rbuf, sizeof(w->rbuf));
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r <= 0) {
		char why[80];
		snprintf(why, sizeof(why), "%s", r == 0 ? "connection closed by the server" : strerror(errno));
		conn_drop(w, k, why);
		return;
	}
	w->now = bench_now_ns();
	const uint8_t *p = w->rbuf;
	size_t n = (size_t)r;
	if (k->rx_len) {
		if (k->rx_len + n > k->rx_cap) {
			size_t cap = k->rx_cap ? k->rx_cap : 1024;
			while (cap < k->rx_len + n)
				cap *= 2;
			if (cap > MAX_FRAME + 64) {
				conn_drop(w, k, "partial frame too large");
				return;
			}
			uint8_t *nb = realloc(k->rx, cap);
			if (!nb) {
				conn_drop(w, k, "out of memory");
				return;
			}
			k->rx = nb;
			k->rx_cap = (uint32_t)cap;
		}
		memcpy(k->rx + k->rx_len, p, n);
		k->rx_len += (uint32_t)n;
		p = k->rx;
		n = k->rx_len;
	}
	long used = process(w, k, p, n);
	if (used < 0)
		return;
	size_t left = n - (size_t)used;
	if (left == 0) {
		k->rx_len = 0;
		if (k->rx_cap > RX_KEEP) {
			free(k->rx);
			k->rx = NULL;
			k->rx_cap = 0;
		}
		return;
	}
	if (p == k->rx) {
		memmove(k->rx, k->rx + used, left);
		k->rx_len = (uint32_t)left;
		return;
	}
	if (left > k->rx_cap) {
		size_t cap = left < 1024 ? 1024 : left;
		uint8_t *nb = realloc(k->rx, cap);
		if (!nb) {
			conn_drop(w, k, "out of memory");
			return;
		}
		k->rx = nb;
		k->rx_cap = (uint32_t)cap;
	}
	memcpy(k->rx, p + used, left);
	k->rx_len = (uint32_t)left;
}

static void on_event(worker *w, wconn *k, uint32_t events)
{
	if (k->state == CS_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			conn_fail(w, k, "connect: %s", strerror(err));
			return;
		}
		on_connected(w, k);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		on_readable(w, k);
		if (k->fd < 0)
			return;
	}
	if ((events & EPOLLOUT) && k->tx_len)
		conn_flush(w, k);
}

/* Starts the connections that are due at --connect-rate; returns the
 * epoll timeout (ms) until the next one is due: 1..20, or 20 when all are
 * started or the handshakes in flight are at their cap (an event frees
 * one). A fixed 1 ms timeout woke each of 53 workers 1,000 times a second
 * in a 1,000,000-connection ramp, which took most of a core. */
static int start_more(worker *w)
{
	uint64_t now = bench_now_ns();
	double elapsed = w->setup.t_first_ns ? (double)(now - w->setup.t_first_ns) / 1e9 : 0;
	uint64_t allowed = (uint64_t)(w->rate * elapsed) + 1;
	while (w->next < w->n && w->inflight < w->max_inflight && w->next < allowed) {
		start_conn(w, &w->conns[w->next++]);
	}
	if (w->next >= w->n || w->inflight >= w->max_inflight || !w->setup.t_first_ns)
		return 20;
	double due_s = (double)w->next / w->rate - (double)(bench_now_ns() - w->setup.t_first_ns) / 1e9;
	int ms = (int)(due_s * 1000.0 + 0.999);
	return ms < 1 ? 1 : ms > 20 ? 20 : ms;
}

/* Connections start in index order, so their start times only grow: the
 * scan begins at the first one still in setup and stops at the first one
 * in setup that has not timed out (O(finished + timed out), not O(N)). */
static void check_timeouts(worker *w)
{
	uint64_t now = bench_now_ns(), limit = (uint64_t)w->c->connect_timeout * 1000000000ull;
	while (w->setup_scan < w->next && !in_setup(&w->conns[w->setup_scan]))
		w->setup_scan++;
	for (uint32_t i = w->setup_scan; i < w->next; i++) {
		wconn *k = &w->conns[i];
		if (!in_setup(k))
			continue;
		if (now - k->t_start <= limit)
			break;
		static const char *names[] = { "", "TCP connect", "upgrade response", "connection_established",
					       "subscription_succeeded" };
		conn_fail(w, k, "timed out after %ld s waiting for %s", w->c->connect_timeout, names[k->state]);
	}
}

static void on_ctrl(worker *w)
{
	uint8_t cmd[5];
	size_t got = 0;
	while (got < sizeof(cmd)) {
		ssize_t r = read(w->ctrl, cmd + got, sizeof(cmd) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(3); /* parent gone */
		got += (size_t)r;
	}
	uint32_t step;
	memcpy(&step, cmd + 1, 4);
	if (cmd[0] == CMD_REPORT && step <= BENCH_MAX_STEPS) {
		bench_step_rep *st = step_rep(w, step);
		w->reported[step] = true;
		send_msg(w, MSG_STEP, step, st, sizeof(*st), NULL, 0);
		return;
	}
	if (cmd[0] == CMD_QUIT) {
		send_msg(w, MSG_FINAL, 0, &w->fin, sizeof(w->fin), NULL, 0);
		for (uint32_t i = 0; i < w->n; i++)
			if (w->conns[i].fd >= 0)
				close(w->conns[i].fd);
		_exit(0);
	}
}

void bench_worker_main(const bench_cfg *c, uint32_t lo, uint32_t hi, int ctrl)
{
	static worker wk; /* large (rbuf); one per process */
	worker *w = &wk;
	w->c = c;
	w->lo = lo;
	w->n = hi - lo;
	w->ctrl = ctrl;
	w->rng = bench_now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x2545f4914f6cdd1dull;
	w->salt = rnd64(w);
	w->conns = calloc(w->n ? w->n : 1, sizeof(wconn));
	w->subs = calloc(c->nchannels, sizeof(uint32_t));
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!w->conns || !w->subs || w->ep < 0)
		_exit(3);
	for (uint32_t i = 0; i < w->n; i++) {
		w->conns[i].fd = -1;
		w->conns[i].id = lo + i;
	}
	long nw = c->workers;
	w->rate = (double)c->connect_rate / (double)nw;
	w->max_inflight = (uint32_t)((c->max_handshakes + nw - 1) / nw);
	if (w->max_inflight < 1)
		w->max_inflight = 1;
	w->setup.requested = w->n;
	swb_hist_init(&w->setup.handshake);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = CTRL_TAG };
	epoll_ctl(w->ep, EPOLL_CTL_ADD, ctrl, &ev);
	struct epoll_event evs[256];
	uint64_t last_check = bench_now_ns();
	for (;;) {
		bool setting_up = !w->setup_sent;
		int timeout = setting_up ? start_more(w) : 500;
		int ne = epoll_wait(w->ep, evs, 256, timeout);
		if (ne < 0 && errno != EINTR)
			_exit(3);
		for (int i = 0; i < ne; i++) {
			if (evs[i].data.u64 == CTRL_TAG) {
				on_ctrl(w);
				continue;
			}
			wconn *k = &w->conns[evs[i].data.u64];
			if (k->fd >= 0)
				on_event(w, k, evs[i].events);
		}
		if (setting_up) {
			uint64_t now = bench_now_ns();
			if (now - last_check > 100000000ull) {
				check_timeouts(w);
				last_check = now;
			}
			if (w->next == w->n && w->inflight == 0) {
				w->setup_sent = true;
				send_msg(w, MSG_SETUP, 0, &w->setup, sizeof(w->setup), w->subs,
					 c->nchannels * sizeof(uint32_t));
			}
		}
	}
}
