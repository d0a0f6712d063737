/* bench_pub.c: the publisher of swb-bench. Keep-alive HTTP/1.1
 * connections to the Pusher HTTP API (one request in flight on each, no
 * pipelining), driven by its own epoll loop in the parent process. Each
 * publish is signed like the SDKs sign it (bench_sign.c) and carries
 * "b:STEP:CHANNEL:SEQ:SENT_NS:padding" as its data, SEQ counting the
 * publishes to that channel over the whole run. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_sign.h"
#include "bench_ws.h"

enum { HC_DOWN = 0, HC_CONNECTING, HC_IDLE, HC_BUSY };

#define REQ_TIMEOUT_NS 10000000000ull
#define RX_CAP 16384
#define IDLE_REOPEN_NS 3000000000ull

typedef struct hconn {
	int fd, state;
	bool want_out;
	uint64_t t_sent, retry_at, idle_since;
	uint32_t ch;
	char *tx;
	size_t tx_len, tx_off;
	char rx[RX_CAP];
	size_t rx_len;
} hconn;

struct bench_pub {
	const bench_cfg *c;
	hconn *h;
	int nh, ep;
	uint32_t *seq; /* next sequence number per channel */
	uint32_t rr;
	char *body, *req, *pad;
	size_t body_cap, req_cap;
	bench_pub_step *st;
	uint32_t step;
	bool ever_connected;
	char conn_err[400];
};

bench_pub *bench_pub_new(const bench_cfg *c)
{
	bench_pub *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->c = c;
	p->nh = (int)c->http_conns;
	p->h = calloc((size_t)p->nh, sizeof(hconn));
	p->seq = calloc(c->nchannels, sizeof(uint32_t));
	p->body_cap = (size_t)c->payload + 1024;
	p->req_cap = p->body_cap + 2048;
	p->body = malloc(p->body_cap);
	p->req = malloc(p->req_cap);
	p->pad = malloc((size_t)c->payload + 1);
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!p->h || !p->seq || !p->body || !p->req || !p->pad || p->ep < 0) {
		bench_pub_free(p);
		return NULL;
	}
	memset(p->pad, 'x', (size_t)c->payload);
	p->pad[c->payload] = '\0';
	for (int i = 0; i < p->nh; i++)
		p->h[i].fd = -1;
	return p;
}

static void hc_close(bench_pub *p, hconn *h, uint64_t retry_in_ns)
{
	if (h->fd >= 0) {
		epoll_ctl(p->ep, EPOLL_CTL_DEL, h->fd, NULL);
		close(h->fd);
	}
	h->fd = -1;
	h->state = HC_DOWN;
	free(h->tx);
	h->tx = NULL;
	h->tx_len = h->tx_off = h->rx_len = 0;
	h->retry_at = bench_now_ns() + retry_in_ns;
}

void bench_pub_free(bench_pub *p)
{
	if (!p)
		return;
	for (int i = 0; p->h && i < p->nh; i++)
		hc_close(p, &p->h[i], 0);
	if (p->ep >= 0)
		close(p->ep);
	free(p->h);
	free(p->seq);
	free(p->body);
	free(p->req);
	free(p->pad);
	free(p);
}

static void hc_want_out(bench_pub *p, hconn *h, bool out)
{
	if (h->want_out == out)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u64 = (uint64_t)(h - p->h) };
	epoll_ctl(p->ep, EPOLL_CTL_MOD, h->fd, &ev);
	h->want_out = out;
}

static void hc_connect(bench_pub *p, hconn *h)
{
	const bench_target *t = &p->c->publish_target;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(p->conn_err, sizeof(p->conn_err), "publish connection to %s: socket: %s", t->hostport,
			 strerror(errno));
		h->retry_at = bench_now_ns() + 100000000ull;
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&t->addr, sizeof(t->addr)) < 0 && errno != EINPROGRESS) {
		snprintf(p->conn_err, sizeof(p->conn_err), "publish connection to %s: connect: %s", t->hostport,
			 strerror(errno));
		close(fd);
		h->retry_at = bench_now_ns() + 100000000ull;
		return;
	}
	h->fd = fd;
	h->state = HC_CONNECTING;
	h->want_out = true;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)(h - p->h) };
	epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void record_error(bench_pub *p, int status, const char *body, size_t blen)
{
	bench_pub_step *st = p->st;
	st->http_errors++;
	if (!st->first_error[0]) {
		st->first_error_status = status;
		snprintf(st->first_error, sizeof(st->first_error), "HTTP %d %.*s", status,
			 (int)(blen > 120 ? 120 : blen), body);
	}
}

