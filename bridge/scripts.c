/* scripts.c: the Lua scripts that decide every cluster-wide transition
 * (docs/cluster-state.md), and how they are run: SCRIPT LOAD once per cmd
 * connection (swb_bridge_scripts_load), then EVALSHA; a NOSCRIPT error (a
 * restarted or flushed Redis) re-sends the same call as EVAL, and so does
 * a call made before the SHA is known. All on the cmd connection, all
 * arguments binary-safe (redisAsyncCommandArgv).
 *
 * Every script takes numkeys = 0 and ARGV[1] = the key prefix P, and
 * builds its key names itself (the sweep has to: it walks another host's
 * entries). One shared Lua prelude (LIB) keeps occ_set / pres_leave and
 * the sweep doing exactly the same thing.
 *
 * Owns one swb_bridge_script_call per call in flight: it holds a copy of
 * the arguments (for the EVAL retry) and is freed after the caller's
 * callback ran. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "util.h"
#include "log.h"
#include "scripts.h"

/* Shared helpers. Entries of P:host:H:keys: "occ\nA\nC", "pres\nA\nC\nU",
 * "conns\nA" (quota.c: this host's field of P:A:conns). */
#define LIB                                                                                             \
	"local function key(P, app, what, chan) return P .. ':' .. app .. ':' .. what .. ':' .. chan end\n" \
	"local function hostkeys(P, H) return P .. ':host:' .. H .. ':keys' end\n"                          \
	"-- occ_apply: host H's count of (app, chan) becomes n; returns the\n"                            \
	"-- cluster-wide transition 'occupied' / 'vacated' / ''\n"                                         \
	"local function occ_apply(P, H, app, chan, n)\n"                                                    \
	"  local occ = key(P, app, 'occ', chan)\n"                                                          \
	"  local old = tonumber(redis.call('HGET', occ, H) or '0') or 0\n"                                  \
	"  local entry = 'occ\\n' .. app .. '\\n' .. chan\n"                                                \
	"  if n > 0 then redis.call('HSET', occ, H, n); redis.call('SADD', hostkeys(P, H), entry)\n"        \
	"  else redis.call('HDEL', occ, H); redis.call('SREM', hostkeys(P, H), entry) end\n"                \
	"  if old == n then return '' end\n"                                                                \
	"  local tk, ck = P .. ':' .. app .. ':occtot', P .. ':' .. app .. ':chans'\n"                      \
	"  local tot = redis.call('HINCRBY', tk, chan, n - old)\n"                                          \
	"  local before = tot - (n - old)\n"                                                                \
	"  if tot <= 0 then redis.call('HDEL', tk, chan); redis.call('SREM', ck, chan)\n"                   \
	"  else redis.call('SADD', ck, chan) end\n"                                                         \
	"  if before <= 0 and tot > 0 then return 'occupied' end\n"                                         \
	"  if before > 0 and tot <= 0 then return 'vacated' end\n"                                          \
	"  return ''\n"                                                                                     \
	"end\n"                                                                                             \
	"-- pres_drop: host H no longer has user in (app, chan); true when it\n"                          \
	"-- was the user's last host (the member is gone cluster-wide)\n"                                 \
	"local function pres_drop(P, H, app, chan, user)\n"                                                 \
	"  local entry = 'pres\\n' .. app .. '\\n' .. chan .. '\\n' .. user\n"                              \
	"  if redis.call('SREM', hostkeys(P, H), entry) == 0 then return false end\n"                       \
	"  local pu = key(P, app, 'pu', chan)\n"                                                            \
	"  if redis.call('HINCRBY', pu, user, -1) > 0 then return false end\n"                              \
	"  redis.call('HDEL', pu, user)\n"                                                                  \
	"  redis.call('HDEL', key(P, app, 'pm', chan), user)\n"                                             \
	"  return true\n"                                                                                   \
	"end\n"                                                                                             \
	"-- removed: PUBLISH the member_removed Envelope, protobuf-encoded by\n"                          \
	"-- hand (fields 1, 3, 4, 5, 6, 7: origin_host, app_id, channel, event,\n"                        \
	"-- data, exclude_socket_id = the connection whose leave caused it)\n"                            \
	"local function varint(n) local s = ''\n"                                                           \
	"  while n >= 128 do s = s .. string.char(n % 128 + 128); n = math.floor(n / 128) end\n"            \
	"  return s .. string.char(n) end\n"                                                                \
	"local function pbs(tag, v) return string.char(tag * 8 + 2) .. varint(#v) .. v end\n"               \
	"local function removed(P, origin, app, chan, user, exclude)\n"                                     \
	"  local env = pbs(1, origin) .. pbs(3, app) .. pbs(4, chan) ..\n"                                  \
	"    pbs(5, 'pusher_internal:member_removed') .. pbs(6, '{\"user_id\":' .. cjson.encode(user) .. '}')\n" \
	"  if exclude and exclude ~= '' then env = env .. pbs(7, exclude) end\n"                            \
	"  redis.call('PUBLISH', P .. ':' .. app .. ':ch:' .. chan, env)\n"                                 \
	"end\n"

