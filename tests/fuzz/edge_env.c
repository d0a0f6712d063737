/* edge_env.c: see edge_env.h. */
#include <stdlib.h>
#include <string.h>

#include "edge_env.h"
#include "log.h"
#include "util.h"

static swb_edge e;
static bool inited;
static char fake_wsi[64]; /* never dereferenced: only passed to the stubs below */

/* ---- the libwebsockets calls conn.c makes on a connection ---- */
int lws_callback_on_writable(struct lws *wsi) { return 1; }
int lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol wp) { return (int)len; }
void lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs) {}
int lws_partial_buffered(struct lws *wsi) { return 0; }

static const char APPS[] =
	"[{\"id\":\"app1\",\"key\":\"key1\",\"secret\":\"secret1\",\"client_events\":true,"
	"\"client_event_rate\":0,\"presence_max_members\":100,"
	"\"webhooks\":[{\"url\":\"http://127.0.0.1:9/hook\",\"events\":[\"channel_occupied\",\"channel_vacated\","
	"\"member_added\",\"member_removed\",\"client_event\",\"cache_miss\",\"subscription_count\"]}]},"
	"{\"id\":\"app2\",\"key\":\"key2\",\"secret\":\"secret2\",\"client_events\":false}]";

swb_edge *fuzz_edge(void)
{
	if (inited)
		return &e;
	inited = true;
	swb_log_init("fuzz-edge");
	swb_log_set_level(getenv("FUZZ_VERBOSE") ? SWB_LOG_DEBUG : SWB_LOG_ERROR);
	swb_edge_apps_init(&e.apps);
	char err[256];
	if (swb_edge_apps_load_json(&e.apps, APPS, sizeof(APPS) - 1, err, sizeof(err)) < 0)
		abort();
	swb_edge_chans_init(&e.chans);
	e.cfg = (swb_edge_config){ .runtime_dir = "/nonexistent", .listen = "127.0.0.1:0",
				   .activity_timeout = 120, .pong_timeout = 30, .max_queue = 1048576,
				   .max_message = 65536 };
	e.edge_id = 12345;
	strcpy(e.edge_id_str, "12345");
	e.start_ms = swb_mono_ms();
	uv_loop_init(&e.loop);
	uv_timer_init(&e.loop, &e.tick);
	swb_edge_counts_init(&e);
	swb_edge_drain_init(&e);
	uv_signal_init(&e.loop, &e.sigint); /* never started; a drained edge's shutdown closes them */
	uv_signal_init(&e.loop, &e.sigterm);
	swb_edge_wire_start(&e);
	if (swb_edge_metrics_init(&e) < 0 || swb_edge_webhooks_start(&e) < 0)
		abort();
	return &e;
}

swb_edge_conn *fuzz_edge_conn(swb_edge *ed)
{
	swb_edge_conn *c = swb_edge_conn_new(ed, (struct lws *)fake_wsi);
	if (!c)
		abort();
	swb_edge_app *app = (swb_edge_app *)swb_edge_apps_by_id(&ed->apps, "app1", 4);
	c->app = app;
	app->connections++;
	return c;
}

void fuzz_edge_turn(void) { uv_run(&e.loop, UV_RUN_NOWAIT); }
