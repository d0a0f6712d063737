/* bench.h: swb-bench's shared types: the configuration, the subscriber
 * worker and the publisher, and the fixed structs workers send their parent
 * over a socketpair (same binary, same machine: raw bytes). */
#ifndef SWB_BENCH_H
#define SWB_BENCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_hist.h"
#include "opts.h"

#define BENCH_MAX_STEPS 64
#define BENCH_MAX_TARGETS 64
#define BENCH_EVENT "swb-bench"
#define BENCH_FD_BUDGET 19000 /* subscriber sockets per process (hard fd limit 20000) */

enum bench_pattern { PAT_ONE, PAT_EACH, PAT_MOD };

typedef struct bench_target {
	struct sockaddr_in addr;
	char hostport[128]; /* for the Host header and reports */
} bench_target;

typedef struct bench_cfg {
	/* flags */
	const char *mode;
	swb_strlist target_list;
	long connections, workers, source_ips, connect_rate, max_handshakes, connect_timeout;
	const char *source_base;
	long channels;
	const char *pattern_s, *channel_prefix, *app;
	const char *publish_target_s;
	long rate, duration, warmup, drain, payload, stop_p99_ms, http_conns;
	const char *rate_steps_s;
	long hold, max_seconds;
	swb_strlist pid_list, runtime_dirs;
	const char *swbctl;
	bool json;
	const char *json_out;
	const char *log_level;
	/* derived */
	bool idle;
	enum bench_pattern pattern;
	uint32_t nchannels; /* channel indexes are 0..nchannels-1 */
	bench_target targets[BENCH_MAX_TARGETS];
	size_t ntargets;
	bench_target publish_target;
	char app_id[128], app_key[128], app_secret[256];
	long steps[BENCH_MAX_STEPS];
	size_t nsteps;
	uint32_t source_base_ip; /* host order */
} bench_cfg;

uint64_t bench_now_ns(void);
uint32_t bench_channel_of(const bench_cfg *c, uint32_t conn);
/* channel name into out (NUL-terminated); returns its length */
size_t bench_channel_name(const bench_cfg *c, uint32_t ch, char *out, size_t cap);

/* ---- worker <-> parent messages (socketpair, blocking writes) ---- */
enum { MSG_SETUP = 1, MSG_STEP = 2, MSG_FINAL = 3 };
enum { CMD_REPORT = 'R', CMD_QUIT = 'Q' };

typedef struct bench_msg_hdr {
	uint32_t type;
	uint32_t step;
	uint64_t extra_len; /* bytes following the fixed body */
} bench_msg_hdr;

/* MSG_SETUP, followed by nchannels uint32 subscriber counts */
typedef struct bench_setup_rep {
	uint64_t requested, tcp_connected, upgraded, subscribed, failed;
	uint64_t t_first_ns, t_last_ns; /* first connect started, last subscription done */
	char first_error[160];
	swb_hist handshake; /* connect started -> subscription_succeeded, ns */
} bench_setup_rep;

/* MSG_STEP: what subscribers saw of the publishes of one step */
typedef struct bench_step_rep {
	uint64_t received;   /* first deliveries of a (connection, seq) */
	uint64_t duplicates; /* repeated or far-behind deliveries */
	uint64_t wrong_channel, bad_payload;
	uint64_t t_last_ns; /* newest delivery */
	swb_hist lat;       /* publish -> receive, ns */
} bench_step_rep;

/* MSG_FINAL */
typedef struct bench_final_rep {
	uint64_t late;        /* deliveries of a step after it was reported */
	uint64_t disconnects; /* subscribed connections the server closed */
	uint64_t protocol_errors, pusher_errors, pings, ws_pings, other_events;
	char first_error[160];
} bench_final_rep;

/* Run one subscriber worker for connections [lo, hi) on ctrl; never returns. */
void bench_worker_main(const bench_cfg *c, uint32_t lo, uint32_t hi, int ctrl) __attribute__((noreturn));

/* ---- publisher (parent) ---- */
typedef struct bench_pub bench_pub;
typedef struct bench_pub_step {
	uint64_t attempted, ok, http_errors, timeouts, unsent;
	uint64_t t_first_ns, t_last_ns;
	int first_error_status;
	char first_error[160];
	uint32_t *ok_per_channel; /* nchannels entries */
	swb_hist rtt;             /* HTTP request -> response */
} bench_pub_step;

bench_pub *bench_pub_new(const bench_cfg *c);
void bench_pub_free(bench_pub *p);
/* Publish at rate/s for seconds, tagging payloads with step; then wait
 * (bounded) for the outstanding responses. Returns 0, or -1 if no HTTP
 * connection could be made at all (msg in st->first_error). */
int bench_pub_run(bench_pub *p, uint32_t step, long rate, double seconds, bench_pub_step *st);

/* ---- /proc and swbctl ---- */
typedef struct bench_proc {
	int pid;
	char name[32];
	double cpu_start, cpu_step; /* seconds */
	long rss_start_kb, rss_kb, hwm_kb;
	bool gone;
} bench_proc;

double bench_proc_cpu(int pid);                          /* utime+stime seconds, -1 if gone */
int bench_proc_mem(int pid, long *rss_kb, long *hwm_kb); /* 0 or -1 */
void bench_proc_name(int pid, char *out, size_t cap);
/* Kernel TCP memory of the whole machine (both ends of loopback
 * connections): sockets in use and buffer memory from /proc/net/sockstat,
 * the TCP/TCPv6 slabs (socket objects) from /proc/slabinfo when readable. */
typedef struct bench_ktcp {
	long inuse, buf_kb, slab_kb; /* -1 when unknown */
} bench_ktcp;
void bench_kernel_tcp(bench_ktcp *k);
/* Append the pids of a host (bridge + edges) from `swbctl --json status`.
 * Returns how many, or -1 with a message on stderr. */
int bench_pids_from_runtime_dir(const char *swbctl, const char *dir, int *pids, int max);

/* ---- results (bench_main.c fills them, bench_report.c prints them) ---- */
#define BENCH_MAX_PIDS 256
typedef struct bench_step_result {
	long rate;
	double seconds, window_s, active_s; /* active: first publish -> last delivery or response */
	bench_pub_step pub;
	bench_step_rep rx;
	uint64_t expected;
	double server_cpu_s, bench_cpu_s;
} bench_step_result;

typedef struct bench_results {
	bench_setup_rep setup;
	uint32_t *subs;
	bench_final_rep fin;
	bench_step_result *steps[BENCH_MAX_STEPS];
	size_t nsteps;
	bool stopped_early;
	char stop_reason[128];
	bool setup_ok;
	char error[256];
	bench_ktcp k0, k1;
	double idle_hold_s;
	uint64_t t_start, t_end;
	bench_proc procs[BENCH_MAX_PIDS]; /* the measured server processes */
	int nprocs;
} bench_results;

void bench_report_json(FILE *out, const bench_cfg *c, const bench_results *r);
void bench_report_human(const bench_cfg *c, const bench_results *r);

#endif
