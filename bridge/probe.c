/* probe.c: the end-to-end pub/sub probe and the bridge's readiness.
 *
 * Every --probe-interval the bridge PUBLISHes a probe (a sequence number)
 * on PREFIX:__bridge:HOST:probe over the cmd connection; its subscribe
 * connection holds a PSUBSCRIBE on that name and must see it come back.
 * One probe is outstanding at a time. A probe fails when it has not come
 * back within --probe-timeout, or when Redis says the PUBLISH reached no
 * subscriber. On a failure the bridge counts it, reports not ready, and
 * rebuilds the connection at fault: the subscribe connection (the probe
 * was published but never arrived: a lost subscription or a wedged
 * connection), or the cmd connection (its PUBLISH never got a reply).
 *
 * Ready = Redis connections up and a probe has come back on the current
 * subscribe connection with none failed since (always ready with --redis
 * none). Every change of readiness is logged once and sent to every edge
 * as BridgeHealth (their /readyz follows it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge.h"
#include "log.h"
#include "switchboard.pb-c.h"
#include "util.h"

bool swb_bridge_ready(const swb_bridge *b, const char **why)
{
	const char *w = NULL;
	if (b->url.none)
		w = NULL;
	else if (b->cmd.state != SWB_RCONN_UP)
		w = "redis command connection down";
	else if (b->sub.state != SWB_RCONN_UP)
		w = "redis subscribe connection down";
	else if (!b->health.ok)
		w = b->health.reason[0] ? b->health.reason : "pub/sub probe not back yet";
	if (why)
		*why = w ? w : "";
	return !w;
}

void swb_bridge_health_send(swb_bridge *b, uint32_t pipe_id)
{
	const char *why;
	Swb__BridgeHealth h = SWB__BRIDGE_HEALTH__INIT;
	h.ready = swb_bridge_ready(b, &why);
	h.reason = (char *)why;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_HEALTH;
	bm.health = &h;
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
		if (!pipe_id || e->pipe_id == pipe_id)
			swb_bridge_send_msg(b, e->pipe_id, &bm);
}

/* Readiness may have changed: log, count and tell the edges. */
static void evaluate(swb_bridge *b)
{
	swb_bridge_health *h = &b->health;
	const char *why;
	bool r = swb_bridge_ready(b, &why);
	if (h->announced && r == h->ready)
		return;
	if (h->announced && !r)
		h->unready++;
	if (r)
		swb_info("bridge ready");
	else if (h->announced)
		swb_warn("bridge not ready: %s", why);
	h->ready = r;
	h->announced = true;
	swb_bridge_health_send(b, 0);
}

static void probe_failed(swb_bridge *b, const char *why)
{
	swb_bridge_health *h = &b->health;
	bool cmd_at_fault = !h->published;
	h->failures++;
	h->sent_ms = 0;
	h->ok = false;
	snprintf(h->reason, sizeof(h->reason), "pub/sub probe failed: %s", why);
	swb_warn("%s; rebuilding the %s connection", h->reason, cmd_at_fault ? "command" : "subscribe");
	evaluate(b);
	h->rebuilds++;
	if (cmd_at_fault)
		swb_bridge_redis_rebuild_cmd(b, h->reason);
	else
		swb_bridge_redis_rebuild_sub(b, h->reason);
}

static void on_probe_published(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_rconn *rc = ac->data;
	swb_bridge *b = rc->b;
	swb_bridge_health *h = &b->health;
	redisReply *r = reply;
	uint64_t seq = (uint64_t)(uintptr_t)privdata;
	if (!r || !h->sent_ms || seq != h->seq)
		return;
	swb_bridge_metrics_redis_rtt(b, h->sent_us);
	h->published = true;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		probe_failed(b, "published to no subscriber (subscription lost)");
}

