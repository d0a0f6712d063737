/* ready.c: InterestReady, the bridge's word to an edge that its interest
 * in a channel is live.
 *
 * Why: an edge tells a new subscriber pusher_internal:subscription_succeeded
 * only once every event published from then on reaches it. For the host's
 * first subscriber of a channel that is when Redis confirms this host's
 * SUBSCRIBE; before, an event published anywhere is lost for this host.
 * So each Interest / InterestSync add carries the edge's seq; the member
 * keeps it (interest.c) until the InterestReady for it is sent: at once if
 * the channel is confirmed already (or with --redis none), else from
 * redis.c's confirmation, which may come after a Redis reconnect
 * re-subscribed it. Only edges that speak proto_version >= 2 get it.
 *
 * Owns nothing: builds and sends one BridgeMsg per member. */
#include <string.h>

#include "bridge.h"
#include "switchboard.pb-c.h"

#define READY_MIN_PROTO 2

static bool chan_live(const swb_bridge *b, const swb_bridge_chan *ch)
{
	return b->url.none || (ch->sub_state == SWB_SUB_ON && ch->confirmed);
}

/* Send InterestReady for member m of ch (if the edge wants one) and clear
 * its seq. */
static void send_ready(swb_bridge *b, const swb_bridge_chan *ch, swb_bridge_member *m)
{
	char app[SWB_BRIDGE_CHAN_NAME_MAX + 1], chan[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	const char *a, *c;
	size_t al, cl;
	uint64_t seq = m->seq;
	m->seq = 0;
	swb_bridge_edge *e = seq ? swb_bridge_edge_find(b, m->edge) : NULL;
	if (!e || e->proto_version < READY_MIN_PROTO ||
	    swb_bridge_chan_split(b->prefix, ch->name, ch->len, &a, &al, &c, &cl) < 0)
		return;
	memcpy(app, a, al);
	app[al] = '\0';
	memcpy(chan, c, cl);
	chan[cl] = '\0';
	Swb__InterestReady r = SWB__INTEREST_READY__INIT;
	r.app_id = app;
	r.channel = chan;
	r.seq = seq;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_READY;
	bm.ready = &r;
	swb_bridge_send_msg(b, m->edge, &bm);
	b->cnt.interest_ready++;
}

void swb_bridge_ready_added(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len)
{
	swb_bridge_chan *ch = swb_bridge_interest_find(&b->interest, name, len);
	swb_bridge_member *m = ch ? swb_bridge_interest_member(ch, pipe_id) : NULL;
	if (m && m->seq && chan_live(b, ch))
		send_ready(b, ch, m);
}

void swb_bridge_ready_confirmed(swb_bridge *b, swb_bridge_chan *ch)
{
	for (uint32_t i = 0; i < ch->n; i++)
		if (ch->members[i].seq)
			send_ready(b, ch, &ch->members[i]);
}
