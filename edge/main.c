/* main.c: swb-edge startup: flags, env and config file (common/opts.h),
 * --check-config, the app table (with --webhook), the uv loop with its 1 s
 * tick, the signal handlers (SIGTERM/SIGINT drain, SIGHUP reload), the
 * webhook sender, the lws server and the bridge link, then systemd's
 * READY=1 and watchdog. How it ends is drain.c's. Owns the swb_edge for
 * the life of the process. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "edge.h"
#include "log.h"
#include "opts.h"
#include "sdnotify.h"
#include "tls.h"
#include "util.h"

static swb_edge g_edge;

static void on_tick(uv_timer_t *t)
{
	swb_edge *e = t->data;
	uint64_t now = swb_mono_ms();
	swb_edge_conn_tick(e, now);
	swb_edge_http_tick(e, now);
	swb_edge_presence_tick(e, now);
	swb_edge_cache_tick(e, now);
	swb_edge_link_stats(e);
}

/* SIGTERM / SIGINT: drain; a second one during the drain: stop now. */
static void on_stop_signal(uv_signal_t *s, int signum)
{
	swb_edge *e = s->data;
	const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
	if (e->draining || e->stopping) {
		swb_info("received %s again: stopping now", name);
		swb_edge_shutdown(e);
		return;
	}
	swb_edge_drain_start(e, (uint32_t)e->cfg.drain_rate, (uint32_t)e->cfg.drain_deadline * 1000u, name);
}

/* SIGHUP: reload what can change without a restart: the apps (ops.c)
 * and the TLS certificate and key (tls.c). */
static void on_sighup(uv_signal_t *s, int signum)
{
	swb_edge *e = s->data;
	(void)signum;
	swb_edge_reload(e, "SIGHUP");
	swb_edge_tls_reload(e); /* logs its own outcome; 1 = no TLS */
}

/* "where a value came from", for error messages */
static const char *from(const swb_opts_spec *spec, const void *target)
{
	const char *where;
	swb_opts_source(spec, target, &where);
	return where;
}

static void load_apps(swb_edge *e, const swb_opts_spec *spec, const swb_strlist *apps, const char *file,
		      const swb_strlist *hooks)
{
	char err[512];
	for (size_t i = 0; i < apps->n; i++)
		if (swb_edge_apps_add_spec(&e->apps, apps->items[i], strlen(apps->items[i]), err, sizeof(err)) < 0)
			swb_opts_usage_error(spec, "%s (app from %s)", err, swb_opts_item_source(spec, apps, i));
	if (file && swb_edge_apps_load_file(&e->apps, file, err, sizeof(err)) < 0)
		swb_opts_usage_error(spec, "%s", err);
	if (e->apps.n == 0)
		swb_opts_usage_error(spec, "no apps configured: give --app ID:KEY:SECRET, SWB_APPS or --apps-file");
	for (size_t i = 0; i < hooks->n; i++)
		if (swb_edge_apps_add_webhook_spec(&e->apps, hooks->items[i], err, sizeof(err)) < 0)
			swb_opts_usage_error(spec, "%s (webhook from %s)", err, swb_opts_item_source(spec, hooks, i));
}

/* Reloads read the config file again through the spec: a copy that
 * outlives parse_flags. A reload only reads the names and compares the
 * targets (the list targets are static), so targets on parse_flags's
 * stack are never written through it. */
static swb_opt kept_opts[64];
static swb_opts_spec kept_spec;

static const swb_opts_spec *keep_spec(const swb_opts_spec *spec, size_t n_opts)
{
	if (n_opts > sizeof(kept_opts) / sizeof(kept_opts[0]))
		return NULL; /* no config-file app lines on reload; cannot happen with our table */
	memcpy(kept_opts, spec->opts, n_opts * sizeof(*kept_opts));
	kept_spec = *spec;
	kept_spec.opts = kept_opts;
	return &kept_spec;
}

