/* send_floor.c: swb-send-floor, the kernel floor of one delivery. Sets up
 * N loopback TCP connections whose far ends a child process reads (epoll,
 * read and discard), then does R rounds of "one small frame to each of the
 * N sockets", paced (--rate rounds/s) or back to back, and reports the
 * CPU time (getrusage user + sys) per send of the sender and, separately,
 * of the reading child. On loopback the sender's send() also runs the
 * receiver's TCP input, so the sender's figure is what one delivery costs
 * an edge at least when every subscriber gets one frame per loop turn.
 *
 * Variants (each with fresh connections, interleaved over --repeat runs,
 * medians reported): plain send(), the non-blocking send() lws does
 * (MSG_DONTWAIT | MSG_NOSIGNAL, TCP_NODELAY on / off), MSG_ZEROCOPY, and
 * io_uring (one IORING_OP_SEND SQE per socket, one io_uring_enter per
 * round). A measurement tool, not a test: nothing here passes or fails on
 * a number. Owns everything it starts (the child, the sockets). */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/errqueue.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_segs_out (glibc's lacks it) */
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "opts.h"

#define MAX_REPEAT 15

enum kind { K_SEND, K_ZEROCOPY, K_URING, K_SYSCALL };

typedef struct variant {
	const char *name;
	enum kind kind;
	int send_flags;
	bool nonblock, nodelay, fixed_files;
	unsigned ring_flags;
	const char *what;
} variant;

static const variant variants[] = {
	{ "send", K_SEND, 0, false, false, false, 0,
	  "send(fd, buf, len, 0), blocking socket, Nagle on (kernel defaults)" },
	{ "send-nb-nodelay", K_SEND, MSG_DONTWAIT | MSG_NOSIGNAL, true, true, false, 0,
	  "what lws does on the edge: non-blocking, MSG_NOSIGNAL, TCP_NODELAY on" },
	{ "send-nb-nagle", K_SEND, MSG_DONTWAIT | MSG_NOSIGNAL, true, false, false, 0,
	  "non-blocking, MSG_NOSIGNAL, TCP_NODELAY off" },
	{ "zerocopy", K_ZEROCOPY, MSG_ZEROCOPY | MSG_DONTWAIT | MSG_NOSIGNAL, true, true, false, 0,
	  "SO_ZEROCOPY + MSG_ZEROCOPY, completions read from the error queue each round" },
	{ "uring", K_URING, 0, true, true, false, 0,
	  "io_uring: N IORING_OP_SEND SQEs, one io_uring_enter per round (submit + wait all)" },
	{ "uring-tuned", K_URING, 0, true, true, true,
	  IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	  "uring + registered files + SINGLE_ISSUER|DEFER_TASKRUN" },
	{ "null-syscall", K_SYSCALL, 0, true, true, false, 0,
	  "reference, sends nothing: one getppid() syscall per connection (the price of entering the kernel)" },
};
#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static struct {
	long connections, rounds, warmup, rate, frame, repeat;
	bool json;
	swb_strlist only;
} cfg = { .connections = 500, .rounds = 50, .warmup = 5, .rate = 0, .frame = 120, .repeat = 3 };

static swb_opt opts[] = {
	{ "connections", "SWB_SEND_FLOOR_CONNECTIONS", SWB_OPT_INT, "N",
	  "loopback TCP connections (default 500)", &cfg.connections, 1, 10000 },
	{ "rounds", "SWB_SEND_FLOOR_ROUNDS", SWB_OPT_INT, "R",
	  "measured rounds of one frame to every connection (default 50)", &cfg.rounds, 1, 1000000 },
	{ "warmup", "SWB_SEND_FLOOR_WARMUP", SWB_OPT_INT, "W",
	  "unmeasured rounds before them (default 5)", &cfg.warmup, 0, 100000 },
	{ "rate", "SWB_SEND_FLOOR_RATE", SWB_OPT_INT, "PER_S",
	  "rounds per second, 0 = back to back (default 0)", &cfg.rate, 0, 1000000 },
	{ "frame", "SWB_SEND_FLOOR_FRAME", SWB_OPT_INT, "BYTES",
	  "bytes per send (default 120)", &cfg.frame, 1, 65536 },
	{ "repeat", "SWB_SEND_FLOOR_REPEAT", SWB_OPT_INT, "K",
	  "runs of each variant, interleaved; medians reported (default 3)", &cfg.repeat, 1, MAX_REPEAT },
	{ "variant", "SWB_SEND_FLOOR_VARIANTS", SWB_OPT_LIST, "NAME",
	  "run only this variant (repeatable; default all)", &cfg.only, 0, 0 },
	{ "json", "SWB_SEND_FLOOR_JSON", SWB_OPT_FLAG, NULL, "print JSON instead of the table", &cfg.json, 0, 0 },
	{ 0 },
};

