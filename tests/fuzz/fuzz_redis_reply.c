/* fuzz_redis_reply.c: what the bridge does with bytes from Redis on its
 * subscribe connection: hiredis' reader with our guard (redis_guard.c) on
 * a subscribed context, the reply classification (sub_reply.c), then the
 * Envelope delivery (swb_bridge_deliver) or the cluster command handler
 * for PREFIX:ctl messages, as redis.c does. Input: raw RESP; starting
 * with '!', the rest is read as the command connection reads it (not
 * subscribed, a command waiting), where replies only go through the guard. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bridge_env.h"
#include "redis_guard.h"
#include "sub_reply.h"

static void handle(swb_bridge *b, redisReply *reply)
{
	swb_bridge_subrep r;
	if (swb_bridge_subrep_parse(reply, &r) != SWB_SUBREP_MESSAGE)
		return;
	if (r.chan_len == strlen(b->ctl_chan) && !memcmp(r.chan, b->ctl_chan, r.chan_len))
		swb_bridge_cluster_ctl_message(b, r.payload, r.payload_len);
	else
		swb_bridge_deliver(b, r.chan, r.chan_len, (const uint8_t *)r.payload, r.payload_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static redisAsyncContext ac; /* what the guard looks at */
	static redisCallback waiting;
	swb_bridge *b = fuzz_bridge();
	bool cmd = size > 0 && data[0] == '!';
	if (cmd) {
		data++;
		size--;
	}
	memset(&ac, 0, sizeof(ac));
	ac.c.flags = cmd ? 0 : REDIS_SUBSCRIBED;
	ac.replies.head = cmd ? &waiting : NULL;
	redisReader *rd = redisReaderCreateWithFunctions(&swb_bridge_guard_fns);
	rd->privdata = &ac;
	if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
		for (int i = 0; i < 64; i++) {
			void *reply = NULL;
			if (redisReaderGetReply(rd, &reply) != REDIS_OK || !reply)
				break;
			if (!cmd)
				handle(b, reply);
			freeReplyObject(reply);
		}
	}
	redisReaderFree(rd);
	return 0;
}