static void parse_flags(swb_edge *e, int argc, char **argv)
{
	static swb_strlist apps, hooks;
	static const char *apps_file, *level = "info", *format = "text";
	const char *config = NULL;
	bool check = false;
	swb_edge_config *c = &e->cfg;
	*c = (swb_edge_config){ .runtime_dir = SWB_DEFAULT_RUNTIME_DIR, .listen = "0.0.0.0:6001",
				.activity_timeout = 120, .pong_timeout = 30, .max_queue = 1048576,
				.max_message = 65536, .drain_rate = 500, .drain_deadline = 30, .handshake_timeout = 10,
				.ipc_check_interval = 2000 };
	swb_opt opts[] = {
		{ "config", "SWB_CONFIG", SWB_OPT_CONFIG, "FILE", "config file: one 'flag-name = value' per line (INI; see deploy/switchboard-edge.conf)", &config, 0, 0 },
		{ "check-config", "SWB_CHECK_CONFIG", SWB_OPT_FLAG, NULL, "validate flags, env, config file and apps, print the effective configuration and exit (0 ok, 2 not)", &check, 0, 0 },
		{ "runtime-dir", "SWB_RUNTIME_DIR", SWB_OPT_STR, "DIR", "runtime dir holding bridge.ipc", &c->runtime_dir, 0, 0 },
		{ "listen", "SWB_LISTEN", SWB_OPT_STR, "HOST:PORT", "address for WebSocket + HTTP API (default 0.0.0.0:6001)", &c->listen, 0, 0 },
		{ "reuseport", "SWB_REUSEPORT", SWB_OPT_FLAG, NULL, "share the --listen port with other edges of this host (SO_REUSEPORT; the kernel spreads connections)", &c->reuseport, 0, 0 },
		{ "no-io-uring", "SWB_NO_IO_URING", SWB_OPT_FLAG, NULL, "write deliveries with one send() per connection instead of io_uring batches (io_uring is used when the kernel allows it)", &c->no_io_uring, 0, 0 },
		{ "app", "SWB_APPS", SWB_OPT_LIST, "ID:KEY:SECRET", "an app to serve (repeatable; env: comma/space separated)", &apps, 0, 0 },
		{ "apps-file", "SWB_APPS_FILE", SWB_OPT_STR, "FILE", "file with one ID:KEY:SECRET per line (# comments), or JSON: [{\"id\",\"key\",\"secret\",\"enabled\",\"client_events\",\"client_event_rate\",\"max_connections\" (cluster-wide, eventually consistent within ~1-2 s; per edge while the bridge is unreachable),\"presence_max_members\",\"allowed_origins\":[...],\"webhooks\":[{\"url\",\"events\":[...]}]}]; re-read on SIGHUP", &apps_file, 0, 0 },
		{ "webhook", "SWB_WEBHOOKS", SWB_OPT_LIST, "ID=URL", "send every webhook event of app ID to URL (repeatable)", &hooks, 0, 0 },
		{ "activity-timeout", "SWB_ACTIVITY_TIMEOUT", SWB_OPT_INT, "SECS", "idle seconds before a ping, sent to clients (default 120)", &c->activity_timeout, 1, 86400 },
		{ "pong-timeout", "SWB_PONG_TIMEOUT", SWB_OPT_INT, "SECS", "seconds to wait for a pong before closing 4201 (default 30)", &c->pong_timeout, 1, 3600 },
		{ "max-queue", "SWB_MAX_QUEUE", SWB_OPT_INT, "BYTES", "per-connection send queue limit (default 1048576)", &c->max_queue, 1024, 1L << 30 },
		{ "max-message", "SWB_MAX_MESSAGE", SWB_OPT_INT, "BYTES", "inbound WebSocket message limit (default 65536)", &c->max_message, 256, 16L << 20 },
		{ "drain-rate", "SWB_DRAIN_RATE", SWB_OPT_INT, "N", "on a drain (SIGTERM, swbctl drain), connections told to reconnect per second; 0 = all at once (default 500)", &c->drain_rate, 0, 1000000 },
		{ "drain-deadline", "SWB_DRAIN_DEADLINE", SWB_OPT_INT, "SECS", "longest a drain waits for clients to leave before exiting (default 30)", &c->drain_deadline, 1, 86400 },
		{ "handshake-timeout", "SWB_HANDSHAKE_TIMEOUT", SWB_OPT_INT, "SECS", "seconds a client has for the TLS handshake, the HTTP/upgrade request head, and an HTTP request body; then it is dropped (default 10)", &c->handshake_timeout, 1, 3600 },
		{ "tls-cert", "SWB_TLS_CERT", SWB_OPT_STR, "FILE", "PEM certificate chain: serve wss:// and https:// on --listen (reloaded on SIGHUP)", &c->tls_cert, 0, 0 },
		{ "tls-key", "SWB_TLS_KEY", SWB_OPT_STR, "FILE", "PEM private key (unencrypted) for --tls-cert (reloaded on SIGHUP)", &c->tls_key, 0, 0 },
		{ "tls-ca", "SWB_TLS_CA", SWB_OPT_STR, "FILE", "PEM CA bundle: require client certificates signed by it (mutual TLS)", &c->tls_ca, 0, 0 },
		{ "ipc-check-interval", "SWB_IPC_CHECK_INTERVAL", SWB_OPT_INT, "MS", "check that edge-ID.ipc (the bridge delivers on it) still accepts connections every MS ms, re-create it if stalled (nng bug #1518); 0 = off (default 2000)", &c->ipc_check_interval, 0, 3600000 },
		{ "log-level", "SWB_LOG_LEVEL", SWB_OPT_STR, "LEVEL", "error|warn|info|debug (default info)", &level, 0, 0 },
		{ "log-format", "SWB_LOG_FORMAT", SWB_OPT_STR, "FMT", "text|json (default text)", &format, 0, 0 },
		{ NULL, NULL, 0, NULL, NULL, NULL, 0, 0 },
	};
	swb_opts_spec spec = { "swb-edge", "[options]",
			       "Serve Pusher Channels (protocol 7) WebSockets and the Pusher HTTP API, and "
			       "exchange interest and events with the host's swb-bridge. SIGTERM drains, "
			       "SIGHUP reloads the apps.",
			       NULL, opts, false };
	swb_opts_parse(&spec, argc, argv);
	int lv = swb_log_level_parse(level);
	if (lv < 0)
		swb_opts_usage_error(&spec, "invalid log-level '%s' (from %s): expected error|warn|info|debug", level,
				     from(&spec, &level));
	swb_log_set_level(lv);
	if (swb_log_set_format(format) < 0)
		swb_opts_usage_error(&spec, "invalid log-format '%s' (from %s): expected text|json", format,
				     from(&spec, &format));
	char host[256];
	int port;
	if (swb_edge_parse_listen(c->listen, host, sizeof(host), &port) < 0)
		swb_opts_usage_error(&spec, "invalid listen '%s' (from %s): expected IP:PORT, [IPv6]:PORT or *:PORT",
				     c->listen, from(&spec, &c->listen));
	char err[600];
	if (swb_edge_tls_check(c->tls_cert, c->tls_key, c->tls_ca, err, sizeof(err)) < 0)
		swb_opts_usage_error(&spec, "%s", err);
	load_apps(e, &spec, &apps, apps_file, &hooks);
	if (check) {
		swb_opts_dump(&spec, stdout);
		printf("config ok (%zu app(s))\n", e->apps.n);
		exit(0);
	}
	e->app_src = (swb_edge_app_sources){ .spec = keep_spec(&spec, sizeof(opts) / sizeof(opts[0])),
					     .apps = &apps, .hooks = &hooks, .apps_file = apps_file };
}

