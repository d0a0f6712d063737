/* presence.c: PresenceJoin / PresenceLeave. state.c counts each user's
 * connections on this host; only the host's 0 -> 1 runs pres_join (which
 * publishes member_added, packed here, on the channel) and 1 -> 0 runs
 * pres_leave (the script publishes member_removed). A join of a user
 * already present on this host just reads the members (HGETALL, queued
 * behind any pres_join in flight on the same connection). Every join is
 * answered with exactly one PresenceJoined. With --redis none the same
 * decisions are made from the in-memory table.
 *
 * Owns one swb_bridge_pres_call per Redis call in flight (names copied). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"

#define MEMBERS_MAX 100000
#define DEFAULT_MAX_MEMBERS 100

typedef struct swb_bridge_pres_call {
	swb_bridge *b;
	uint32_t pipe_id;
	uint64_t request_id;
	bool reapply; /* no answer owed */
	bool silent;  /* re-applied after Redis lost its data: no event, no webhook */
	char app[SWB_APP_ID_MAX + 1];
	char chan[SWB_CHANNEL_NAME_MAX + 1];
	char user[SWB_BRIDGE_USER_MAX + 1];
	char socket_id[SWB_SOCKET_ID_MAX + 1];
} swb_bridge_pres_call;

static void call_free(swb_bridge_pres_call *c)
{
	if (c) {
		c->b->req_inflight--;
		free(c);
	}
}

/* Hold / release deliveries of c's channel to c's edge (see hold.c);
 * ok: the join was answered with success. */
static void hold(swb_bridge_pres_call *c, bool begin, bool ok)
{
	char name[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	int n = swb_bridge_chan_name(name, c->b->prefix, c->app, strlen(c->app), c->chan, strlen(c->chan));
	if (n < 0 || c->reapply)
		return;
	if (begin)
		swb_bridge_hold_begin(c->b, c->pipe_id, name, (size_t)n);
	else
		swb_bridge_hold_end(c->b, c->pipe_id, name, (size_t)n, ok);
}

static void answer(swb_bridge *b, uint32_t pipe_id, uint64_t rid, const char *error, const swb_sbuf *json)
{
	Swb__PresenceJoined pj = SWB__PRESENCE_JOINED__INIT;
	pj.request_id = rid;
	pj.ok = error == NULL;
	pj.error = (char *)(error ? error : "");
	if (json && !error) {
		pj.members_json.data = (uint8_t *)json->p;
		pj.members_json.len = json->len;
	}
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_PRESENCE_JOINED;
	bm.presence_joined = &pj;
	if (error)
		b->cnt.presence_refused++;
	swb_bridge_send_msg(b, pipe_id, &bm);
}

/* Pack a member_added / member_removed Envelope (malloc'd, caller frees). */
static uint8_t *member_env(swb_bridge *b, const char *app, const char *chan, const char *event,
			   const swb_sbuf *data, const char *exclude, size_t *len)
{
	Swb__Envelope e = SWB__ENVELOPE__INIT;
	e.origin_host = (char *)b->host_id;
	e.id = ++b->next_seq;
	e.app_id = (char *)app;
	e.channel = (char *)chan;
	e.event = (char *)event;
	e.data.data = (uint8_t *)data->p;
	e.data.len = data->len;
	e.exclude_socket_id = (char *)(exclude ? exclude : "");
	*len = swb__envelope__get_packed_size(&e);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf)
		swb__envelope__pack(&e, buf);
	return buf;
}

/* Members answer; false (and a refusal sent) when the joining user is
 * not among them: a concurrent first join of the same user hit the limit. */
static bool answer_members(swb_bridge *b, uint32_t pipe_id, uint64_t rid, const char *user,
			   const swb_bridge_kv *kv, size_t n)
{
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = kv[i].klen == strlen(user) && !memcmp(kv[i].k, user, kv[i].klen);
	if (!found) {
		answer(b, pipe_id, rid, "member limit reached", NULL);
		return false;
	}
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_bridge_json_members(&s, kv, n);
	answer(b, pipe_id, rid, s.oom ? "bridge out of memory" : NULL, &s);
	swb_sbuf_free(&s);
	return true;
}

