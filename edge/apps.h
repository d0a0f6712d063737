/* apps.h: the table of Pusher apps this edge serves (id, key, secret) and
 * their settings (client events, limits, webhooks), from --app specs, a
 * line-based apps file or a JSON apps file, plus --webhook ID=URL.
 * Pure data structure: no lws, no loop, so it is unit-testable. */
#ifndef SWB_EDGE_APPS_H
#define SWB_EDGE_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "webhook_kinds.h"

#define SWB_EDGE_APP_MAX_WEBHOOKS 8
#define SWB_EDGE_APP_MAX_ORIGINS 64

/* Webhook event types (bit mask): the shared bits of webhook_kinds.h. */
enum {
	SWB_EDGE_WH_CHANNEL_OCCUPIED = SWB_WH_CHANNEL_OCCUPIED,
	SWB_EDGE_WH_CHANNEL_VACATED = SWB_WH_CHANNEL_VACATED,
	SWB_EDGE_WH_MEMBER_ADDED = SWB_WH_MEMBER_ADDED,
	SWB_EDGE_WH_MEMBER_REMOVED = SWB_WH_MEMBER_REMOVED,
	SWB_EDGE_WH_CLIENT_EVENT = SWB_WH_CLIENT_EVENT,
	SWB_EDGE_WH_CACHE_MISS = SWB_WH_CACHE_MISS,
	SWB_EDGE_WH_SUBSCRIPTION_COUNT = SWB_WH_SUBSCRIPTION_COUNT,
	SWB_EDGE_WH_ALL = SWB_WH_ALL,
};

typedef struct swb_edge_webhook_cfg {
	char *url;                 /* owned */
	uint32_t events;           /* SWB_EDGE_WH_* mask */
} swb_edge_webhook_cfg;

typedef struct swb_edge_app {
	char *id, *key, *secret;   /* owned, NUL-terminated */
	size_t id_len, key_len, secret_len;
	/* settings (defaults: Pusher's) */
	bool enabled;              /* false: connections closed 4003, API 403 */
	bool client_events;        /* default true */
	uint32_t client_event_rate; /* per connection per second, default 10, 0 = unlimited */
	uint32_t max_connections;  /* cluster-wide (see swb_edge_app_admit); 0 = unlimited */
	uint32_t presence_max_members; /* default 100 */
	swb_edge_webhook_cfg webhooks[SWB_EDGE_APP_MAX_WEBHOOKS];
	size_t n_webhooks;
	uint32_t webhook_events;   /* union of the webhooks' masks */
	char **origins;            /* allowed Origins (origins.c), owned; none = any */
	size_t n_origins;
	/* runtime: live connections of this app on this edge (conn.c) */
	uint32_t connections;
	/* runtime: the cluster-wide limit (bridge_link.c, pusher.c): the last
	 * AppUsage total, when it came (mono ms, 0 = never), the local
	 * connections that total cannot include (accepted since the last
	 * EdgeStats before it), and those accepted since the last EdgeStats */
	uint32_t cluster_total, accepted_since, accepted_unreported;
	uint64_t usage_ms;
	bool removed;              /* dropped by a reload; kept in retired */
	struct swb_edge_app *retired_next;
	UT_hash_handle hh_id, hh_key;
} swb_edge_app;

typedef struct swb_edge_apps {
	swb_edge_app *by_id, *by_key; /* two uthash views of the same entries */
	size_t n;
	/* apps a reload removed: out of the lookups, kept until fini because
	 * connections, requests and webhooks may still point at them */
	swb_edge_app *retired;
} swb_edge_apps;

void swb_edge_apps_init(swb_edge_apps *t);
void swb_edge_apps_fini(swb_edge_apps *t);
/* Add one "ID:KEY:SECRET" spec (the secret is everything after the second
 * ':'). On error returns -1 and writes a human message into err. */
int swb_edge_apps_add_spec(swb_edge_apps *t, const char *spec, size_t n, char *err, size_t errlen);
/* Read an apps file. A file whose first non-blank character is '[' or '{'
 * is JSON (see swb_edge_apps_load_json); otherwise one spec per line,
 * '#' comments and blank lines ignored, surrounding whitespace trimmed.
 * Returns 0 or -1 (err set). */
int swb_edge_apps_load_file(swb_edge_apps *t, const char *path, char *err, size_t errlen);
/* JSON apps: an array of app objects, or {"apps":[...]}, each
 * {"id","key","secret", optional "enabled","client_events",
 * "client_event_rate","max_connections" (cluster-wide),"presence_max_members",
 * "allowed_origins":[...],"webhooks":[{"url","events":[names]}]}. 0 or -1 (err set). */
int swb_edge_apps_load_json(swb_edge_apps *t, const char *text, size_t n, char *err, size_t errlen);
/* "--webhook ID=URL": add a webhook with every event type to app ID. */
int swb_edge_apps_add_webhook_spec(swb_edge_apps *t, const char *spec, char *err, size_t errlen);
/* Webhook event name ("channel_occupied", ...) to its bit; 0 if unknown. */
uint32_t swb_edge_webhook_event_bit(const char *name);
/* Admission under max_connections. cluster_fresh: the app's AppUsage
 * total is recent (the bridge link is up): admit iff cluster_total +
 * accepted_since < max, so the cluster overshoots by at most what other
 * edges accept within one report (~1 s). Otherwise (bridge unreachable)
 * the limit applies per edge. The local connections never exceed max
 * either way. */
bool swb_edge_app_admit(const swb_edge_app *a, bool cluster_fresh);
/* Make t serve what fresh holds (a reload): an app of t that fresh lacks
 * leaves the lookups and goes to t->retired (removed = true, enabled =
 * false); an app in both keeps its entry, so pointers to it and its
 * runtime counters stay, and takes fresh's key, secret, settings and
 * webhooks; an app only in fresh moves into t. fresh ends empty.
 * Returns the number of apps removed. */
size_t swb_edge_apps_replace(swb_edge_apps *t, swb_edge_apps *fresh);
/* origins.c: "allowed_origins" (a cJSON array, or NULL = absent) into a.
 * 0, or -1 with err set. */
int swb_edge_app_origins_json(swb_edge_app *a, const void *json, char *err, size_t errlen);
void swb_edge_app_origins_free(swb_edge_app *a);
/* May a WebSocket upgrade with this Origin header (NULL = none) reach app
 * a? True when a has no list, or an entry matches (see origins.c). */
bool swb_edge_app_origin_allowed(const swb_edge_app *a, const char *origin, size_t n);
const swb_edge_app *swb_edge_apps_by_id(const swb_edge_apps *t, const char *id, size_t n);
const swb_edge_app *swb_edge_apps_by_key(const swb_edge_apps *t, const char *key, size_t n);

#endif
