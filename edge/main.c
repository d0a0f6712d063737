/* main.c: swb-edge startup and shutdown: flags (common/opts.h), the app
 * table (with --webhook), the uv loop with its 1 s tick and SIGINT/SIGTERM
 * handlers, then the webhook sender, the lws server and the bridge link. Owns the swb_edge for the life of
 * the process. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "edge.h"
#include "log.h"
#include "opts.h"
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

/* Last step of a shutdown: lws closes what is left, handles close, the
 * loop ends. */
static void stop_now(swb_edge *e)
{
	uv_close((uv_handle_t *)&e->tick, NULL);
	uv_close((uv_handle_t *)&e->sigint, NULL);
	uv_close((uv_handle_t *)&e->sigterm, NULL);
	uv_close((uv_handle_t *)&e->sighup, NULL);
	swb_edge_server_stop(e);
	swb_edge_link_stop(e);
	swb_edge_counts_stop(e);
	swb_edge_webhooks_stop(e);
}

static void on_close_grace(uv_timer_t *t) { stop_now(t->data); }

/* Tell every client to reconnect at once (4200: pusher-js reconnects
 * immediately, to another edge behind the load balancer), give the close
 * frames a moment to go out, then stop. */
static void shutdown_edge(swb_edge *e)
{
	if (e->stopping)
		return;
	e->stopping = true;
	swb_info("shutting down: closing %u connections with 4200", e->st.connections);
	uv_timer_stop(&e->tick);
	swb_edge_conn *c, *tmp;
	HASH_ITER(hh, e->by_sid, c, tmp)
		swb_edge_conn_close(e, c, 4200, "Server shutting down", true);
	if (e->st.connections == 0) {
		stop_now(e);
		return;
	}
	e->tick.data = e;
	uv_timer_start(&e->tick, on_close_grace, SWB_EDGE_SHUTDOWN_GRACE_MS, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
	swb_info("received signal %d", signum);
	shutdown_edge(s->data);
}

/* SIGHUP: reload what can change without a restart (today: the TLS
 * certificate and key). */
static void on_sighup(uv_signal_t *s, int signum)
{
	swb_edge *e = s->data;
	(void)signum;
	swb_info("received SIGHUP: reloading");
	if (swb_edge_tls_reload(e) > 0)
		swb_info("SIGHUP: TLS is not enabled, nothing to reload");
}

static void load_apps(swb_edge *e, const swb_opts_spec *spec, const swb_strlist *apps, const char *file,
		      const swb_strlist *hooks)
{
	char err[512];
	for (size_t i = 0; i < apps->n; i++)
		if (swb_edge_apps_add_spec(&e->apps, apps->items[i], strlen(apps->items[i]), err, sizeof(err)) < 0)
			swb_opts_usage_error(spec, "%s", err);
	if (file && swb_edge_apps_load_file(&e->apps, file, err, sizeof(err)) < 0)
		swb_opts_usage_error(spec, "%s", err);
	if (e->apps.n == 0)
		swb_opts_usage_error(spec, "no apps configured: give --app ID:KEY:SECRET, SWB_APPS or --apps-file");
	for (size_t i = 0; i < hooks->n; i++)
		if (swb_edge_apps_add_webhook_spec(&e->apps, hooks->items[i], err, sizeof(err)) < 0)
			swb_opts_usage_error(spec, "%s", err);
}

static void parse_flags(swb_edge *e, int argc, char **argv)
{
	static swb_strlist apps, hooks;
	const char *apps_file = NULL, *level = "info", *format = "text";
	swb_edge_config *c = &e->cfg;
	*c = (swb_edge_config){ .runtime_dir = SWB_DEFAULT_RUNTIME_DIR, .listen = "0.0.0.0:6001",
				.activity_timeout = 120, .pong_timeout = 30, .max_queue = 1048576,
				.max_message = 65536, .handshake_timeout = 10 };
	swb_opt opts[] = {
		{ "runtime-dir", "SWB_RUNTIME_DIR", SWB_OPT_STR, "DIR", "runtime dir holding bridge.ipc", &c->runtime_dir, 0, 0 },
		{ "listen", "SWB_LISTEN", SWB_OPT_STR, "HOST:PORT", "address for WebSocket + HTTP API (default 0.0.0.0:6001)", &c->listen, 0, 0 },
		{ "app", "SWB_APPS", SWB_OPT_LIST, "ID:KEY:SECRET", "an app to serve (repeatable; env: comma/space separated)", &apps, 0, 0 },
		{ "apps-file", "SWB_APPS_FILE", SWB_OPT_STR, "FILE", "file with one ID:KEY:SECRET per line (# comments), or JSON: [{\"id\",\"key\",\"secret\",\"enabled\",\"client_events\",\"client_event_rate\",\"max_connections\" (cluster-wide, eventually consistent within ~1-2 s; per edge while the bridge is unreachable),\"presence_max_members\",\"allowed_origins\":[...],\"webhooks\":[{\"url\",\"events\":[...]}]}]", &apps_file, 0, 0 },
		{ "webhook", "SWB_WEBHOOKS", SWB_OPT_LIST, "ID=URL", "send every webhook event of app ID to URL (repeatable)", &hooks, 0, 0 },
		{ "activity-timeout", "SWB_ACTIVITY_TIMEOUT", SWB_OPT_INT, "SECS", "idle seconds before a ping, sent to clients (default 120)", &c->activity_timeout, 1, 86400 },
		{ "pong-timeout", "SWB_PONG_TIMEOUT", SWB_OPT_INT, "SECS", "seconds to wait for a pong before closing 4201 (default 30)", &c->pong_timeout, 1, 3600 },
		{ "max-queue", "SWB_MAX_QUEUE", SWB_OPT_INT, "BYTES", "per-connection send queue limit (default 1048576)", &c->max_queue, 1024, 1L << 30 },
		{ "max-message", "SWB_MAX_MESSAGE", SWB_OPT_INT, "BYTES", "inbound WebSocket message limit (default 65536)", &c->max_message, 256, 16L << 20 },
		{ "handshake-timeout", "SWB_HANDSHAKE_TIMEOUT", SWB_OPT_INT, "SECS", "seconds a client has for the TLS handshake, the HTTP/upgrade request head, and an HTTP request body; then it is dropped (default 10)", &c->handshake_timeout, 1, 3600 },
		{ "tls-cert", "SWB_TLS_CERT", SWB_OPT_STR, "FILE", "PEM certificate chain: serve wss:// and https:// on --listen (reloaded on SIGHUP)", &c->tls_cert, 0, 0 },
		{ "tls-key", "SWB_TLS_KEY", SWB_OPT_STR, "FILE", "PEM private key (unencrypted) for --tls-cert (reloaded on SIGHUP)", &c->tls_key, 0, 0 },
		{ "tls-ca", "SWB_TLS_CA", SWB_OPT_STR, "FILE", "PEM CA bundle: require client certificates signed by it (mutual TLS)", &c->tls_ca, 0, 0 },
		{ "log-level", "SWB_LOG_LEVEL", SWB_OPT_STR, "LEVEL", "error|warn|info|debug (default info)", &level, 0, 0 },
		{ "log-format", "SWB_LOG_FORMAT", SWB_OPT_STR, "FMT", "text|json (default text)", &format, 0, 0 },
		{ NULL, NULL, 0, NULL, NULL, NULL, 0, 0 },
	};
	swb_opts_spec spec = { "swb-edge", "[options]",
			       "Serve Pusher Channels (protocol 7) WebSockets and the Pusher HTTP API, and "
			       "exchange interest and events with the host's swb-bridge.",
			       NULL, opts, false };
	swb_opts_parse(&spec, argc, argv);
	int lv = swb_log_level_parse(level);
	if (lv < 0)
		swb_opts_usage_error(&spec, "invalid --log-level '%s'", level);
	swb_log_set_level(lv);
	if (swb_log_set_format(format) < 0)
		swb_opts_usage_error(&spec, "invalid --log-format '%s'", format);
	char host[256];
	int port;
	if (swb_edge_parse_listen(c->listen, host, sizeof(host), &port) < 0)
		swb_opts_usage_error(&spec, "invalid --listen '%s': expected IP:PORT, [IPv6]:PORT or *:PORT", c->listen);
	char err[600];
	if (swb_edge_tls_check(c->tls_cert, c->tls_key, c->tls_ca, err, sizeof(err)) < 0)
		swb_opts_usage_error(&spec, "%s", err);
	load_apps(e, &spec, &apps, apps_file, &hooks);
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
	if (swb_edge_metrics_init(e) < 0)
		swb_warn("out of memory: /metrics will be empty");
	uv_signal_init(&e->loop, &e->sigint);
	uv_signal_init(&e->loop, &e->sigterm);
	e->sigint.data = e->sigterm.data = e;
	uv_signal_start(&e->sigint, on_signal, SIGINT);
	uv_signal_start(&e->sigterm, on_signal, SIGTERM);
	uv_signal_init(&e->loop, &e->sighup);
	e->sighup.data = e;
	uv_signal_start(&e->sighup, on_sighup, SIGHUP);
	int rc = 0;
	if (swb_edge_webhooks_start(e) < 0 || swb_edge_server_start(e) < 0 || swb_edge_link_start(e) < 0) {
		rc = 1;
		shutdown_edge(e);
	} else {
		swb_info("swb-edge %s started: edge id %s, %zu app(s), runtime dir %s", SWB_VERSION,
			 e->edge_id_str, e->apps.n, e->cfg.runtime_dir);
		uv_timer_start(&e->tick, on_tick, 1000, 1000);
	}
	uv_run(&e->loop, UV_RUN_DEFAULT);
	swb_edge_server_free(e);
	uv_run(&e->loop, UV_RUN_DEFAULT); /* anything lws closed last */
	if (uv_loop_close(&e->loop) != 0)
		swb_warn("uv loop still had open handles at exit");
	swb_edge_presence_fini(e);
	swb_edge_cache_clear(e);
	swb_edge_chans_fini(&e->chans);
	swb_edge_apps_fini(&e->apps);
	swb_edge_metrics_fini(e);
	swb_edge_link_lib_fini();
	swb_edge_webhooks_lib_fini();
	swb_info("stopped");
	return rc;
}
