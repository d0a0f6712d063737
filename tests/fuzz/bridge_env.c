/* bridge_env.c: see bridge_env.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge_env.h"
#include "log.h"
#include "util.h"

static swb_bridge b;
static uv_loop_t loop;
static char dir[64];

static void cleanup(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/bridge.ipc", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/control.ipc", dir);
	unlink(p);
	rmdir(dir);
}

static void add_fake_edge(uint32_t id)
{
	swb_bridge_edge *e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->pipe_id = id;
	snprintf(e->edge_id, sizeof(e->edge_id), "fuzz-edge-%u", id);
	e->app_ids = calloc(1, sizeof(char *));
	e->app_ids[0] = strdup("app1");
	e->n_app_ids = 1;
	e->connected_ms = swb_mono_ms();
	HASH_ADD(hh, b.edges, pipe_id, sizeof(e->pipe_id), e);
}

swb_bridge *fuzz_bridge(void)
{
	if (b.loop)
		return &b;
	swb_log_init("fuzz-bridge");
	swb_log_set_level(getenv("FUZZ_VERBOSE") ? SWB_LOG_DEBUG : SWB_LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/swb-fuzz-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	uv_loop_init(&loop);
	b.loop = &loop;
	b.runtime_dir = dir;
	b.host_id = "fuzzhost";
	b.prefix = "swb";
	b.redis_url_str = getenv("FUZZ_BRIDGE_REDIS") ? "redis://127.0.0.1:1" : "none";
	const char *err = NULL;
	if (swb_bridge_redis_url_parse(b.redis_url_str, &b.url, &err) < 0)
		abort();
	b.host_ttl_s = 30;
	b.heartbeat_s = 5;
	b.start_ms = swb_mono_ms();
	b.next_seq = 1;
	swb_bridge_interest_init(&b.interest, swb_bridge_redis_chan_changed, &b);
	if (swb_bridge_cluster_init(&b) < 0 || swb_bridge_edges_init(&b) < 0 || swb_bridge_control_init(&b) < 0 ||
	    swb_bridge_redis_init(&b) < 0)
		abort();
	add_fake_edge(1);
	add_fake_edge(2);
	swb_bridge_cluster_edge_up(&b);
	return &b;
}

void fuzz_bridge_turn(void) { uv_run(&loop, UV_RUN_NOWAIT); }
