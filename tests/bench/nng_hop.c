/* nng_hop.c: swb-nng-hop, the cost of one edge <-> bridge hop with nothing
 * of Switchboard in the way (docs/benchmarks.md, "The NNG floor of one hop").
 *
 * A sender process sends COUNT messages of SIZE bytes at RATE per second to
 * a receiver process over one of
 *   pair1   nng pair1 dialer -> polyamorous pair1 listener (edge -> bridge)
 *   push0   nng push0 dialer -> pull0 listener             (bridge -> edge)
 *   unix    a SOCK_SEQPACKET unix socket pair, no NNG      (the counterfactual)
 * both sides the way Switchboard's loops do it: the sender sends without
 * blocking (zero-timeout aio, common/nng_io.c), the receiver polls the
 * socket's NNG_OPT_RECVFD and drains with zero-timeout receives. Each
 * message carries its send time (CLOCK_MONOTONIC; one machine), so the
 * receiver records the one-way latency in a histogram. Reported: latency
 * percentiles, and for each side the CPU time and context switches per
 * message (getrusage: every thread of the process, NNG's included), over
 * the messages after the first WARMUP. Exit status 0 when every message
 * arrived, 1 otherwise, 2 on bad flags. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_hist.h"

enum xport { X_PAIR1, X_PUSH0, X_UNIX };

typedef struct {
	enum xport x;
	const char *name;
	long rate, count, size, warmup;
	bool json;
} opts;

typedef struct { /* one side's cost over the measured messages */
	double cpu_s;
	long vcs, nvcs;
} cost;

typedef struct { /* receiver -> parent, through a pipe */
	uint64_t got, measured, out_of_order;
	cost c;
	swb_hist h;
} rx_report;

typedef struct {
	int fd;            /* X_UNIX */
	nng_socket s;      /* otherwise */
	nng_aio *aio;      /* zero timeout, no callback */
} chan;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static cost usage_now(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	cost c = { r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6,
		   r.ru_nvcsw, r.ru_nivcsw };
	return c;
}

static cost usage_since(cost a)
{
	cost b = usage_now();
	return (cost){ b.cpu_s - a.cpu_s, b.vcs - a.vcs, b.nvcs - a.nvcs };
}

static int zero_aio(chan *ch)
{
	if (nng_aio_alloc(&ch->aio, NULL, NULL) != 0)
		return -1;
	nng_aio_set_timeout(ch->aio, NNG_DURATION_ZERO);
	return 0;
}

/* One message into buf (at most cap bytes): its length, 0 when none is
 * waiting, -1 on error. */
