/* cache.c: cache channels (cache-, private-cache-, private-encrypted-cache-,
 * presence-cache-). After a subscription succeeds the edge asks the bridge
 * for the channel's last event (CacheGet); the answer goes to that one
 * connection: the cached event built like a delivery, or pusher:cache_miss
 * (the bridge stores events on publish and sends the cache_miss webhook).
 *
 * Ordering: the subscriber must see the cached event first, then every
 * later event once, without a gap. Live deliveries of the channel to that
 * connection are therefore HELD while the CacheGet is pending and sent
 * after the answer. The cached event is the newest one Redis had when it
 * answered, but the same event (or an older one from the same origin) may
 * still be on its way through pub/sub: after a hit, a "floor" (origin host,
 * envelope id) drops live copies from that origin with id <= floor, until a
 * newer one from that origin arrives or the floor expires. Envelope ids
 * grow per origin bridge (seeded from the clock at bridge start).
 *
 * Ownership: swb_edge.cache_pending / cache_by_key own each state (at most
 * SWB_EDGE_CACHE_PENDING_MAX); a state owns one reference to each held
 * frame. A state names its connection by socket id; conn.c calls
 * swb_edge_cache_forget_conn() before the connection is freed. */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "frames.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define CACHE_FLOOR_MS 10000    /* how long a floor outlives the answer */
#define CACHE_ORIGIN_MAX 64

typedef struct cache_held {
	swb_buf *frame;
	uint64_t id;
	char origin[CACHE_ORIGIN_MAX];
} cache_held;

struct swb_edge_cache_req {
	UT_hash_handle hh;      /* cache_pending, by request_id (while pending) */
	UT_hash_handle hk;      /* cache_by_key, by key */
	uint64_t request_id;
	uint64_t deadline_ms;
	bool answered;          /* only the floor is left */
	cache_held *held;
	uint32_t n_held, cap_held;
	size_t held_bytes;
	uint64_t floor_id;
	char floor_origin[CACHE_ORIGIN_MAX];
	size_t key_len;
	char key[32 + 1 + SWB_CHANNEL_NAME_MAX + 1]; /* socket_id \0 channel */
};

static const char *req_sid(const swb_edge_cache_req *r) { return r->key; }
static const char *req_channel(const swb_edge_cache_req *r) { return r->key + strlen(r->key) + 1; }

static size_t make_key(char *key, size_t cap, const char *sid, const char *channel)
{
	size_t a = strlen(sid), b = strlen(channel);
	if (a + 1 + b + 1 > cap)
		return 0;
	memcpy(key, sid, a + 1);
	memcpy(key + a + 1, channel, b + 1);
	return a + 1 + b;
}

static swb_edge_cache_req *find_key(swb_edge *e, const char *sid, const char *channel)
{
	char key[sizeof(((swb_edge_cache_req *)0)->key)];
	size_t n = make_key(key, sizeof(key), sid, channel);
	swb_edge_cache_req *r = NULL;
	if (n)
		HASH_FIND(hk, e->cache_by_key, key, n, r);
	return r;
}

static void held_release(swb_edge_cache_req *r)
{
	for (uint32_t i = 0; i < r->n_held; i++)
		swb_buf_unref(r->held[i].frame);
	free(r->held);
	r->held = NULL;
	r->n_held = r->cap_held = 0;
	r->held_bytes = 0;
}

static void req_free(swb_edge *e, swb_edge_cache_req *r)
{
	if (!r->answered)
		HASH_DELETE(hh, e->cache_pending, r);
	HASH_DELETE(hk, e->cache_by_key, r);
	swb_edge_conn *c = swb_edge_conn_by_socket_id(e, req_sid(r), strlen(req_sid(r)));
	if (c && c->cache_watch)
		c->cache_watch--;
	held_release(r);
	e->cache_pending_n--;
	free(r);
}

