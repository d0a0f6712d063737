/* redis_url.h: parsing of the --redis value: "none" or
 * redis://HOST[:PORT][/DB] (HOST may be [v6addr]). */
#ifndef SWB_BRIDGE_REDIS_URL_H
#define SWB_BRIDGE_REDIS_URL_H

#include <stdbool.h>

typedef struct swb_bridge_redis_url {
	bool none;      /* --redis none: single host, no Redis */
	char host[256]; /* without brackets */
	int port;       /* default 6379 */
	int db;         /* default 0; SELECTed when has_db */
	bool has_db;
} swb_bridge_redis_url;

/* Returns 0, or -1 with a static reason in *err. */
int swb_bridge_redis_url_parse(const char *s, swb_bridge_redis_url *out, const char **err);

#endif
