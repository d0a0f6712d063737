/* cluster.c: host liveness and clean-up, and terminate.
 *
 * - Heartbeat: every --heartbeat s, ZADD P:hosts (now + --host-ttl) H. A
 *   reply of 1 means this host was not (or no longer) registered, e.g. a
 *   sweep by another bridge removed it after a stall: everything in memory
 *   is re-applied (the scripts are idempotent per host).
 * - Sweep: every min(2 s, heartbeat), the sweep script removes hosts whose
 *   expiry passed; the transitions it returns become webhooks here.
 * - Epoch: on every cmd connect, SET P:epoch NX GET tells whether Redis
 *   lost its data since last time; if so the re-apply is silent.
 * - Reconcile: after a (re)start, once the edges had time to replay (2 s
 *   after the first edge's Hello, at the latest SETTLE_FALLBACK_MS after
 *   start), and after every cmd reconnect: SMEMBERS P:host:H:keys, and
 *   every entry memory does not back is undone via occ_set(0) /
 *   pres_leave (so members who left meanwhile are removed once).
 * - Webhooks: webhooks.c picks the edge (or none).
 * - TerminateUser: PUBLISH "T1\nAPP\nUSER" on P:ctl; each bridge forwards
 *   a TerminateUserCmd to all its edges (locally with --redis none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define SETTLE_MS 2000
#define SETTLE_FALLBACK_MS 10000
#define SWEEP_MAX_MS 2000
#define SWEEP_TRANSITIONS_MAX 100000

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void swb_bridge_send_msg(swb_bridge *b, uint32_t pipe_id, const Swb__BridgeMsg *bm)
{
	nng_msg *m = swb_bridge_pack(bm);
	if (m)
		swb_bridge_edges_send(b, pipe_id, m);
}

/* ---- terminate ---- */

static void terminate_local(swb_bridge *b, const char *app, const char *user)
{
	Swb__TerminateUserCmd t = SWB__TERMINATE_USER_CMD__INIT;
	t.app_id = (char *)app;
	t.user_id = (char *)user;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_TERMINATE;
	bm.terminate = &t;
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
		swb_bridge_send_msg(b, e->pipe_id, &bm);
	b->cnt.terminates++;
}

static void on_ctl_published(redisAsyncContext *ac, void *reply, void *privdata)
{
}

void swb_bridge_terminate(swb_bridge *b, const Swb__TerminateUser *t)
{
	char msg[SWB_APP_ID_MAX + SWB_BRIDGE_USER_MAX + 8];
	int n = t->app_id && t->user_id && swb_app_token_valid(t->app_id, strlen(t->app_id)) ?
			swb_bridge_ctl_format(msg, sizeof(msg), t->app_id, t->user_id) :
			-1;
	char app[SWB_APP_ID_MAX + 1], user[SWB_BRIDGE_USER_MAX + 1];
	if (n < 0 || swb_bridge_ctl_parse(msg, (size_t)n, app, user) < 0) {
		b->cnt.edge_bad_name++;
		return;
	}
	if (b->url.none || !swb_bridge_redis_cmd_up(b) ||
	    swb_bridge_redis_publish(b, b->ctl_chan, strlen(b->ctl_chan), (const uint8_t *)msg, (size_t)n,
				     on_ctl_published, NULL) < 0)
		terminate_local(b, app, user); /* at least this host */
}

void swb_bridge_cluster_ctl_message(swb_bridge *b, const char *payload, size_t len)
{
	char app[SWB_APP_ID_MAX + 1], user[SWB_BRIDGE_USER_MAX + 1];
	if (swb_bridge_ctl_parse(payload, len, app, user) < 0) {
		b->cnt.redis_bad_payload++;
		swb_bridge_ratelog_emit(&b->rl_redis, SWB_LOG_WARN, "dropped a malformed message on %s", b->ctl_chan);
		return;
	}
	terminate_local(b, app, user);
}

