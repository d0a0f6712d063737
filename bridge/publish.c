/* publish.c: the publish path and the delivery path.
 *
 * Publish: a PublishRequest from an edge becomes one PUBLISH per envelope
 * on the cmd connection (origin_host and id stamped here); one
 * swb_bridge_pubreq per request owns the bookkeeping and is freed when its
 * last PUBLISH replied, after the single PublishAck went out. With
 * --redis none, envelopes are routed locally instead.
 *
 * Cache channels (the "cache-" infix): an API publish (not no_ack, i.e.
 * not a client event) runs publish_cache instead of PUBLISH, which also
 * stores the envelope as the channel's last event (in memory with
 * --redis none). A request with no_ack gets no PublishAck at all.
 *
 * Delivery: a packed Envelope (from Redis or local routing) is wrapped in
 * one BridgeMsg.deliver, packed once and sent to each interested edge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define CACHE_TTL_MS "1800000" /* a cache channel's last event: 30 min */

typedef struct swb_bridge_pubreq {
	swb_bridge *b;
	uint32_t pipe_id;
	uint64_t request_id;
	uint32_t pending; /* PUBLISH replies outstanding, +1 while queuing */
	size_t bytes;     /* payload bytes queued to Redis (b->inflight_bytes share) */
	bool failed;
	bool no_ack;      /* client events: no PublishAck */
	uint64_t sent_us; /* swb_mono_us when queued: Redis round trip */
	char error[128];
} swb_bridge_pubreq;

void swb_bridge_send_ack(swb_bridge *b, uint32_t pipe_id, uint64_t request_id, bool ok, const char *error)
{
	Swb__PublishAck ack = SWB__PUBLISH_ACK__INIT;
	ack.request_id = request_id;
	ack.ok = ok;
	ack.error = (char *)(ok ? "" : error);
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_ACK;
	bm.ack = &ack;
	nng_msg *m = swb_bridge_pack(&bm);
	if (m)
		swb_bridge_edges_send(b, pipe_id, m);
}

static void deliver_local(swb_bridge *b, const char *name, size_t name_len, const uint8_t *payload,
			  size_t len)
{
	swb_bridge_chan *ch = swb_bridge_interest_find(&b->interest, name, name_len);
	if (!ch || ch->n == 0) {
		b->cnt.redis_no_interest++;
		return;
	}
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_DELIVER;
	bm.deliver.data = (uint8_t *)payload;
	bm.deliver.len = len;
	nng_msg *m = swb_bridge_pack(&bm);
	if (!m)
		return;
	for (uint32_t i = 0; i < ch->n; i++) {
		nng_msg *copy = m;
		if (i + 1 < ch->n && nng_msg_dup(&copy, m) != 0)
			continue;
		b->cnt.delivered++;
		b->cnt.delivered_bytes += len;
		if (!swb_bridge_hold_take(b, ch->members[i].edge, name, name_len, copy))
			swb_bridge_edges_send(b, ch->members[i].edge, copy);
	}
}