static void send_probe(swb_bridge *b)
{
	swb_bridge_health *h = &b->health;
	if (h->sent_ms || !h->psub_confirmed || b->sub.state != SWB_RCONN_UP || !swb_bridge_redis_cmd_up(b))
		return;
	char payload[32];
	int n = snprintf(payload, sizeof(payload), "%llu", (unsigned long long)++h->seq);
	if (swb_bridge_redis_publish(b, b->probe, strlen(b->probe), (const uint8_t *)payload, (size_t)n,
				     on_probe_published, (void *)(uintptr_t)h->seq) < 0)
		return;
	h->sent++;
	h->sent_ms = swb_mono_ms();
	h->sent_us = swb_mono_us();
	h->published = false;
}

static void on_probe_timer(uv_timer_t *t)
{
	swb_bridge *b = t->data;
	swb_bridge_health *h = &b->health;
	char why[64];
	if (h->sent_ms && swb_mono_ms() - h->sent_ms >= h->timeout_ms) {
		snprintf(why, sizeof(why), "not back within %llu ms", (unsigned long long)h->timeout_ms);
		probe_failed(b, why);
		return;
	}
	send_probe(b);
}

void swb_bridge_probe_subscribed(swb_bridge *b)
{
	b->health.psub_confirmed = true;
	send_probe(b); /* at once: readiness right after a (re)connect */
}

void swb_bridge_probe_message(swb_bridge *b, const char *payload, size_t len)
{
	swb_bridge_health *h = &b->health;
	char buf[32];
	if (len == 0 || len >= sizeof(buf))
		return;
	memcpy(buf, payload, len);
	buf[len] = '\0';
	char *end;
	unsigned long long seq = strtoull(buf, &end, 10);
	if (*end || !h->sent_ms || seq != h->seq)
		return; /* a late or foreign probe */
	h->received++;
	h->last_rtt_us = swb_mono_us() - h->sent_us;
	h->sent_ms = 0;
	h->ok = true;
	h->reason[0] = '\0';
	evaluate(b);
}

void swb_bridge_probe_conn_changed(swb_bridge *b)
{
	swb_bridge_health *h = &b->health;
	if (b->sub.state != SWB_RCONN_UP) {
		h->psub_confirmed = false;
		h->ok = false;
		h->reason[0] = '\0';
	}
	if (b->sub.state != SWB_RCONN_UP || !swb_bridge_redis_cmd_up(b))
		h->sent_ms = 0; /* its answer cannot come: the next one is sent when up */
	evaluate(b);
}

cJSON *swb_bridge_probe_json(swb_bridge *b)
{
	const swb_bridge_health *h = &b->health;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "channel", b->url.none ? "" : b->probe);
	cJSON_AddNumberToObject(o, "interval_ms", (double)h->interval_ms);
	cJSON_AddNumberToObject(o, "timeout_ms", (double)h->timeout_ms);
	cJSON_AddNumberToObject(o, "sent", (double)h->sent);
	cJSON_AddNumberToObject(o, "received", (double)h->received);
	cJSON_AddNumberToObject(o, "failures", (double)h->failures);
	cJSON_AddNumberToObject(o, "rebuilds", (double)h->rebuilds);
	cJSON_AddNumberToObject(o, "unready", (double)h->unready);
	cJSON_AddNumberToObject(o, "last_rtt_ms", (double)h->last_rtt_us / 1000.0);
	cJSON_AddBoolToObject(o, "outstanding", h->sent_ms != 0);
	return o;
}

void swb_bridge_probe_init(swb_bridge *b)
{
	swb_bridge_health *h = &b->health;
	if (!h->interval_ms)
		h->interval_ms = 1000;
	if (!h->timeout_ms)
		h->timeout_ms = 3000;
	uv_timer_init(b->loop, &h->timer);
	h->timer.data = b;
	h->timer_inited = true;
	if (!b->url.none)
		uv_timer_start(&h->timer, on_probe_timer, h->interval_ms, h->interval_ms);
	evaluate(b);
}

void swb_bridge_probe_fini(swb_bridge *b)
{
	if (!b->health.timer_inited)
		return;
	uv_timer_stop(&b->health.timer);
	uv_close((uv_handle_t *)&b->health.timer, NULL);
	b->health.timer_inited = false;
}
