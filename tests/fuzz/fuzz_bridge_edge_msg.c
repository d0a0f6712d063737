/* fuzz_bridge_edge_msg.c: every EdgeMsg handler of the bridge
 * (swb_bridge_edges_handle: Hello, Interest, InterestSync, Publish, Stats,
 * ChannelCounts, PresenceJoin/Leave, Query, CacheGet, TerminateUser).
 * Input: one byte choosing the sending pipe (1, 2: registered edges; 3: a
 * pipe that never sent Hello), then a packed EdgeMsg. */
#include <stdint.h>

#include "bridge_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned n;
	swb_bridge *b = fuzz_bridge();
	if (size < 1)
		return 0;
	swb_bridge_edges_handle(b, 1u + data[0] % 3u, data + 1, size - 1);
	if (++n % 64 == 0)
		fuzz_bridge_turn();
	return 0;
}