enum { REPLY_BAD = -1, REPLY_NOT_MEMBER = 0, REPLY_ANSWERED = 1 };

/* Answer from a member hash reply. */
static int answer_from_reply(swb_bridge_pres_call *c, const redisReply *hash)
{
	size_t max = hash && hash->type == REDIS_REPLY_ARRAY ? hash->elements / 2 : 0;
	swb_bridge_kv *kv = malloc((max ? max : 1) * sizeof(*kv));
	long n = kv ? swb_bridge_reply_kv(hash, kv, max > MEMBERS_MAX ? MEMBERS_MAX : max) : -1;
	int rc = n < 0 ? REPLY_BAD : REPLY_ANSWERED;
	if (n >= 0 && !c->reapply && !answer_members(c->b, c->pipe_id, c->request_id, c->user, kv, (size_t)n))
		rc = REPLY_NOT_MEMBER;
	free(kv);
	return rc;
}

/* Undo a join Redis did not confirm (only this connection). */
static void refuse_join(swb_bridge_pres_call *c, const char *why)
{
	swb_bridge_state_leave(&c->b->state, c->app, c->chan, c->user, c->pipe_id, c->socket_id);
	if (!c->reapply)
		answer(c->b, c->pipe_id, c->request_id, why, NULL);
}

static void on_join_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_pres_call *c = privdata;
	const redisReply *hash = NULL;
	int res = reply ? swb_bridge_reply_pres_join(reply, &hash) : SWB_PJ_BAD;
	int rc = REPLY_BAD;
	if (res == SWB_PJ_FULL) {
		refuse_join(c, "member limit reached");
	} else if (res == SWB_PJ_BAD || (rc = answer_from_reply(c, hash)) == REPLY_BAD) {
		if (reply)
			c->b->cnt.script_errors++;
		if (!c->reapply)
			refuse_join(c, reply ? "redis error" : "redis unavailable");
	} else if (res == SWB_PJ_ADDED && !c->silent) {
		swb_bridge_webhook(c->b, c->app, "member_added", c->chan, c->user);
	}
	hold(c, false, rc == REPLY_ANSWERED);
	call_free(c);
}

static void on_members_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_pres_call *c = privdata;
	int rc = answer_from_reply(c, reply);
	if (rc == REPLY_NOT_MEMBER) { /* refused already: forget the connection */
		swb_bridge_state_leave(&c->b->state, c->app, c->chan, c->user, c->pipe_id, c->socket_id);
	} else if (rc == REPLY_BAD) {
		if (reply)
			c->b->cnt.script_errors++;
		refuse_join(c, reply ? "redis error" : "redis unavailable");
	}
	hold(c, false, rc == REPLY_ANSWERED);
	call_free(c);
}

static swb_bridge_pres_call *call_new(swb_bridge *b, uint32_t pipe_id, uint64_t rid, const char *app,
				      const char *chan, const char *user, const char *socket_id)
{
	swb_bridge_pres_call *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	b->req_inflight++;
	c->b = b;
	c->pipe_id = pipe_id;
	c->request_id = rid;
	snprintf(c->app, sizeof(c->app), "%s", app);
	snprintf(c->chan, sizeof(c->chan), "%s", chan);
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->socket_id, sizeof(c->socket_id), "%s", socket_id ? socket_id : "");
	return c;
}

/* Run pres_join for c (the user's first connection on this host). A
 * silent call passes no envelope: the script then publishes nothing. */
static int run_join(swb_bridge *b, swb_bridge_pres_call *c, const char *info, size_t info_len, uint32_t max)
{
	swb_sbuf data;
	swb_sbuf_init(&data);
	swb_bridge_json_member_data(&data, c->user, info, info_len);
	size_t elen = 0;
	uint8_t *env = data.oom ? NULL
		       : c->silent ? (uint8_t *)strdup("")
				   : member_env(b, c->app, c->chan, "pusher_internal:member_added", &data,
						c->socket_id, &elen);
	char maxs[16];
	snprintf(maxs, sizeof(maxs), "%u", max ? max : DEFAULT_MAX_MEMBERS);
	const char *args[8] = { b->prefix, b->host_id, c->app, c->chan, c->user, info ? info : "", maxs,
				(const char *)env };
	size_t lens[8] = { strlen(b->prefix), strlen(b->host_id), strlen(c->app), strlen(c->chan),
			   strlen(c->user), info_len, strlen(maxs), elen };
	int rc = env ? swb_bridge_script_run(b, SWB_SCRIPT_PRES_JOIN, 8, args, lens, on_join_reply, c) : -1;
	free(env);
	swb_sbuf_free(&data);
	return rc;
}