/* Payload must be an Envelope for exactly the channel it arrived on. */
static bool envelope_matches(swb_bridge *b, const char *name, size_t name_len, const Swb__Envelope *env)
{
	char want[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	size_t al = env->app_id ? strlen(env->app_id) : 0, cl = env->channel ? strlen(env->channel) : 0;
	if (!swb_app_token_valid(env->app_id, al) || !swb_channel_name_valid(env->channel, cl))
		return false;
	int n = swb_bridge_chan_name(want, b->prefix, env->app_id, al, env->channel, cl);
	return n >= 0 && (size_t)n == name_len && memcmp(want, name, name_len) == 0;
}

/* A member_removed for a user this host holds connections of is stale
 * here: the user left and came back (their pres_join ran after the
 * removal and publishes member_added), but the removal may arrive after
 * this host already told a returning connection it is subscribed. Local
 * connections must not see a present member (or themselves) removed. */
static bool stale_member_removed(swb_bridge *b, const Swb__Envelope *env)
{
	if (!env->event || strcmp(env->event, "pusher_internal:member_removed") != 0 || !env->data.len)
		return false;
	cJSON *d = cJSON_ParseWithLength((const char *)env->data.data, env->data.len);
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(d, "user_id");
	bool stale = cJSON_IsString(u) &&
		     swb_bridge_state_user_find(swb_bridge_state_pchan_find(&b->state, env->app_id, env->channel),
						u->valuestring);
	cJSON_Delete(d);
	return stale;
}

void swb_bridge_deliver(swb_bridge *b, const char *name, size_t name_len, const uint8_t *payload, size_t len)
{
	Swb__Envelope *env = swb__envelope__unpack(NULL, len, payload);
	if (!env || !envelope_matches(b, name, name_len, env)) {
		b->cnt.redis_bad_payload++;
		swb_bridge_ratelog_emit(&b->rl_redis, SWB_LOG_WARN,
					"dropped a Redis message on %.*s: not an Envelope for that channel",
					(int)(name_len > 200 ? 200 : name_len), name);
	} else if (!b->url.none && stale_member_removed(b, env)) {
		b->cnt.stale_removals++;
	} else {
		deliver_local(b, name, name_len, payload, len);
	}
	if (env)
		swb__envelope__free_unpacked(env, NULL);
}

static bool envelope_valid(const Swb__Envelope *e)
{
	return e->app_id && swb_app_token_valid(e->app_id, strlen(e->app_id)) && e->channel &&
	       swb_channel_name_valid(e->channel, strlen(e->channel)) && e->event &&
	       swb_event_name_valid(e->event, strlen(e->event));
}

/* Stamp origin and id, pack into a malloc'd buffer (caller frees). */
static uint8_t *pack_envelope(swb_bridge *b, Swb__Envelope *e, size_t *len)
{
	char *saved = e->origin_host; /* owned by the unpacked request */
	e->origin_host = (char *)b->host_id;
	e->id = ++b->next_seq;
	e->origin_time_us = swb_wall_us();
	*len = swb__envelope__get_packed_size(e);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf)
		swb__envelope__pack(e, buf);
	e->origin_host = saved;
	return buf;
}

static void pubreq_done(swb_bridge_pubreq *pr)
{
	if (--pr->pending > 0)
		return;
	pr->b->inflight_bytes -= pr->bytes;
	if (!pr->no_ack)
		swb_bridge_send_ack(pr->b, pr->pipe_id, pr->request_id, !pr->failed, pr->error);
	free(pr);
}

static void on_publish_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_pubreq *pr = privdata;
	redisReply *r = reply;
	swb_bridge *b = pr->b;
	b->inflight--;
	if (r)
		swb_bridge_metrics_redis_rtt(b, pr->sent_us);
	if (r && r->type == REDIS_REPLY_INTEGER) {
		b->cnt.publish_ok++;
	} else {
		b->cnt.publish_failed++;
		if (!pr->failed)
			snprintf(pr->error, sizeof(pr->error), "%s",
				 r && r->type == REDIS_REPLY_ERROR && r->str ? r->str : "redis unavailable");
		pr->failed = true;
	}
	pubreq_done(pr);
}

/* PUBLISH, or publish_cache for an API publish on a cache channel. */
static int send_one(swb_bridge_pubreq *pr, const Swb__Envelope *e, const char *name, size_t name_len,
		    const uint8_t *buf, size_t len)
{
	swb_bridge *b = pr->b;
	if (pr->no_ack || !swb_bridge_is_cache(e->channel))
		return swb_bridge_redis_publish(b, name, name_len, buf, len, on_publish_reply, pr);
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	snprintf(key, sizeof(key), "%s:%s:cache:%s", b->prefix, e->app_id, e->channel);
	const char *args[5] = { b->prefix, key, name, (const char *)buf, CACHE_TTL_MS };
	size_t lens[5] = { strlen(b->prefix), strlen(key), name_len, len, strlen(CACHE_TTL_MS) };
	return swb_bridge_script_run(b, SWB_SCRIPT_PUBLISH_CACHE, 5, args, lens, on_publish_reply, pr);
}