/* ---- heartbeat, sweep ---- */

static void on_heartbeat_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge *b = privdata;
	redisReply *r = reply;
	b->hb_inflight = false;
	if (!r)
		return;
	if (r->type != REDIS_REPLY_INTEGER) {
		b->cnt.script_errors++;
		return;
	}
	bool fresh = b->hb_fresh; /* the cmd_up heartbeat: state was just re-applied */
	b->hb_fresh = false;
	if (r->integer == 1 && !fresh && (b->state.occ || b->state.pres)) {
		swb_warn("this host was missing from %s:hosts (swept?): re-applying its state", b->prefix);
		swb_bridge_occ_reapply(b, false);
		swb_bridge_presence_reapply(b, false);
	}
}

static void heartbeat(swb_bridge *b)
{
	char key[128], score[24];
	snprintf(key, sizeof(key), "%s:hosts", b->prefix);
	snprintf(score, sizeof(score), "%llu", (unsigned long long)(wall_ms() + b->host_ttl_s * 1000));
	const char *argv[4] = { "ZADD", key, score, b->host_id };
	size_t lens[4] = { 4, strlen(key), strlen(score), strlen(b->host_id) };
	if (!b->hb_inflight && swb_bridge_redis_cmd_up(b) &&
	    redisAsyncCommandArgv(b->cmd.ac, on_heartbeat_reply, b, 4, argv, lens) == REDIS_OK)
		b->hb_inflight = true; /* a stalled Redis does not pile them up */
}

static void on_hb_timer(uv_timer_t *t)
{
	heartbeat(t->data);
}

static void on_sweep_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge *b = privdata;
	redisReply *r = reply;
	b->sweep_inflight = false;
	if (!r)
		return;
	size_t max = r->type == REDIS_REPLY_ARRAY ? r->elements / 4 : 0;
	if (max > SWEEP_TRANSITIONS_MAX)
		max = SWEEP_TRANSITIONS_MAX;
	swb_bridge_transition *t = malloc((max ? max : 1) * sizeof(*t));
	long n = t ? swb_bridge_reply_sweep(r, t, max) : -1;
	if (n < 0)
		b->cnt.script_errors++;
	for (long i = 0; i < n; i++) {
		const char *name = !strcmp(t[i].kind, "removed") ? "member_removed" :
				   !strcmp(t[i].kind, "vacated") ? "channel_vacated" : "channel_occupied";
		swb_bridge_webhook(b, t[i].app, name, t[i].chan, t[i].user);
	}
	if (n > 0) {
		b->cnt.swept += (uint64_t)n;
		swb_info("sweep: %ld transitions from dead hosts", n);
	}
	free(t);
}

static void on_sweep_timer(uv_timer_t *t)
{
	swb_bridge *b = t->data;
	swb_bridge_mcache_expire(b);
	swb_bridge_park_expire(b);
	if (b->url.none || !swb_bridge_redis_cmd_up(b) || b->sweep_inflight)
		return;
	char now[24];
	snprintf(now, sizeof(now), "%llu", (unsigned long long)wall_ms());
	const char *args[3] = { b->prefix, now, b->host_id };
	size_t lens[3] = { strlen(b->prefix), strlen(now), strlen(b->host_id) };
	if (swb_bridge_script_run(b, SWB_SCRIPT_SWEEP, 3, args, lens, on_sweep_reply, b) == 0)
		b->sweep_inflight = true;
}

/* ---- reconcile ---- */

/* Undo one stale entry ("occ\nA\nC", "pres\nA\nC\nU" or "conns\nA") of this host,
 * through the normal paths (so transitions become webhooks). */
