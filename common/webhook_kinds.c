/* webhook_kinds.c: webhook event names to their bits (webhook_kinds.h). */
#include <string.h>

#include "webhook_kinds.h"

uint32_t swb_webhook_kind_bit(const char *name)
{
	static const struct { const char *name; uint32_t bit; } map[] = {
		{ "channel_occupied", SWB_WH_CHANNEL_OCCUPIED }, { "channel_vacated", SWB_WH_CHANNEL_VACATED },
		{ "member_added", SWB_WH_MEMBER_ADDED }, { "member_removed", SWB_WH_MEMBER_REMOVED },
		{ "client_event", SWB_WH_CLIENT_EVENT }, { "cache_miss", SWB_WH_CACHE_MISS },
		{ "subscription_count", SWB_WH_SUBSCRIPTION_COUNT },
	};
	for (size_t i = 0; name && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(name, map[i].name))
			return map[i].bit;
	return 0;
}
