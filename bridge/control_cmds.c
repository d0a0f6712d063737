/* control_cmds.c: the operator commands other than status (formats in
 * docs/operations.md):
 *   edges                   every edge's last EdgeStats and its queue here
 *   channels [prefix]       this host's subscriber count per channel and
 *                           the cluster's (one HMGET of P:A:occtot per app,
 *                           answered when Redis replies)
 *   connections             connections per app: host (EdgeStats) and
 *                           cluster where known (quota.c)
 *   stats                   the bridge's counters, Redis and probe state
 *   drain / log-level / reload
 *                           forwarded to one edge or all of them as
 *                           DrainCmd / LogLevelCmd / ReloadCmd; log-level
 *                           also applies to the bridge itself.
 * Every argument is checked; a bad one gets {"ok":false,"error":...}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge.h"
#include "log.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define CHANNELS_MAX 1000   /* channels listed per reply */
#define PREFIX_MAX 200
#define DRAIN_DEADLINE_MAX_S 86400
#define DRAIN_RATE_MAX 1000000

static cJSON *ok_reply(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", 1);
	return o;
}

static cJSON *cmd_edges(swb_bridge *b)
{
	uint64_t now = swb_mono_ms();
	cJSON *o = ok_reply();
	cJSON *arr = cJSON_AddArrayToObject(o, "edges");
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
		cJSON_AddItemToArray(arr, swb_bridge_edge_json(e, now));
	return o;
}

static cJSON *cmd_stats(swb_bridge *b)
{
	cJSON *o = ok_reply();
	const char *why = "";
	cJSON_AddStringToObject(o, "host_id", b->host_id ? b->host_id : "");
	cJSON_AddBoolToObject(o, "ready", swb_bridge_ready(b, &why));
	cJSON_AddNumberToObject(o, "edges", (double)swb_bridge_edges_count(b));
	cJSON_AddNumberToObject(o, "subscribed", (double)swb_bridge_redis_subscribed(b));
	cJSON_AddNumberToObject(o, "redis_reconnects", (double)b->reconnects);
	cJSON_AddNumberToObject(o, "inflight_publishes", (double)b->inflight);
	cJSON_AddItemToObject(o, "probe", swb_bridge_probe_json(b));
	cJSON_AddItemToObject(o, "counters", swb_bridge_counters_json(&b->cnt));
	return o;
}

/* ---- connections ---- */

typedef struct app_sum {
	char app[SWB_APP_ID_MAX + 1];
	uint64_t host;
} app_sum;

static void add_app(app_sum **sums, size_t *n, const swb_bridge_appcount *c)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*sums)[i].app, c->app)) {
			(*sums)[i].host += c->n;
			return;
		}
	app_sum *s = realloc(*sums, (*n + 1) * sizeof(**sums));
	if (!s)
		return;
	*sums = s;
	snprintf(s[*n].app, sizeof(s[*n].app), "%s", c->app);
	s[(*n)++].host = c->n;
}

static cJSON *cmd_connections(swb_bridge *b)
{
	app_sum *sums = NULL;
	size_t n = 0;
	uint64_t total = 0;
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next) {
		total += e->connections;
		for (size_t i = 0; i < e->n_all_apps; i++)
			add_app(&sums, &n, &e->all_apps[i]);
	}
	cJSON *o = ok_reply();
	cJSON_AddNumberToObject(o, "host_total", (double)total);
	cJSON *arr = cJSON_AddArrayToObject(o, "apps");
	for (size_t i = 0; i < n; i++) {
		cJSON *a = cJSON_CreateObject();
		uint32_t qhost = 0, cluster = swb_bridge_quota_total(b, sums[i].app, &qhost);
		cJSON_AddStringToObject(a, "app", sums[i].app);
		cJSON_AddNumberToObject(a, "host", (double)sums[i].host);
		if (b->url.none)
			cJSON_AddNumberToObject(a, "cluster", (double)sums[i].host);
		else if (cluster || qhost) /* an app with max_connections: the last total read */
			cJSON_AddNumberToObject(a, "cluster", cluster);
		else
			cJSON_AddNullToObject(a, "cluster");
		cJSON_AddItemToArray(arr, a);
	}
	free(sums);
	return o;
}

/* ---- channels ---- */

/* One channels request waiting for its HMGET replies. */
typedef struct chans_req {
	swb_bridge *b;
	swb_bridge_ctlreq *cr;
	cJSON *reply, *arr;
	size_t pending;
	bool failed;
} chans_req;

static void chans_finish(chans_req *q)
{
	cJSON_AddBoolToObject(q->reply, "cluster_known", !q->failed);
	swb_bridge_control_reply(q->cr, q->reply);
	free(q);
}

/* One HMGET: the run of n items starting at from (one app). */
typedef struct chans_run {
	chans_req *q;
	cJSON *from;
	size_t n;
} chans_run;