static uint32_t random_edge_id(void)
{
	uint32_t r = 0;
	while (r == 0) {
		if (swb_random_bytes(&r, sizeof(r)) < 0)
			r = (uint32_t)swb_mono_ms() ^ (uint32_t)getpid();
		r &= 0x7fffffffu;
	}
	return r;
}

int main(int argc, char **argv)
{
	swb_edge *e = &g_edge;
	swb_log_init("swb-edge");
	swb_edge_apps_init(&e->apps);
	swb_edge_chans_init(&e->chans);
	parse_flags(e, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	e->edge_id = random_edge_id();
	snprintf(e->edge_id_str, sizeof(e->edge_id_str), "%u", e->edge_id);
	e->start_ms = swb_mono_ms();
	uv_loop_init(&e->loop);
	uv_timer_init(&e->loop, &e->tick);
	e->tick.data = e;
	swb_edge_counts_init(e);
	swb_edge_drain_init(e);
	e->config_generation = 1;
	swb_edge_wire_start(e);
	swb_edge_uring_init(e);
	if (swb_edge_metrics_init(e) < 0)
		swb_warn("out of memory: /metrics will be empty");
	uv_signal_init(&e->loop, &e->sigint);
	uv_signal_init(&e->loop, &e->sigterm);
	uv_signal_init(&e->loop, &e->sighup);
	e->sigint.data = e->sigterm.data = e->sighup.data = e;
	uv_signal_start(&e->sigint, on_stop_signal, SIGINT);
	uv_signal_start(&e->sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&e->sighup, on_sighup, SIGHUP);
	int rc = 0;
	if (swb_edge_webhooks_start(e) < 0 || swb_edge_server_start(e) < 0 || swb_edge_link_start(e) < 0) {
		rc = 1;
		swb_edge_shutdown(e);
	} else {
		swb_info("swb-edge %s started: edge id %s, %zu app(s), runtime dir %s", SWB_VERSION,
			 e->edge_id_str, e->apps.n, e->cfg.runtime_dir);
		uv_timer_start(&e->tick, on_tick, 1000, 1000);
		swb_sd_notifyf("READY=1\nSTATUS=serving on %s\nMAINPID=%d", e->cfg.listen, (int)getpid());
		e->watchdog_on = swb_sd_watchdog_start(&e->loop, &e->watchdog) != 0;
	}
	uv_run(&e->loop, UV_RUN_DEFAULT);
	swb_edge_server_free(e);
	uv_run(&e->loop, UV_RUN_DEFAULT); /* anything lws closed last */
	if (uv_loop_close(&e->loop) != 0)
		swb_warn("uv loop still had open handles at exit");
	swb_edge_presence_fini(e);
	swb_edge_cache_clear(e);
	swb_edge_wire_fini(e);
	swb_edge_uring_fini(e);
	swb_edge_chans_fini(&e->chans);
	swb_edge_apps_fini(&e->apps);
	swb_edge_metrics_fini(e);
	swb_edge_link_lib_fini();
	swb_edge_webhooks_lib_fini();
	swb_info("stopped");
	return rc;
}
