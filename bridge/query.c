/* query.c: HTTP API queries answered from cluster state (Query ->
 * QueryResult with Pusher's JSON bodies), from Redis or, with --redis
 * none, from memory (state.c, cache.c).
 *
 * A Redis query pipelines its reads on the cmd connection and answers once
 * every reply is in. Replies arrive in order, so slot i belongs to the
 * i-th command. Owns one swb_bridge_qctx per query in flight. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define QUERY_CHANNELS_MAX 100000

typedef struct swb_bridge_qslot {
	long long v;
	char *s; /* owned copy of a string reply */
	size_t slen;
	bool nil;
} swb_bridge_qslot;

typedef struct swb_bridge_qctx {
	swb_bridge *b;
	uint32_t pipe_id;
	uint64_t request_id;
	int kind;
	bool want_users, want_subs, want_cache;
	char app[SWB_APP_ID_MAX + 1];
	char prefix[SWB_CHANNEL_NAME_MAX + 1]; /* CHANNELS: filter_by_prefix */
	size_t sent, replied;
	size_t slot_base; /* replies before the first slot's (CHANNELS phase 1) */
	bool failed;
	swb_bridge_qslot *slots; /* owned, one per command */
	size_t nslots;
	char **names;            /* owned channel names (CHANNELS, CHANNEL_INFO, CHANNEL) */
	size_t nnames;
	long long *subs;         /* CHANNELS: from occtot */
} swb_bridge_qctx;

static void send_result(swb_bridge *b, uint32_t pipe_id, uint64_t rid, uint32_t status, const char *error,
			const swb_sbuf *json)
{
	Swb__QueryResult qr = SWB__QUERY_RESULT__INIT;
	qr.request_id = rid;
	qr.ok = status == 200;
	qr.http_status = status;
	qr.error = (char *)(error ? error : "");
	if (json) {
		qr.json.data = (uint8_t *)json->p;
		qr.json.len = json->len;
	}
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_QUERY_RESULT;
	bm.query_result = &qr;
	b->cnt.queries++;
	swb_bridge_send_msg(b, pipe_id, &bm);
}

static void send_error(swb_bridge *b, uint32_t pipe_id, uint64_t rid, uint32_t status, const char *error)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_sbuf_puts(&s, "{\"error\":");
	swb_sbuf_json_str(&s, error, strlen(error));
	swb_sbuf_puts(&s, "}");
	send_result(b, pipe_id, rid, status, error, s.oom ? NULL : &s);
	swb_sbuf_free(&s);
}

static void send_json(swb_bridge *b, uint32_t pipe_id, uint64_t rid, swb_sbuf *s)
{
	if (s->oom)
		send_error(b, pipe_id, rid, 500, "bridge out of memory");
	else
		send_result(b, pipe_id, rid, 200, NULL, s);
	swb_sbuf_free(s);
}

static void qctx_free(swb_bridge_qctx *q)
{
	q->b->req_inflight--;
	for (size_t i = 0; i < q->nslots; i++)
		free(q->slots[i].s);
	for (size_t i = 0; i < q->nnames; i++)
		free(q->names[i]);
	free(q->slots);
	free(q->names);
	free(q->subs);
	free(q);
}

/* ---- Redis commands ---- */

static void on_slot_reply(redisAsyncContext *ac, void *reply, void *privdata);

void swb_bridge_key(swb_bridge *b, char *out, size_t cap, const char *app, const char *what, const char *chan)
{
	if (chan)
		snprintf(out, cap, "%s:%s:%s:%s", b->prefix, app, what, chan);
	else
		snprintf(out, cap, "%s:%s:%s", b->prefix, app, what);
}

/* Queue cmd key [field] for the next slot. */
static void q_cmd(swb_bridge_qctx *q, const char *cmd, const char *key, const char *field,
		  redisCallbackFn *fn)
{
	const char *argv[3] = { cmd, key, field };
	size_t lens[3] = { strlen(cmd), strlen(key), field ? strlen(field) : 0 };
	swb_bridge *b = q->b;
	if (q->failed || !swb_bridge_redis_cmd_up(b) ||
	    redisAsyncCommandArgv(b->cmd.ac, fn ? fn : on_slot_reply, q, field ? 3 : 2, argv, lens) != REDIS_OK) {
		q->failed = true;
		return;
	}
	q->sent++;
}

