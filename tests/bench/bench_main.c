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
	{ "mode", "SWB_BENCH_MODE", SWB_OPT_STR, "MODE",
	  "idle (connect, subscribe, hold, report memory) or publish (default)", &cfg.mode, 0, 0 },
	{ "target", "SWB_BENCH_TARGETS", SWB_OPT_LIST, "HOST:PORT",
	  "an edge to connect subscribers to (repeatable; round-robin)", &cfg.target_list, 0, 0 },
	{ "connections", "SWB_BENCH_CONNECTIONS", SWB_OPT_INT, "N", "subscriber connections (default 100)",
	  &cfg.connections, 0, 2000000 },
	{ "workers", "SWB_BENCH_WORKERS", SWB_OPT_INT, "K",
	  "subscriber processes (default: enough for 19,000 sockets each)", &cfg.workers, 0, MAX_WORKERS },
	{ "source-ips", "SWB_BENCH_SOURCE_IPS", SWB_OPT_INT, "COUNT",
	  "loopback source addresses to spread over (default N/10000+1)", &cfg.source_ips, 0, 65536 },
	{ "source-base", "SWB_BENCH_SOURCE_BASE", SWB_OPT_STR, "IP",
	  "first source address (default 127.0.0.1; the next ones count up)", &cfg.source_base, 0, 0 },
	{ "connect-rate", "SWB_BENCH_CONNECT_RATE", SWB_OPT_INT, "PER_S", "new connections per second (default 2000)",
	  &cfg.connect_rate, 1, 1000000 },
	{ "max-handshakes", "SWB_BENCH_MAX_HANDSHAKES", SWB_OPT_INT, "N", "handshakes in flight at most (default 256)",
	  &cfg.max_handshakes, 1, 100000 },
	{ "connect-timeout", "SWB_BENCH_CONNECT_TIMEOUT", SWB_OPT_INT, "SECS",
	  "per connection, until subscribed (default 15)", &cfg.connect_timeout, 1, 3600 },
	{ "channels", "SWB_BENCH_CHANNELS", SWB_OPT_INT, "M", "channels for --pattern mod (default 1)", &cfg.channels,
	  1, 2000000 },
	{ "pattern", "SWB_BENCH_PATTERN", SWB_OPT_STR, "P",
	  "one (all on channel 0), each (connection i on channel i), mod (i on channel i%M)", &cfg.pattern_s, 0, 0 },
	{ "channel-prefix", "SWB_BENCH_CHANNEL_PREFIX", SWB_OPT_STR, "S", "channel name prefix (default bench-)",
	  &cfg.channel_prefix, 0, 0 },
	{ "app", "SWB_BENCH_APP", SWB_OPT_STR, "ID:KEY:SECRET", "the app (default bench:bench-key:bench-secret)",
	  &cfg.app, 0, 0 },
	{ "publish-target", "SWB_BENCH_PUBLISH_TARGET", SWB_OPT_STR, "HOST:PORT",
	  "edge whose HTTP API publishes (default: the first --target)", &cfg.publish_target_s, 0, 0 },
	{ "rate", "SWB_BENCH_RATE", SWB_OPT_INT, "PER_S", "publishes per second (default 100)", &cfg.rate, 1,
	  10000000 },
	{ "rate-steps", "SWB_BENCH_RATE_STEPS", SWB_OPT_STR, "R1,R2,...",
	  "publish rates to step through (overrides --rate)", &cfg.rate_steps_s, 0, 0 },
	{ "duration", "SWB_BENCH_DURATION", SWB_OPT_INT, "SECS", "publishing time per step (default 10)", &cfg.duration,
	  1, 86400 },
	{ "warmup", "SWB_BENCH_WARMUP", SWB_OPT_INT, "SECS", "unrecorded publishing before the first step (default 2)",
	  &cfg.warmup, 0, 3600 },
	{ "drain", "SWB_BENCH_DRAIN", SWB_OPT_INT, "SECS", "wait after each step before counting (default 2)",
	  &cfg.drain, 0, 600 },
	{ "payload", "SWB_BENCH_PAYLOAD", SWB_OPT_INT, "BYTES",
	  "pad each event's data to at least BYTES (default 0; max 9000)", &cfg.payload, 0, 9000 },
	{ "stop-p99-ms", "SWB_BENCH_STOP_P99_MS", SWB_OPT_INT, "MS",
	  "stop stepping once a step's p99 exceeds MS or loses deliveries (default off)", &cfg.stop_p99_ms, 0,
	  3600000 },
	{ "http-conns", "SWB_BENCH_HTTP_CONNS", SWB_OPT_INT, "N",
	  "keep-alive HTTP connections for publishing (default 8)", &cfg.http_conns, 1, 1024 },
	{ "hold", "SWB_BENCH_HOLD", SWB_OPT_INT, "SECS",
	  "idle mode: hold the connections this long before measuring (default 5)", &cfg.hold, 0, 86400 },
	{ "pid", "SWB_BENCH_PIDS", SWB_OPT_LIST, "PID", "a server process to measure (repeatable)", &cfg.pid_list, 0,
	  0 },
	{ "pids-from-runtime-dir", "SWB_BENCH_RUNTIME_DIRS", SWB_OPT_LIST, "DIR",
	  "measure that host's bridge and edges (swbctl status; repeatable)", &cfg.runtime_dirs, 0, 0 },
	{ "swbctl", "SWB_BENCH_SWBCTL", SWB_OPT_STR, "PATH", "swbctl binary (default: next to swb-bench)", &cfg.swbctl,
	  0, 0 },
	{ "max-seconds", "SWB_BENCH_MAX_SECONDS", SWB_OPT_INT, "SECS",
	  "watchdog: give up (killing the workers) after SECS (default off)", &cfg.max_seconds, 0, 864000 },
	{ "json", "SWB_BENCH_JSON", SWB_OPT_FLAG, NULL, "print one JSON document instead of the human report",
	  &cfg.json, 0, 0 },
	{ "json-out", "SWB_BENCH_JSON_OUT", SWB_OPT_STR, "FILE", "also write the JSON document to FILE", &cfg.json_out,
	  0, 0 },
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
	c->nchannels = c->pattern == PAT_ONE    ? 1
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
				swb_opts_usage_error(&spec,
						     "invalid value for --rate-steps: expected R1,R2,... (1-10000000)");
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
	/* At most ~10,000 connections per source address: Linux's connect()
	 * tries even ephemeral ports first and leaves the odd ones to bind(),
	 * so once half the range (14,116 ports) is taken for one source and
	 * destination every further connect() walks the whole taken half in
	 * __inet_check_established: 7 ms each at ~20,000 per address here. */
	if (!c->source_ips)
		c->source_ips = c->connections / 10000 + 1;
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
		swb_opts_usage_error(&spec,
				     "%ld connections over %ld workers exceed %ld sockets per process (fd limit)",
				     c->connections, c->workers, budget);
	if (c->pattern != PAT_EACH && c->http_conns / (long)c->nchannels > 48)
		fprintf(stderr,
			"swb-bench: warning: %ld HTTP connections publishing to %u channel(s) may reorder one "
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
			r == -2   ? "did not report in time"
			: r == -3 ? "sent an unexpected message"
				  : "died");
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