/* The request on h failed without a response (connection lost). */
static void hc_fail_request(bench_pub *p, hconn *h, const char *why)
{
	if (h->state == HC_BUSY) {
		p->st->http_errors++;
		if (!p->st->first_error[0])
			snprintf(p->st->first_error, sizeof(p->st->first_error), "publish connection: %s", why);
	}
	hc_close(p, h, 100000000ull);
}

static void hc_flush(bench_pub *p, hconn *h)
{
	while (h->tx_off < h->tx_len) {
		ssize_t r = write(h->fd, h->tx + h->tx_off, h->tx_len - h->tx_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			hc_want_out(p, h, true);
			return;
		}
		if (r <= 0) {
			hc_fail_request(p, h, r < 0 ? strerror(errno) : "closed");
			return;
		}
		h->tx_off += (size_t)r;
	}
	free(h->tx);
	h->tx = NULL;
	h->tx_len = h->tx_off = 0;
	hc_want_out(p, h, false);
}

static void publish(bench_pub *p, hconn *h)
{
	const bench_cfg *c = p->c;
	uint32_t ch = c->pattern == PAT_ONE ? 0 : p->rr++ % c->nchannels;
	uint32_t seq = p->seq[ch]++;
	char name[256];
	bench_channel_name(c, ch, name, sizeof(name));
	uint64_t now = bench_now_ns();
	char data[96];
	int dl = snprintf(data, sizeof(data), "b:%u:%u:%u:%llu:", p->step, ch, seq, (unsigned long long)now);
	long pad = c->payload > dl ? c->payload - dl : 0;
	int bl = snprintf(p->body, p->body_cap,
			  "{\"name\":\"" BENCH_EVENT "\",\"channels\":[\"%s\"],\"data\":\"%s%.*s\"}", name, data,
			  (int)pad, p->pad);
	size_t rl = swb_bench_publish_request(p->req, p->req_cap, c->publish_target.hostport, c->app_id, c->app_key,
					      c->app_secret, (int64_t)time(NULL), p->body, (size_t)bl);
	p->st->attempted++;
	if (!p->st->t_first_ns)
		p->st->t_first_ns = now;
	p->st->t_last_ns = now;
	if (!rl) {
		record_error(p, 0, "request did not fit", 19);
		return;
	}
	h->state = HC_BUSY;
	h->ch = ch;
	h->t_sent = now;
	h->tx = malloc(rl);
	if (!h->tx) {
		hc_fail_request(p, h, "out of memory");
		return;
	}
	memcpy(h->tx, p->req, rl);
	h->tx_len = rl;
	h->tx_off = 0;
	hc_flush(p, h);
}

static void on_response(bench_pub *p, hconn *h)
{
	for (;;) {
		int status;
		long hl = swb_http_head(h->rx, h->rx_len, &status);
		if (hl == 0)
			return;
		if (hl < 0) {
			hc_fail_request(p, h, "response head too long");
			return;
		}
		size_t vl, clen = 0;
		const char *v = swb_http_header(h->rx, (size_t)hl, "Content-Length", &vl);
		if (v)
			clen = strtoul(v, NULL, 10);
		if (clen > RX_CAP - (size_t)hl) {
			hc_fail_request(p, h, "response body too large");
			return;
		}
		if (h->rx_len < (size_t)hl + clen)
			return;
		if (h->state != HC_BUSY) {
			hc_close(p, h, 100000000ull);
			return;
		}
		uint64_t now = bench_now_ns();
		swb_hist_add(&p->st->rtt, now - h->t_sent);
		if (status == 200) {
			p->st->ok++;
			p->st->ok_per_channel[h->ch]++;
		} else {
			record_error(p, status, h->rx + hl, clen);
		}
		v = swb_http_header(h->rx, (size_t)hl, "Connection", &vl);
		bool close_after = v && vl == 5 && !strncasecmp(v, "close", 5);
		size_t used = (size_t)hl + clen;
		memmove(h->rx, h->rx + used, h->rx_len - used);
		h->rx_len -= used;
		h->state = HC_IDLE;
		h->idle_since = now;
		if (close_after) {
			hc_close(p, h, 0);
			return;
		}
	}
}

