/* occupancy.c: channel subscription counts. Edges report absolute
 * per-edge counts (ChannelCounts); state.c sums them per host; on every
 * change of a host total this module runs occ_set, coalesced: at most one
 * occ_set per channel in flight, and when it replies the latest total is
 * sent if it moved meanwhile. The script's transition (occupied /
 * vacated) becomes a webhook (not while re-applying after Redis lost its
 * data: nothing changed for the apps). With --redis none the host total is the
 * cluster total and the transitions are decided here.
 *
 * Owns one swb_bridge_occ_call per occ_set in flight (names copied, so the
 * state entry may be released meanwhile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"

typedef struct swb_bridge_occ_call {
	swb_bridge *b;
	char app[SWB_APP_ID_MAX + 1];
	char chan[SWB_CHANNEL_NAME_MAX + 1];
	uint64_t value;
	bool stale;  /* reconcile: no state entry behind it */
	bool silent; /* re-applied after Redis lost its data: no webhook */
} swb_bridge_occ_call;

static bool names_ok(const char *app, const char *chan)
{
	return app && chan && swb_app_token_valid(app, strlen(app)) && swb_channel_name_valid(chan, strlen(chan));
}

void swb_bridge_occ_counts(swb_bridge *b, uint32_t pipe_id, const Swb__ChannelCounts *c)
{
	for (size_t i = 0; i < c->n_counts; i++) {
		const Swb__ChannelCount *cc = c->counts[i];
		if (!cc || !names_ok(cc->app_id, cc->channel)) {
			b->cnt.edge_bad_name++;
			continue;
		}
		bool changed;
		swb_bridge_occ *o = swb_bridge_state_count(&b->state, cc->app_id, cc->channel, pipe_id, cc->count,
							   &changed);
		if (!o && cc->count) {
			b->cnt.state_refused++;
			swb_bridge_ratelog_emit(&b->rl_edge, SWB_LOG_WARN, "channel count refused (limit or memory)");
		}
		if (changed)
			swb_bridge_occ_changed(b, o);
	}
}

static void webhook_transition(swb_bridge *b, const char *app, const char *chan, const char *t)
{
	if (!strcmp(t, "occupied"))
		swb_bridge_webhook(b, app, "channel_occupied", chan, NULL);
	else if (!strcmp(t, "vacated"))
		swb_bridge_webhook(b, app, "channel_vacated", chan, NULL);
}

static void occ_send(swb_bridge *b, swb_bridge_occ *o, bool silent);

static void on_occ_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_occ_call *c = privdata;
	swb_bridge *b = c->b;
	redisReply *r = reply;
	if (r && swb_bridge_reply_is_str(r) && r->str) {
		if (!c->silent)
			webhook_transition(b, c->app, c->chan, r->str);
	} else if (r) {
		b->cnt.script_errors++;
		r = NULL; /* treat like a failure: re-applied after a reconnect */
	}
	swb_bridge_occ *o = c->stale ? NULL : swb_bridge_state_occ_find(&b->state, c->app, c->chan);
	if (!r && c->value == 0 && !c->silent)
		swb_bridge_pending_add(b, c->app, c->chan, NULL); /* this 0 may not have reached Redis */
	if (o) {
		o->inflight = false;
		if (r)
			o->applied = c->value;
		if (r && o->total != o->applied && swb_bridge_redis_cmd_up(b))
			occ_send(b, o, false);
		else if (o->total == 0 && !o->inflight)
			swb_bridge_state_occ_release(&b->state, o);
	}
	free(c);
}

static void occ_send(swb_bridge *b, swb_bridge_occ *o, bool silent)
{
	swb_bridge_occ_call *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->b = b;
	c->silent = silent;
	memcpy(c->app, o->key, o->app_len);
	snprintf(c->chan, sizeof(c->chan), "%s", swb_bridge_key_chan(o->key, o->app_len));
	c->value = o->total;
	char num[24];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)o->total);
	const char *args[5] = { b->prefix, b->host_id, c->app, c->chan, num };
	size_t lens[5];
	for (int i = 0; i < 5; i++)
		lens[i] = strlen(args[i]);
	if (swb_bridge_script_run(b, SWB_SCRIPT_OCC_SET, 5, args, lens, on_occ_reply, c) < 0) {
		free(c);
		return; /* re-applied after the reconnect */
	}
	b->cnt.occ_sets++;
	o->inflight = true;
	o->sent = o->total;
}

/* --redis none: this host is the cluster. */
static void occ_changed_local(swb_bridge *b, swb_bridge_occ *o)
{
	char app[SWB_APP_ID_MAX + 1];
	memcpy(app, o->key, o->app_len);
	app[o->app_len] = '\0';
	const char *chan = swb_bridge_key_chan(o->key, o->app_len);
	if (o->applied == 0 && o->total > 0)
		webhook_transition(b, app, chan, "occupied");
	else if (o->applied > 0 && o->total == 0)
		webhook_transition(b, app, chan, "vacated");
	o->applied = o->total;
	swb_bridge_state_occ_release(&b->state, o);
}

void swb_bridge_occ_changed(swb_bridge *b, swb_bridge_occ *o)
{
	if (b->url.none) {
		occ_changed_local(b, o);
		return;
	}
	if (o->inflight)
		return; /* its reply sends the latest total */
	if (swb_bridge_redis_cmd_up(b))
		occ_send(b, o, false);
	if (!o->inflight && o->total == 0) { /* Redis down: reconcile (or pending.c) cleans up */
		char app[SWB_APP_ID_MAX + 1];
		memcpy(app, o->key, o->app_len);
		app[o->app_len] = '\0';
		swb_bridge_pending_add(b, app, swb_bridge_key_chan(o->key, o->app_len), NULL);
		swb_bridge_state_occ_release(&b->state, o);
	}
}

int swb_bridge_occ_stale(swb_bridge *b, const char *app, const char *chan)
{
	swb_bridge_occ *o = swb_bridge_state_occ_find(&b->state, app, chan);
	if (o && (o->total || o->inflight))
		return -1; /* memory backs it, or a call for it is in flight */
	swb_bridge_occ_call *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	*c = (swb_bridge_occ_call){ .b = b, .stale = true };
	snprintf(c->app, sizeof(c->app), "%s", app);
	snprintf(c->chan, sizeof(c->chan), "%s", chan);
	const char *args[5] = { b->prefix, b->host_id, c->app, c->chan, "0" };
	size_t lens[5] = { strlen(b->prefix), strlen(b->host_id), strlen(c->app), strlen(c->chan), 1 };
	if (swb_bridge_script_run(b, SWB_SCRIPT_OCC_SET, 5, args, lens, on_occ_reply, c) < 0) {
		free(c);
		return -1;
	}
	return 0;
}

void swb_bridge_occ_reapply(swb_bridge *b, bool silent)
{
	for (swb_bridge_occ *o = b->state.occ; o; o = o->hh.next)
		if (o->total > 0 && !o->inflight)
			occ_send(b, o, silent);
}