static bool slots_alloc(swb_bridge_qctx *q, size_t n)
{
	q->slots = calloc(n ? n : 1, sizeof(*q->slots));
	q->nslots = n;
	q->slot_base = q->sent;
	return q->slots != NULL;
}

static void slot_store(swb_bridge_qslot *s, const redisReply *r, bool *bad)
{
	if (r->type == REDIS_REPLY_NIL) {
		s->nil = true;
	} else if (r->type == REDIS_REPLY_INTEGER) {
		s->v = r->integer;
	} else if (swb_bridge_reply_is_str(r)) {
		s->s = malloc(r->len + 1);
		if (!s->s) {
			*bad = true;
			return;
		}
		if (r->len)
			memcpy(s->s, r->str, r->len);
		s->s[r->len] = '\0';
		s->slen = r->len;
		if (swb_bridge_reply_int(r, &s->v) < 0)
			s->v = 0;
	} else {
		*bad = true;
	}
}

static void q_finish(swb_bridge_qctx *q);

/* Every reply of q arrived (or sending failed): answer and free. */
static void q_maybe_done(swb_bridge_qctx *q)
{
	if (q->replied < q->sent)
		return;
	if (q->failed)
		send_error(q->b, q->pipe_id, q->request_id, 503, "redis unavailable");
	else
		q_finish(q);
	qctx_free(q);
}

static void on_slot_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_qctx *q = privdata;
	size_t i = q->replied++ - q->slot_base;
	redisReply *r = reply;
	bool bad = !r || r->type == REDIS_REPLY_ERROR || i >= q->nslots;
	if (!bad)
		slot_store(&q->slots[i], r, &bad);
	if (bad) {
		if (r)
			q->b->cnt.script_errors++;
		q->failed = true;
	}
	q_maybe_done(q);
}

/* ---- answers from slots ---- */

static long long slot_v(const swb_bridge_qctx *q, size_t i)
{
	return i < q->nslots ? q->slots[i].v : 0;
}

static void finish_channel(swb_bridge_qctx *q)
{
	size_t i = 0;
	const char *chan = q->names[0];
	long long subs = slot_v(q, i++);
	long long users = -1;
	if (q->want_users)
		users = slot_v(q, i++);
	int cache_state = 0;
	const char *data = NULL;
	size_t dlen = 0;
	long long ttl = 0;
	Swb__Envelope *env = NULL;
	if (q->want_cache && swb_bridge_is_cache(chan)) {
		swb_bridge_qslot *c = &q->slots[i++];
		ttl = (slot_v(q, i++) + 999) / 1000;
		env = c->s ? swb__envelope__unpack(NULL, c->slen, (const uint8_t *)c->s) : NULL;
		cache_state = env ? 2 : 1;
		if (env && env->data.len) {
			data = (const char *)env->data.data;
			dlen = env->data.len;
		}
	}
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_bridge_json_channel(&s, subs > 0, users, q->want_subs ? subs : -1, cache_state, data, dlen, ttl);
	if (env)
		swb__envelope__free_unpacked(env, NULL);
	send_json(q->b, q->pipe_id, q->request_id, &s);
}

/* CHANNEL_INFO / CHANNELS: slots hold per channel [subs][users]. */
static void finish_list(swb_bridge_qctx *q)
{
	swb_bridge_qchan *c = calloc(q->nnames ? q->nnames : 1, sizeof(*c));
	if (!c) {
		send_error(q->b, q->pipe_id, q->request_id, 500, "bridge out of memory");
		return;
	}
	size_t i = 0;
	for (size_t k = 0; k < q->nnames; k++) {
		bool pres = swb_bridge_is_presence(q->names[k]);
		c[k].name = q->names[k];
		if (q->kind == SWB__QUERY__KIND__CHANNEL_INFO) {
			long long subs = slot_v(q, i++);
			c[k].subs = q->want_subs ? subs : -1;
		} else {
			c[k].subs = q->want_subs ? q->subs[k] : -1;
		}
		c[k].users = q->want_users && pres ? slot_v(q, i++) : -1;
	}
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_bridge_json_channels(&s, c, q->nnames);
	free(c);
	send_json(q->b, q->pipe_id, q->request_id, &s);
}

static void q_finish(swb_bridge_qctx *q)
{
	if (q->kind == SWB__QUERY__KIND__CHANNEL)
		finish_channel(q);
	else
		finish_list(q);
}

/* ---- starting queries ---- */

