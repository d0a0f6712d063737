/* fuzz_bridge_edge_msg.c: every EdgeMsg handler of the bridge
 * (swb_bridge_edges_handle: Hello, Interest, InterestSync, Publish, Stats,
 * ChannelCounts, PresenceJoin/Leave, Query, CacheGet, TerminateUser).
 * Input: one byte choosing the sending pipe (1, 2: registered edges; 3: a
 * pipe that never sent Hello), then a packed EdgeMsg. A Hello's webhook
 * report (webhooks.c) is also applied to the fake edge of that pipe:
 * on_hello stops before it because fake pipes have no address. */
#include <stdint.h>

#include "bridge_env.h"
#include "switchboard.pb-c.h"

static void apply_hello(swb_bridge *b, uint32_t pipe, const uint8_t *p, size_t n)
{
	Swb__EdgeMsg *em = swb__edge_msg__unpack(NULL, n, p);
	swb_bridge_edge *e = swb_bridge_edge_find(b, pipe);
	if (em && e && em->body_case == SWB__EDGE_MSG__BODY_HELLO)
		swb_bridge_webhooks_hello(b, e, em->hello);
	if (em)
		swb__edge_msg__free_unpacked(em, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned n;
	swb_bridge *b = fuzz_bridge();
	if (size < 1)
		return 0;
	uint32_t pipe = 1u + data[0] % 3u;
	swb_bridge_edges_handle(b, pipe, data + 1, size - 1);
	apply_hello(b, pipe, data + 1, size - 1);
	if (++n % 64 == 0)
		fuzz_bridge_turn();
	return 0;
}
