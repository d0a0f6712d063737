/* deliver.c: bridge -> clients fan-out. One BridgeMsg.deliver (a packed
 * Envelope) is validated, encoded once into a refcounted frame, and a
 * reference is queued on every local subscriber except the excluded
 * socket and every subscriber still waiting for its subscription_succeeded
 * (sub_wait.c). The frame is owned here until the last queue drops it. */
#include <string.h>

#include "edge.h"
#include "frames.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"

static bool envelope_valid(const Swb__Envelope *env)
{
	return env->app_id && swb_app_token_valid(env->app_id, strlen(env->app_id)) && env->channel &&
	       swb_channel_name_valid(env->channel, strlen(env->channel)) && env->event &&
	       swb_event_name_valid(env->event, strlen(env->event)) &&
	       (env->data.len == 0 || env->data.data) &&
	       swb_edge_utf8_valid(env->data.data, env->data.len) &&
	       (!env->user_id || swb_edge_utf8_valid(env->user_id, strlen(env->user_id)));
}

static void fan_out(swb_edge *e, swb_edge_chan *ch, swb_buf *frame, const Swb__Envelope *env)
{
	const char *exclude = env->exclude_socket_id;
	swb_edge_conn *skip = NULL;
	if (exclude && *exclude)
		skip = swb_edge_conn_by_socket_id(e, exclude, strlen(exclude));
	/* A send may close a slow consumer, which only marks it: the member
	 * array is not modified until the connection's CLOSED callback. */
	for (uint32_t i = 0; i < ch->n; i++) {
		swb_edge_conn *c = ch->members[i].subs->owner;
		if (c == skip || ch->members[i].waiting) /* not told it is subscribed yet (sub_wait.c) */
			continue;
		/* A cache-channel subscriber waiting for its cached event. */
		if (c->cache_watch && swb_edge_cache_intercept(e, c, ch->name, frame, env->origin_host, env->id))
			continue;
		swb_edge_conn_deliver(e, c, frame);
	}
}

void swb_edge_deliver(swb_edge *e, const uint8_t *data, size_t len)
{
	Swb__Envelope *env = swb__envelope__unpack(NULL, len, data);
	if (!env || !envelope_valid(env)) {
		e->st.bad_deliveries++;
		swb_debug("dropping invalid delivery (%zu bytes)", len);
		if (env)
			swb__envelope__free_unpacked(env, NULL);
		return;
	}
	swb_edge_chan *ch = swb_edge_chan_find(&e->chans, env->app_id, strlen(env->app_id), env->channel,
					       strlen(env->channel));
	if (ch) {
		const char *uid = env->user_id && *env->user_id ? env->user_id : NULL;
		swb_buf *frame = swb_edge_frame_event(LWS_PRE, env->event, strlen(env->event), env->channel,
						      strlen(env->channel), (const char *)env->data.data,
						      env->data.len, uid, uid ? strlen(uid) : 0);
		if (frame) {
			fan_out(e, ch, frame, env);
			swb_buf_unref(frame);
			swb_edge_metrics_latency(e, env->origin_time_us);
		}
	}
	swb__envelope__free_unpacked(env, NULL);
}
