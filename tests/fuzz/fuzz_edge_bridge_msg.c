/* fuzz_edge_bridge_msg.c: every BridgeMsg handler of the edge
 * (swb_edge_link_handle: Welcome, Deliver, Ack, PresenceJoined,
 * QueryResult, CacheResult, Webhook, TerminateUser, AppUsage, Batch,
 * InterestReady). Before the input, a fresh connection subscribes to a few
 * channels of app1 (public, cache, presence) so deliveries have somewhere
 * to go; those subscriptions wait for InterestReady (sub_wait.c), with
 * Interest.seq 1, 2, 3 in SUBS order (the seeds' InterestReady use them). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "edge_env.h"
#include "switchboard.pb-c.h"

/* A DrainCmd ends in the edge's shutdown, after which the fuzz edge is
 * gone: such inputs (alone or in a batch) are skipped. Drain has its own
 * unit test (test_edge_drain). */
static bool drains(const uint8_t *p, size_t n, int depth)
{
	Swb__BridgeMsg *m = swb__bridge_msg__unpack(NULL, n, p);
	bool d = false;
	if (m && m->body_case == SWB__BRIDGE_MSG__BODY_DRAIN)
		d = true;
	else if (m && m->body_case == SWB__BRIDGE_MSG__BODY_BATCH && depth == 0)
		for (size_t i = 0; i < m->batch->n_msgs && !d; i++)
			d = drains(m->batch->msgs[i].data, m->batch->msgs[i].len, 1);
	if (m)
		swb__bridge_msg__free_unpacked(m, NULL);
	return d;
}

static const char *const SUBS[] = {
	"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"ch\"}}",
	"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"cache-ch\"}}",
	"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"my-channel\"}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned n;
	if (drains(data, size, 0))
		return 0;
	swb_edge *e = fuzz_edge();
	e->interest_seq = 0;      /* the same seqs for every input */
	e->bridge_legacy = false; /* a Welcome of an old bridge sets it */
	swb_edge_conn *c = fuzz_edge_conn(e);
	for (size_t i = 0; i < sizeof(SUBS) / sizeof(SUBS[0]); i++)
		swb_edge_pusher_message(e, c, SUBS[i], strlen(SUBS[i]));
	swb_edge_link_handle(e, data, size);
	swb_edge_conn_free(e, c);
	if (++n % 64 == 0)
		fuzz_edge_turn();
	return 0;
}
