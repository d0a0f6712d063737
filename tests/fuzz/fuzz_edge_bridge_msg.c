/* fuzz_edge_bridge_msg.c: every BridgeMsg handler of the edge
 * (swb_edge_link_handle: Welcome, Deliver, Ack, PresenceJoined,
 * QueryResult, CacheResult, Webhook, TerminateUser, AppUsage, Batch).
 * Before the input, a fresh connection subscribes to a few channels of
 * app1 (public, cache, presence) so deliveries have somewhere to go. */
#include <stdint.h>
#include <string.h>

#include "edge_env.h"

static const char *const SUBS[] = {
	"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"ch\"}}",
	"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"cache-ch\"}}",
	"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"my-channel\"}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned n;
	swb_edge *e = fuzz_edge();
	swb_edge_conn *c = fuzz_edge_conn(e);
	for (size_t i = 0; i < sizeof(SUBS) / sizeof(SUBS[0]); i++)
		swb_edge_pusher_message(e, c, SUBS[i], strlen(SUBS[i]));
	swb_edge_link_handle(e, data, size);
	swb_edge_conn_free(e, c);
	if (++n % 64 == 0)
		fuzz_edge_turn();
	return 0;
}
