/* sub_wait.c: subscriptions waiting until the bridge confirms that this
 * edge's interest in their channel is live (InterestReady).
 *
 * Why: a Pusher client may assume it gets every event published after its
 * pusher_internal:subscription_succeeded. For the host's first subscriber
 * of a channel that holds only once Redis confirmed the bridge's
 * SUBSCRIBE; an event published before is lost for this host. So a
 * subscriber of a channel that is not "ready" on this edge waits (member
 * flag, channels.c; fan-out skips it) and is told when the InterestReady
 * for the edge's latest add of the channel arrives: every waiting member
 * of the channel at once, in member order. Each add (Interest and each
 * InterestSync entry) is stamped with a new seq (swb_edge.interest_seq);
 * an InterestReady for an older add (the channel was dropped and re-added
 * meanwhile, or a previous bridge's) is ignored. A resync after a lost
 * Interest (interest_resync.c) re-sends a waiting channel's add with the
 * same want_seq: it is the same add, and either answer confirms it. When the bridge link goes
 * down no channel is ready any more: new subscribers wait for the next
 * bridge's confirmation of the replayed interest; told ones stay told. A
 * bridge older than proto_version 2 sends no InterestReady: its Welcome
 * makes every channel ready and nobody waits while it is the bridge.
 * Presence subscriptions never wait here: the bridge answers a join only
 * once the channel's SUBSCRIBE is confirmed (bridge/park.c).
 *
 * Owns nothing: the state lives in the channel index and swb_edge. */
#include <string.h>

#include "edge.h"
#include "log.h"

#define READY_MIN_PROTO 2

bool swb_edge_subwait_may_wait(const swb_edge *e) { return !e->bridge_legacy; }

uint64_t swb_edge_subwait_stamp(swb_edge *e, swb_edge_chan *ch)
{
	ch->want_seq = ++e->interest_seq;
	return ch->want_seq;
}

static void on_told(void *ctx, void *owner, const swb_edge_chan *ch)
{
	swb_edge_pusher_succeeded(ctx, owner, ch->name, ch->name_len, "{}", 2);
}

static void set_ready(swb_edge *e, swb_edge_chan *ch)
{
	uint32_t n = swb_edge_chan_set_ready(&e->chans, ch, on_told, e);
	if (n)
		swb_debug("channel %s ready: %u waiting subscriptions told", ch->name, n);
}

void swb_edge_subwait_on_ready(swb_edge *e, const char *app, const char *channel, uint64_t seq)
{
	if (!app || !channel || !seq) {
		e->st.bad_deliveries++;
		return;
	}
	swb_edge_chan *ch = swb_edge_chan_find(&e->chans, app, strlen(app), channel, strlen(channel));
	if (!ch || ch->ready || seq != ch->want_seq)
		return; /* gone, or the answer to an earlier add: a newer one follows */
	set_ready(e, ch);
}

void swb_edge_subwait_link_down(swb_edge *e)
{
	swb_edge_chans_unready(&e->chans);
	e->bridge_legacy = false; /* the next bridge's Welcome says */
}

void swb_edge_subwait_welcome(swb_edge *e, uint32_t proto_version)
{
	if (proto_version >= READY_MIN_PROTO || e->bridge_legacy)
		return;
	swb_warn("the bridge speaks protocol %u (< %d): subscriptions succeed without waiting for its SUBSCRIBE",
		 proto_version, READY_MIN_PROTO);
	e->bridge_legacy = true;
	swb_edge_chan *ch, *tmp;
	HASH_ITER(hh, e->chans.by_key, ch, tmp)
		set_ready(e, ch);
}