static void on_hc_event(bench_pub *p, hconn *h, uint32_t events)
{
	if (h->state == HC_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			snprintf(p->conn_err, sizeof(p->conn_err), "publish connection to %s: connect: %s",
				 p->c->publish_target.hostport, strerror(err));
			hc_close(p, h, 100000000ull);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		h->state = HC_IDLE;
		h->idle_since = bench_now_ns();
		p->ever_connected = true;
		hc_want_out(p, h, false);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		ssize_t r = read(h->fd, h->rx + h->rx_len, RX_CAP - h->rx_len);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			hc_fail_request(p, h, r < 0 ? strerror(errno) : "closed by the server");
			return;
		}
		h->rx_len += (size_t)r;
		on_response(p, h);
		if (h->fd < 0)
			return;
	}
	if ((events & EPOLLOUT) && h->tx_len)
		hc_flush(p, h);
}

/* Waits up to timeout_us: with epoll_pwait2's nanosecond timeout, so that a
 * publisher pacing 1,000+ requests/s sleeps until the next one is due
 * instead of spinning through epoll_wait(0) for the sub-millisecond rest
 * (which took a whole core of the 2 the servers run on). */
static void poll_once(bench_pub *p, long timeout_us)
{
	struct epoll_event evs[64];
	struct timespec ts = { .tv_sec = timeout_us / 1000000, .tv_nsec = (timeout_us % 1000000) * 1000 };
	int n = epoll_pwait2(p->ep, evs, 64, &ts, NULL);
	if (n < 0 && errno == ENOSYS) /* kernel < 5.11: round up to whole ms */
		n = epoll_wait(p->ep, evs, 64, (int)((timeout_us + 999) / 1000));
	for (int i = 0; i < n; i++) {
		hconn *h = &p->h[evs[i].data.u64];
		if (h->fd >= 0)
			on_hc_event(p, h, evs[i].events);
	}
	uint64_t now = bench_now_ns();
	for (int i = 0; i < p->nh; i++) {
		hconn *h = &p->h[i];
		if (h->state == HC_DOWN && now >= h->retry_at)
			hc_connect(p, h);
		else if (h->state == HC_IDLE && now - h->idle_since > IDLE_REOPEN_NS)
			hc_close(p, h, 0); /* before the server's keep-alive timeout can race a request */
		else if (h->state == HC_BUSY && now - h->t_sent > REQ_TIMEOUT_NS) {
			p->st->timeouts++;
			hc_fail_request(p, h, "no response within 10 s");
		}
	}
}

static hconn *idle_conn(bench_pub *p)
{
	for (int i = 0; i < p->nh; i++) {
		hconn *h = &p->h[(p->rr + (uint32_t)i) % (uint32_t)p->nh];
		if (h->state == HC_IDLE)
			return h;
	}
	return NULL;
}

int bench_pub_run(bench_pub *p, uint32_t step, long rate, double seconds, bench_pub_step *st)
{
	p->st = st;
	p->step = step;
	uint64_t t0 = bench_now_ns(), end;
	poll_once(p, 0); /* notice connections the server closed since the last step */
	/* connections first (bounded: 5 s) */
	while (!idle_conn(p)) {
		poll_once(p, 5000);
		if (bench_now_ns() - t0 > 5000000000ull) {
			snprintf(st->first_error, sizeof(st->first_error), "%.159s",
				 p->conn_err[0] ? p->conn_err : "no publish connection within 5 s");
			return -1;
		}
	}
	t0 = bench_now_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	uint64_t total = (uint64_t)((double)rate * seconds + 0.5), sent = 0;
	for (;;) {
		uint64_t now = bench_now_ns();
		if (now >= end)
			break;
		uint64_t due = (uint64_t)((double)rate * (double)(now - t0) / 1e9) + 1;
		if (due > total)
			due = total;
		hconn *h;
		while (sent < due && (h = idle_conn(p)) != NULL) {
			publish(p, h);
			sent++;
		}
		uint64_t next_due_ns = t0 + (uint64_t)((double)(sent)*1e9 / (double)rate);
		long wait_us = next_due_ns > now ? (long)((next_due_ns - now) / 1000) : 0;
		if (sent >= total)
			wait_us = (long)((end - now) / 1000) + 1;
		if (wait_us > 10000)
			wait_us = 10000;
		poll_once(p, sent < due ? 1000 : wait_us);
	}
	st->unsent = total > sent ? total - sent : 0;
	/* the responses still outstanding (bounded by the request timeout) */
	for (;;) {
		bool busy = false;
		for (int i = 0; i < p->nh; i++)
			busy |= p->h[i].state == HC_BUSY || p->h[i].tx_len > 0;
		if (!busy)
			break;
		poll_once(p, 5000);
	}
	return 0;
}