static swb_opts_spec spec = {
	.prog = "swb-send-floor",
	.usage = "[options]",
	.summary = "The kernel floor of one delivery: CPU per send() of one small frame to each of N loopback\n"
		   "TCP connections (read by a child process), for send(), MSG_ZEROCOPY and io_uring variants.",
	.epilog = "Variants: send, send-nb-nodelay, send-nb-nagle, zerocopy, uring, uring-tuned,\n"
		  "null-syscall (a reference: one getppid() per connection, nothing sent).\n"
		  "Exit status: 0 at least one variant was measured (an unavailable one is reported, not\n"
		  "fatal), 1 none could be (setup failed or all unavailable), 2 bad flags.",
	.opts = opts,
};

/* One run of one variant. */
typedef struct run {
	const variant *v;
	int n;
	int *tx, *rx;
	unsigned char *buf;
	struct io_uring ring;
	bool ring_up;
	long fallbacks;     /* EAGAIN or short writes finished by poll + send */
	long zc_done, zc_copied;
	long late;          /* io_uring: completions that came after io_uring_submit returned */
	char err[160];
} run;

/* What one run measured. */
typedef struct result {
	bool ok;
	double snd_us, rcv_us;   /* CPU per send */
	double snd_user_us, snd_sys_us;
	double rounds_per_s, load1;
	double segs_per_send;    /* TCP segments out of the sending ends per send */
	long fallbacks, zc_done, zc_copied, late;
	char err[160];
} result;

static double tv_us(struct timeval tv)
{
	return (double)tv.tv_sec * 1e6 + (double)tv.tv_usec;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double load1(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static void set_int(int fd, int level, int opt, int val)
{
	if (setsockopt(fd, level, opt, &val, sizeof(val)) < 0)
		fprintf(stderr, "swb-send-floor: setsockopt(%d, %d): %s\n", level, opt, strerror(errno));
}

/* RST on close: no TIME_WAIT left behind by repeated runs. */
static void set_linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* tx[i] = the accepted end (an edge's socket is an accepted one), rx[i] =
 * the connecting end, which the child reads. */
static int make_pairs(run *r)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 128) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0)
		goto fail;
	for (int i = 0; i < r->n; i++) {
		r->rx[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (r->rx[i] < 0 || connect(r->rx[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			goto fail;
		r->tx[i] = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (r->tx[i] < 0)
			goto fail;
		set_linger0(r->rx[i]);
		set_linger0(r->tx[i]);
		set_int(r->tx[i], IPPROTO_TCP, TCP_NODELAY, r->v->nodelay);
		if (r->v->nonblock)
			fcntl(r->tx[i], F_SETFL, fcntl(r->tx[i], F_GETFL) | O_NONBLOCK);
		if (r->v->kind == K_ZEROCOPY)
			set_int(r->tx[i], SOL_SOCKET, SO_ZEROCOPY, 1);
	}
	close(ls);
	return 0;
fail:
	snprintf(r->err, sizeof(r->err), "loopback connection setup: %s", strerror(errno));
	if (ls >= 0)
		close(ls);
	return -1;
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* ---- the reading child ---- */

typedef struct child_report {
	double warm_us, end_us; /* own CPU when warmup bytes / all bytes were read */
	uint64_t bytes;
} child_report;

static double self_cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
}

/* Read and discard until `total` bytes came (or every peer closed), note
 * the CPU used after the first `warm` bytes, report it on `out`. */
static void child_main(int *rx, int n, uint64_t warm, uint64_t total, int out)
{
	static unsigned char sink[1 << 16];
	child_report rep = { 0 };
	int ep = epoll_create1(0), open_fds = n;
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = rx[i] };
		fcntl(rx[i], F_SETFL, fcntl(rx[i], F_GETFL) | O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, rx[i], &ev);
	}
	if (warm == 0)
		rep.warm_us = self_cpu_us();
	while (rep.bytes < total && open_fds > 0) {
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < k; i++) {
			ssize_t got = read(evs[i].data.fd, sink, sizeof(sink));
			if (got > 0) {
				if (rep.bytes < warm && rep.bytes + (uint64_t)got >= warm)
					rep.warm_us = self_cpu_us();
				rep.bytes += (uint64_t)got;
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, evs[i].data.fd, NULL);
				open_fds--;
			}
		}
	}
	rep.end_us = self_cpu_us();
	if (write(out, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(1);
	_exit(0);
}

static pid_t start_child(run *r, int *rd)
{
	int p[2];
	/* null-syscall sends nothing: the child reports at once */
	uint64_t per_round = r->v->kind == K_SYSCALL ? 0 : (uint64_t)r->n * (uint64_t)cfg.frame;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		close_all(r->tx, r->n);
		child_main(r->rx, r->n, per_round * (uint64_t)cfg.warmup,
			   per_round * (uint64_t)(cfg.warmup + cfg.rounds), p[1]);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	close_all(r->rx, r->n);
	*rd = p[0];
	return pid;
}

/* The child's report, waiting at most 60 s for it to read everything. */
static int child_result(int rd, child_report *rep)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	if (poll(&pfd, 1, 60000) != 1)
		return -1;
	return read(rd, rep, sizeof(*rep)) == (ssize_t)sizeof(*rep) ? 0 : -1;
}

/* ---- the sending variants ---- */

/* Finish a frame the socket did not take whole (EAGAIN or a short write)
 * the way an event loop would: wait for POLLOUT, send the rest. */
static int finish(run *r, int fd, size_t off)
{
	r->fallbacks++;
	while (off < (size_t)cfg.frame) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 10000) != 1)
			return -1;
		ssize_t k = send(fd, r->buf + off, (size_t)cfg.frame - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			off += (size_t)k;
		else if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
	return 0;
}