void swb_edge_cache_get(swb_edge *e, swb_edge_conn *c, const char *channel)
{
	if (e->cache_pending_n >= SWB_EDGE_CACHE_PENDING_MAX || strlen(channel) > SWB_CHANNEL_NAME_MAX) {
		swb_debug("cache get for %s skipped: too many pending", channel);
		return;
	}
	swb_edge_cache_req *old = find_key(e, c->socket_id, channel);
	if (old)
		req_free(e, old); /* re-subscribed: the old answer no longer applies */
	swb_edge_cache_req *r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->key_len = make_key(r->key, sizeof(r->key), c->socket_id, channel);
	r->request_id = swb_edge_next_request_id(e);
	Swb__CacheGet g = SWB__CACHE_GET__INIT;
	g.request_id = r->request_id;
	g.app_id = c->app->id;
	g.channel = (char *)req_channel(r);
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_CACHE_GET;
	m.cache_get = &g;
	if (swb_edge_link_send(e, &m) < 0) {
		free(r);
		return;
	}
	r->deadline_ms = swb_mono_ms() + SWB_EDGE_ACK_TIMEOUT_MS;
	HASH_ADD(hh, e->cache_pending, request_id, sizeof(r->request_id), r);
	HASH_ADD_KEYPTR(hk, e->cache_by_key, r->key, r->key_len, r);
	e->cache_pending_n++;
	c->cache_watch++;
}

/* The cached Envelope as a frame, if it is valid and for this channel;
 * its origin and id go to the floor. */
static swb_buf *hit_frame(const swb_edge_conn *c, swb_edge_cache_req *r, const uint8_t *p, size_t len)
{
	const char *channel = req_channel(r);
	Swb__Envelope *env = swb__envelope__unpack(NULL, len, p);
	swb_buf *b = NULL;
	if (env && env->app_id && !strcmp(env->app_id, c->app->id) && env->channel &&
	    !strcmp(env->channel, channel) && env->event && swb_event_name_valid(env->event, strlen(env->event)) &&
	    (env->data.len == 0 || env->data.data) && swb_edge_utf8_valid(env->data.data, env->data.len) &&
	    (!env->user_id || swb_edge_utf8_valid(env->user_id, strlen(env->user_id)))) {
		const char *uid = env->user_id && *env->user_id ? env->user_id : NULL;
		b = swb_edge_frame_event(LWS_PRE, env->event, strlen(env->event), channel, strlen(channel),
					 (const char *)env->data.data, env->data.len, uid, uid ? strlen(uid) : 0);
		if (env->origin_host && strlen(env->origin_host) < CACHE_ORIGIN_MAX && env->id) {
			snprintf(r->floor_origin, sizeof(r->floor_origin), "%s", env->origin_host);
			r->floor_id = env->id;
		}
	}
	if (env)
		swb__envelope__free_unpacked(env, NULL);
	return b;
}

/* Is (origin, id) at or below r's floor? Clears the floor on a newer id. */
static bool below_floor(swb_edge_cache_req *r, const char *origin, uint64_t id)
{
	if (!r->floor_id || !origin || strcmp(origin, r->floor_origin) != 0)
		return false;
	if (id && id <= r->floor_id)
		return true;
	r->floor_id = 0; /* a newer event from that origin: nothing older can follow */
	return false;
}

/* Send what was held (skipping copies of the cached event) and turn r into
 * a floor, or free it when no floor is needed. */
static void release(swb_edge *e, swb_edge_cache_req *r, swb_edge_conn *c)
{
	for (uint32_t i = 0; i < r->n_held; i++) {
		cache_held *h = &r->held[i];
		if (c && !below_floor(r, h->origin, h->id))
			swb_edge_conn_deliver(e, c, h->frame);
	}
	held_release(r);
	HASH_DELETE(hh, e->cache_pending, r);
	r->answered = true;
	r->deadline_ms = swb_mono_ms() + CACHE_FLOOR_MS;
	if (!c || !r->floor_id)
		req_free(e, r);
}

