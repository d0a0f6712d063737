/* webhook_kinds.h: the webhook event types as bits, shared by the edge
 * (its apps' webhook filters) and the bridge (which edges want which
 * events). The same bits travel in Hello.webhooks (AppWebhooks.events,
 * proto/switchboard.proto): never renumber them. */
#ifndef SWB_WEBHOOK_KINDS_H
#define SWB_WEBHOOK_KINDS_H

#include <stdint.h>

enum {
	SWB_WH_CHANNEL_OCCUPIED = 1 << 0,
	SWB_WH_CHANNEL_VACATED = 1 << 1,
	SWB_WH_MEMBER_ADDED = 1 << 2,
	SWB_WH_MEMBER_REMOVED = 1 << 3,
	SWB_WH_CLIENT_EVENT = 1 << 4,
	SWB_WH_CACHE_MISS = 1 << 5,
	SWB_WH_SUBSCRIPTION_COUNT = 1 << 6,
	SWB_WH_ALL = (1 << 7) - 1,
};

/* Event name ("channel_occupied", ...) to its bit; 0 if unknown. */
uint32_t swb_webhook_kind_bit(const char *name);

#endif