static void on_hmget(redisAsyncContext *ac, void *reply, void *privdata)
{
	chans_run *run = privdata;
	chans_req *q = run->q;
	redisReply *r = reply;
	bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == run->n;
	cJSON *it = run->from;
	for (size_t k = 0; ok && k < run->n; k++, it = it->next) {
		const redisReply *e = r->element[k];
		long long v = e && e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
		cJSON_ReplaceItemInObjectCaseSensitive(it, "cluster", cJSON_CreateNumber((double)v));
	}
	if (!ok)
		q->failed = true;
	free(run);
	if (--q->pending == 0)
		chans_finish(q);
}

/* HMGET P:A:occtot c1 c2 ... for the run of n items at from. */
static int send_hmget(chans_req *q, cJSON *from, size_t n)
{
	swb_bridge *b = q->b;
	const char **argv = calloc(n + 2, sizeof(char *));
	size_t *lens = calloc(n + 2, sizeof(size_t));
	chans_run *run = malloc(sizeof(*run));
	char key[SWB_BRIDGE_CHAN_NAME_MAX + 64];
	int rc = -1;
	if (argv && lens && run) {
		*run = (chans_run){ q, from, n };
		swb_bridge_key(b, key, sizeof(key), cJSON_GetObjectItemCaseSensitive(from, "app")->valuestring,
			       "occtot", NULL);
		argv[0] = "HMGET", argv[1] = key;
		cJSON *it = from;
		for (size_t i = 2; i < n + 2; i++, it = it->next)
			argv[i] = cJSON_GetObjectItemCaseSensitive(it, "channel")->valuestring;
		for (size_t i = 0; i < n + 2; i++)
			lens[i] = strlen(argv[i]);
		rc = redisAsyncCommandArgv(b->cmd.ac, on_hmget, run, (int)n + 2, argv, lens) == REDIS_OK ? 0 : -1;
	}
	if (rc < 0)
		free(run);
	free(argv);
	free(lens);
	return rc;
}

static const char *item_app(const cJSON *it)
{
	return cJSON_GetObjectItemCaseSensitive(it, "app")->valuestring;
}

static int cmp_items(const void *x, const void *y)
{
	const swb_bridge_occ *a = *(swb_bridge_occ *const *)x, *c = *(swb_bridge_occ *const *)y;
	return strcmp(a->key, c->key);
}

/* This host's occupied channels matching prefix, sorted by app, channel. */
static bool list_host_channels(swb_bridge *b, cJSON *arr, const char *prefix)
{
	size_t n = 0, cap = HASH_COUNT(b->state.occ);
	swb_bridge_occ **v = calloc(cap ? cap : 1, sizeof(*v));
	bool truncated = false;
	if (!v)
		return false;
	for (swb_bridge_occ *o = b->state.occ; o; o = o->hh.next)
		if (o->total && !strncmp(swb_bridge_key_chan(o->key, o->app_len), prefix, strlen(prefix)))
			v[n++] = o;
	qsort(v, n, sizeof(*v), cmp_items);
	for (size_t i = 0; i < n; i++) {
		if (i == CHANNELS_MAX) {
			truncated = true;
			break;
		}
		cJSON *it = cJSON_CreateObject();
		char app[SWB_APP_ID_MAX + 1];
		snprintf(app, sizeof(app), "%.*s", (int)v[i]->app_len, v[i]->key);
		cJSON_AddStringToObject(it, "app", app);
		cJSON_AddStringToObject(it, "channel", swb_bridge_key_chan(v[i]->key, v[i]->app_len));
		cJSON_AddNumberToObject(it, "host", (double)v[i]->total);
		if (b->url.none)
			cJSON_AddNumberToObject(it, "cluster", (double)v[i]->total);
		else
			cJSON_AddNullToObject(it, "cluster");
		cJSON_AddItemToArray(arr, it);
	}
	free(v);
	return truncated;
}

static cJSON *cmd_channels(swb_bridge *b, const cJSON *req, swb_bridge_ctlreq *cr)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "prefix");
	const char *prefix = cJSON_IsString(p) ? p->valuestring : "";
	if (p && !cJSON_IsNull(p) && (!cJSON_IsString(p) || strlen(prefix) > PREFIX_MAX))
		return swb_bridge_control_error(b, "\"prefix\" must be a string of at most 200 bytes");
	cJSON *o = ok_reply();
	cJSON_AddStringToObject(o, "prefix", prefix);
	cJSON *arr = cJSON_AddArrayToObject(o, "channels");
	cJSON_AddBoolToObject(o, "truncated", list_host_channels(b, arr, prefix));
	if (b->url.none || !cJSON_GetArraySize(arr)) {
		cJSON_AddBoolToObject(o, "cluster_known", b->url.none || swb_bridge_redis_cmd_up(b));
		return o;
	}
	if (!swb_bridge_redis_cmd_up(b) || !swb_bridge_control_can_wait(cr)) {
		cJSON_AddBoolToObject(o, "cluster_known", 0);
		return o;
	}
	chans_req *q = calloc(1, sizeof(*q));
	if (!q)
		return (cJSON_Delete(o), swb_bridge_control_error(b, "out of memory"));
	*q = (chans_req){ b, cr, o, arr, 1, false };
	/* items are sorted by app: one HMGET per run of one app */
	for (cJSON *from = arr->child, *it; from; from = it) {
		size_t n = 0;
		for (it = from; it && !strcmp(item_app(it), item_app(from)); it = it->next)
			n++;
		if (send_hmget(q, from, n) == 0)
			q->pending++;
		else
			q->failed = true;
	}
	if (--q->pending == 0)
		chans_finish(q);
	return NULL;
}

