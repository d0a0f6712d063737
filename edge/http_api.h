/* http_api.h: the Pusher HTTP API without the transport: routing, query
 * parsing and percent-decoding, request authentication (§7.1), parsing
 * of /events and /batch_events bodies (with `info`), and validation of the
 * GET channel queries (§7.2). Pure functions (no lws, clock
 * passed in), unit-testable. Results are HTTP status codes. */
#ifndef SWB_EDGE_HTTP_API_H
#define SWB_EDGE_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps.h"
#include "sbuf.h"

#define SWB_EDGE_API_MAX_PARAMS 32
#define SWB_EDGE_API_MAX_BODY (256 * 1024)
#define SWB_EDGE_API_MAX_DATA 10240
#define SWB_EDGE_API_MAX_CHANNELS 100
#define SWB_EDGE_API_MAX_BATCH 10
#define SWB_EDGE_API_TS_WINDOW 600

enum swb_edge_api_route {
	SWB_EDGE_API_NOT_FOUND = 0,
	SWB_EDGE_API_EVENTS,
	SWB_EDGE_API_BATCH_EVENTS,
	SWB_EDGE_API_CHANNELS,        /* GET /apps/{id}/channels */
	SWB_EDGE_API_CHANNEL,         /* GET /apps/{id}/channels/{name} */
	SWB_EDGE_API_USERS,           /* GET /apps/{id}/channels/{name}/users */
	SWB_EDGE_API_TERMINATE,       /* POST /apps/{id}/users/{user}/terminate_connections */
};

/* `info` attributes. */
#define SWB_EDGE_INFO_USER_COUNT 1u
#define SWB_EDGE_INFO_SUBSCRIPTION_COUNT 2u
#define SWB_EDGE_INFO_CACHE 4u

/* A routed path: the app id and the {name} / {user} segment, pointing
 * into the path. */
typedef struct swb_edge_api_target {
	enum swb_edge_api_route route;
	const char *app_id, *arg;
	size_t app_len, arg_len;
} swb_edge_api_target;

/* A validated GET query. */
typedef struct swb_edge_api_get {
	char channel[165];            /* CHANNEL, USERS */
	char prefix[165];             /* CHANNELS: filter_by_prefix, may be "" */
	unsigned info;                /* SWB_EDGE_INFO_* */
} swb_edge_api_get;

typedef struct swb_edge_param {
	char *key, *val;              /* owned; key lower-cased, both decoded */
	size_t key_len, val_len;
} swb_edge_param;

typedef struct swb_edge_query {
	swb_edge_param p[SWB_EDGE_API_MAX_PARAMS];
	size_t n;
} swb_edge_query;

/* One envelope to publish: one (channel, event) pair. Strings owned. */
typedef struct swb_edge_api_item {
	char *channel, *event, *data, *socket_id; /* socket_id may be NULL */
	size_t channel_len, event_len, data_len;
	unsigned info;                /* SWB_EDGE_INFO_* asked for this item */
} swb_edge_api_item;

typedef struct swb_edge_api_publish {
	swb_edge_api_item *items;     /* owned */
	size_t n, cap;
} swb_edge_api_publish;

/* Decode %XX (and '+' as space) from in[0..n) into out (room for n bytes);
 * a malformed escape is copied literally. Returns the output length. */
size_t swb_edge_pct_decode(const char *in, size_t n, char *out);

void swb_edge_query_init(swb_edge_query *q);
void swb_edge_query_fini(swb_edge_query *q);
/* Add one raw "k=v" (percent-encoded) pair; decoded=true when the value
 * is already decoded (e.g. by the HTTP library). Returns 0, or -1 when
 * there are too many parameters or a duplicate key. */
int swb_edge_query_add(swb_edge_query *q, const char *kv, size_t n, bool decoded);
/* Parse a raw query string "a=b&c=d" (no leading '?'). 0 or -1. */
int swb_edge_query_parse(swb_edge_query *q, const char *s, size_t n);
const swb_edge_param *swb_edge_query_get(const swb_edge_query *q, const char *key);

/* Match /apps/{id}/events or /apps/{id}/batch_events; sets *app_id. */
enum swb_edge_api_route swb_edge_api_route(const char *path, size_t n, const char **app_id,
					   size_t *app_len);

/* Every route, with its {name}/{user} argument (not validated here). */
enum swb_edge_api_route swb_edge_api_match(const char *path, size_t n, swb_edge_api_target *t);
/* True for the routes served with GET (the others are POST). */
bool swb_edge_api_route_is_get(enum swb_edge_api_route r);
/* Parse a comma-separated `info` value; attributes outside `allowed` are
 * a 400. Returns 200 or 400 (err set). */
int swb_edge_api_info_parse(const char *s, size_t n, unsigned allowed, unsigned *mask, char *err, size_t errlen);
/* Validate a GET's {name} and query parameters into out: channel name,
 * info attributes, user_count only for presence (CHANNELS: only with a
 * filter_by_prefix starting with presence-), USERS only for presence.
 * Returns 200 or 400 (err set). */
int swb_edge_api_get_validate(const swb_edge_api_target *t, const swb_edge_query *q, swb_edge_api_get *out,
			      char *err, size_t errlen);

/* "METHOD\nPATH\nk=v&..." (sorted, without auth_signature) into out. */
void swb_edge_api_string_to_sign(const char *method, const char *path, size_t path_len,
				 const swb_edge_query *q, swb_sbuf *out);

/* Authenticate a request for app at wall-clock time now. Returns 200, or
 * 401 / 400 with a message in err. */
int swb_edge_api_auth(const swb_edge_app *app, const char *method, const char *path,
		      size_t path_len, const swb_edge_query *q, const char *body, size_t body_len,
		      int64_t now, char *err, size_t errlen);

void swb_edge_api_publish_init(swb_edge_api_publish *p);
void swb_edge_api_publish_fini(swb_edge_api_publish *p);
/* Parse a JSON body for route into p. Returns 200, 400 or 413 (err set). */
int swb_edge_api_parse_body(enum swb_edge_api_route route, const char *body, size_t n,
			    swb_edge_api_publish *p, char *err, size_t errlen);

#endif
