/* cache.c: cache channels (the "cache-" infix). CacheGet -> CacheResult
 * from P:A:cache:C (written atomically with the PUBLISH by publish_cache,
 * see publish.c); a miss sets P:A:cmiss:C NX PX 1000 and only the winner
 * emits the cache_miss webhook. With --redis none the last events live in
 * memory here (swb_bridge_mcache, owned by b->mcache; bounded by
 * MCACHE_MAX_BYTES / MCACHE_MAX_ENTRIES; expired by the sweep timer).
 * Owns one swb_bridge_cget per GET in flight. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define CACHE_MISS_DEDUP_MS 1000
#define MCACHE_TTL_MS 1800000
#define MCACHE_MAX_BYTES (64u * 1024 * 1024)
#define MCACHE_MAX_ENTRIES 100000

typedef struct swb_bridge_mcache {
	char key[SWB_BRIDGE_KEY_MAX + 1];
	uint8_t *env; /* owned packed Envelope, NULL = only a miss mark */
	size_t len;
	uint64_t expires_ms, miss_ms;
	UT_hash_handle hh;
} swb_bridge_mcache;

static swb_bridge_mcache *mcache_find(swb_bridge *b, const char *app, const char *chan)
{
	char key[SWB_BRIDGE_KEY_MAX + 1];
	int n = swb_bridge_state_key(key, app, chan);
	swb_bridge_mcache *m = NULL;
	if (n > 0)
		HASH_FIND(hh, b->mcache, key, (size_t)n, m);
	if (m && m->env && m->expires_ms <= swb_mono_ms()) {
		b->mcache_bytes -= m->len;
		free(m->env);
		m->env = NULL;
		m->len = 0;
	}
	return m;
}

bool swb_bridge_mcache_peek(swb_bridge *b, const char *app, const char *chan, const uint8_t **env, size_t *len,
			    uint64_t *ttl_ms)
{
	swb_bridge_mcache *m = mcache_find(b, app, chan);
	if (!m || !m->env)
		return false;
	*env = m->env;
	*len = m->len;
	*ttl_ms = m->expires_ms - swb_mono_ms();
	return true;
}

static void send_cache(swb_bridge *b, uint32_t pipe_id, uint64_t rid, const uint8_t *env, size_t len)
{
	Swb__CacheResult cr = SWB__CACHE_RESULT__INIT;
	cr.request_id = rid;
	cr.hit = env != NULL;
	cr.envelope.data = (uint8_t *)env;
	cr.envelope.len = env ? len : 0;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_CACHE_RESULT;
	bm.cache_result = &cr;
	b->cnt.queries++;
	swb_bridge_send_msg(b, pipe_id, &bm);
}

typedef struct swb_bridge_cget {
	swb_bridge *b;
	uint32_t pipe_id;
	uint64_t request_id;
	char app[SWB_APP_ID_MAX + 1];
	char chan[SWB_CHANNEL_NAME_MAX + 1];
} swb_bridge_cget;

static void cget_free(swb_bridge_cget *c)
{
	c->b->req_inflight--;
	free(c);
}

/* A cached value must be an Envelope of exactly this app and channel. */
static bool cached_valid(const char *app, const char *chan, const uint8_t *p, size_t len)
{
	Swb__Envelope *e = swb__envelope__unpack(NULL, len, p);
	bool ok = e && e->app_id && e->channel && !strcmp(e->app_id, app) && !strcmp(e->channel, chan);
	if (e)
		swb__envelope__free_unpacked(e, NULL);
	return ok;
}

static void on_cmiss_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_cget *c = privdata;
	redisReply *r = reply;
	if (r && r->type == REDIS_REPLY_STATUS) /* OK: we won the de-duplication */
		swb_bridge_webhook(c->b, c->app, "cache_miss", c->chan, NULL);
	cget_free(c);
}

/* SET P:A:cmiss:C 1 NX PX 1000: only the winner emits cache_miss. */
static void cache_miss_redis(swb_bridge_cget *c)
{
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	swb_bridge_key(c->b, key, sizeof(key), c->app, "cmiss", c->chan);
	const char *argv[6] = { "SET", key, "1", "NX", "PX", "1000" };
	size_t lens[6] = { 3, strlen(key), 1, 2, 2, 4 };
	if (!swb_bridge_redis_cmd_up(c->b) ||
	    redisAsyncCommandArgv(c->b->cmd.ac, on_cmiss_reply, c, 6, argv, lens) != REDIS_OK)
		cget_free(c);
}

static void on_cache_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_cget *c = privdata;
	redisReply *r = reply;
	bool hit = swb_bridge_reply_is_str(r) && cached_valid(c->app, c->chan, (const uint8_t *)r->str, r->len);
	if (r && !hit && r->type != REDIS_REPLY_NIL)
		c->b->cnt.script_errors++;
	send_cache(c->b, c->pipe_id, c->request_id, hit ? (const uint8_t *)r->str : NULL, hit ? r->len : 0);
	if (!hit && r && r->type == REDIS_REPLY_NIL)
		cache_miss_redis(c); /* takes c */
	else
		cget_free(c);
}