static bench_results R;

static void add_pid(int pid)
{
	for (int i = 0; i < R.nprocs; i++)
		if (R.procs[i].pid == pid)
			return;
	if (R.nprocs == BENCH_MAX_PIDS)
		return;
	bench_proc *p = &R.procs[R.nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	bench_proc_name(pid, p->name, sizeof(p->name));
	if (!p->name[0])
		snprintf(p->name, sizeof(p->name), "?");
}

static double servers_cpu(void)
{
	double s = 0;
	for (int i = 0; i < R.nprocs; i++) {
		double v = bench_proc_cpu(R.procs[i].pid);
		if (v < 0)
			R.procs[i].gone = true;
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
	for (int i = 0; i < R.nprocs; i++) {
		long rss = 0, hwm = 0;
		if (bench_proc_mem(R.procs[i].pid, &rss, &hwm) < 0) {
			R.procs[i].gone = true;
			continue;
		}
		if (start)
			R.procs[i].rss_start_kb = rss;
		R.procs[i].rss_kb = rss;
		R.procs[i].hwm_kb = hwm;
		R.procs[i].cpu_step = bench_proc_cpu(R.procs[i].pid);
		if (start)
			R.procs[i].cpu_start = R.procs[i].cpu_step;
	}
}

/* --------------------------------------------------------------- results */

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
	long ms = (long)((double)cfg.connections / (double)cfg.connect_rate * 1000.0) * 2 + cfg.connect_timeout * 1000 +
		  30000;
	if (ms > INT_MAX)
		ms = INT_MAX;
	for (int i = 0; i < nworkers; i++) {
		void *subs = NULL;
		read_msg(i, MSG_SETUP, &s, sizeof(s), &subs, (int)ms);
		merge_setup(&s, subs);
		free(subs);
	}
}

static void collect_step(bench_step_result *sr, uint32_t step)
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
		bench_step_result *sr = calloc(1, sizeof(*sr));
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
		sr->active_s = sr->pub.t_first_ns && last > sr->pub.t_first_ns
				       ? (double)(last - sr->pub.t_first_ns) / 1e9
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
					 sr->rx.received < sr->expected ? "losses" : "p99 above --stop-p99-ms",
					 sr->rate);
				break;
			}
		}
	}
	bench_pub_free(pub);
	return rc;
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
		int pids[BENCH_MAX_PIDS];
		int n = bench_pids_from_runtime_dir(cfg.swbctl, cfg.runtime_dirs.items[i], pids, BENCH_MAX_PIDS);
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
		snprintf(R.error, sizeof(R.error),
			 "setup failed: %llu of %llu connections subscribed (first error: %s)",
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
		bench_report_json(stdout, &cfg, &R);
	else
		bench_report_human(&cfg, &R);
	if (cfg.json_out) {
		FILE *f = fopen(cfg.json_out, "w");
		if (f) {
			bench_report_json(f, &cfg, &R);
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