/* occ_set(P, H, A, C, count) -> 'occupied' | 'vacated' | '' */
static const char OCC_SET[] = LIB "return occ_apply(ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]))\n";

/* pres_join(P, H, A, C, user, info, max, member_added envelope or "")
 *   -> {'full'} | {'added', HGETALL pm} | {'present', HGETALL pm}
 * An empty envelope publishes nothing (re-applying after data loss). 
 * Idempotent per host: a host already registered for the user changes
 * nothing (re-applying after a reconnect is safe). */
static const char PRES_JOIN[] =
	LIB "local P, H, app, chan, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
	    "local hk, pm, pu = hostkeys(P, H), key(P, app, 'pm', chan), key(P, app, 'pu', chan)\n"
	    "local entry = 'pres\\n' .. app .. '\\n' .. chan .. '\\n' .. user\n"
	    "if redis.call('SISMEMBER', hk, entry) == 1 then return {'present', redis.call('HGETALL', pm)} end\n"
	    "local hosts = tonumber(redis.call('HGET', pu, user) or '0') or 0\n"
	    "if hosts <= 0 and redis.call('HEXISTS', pm, user) == 0 and\n"
	    "   redis.call('HLEN', pm) >= tonumber(ARGV[7]) then return {'full'} end\n"
	    "redis.call('SADD', hk, entry)\n"
	    "redis.call('HINCRBY', pu, user, 1)\n"
	    "if hosts > 0 then return {'present', redis.call('HGETALL', pm)} end\n"
	    "redis.call('HSET', pm, user, ARGV[6])\n"
	    "if ARGV[8] ~= '' then redis.call('PUBLISH', P .. ':' .. app .. ':ch:' .. chan, ARGV[8]) end\n"
	    "return {'added', redis.call('HGETALL', pm)}\n";

/* pres_leave(P, H, A, C, user[, socket]) -> 'removed' | '' (publishes
 * member_removed, excluding the leaving connection: it may have subscribed
 * again by the time the event comes back from Redis) */
static const char PRES_LEAVE[] =
	LIB "local P, H, app, chan, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
	    "if not pres_drop(P, H, app, chan, user) then return '' end\n"
	    "removed(P, H, app, chan, user, ARGV[6])\n"
	    "return 'removed'\n";

/* sweep(P, now_ms, sweeping host) -> flat {kind, app, chan, user, ...}
 * Undoes every entry of up to 10 hosts whose expiry in P:hosts is past,
 * exactly as occ_set(0) / pres_leave would, then forgets the host. */