static void cache_get_local(swb_bridge *b, uint32_t pipe_id, const Swb__CacheGet *g)
{
	swb_bridge_mcache *m = mcache_find(b, g->app_id, g->channel);
	if (m && m->env) {
		send_cache(b, pipe_id, g->request_id, m->env, m->len);
		return;
	}
	send_cache(b, pipe_id, g->request_id, NULL, 0);
	uint64_t now = swb_mono_ms();
	if (m && m->miss_ms && now - m->miss_ms < CACHE_MISS_DEDUP_MS)
		return;
	if (!m && HASH_COUNT(b->mcache) < MCACHE_MAX_ENTRIES && (m = calloc(1, sizeof(*m))) != NULL) {
		swb_bridge_state_key(m->key, g->app_id, g->channel);
		HASH_ADD_STR(b->mcache, key, m);
	}
	if (m)
		m->miss_ms = now;
	swb_bridge_webhook(b, g->app_id, "cache_miss", g->channel, NULL);
}

/* A parked read that timed out (the sub connection is down): a miss, as
 * when Redis is down, no webhook. */
void swb_bridge_cache_refuse(swb_bridge *b, uint32_t pipe_id, uint64_t request_id)
{
	send_cache(b, pipe_id, request_id, NULL, 0);
}

/* Park g until this host's SUBSCRIBE of the channel is confirmed (park.c):
 * the GET must not run before it, or an event published between the two
 * would be neither the cached answer nor a live delivery (a gap). Returns
 * true if parked (or answered). */
static bool parked(swb_bridge *b, uint32_t pipe_id, const Swb__CacheGet *g)
{
	Swb__EdgeMsg em = SWB__EDGE_MSG__INIT;
	em.body_case = SWB__EDGE_MSG__BODY_CACHE_GET;
	em.cache_get = (Swb__CacheGet *)g;
	int rc = swb_bridge_park_until_subscribed(b, pipe_id, g->app_id, g->channel, &em);
	if (rc < 0)
		send_cache(b, pipe_id, g->request_id, NULL, 0);
	return rc != 0;
}

void swb_bridge_cache_get(swb_bridge *b, uint32_t pipe_id, const Swb__CacheGet *g)
{
	if (!g->app_id || !g->channel || !swb_app_token_valid(g->app_id, strlen(g->app_id)) ||
	    !swb_channel_name_valid(g->channel, strlen(g->channel))) {
		b->cnt.edge_bad_name++;
		send_cache(b, pipe_id, g->request_id, NULL, 0);
		return;
	}
	if (!swb_bridge_is_cache(g->channel)) { /* nothing is cached there: no webhook */
		send_cache(b, pipe_id, g->request_id, NULL, 0);
		return;
	}
	if (b->url.none) {
		cache_get_local(b, pipe_id, g);
		return;
	}
	if (parked(b, pipe_id, g))
		return;
	bool room = b->req_inflight < SWB_BRIDGE_MAX_REQUESTS;
	swb_bridge_cget *c = room && swb_bridge_redis_cmd_up(b) ? calloc(1, sizeof(*c)) : NULL;
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	if (c) {
		*c = (swb_bridge_cget){ .b = b, .pipe_id = pipe_id, .request_id = g->request_id };
		b->req_inflight++;
		snprintf(c->app, sizeof(c->app), "%s", g->app_id);
		snprintf(c->chan, sizeof(c->chan), "%s", g->channel);
		swb_bridge_key(b, key, sizeof(key), c->app, "cache", c->chan);
		const char *argv[2] = { "GET", key };
		size_t lens[2] = { 3, strlen(key) };
		if (redisAsyncCommandArgv(b->cmd.ac, on_cache_reply, c, 2, argv, lens) == REDIS_OK)
			return;
		cget_free(c);
	}
	send_cache(b, pipe_id, g->request_id, NULL, 0); /* Redis down: a miss, no webhook */
}

/* --redis none: keep the last event (bounded: MCACHE_MAX_BYTES in all). */
void swb_bridge_mcache_store(swb_bridge *b, const char *app, const char *chan, const uint8_t *env, size_t len)
{
	swb_bridge_mcache *m = mcache_find(b, app, chan);
	size_t old = m && m->env ? m->len : 0;
	if (b->mcache_bytes - old + len > MCACHE_MAX_BYTES)
		return;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	if (!m && HASH_COUNT(b->mcache) < MCACHE_MAX_ENTRIES && (m = calloc(1, sizeof(*m))) != NULL) {
		swb_bridge_state_key(m->key, app, chan);
		HASH_ADD_STR(b->mcache, key, m);
	}
	if (!m) {
		free(copy);
		return;
	}
	memcpy(copy, env, len);
	free(m->env);
	b->mcache_bytes = b->mcache_bytes - old + len;
	m->env = copy;
	m->len = len;
	m->expires_ms = swb_mono_ms() + MCACHE_TTL_MS;
}

void swb_bridge_mcache_expire(swb_bridge *b)
{
	uint64_t now = swb_mono_ms();
	swb_bridge_mcache *m, *tmp;
	HASH_ITER(hh, b->mcache, m, tmp) {
		if (m->env && m->expires_ms > now)
			continue;
		if (!m->env && m->miss_ms && now - m->miss_ms < CACHE_MISS_DEDUP_MS)
			continue;
		b->mcache_bytes -= m->env ? m->len : 0;
		HASH_DEL(b->mcache, m);
		free(m->env);
		free(m);
	}
}

void swb_bridge_mcache_fini(swb_bridge *b)
{
	swb_bridge_mcache *m, *tmp;
	HASH_ITER(hh, b->mcache, m, tmp) {
		HASH_DEL(b->mcache, m);
		free(m->env);
		free(m);
	}
	b->mcache_bytes = 0;
}
