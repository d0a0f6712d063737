/* health.c: tells the host's edges whether this bridge can reach Redis, so
 * that an edge's /readyz is 503 while it cannot deliver across hosts (and a
 * load balancer sends new clients elsewhere). The state is part of every
 * Welcome and, on each change, a BridgeHealth goes to every edge. Called
 * from redis.c whenever a connection comes up or goes away. */
#include <string.h>

#include "bridge.h"
#include "log.h"
#include "switchboard.pb-c.h"

bool swb_bridge_health_redis_down(const swb_bridge *b)
{
	return !b->url.none && strcmp(swb_bridge_redis_state(b), "connected") != 0;
}

void swb_bridge_health_changed(swb_bridge *b)
{
	bool down = swb_bridge_health_redis_down(b);
	if (b->health_sent && down == b->health_down)
		return;
	b->health_sent = true;
	b->health_down = down;
	Swb__BridgeHealth h = SWB__BRIDGE_HEALTH__INIT;
	h.redis_down = down;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_HEALTH;
	bm.health = &h;
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next) {
		nng_msg *m = swb_bridge_pack(&bm);
		if (m)
			swb_bridge_edges_send(b, e->pipe_id, m);
	}
	swb_info("told %zu edge(s): Redis is %s", swb_bridge_edges_count(b), down ? "unreachable" : "reachable");
}