static int read_members(swb_bridge *b, swb_bridge_pres_call *c)
{
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	snprintf(key, sizeof(key), "%s:%s:pm:%s", b->prefix, c->app, c->chan);
	if (!swb_bridge_redis_cmd_up(b))
		return -1;
	const char *argv[2] = { "HGETALL", key };
	size_t lens[2] = { 7, strlen(key) };
	return redisAsyncCommandArgv(b->cmd.ac, on_members_reply, c, 2, argv, lens) == REDIS_OK ? 0 : -1;
}

static bool join_valid(const Swb__PresenceJoin *j)
{
	return j->app_id && j->channel && j->user_id && j->socket_id &&
	       swb_app_token_valid(j->app_id, strlen(j->app_id)) &&
	       swb_channel_name_valid(j->channel, strlen(j->channel)) && swb_bridge_is_presence(j->channel) &&
	       swb_bridge_user_id_valid(j->user_id, strlen(j->user_id)) &&
	       swb_socket_id_valid(j->socket_id, strlen(j->socket_id)) &&
	       j->user_info.len <= SWB_BRIDGE_INFO_MAX &&
	       (!j->user_info.len || !memchr(j->user_info.data, 0, j->user_info.len));
}

/* Publish locally and emit the webhook (--redis none). */
static void local_member_event(swb_bridge *b, const char *app, const char *chan, const char *user,
			       const char *info, size_t info_len, const char *exclude, bool added)
{
	swb_sbuf data;
	swb_sbuf_init(&data);
	swb_bridge_json_member_data(&data, user, added ? info : NULL, added ? info_len : 0);
	size_t elen = 0;
	uint8_t *env = data.oom ? NULL
				: member_env(b, app, chan,
					     added ? "pusher_internal:member_added" : "pusher_internal:member_removed",
					     &data, exclude, &elen);
	char name[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	int n = swb_bridge_chan_name(name, b->prefix, app, strlen(app), chan, strlen(chan));
	if (env && n > 0)
		swb_bridge_deliver(b, name, (size_t)n, env, elen);
	free(env);
	swb_sbuf_free(&data);
	swb_bridge_webhook(b, app, added ? "member_added" : "member_removed", chan, user);
}

size_t swb_bridge_presence_local_members(swb_bridge *b, swb_bridge_pchan *pc, swb_bridge_kv **out)
{
	*out = NULL;
	if (!pc || !pc->nusers || !(*out = malloc(pc->nusers * sizeof(**out))))
		return 0;
	size_t n = 0;
	for (swb_bridge_puser *u = pc->users; u && n < pc->nusers; u = u->hh.next)
		(*out)[n++] = (swb_bridge_kv){ u->id, strlen(u->id), u->info, u->info_len };
	return n;
}

static void join_local(swb_bridge *b, uint32_t pipe_id, const Swb__PresenceJoin *j, bool first)
{
	swb_bridge_pchan *pc = swb_bridge_state_pchan_find(&b->state, j->app_id, j->channel);
	uint32_t max = j->max_members ? j->max_members : DEFAULT_MAX_MEMBERS;
	if (first && pc && pc->nusers > max) {
		swb_bridge_state_leave(&b->state, j->app_id, j->channel, j->user_id, pipe_id, j->socket_id);
		answer(b, pipe_id, j->request_id, "member limit reached", NULL);
		return;
	}
	if (first)
		local_member_event(b, j->app_id, j->channel, j->user_id, (const char *)j->user_info.data,
				   j->user_info.len, j->socket_id, true);
	swb_bridge_kv *kv;
	size_t n = swb_bridge_presence_local_members(b, pc, &kv);
	answer_members(b, pipe_id, j->request_id, j->user_id, kv, n);
	free(kv);
}

void swb_bridge_presence_refuse(swb_bridge *b, uint32_t pipe_id, uint64_t request_id, const char *why)
{
	answer(b, pipe_id, request_id, why, NULL);
}

/* Park j until this host's SUBSCRIBE of the channel is confirmed (see
 * park.c). Returns true if parked (or refused). */
static bool parked(swb_bridge *b, uint32_t pipe_id, const Swb__PresenceJoin *j)
{
	Swb__EdgeMsg em = SWB__EDGE_MSG__INIT;
	em.body_case = SWB__EDGE_MSG__BODY_PRESENCE_JOIN;
	em.presence_join = (Swb__PresenceJoin *)j;
	int rc = swb_bridge_park_until_subscribed(b, pipe_id, j->app_id, j->channel, &em);
	if (rc < 0)
		answer(b, pipe_id, j->request_id, "bridge overloaded", NULL);
	return rc != 0;
}

/* Record the join in this host's memory. When the host-local bound refuses
 * it, the edge is answered here and SWB_JOIN_ERR returned. */
static int record_join(swb_bridge *b, uint32_t pipe_id, const Swb__PresenceJoin *j)
{
	int r = swb_bridge_state_join(&b->state, j->app_id, j->channel, j->user_id,
				      (const char *)j->user_info.data, j->user_info.len, pipe_id, j->socket_id);
	if (r == SWB_JOIN_ERR) {
		b->cnt.state_refused++;
		answer(b, pipe_id, j->request_id, "presence limit reached on this host", NULL);
	}
	return r;
}

/* A join the edge re-sends after a bridge (re)connect (PresenceJoin.replay):
 * the client is subscribed already, so it is recorded whatever Redis'
 * state (memory is the truth; re-applied when the cmd connection comes
 * up), never refused for the member limit, answered at once without
 * members_json, and causes no member_added unless Redis lost the member. */
static void join_replay(swb_bridge *b, uint32_t pipe_id, const Swb__PresenceJoin *j)
{
	const char *info = (const char *)j->user_info.data;
	int r = record_join(b, pipe_id, j);
	if (r == SWB_JOIN_ERR)
		return;
	answer(b, pipe_id, j->request_id, NULL, NULL);
	if (r != SWB_JOIN_FIRST || b->url.none || !swb_bridge_redis_cmd_up(b))
		return;
	swb_bridge_pres_call *c = call_new(b, 0, 0, j->app_id, j->channel, j->user_id, j->socket_id);
	if (!c)
		return;
	c->reapply = true;
	if (run_join(b, c, info, j->user_info.len, UINT32_MAX) < 0)
		call_free(c); /* re-applied when the cmd connection is back */
}

void swb_bridge_presence_join(swb_bridge *b, uint32_t pipe_id, const Swb__PresenceJoin *j)
{
	b->cnt.presence_joins++;
	if (!join_valid(j)) {
		b->cnt.edge_bad_name++;
		answer(b, pipe_id, j->request_id, "invalid presence join", NULL);
		return;
	}
	if (j->replay) {
		join_replay(b, pipe_id, j);
		return;
	}
	if (!b->url.none && !swb_bridge_redis_cmd_up(b)) {
		answer(b, pipe_id, j->request_id, "redis unavailable", NULL);
		return;
	}
	if (!b->url.none && b->req_inflight >= SWB_BRIDGE_MAX_REQUESTS) {
		answer(b, pipe_id, j->request_id, "bridge overloaded", NULL);
		return;
	}
	if (!b->url.none && parked(b, pipe_id, j))
		return;
	const char *info = (const char *)j->user_info.data;
	int r = record_join(b, pipe_id, j);
	if (r == SWB_JOIN_ERR)
		return;
	if (b->url.none) {
		join_local(b, pipe_id, j, r == SWB_JOIN_FIRST);
		return;
	}
	swb_bridge_pres_call *c = call_new(b, pipe_id, j->request_id, j->app_id, j->channel, j->user_id,
					   j->socket_id);
	if (c)
		hold(c, true, false);
	int rc = !c ? -1 : r == SWB_JOIN_FIRST ? run_join(b, c, info, j->user_info.len, j->max_members)
					       : read_members(b, c);
	if (rc < 0) {
		if (c)
			hold(c, false, false);
		call_free(c);
		swb_bridge_state_leave(&b->state, j->app_id, j->channel, j->user_id, pipe_id, j->socket_id);
		answer(b, pipe_id, j->request_id, "redis unavailable", NULL);
	}
}

static void on_leave_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_pres_call *c = privdata;
	redisReply *r = reply;
	if (r && swb_bridge_reply_is_str(r) && r->str && !strcmp(r->str, "removed"))
		swb_bridge_webhook(c->b, c->app, "member_removed", c->chan, c->user);
	else if (r && !swb_bridge_reply_is_str(r))
		c->b->cnt.script_errors++;
	else if (!r) /* the leave may not have reached Redis */
		swb_bridge_pending_add(c->b, c->app, c->chan, c->user);
	call_free(c);
}

