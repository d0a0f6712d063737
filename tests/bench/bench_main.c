/* bench_main.c: swb-bench, the Switchboard load generator. The parent
 * parses the flags, forks the subscriber workers (bench_worker.c; each
 * holds at most ~19,000 sockets because of the 20,000-fd hard limit),
 * waits for their setup reports, then either holds the connections idle
 * and measures memory, or publishes through the HTTP API
 * (bench_pub.c) step by step and collects each step's delivery reports.
 * It samples CPU and memory of the Switchboard processes (--pid,
 * --pids-from-runtime-dir) around every step and prints one report (human
 * or --json). Exit: 0 the run completed (losses are reported, not fatal);
 * 1 setup failed; 2 bad flags. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "sbuf.h"

#define MAX_PIDS 256
#define MAX_WORKERS 64

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint32_t bench_channel_of(const bench_cfg *c, uint32_t conn)
{
	switch (c->pattern) {
	case PAT_ONE:
		return 0;
	case PAT_EACH:
		return conn;
	default:
		return conn % c->nchannels;
	}
}

size_t bench_channel_name(const bench_cfg *c, uint32_t ch, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%u", c->channel_prefix, ch);
	return n < 0 ? 0 : (size_t)n;
}

/* ------------------------------------------------------------------ flags */

static bench_cfg cfg = {
	.mode = "publish",
	.connections = 100,
	.source_base = "127.0.0.1",
	.connect_rate = 2000,
	.max_handshakes = 256,
	.connect_timeout = 15,
	.channels = 1,
	.pattern_s = "one",
	.channel_prefix = "bench-",
	.app = "bench:bench-key:bench-secret",
	.rate = 100,
	.duration = 10,
	.warmup = 2,
	.drain = 2,
	.http_conns = 8,
	.hold = 5,
};

static swb_opt opts[] = {
	{ "mode", "SWB_BENCH_MODE", SWB_OPT_STR, "MODE", "idle (connect, subscribe, hold, report memory) or publish (default)", &cfg.mode, 0, 0 },
	{ "target", "SWB_BENCH_TARGETS", SWB_OPT_LIST, "HOST:PORT", "an edge to connect subscribers to (repeatable; round-robin)", &cfg.target_list, 0, 0 },
	{ "connections", "SWB_BENCH_CONNECTIONS", SWB_OPT_INT, "N", "subscriber connections (default 100)", &cfg.connections, 0, 2000000 },
	{ "workers", "SWB_BENCH_WORKERS", SWB_OPT_INT, "K", "subscriber processes (default: enough for 19,000 sockets each)", &cfg.workers, 0, MAX_WORKERS },
	{ "source-ips", "SWB_BENCH_SOURCE_IPS", SWB_OPT_INT, "COUNT", "loopback source addresses to spread over (default N/25000+1)", &cfg.source_ips, 0, 65536 },
	{ "source-base", "SWB_BENCH_SOURCE_BASE", SWB_OPT_STR, "IP", "first source address (default 127.0.0.1; the next ones count up)", &cfg.source_base, 0, 0 },
	{ "connect-rate", "SWB_BENCH_CONNECT_RATE", SWB_OPT_INT, "PER_S", "new connections per second (default 2000)", &cfg.connect_rate, 1, 1000000 },
	{ "max-handshakes", "SWB_BENCH_MAX_HANDSHAKES", SWB_OPT_INT, "N", "handshakes in flight at most (default 256)", &cfg.max_handshakes, 1, 100000 },
	{ "connect-timeout", "SWB_BENCH_CONNECT_TIMEOUT", SWB_OPT_INT, "SECS", "per connection, until subscribed (default 15)", &cfg.connect_timeout, 1, 3600 },
	{ "channels", "SWB_BENCH_CHANNELS", SWB_OPT_INT, "M", "channels for --pattern mod (default 1)", &cfg.channels, 1, 2000000 },
	{ "pattern", "SWB_BENCH_PATTERN", SWB_OPT_STR, "P", "one (all on channel 0), each (connection i on channel i), mod (i on channel i%M)", &cfg.pattern_s, 0, 0 },
	{ "channel-prefix", "SWB_BENCH_CHANNEL_PREFIX", SWB_OPT_STR, "S", "channel name prefix (default bench-)", &cfg.channel_prefix, 0, 0 },
	{ "app", "SWB_BENCH_APP", SWB_OPT_STR, "ID:KEY:SECRET", "the app (default bench:bench-key:bench-secret)", &cfg.app, 0, 0 },
	{ "publish-target", "SWB_BENCH_PUBLISH_TARGET", SWB_OPT_STR, "HOST:PORT", "edge whose HTTP API publishes (default: the first --target)", &cfg.publish_target_s, 0, 0 },
	{ "rate", "SWB_BENCH_RATE", SWB_OPT_INT, "PER_S", "publishes per second (default 100)", &cfg.rate, 1, 10000000 },
	{ "rate-steps", "SWB_BENCH_RATE_STEPS", SWB_OPT_STR, "R1,R2,...", "publish rates to step through (overrides --rate)", &cfg.rate_steps_s, 0, 0 },
	{ "duration", "SWB_BENCH_DURATION", SWB_OPT_INT, "SECS", "publishing time per step (default 10)", &cfg.duration, 1, 86400 },
	{ "warmup", "SWB_BENCH_WARMUP", SWB_OPT_INT, "SECS", "unrecorded publishing before the first step (default 2)", &cfg.warmup, 0, 3600 },
	{ "drain", "SWB_BENCH_DRAIN", SWB_OPT_INT, "SECS", "wait after each step before counting (default 2)", &cfg.drain, 0, 600 },
	{ "payload", "SWB_BENCH_PAYLOAD", SWB_OPT_INT, "BYTES", "pad each event's data to at least BYTES (default 0; max 9000)", &cfg.payload, 0, 9000 },
	{ "stop-p99-ms", "SWB_BENCH_STOP_P99_MS", SWB_OPT_INT, "MS", "stop stepping once a step's p99 exceeds MS or loses deliveries (default off)", &cfg.stop_p99_ms, 0, 3600000 },
	{ "http-conns", "SWB_BENCH_HTTP_CONNS", SWB_OPT_INT, "N", "keep-alive HTTP connections for publishing (default 8)", &cfg.http_conns, 1, 1024 },
	{ "hold", "SWB_BENCH_HOLD", SWB_OPT_INT, "SECS", "idle mode: hold the connections this long before measuring (default 5)", &cfg.hold, 0, 86400 },
	{ "pid", "SWB_BENCH_PIDS", SWB_OPT_LIST, "PID", "a server process to measure (repeatable)", &cfg.pid_list, 0, 0 },
	{ "pids-from-runtime-dir", "SWB_BENCH_RUNTIME_DIRS", SWB_OPT_LIST, "DIR", "measure that host's bridge and edges (swbctl status; repeatable)", &cfg.runtime_dirs, 0, 0 },
	{ "swbctl", "SWB_BENCH_SWBCTL", SWB_OPT_STR, "PATH", "swbctl binary (default: next to swb-bench)", &cfg.swbctl, 0, 0 },
	{ "max-seconds", "SWB_BENCH_MAX_SECONDS", SWB_OPT_INT, "SECS", "watchdog: give up (killing the workers) after SECS (default off)", &cfg.max_seconds, 0, 864000 },
	{ "json", "SWB_BENCH_JSON", SWB_OPT_FLAG, NULL, "print one JSON document instead of the human report", &cfg.json, 0, 0 },
	{ "json-out", "SWB_BENCH_JSON_OUT", SWB_OPT_STR, "FILE", "also write the JSON document to FILE", &cfg.json_out, 0, 0 },
	{ 0 },
};

