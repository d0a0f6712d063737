/* status.c: the `status` control reply (format: docs/internal-contracts.md,
 * docs/operations.md), with readiness, the probe and the log level,
 * plus a "counters" object with the bridge's drop / garbage counters and a
 * "cluster" object with this host's presence / occupancy totals. */
#include <cjson/cJSON.h>
#include <unistd.h>

#include "bridge.h"
#include "log.h"
#include "util.h"

#define STATUS_CHANNELS_MAX 1000

static cJSON *redis_json(swb_bridge *b)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "mode", b->url.none ? "none" : "redis");
	cJSON_AddStringToObject(r, "url", b->redis_url_str ? b->redis_url_str : "");
	cJSON_AddStringToObject(r, "state", swb_bridge_redis_state(b));
	cJSON_AddNumberToObject(r, "reconnects", (double)b->reconnects);
	cJSON_AddNumberToObject(r, "subscribed", (double)swb_bridge_redis_subscribed(b));
	return r;
}

cJSON *swb_bridge_edge_json(const swb_bridge_edge *e, uint64_t now)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "edge_id", e->edge_id);
	cJSON_AddNumberToObject(o, "pid", e->pid);
	cJSON_AddStringToObject(o, "listen", e->listen);
	cJSON_AddNumberToObject(o, "connections", e->connections);
	cJSON_AddNumberToObject(o, "channels", e->channels);
	cJSON_AddNumberToObject(o, "messages_in", (double)e->messages_in);
	cJSON_AddNumberToObject(o, "messages_out", (double)e->messages_out);
	cJSON_AddNumberToObject(o, "slow_disconnects", (double)e->slow_disconnects);
	cJSON_AddNumberToObject(o, "uptime_ms", (double)e->uptime_ms);
	cJSON_AddNumberToObject(o, "connected_ms", (double)(now - e->connected_ms));
	cJSON_AddNumberToObject(o, "queued", (double)e->out_len);
	cJSON_AddNumberToObject(o, "queued_bytes_bridge", (double)e->out_bytes);
	cJSON_AddNumberToObject(o, "queued_bytes_clients", (double)e->queued_bytes);
	cJSON_AddNumberToObject(o, "subscriptions", e->subscriptions);
	cJSON_AddNumberToObject(o, "bytes_in", (double)e->bytes_in);
	cJSON_AddNumberToObject(o, "bytes_out", (double)e->bytes_out);
	cJSON_AddNumberToObject(o, "auth_failures", (double)e->auth_failures);
	cJSON_AddNumberToObject(o, "drops", (double)e->drops);
	cJSON_AddBoolToObject(o, "draining", e->draining);
	cJSON_AddNumberToObject(o, "config_generation", e->config_generation);
	cJSON_AddStringToObject(o, "reload_error", e->reload_error);
	/* apps with webhooks as of its last Hello; null: not reported (an
	 * older edge: it is sent every webhook event of its apps) */
	if (e->hooks_reported)
		cJSON_AddNumberToObject(o, "webhook_apps", (double)e->n_hooks);
	else
		cJSON_AddNullToObject(o, "webhook_apps");
	return o;
}

/* Redis channels this bridge is SUBSCRIBEd to (at most 1000). */
static void add_channels(cJSON *o, swb_bridge *b)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "channels");
	size_t n = 0;
	bool truncated = false;
	for (swb_bridge_chan *ch = b->interest.chans; ch; ch = ch->hh.next) {
		if (!(b->url.none ? ch->n > 0 : ch->sub_state == SWB_SUB_ON))
			continue;
		if (n++ == STATUS_CHANNELS_MAX) {
			truncated = true;
			break;
		}
		cJSON_AddItemToArray(arr, cJSON_CreateString(ch->name));
	}
	cJSON_AddBoolToObject(o, "channels_truncated", truncated);
}

cJSON *swb_bridge_counters_json(const swb_bridge_counters *c)
{
	cJSON *o = cJSON_CreateObject();
#define C(f) cJSON_AddNumberToObject(o, #f, (double)c->f)
	C(edge_bad_msg);
	C(edge_bad_name);
	C(edge_unknown);
	C(edge_unsupported);
	C(edge_send_drops);
	C(redis_bad_reply);
	C(redis_lost);
	C(redis_bad_payload);
	C(redis_no_interest);
	C(publish_ok);
	C(publish_failed);
	C(publish_overload);
	C(delivered);
	C(control_bad);
	C(state_refused);
	C(presence_joins);
	C(presence_refused);
	C(occ_sets);
	C(queries);
	C(webhooks);
	C(webhooks_dropped);
	C(webhooks_skipped);
	C(swept);
	C(reconciled);
	C(terminates);
	C(script_errors);
	C(stale_removals);
	C(redis_msgs_in);
	C(redis_bytes_in);
	C(delivered_bytes);
	C(published_bytes);
	C(control_requests);
	C(forwarded_cmds);
	C(interest_ready);
#undef C
	return o;
}

/* This host's share of the cluster state (issue #3). */
static cJSON *cluster_json(swb_bridge *b)
{
	cJSON *o = cJSON_CreateObject();
	size_t users = 0;
	for (swb_bridge_pchan *pc = b->state.pres; pc; pc = pc->hh.next)
		users += pc->nusers;
	cJSON_AddNumberToObject(o, "occupied_channels", (double)b->state.nocc);
	cJSON_AddNumberToObject(o, "presence_channels", (double)HASH_COUNT(b->state.pres));
	cJSON_AddNumberToObject(o, "presence_users", (double)users);
	cJSON_AddNumberToObject(o, "presence_connections", (double)b->state.nconns);
	cJSON_AddNumberToObject(o, "host_ttl_s", (double)b->host_ttl_s);
	cJSON_AddNumberToObject(o, "heartbeat_s", (double)b->heartbeat_s);
	cJSON_AddBoolToObject(o, "settled", b->settled);
	/* apps with max_connections: connections on this host / cluster-wide */
	cJSON_AddItemToObject(o, "app_connections", swb_bridge_quota_json(b));
	return o;
}

cJSON *swb_bridge_status_json(swb_bridge *b)
{
	uint64_t now = swb_mono_ms();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", 1);
	cJSON_AddStringToObject(o, "host_id", b->host_id ? b->host_id : "");
	cJSON_AddStringToObject(o, "version", SWB_VERSION);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddNumberToObject(o, "uptime_ms", (double)(now - b->start_ms));
	const char *why = "";
	cJSON_AddBoolToObject(o, "ready", swb_bridge_ready(b, &why));
	cJSON_AddStringToObject(o, "ready_reason", why);
	cJSON_AddStringToObject(o, "log_level", swb_log_level_name(swb_log_get_level()));
	cJSON_AddItemToObject(o, "probe", swb_bridge_probe_json(b));
	cJSON_AddItemToObject(o, "redis", redis_json(b));
	cJSON *edges = cJSON_AddArrayToObject(o, "edges");
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
		cJSON_AddItemToArray(edges, swb_bridge_edge_json(e, now));
	add_channels(o, b);
	cJSON_AddNumberToObject(o, "inflight_publishes", (double)b->inflight);
	cJSON_AddItemToObject(o, "cluster", cluster_json(b));
	cJSON_AddItemToObject(o, "counters", swb_bridge_counters_json(&b->cnt));
	return o;
}