void swb_edge_cache_on_result(swb_edge *e, uint64_t request_id, bool hit, const uint8_t *env, size_t len)
{
	swb_edge_cache_req *r = NULL;
	HASH_FIND(hh, e->cache_pending, &request_id, sizeof(request_id), r);
	if (!r)
		return;
	const char *sid = req_sid(r), *ch = req_channel(r);
	size_t cn = strlen(ch);
	swb_edge_conn *c = swb_edge_conn_by_socket_id(e, sid, strlen(sid));
	if (!c || !c->app || c->close_code || !swb_edge_pusher_is_subscribed(e, c, ch, cn)) {
		req_free(e, r);
		return;
	}
	swb_buf *b = hit ? hit_frame(c, r, env, len) : NULL;
	if (hit && !b) {
		e->st.bad_deliveries++;
		hit = false;
	}
	if (!hit) {
		static const char ev[] = "pusher:cache_miss";
		b = swb_edge_frame_event(LWS_PRE, ev, sizeof(ev) - 1, ch, cn, "{}", 2, NULL, 0);
	}
	swb_edge_conn_send_new(e, c, b);
	release(e, r, c);
}

bool swb_edge_cache_intercept(swb_edge *e, swb_edge_conn *c, const char *channel, swb_buf *frame,
			      const char *origin, uint64_t id)
{
	swb_edge_cache_req *r = find_key(e, c->socket_id, channel);
	if (!r)
		return false;
	if (r->answered) {
		bool drop = below_floor(r, origin, id);
		if (!r->floor_id)
			req_free(e, r);
		return drop;
	}
	if (r->held_bytes + frame->len > (size_t)e->cfg.max_queue) {
		/* Same bound as the send queue: a flood while we wait is a slow consumer. */
		e->st.slow_disconnects++;
		swb_edge_conn_close(e, c, 4100, "Slow consumer: send queue over limit", true);
		return true;
	}
	if (r->n_held == r->cap_held) {
		uint32_t cap = r->cap_held ? r->cap_held * 2 : 8;
		cache_held *h = realloc(r->held, cap * sizeof(*h));
		if (!h)
			return false; /* deliver now rather than lose it */
		r->held = h;
		r->cap_held = cap;
	}
	cache_held *h = &r->held[r->n_held++];
	h->frame = swb_buf_ref(frame);
	h->id = id;
	snprintf(h->origin, sizeof(h->origin), "%s", origin && strlen(origin) < CACHE_ORIGIN_MAX ? origin : "");
	r->held_bytes += frame->len;
	return true;
}

void swb_edge_cache_forget_conn(swb_edge *e, swb_edge_conn *c)
{
	swb_edge_cache_req *r, *tmp;
	if (!c->cache_watch)
		return;
	HASH_ITER(hk, e->cache_by_key, r, tmp)
		if (!strcmp(req_sid(r), c->socket_id))
			req_free(e, r);
	c->cache_watch = 0;
}

/* Pending past its deadline: give up on the cache, deliver what was held. */
void swb_edge_cache_tick(swb_edge *e, uint64_t now)
{
	swb_edge_cache_req *r, *tmp;
	HASH_ITER(hk, e->cache_by_key, r, tmp) {
		if (now < r->deadline_ms)
			continue;
		if (r->answered) {
			req_free(e, r);
			continue;
		}
		const char *sid = req_sid(r);
		release(e, r, swb_edge_conn_by_socket_id(e, sid, strlen(sid)));
	}
}

/* The bridge link went down (answers will never come) or the edge stops:
 * deliver what was held and forget every state. */
void swb_edge_cache_clear(swb_edge *e)
{
	swb_edge_cache_req *r, *tmp;
	HASH_ITER(hk, e->cache_by_key, r, tmp) {
		if (!r->answered) {
			const char *sid = req_sid(r);
			release(e, r, swb_edge_conn_by_socket_id(e, sid, strlen(sid)));
		}
	}
	HASH_ITER(hk, e->cache_by_key, r, tmp)
		req_free(e, r);
}