static void publish_one(swb_bridge_pubreq *pr, Swb__Envelope *e)
{
	swb_bridge *b = pr->b;
	char name[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	size_t len;
	int n = swb_bridge_chan_name(name, b->prefix, e->app_id, strlen(e->app_id), e->channel,
				     strlen(e->channel));
	uint8_t *buf = n < 0 ? NULL : pack_envelope(b, e, &len);
	if (buf && send_one(pr, e, name, (size_t)n, buf, len) == 0) {
		pr->pending++;
		b->inflight++;
		pr->bytes += len;
		b->inflight_bytes += len;
		b->cnt.published_bytes += len;
	} else {
		b->cnt.publish_failed++;
		pr->failed = true;
		snprintf(pr->error, sizeof(pr->error), "redis unavailable");
	}
	free(buf);
}

static void publish_local(swb_bridge *b, uint32_t pipe_id, Swb__PublishRequest *req)
{
	for (size_t i = 0; i < req->n_envelopes; i++) {
		Swb__Envelope *e = req->envelopes[i];
		char name[SWB_BRIDGE_CHAN_NAME_MAX + 1];
		size_t len;
		int n = swb_bridge_chan_name(name, b->prefix, e->app_id, strlen(e->app_id), e->channel,
					     strlen(e->channel));
		uint8_t *buf = n < 0 ? NULL : pack_envelope(b, e, &len);
		if (buf && !req->no_ack && swb_bridge_is_cache(e->channel))
			swb_bridge_mcache_store(b, e->app_id, e->channel, buf, len);
		if (buf)
			deliver_local(b, name, (size_t)n, buf, len);
		free(buf);
	}
	b->cnt.publish_ok += req->n_envelopes;
	if (!req->no_ack)
		swb_bridge_send_ack(b, pipe_id, req->request_id, true, NULL);
}

/* Refuse the request at once; returns true if it was refused. */
static bool refuse(swb_bridge *b, uint32_t pipe_id, Swb__PublishRequest *req)
{
	const char *why = NULL;
	for (size_t i = 0; i < req->n_envelopes && !why; i++)
		if (!req->envelopes[i] || !envelope_valid(req->envelopes[i])) {
			b->cnt.edge_bad_name++;
			why = "invalid app id, channel or event name";
		}
	if (!why && !b->url.none && !swb_bridge_redis_cmd_up(b)) {
		b->cnt.publish_failed += req->n_envelopes;
		why = "redis unavailable";
	}
	if (!why && (b->inflight + req->n_envelopes > SWB_BRIDGE_MAX_INFLIGHT ||
		     b->inflight_bytes > SWB_BRIDGE_MAX_INFLIGHT_BYTES)) {
		b->cnt.publish_overload++;
		why = "bridge overloaded";
	}
	if (why && !req->no_ack)
		swb_bridge_send_ack(b, pipe_id, req->request_id, false, why);
	return why != NULL;
}

void swb_bridge_publish(swb_bridge *b, uint32_t pipe_id, Swb__PublishRequest *req)
{
	if (refuse(b, pipe_id, req))
		return;
	if (b->url.none) {
		publish_local(b, pipe_id, req);
		return;
	}
	swb_bridge_pubreq *pr = calloc(1, sizeof(*pr));
	if (!pr) {
		if (!req->no_ack)
			swb_bridge_send_ack(b, pipe_id, req->request_id, false, "bridge out of memory");
		return;
	}
	pr->b = b;
	pr->pipe_id = pipe_id;
	pr->request_id = req->request_id;
	pr->no_ack = req->no_ack;
	pr->pending = 1; /* held while queuing */
	pr->sent_us = swb_mono_us();
	for (size_t i = 0; i < req->n_envelopes; i++)
		publish_one(pr, req->envelopes[i]);
	pubreq_done(pr);
}