/* The user's last connection on this host is gone; socket_id (or NULL)
 * is the one that left: the member_removed skips it. */
static void user_gone(swb_bridge *b, const char *app, const char *chan, const char *user, const char *socket_id)
{
	if (b->url.none) {
		local_member_event(b, app, chan, user, NULL, 0, socket_id, false);
		return;
	}
	swb_bridge_pres_call *c = call_new(b, 0, 0, app, chan, user, NULL);
	if (!c)
		return;
	const char *args[6] = { b->prefix, b->host_id, app, chan, user, socket_id ? socket_id : "" };
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(args[i]);
	if (swb_bridge_script_run(b, SWB_SCRIPT_PRES_LEAVE, 6, args, lens, on_leave_reply, c) < 0) {
		call_free(c); /* Redis down: the reconcile (or pending.c) after the reconnect */
		swb_bridge_pending_add(b, app, chan, user);
	}
}

int swb_bridge_presence_stale(swb_bridge *b, const char *app, const char *chan, const char *user)
{
	if (swb_bridge_state_user_find(swb_bridge_state_pchan_find(&b->state, app, chan), user))
		return -1; /* still present on this host */
	user_gone(b, app, chan, user, NULL);
	return 0;
}

void swb_bridge_presence_leave(swb_bridge *b, uint32_t pipe_id, const Swb__PresenceLeave *l)
{
	if (!l->app_id || !l->channel || !l->user_id || !l->socket_id) {
		b->cnt.edge_bad_name++;
		return;
	}
	if (swb_bridge_state_leave(&b->state, l->app_id, l->channel, l->user_id, pipe_id, l->socket_id) == 1)
		user_gone(b, l->app_id, l->channel, l->user_id, l->socket_id);
}