/* MSG_ZEROCOPY completions: ranges [ee_info, ee_data] of send calls, with
 * SO_EE_CODE_ZEROCOPY_COPIED when the kernel copied after all. */
static void zc_reap(run *r, int fd)
{
	char ctl[CMSG_SPACE(sizeof(struct sock_extended_err)) + 64];
	for (;;) {
		struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			struct sock_extended_err ee;
			if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR)
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			long cnt = (long)ee.ee_data - (long)ee.ee_info + 1;
			r->zc_done += cnt;
			if (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				r->zc_copied += cnt;
		}
	}
}

static int round_send(run *r)
{
	for (int i = 0; i < r->n; i++) {
		ssize_t k = send(r->tx[i], r->buf, (size_t)cfg.frame, r->v->send_flags);
		if (k == cfg.frame)
			continue;
		if (k < 0 && errno != EAGAIN && errno != EINTR && errno != ENOBUFS) {
			snprintf(r->err, sizeof(r->err), "send: %s", strerror(errno));
			return -1;
		}
		if (finish(r, r->tx[i], k > 0 ? (size_t)k : 0) < 0) {
			snprintf(r->err, sizeof(r->err), "send (finishing a partial write): %s", strerror(errno));
			return -1;
		}
	}
	if (r->v->kind == K_ZEROCOPY)
		for (int i = 0; i < r->n; i++)
			zc_reap(r, r->tx[i]);
	return 0;
}

