/* quota.c: the cluster-wide per-app connection counts behind an app's
 * max_connections (docs/cluster-state.md, "Connection limits").
 *
 * Every edge reports its current connections per app in EdgeStats.apps
 * (only apps with a limit); edges.c keeps the last report per edge
 * (swb_bridge_quota_edge_stats). Once per second the bridge sums them per
 * host over the edges it has now (an edge that went away no longer
 * counts), writes this host's count to Redis when it changed (and every
 * QUOTA_REFRESH_TICKS ticks): HSET P:A:conns H n, registered as
 * "conns\nA" in P:host:H:keys so the sweep and the reconcile remove it,
 * then reads every app's cluster total (HVALS P:A:conns, summed) and,
 * once all replies are in, pushes one AppUsage with the totals to every
 * edge of the host. With --redis none the total is the host's sum. While
 * Redis is unreachable no AppUsage goes out: edges fall back to a
 * per-edge check. The result is eventually consistent within ~1-2 s.
 *
 * Owns the swb_bridge_quota table (b->quota) and the 1 s timer; per-edge
 * reports live in swb_bridge_edge.apps (freed by edges.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"

#define QUOTA_TICK_MS 1000
#define QUOTA_REFRESH_TICKS 5
#define QUOTA_EDGE_APPS_MAX 10000
#define QUOTA_APPS_MAX 100000
#define QUOTA_CONNS_MAX 10000000u /* per host value read back from Redis */

struct swb_bridge_quota {
	char app[SWB_APP_ID_MAX + 1]; /* hash key */
	uint32_t host;     /* this host's connections (sum over its edges) */
	uint32_t total;    /* cluster-wide, as last read */
	uint32_t written;  /* the value last sent to Redis */
	bool has_written;  /* written is valid (Redis has our field) */
	bool reported;     /* an edge reported the app on the last sum */
	uint64_t read_gen; /* the read round its total belongs to */
	UT_hash_handle hh;
};

void swb_bridge_quota_edge_stats(swb_bridge *b, swb_bridge_edge *e, const Swb__EdgeStats *s)
{
	free(e->apps);
	e->apps = NULL;
	e->n_apps = 0;
	size_t n = s->n_apps < QUOTA_EDGE_APPS_MAX ? s->n_apps : QUOTA_EDGE_APPS_MAX;
	if (!n || !(e->apps = calloc(n, sizeof(*e->apps))))
		return;
	for (size_t i = 0; i < n; i++) {
		const Swb__AppCount *c = s->apps[i];
		size_t len = c && c->app_id ? strlen(c->app_id) : 0;
		if (!len || len > SWB_APP_ID_MAX || !swb_app_token_valid(c->app_id, len)) {
			b->cnt.edge_bad_name++;
			swb_bridge_ratelog_emit(&b->rl_edge, SWB_LOG_WARN, "edge %s reported an invalid app id",
						e->edge_id);
			continue;
		}
		memcpy(e->apps[e->n_apps].app, c->app_id, len + 1);
		e->apps[e->n_apps].n = c->connections;
		e->n_apps++;
	}
}

static swb_bridge_quota *quota_find(swb_bridge *b, const char *app)
{
	swb_bridge_quota *q = NULL;
	HASH_FIND_STR(b->quota, app, q);
	return q;
}