static void reconcile_entry(swb_bridge *b, const char *e, size_t len)
{
	char buf[16 + SWB_BRIDGE_KEY_MAX + SWB_BRIDGE_USER_MAX];
	if (!len || len >= sizeof(buf) || memchr(e, 0, len))
		return;
	memcpy(buf, e, len);
	buf[len] = '\0';
	char *save = NULL, *kind = strtok_r(buf, "\n", &save), *app = strtok_r(NULL, "\n", &save);
	char *chan = strtok_r(NULL, "\n", &save), *user = strtok_r(NULL, "\n", &save);
	if (kind && app && !chan && !strcmp(kind, "conns")) { /* quota.c */
		if (swb_app_token_valid(app, strlen(app)) && swb_bridge_quota_stale(b, app) == 0)
			b->cnt.reconciled++;
		return;
	}
	if (!kind || !app || !chan || !swb_app_token_valid(app, strlen(app)) ||
	    !swb_channel_name_valid(chan, strlen(chan)))
		return;
	int rc = -1;
	if (!strcmp(kind, "occ") && !user)
		rc = swb_bridge_occ_stale(b, app, chan);
	else if (!strcmp(kind, "pres") && user && swb_bridge_user_id_valid(user, strlen(user)))
		rc = swb_bridge_presence_stale(b, app, chan, user);
	if (rc == 0)
		b->cnt.reconciled++;
}

static void on_hostkeys_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge *b = privdata;
	redisReply *r = reply;
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			b->cnt.script_errors++;
		else
			b->reconcile_due = true; /* try again after the reconnect */
		return;
	}
	uint64_t before = b->cnt.reconciled;
	for (size_t i = 0; i < r->elements; i++)
		if (r->element && swb_bridge_reply_is_str(r->element[i]))
			reconcile_entry(b, r->element[i]->str, r->element[i]->len);
	if (b->cnt.reconciled != before)
		swb_info("reconcile: removing %llu stale entries of host %s",
			 (unsigned long long)(b->cnt.reconciled - before), b->host_id);
}

static void reconcile(swb_bridge *b)
{
	if (!b->reconcile_due || !swb_bridge_redis_cmd_up(b))
		return;
	char key[128];
	snprintf(key, sizeof(key), "%s:host:%s:keys", b->prefix, b->host_id);
	const char *argv[2] = { "SMEMBERS", key };
	size_t lens[2] = { 8, strlen(key) };
	if (redisAsyncCommandArgv(b->cmd.ac, on_hostkeys_reply, b, 2, argv, lens) == REDIS_OK)
		b->reconcile_due = false;
}

static void on_settle_timer(uv_timer_t *t)
{
	swb_bridge *b = t->data;
	b->settle_started = true; /* later Hellos do not restart it */
	b->settled = true;
	reconcile(b);
}

void swb_bridge_cluster_edge_up(swb_bridge *b)
{
	if (b->settle_started || !b->cluster_inited)
		return;
	b->settle_started = true;
	uv_timer_start(&b->settle_timer, on_settle_timer, SETTLE_MS, 0);
}

/* Re-apply everything in memory, then reconcile what left meanwhile. */
static void reapply(swb_bridge *b, bool lost)
{
	if (lost)
		swb_warn("redis lost its data (%s:epoch changed): re-applying this host's state without webhooks",
			 b->prefix);
	swb_bridge_occ_reapply(b, lost);
	swb_bridge_presence_reapply(b, lost);
	swb_bridge_pending_reconnected(b, lost);
	if (b->redis_cmd_was_up)
		b->reconcile_due = true; /* what left during the outage */
	b->redis_cmd_was_up = true;
	if (b->settled)
		reconcile(b);
}

/* SET P:epoch <ours> NX GET: the value Redis keeps for as long as it keeps
 * its data. Another value than last time = the data was lost (restart
 * without persistence, FLUSHALL): the re-apply then rebuilds state nobody
 * saw go, so it emits no webhooks and publishes no member_added. */
