/* main.c: swb-bridge entry point: flags, runtime dir, wiring of the
 * modules onto one libuv loop, and orderly shutdown on SIGINT/SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bridge.h"
#include "log.h"
#include "names.h"
#include "opts.h"
#include "sdnotify.h"
#include "util.h"

typedef struct main_cfg {
	const char *runtime_dir, *redis, *host_id, *prefix, *log_level, *log_format;
	long host_ttl, heartbeat;
	const char *control_group, *metrics_listen;
	long probe_interval, probe_timeout;
	long ipc_check;
	const char *config;
	bool check;
} main_cfg;

static char default_host[256];

static void parse_flags(main_cfg *c, swb_bridge_redis_url *url, int argc, char **argv)
{
	swb_opt opts[] = {
		{ "config", "SWB_CONFIG", SWB_OPT_CONFIG, "FILE",
		  "config file: one 'flag-name = value' per line (INI; see deploy/switchboard-bridge.conf)", &c->config,
		  0, 0 },
		{ "check-config", "SWB_CHECK_CONFIG", SWB_OPT_FLAG, NULL,
		  "validate flags, env and config file, print the effective configuration and exit (0 ok, 2 not)",
		  &c->check, 0, 0 },
		{ "runtime-dir", "SWB_RUNTIME_DIR", SWB_OPT_STR, "DIR", "directory for bridge.ipc and control.ipc",
		  &c->runtime_dir, 0, 0 },
		{ "redis", "SWB_REDIS", SWB_OPT_STR, "URL", "redis://HOST:PORT[/DB], or none for a single host",
		  &c->redis, 0, 0 },
		{ "host-id", "SWB_HOST_ID", SWB_OPT_STR, "NAME", "this host's id (default: hostname)", &c->host_id,
		  0, 0 },
		{ "redis-prefix", "SWB_REDIS_PREFIX", SWB_OPT_STR, "P", "prefix of every Redis key and channel",
		  &c->prefix, 0, 0 },
		{ "host-ttl", "SWB_HOST_TTL", SWB_OPT_INT, "SECS",
		  "a host that stops heart-beating is swept after this (default 30)", &c->host_ttl, 1, 86400 },
		{ "heartbeat", "SWB_HEARTBEAT", SWB_OPT_INT, "SECS", "heartbeat interval (default 5)", &c->heartbeat,
		  1, 3600 },
		{ "control-group", "SWB_CONTROL_GROUP", SWB_OPT_STR, "GROUP",
		  "group of control.ipc, mode 0660 (default: mode 0600, owner only)", &c->control_group, 0, 0 },
		{ "metrics-listen", "SWB_METRICS_LISTEN", SWB_OPT_STR, "HOST:PORT",
		  "serve Prometheus metrics at http://HOST:PORT/metrics (default: off)", &c->metrics_listen, 0, 0 },
		{ "probe-interval", "SWB_PROBE_INTERVAL", SWB_OPT_INT, "MS",
		  "pub/sub probe interval in ms (default 1000)", &c->probe_interval, 50, 600000 },
		{ "probe-timeout", "SWB_PROBE_TIMEOUT", SWB_OPT_INT, "MS",
		  "a probe not back within this is a failure: not ready, subscribe connection rebuilt (default 3000)",
		  &c->probe_timeout, 100, 600000 },
		{ "ipc-check-interval", "SWB_IPC_CHECK_INTERVAL", SWB_OPT_INT, "MS",
		  "check that bridge.ipc and control.ipc still accept connections every MS ms, re-create a "
		  "stalled one (nng bug #1518); 0 = off (default 2000)", &c->ipc_check, 0, 3600000 },
		{ "log-level", "SWB_LOG_LEVEL", SWB_OPT_STR, "LEVEL", "error|warn|info|debug", &c->log_level, 0, 0 },
		{ "log-format", "SWB_LOG_FORMAT", SWB_OPT_STR, "FMT", "text|json", &c->log_format, 0, 0 },
		{ 0 },
	};
	swb_opts_spec spec = {
		.prog = "swb-bridge",
		.usage = "[options]",
		.summary = "Per-host Switchboard bridge: meets the local edges on ipc://DIR/bridge.ipc and the "
			   "other hosts on Redis pub/sub (two Redis connections per host).",
		.epilog = "Operator socket: ipc://DIR/control.ipc (see swbctl).",
		.opts = opts,
	};
	swb_opts_parse(&spec, argc, argv);
	int lvl = swb_log_level_parse(c->log_level);
	if (lvl < 0)
		swb_opts_usage_error(&spec, "invalid --log-level '%s' (error|warn|info|debug)", c->log_level);
	swb_log_set_level(lvl);
	if (swb_log_set_format(c->log_format) < 0)
		swb_opts_usage_error(&spec, "invalid --log-format '%s' (text|json)", c->log_format);
	if (!swb_app_token_valid(c->host_id, strlen(c->host_id)))
		swb_opts_usage_error(&spec, "invalid --host-id '%s' (1-64 of A-Z a-z 0-9 _ - .)", c->host_id);
	if (!swb_app_token_valid(c->prefix, strlen(c->prefix)))
		swb_opts_usage_error(&spec, "invalid --redis-prefix '%s' (1-64 of A-Z a-z 0-9 _ - .)", c->prefix);
	if (!*c->runtime_dir)
		swb_opts_usage_error(&spec, "--runtime-dir must not be empty");
	if (c->heartbeat >= c->host_ttl)
		swb_opts_usage_error(&spec, "--heartbeat (%ld) must be shorter than --host-ttl (%ld)", c->heartbeat,
				     c->host_ttl);
	if (c->control_group && !*c->control_group)
		c->control_group = NULL;
	if (c->metrics_listen && !*c->metrics_listen)
		c->metrics_listen = NULL;
	if (c->metrics_listen && swb_bridge_mhttp_valid(c->metrics_listen) < 0)
		swb_opts_usage_error(&spec, "invalid --metrics-listen '%s' (HOST:PORT, HOST an IP address)",
				     c->metrics_listen);
	const char *err = NULL;
	if (swb_bridge_redis_url_parse(c->redis, url, &err) < 0)
		swb_opts_usage_error(&spec, "invalid --redis '%s': %s", c->redis, err);
	if (c->check) {
		swb_opts_dump(&spec, stdout);
		printf("config ok\n");
		exit(0);
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	swb_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
	swb_sd_notify("STOPPING=1");
	uv_stop(h->loop);
}

/* SIGHUP: the bridge has no configuration to re-read at run time (its
 * flags need a restart), but `systemctl reload` of a host should reload
 * the host: forward a reload to every edge, as `swbctl reload` does. */