static const char SWEEP[] =
	LIB "local P, origin = ARGV[1], ARGV[3]\n"
	    "local hosts, out = P .. ':hosts', {}\n"
	    "local function emit(a, b, c, d) out[#out+1] = a; out[#out+1] = b; out[#out+1] = c; out[#out+1] = d end\n"
	    "for _, h in ipairs(redis.call('ZRANGEBYSCORE', hosts, '-inf', '(' .. ARGV[2], 'LIMIT', 0, 10)) do\n"
	    "  local hk = hostkeys(P, h)\n"
	    "  for _, e in ipairs(redis.call('SMEMBERS', hk)) do\n"
	    "    local f = {}\n"
	    "    for part in string.gmatch(e, '[^\\n]+') do f[#f + 1] = part end\n"
	    "    if f[1] == 'occ' and #f == 3 then\n"
	    "      local t = occ_apply(P, h, f[2], f[3], 0)\n"
	    "      if t ~= '' then emit(t, f[2], f[3], '') end\n"
	    "    elseif f[1] == 'pres' and #f == 4 and pres_drop(P, h, f[2], f[3], f[4]) then\n"
	    "      removed(P, origin, f[2], f[3], f[4])\n"
	    "      emit('removed', f[2], f[3], f[4])\n"
	    "    elseif f[1] == 'conns' and #f == 2 then\n"
	    "      redis.call('HDEL', P .. ':' .. f[2] .. ':conns', h)\n"
	    "    end\n"
	    "  end\n"
	    "  redis.call('DEL', hk)\n"
	    "  redis.call('ZREM', hosts, h)\n"
	    "end\n"
	    "return out\n";

/* publish_cache(P, cache key, channel, envelope, px) -> PUBLISH's count:
 * the envelope is the channel's cached last event and is published. */
static const char PUBLISH_CACHE[] = "redis.call('SET', ARGV[2], ARGV[4], 'PX', ARGV[5])\n"
				    "return redis.call('PUBLISH', ARGV[3], ARGV[4])\n";

/* gone(P, kind, A, C, user, H) -> 'removed' | 'vacated' | ''
 * After Redis lost its data (pending.c): a member that no host re-applied
 * gets member_removed, a channel nobody re-applied is 'vacated' — each at
 * most once cluster-wide (a 30 s NX mark), as several hosts may have seen
 * the same leave. */
static const char GONE[] =
	LIB "local P, kind, app, chan, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
	    "if kind == 'pres' then\n"
	    "  if redis.call('HEXISTS', key(P, app, 'pm', chan), user) == 1 then return '' end\n"
	    "  if not redis.call('SET', key(P, app, 'gone', chan) .. ':' .. user, '1', 'NX', 'PX', 30000) then\n"
	    "    return '' end\n"
	    "  removed(P, ARGV[6], app, chan, user)\n"
	    "  return 'removed'\n"
	    "end\n"
	    "if tonumber(redis.call('HGET', P .. ':' .. app .. ':occtot', chan) or '0') > 0 then return '' end\n"
	    "if not redis.call('SET', key(P, app, 'vgone', chan), '1', 'NX', 'PX', 30000) then return '' end\n"
	    "return 'vacated'\n";

static const char *const sources[SWB_SCRIPT_COUNT] = { OCC_SET, PRES_JOIN, PRES_LEAVE, SWEEP, PUBLISH_CACHE,
							GONE };
static const char *const names[SWB_SCRIPT_COUNT] = { "occ_set", "pres_join", "pres_leave", "sweep",
						     "publish_cache", "gone" };

const char *swb_bridge_script_source(int script)
{
	return script >= 0 && script < SWB_SCRIPT_COUNT ? sources[script] : NULL;
}

typedef struct swb_bridge_script_call {
	swb_bridge *b;
	int script;
	bool retried;
	uint64_t sent_us; /* Redis round trip (metrics) */
	redisCallbackFn *fn;
	void *privdata;
	int argc;
	char **argv;   /* argv[i] points into the same allocation */
	size_t *lens;
} swb_bridge_script_call;

static void on_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge *b = ac->data ? ((swb_bridge_rconn *)ac->data)->b : NULL;
	redisReply *r = reply;
	intptr_t i = (intptr_t)privdata;
	if (!b || !r)
		return;
	if (r->type != REDIS_REPLY_STRING || r->len != 40 || strspn(r->str, "0123456789abcdef") != 40) {
		b->cnt.redis_bad_reply++;
		swb_bridge_ratelog_emit(&b->rl_redis, SWB_LOG_WARN, "SCRIPT LOAD %s: unexpected reply%s%.200s",
					names[i], r->type == REDIS_REPLY_ERROR ? ": " : "",
					r->type == REDIS_REPLY_ERROR && r->str ? r->str : "");
		return;
	}
	memcpy(b->script_sha[i], r->str, 40);
	b->script_sha[i][40] = '\0';
}