static void on_epoch_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge *b = privdata;
	redisReply *r = reply;
	if (!r)
		return; /* lost again: the next cmd_up starts over */
	const char *now = "";
	if (r->type == REDIS_REPLY_NIL)
		now = b->epoch_try;
	else if (swb_bridge_reply_is_str(r) && r->str && r->len < sizeof(b->redis_epoch))
		now = r->str;
	else
		b->cnt.script_errors++; /* e.g. a Redis without SET NX GET: never silent */
	bool lost = *now && b->redis_epoch[0] && strcmp(now, b->redis_epoch) != 0;
	if (*now)
		snprintf(b->redis_epoch, sizeof(b->redis_epoch), "%s", now);
	reapply(b, lost);
}

void swb_bridge_cluster_cmd_up(swb_bridge *b)
{
	swb_bridge_scripts_load(b);
	swb_bridge_quota_cmd_up(b);
	heartbeat(b);
	b->hb_fresh = true;
	char key[128];
	snprintf(key, sizeof(key), "%s:epoch", b->prefix);
	snprintf(b->epoch_try, sizeof(b->epoch_try), "%08x%08x%012llx", (unsigned)rand(), (unsigned)rand(),
		 (unsigned long long)wall_ms());
	const char *argv[5] = { "SET", key, b->epoch_try, "NX", "GET" };
	size_t lens[5] = { 3, strlen(key), strlen(b->epoch_try), 2, 3 };
	if (redisAsyncCommandArgv(b->cmd.ac, on_epoch_reply, b, 5, argv, lens) != REDIS_OK)
		reapply(b, false);
}

static void gone_occ_changed(void *ctx, swb_bridge_occ *o)
{
	swb_bridge_occ_changed(ctx, o);
}

static void gone_user_left(void *ctx, swb_bridge_pchan *pc, swb_bridge_puser *u)
{
	swb_bridge_presence_user_left(ctx, pc, u);
}

void swb_bridge_cluster_edge_gone(swb_bridge *b, uint32_t pipe_id)
{
	swb_bridge_state_cbs cbs = { .occ_changed = gone_occ_changed, .user_left = gone_user_left, .ctx = b };
	swb_bridge_state_edge_gone(&b->state, pipe_id, &cbs);
}

int swb_bridge_cluster_init(swb_bridge *b)
{
	snprintf(b->ctl_chan, sizeof(b->ctl_chan), "%s:ctl", b->prefix);
	swb_bridge_state_init(&b->state);
	uv_timer_t *timers[3] = { &b->hb_timer, &b->sweep_timer, &b->settle_timer };
	for (int i = 0; i < 3; i++) {
		uv_timer_init(b->loop, timers[i]);
		timers[i]->data = b;
	}
	uint64_t hb = b->heartbeat_s * 1000;
	uint64_t sweep = hb < SWEEP_MAX_MS ? hb : SWEEP_MAX_MS;
	uv_timer_start(&b->sweep_timer, on_sweep_timer, sweep, sweep);
	if (!b->url.none) {
		uv_timer_start(&b->hb_timer, on_hb_timer, hb, hb);
		uv_timer_start(&b->settle_timer, on_settle_timer, SETTLE_FALLBACK_MS, 0);
	}
	swb_bridge_pending_init(b);
	swb_bridge_quota_init(b);
	b->reconcile_due = true;
	b->cluster_inited = true;
	return 0;
}

void swb_bridge_cluster_fini(swb_bridge *b)
{
	if (!b->cluster_inited)
		return;
	uv_close((uv_handle_t *)&b->hb_timer, NULL);
	uv_close((uv_handle_t *)&b->sweep_timer, NULL);
	uv_close((uv_handle_t *)&b->settle_timer, NULL);
	swb_bridge_quota_fini(b);
	swb_bridge_pending_fini(b);
	swb_bridge_park_edge_gone(b, 0);
	swb_bridge_hold_edge_gone(b, 0);
	swb_bridge_state_fini(&b->state);
	swb_bridge_mcache_fini(b);
	b->cluster_inited = false;
}
