/* answers.h: the pure parts of issue #3's bridge side, kept apart so they
 * can be unit-tested: JSON bodies the bridge builds (members_json, query
 * answers, webhook events, member_added / member_removed data), the P:ctl
 * message format, and shape checks of every script / command reply read
 * from Redis (Redis is not trusted: a reply that is not exactly the
 * expected shape is refused, never dereferenced blindly). */
#ifndef SWB_BRIDGE_ANSWERS_H
#define SWB_BRIDGE_ANSWERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis.h>

#include "sbuf.h"

/* One presence member: id and raw user_info JSON (may be empty). Pointers
 * borrow from their source (a reply or the state table). */
typedef struct swb_bridge_kv {
	const char *k;
	size_t klen;
	const char *v;
	size_t vlen;
} swb_bridge_kv;

/* {"presence":{"ids":[...],"hash":{id:info,...},"count":N}}. An info that
 * is empty or not valid JSON is written as null. */
void swb_bridge_json_members(swb_sbuf *s, const swb_bridge_kv *m, size_t n);
/* member_added data: {"user_id":"u","user_info":<info>} (no user_info when
 * info is empty or not valid JSON). member_removed: {"user_id":"u"}. */
void swb_bridge_json_member_data(swb_sbuf *s, const char *user, const char *info, size_t info_len);
/* Webhook events: {"name":NAME,"channel":C[,"user_id":U]}. */
void swb_bridge_json_webhook(swb_sbuf *s, const char *name, const char *chan, const char *user);

/* Query answers (Pusher HTTP API formats). A count < 0 is left out. */
typedef struct swb_bridge_qchan {
	const char *name;
	long long users; /* user_count, -1 = not asked / not presence */
	long long subs;  /* subscription_count, -1 = not asked */
} swb_bridge_qchan;
/* {"channels":{"name":{...},...}} (GET channels and POST events `info`). */
void swb_bridge_json_channels(swb_sbuf *s, const swb_bridge_qchan *c, size_t n);
/* GET channel: {"occupied":b[,"user_count":N][,"subscription_count":N]
 * [,"cache":{"data":"..","ttl":S}|null]}. cache_state: 0 = not asked,
 * 1 = null, 2 = data/ttl. */
void swb_bridge_json_channel(swb_sbuf *s, bool occupied, long long users, long long subs, int cache_state,
			     const char *data, size_t data_len, long long ttl_s);
/* {"users":[{"id":"1"},...]} */
void swb_bridge_json_users(swb_sbuf *s, const swb_bridge_kv *ids, size_t n);

/* Channel kinds that matter here. */
bool swb_bridge_is_presence(const char *chan);
bool swb_bridge_is_cache(const char *chan); /* the "cache-" infix */

/* P:ctl messages: "T1\nAPP\nUSER" = terminate USER's connections. */
int swb_bridge_ctl_format(char *out, size_t cap, const char *app, const char *user);
/* Parse a P:ctl payload; app/user receive NUL-terminated copies
 * (app: 65 bytes, user: SWB_BRIDGE_USER_MAX + 1). Returns 0 or -1. */
int swb_bridge_ctl_parse(const char *p, size_t n, char *app, char *user);

/* ---- reply shapes ---- */
bool swb_bridge_reply_is_str(const redisReply *r);
/* A flat [k, v, k, v, ...] array of strings (HGETALL): fills up to max
 * pairs into kv, returns the number of pairs, -1 on a bad shape. */
long swb_bridge_reply_kv(const redisReply *r, swb_bridge_kv *kv, size_t max);
/* An array of strings (HKEYS, SMEMBERS): fills up to max into kv (k
 * only). Returns the number or -1. */
long swb_bridge_reply_strs(const redisReply *r, swb_bridge_kv *kv, size_t max);
/* An integer reply or a string holding a decimal integer (HGET); nil is 0.
 * Returns 0 or -1. */
int swb_bridge_reply_int(const redisReply *r, long long *v);

enum swb_bridge_join_res { SWB_PJ_BAD = -1, SWB_PJ_FULL = 0, SWB_PJ_ADDED, SWB_PJ_PRESENT };
/* pres_join's reply: ["full"] | ["added", [hash]] | ["present", [hash]].
 * *hash points at the member array (validate with swb_bridge_reply_kv). */
int swb_bridge_reply_pres_join(const redisReply *r, const redisReply **hash);

/* One transition reported by the sweep: kind "vacated" (user empty) or
 * "removed". Pointers into the reply. */
typedef struct swb_bridge_transition {
	const char *kind, *app, *chan, *user;
} swb_bridge_transition;
/* sweep's reply: a flat array of 4-tuples (kind, app, channel, user) of
 * strings. Returns the number of tuples filled (at most max), -1 if bad.
 * Tuples with an invalid kind / app / channel / user are skipped. */
long swb_bridge_reply_sweep(const redisReply *r, swb_bridge_transition *t, size_t max);

#endif