static void on_sighup(uv_signal_t *h, int signum)
{
	(void)signum;
	swb_bridge *b = h->data;
	bool unknown = false;
	swb_info("received SIGHUP: reloading every edge of this host");
	cJSON_Delete(swb_bridge_cmd_run(b, "reload", NULL, NULL, &unknown));
}

static int start(swb_bridge *b)
{
	if (swb_mkdir_p(b->runtime_dir, 0755) != 0) {
		swb_err("cannot create runtime dir %s: %s", b->runtime_dir, strerror(errno));
		return -1;
	}
	swb_bridge_interest_init(&b->interest, swb_bridge_redis_chan_changed, b);
	if (swb_bridge_metrics_init(b) < 0 || swb_bridge_cluster_init(b) < 0 || swb_bridge_edges_init(b) < 0 ||
	    swb_bridge_control_init(b) < 0)
		return -1;
	if (b->metrics_listen && swb_bridge_mhttp_start(b, b->metrics_listen) < 0)
		return -1;
	if (swb_bridge_redis_init(b) < 0)
		return -1;
	swb_bridge_probe_init(b);
	return 0;
}

static void stop(swb_bridge *b)
{
	swb_bridge_mhttp_stop(b);
	swb_bridge_probe_fini(b);
	swb_bridge_control_fini(b);
	swb_bridge_redis_fini(b); /* may still ack publishes to edges */
	swb_bridge_edges_fini(b);
	swb_bridge_cluster_fini(b);
	swb_bridge_interest_fini(&b->interest);
	swb_bridge_metrics_fini(b);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int main(int argc, char **argv)
{
	main_cfg c = { SWB_DEFAULT_RUNTIME_DIR, "redis://127.0.0.1:6379", NULL, "swb", "info", "text", 30, 5,
		       NULL, NULL, 1000, 3000, 2000, NULL, false };
	if (gethostname(default_host, sizeof(default_host) - 1) != 0 || !default_host[0])
		strcpy(default_host, "localhost");
	c.host_id = default_host;
	swb_log_init("swb-bridge");
	static swb_bridge b;
	parse_flags(&c, &b.url, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	uv_loop_t loop;
	uv_loop_init(&loop);
	b.loop = &loop;
	b.runtime_dir = c.runtime_dir;
	b.host_id = c.host_id;
	b.prefix = c.prefix;
	b.redis_url_str = c.redis;
	b.host_ttl_s = (uint64_t)c.host_ttl;
	b.heartbeat_s = (uint64_t)c.heartbeat;
	b.control_group = c.control_group;
	b.metrics_listen = c.metrics_listen;
	b.health.interval_ms = (uint64_t)c.probe_interval;
	b.health.timeout_ms = (uint64_t)c.probe_timeout;
	b.ipc_check_ms = (uint64_t)c.ipc_check;
	b.start_ms = swb_mono_ms();
	/* Envelope ids grow per origin across restarts too (edges drop stale
	 * copies of a cached event by id): start from the wall clock in us. */
	b.next_seq = (uint64_t)swb_wall_s() * 1000000u;

	uv_signal_t sigint, sigterm, sighup;
	uv_signal_init(&loop, &sigint);
	uv_signal_init(&loop, &sigterm);
	uv_signal_init(&loop, &sighup);
	sighup.data = &b;
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	uv_signal_start(&sighup, on_sighup, SIGHUP);

	int rc = 0;
	uv_timer_t watchdog; /* started only under systemd; closed by close_walk */
	if (start(&b) == 0) {
		swb_info("bridge %s %s started (pid %d, redis %s, runtime dir %s)", b.host_id, SWB_VERSION,
			 (int)getpid(), c.redis, c.runtime_dir);
		swb_sd_notifyf("READY=1\nSTATUS=bridge %s serving\nMAINPID=%d", b.host_id, (int)getpid());
		swb_sd_watchdog_start(&loop, &watchdog);
		uv_run(&loop, UV_RUN_DEFAULT);
	} else {
		rc = 1;
	}
	stop(&b);
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		swb_warn("event loop did not close cleanly");
	nng_fini(); /* joins NNG's threads: a clean exit under valgrind */
	swb_info("bridge stopped");
	return rc;
}
