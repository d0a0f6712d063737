/* cache.c: cache channels (cache-, private-cache-, private-encrypted-cache-,
 * presence-cache-). After a subscription succeeds the edge asks the bridge
 * for the channel's last event (CacheGet); the answer goes to that one
 * connection: the cached event built like a delivery, or pusher:cache_miss
 * (the bridge stores events on publish and sends the cache_miss webhook).
 *
 * Ownership: swb_edge.cache_pending owns each waiting request (at most
 * SWB_EDGE_CACHE_PENDING_MAX, each dropped after the ack timeout or when
 * the link goes down). A request names the connection by socket id, so a
 * connection that closed meanwhile is simply not found. */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "frames.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

struct swb_edge_cache_req {
	UT_hash_handle hh;
	uint64_t request_id;
	uint64_t deadline_ms;
	char sid[32];
	char channel[SWB_CHANNEL_NAME_MAX + 1];
};

static void req_free(swb_edge *e, swb_edge_cache_req *r)
{
	HASH_DEL(e->cache_pending, r);
	e->cache_pending_n--;
	free(r);
}

void swb_edge_cache_get(swb_edge *e, swb_edge_conn *c, const char *channel)
{
	if (e->cache_pending_n >= SWB_EDGE_CACHE_PENDING_MAX || strlen(channel) > SWB_CHANNEL_NAME_MAX) {
		swb_debug("cache get for %s skipped: too many pending", channel);
		return;
	}
	swb_edge_cache_req *r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->request_id = swb_edge_next_request_id(e);
	snprintf(r->sid, sizeof(r->sid), "%s", c->socket_id);
	snprintf(r->channel, sizeof(r->channel), "%s", channel);
	Swb__CacheGet g = SWB__CACHE_GET__INIT;
	g.request_id = r->request_id;
	g.app_id = c->app->id;
	g.channel = r->channel;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_CACHE_GET;
	m.cache_get = &g;
	if (swb_edge_link_send(e, &m) < 0) {
		free(r);
		return;
	}
	r->deadline_ms = swb_mono_ms() + SWB_EDGE_ACK_TIMEOUT_MS;
	HASH_ADD(hh, e->cache_pending, request_id, sizeof(r->request_id), r);
	e->cache_pending_n++;
}

/* The cached Envelope as a frame, if it is valid and for this channel. */
static swb_buf *hit_frame(const swb_edge_conn *c, const char *channel, const uint8_t *p, size_t len)
{
	Swb__Envelope *env = swb__envelope__unpack(NULL, len, p);
	swb_buf *b = NULL;
	if (env && env->app_id && !strcmp(env->app_id, c->app->id) && env->channel &&
	    !strcmp(env->channel, channel) && env->event && swb_event_name_valid(env->event, strlen(env->event)) &&
	    (env->data.len == 0 || env->data.data) && swb_edge_utf8_valid(env->data.data, env->data.len) &&
	    (!env->user_id || swb_edge_utf8_valid(env->user_id, strlen(env->user_id)))) {
		const char *uid = env->user_id && *env->user_id ? env->user_id : NULL;
		b = swb_edge_frame_event(LWS_PRE, env->event, strlen(env->event), channel, strlen(channel),
					 (const char *)env->data.data, env->data.len, uid, uid ? strlen(uid) : 0);
	}
	if (env)
		swb__envelope__free_unpacked(env, NULL);
	return b;
}

void swb_edge_cache_on_result(swb_edge *e, uint64_t request_id, bool hit, const uint8_t *env, size_t len)
{
	swb_edge_cache_req *r = NULL;
	HASH_FIND(hh, e->cache_pending, &request_id, sizeof(request_id), r);
	if (!r)
		return;
	swb_edge_conn *c = swb_edge_conn_by_socket_id(e, r->sid, strlen(r->sid));
	size_t cn = strlen(r->channel);
	if (c && c->app && !c->close_code && swb_edge_pusher_is_subscribed(e, c, r->channel, cn)) {
		swb_buf *b = hit ? hit_frame(c, r->channel, env, len) : NULL;
		if (hit && !b) {
			e->st.bad_deliveries++;
			hit = false;
		}
		if (!hit) {
			static const char ev[] = "pusher:cache_miss";
			b = swb_edge_frame_event(LWS_PRE, ev, sizeof(ev) - 1, r->channel, cn, "{}", 2, NULL, 0);
		}
		swb_edge_conn_send_new(e, c, b);
	}
	req_free(e, r);
}

void swb_edge_cache_tick(swb_edge *e, uint64_t now)
{
	swb_edge_cache_req *r, *tmp;
	HASH_ITER(hh, e->cache_pending, r, tmp)
		if (now >= r->deadline_ms)
			req_free(e, r);
}

void swb_edge_cache_clear(swb_edge *e)
{
	swb_edge_cache_req *r, *tmp;
	HASH_ITER(hh, e->cache_pending, r, tmp)
		req_free(e, r);
}