static int uring_setup(run *r)
{
	struct io_uring_params p = { .flags = r->v->ring_flags };
	unsigned entries = 1;
	while (entries < (unsigned)r->n)
		entries <<= 1;
	int rc = io_uring_queue_init_params(entries, &r->ring, &p);
	if (rc < 0) {
		snprintf(r->err, sizeof(r->err), "unavailable: io_uring_setup: %s", strerror(-rc));
		return -1;
	}
	r->ring_up = true;
	if (r->v->fixed_files && (rc = io_uring_register_files(&r->ring, r->tx, (unsigned)r->n)) < 0) {
		snprintf(r->err, sizeof(r->err), "unavailable: io_uring_register_files: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

static int uring_done(run *r, const struct io_uring_cqe *cqe)
{
	int fd = r->tx[cqe->user_data];
	if (cqe->res == cfg.frame)
		return 0;
	if (cqe->res >= 0 || cqe->res == -EAGAIN)
		return finish(r, fd, cqe->res > 0 ? (size_t)cqe->res : 0);
	errno = -cqe->res;
	return -1;
}

/* All N sends in one io_uring_enter. Sends complete inline, inside that
 * call (counted: `late` = CQEs not there when it returned). */
static int round_uring(run *r)
{
	for (int i = 0; i < r->n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		/* MSG_DONTWAIT: a full socket completes with -EAGAIN inside
		 * this io_uring_enter instead of arming a poll */
		io_uring_prep_send(sqe, r->v->fixed_files ? i : r->tx[i], r->buf, (size_t)cfg.frame,
				   MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r->v->fixed_files)
			sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = (uint64_t)i;
	}
	int rc = io_uring_submit(&r->ring);
	if (rc >= 0) /* an edge could only use this if every send completes inside that call */
		r->late += r->n - (long)io_uring_cq_ready(&r->ring);
	for (int seen = 0; rc >= 0 || rc == -EINTR;) {
		struct io_uring_cqe *cqe;
		unsigned head, k = 0;
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			if (uring_done(r, cqe) < 0) {
				snprintf(r->err, sizeof(r->err), "io_uring send: %s", strerror(errno));
				return -1;
			}
			k++;
		}
		io_uring_cq_advance(&r->ring, k);
		if ((seen += (int)k) >= r->n)
			return 0;
		rc = io_uring_wait_cqe(&r->ring, &cqe);
	}
	snprintf(r->err, sizeof(r->err), "io_uring_enter: %s", strerror(-rc));
	return -1;
}

/* The reference: what entering and leaving the kernel costs here. */
static int round_syscall(run *r)
{
	for (int i = 0; i < r->n; i++)
		if (syscall(SYS_getppid) < 0)
			return -1;
	return 0;
}

static int do_round(run *r)
{
	switch (r->v->kind) {
	case K_URING:
		return round_uring(r);
	case K_SYSCALL:
		return round_syscall(r);
	default:
		return round_send(r);
	}
}

/* ---- one run: connections, child, rounds, numbers ---- */

static void pace(struct timespec *next)
{
	if (!cfg.rate)
		return;
	long step = 1000000000L / cfg.rate;
	next->tv_nsec += step;
	while (next->tv_nsec >= 1000000000L) {
		next->tv_nsec -= 1000000000L;
		next->tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
		;
}

/* TCP segments the sending ends put on the wire so far (data segments:
 * fewer than sends when Nagle or autocorking merged some). */
static uint64_t segs_out(const run *r)
{
	uint64_t sum = 0;
	for (int i = 0; i < r->n; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (getsockopt(r->tx[i], IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
			sum += ti.tcpi_segs_out;
	}
	return sum;
}

/* The rounds; the sender's CPU and wall time of the measured ones. */
static int send_rounds(run *r, result *res)
{
	struct rusage ru0 = { 0 }, ru1;
	struct timespec next;
	double t0 = 0;
	uint64_t segs0 = 0;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < cfg.warmup + cfg.rounds; i++) {
		if (i == cfg.warmup) {
			segs0 = segs_out(r);
			getrusage(RUSAGE_SELF, &ru0);
			t0 = now_s();
		}
		if (do_round(r) < 0)
			return -1;
		pace(&next);
	}
	getrusage(RUSAGE_SELF, &ru1);
	double sends = (double)r->n * (double)cfg.rounds;
	res->rounds_per_s = (double)cfg.rounds / (now_s() - t0);
	res->snd_user_us = (tv_us(ru1.ru_utime) - tv_us(ru0.ru_utime)) / sends;
	res->snd_sys_us = (tv_us(ru1.ru_stime) - tv_us(ru0.ru_stime)) / sends;
	res->snd_us = res->snd_user_us + res->snd_sys_us;
	res->segs_per_send = (double)(segs_out(r) - segs0) / sends;
	return 0;
}

static void finish_run(run *r, pid_t pid, int rd, result *res)
{
	child_report rep;
	if (res->ok && child_result(rd, &rep) == 0)
		res->rcv_us = (rep.end_us - rep.warm_us) / ((double)r->n * (double)cfg.rounds);
	else if (res->ok) {
		res->ok = false;
		snprintf(r->err, sizeof(r->err), "the reading child did not report");
	}
	if (r->ring_up)
		io_uring_queue_exit(&r->ring);
	close_all(r->tx, r->n); /* the child sees EOF if it still waits */
	close(rd);
	kill(pid, SIGTERM);     /* no-op when it already exited */
	waitpid(pid, NULL, 0);
}

static void one_run(const variant *v, result *res)
{
	int rd = -1;
	pid_t pid;
	run r = { .v = v, .n = (int)cfg.connections };
	r.tx = malloc(sizeof(int) * (size_t)r.n);
	r.rx = malloc(sizeof(int) * (size_t)r.n);
	r.buf = malloc((size_t)cfg.frame);
	memset(res, 0, sizeof(*res));
	if (!r.tx || !r.rx || !r.buf) {
		snprintf(res->err, sizeof(res->err), "out of memory");
		goto out;
	}
	memset(r.buf, 'x', (size_t)cfg.frame);
	r.buf[0] = 0x81; /* a WebSocket text frame, for the look of it */
	for (int i = 0; i < r.n; i++)
		r.tx[i] = r.rx[i] = -1;
	if (make_pairs(&r) < 0)
		goto fail;
	pid = start_child(&r, &rd);
	if (pid < 0) {
		snprintf(r.err, sizeof(r.err), "fork: %s", strerror(errno));
		goto fail;
	}
	res->ok = !(v->kind == K_URING && uring_setup(&r) < 0) && send_rounds(&r, res) == 0;
	res->load1 = load1();
	finish_run(&r, pid, rd, res);
	res->fallbacks = r.fallbacks;
	res->zc_done = r.zc_done;
	res->zc_copied = r.zc_copied;
	res->late = r.late;
fail:
	if (!res->ok)
		snprintf(res->err, sizeof(res->err), "%s", r.err);
	close_all(r.tx, r.n);
	close_all(r.rx, r.n);
out:
	free(r.tx);
	free(r.rx);
	free(r.buf);
}

/* ---- medians and the report ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of one field over the runs that worked. */
static double median(const result *rs, int k, size_t off)
{
	double v[MAX_REPEAT];
	int m = 0;
	for (int i = 0; i < k; i++)
		if (rs[i].ok)
			memcpy(&v[m++], (const char *)&rs[i] + off, sizeof(double));
	if (!m)
		return 0;
	qsort(v, (size_t)m, sizeof(double), cmp_double);
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

#define MED(rs, k, f) median(rs, k, offsetof(result, f))

static const char *first_error(const result *rs, int k)
{
	for (int i = 0; i < k; i++)
		if (!rs[i].ok)
			return rs[i].err;
	return NULL;
}

static int runs_ok(const result *rs, int k)
{
	int m = 0;
	for (int i = 0; i < k; i++)
		m += rs[i].ok;
	return m;
}

static long sum_long(const result *rs, int k, size_t off)
{
	long s = 0, v;
	for (int i = 0; i < k; i++) {
		memcpy(&v, (const char *)&rs[i] + off, sizeof(long));
		s += v;
	}
	return s;
}

static void print_table(const variant **sel, int nsel, result (*rs)[MAX_REPEAT], int k)
{
	printf("swb-send-floor: %ld connections, %ld rounds (+%ld warmup) ", cfg.connections, cfg.rounds, cfg.warmup);
	if (cfg.rate)
		printf("at %ld rounds/s", cfg.rate);
	else
		printf("back to back");
	printf(", %ld-byte frames; median of %d runs\n\n", cfg.frame, k);
	printf("%-16s %10s %10s %10s %10s %9s %9s %6s %9s\n", "variant", "snd us/s", "(user", "sys)", "rcv us/s",
	       "segs/send", "rounds/s", "load1", "fallbacks");
	for (int v = 0; v < nsel; v++) {
		const result *r = rs[v];
		if (!runs_ok(r, k)) {
			printf("%-16s %s\n", sel[v]->name, first_error(r, k));
			continue;
		}
		printf("%-16s %10.2f %10.2f %10.2f %10.2f %9.3f %9.1f %6.2f %9ld", sel[v]->name, MED(r, k, snd_us),
		       MED(r, k, snd_user_us), MED(r, k, snd_sys_us), MED(r, k, rcv_us), MED(r, k, segs_per_send),
		       MED(r, k, rounds_per_s),
		       MED(r, k, load1), sum_long(r, k, offsetof(result, fallbacks)));
		if (sel[v]->kind == K_URING)
			printf("  late completions %ld", sum_long(r, k, offsetof(result, late)));
		if (sel[v]->kind == K_ZEROCOPY)
			printf("  zerocopy completions %ld, copied %ld",
			       sum_long(r, k, offsetof(result, zc_done)), sum_long(r, k, offsetof(result, zc_copied)));
		if (first_error(r, k))
			printf("  (a run failed: %s)", first_error(r, k));
		printf("\n");
	}
	printf("\nus/s = CPU microseconds per send (getrusage user+sys); snd = the sending process, rcv = the\n"
	       "reading child (epoll + read). segs/send = TCP segments the sending ends sent per send (Nagle and\n"
	       "autocorking merge small sends). fallbacks = sends the socket did not take whole (finished after poll).\n");
}

static void print_json_run(const result *r)
{
	printf("{\"ok\":%s,\"sender_us_per_send\":%.4f,\"receiver_us_per_send\":%.4f,\"tcp_segs_per_send\":%.4f,"
	       "\"rounds_per_s\":%.2f,\"load1\":%.2f,\"fallbacks\":%ld}",
	       r->ok ? "true" : "false", r->snd_us, r->rcv_us, r->segs_per_send, r->rounds_per_s, r->load1,
	       r->fallbacks);
}

static void print_json(const variant **sel, int nsel, result (*rs)[MAX_REPEAT], int k)
{
	printf("{\"connections\":%ld,\"rounds\":%ld,\"warmup\":%ld,\"rate\":%ld,\"frame\":%ld,\"repeat\":%d,"
	       "\"variants\":[",
	       cfg.connections, cfg.rounds, cfg.warmup, cfg.rate, cfg.frame, k);
	for (int v = 0; v < nsel; v++) {
		const result *r = rs[v];
		const char *err = first_error(r, k);
		printf("%s{\"name\":\"%s\",\"what\":\"%s\",\"available\":%s,\"sender_us_per_send\":%.4f,"
		       "\"sender_user_us_per_send\":%.4f,\"sender_sys_us_per_send\":%.4f,"
		       "\"receiver_us_per_send\":%.4f,\"tcp_segs_per_send\":%.4f,\"rounds_per_s\":%.2f,\"load1\":%.2f,\"fallbacks\":%ld,"
		       "\"zerocopy_completions\":%ld,\"zerocopy_copied\":%ld,\"uring_late_completions\":%ld,\"error\":",
		       v ? "," : "", sel[v]->name, sel[v]->what, runs_ok(r, k) ? "true" : "false", MED(r, k, snd_us),
		       MED(r, k, snd_user_us), MED(r, k, snd_sys_us), MED(r, k, rcv_us), MED(r, k, segs_per_send),
		       MED(r, k, rounds_per_s), MED(r, k, load1), sum_long(r, k, offsetof(result, fallbacks)),
		       sum_long(r, k, offsetof(result, zc_done)), sum_long(r, k, offsetof(result, zc_copied)),
		       sum_long(r, k, offsetof(result, late)));
		if (err)
			printf("\"%s\"", err); /* our own strerror texts: no quotes or backslashes */
		else
			printf("null");
		printf(",\"runs\":[");
		for (int i = 0; i < k; i++) {
			printf(i ? "," : "");
			print_json_run(&r[i]);
		}
		printf("]}");
	}
	printf("]}\n");
}

/* ---- main ---- */

static int select_variants(const variant **sel)
{
	int n = 0;
	if (!cfg.only.n) {
		for (size_t i = 0; i < N_VARIANTS; i++)
			sel[n++] = &variants[i];
		return n;
	}
	for (size_t j = 0; j < cfg.only.n; j++) {
		size_t i = 0;
		while (i < N_VARIANTS && strcmp(variants[i].name, cfg.only.items[j]))
			i++;
		if (i == N_VARIANTS)
			swb_opts_usage_error(&spec, "unknown variant '%s'", cfg.only.items[j]);
		if (n < (int)N_VARIANTS)
			sel[n++] = &variants[i];
	}
	return n;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * cfg.connections + 64))
		swb_opts_usage_error(&spec, "--connections %ld needs %ld file descriptors, the limit is %ld",
				     cfg.connections, 2 * cfg.connections + 64, (long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
	static result rs[N_VARIANTS][MAX_REPEAT];
	const variant *sel[N_VARIANTS];
	int first = swb_opts_parse(&spec, argc, argv);
	if (first < argc)
		swb_opts_usage_error(&spec, "unexpected argument '%s'", argv[first]);
	int nsel = select_variants(sel);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	int k = (int)cfg.repeat, worked = 0;
	for (int i = 0; i < k; i++)
		for (int v = 0; v < nsel; v++) {
			/* an unavailable variant stays unavailable: run it once */
			if (i > 0 && !runs_ok(rs[v], i) && strncmp(rs[v][0].err, "unavailable", 11) == 0) {
				rs[v][i] = rs[v][0];
				continue;
			}
			one_run(sel[v], &rs[v][i]);
			worked += rs[v][i].ok;
		}
	if (cfg.json)
		print_json(sel, nsel, rs, k);
	else
		print_table(sel, nsel, rs, k);
	swb_opts_release(&spec);
	return worked ? 0 : 1;
}