void swb_bridge_scripts_load(swb_bridge *b)
{
	for (intptr_t i = 0; i < SWB_SCRIPT_COUNT; i++) {
		b->script_sha[i][0] = '\0';
		const char *argv[3] = { "SCRIPT", "LOAD", sources[i] };
		size_t lens[3] = { 6, 4, strlen(sources[i]) };
		redisAsyncCommandArgv(b->cmd.ac, on_loaded, (void *)i, 3, argv, lens);
	}
}

void swb_bridge_scripts_forget(swb_bridge *b)
{
	for (int i = 0; i < SWB_SCRIPT_COUNT; i++)
		b->script_sha[i][0] = '\0';
}

static void on_script_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Send call as EVALSHA (SHA known, first try) or EVAL. */
static int call_send(swb_bridge_script_call *c)
{
	swb_bridge *b = c->b;
	bool sha = b->script_sha[c->script][0] && !c->retried;
	c->argv[0] = sha ? "EVALSHA" : "EVAL";
	c->lens[0] = strlen(c->argv[0]);
	c->argv[1] = (char *)(sha ? b->script_sha[c->script] : sources[c->script]);
	c->lens[1] = strlen(c->argv[1]);
	if (!swb_bridge_redis_cmd_up(b))
		return -1;
	return redisAsyncCommandArgv(b->cmd.ac, on_script_reply, c, c->argc, (const char **)c->argv, c->lens) ==
			       REDIS_OK ?
		       0 :
		       -1;
}

static bool is_noscript(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, "NOSCRIPT", 8);
}

static void on_script_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_script_call *c = privdata;
	if (is_noscript(reply) && !c->retried) {
		c->retried = true;
		if (call_send(c) == 0)
			return;
		reply = NULL;
	}
	if (reply && c->script != SWB_SCRIPT_PUBLISH_CACHE) /* publish.c times that one */
		swb_bridge_metrics_redis_rtt(c->b, c->sent_us);
	if (reply && ((redisReply *)reply)->type == REDIS_REPLY_ERROR)
		swb_bridge_ratelog_emit(&c->b->rl_script, SWB_LOG_WARN, "script %s: %.200s", names[c->script],
					((redisReply *)reply)->str ? ((redisReply *)reply)->str : "error");
	c->fn(ac, reply, c->privdata);
	free(c);
}

/* One allocation: the call, argv, lens and a copy of every argument. */
static swb_bridge_script_call *call_new(int nargs, const char **args, const size_t *lens)
{
	size_t bytes = 0;
	for (int i = 0; i < nargs; i++)
		bytes += lens[i] + 1;
	int argc = nargs + 3;
	size_t head = sizeof(swb_bridge_script_call) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
	swb_bridge_script_call *c = calloc(1, head + bytes);
	if (!c)
		return NULL;
	c->argc = argc;
	c->argv = (char **)(c + 1);
	c->lens = (size_t *)(c->argv + argc);
	char *p = (char *)(c->lens + argc);
	c->argv[2] = "0"; /* numkeys */
	c->lens[2] = 1;
	for (int i = 0; i < nargs; i++) {
		memcpy(p, args[i], lens[i]);
		p[lens[i]] = '\0';
		c->argv[3 + i] = p;
		c->lens[3 + i] = lens[i];
		p += lens[i] + 1;
	}
	return c;
}

int swb_bridge_script_run(swb_bridge *b, int script, int nargs, const char **args, const size_t *lens,
			  redisCallbackFn *fn, void *privdata)
{
	if (script < 0 || script >= SWB_SCRIPT_COUNT || !swb_bridge_redis_cmd_up(b))
		return -1;
	swb_bridge_script_call *c = call_new(nargs, args, lens);
	if (!c)
		return -1;
	c->b = b;
	c->script = script;
	c->fn = fn;
	c->privdata = privdata;
	c->sent_us = swb_mono_us();
	if (call_send(c) < 0) {
		free(c);
		return -1;
	}
	return 0;
}