void swb_bridge_presence_user_left(swb_bridge *b, swb_bridge_pchan *pc, swb_bridge_puser *u)
{
	char app[SWB_APP_ID_MAX + 1];
	memcpy(app, pc->key, pc->app_len);
	app[pc->app_len] = '\0';
	const char *socket_id = u->n ? u->conns[0].socket_id : NULL;
	user_gone(b, app, swb_bridge_key_chan(pc->key, pc->app_len), u->id, socket_id);
}

void swb_bridge_presence_reapply(swb_bridge *b, bool silent)
{
	for (swb_bridge_pchan *pc = b->state.pres; pc; pc = pc->hh.next) {
		char app[SWB_APP_ID_MAX + 1];
		memcpy(app, pc->key, pc->app_len);
		app[pc->app_len] = '\0';
		for (swb_bridge_puser *u = pc->users; u; u = u->hh.next) {
			swb_bridge_pres_call *c = call_new(b, 0, 0, app, swb_bridge_key_chan(pc->key, pc->app_len),
							   u->id, u->n ? u->conns[0].socket_id : "");
			if (!c)
				return;
			c->reapply = true;
			c->silent = silent;
			/* already admitted: the limit does not apply again */
			if (run_join(b, c, u->info, u->info_len, UINT32_MAX) < 0)
				call_free(c);
		}
	}
}