static bool names_add(swb_bridge_qctx *q, const char *name, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return false;
	memcpy(copy, name, len);
	copy[len] = '\0';
	q->names[q->nnames++] = copy;
	return true;
}

static void start_channel(swb_bridge_qctx *q, const char *chan)
{
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	bool cache = q->want_cache && swb_bridge_is_cache(chan);
	size_t n = 1 + (q->want_users ? 1 : 0) + (cache ? 2 : 0);
	if (!slots_alloc(q, n) || !(q->names = calloc(1, sizeof(char *))) || !names_add(q, chan, strlen(chan))) {
		q->failed = true;
		return;
	}
	swb_bridge_key(q->b, key, sizeof(key), q->app, "occtot", NULL);
	q_cmd(q, "HGET", key, chan, NULL);
	if (q->want_users) {
		swb_bridge_key(q->b, key, sizeof(key), q->app, "pm", chan);
		q_cmd(q, "HLEN", key, NULL, NULL);
	}
	if (cache) {
		swb_bridge_key(q->b, key, sizeof(key), q->app, "cache", chan);
		q_cmd(q, "GET", key, NULL, NULL);
		q_cmd(q, "PTTL", key, NULL, NULL);
	}
}

static void start_info(swb_bridge_qctx *q, const Swb__Query *qq)
{
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	size_t n = 0;
	for (size_t k = 0; k < qq->n_channels; k++)
		n += 1 + (q->want_users && swb_bridge_is_presence(qq->channels[k]));
	if (!slots_alloc(q, n) || !(q->names = calloc(qq->n_channels ? qq->n_channels : 1, sizeof(char *)))) {
		q->failed = true;
		return;
	}
	for (size_t k = 0; k < qq->n_channels && !q->failed; k++) {
		const char *chan = qq->channels[k];
		if (!names_add(q, chan, strlen(chan))) {
			q->failed = true;
			break;
		}
		swb_bridge_key(q->b, key, sizeof(key), q->app, "occtot", NULL);
		q_cmd(q, "HGET", key, chan, NULL);
		if (q->want_users && swb_bridge_is_presence(chan)) {
			swb_bridge_key(q->b, key, sizeof(key), q->app, "pm", chan);
			q_cmd(q, "HLEN", key, NULL, NULL);
		}
	}
}

/* USERS: one HKEYS, answered in its callback. */
static void on_users_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_qctx *q = privdata;
	redisReply *r = reply;
	q->replied++;
	size_t max = r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
	swb_bridge_kv *kv = malloc((max ? max : 1) * sizeof(*kv));
	long n = kv ? swb_bridge_reply_strs(r, kv, max) : -1;
	if (n < 0) {
		if (r)
			q->b->cnt.script_errors++;
		send_error(q->b, q->pipe_id, q->request_id, 503, r ? "redis error" : "redis unavailable");
	} else {
		swb_sbuf s;
		swb_sbuf_init(&s);
		swb_bridge_json_users(&s, kv, (size_t)n);
		send_json(q->b, q->pipe_id, q->request_id, &s);
	}
	free(kv);
	qctx_free(q);
}

/* CHANNELS phase 1: HGETALL occtot -> the occupied channels with counts. */
static void on_occtot_reply(redisAsyncContext *ac, void *reply, void *privdata);

static void start_query(swb_bridge_qctx *q, const Swb__Query *qq)
{
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	switch (q->kind) {
	case SWB__QUERY__KIND__CHANNELS:
		swb_bridge_key(q->b, key, sizeof(key), q->app, "occtot", NULL);
		q_cmd(q, "HGETALL", key, NULL, on_occtot_reply);
		break;
	case SWB__QUERY__KIND__CHANNEL:
		start_channel(q, qq->channels[0]);
		break;
	case SWB__QUERY__KIND__USERS:
		swb_bridge_key(q->b, key, sizeof(key), q->app, "pm", qq->channels[0]);
		q_cmd(q, "HKEYS", key, NULL, on_users_reply);
		break;
	default:
		start_info(q, qq);
		break;
	}
}

static bool occtot_keep(const swb_bridge_qctx *q, const swb_bridge_kv *e, long long *subs)
{
	size_t pl = strlen(q->prefix);
	return swb_channel_name_valid(e->k, e->klen) && e->klen >= pl && !memcmp(e->k, q->prefix, pl) &&
	       swb_bridge_reply_int(&(redisReply){ .type = REDIS_REPLY_STRING, .str = (char *)e->v, .len = e->vlen },
				    subs) == 0 &&
	       *subs > 0;
}