static uint32_t sat_add(uint32_t a, uint64_t b)
{
	uint64_t s = (uint64_t)a + b;
	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

int swb_bridge_quota_sum(swb_bridge *b)
{
	swb_bridge_quota *q, *qt;
	HASH_ITER(hh, b->quota, q, qt) {
		q->host = 0;
		q->reported = false;
	}
	int n = 0;
	swb_bridge_edge *e, *et;
	HASH_ITER(hh, b->edges, e, et) {
		for (size_t i = 0; i < e->n_apps; i++) {
			if (!(q = quota_find(b, e->apps[i].app))) {
				if (HASH_COUNT(b->quota) >= QUOTA_APPS_MAX || !(q = calloc(1, sizeof(*q)))) {
					b->cnt.state_refused++;
					continue;
				}
				snprintf(q->app, sizeof(q->app), "%s", e->apps[i].app);
				HASH_ADD_STR(b->quota, app, q);
			}
			if (!q->reported)
				n++;
			q->reported = true;
			q->host = sat_add(q->host, e->apps[i].n);
		}
	}
	return n;
}

uint32_t swb_bridge_quota_total(swb_bridge *b, const char *app, uint32_t *host)
{
	swb_bridge_quota *q = quota_find(b, app);
	if (host)
		*host = q ? q->host : 0;
	return q ? q->total : 0;
}

/* One AppUsage with every reported app's total, to every edge. */
static void push_usage(swb_bridge *b)
{
	size_t n = HASH_COUNT(b->quota), i = 0;
	if (!n || !b->edges)
		return;
	Swb__AppCount *ac = calloc(n, sizeof(*ac));
	Swb__AppCount **ap = calloc(n, sizeof(*ap));
	if (ac && ap) {
		swb_bridge_quota *q, *qt;
		HASH_ITER(hh, b->quota, q, qt) {
			if (!q->reported)
				continue;
			swb__app_count__init(&ac[i]);
			ac[i].app_id = q->app;
			ac[i].connections = q->total;
			ap[i] = &ac[i];
			i++;
		}
		Swb__AppUsage u = SWB__APP_USAGE__INIT;
		u.n_apps = i;
		u.apps = ap;
		Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
		bm.body_case = SWB__BRIDGE_MSG__BODY_USAGE;
		bm.usage = &u;
		swb_bridge_edge *e, *et;
		HASH_ITER(hh, b->edges, e, et)
			swb_bridge_send_msg(b, e->pipe_id, &bm);
	}
	free(ac);
	free(ap);
}

typedef struct quota_read {
	swb_bridge *b;
	uint64_t gen;
	char app[SWB_APP_ID_MAX + 1];
} quota_read;

/* HVALS P:A:conns: every host's count; the sum is the cluster total. */
static void on_hvals(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	quota_read *rd = privdata;
	swb_bridge *b = rd->b;
	redisReply *r = reply;
	if (rd->gen == b->quota_gen && b->quota_pending)
		b->quota_pending--;
	swb_bridge_quota *q = rd->gen == b->quota_gen ? quota_find(b, rd->app) : NULL;
	if (r && q) {
		if (r->type != REDIS_REPLY_ARRAY) {
			b->cnt.script_errors++;
		} else {
			uint32_t sum = 0;
			for (size_t i = 0; i < r->elements; i++) {
				const redisReply *v = r->element ? r->element[i] : NULL;
				char *end = NULL;
				unsigned long long x = 0;
				if (swb_bridge_reply_is_str(v) && v->str && v->len && v->len < 12)
					x = strtoull(v->str, &end, 10);
				if (!end || *end || x > QUOTA_CONNS_MAX) {
					b->cnt.script_errors++;
					continue;
				}
				sum = sat_add(sum, x);
			}
			q->total = sum;
			q->read_gen = rd->gen;
		}
	}
	if (r && rd->gen == b->quota_gen && b->quota_pending == 0)
		push_usage(b);
	free(rd);
}

static void hostkeys_key(swb_bridge *b, char *out, size_t cap)
{
	snprintf(out, cap, "%s:host:%s:keys", b->prefix, b->host_id);
}

/* Write this host's count of q->app (n > 0: HSET + SADD; 0: HDEL + SREM). */
static void write_count(swb_bridge *b, const char *app, uint32_t n)
{
	char key[SWB_BRIDGE_KEY_MAX + 160], hk[256], val[16], entry[SWB_APP_ID_MAX + 8];
	swb_bridge_key(b, key, sizeof(key), app, "conns", NULL);
	hostkeys_key(b, hk, sizeof(hk));
	snprintf(val, sizeof(val), "%u", n);
	snprintf(entry, sizeof(entry), "conns\n%s", app);
	const char *set[3] = { n ? "SADD" : "SREM", hk, entry };
	const char *hset[4] = { n ? "HSET" : "HDEL", key, b->host_id, val };
	redisAsyncCommandArgv(b->cmd.ac, NULL, NULL, 3, set, NULL);
	redisAsyncCommandArgv(b->cmd.ac, NULL, NULL, n ? 4 : 3, hset, NULL);
}

static void on_quota_tick(uv_timer_t *t)
{
	swb_bridge *b = t->data;
	swb_bridge_quota_sum(b);
	b->quota_ticks++;
	swb_bridge_quota *q, *qt;
	if (b->url.none) {
		HASH_ITER(hh, b->quota, q, qt) {
			if (!q->reported) {
				HASH_DEL(b->quota, q);
				free(q);
			} else
				q->total = q->host;
		}
		push_usage(b);
		return;
	}
	if (!swb_bridge_redis_cmd_up(b))
		return; /* no AppUsage: edges fall back to per-edge limits */
	if (b->quota_pending && b->quota_ticks - b->quota_round_tick < 5)
		return; /* the last round is still waiting for Redis */
	bool refresh = b->quota_ticks % QUOTA_REFRESH_TICKS == 0;
	b->quota_gen++;
	b->quota_pending = 0;
	b->quota_round_tick = b->quota_ticks;
	HASH_ITER(hh, b->quota, q, qt) {
		if (!q->has_written || q->written != q->host || refresh) {
			write_count(b, q->app, q->host);
			q->written = q->host;
			q->has_written = true;
		}
		if (!q->reported) {
			if (!q->host) { /* nobody reports it any more: its 0 is written */
				HASH_DEL(b->quota, q);
				free(q);
			}
			continue;
		}
		quota_read *rd = calloc(1, sizeof(*rd));
		if (!rd)
			continue;
		rd->b = b;
		rd->gen = b->quota_gen;
		snprintf(rd->app, sizeof(rd->app), "%s", q->app);
		char key[SWB_BRIDGE_KEY_MAX + 160];
		swb_bridge_key(b, key, sizeof(key), q->app, "conns", NULL);
		const char *argv[2] = { "HVALS", key };
		if (redisAsyncCommandArgv(b->cmd.ac, on_hvals, rd, 2, argv, NULL) == REDIS_OK)
			b->quota_pending++;
		else
			free(rd);
	}
}

/* The cmd connection came back: Redis may have lost our fields. */
void swb_bridge_quota_cmd_up(swb_bridge *b)
{
	swb_bridge_quota *q, *qt;
	HASH_ITER(hh, b->quota, q, qt)
		q->has_written = false;
	b->quota_pending = 0;
	b->quota_gen++;
}

int swb_bridge_quota_stale(swb_bridge *b, const char *app)
{
	swb_bridge_quota *q = quota_find(b, app);
	if (q && q->host)
		return -1;
	if (!swb_bridge_redis_cmd_up(b))
		return -1;
	write_count(b, app, 0);
	if (q)
		q->written = 0;
	return 0;
}

void swb_bridge_quota_init(swb_bridge *b)
{
	uv_timer_init(b->loop, &b->quota_timer);
	b->quota_timer.data = b;
	uv_timer_start(&b->quota_timer, on_quota_tick, QUOTA_TICK_MS, QUOTA_TICK_MS);
}

void swb_bridge_quota_free(swb_bridge *b)
{
	swb_bridge_quota *q, *qt;
	HASH_ITER(hh, b->quota, q, qt) {
		HASH_DEL(b->quota, q);
		free(q);
	}
	b->quota_gen++; /* replies still in flight find nothing */
}

void swb_bridge_quota_fini(swb_bridge *b)
{
	uv_close((uv_handle_t *)&b->quota_timer, NULL);
	swb_bridge_quota_free(b);
}

cJSON *swb_bridge_quota_json(swb_bridge *b)
{
	cJSON *o = cJSON_CreateObject();
	swb_bridge_quota *q, *qt;
	HASH_ITER(hh, b->quota, q, qt) {
		cJSON *a = cJSON_AddObjectToObject(o, q->app);
		cJSON_AddNumberToObject(a, "host", (double)q->host);
		cJSON_AddNumberToObject(a, "cluster", (double)q->total);
	}
	return o;
}