static swb_opts_spec spec = {
	.prog = "swb-bench",
	.usage = "--target HOST:PORT [options]",
	.summary = "Pusher-protocol load generator for Switchboard: opens N WebSocket subscribers (own epoll\n"
		   "client), publishes through the signed HTTP API, and reports latency, losses, duplicates,\n"
		   "and CPU/memory of the server processes.",
	.epilog = "Exit status: 0 the run completed (losses are reported, not fatal), 1 setup failed\n"
		  "(could not connect or subscribe, no publish connection), 2 bad flags.",
	.opts = opts,
};

static int parse_hostport(const char *s, bench_target *t)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || !colon[1] || strlen(s) >= sizeof(t->hostport))
		return -1;
	char host[128];
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	memcpy(&t->addr, res->ai_addr, sizeof(t->addr));
	t->addr.sin_port = htons((uint16_t)port);
	freeaddrinfo(res);
	snprintf(t->hostport, sizeof(t->hostport), "%s", s);
	return 0;
}

static long fd_budget(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		long avail = rl.rlim_cur == RLIM_INFINITY ? 1000000 : (long)rl.rlim_cur - 64;
		return avail < BENCH_FD_BUDGET ? avail : BENCH_FD_BUDGET;
	}
	return 1000;
}

static void validate(void)
{
	bench_cfg *c = &cfg;
	if (!strcmp(c->mode, "idle"))
		c->idle = true;
	else if (strcmp(c->mode, "publish") != 0)
		swb_opts_usage_error(&spec, "invalid value for --mode: expected idle or publish");
	if (!strcmp(c->pattern_s, "one"))
		c->pattern = PAT_ONE;
	else if (!strcmp(c->pattern_s, "each"))
		c->pattern = PAT_EACH;
	else if (!strcmp(c->pattern_s, "mod"))
		c->pattern = PAT_MOD;
	else
		swb_opts_usage_error(&spec, "invalid value for --pattern: expected one, each or mod");
	c->nchannels = c->pattern == PAT_ONE ? 1
		     : c->pattern == PAT_EACH ? (uint32_t)(c->connections ? c->connections : 1)
					      : (uint32_t)c->channels;
	if (c->target_list.n == 0)
		swb_opts_usage_error(&spec, "missing --target HOST:PORT");
	if (c->target_list.n > BENCH_MAX_TARGETS)
		swb_opts_usage_error(&spec, "too many --target (at most %d)", BENCH_MAX_TARGETS);
	for (size_t i = 0; i < c->target_list.n; i++)
		if (parse_hostport(c->target_list.items[i], &c->targets[c->ntargets++]) < 0)
			swb_opts_usage_error(&spec, "invalid value for --target: '%s' (expected HOST:PORT)",
					     c->target_list.items[i]);
	const char *pt = c->publish_target_s ? c->publish_target_s : c->target_list.items[0];
	if (parse_hostport(pt, &c->publish_target) < 0)
		swb_opts_usage_error(&spec, "invalid value for --publish-target: '%s' (expected HOST:PORT)", pt);
	const char *a = c->app, *c1 = strchr(a, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || c1 == a || c2 == c1 + 1 || !c2[1] || (size_t)(c1 - a) >= sizeof(c->app_id) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(c->app_key) || strlen(c2 + 1) >= sizeof(c->app_secret))
		swb_opts_usage_error(&spec, "invalid value for --app: expected ID:KEY:SECRET");
	snprintf(c->app_id, sizeof(c->app_id), "%.*s", (int)(c1 - a), a);
	snprintf(c->app_key, sizeof(c->app_key), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	snprintf(c->app_secret, sizeof(c->app_secret), "%s", c2 + 1);
	if (strlen(c->channel_prefix) > 150)
		swb_opts_usage_error(&spec, "--channel-prefix is too long");
	for (const char *p = c->channel_prefix; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=@,.;", *p))
			swb_opts_usage_error(&spec, "invalid character '%c' in --channel-prefix", *p);
	if (c->rate_steps_s) {
		const char *p = c->rate_steps_s;
		while (*p) {
			char *end;
			long r = strtol(p, &end, 10);
			if (end == p || r < 1 || r > 10000000 || (*end && *end != ','))
				swb_opts_usage_error(&spec, "invalid value for --rate-steps: expected R1,R2,... (1-10000000)");
			if (c->nsteps == BENCH_MAX_STEPS)
				swb_opts_usage_error(&spec, "--rate-steps: at most %d steps", BENCH_MAX_STEPS);
			c->steps[c->nsteps++] = r;
			p = *end ? end + 1 : end;
		}
		if (!c->nsteps)
			swb_opts_usage_error(&spec, "invalid value for --rate-steps: empty");
	} else {
		c->steps[c->nsteps++] = c->rate;
	}
	struct in_addr ia;
	if (inet_pton(AF_INET, c->source_base, &ia) != 1)
		swb_opts_usage_error(&spec, "invalid value for --source-base: expected an IPv4 address");
	c->source_base_ip = ntohl(ia.s_addr);
	if (!c->source_ips)
		c->source_ips = c->connections / 25000 + 1;
	if ((uint64_t)c->source_base_ip + (uint64_t)c->source_ips > 0x7fffffffull)
		swb_opts_usage_error(&spec, "--source-base + --source-ips leaves 127.0.0.0/8");
	long budget = fd_budget();
	if (budget < 16)
		swb_opts_usage_error(&spec, "the fd limit is too low");
	if (!c->workers)
		c->workers = c->connections ? (c->connections + budget - 1) / budget : 1;
	if (c->workers > MAX_WORKERS)
		swb_opts_usage_error(&spec, "%ld connections need more than %d workers", c->connections, MAX_WORKERS);
	if ((c->connections + c->workers - 1) / c->workers > budget)
		swb_opts_usage_error(&spec, "%ld connections over %ld workers exceed %ld sockets per process (fd limit)",
				     c->connections, c->workers, budget);
	if (c->pattern != PAT_EACH && c->http_conns / (long)c->nchannels > 48)
		fprintf(stderr, "swb-bench: warning: %ld HTTP connections publishing to %u channel(s) may reorder one "
				"channel's events by more than the 64-wide duplicate window (late ones would count as "
				"duplicates)\n",
			c->http_conns, c->nchannels);
	if (!c->swbctl) {
		static char path[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 16);
		if (n > 0) {
			path[n] = '\0';
			char *slash = strrchr(path, '/');
			strcpy(slash ? slash + 1 : path, "swbctl");
			c->swbctl = path;
		} else {
			c->swbctl = "swbctl";
		}
	}
}

/* ------------------------------------------------------- worker plumbing */

typedef struct wk {
	pid_t pid;
	int fd;
	uint32_t lo, hi;
} wk;

static wk workers[MAX_WORKERS];
static int nworkers;

static int read_full(int fd, void *p, size_t n, int timeout_ms)
{
	char *b = p;
	while (n) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int r = poll(&pf, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -2;
		ssize_t k = read(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read one message of type from worker i into body; extra (if any) is
 * malloc'd into *extra. Exits 1 if the worker died or timed out. */
static void read_msg(int i, uint32_t type, void *body, size_t blen, void **extra, int timeout_ms)
{
	bench_msg_hdr h;
	int r = read_full(workers[i].fd, &h, sizeof(h), timeout_ms);
	if (r == 0 && h.type != type)
		r = -3;
	if (r == 0)
		r = read_full(workers[i].fd, body, blen, 10000);
	void *x = NULL;
	if (r == 0 && h.extra_len) {
		x = malloc(h.extra_len);
		r = x ? read_full(workers[i].fd, x, h.extra_len, 10000) : -1;
	}
	if (r < 0) {
		fprintf(stderr, "swb-bench: worker %d (pid %d) %s\n", i, (int)workers[i].pid,
			r == -2 ? "did not report in time" : r == -3 ? "sent an unexpected message" : "died");
		for (int j = 0; j < nworkers; j++)
			kill(workers[j].pid, SIGKILL);
		exit(1);
	}
	if (extra)
		*extra = x;
	else
		free(x);
}

static void send_cmd(int i, uint8_t cmd, uint32_t step)
{
	uint8_t b[5] = { cmd };
	memcpy(b + 1, &step, 4);
	if (write(workers[i].fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
		/* the read that follows reports the dead worker */
	}
}

static void start_workers(void)
{
	uint32_t n = (uint32_t)cfg.connections, k = (uint32_t)cfg.workers;
	fflush(NULL);
	for (uint32_t i = 0; i < k; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			perror("swb-bench: socketpair");
			exit(1);
		}
		uint32_t lo = (uint32_t)((uint64_t)n * i / k), hi = (uint32_t)((uint64_t)n * (i + 1) / k);
		pid_t pid = fork();
		if (pid < 0) {
			perror("swb-bench: fork");
			exit(1);
		}
		if (pid == 0) {
			close(sv[0]);
			for (int j = 0; j < nworkers; j++)
				close(workers[j].fd);
			bench_worker_main(&cfg, lo, hi, sv[1]);
		}
		close(sv[1]);
		workers[nworkers++] = (wk){ pid, sv[0], lo, hi };
	}
}

/* ------------------------------------------------------------ measuring */

static bench_proc procs[MAX_PIDS];
static int nprocs;

static void add_pid(int pid)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return;
	if (nprocs == MAX_PIDS)
		return;
	bench_proc *p = &procs[nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	bench_proc_name(pid, p->name, sizeof(p->name));
	if (!p->name[0])
		snprintf(p->name, sizeof(p->name), "?");
}

static double servers_cpu(void)
{
	double s = 0;
	for (int i = 0; i < nprocs; i++) {
		double v = bench_proc_cpu(procs[i].pid);
		if (v < 0)
			procs[i].gone = true;
		else
			s += v;
	}
	return s;
}

static double bench_cpu(void)
{
	double s = bench_proc_cpu(getpid());
	for (int i = 0; i < nworkers; i++) {
		double v = bench_proc_cpu(workers[i].pid);
		if (v > 0)
			s += v;
	}
	return s;
}

static void sample_mem(bool start)
{
	for (int i = 0; i < nprocs; i++) {
		long rss = 0, hwm = 0;
		if (bench_proc_mem(procs[i].pid, &rss, &hwm) < 0) {
			procs[i].gone = true;
			continue;
		}
		if (start)
			procs[i].rss_start_kb = rss;
		procs[i].rss_kb = rss;
		procs[i].hwm_kb = hwm;
		procs[i].cpu_step = bench_proc_cpu(procs[i].pid);
		if (start)
			procs[i].cpu_start = procs[i].cpu_step;
	}
}

/* --------------------------------------------------------------- results */

typedef struct step_result {
	long rate;
	double seconds, window_s, active_s; /* active: first publish -> last delivery or response */
	bench_pub_step pub;
	bench_step_rep rx;
	uint64_t expected;
	double server_cpu_s, bench_cpu_s;
} step_result;

static struct {
	bench_setup_rep setup;
	uint32_t *subs;
	bench_final_rep fin;
	step_result *steps[BENCH_MAX_STEPS];
	size_t nsteps;
	bool stopped_early;
	char stop_reason[128];
	bool setup_ok;
	char error[256];
	bench_ktcp k0, k1;
	double idle_hold_s;
	uint64_t t_start, t_end;
} R;

static void merge_setup(const bench_setup_rep *s, const uint32_t *subs)
{
	bench_setup_rep *a = &R.setup;
	a->requested += s->requested;
	a->tcp_connected += s->tcp_connected;
	a->upgraded += s->upgraded;
	a->subscribed += s->subscribed;
	a->failed += s->failed;
	if (s->t_first_ns && (!a->t_first_ns || s->t_first_ns < a->t_first_ns))
		a->t_first_ns = s->t_first_ns;
	if (s->t_last_ns > a->t_last_ns)
		a->t_last_ns = s->t_last_ns;
	if (!a->first_error[0] && s->first_error[0])
		memcpy(a->first_error, s->first_error, sizeof(a->first_error));
	swb_hist_merge(&a->handshake, &s->handshake);
	for (uint32_t c = 0; c < cfg.nchannels; c++)
		R.subs[c] += subs[c];
}

static void collect_setup(void)
{
	swb_hist_init(&R.setup.handshake);
	R.subs = calloc(cfg.nchannels, sizeof(uint32_t));
	static bench_setup_rep s;
	/* generous: the connect-rate ramp plus the per-connection timeout */
	long ms = (long)((double)cfg.connections / (double)cfg.connect_rate * 1000.0) * 2 +
		  cfg.connect_timeout * 1000 + 30000;
	if (ms > INT_MAX)
		ms = INT_MAX;
	for (int i = 0; i < nworkers; i++) {
		void *subs = NULL;
		read_msg(i, MSG_SETUP, &s, sizeof(s), &subs, (int)ms);
		merge_setup(&s, subs);
		free(subs);
	}
}

static void collect_step(step_result *sr, uint32_t step)
{
	static bench_step_rep s;
	swb_hist_init(&sr->rx.lat);
	for (int i = 0; i < nworkers; i++)
		send_cmd(i, CMD_REPORT, step);
	for (int i = 0; i < nworkers; i++) {
		read_msg(i, MSG_STEP, &s, sizeof(s), NULL, 30000);
		sr->rx.received += s.received;
		sr->rx.duplicates += s.duplicates;
		sr->rx.wrong_channel += s.wrong_channel;
		sr->rx.bad_payload += s.bad_payload;
		if (s.t_last_ns > sr->rx.t_last_ns)
			sr->rx.t_last_ns = s.t_last_ns;
		swb_hist_merge(&sr->rx.lat, &s.lat);
	}
	sr->expected = 0;
	for (uint32_t c = 0; c < cfg.nchannels; c++)
		sr->expected += (uint64_t)R.subs[c] * sr->pub.ok_per_channel[c];
}

static void quit_workers(void)
{
	bench_final_rep f;
	for (int i = 0; i < nworkers; i++)
		send_cmd(i, CMD_QUIT, 0);
	for (int i = 0; i < nworkers; i++) {
		read_msg(i, MSG_FINAL, &f, sizeof(f), NULL, 30000);
		R.fin.late += f.late;
		R.fin.disconnects += f.disconnects;
		R.fin.protocol_errors += f.protocol_errors;
		R.fin.pusher_errors += f.pusher_errors;
		R.fin.pings += f.pings;
		R.fin.ws_pings += f.ws_pings;
		R.fin.other_events += f.other_events;
		if (!R.fin.first_error[0] && f.first_error[0])
			memcpy(R.fin.first_error, f.first_error, sizeof(f.first_error));
	}
	for (int i = 0; i < nworkers; i++) {
		waitpid(workers[i].pid, NULL, 0);
		close(workers[i].fd);
	}
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

static int run_publish(void)
{
	bench_pub *pub = bench_pub_new(&cfg);
	if (!pub) {
		snprintf(R.error, sizeof(R.error), "out of memory");
		return -1;
	}
	int rc = 0;
	if (cfg.warmup > 0) {
		bench_pub_step w = { 0 };
		w.ok_per_channel = calloc(cfg.nchannels, sizeof(uint32_t));
		swb_hist_init(&w.rtt);
		if (bench_pub_run(pub, 0, cfg.steps[0], (double)cfg.warmup, &w) < 0) {
			snprintf(R.error, sizeof(R.error), "%s", w.first_error);
			rc = -1;
		} else if (w.attempted && !w.ok) {
			snprintf(R.error, sizeof(R.error), "every warmup publish failed (first: %s)", w.first_error);
			rc = -1;
		}
		free(w.ok_per_channel);
	}
	for (size_t s = 0; rc == 0 && s < cfg.nsteps; s++) {
		step_result *sr = calloc(1, sizeof(*sr));
		if (!sr || !(sr->pub.ok_per_channel = calloc(cfg.nchannels, sizeof(uint32_t)))) {
			snprintf(R.error, sizeof(R.error), "out of memory");
			rc = -1;
			break;
		}
		swb_hist_init(&sr->pub.rtt);
		sr->rate = cfg.steps[s];
		sr->seconds = (double)cfg.duration;
		double cpu0 = servers_cpu(), b0 = bench_cpu();
		uint64_t t0 = bench_now_ns();
		if (bench_pub_run(pub, (uint32_t)s + 1, sr->rate, sr->seconds, &sr->pub) < 0) {
			snprintf(R.error, sizeof(R.error), "%s", sr->pub.first_error);
			free(sr->pub.ok_per_channel);
			free(sr);
			rc = -1;
			break;
		}
		sleep_s((double)cfg.drain);
		sr->window_s = (double)(bench_now_ns() - t0) / 1e9;
		sr->server_cpu_s = servers_cpu() - cpu0;
		sr->bench_cpu_s = bench_cpu() - b0;
		collect_step(sr, (uint32_t)s + 1);
		uint64_t last = sr->rx.t_last_ns > sr->pub.t_last_ns ? sr->rx.t_last_ns : sr->pub.t_last_ns;
		sr->active_s = sr->pub.t_first_ns && last > sr->pub.t_first_ns ? (double)(last - sr->pub.t_first_ns) / 1e9
									       : sr->window_s;
		if (sr->active_s < sr->seconds)
			sr->active_s = sr->seconds;
		R.steps[R.nsteps++] = sr;
		if (sr->pub.attempted && !sr->pub.ok) {
			snprintf(R.error, sizeof(R.error), "every publish of step %zu failed (first: %s)", s + 1,
				 sr->pub.first_error);
			rc = -1;
			break;
		}
		if (!cfg.json)
			fprintf(stderr, "swb-bench: step %zu: %ld/s, %llu of %llu deliveries, p99 %.2f ms\n", s + 1,
				sr->rate, (unsigned long long)sr->rx.received, (unsigned long long)sr->expected,
				(double)swb_hist_quantile(&sr->rx.lat, 0.99) / 1e6);
		if (cfg.stop_p99_ms && s + 1 < cfg.nsteps) {
			double p99 = (double)swb_hist_quantile(&sr->rx.lat, 0.99) / 1e6;
			if (p99 > (double)cfg.stop_p99_ms || sr->rx.received < sr->expected) {
				R.stopped_early = true;
				snprintf(R.stop_reason, sizeof(R.stop_reason), "%s at %ld/s",
					 sr->rx.received < sr->expected ? "losses" : "p99 above --stop-p99-ms", sr->rate);
				break;
			}
		}
	}
	bench_pub_free(pub);
	return rc;
}

/* ---------------------------------------------------------------- report */

static void json_num(swb_sbuf *b, double v)
{
	if (isnan(v) || isinf(v))
		swb_sbuf_puts(b, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		swb_sbuf_printf(b, "%.0f", v);
	else
		swb_sbuf_printf(b, "%.3f", v);
}

static void json_kv(swb_sbuf *b, const char *k, double v, bool comma)
{
	swb_sbuf_printf(b, "%s\"%s\":", comma ? "," : "", k);
	json_num(b, v);
}

static void json_ks(swb_sbuf *b, const char *k, const char *v, bool comma)
{
	swb_sbuf_printf(b, "%s\"%s\":", comma ? "," : "", k);
	if (v && *v)
		swb_sbuf_json_str(b, v, strlen(v));
	else
		swb_sbuf_puts(b, "null");
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void json_hist(swb_sbuf *b, const char *k, const swb_hist *h)
{
	swb_sbuf_printf(b, ",\"%s\":{", k);
	json_kv(b, "count", (double)h->n, false);
	if (!h->n) {
		swb_sbuf_puts(b, ",\"p50\":null,\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null,\"mean\":null}");
		return;
	}
	json_kv(b, "p50", round(ms(swb_hist_quantile(h, 0.5)) * 1000) / 1000, true);
	json_kv(b, "p90", round(ms(swb_hist_quantile(h, 0.9)) * 1000) / 1000, true);
	json_kv(b, "p99", round(ms(swb_hist_quantile(h, 0.99)) * 1000) / 1000, true);
	json_kv(b, "p999", round(ms(swb_hist_quantile(h, 0.999)) * 1000) / 1000, true);
	json_kv(b, "max", round(ms(h->max) * 1000) / 1000, true);
	json_kv(b, "mean", round(swb_hist_mean(h) / 1e3) / 1000, true);
	swb_sbuf_puts(b, "}");
}

static uint64_t lost_of(const step_result *s)
{
	return s->expected > s->rx.received ? s->expected - s->rx.received : 0;
}

static double setup_seconds(void)
{
	return R.setup.t_last_ns > R.setup.t_first_ns ? (double)(R.setup.t_last_ns - R.setup.t_first_ns) / 1e9 : 0;
}

typedef struct totals {
	uint64_t expected, received, lost, dup, http_errors, attempted, ok;
	long rss_start, rss, hwm;
} totals;

static totals sum_totals(void)
{
	totals t = { 0 };
	for (size_t i = 0; i < R.nsteps; i++) {
		const step_result *s = R.steps[i];
		t.expected += s->expected;
		t.received += s->rx.received;
		t.lost += lost_of(s);
		t.dup += s->rx.duplicates;
		t.http_errors += s->pub.http_errors;
		t.attempted += s->pub.attempted;
		t.ok += s->pub.ok;
	}
	for (int i = 0; i < nprocs; i++) {
		t.rss_start += procs[i].rss_start_kb;
		t.rss += procs[i].rss_kb;
		t.hwm += procs[i].hwm_kb;
	}
	return t;
}

static void report_json(FILE *out)
{
	swb_sbuf b;
	swb_sbuf_init(&b);
	totals t = sum_totals();
	swb_sbuf_puts(&b, "{\"tool\":\"swb-bench\"");
	json_ks(&b, "version", SWB_VERSION, true);
	json_ks(&b, "mode", cfg.idle ? "idle" : "publish", true);
	swb_sbuf_puts(&b, ",\"ok\":");
	swb_sbuf_puts(&b, R.setup_ok && !R.error[0] ? "true" : "false");
	json_ks(&b, "error", R.error, true);
	/* config */
	swb_sbuf_puts(&b, ",\"config\":{\"targets\":[");
	for (size_t i = 0; i < cfg.ntargets; i++) {
		if (i)
			swb_sbuf_puts(&b, ",");
		swb_sbuf_json_str(&b, cfg.targets[i].hostport, strlen(cfg.targets[i].hostport));
	}
	swb_sbuf_puts(&b, "]");
	json_ks(&b, "publish_target", cfg.publish_target.hostport, true);
	json_kv(&b, "connections", (double)cfg.connections, true);
	json_kv(&b, "workers", (double)cfg.workers, true);
	json_kv(&b, "source_ips", (double)cfg.source_ips, true);
	json_ks(&b, "pattern", cfg.pattern_s, true);
	json_kv(&b, "channels", cfg.nchannels, true);
	json_kv(&b, "payload_bytes", (double)cfg.payload, true);
	json_kv(&b, "duration_s", (double)cfg.duration, true);
	json_kv(&b, "warmup_s", (double)cfg.warmup, true);
	json_kv(&b, "drain_s", (double)cfg.drain, true);
	json_kv(&b, "http_conns", (double)cfg.http_conns, true);
	swb_sbuf_puts(&b, ",\"rate_steps\":[");
	for (size_t i = 0; i < cfg.nsteps; i++)
		swb_sbuf_printf(&b, "%s%ld", i ? "," : "", cfg.steps[i]);
	swb_sbuf_puts(&b, "]}");
	/* setup */
	double ss = setup_seconds();
	swb_sbuf_puts(&b, ",\"setup\":{");
	json_kv(&b, "requested", (double)R.setup.requested, false);
	json_kv(&b, "tcp_connected", (double)R.setup.tcp_connected, true);
	json_kv(&b, "upgraded", (double)R.setup.upgraded, true);
	json_kv(&b, "subscribed", (double)R.setup.subscribed, true);
	json_kv(&b, "failed", (double)R.setup.failed, true);
	json_kv(&b, "seconds", round(ss * 1000) / 1000, true);
	json_kv(&b, "connect_rate", ss > 0 ? round((double)R.setup.subscribed / ss) : NAN, true);
	json_ks(&b, "first_error", R.setup.first_error, true);
	json_hist(&b, "handshake_ms", &R.setup.handshake);
	swb_sbuf_puts(&b, "}");
	/* steps */
	swb_sbuf_puts(&b, ",\"steps\":[");
	for (size_t i = 0; i < R.nsteps; i++) {
		const step_result *s = R.steps[i];
		swb_sbuf_puts(&b, i ? ",{" : "{");
		json_kv(&b, "rate", (double)s->rate, false);
		json_kv(&b, "seconds", s->seconds, true);
		json_kv(&b, "publishes_attempted", (double)s->pub.attempted, true);
		json_kv(&b, "publishes_ok", (double)s->pub.ok, true);
		json_kv(&b, "publishes_unsent", (double)s->pub.unsent, true);
		json_kv(&b, "publish_rate", round((double)s->pub.attempted / s->seconds), true);
		json_kv(&b, "http_errors", (double)s->pub.http_errors, true);
		json_kv(&b, "http_timeouts", (double)s->pub.timeouts, true);
		json_ks(&b, "first_http_error", s->pub.first_error, true);
		json_kv(&b, "expected", (double)s->expected, true);
		json_kv(&b, "received", (double)s->rx.received, true);
		json_kv(&b, "lost", (double)lost_of(s), true);
		/* deliveries beyond expected: publishes that failed (non-200) yet were delivered */
		json_kv(&b, "unexpected", s->rx.received > s->expected ? (double)(s->rx.received - s->expected) : 0, true);
		json_kv(&b, "duplicates", (double)s->rx.duplicates, true);
		json_kv(&b, "wrong_channel", (double)s->rx.wrong_channel, true);
		json_kv(&b, "bad_payload", (double)s->rx.bad_payload, true);
		json_kv(&b, "deliveries_per_s", round((double)s->rx.received / s->seconds), true);
		json_hist(&b, "latency_ms", &s->rx.lat);
		json_hist(&b, "publish_rtt_ms", &s->pub.rtt);
		json_kv(&b, "window_s", round(s->window_s * 1000) / 1000, true);
		json_kv(&b, "server_cpu_s", round(s->server_cpu_s * 100) / 100, true);
		json_kv(&b, "active_s", round(s->active_s * 1000) / 1000, true);
		json_kv(&b, "server_cpu_pct", nprocs ? round(s->server_cpu_s / s->active_s * 1000) / 10 : NAN, true);
		json_kv(&b, "server_cpu_us_per_delivery",
			nprocs && s->rx.received ? round(s->server_cpu_s * 1e6 / (double)s->rx.received * 100) / 100 : NAN,
			true);
		json_kv(&b, "bench_cpu_s", round(s->bench_cpu_s * 100) / 100, true);
		json_kv(&b, "bench_cpu_pct", round(s->bench_cpu_s / s->active_s * 1000) / 10, true);
		json_kv(&b, "bench_cpu_us_per_delivery",
			s->rx.received ? round(s->bench_cpu_s * 1e6 / (double)s->rx.received * 100) / 100 : NAN, true);
		swb_sbuf_puts(&b, "}");
	}
	swb_sbuf_puts(&b, "]");
	json_kv(&b, "stopped_early", 0, true);
	b.len -= 1; /* replace the 0 by a boolean */
	swb_sbuf_puts(&b, R.stopped_early ? "true" : "false");
	json_ks(&b, "stop_reason", R.stop_reason, true);
	/* totals */
	swb_sbuf_puts(&b, ",\"totals\":{");
	json_kv(&b, "expected", (double)t.expected, false);
	json_kv(&b, "received", (double)t.received, true);
	json_kv(&b, "lost", (double)t.lost, true);
	json_kv(&b, "duplicates", (double)t.dup, true);
	json_kv(&b, "late", (double)R.fin.late, true);
	json_kv(&b, "publishes_attempted", (double)t.attempted, true);
	json_kv(&b, "publishes_ok", (double)t.ok, true);
	json_kv(&b, "http_errors", (double)t.http_errors, true);
	json_kv(&b, "disconnects", (double)R.fin.disconnects, true);
	json_kv(&b, "protocol_errors", (double)R.fin.protocol_errors, true);
	json_kv(&b, "pusher_errors", (double)R.fin.pusher_errors, true);
	json_kv(&b, "pusher_pings", (double)R.fin.pings, true);
	json_kv(&b, "ws_pings", (double)R.fin.ws_pings, true);
	json_kv(&b, "other_events", (double)R.fin.other_events, true);
	json_ks(&b, "first_error", R.fin.first_error, true);
	swb_sbuf_puts(&b, "}");
	/* processes and memory */
	swb_sbuf_puts(&b, ",\"processes\":[");
	for (int i = 0; i < nprocs; i++) {
		const bench_proc *p = &procs[i];
		swb_sbuf_puts(&b, i ? ",{" : "{");
		json_kv(&b, "pid", p->pid, false);
		json_ks(&b, "name", p->name, true);
		json_kv(&b, "cpu_s", round((p->cpu_step - p->cpu_start) * 100) / 100, true);
		json_kv(&b, "rss_start_kb", (double)p->rss_start_kb, true);
		json_kv(&b, "rss_kb", (double)p->rss_kb, true);
		json_kv(&b, "hwm_kb", (double)p->hwm_kb, true);
		swb_sbuf_puts(&b, p->gone ? ",\"exited\":true}" : ",\"exited\":false}");
	}
	swb_sbuf_puts(&b, "],\"memory\":{");
	json_kv(&b, "server_rss_start_kb", nprocs ? (double)t.rss_start : NAN, false);
	json_kv(&b, "server_rss_kb", nprocs ? (double)t.rss : NAN, true);
	json_kv(&b, "server_hwm_kb", nprocs ? (double)t.hwm : NAN, true);
	json_kv(&b, "server_rss_per_connection_kb",
		cfg.idle && nprocs && R.setup.subscribed ? round((double)(t.rss - t.rss_start) / (double)R.setup.subscribed * 100) / 100
					     : NAN,
		true);
	json_kv(&b, "kernel_tcp_sockets_start", R.k0.inuse >= 0 ? (double)R.k0.inuse : NAN, true);
	json_kv(&b, "kernel_tcp_sockets", R.k1.inuse >= 0 ? (double)R.k1.inuse : NAN, true);
	json_kv(&b, "kernel_tcp_buffers_start_kb", R.k0.buf_kb >= 0 ? (double)R.k0.buf_kb : NAN, true);
	json_kv(&b, "kernel_tcp_buffers_kb", R.k1.buf_kb >= 0 ? (double)R.k1.buf_kb : NAN, true);
	json_kv(&b, "kernel_tcp_slab_start_kb", R.k0.slab_kb >= 0 ? (double)R.k0.slab_kb : NAN, true);
	json_kv(&b, "kernel_tcp_slab_kb", R.k1.slab_kb >= 0 ? (double)R.k1.slab_kb : NAN, true);
	json_kv(&b, "hold_s", cfg.idle ? R.idle_hold_s : NAN, true);
	swb_sbuf_puts(&b, "}");
	json_kv(&b, "wall_s", round((double)(R.t_end - R.t_start) / 1e7) / 100, true);
	swb_sbuf_puts(&b, "}\n");
	fwrite(b.p, 1, b.len, out);
	swb_sbuf_free(&b);
}

static void report_human(void)
{
	totals t = sum_totals();
	double ss = setup_seconds();
	printf("swb-bench %s, mode %s: %ld connections over %zu target(s), %ld worker(s), pattern %s, %u channel(s)\n",
	       SWB_VERSION, cfg.idle ? "idle" : "publish", cfg.connections, cfg.ntargets, cfg.workers, cfg.pattern_s,
	       cfg.nchannels);
	printf("setup: %llu subscribed, %llu failed in %.2f s (%.0f/s); handshake p50 %.2f ms, p99 %.2f ms\n",
	       (unsigned long long)R.setup.subscribed, (unsigned long long)R.setup.failed, ss,
	       ss > 0 ? (double)R.setup.subscribed / ss : 0, ms(swb_hist_quantile(&R.setup.handshake, 0.5)),
	       ms(swb_hist_quantile(&R.setup.handshake, 0.99)));
	if (R.setup.first_error[0])
		printf("  first setup error: %s\n", R.setup.first_error);
	if (R.nsteps) {
		printf("\n%9s %9s %9s %10s %10s %7s %5s %11s %8s %8s %8s %8s %8s %9s %9s %10s\n", "rate/s", "sent/s", "pub ok", "expected",
		       "received", "lost", "dup", "deliv/s", "p50 ms", "p90 ms", "p99 ms", "p99.9", "max ms", "srv cpu%",
		       "srv us/d", "bench cpu%");
		for (size_t i = 0; i < R.nsteps; i++) {
			const step_result *s = R.steps[i];
			const swb_hist *h = &s->rx.lat;
			printf("%9ld %9.0f %9llu %10llu %10llu %7llu %5llu %11.0f %8.2f %8.2f %8.2f %8.2f %8.2f", s->rate,
			       (double)s->pub.attempted / s->seconds, (unsigned long long)s->pub.ok, (unsigned long long)s->expected,
			       (unsigned long long)s->rx.received, (unsigned long long)lost_of(s),
			       (unsigned long long)s->rx.duplicates, (double)s->rx.received / s->seconds,
			       ms(swb_hist_quantile(h, 0.5)), ms(swb_hist_quantile(h, 0.9)), ms(swb_hist_quantile(h, 0.99)),
			       ms(swb_hist_quantile(h, 0.999)), ms(h->max));
			if (nprocs)
				printf(" %9.1f %9.2f", s->server_cpu_s / s->active_s * 100,
				       s->rx.received ? s->server_cpu_s * 1e6 / (double)s->rx.received : 0);
			else
				printf(" %9s %9s", "-", "-");
			printf(" %10.1f\n", s->bench_cpu_s / s->active_s * 100);
			if (s->pub.first_error[0])
				printf("          %llu HTTP errors, first: %s\n", (unsigned long long)s->pub.http_errors,
				       s->pub.first_error);
			if (s->pub.unsent)
				printf("          the publisher fell behind: %llu of %.0f publishes not sent: all %ld HTTP "
				       "connections were waiting (publish round trip p50 %.2f ms, p99 %.2f ms)\n",
				       (unsigned long long)s->pub.unsent, (double)s->rate * s->seconds, cfg.http_conns,
				       ms(swb_hist_quantile(&s->pub.rtt, 0.5)), ms(swb_hist_quantile(&s->pub.rtt, 0.99)));
		}
		if (R.stopped_early)
			printf("stopped early: %s\n", R.stop_reason);
		printf("\ntotals: %llu expected, %llu received, %llu lost, %llu duplicates, %llu late, %llu HTTP errors, "
		       "%llu disconnects\n",
		       (unsigned long long)t.expected, (unsigned long long)t.received, (unsigned long long)t.lost,
		       (unsigned long long)t.dup, (unsigned long long)R.fin.late, (unsigned long long)t.http_errors,
		       (unsigned long long)R.fin.disconnects);
	}
	if (R.fin.first_error[0])
		printf("first connection error: %s\n", R.fin.first_error);
	if (nprocs) {
		printf("\n%8s %-14s %9s %12s %12s %12s\n", "pid", "process", "cpu s", "rss start kB", "rss kB", "peak kB");
		for (int i = 0; i < nprocs; i++)
			printf("%8d %-14s %9.2f %12ld %12ld %12ld%s\n", procs[i].pid, procs[i].name,
			       procs[i].cpu_step - procs[i].cpu_start, procs[i].rss_start_kb, procs[i].rss_kb, procs[i].hwm_kb,
			       procs[i].gone ? "  (exited)" : "");
		if (cfg.idle && R.setup.subscribed)
			printf("server RSS per connection: %.2f KiB (%ld kB over %llu connections)\n",
			       (double)(t.rss - t.rss_start) / (double)R.setup.subscribed, t.rss - t.rss_start,
			       (unsigned long long)R.setup.subscribed);
	}
	printf("kernel TCP, whole machine (client and server ends): sockets %ld -> %ld, buffers %ld -> %ld kB, "
	       "socket slabs %ld -> %ld kB%s\n",
	       R.k0.inuse, R.k1.inuse, R.k0.buf_kb, R.k1.buf_kb, R.k0.slab_kb, R.k1.slab_kb,
	       R.k1.slab_kb < 0 ? " (slabinfo not readable)" : "");
	if (R.error[0])
		printf("error: %s\n", R.error);
}

int main(int argc, char **argv)
{
	int first = swb_opts_parse(&spec, argc, argv);
	if (first < argc)
		swb_opts_usage_error(&spec, "unexpected argument '%s'", argv[first]);
	validate();
	signal(SIGPIPE, SIG_IGN);
	if (cfg.max_seconds)
		alarm((unsigned)cfg.max_seconds);
	R.t_start = bench_now_ns();
	for (size_t i = 0; i < cfg.pid_list.n; i++) {
		char *end;
		long pid = strtol(cfg.pid_list.items[i], &end, 10);
		if (*end || pid < 1 || pid > INT_MAX)
			swb_opts_usage_error(&spec, "invalid value for --pid: '%s'", cfg.pid_list.items[i]);
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			fprintf(stderr, "swb-bench: --pid %ld: no such process\n", pid);
			return 1;
		}
		add_pid((int)pid);
	}
	for (size_t i = 0; i < cfg.runtime_dirs.n; i++) {
		int pids[MAX_PIDS];
		int n = bench_pids_from_runtime_dir(cfg.swbctl, cfg.runtime_dirs.items[i], pids, MAX_PIDS);
		if (n < 0)
			return 1;
		for (int j = 0; j < n; j++)
			add_pid(pids[j]);
	}
	sample_mem(true);
	bench_kernel_tcp(&R.k0);
	start_workers();
	collect_setup();
	R.setup_ok = R.setup.subscribed == R.setup.requested;
	int rc = 0;
	if (!R.setup_ok) {
		snprintf(R.error, sizeof(R.error), "setup failed: %llu of %llu connections subscribed (first error: %s)",
			 (unsigned long long)R.setup.subscribed, (unsigned long long)R.setup.requested,
			 R.setup.first_error[0] ? R.setup.first_error : "none");
		rc = 1;
	} else if (cfg.idle) {
		uint64_t h0 = bench_now_ns();
		sleep_s((double)cfg.hold);
		R.idle_hold_s = (double)(bench_now_ns() - h0) / 1e9;
	} else if (run_publish() < 0) {
		rc = 1;
	}
	sample_mem(false);
	bench_kernel_tcp(&R.k1);
	quit_workers();
	R.t_end = bench_now_ns();
	if (cfg.json)
		report_json(stdout);
	else
		report_human();
	if (cfg.json_out) {
		FILE *f = fopen(cfg.json_out, "w");
		if (f) {
			report_json(f);
			fclose(f);
		} else {
			fprintf(stderr, "swb-bench: cannot write %s: %s\n", cfg.json_out, strerror(errno));
		}
	}
	if (rc)
		fprintf(stderr, "swb-bench: %s\n", R.error);
	for (size_t i = 0; i < R.nsteps; i++) {
		free(R.steps[i]->pub.ok_per_channel);
		free(R.steps[i]);
	}
	free(R.subs);
	swb_opts_release(&spec);
	return rc;
}