/* Keep the occupied channels matching the prefix; returns false on OOM. */
static bool occtot_collect(swb_bridge_qctx *q, const swb_bridge_kv *kv, size_t n)
{
	q->names = calloc(n ? n : 1, sizeof(char *));
	q->subs = calloc(n ? n : 1, sizeof(long long));
	if (!q->names || !q->subs)
		return false;
	for (size_t i = 0; i < n; i++) {
		long long subs;
		if (!occtot_keep(q, &kv[i], &subs))
			continue;
		q->subs[q->nnames] = subs;
		if (!names_add(q, kv[i].k, kv[i].klen))
			return false;
	}
	return true;
}

/* Phase 2: HLEN of each presence channel's member hash. */
static void start_user_counts(swb_bridge_qctx *q)
{
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	size_t n = 0;
	for (size_t k = 0; k < q->nnames; k++)
		n += swb_bridge_is_presence(q->names[k]);
	if (!slots_alloc(q, n)) {
		q->failed = true;
		return;
	}
	for (size_t k = 0; k < q->nnames && !q->failed; k++) {
		if (!swb_bridge_is_presence(q->names[k]))
			continue;
		swb_bridge_key(q->b, key, sizeof(key), q->app, "pm", q->names[k]);
		q_cmd(q, "HLEN", key, NULL, NULL);
	}
}

static void on_occtot_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_qctx *q = privdata;
	redisReply *r = reply;
	q->replied++;
	size_t max = r && r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
	if (max > QUERY_CHANNELS_MAX)
		max = QUERY_CHANNELS_MAX;
	swb_bridge_kv *kv = malloc((max ? max : 1) * sizeof(*kv));
	long n = kv ? swb_bridge_reply_kv(r, kv, max) : -1;
	if (n < 0 || !occtot_collect(q, kv, (size_t)n)) {
		if (r)
			q->b->cnt.script_errors++;
		q->failed = true;
	} else if (q->want_users) {
		start_user_counts(q);
	}
	free(kv);
	q_maybe_done(q);
}

/* ---- validation, --redis none, entry point ---- */

static const char *query_problem(const Swb__Query *q)
{
	if (!q->app_id || !swb_app_token_valid(q->app_id, strlen(q->app_id)))
		return "invalid app id";
	for (size_t i = 0; i < q->n_channels; i++)
		if (!q->channels[i] || !swb_channel_name_valid(q->channels[i], strlen(q->channels[i])))
			return "invalid channel name";
	if (q->prefix && strlen(q->prefix) > SWB_CHANNEL_NAME_MAX)
		return "invalid filter_by_prefix";
	switch (q->kind) {
	case SWB__QUERY__KIND__CHANNELS:
		if (q->user_count && (!q->prefix || strncmp(q->prefix, "presence-", 9)))
			return "user_count requires filter_by_prefix=presence-";
		return NULL;
	case SWB__QUERY__KIND__CHANNEL:
		if (q->n_channels != 1)
			return "exactly one channel expected";
		if (q->user_count && !swb_bridge_is_presence(q->channels[0]))
			return "user_count is only available for presence channels";
		return NULL;
	case SWB__QUERY__KIND__USERS:
		if (q->n_channels != 1 || !swb_bridge_is_presence(q->channels[0]))
			return "users are only available for presence channels";
		return NULL;
	case SWB__QUERY__KIND__CHANNEL_INFO:
		return q->n_channels <= 100 ? NULL : "too many channels";
	default:
		return "unknown query";
	}
}

static long long local_subs(swb_bridge *b, const char *app, const char *chan)
{
	swb_bridge_occ *o = swb_bridge_state_occ_find(&b->state, app, chan);
	return o ? (long long)o->total : 0;
}

static long long local_users(swb_bridge *b, const char *app, const char *chan)
{
	swb_bridge_pchan *pc = swb_bridge_state_pchan_find(&b->state, app, chan);
	return pc ? pc->nusers : 0;
}