static long rx_one(const opts *o, chan *ch, unsigned char *buf, size_t cap)
{
	if (o->x == X_UNIX) {
		ssize_t n = recv(ch->fd, buf, cap, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		return n ? n : -1;
	}
	nng_recv_aio(ch->s, ch->aio);
	nng_aio_wait(ch->aio);
	int rv = nng_aio_result(ch->aio);
	if (rv == NNG_ETIMEDOUT || rv == NNG_EAGAIN)
		return 0;
	if (rv != 0)
		return -1;
	nng_msg *m = nng_aio_get_msg(ch->aio);
	size_t n = nng_msg_len(m) < cap ? nng_msg_len(m) : cap;
	memcpy(buf, nng_msg_body(m), n);
	nng_msg_free(m);
	return (long)n;
}

static int rx_open(const opts *o, const char *url, chan *ch)
{
	int rv = o->x == X_PAIR1 ? nng_pair1_open_poly(&ch->s) : nng_pull0_open(&ch->s);
	if (rv == 0)
		rv = nng_listen(ch->s, url, NULL, 0);
	if (rv == 0)
		rv = nng_socket_get_int(ch->s, NNG_OPT_RECVFD, &ch->fd);
	if (rv != 0 || zero_aio(ch) != 0) {
		fprintf(stderr, "swb-nng-hop: receiver on %s: %s\n", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

/* The receiver: until COUNT messages or 5 s without one. */
static void receiver(const opts *o, chan *ch, int report_fd)
{
	static rx_report r;
	swb_hist_init(&r.h);
	unsigned char buf[65536];
	uint64_t next = 0;
	cost start = usage_now();
	while (r.got < (uint64_t)o->count) {
		struct pollfd p = { ch->fd, POLLIN, 0 };
		int pr = poll(&p, 1, 5000);
		if (pr == 0)
			break;
		if (pr < 0 && errno != EINTR)
			break;
		long n;
		while ((n = rx_one(o, ch, buf, sizeof(buf))) > 0) {
			uint64_t t = now_ns(), seq, sent;
			if (n < 16)
				continue;
			memcpy(&seq, buf, 8);
			memcpy(&sent, buf + 8, 8);
			if (seq != next)
				r.out_of_order++;
			next = seq + 1;
			r.got++;
			if (seq + 1 == (uint64_t)o->warmup)
				start = usage_now();
			if (seq >= (uint64_t)o->warmup) {
				swb_hist_add(&r.h, t - sent);
				r.measured++;
			}
		}
		if (n < 0)
			break;
	}
	r.c = usage_since(start);
	if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(1);
	_exit(0);
}

static int tx_open(const opts *o, const char *url, chan *ch)
{
	int rv = o->x == X_PAIR1 ? nng_pair1_open(&ch->s) : nng_push0_open(&ch->s);
	if (rv == 0) /* the edge's pair1 queue; push0 in nng 1.5.2 may not have one */
		nng_socket_set_int(ch->s, NNG_OPT_SENDBUF, 1024);
	for (int i = 0; rv == 0; i++) { /* the listener is the child's: wait for it (bounded, 5 s) */
		rv = nng_dial(ch->s, url, NULL, 0);
		if ((rv != NNG_ECONNREFUSED && rv != NNG_ENOENT) || i == 500)
			break;
		rv = 0;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (rv != 0 || zero_aio(ch) != 0) {
		fprintf(stderr, "swb-nng-hop: sender to %s: %s\n", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

/* 0 sent, 1 would block, -1 failed */
static int tx_one(const opts *o, chan *ch, const unsigned char *buf)
{
	if (o->x == X_UNIX) {
		if (send(ch->fd, buf, (size_t)o->size, MSG_DONTWAIT) == o->size)
			return 0;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
	}
	nng_msg *m;
	if (nng_msg_alloc(&m, (size_t)o->size) != 0)
		return -1;
	memcpy(nng_msg_body(m), buf, (size_t)o->size);
	nng_aio_set_msg(ch->aio, m);
	nng_send_aio(ch->s, ch->aio);
	nng_aio_wait(ch->aio);
	int rv = nng_aio_result(ch->aio);
	if (rv == 0)
		return 0;
	nng_msg_free(m);
	return rv == NNG_ETIMEDOUT || rv == NNG_EAGAIN ? 1 : -1;
}

static void sleep_until(uint64_t due)
{
	uint64_t t;
	while ((t = now_ns()) < due) {
		struct timespec ts = { (time_t)((due - t) / 1000000000u), (long)((due - t) % 1000000000u) };
		nanosleep(&ts, NULL);
	}
}

/* Paced sends; a send that would block is retried after 50 µs (counted). */
static int sender(const opts *o, chan *ch, cost *c, uint64_t *would_block)
{
	unsigned char *buf = calloc(1, (size_t)o->size);
	if (!buf)
		return -1;
	uint64_t per = 1000000000u / (uint64_t)o->rate, start = now_ns();
	cost from = usage_now();
	for (long i = 0; i < o->count; i++) {
		sleep_until(start + (uint64_t)i * per);
		uint64_t seq = (uint64_t)i, t;
		int rv;
		memcpy(buf, &seq, 8);
		while (t = now_ns(), memcpy(buf + 8, &t, 8), (rv = tx_one(o, ch, buf)) == 1) {
			(*would_block)++;
			sleep_until(now_ns() + 50000);
		}
		if (rv < 0) {
			fprintf(stderr, "swb-nng-hop: send %ld failed\n", i);
			free(buf);
			return -1;
		}
		if (i + 1 == o->warmup)
			from = usage_now();
	}
	*c = usage_since(from);
	free(buf);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: swb-nng-hop [--transport pair1|push0|unix] [--rate PER_S] [--count N]\n"
		   "                   [--size BYTES] [--warmup N] [--json]\n\n"
		   "One edge<->bridge hop with nothing of Switchboard in the way: latency and CPU per message.\n"
		   "  --transport T  pair1 (edge->bridge), push0 (bridge->edge) or unix (SOCK_SEQPACKET, no NNG); default pair1\n"
		   "  --rate R       messages per second (default 1000)\n"
		   "  --count N      messages (default 5000)\n"
		   "  --size B       message size, 16..65536 (default 200)\n"
		   "  --warmup N     first N messages not measured (default 100)\n"
		   "  --json         one JSON document instead of the line\n");
}

static int parse(int argc, char **argv, opts *o)
{
	*o = (opts){ X_PAIR1, "pair1", 1000, 5000, 200, 100, false };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long *num = !strcmp(a, "--rate") ? &o->rate : !strcmp(a, "--count") ? &o->count
			  : !strcmp(a, "--size") ? &o->size : !strcmp(a, "--warmup") ? &o->warmup : NULL;
		if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--transport") && v) {
			o->x = !strcmp(v, "pair1") ? X_PAIR1 : !strcmp(v, "push0") ? X_PUSH0 : !strcmp(v, "unix") ? X_UNIX : -1;
			if ((int)o->x < 0)
				return -1;
			o->name = v;
			i++;
		} else if (num && v) {
			char *end;
			*num = strtol(v, &end, 10);
			if (*end || *num < 0)
				return -1;
			i++;
		} else {
			return -1;
		}
	}
	if (o->rate < 1 || o->rate > 1000000 || o->count < 1 || o->size < 16 || o->size > 65536 || o->warmup >= o->count)
		return -1;
	return 0;
}

static void report(const opts *o, const rx_report *r, cost tx, uint64_t wb)
{
	double m = r->measured ? (double)r->measured : 1, ms = (double)(o->count - o->warmup);
	double q[] = { 0.5, 0.9, 0.99, 0.999 };
	double us[4];
	for (int i = 0; i < 4; i++)
		us[i] = swb_hist_quantile(&r->h, q[i]) / 1e3;
	if (o->json) {
		printf("{\"transport\":\"%s\",\"rate\":%ld,\"count\":%ld,\"size\":%ld,\"received\":%llu,"
		       "\"out_of_order\":%llu,\"would_block\":%llu,\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,"
		       "\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},\"receiver\":{\"cpu_us_per_msg\":%.2f,"
		       "\"ctx_switches_per_msg\":%.2f},\"sender\":{\"cpu_us_per_msg\":%.2f,\"ctx_switches_per_msg\":%.2f}}\n",
		       o->name, o->rate, o->count, o->size, (unsigned long long)r->got,
		       (unsigned long long)r->out_of_order, (unsigned long long)wb, us[0], us[1], us[2], us[3],
		       r->h.max / 1e3, r->c.cpu_s * 1e6 / m, (r->c.vcs + r->c.nvcs) / m, tx.cpu_s * 1e6 / ms,
		       (tx.vcs + tx.nvcs) / ms);
		return;
	}
	printf("%-6s %ld msgs at %ld/s, %ld B: received %llu (out of order %llu), would-block %llu\n", o->name,
	       o->count, o->rate, o->size, (unsigned long long)r->got, (unsigned long long)r->out_of_order,
	       (unsigned long long)wb);
	printf("       latency p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f us\n", us[0], us[1], us[2], us[3],
	       r->h.max / 1e3);
	printf("       receiver %.1f us CPU, %.2f context switches per msg; sender %.1f us, %.2f\n",
	       r->c.cpu_s * 1e6 / m, (r->c.vcs + r->c.nvcs) / m, tx.cpu_s * 1e6 / ms, (tx.vcs + tx.nvcs) / ms);
}

int main(int argc, char **argv)
{
	opts o;
	if (parse(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	char dir[] = "/tmp/swb-nng-hop.XXXXXX", url[128];
	if (!mkdtemp(dir)) {
		perror("swb-nng-hop: mkdtemp");
		return 1;
	}
	snprintf(url, sizeof(url), "ipc://%s/hop.ipc", dir);
	int sp[2] = { -1, -1 }, rep[2];
	if ((o.x == X_UNIX && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) != 0) || pipe(rep) != 0) {
		perror("swb-nng-hop: socketpair/pipe");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("swb-nng-hop: fork");
		return 1;
	}
	if (pid == 0) {
		chan rx = { .fd = sp[1] };
		close(rep[0]);
		if (sp[0] >= 0)
			close(sp[0]);
		if (o.x != X_UNIX && rx_open(&o, url, &rx) != 0)
			_exit(1);
		receiver(&o, &rx, rep[1]);
	}
	close(rep[1]);
	if (sp[1] >= 0)
		close(sp[1]);
	chan tx = { .fd = sp[0] };
	cost c = { 0, 0, 0 };
	uint64_t wb = 0;
	int rc = (o.x == X_UNIX || tx_open(&o, url, &tx) == 0) && sender(&o, &tx, &c, &wb) == 0 ? 0 : 1;
	rx_report *r = calloc(1, sizeof(*r));
	size_t have = 0;
	ssize_t n;
	while (r && have < sizeof(*r) && (n = read(rep[0], (char *)r + have, sizeof(*r) - have)) > 0)
		have += (size_t)n;
	int st;
	waitpid(pid, &st, 0);
	if (o.x != X_UNIX)
		nng_close(tx.s);
	char path[160];
	snprintf(path, sizeof(path), "%s/hop.ipc", dir);
	unlink(path);
	rmdir(dir);
	if (!r || have != sizeof(*r)) {
		fprintf(stderr, "swb-nng-hop: the receiver did not report\n");
		free(r);
		return 1;
	}
	report(&o, r, c, wb);
	if (r->got != (uint64_t)o.count)
		rc = 1;
	free(r);
	return rc;
}