/* ---- forwarded commands ---- */

/* Send bm to the edge named edge_id ("all" / NULL: every edge). Returns
 * the number of edges, and their ids in ids. */
static int forward(swb_bridge *b, const char *edge_id, const Swb__BridgeMsg *bm, cJSON *ids)
{
	int n = 0;
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next) {
		if (edge_id && strcmp(edge_id, "all") && strcmp(edge_id, e->edge_id))
			continue;
		swb_bridge_send_msg(b, e->pipe_id, bm);
		cJSON_AddItemToArray(ids, cJSON_CreateString(e->edge_id));
		b->cnt.forwarded_cmds++;
		n++;
	}
	return n;
}

static cJSON *forwarded_reply(swb_bridge *b, const char *edge_id, const Swb__BridgeMsg *bm)
{
	cJSON *ids = cJSON_CreateArray();
	int n = forward(b, edge_id, bm, ids);
	if (n == 0 && edge_id && strcmp(edge_id, "all")) {
		cJSON_Delete(ids);
		char msg[160];
		snprintf(msg, sizeof(msg), "no edge with id '%.64s' (see swbctl edges)", edge_id);
		return swb_bridge_control_error(b, msg);
	}
	cJSON *o = ok_reply();
	cJSON_AddNumberToObject(o, "edges", n);
	cJSON_AddItemToObject(o, "edge_ids", ids);
	return o;
}

/* Optional non-negative integer field <= max; -1 on a bad value. */
static long opt_uint(const cJSON *req, const char *k, long max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, k);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)max ||
	    v->valuedouble != (double)(long)v->valuedouble)
		return -1;
	return (long)v->valuedouble;
}

static cJSON *cmd_drain(swb_bridge *b, const cJSON *req)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(req, "edge");
	long deadline = opt_uint(req, "deadline_s", DRAIN_DEADLINE_MAX_S), rate = opt_uint(req, "rate", DRAIN_RATE_MAX);
	if (e && !cJSON_IsNull(e) && (!cJSON_IsString(e) || !*e->valuestring))
		return swb_bridge_control_error(b, "\"edge\" must be an edge id or \"all\"");
	if (deadline < 0)
		return swb_bridge_control_error(b, "\"deadline_s\" must be an integer 0-86400");
	if (rate < 0)
		return swb_bridge_control_error(b, "\"rate\" must be an integer 0-1000000");
	Swb__DrainCmd d = SWB__DRAIN_CMD__INIT;
	d.deadline_ms = (uint32_t)deadline * 1000u;
	d.rate = (uint32_t)rate;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_DRAIN;
	bm.drain = &d;
	const char *id = cJSON_IsString(e) ? e->valuestring : "all";
	swb_info("control: drain of %s (deadline %ld s, rate %ld/s; 0 = the edge's own)", id, deadline, rate);
	return forwarded_reply(b, id, &bm);
}

static cJSON *cmd_log_level(swb_bridge *b, const cJSON *req)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(req, "level");
	int lvl = cJSON_IsString(l) ? swb_log_level_parse(l->valuestring) : -1;
	if (lvl < 0)
		return swb_bridge_control_error(b, "\"level\" must be one of error, warn, info, debug");
	swb_log_set_level(SWB_LOG_INFO);
	swb_info("control: log level set to %s", l->valuestring);
	swb_log_set_level(lvl);
	Swb__LogLevelCmd c = SWB__LOG_LEVEL_CMD__INIT;
	c.level = l->valuestring;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_LOG_LEVEL;
	bm.log_level = &c;
	cJSON *o = forwarded_reply(b, "all", &bm);
	cJSON_AddStringToObject(o, "level", l->valuestring);
	return o;
}

static cJSON *cmd_reload(swb_bridge *b)
{
	Swb__ReloadCmd c = SWB__RELOAD_CMD__INIT;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_RELOAD;
	bm.reload = &c;
	swb_info("control: reload forwarded to every edge");
	return forwarded_reply(b, "all", &bm);
}

cJSON *swb_bridge_cmd_run(swb_bridge *b, const char *cmd, const cJSON *req, swb_bridge_ctlreq *cr, bool *unknown)
{
	*unknown = false;
	if (!strcmp(cmd, "edges"))
		return cmd_edges(b);
	if (!strcmp(cmd, "channels"))
		return cmd_channels(b, req, cr);
	if (!strcmp(cmd, "connections"))
		return cmd_connections(b);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(b);
	if (!strcmp(cmd, "drain"))
		return cmd_drain(b, req);
	if (!strcmp(cmd, "log-level"))
		return cmd_log_level(b, req);
	if (!strcmp(cmd, "reload"))
		return cmd_reload(b);
	*unknown = true;
	return NULL;
}