static void local_channel(swb_bridge *b, const Swb__Query *qq, swb_sbuf *s)
{
	const char *chan = qq->channels[0];
	long long subs = local_subs(b, qq->app_id, chan);
	long long users = qq->user_count ? local_users(b, qq->app_id, chan) : -1;
	int cache_state = 0;
	Swb__Envelope *env = NULL;
	long long ttl = 0;
	if (qq->cache && swb_bridge_is_cache(chan)) {
		const uint8_t *p;
		size_t len;
		uint64_t ttl_ms;
		env = swb_bridge_mcache_peek(b, qq->app_id, chan, &p, &len, &ttl_ms) ?
			      swb__envelope__unpack(NULL, len, p) :
			      NULL;
		cache_state = env ? 2 : 1;
		ttl = env ? (long long)(ttl_ms + 999) / 1000 : 0;
	}
	swb_bridge_json_channel(s, subs > 0, users, qq->subscription_count ? subs : -1, cache_state,
				env ? (const char *)env->data.data : NULL, env ? env->data.len : 0, ttl);
	if (env)
		swb__envelope__free_unpacked(env, NULL);
}

static void local_users_json(swb_bridge *b, const Swb__Query *qq, swb_sbuf *s)
{
	swb_bridge_kv *kv;
	swb_bridge_pchan *pc = swb_bridge_state_pchan_find(&b->state, qq->app_id, qq->channels[0]);
	size_t n = swb_bridge_presence_local_members(b, pc, &kv);
	swb_bridge_json_users(s, kv, n);
	free(kv);
}

static void local_list(swb_bridge *b, const Swb__Query *qq, swb_sbuf *s)
{
	size_t cap = qq->kind == SWB__QUERY__KIND__CHANNELS ? HASH_COUNT(b->state.occ) : qq->n_channels;
	swb_bridge_qchan *c = calloc(cap ? cap : 1, sizeof(*c));
	size_t n = 0, pl = qq->prefix ? strlen(qq->prefix) : 0;
	if (!c) {
		s->oom = true;
		return;
	}
	if (qq->kind == SWB__QUERY__KIND__CHANNELS) {
		for (swb_bridge_occ *o = b->state.occ; o && n < cap; o = o->hh.next) {
			const char *chan = swb_bridge_key_chan(o->key, o->app_len);
			if (o->total && o->app_len == strlen(qq->app_id) && !memcmp(o->key, qq->app_id, o->app_len) &&
			    !strncmp(chan, qq->prefix ? qq->prefix : "", pl))
				c[n++].name = chan;
		}
	} else {
		for (; n < cap; n++)
			c[n].name = qq->channels[n];
	}
	for (size_t i = 0; i < n; i++) {
		c[i].subs = qq->subscription_count ? local_subs(b, qq->app_id, c[i].name) : -1;
		c[i].users = qq->user_count && swb_bridge_is_presence(c[i].name) ?
				     local_users(b, qq->app_id, c[i].name) :
				     -1;
	}
	swb_bridge_json_channels(s, c, n);
	free(c);
}

static void query_local(swb_bridge *b, uint32_t pipe_id, const Swb__Query *qq)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	if (qq->kind == SWB__QUERY__KIND__CHANNEL)
		local_channel(b, qq, &s);
	else if (qq->kind == SWB__QUERY__KIND__USERS)
		local_users_json(b, qq, &s);
	else
		local_list(b, qq, &s);
	send_json(b, pipe_id, qq->request_id, &s);
}

void swb_bridge_query(swb_bridge *b, uint32_t pipe_id, const Swb__Query *qq)
{
	const char *why = query_problem(qq);
	if (why) {
		send_error(b, pipe_id, qq->request_id, 400, why);
		return;
	}
	if (b->url.none) {
		query_local(b, pipe_id, qq);
		return;
	}
	if (b->req_inflight >= SWB_BRIDGE_MAX_REQUESTS) {
		send_error(b, pipe_id, qq->request_id, 503, "bridge overloaded");
		return;
	}
	swb_bridge_qctx *q = swb_bridge_redis_cmd_up(b) ? calloc(1, sizeof(*q)) : NULL;
	if (!q) {
		send_error(b, pipe_id, qq->request_id, 503, "redis unavailable");
		return;
	}
	b->req_inflight++;
	q->b = b;
	q->pipe_id = pipe_id;
	q->request_id = qq->request_id;
	q->kind = qq->kind;
	q->want_users = qq->user_count;
	q->want_subs = qq->subscription_count;
	q->want_cache = qq->cache;
	snprintf(q->app, sizeof(q->app), "%s", qq->app_id);
	snprintf(q->prefix, sizeof(q->prefix), "%s", qq->prefix ? qq->prefix : "");
	start_query(q, qq);
	if (q->sent == 0) /* nothing queued: answer now (503 if that failed) */
		q_maybe_done(q);
}
