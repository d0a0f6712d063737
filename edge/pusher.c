/* pusher.c: the Pusher protocol on one client connection: the handshake
 * (app key, protocol version, connection_established or a fatal close) and
 * every client frame (ping, subscribe, unsubscribe; errors for the rest).
 * Channel authorization (private-, presence-) and client events slot into
 * subscribe_allowed() and on_client_event() later. Owns no memory beyond
 * the duration of a call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "edge.h"
#include "frames.h"
#include "log.h"
#include "names.h"

static void send_error(swb_edge *e, swb_edge_conn *c, const char *msg, int code)
{
	swb_edge_conn_send_new(e, c, swb_edge_frame_error(LWS_PRE, msg, code));
}

/* Fatal handshake error: pusher:error with the code, then close with it. */
static void reject(swb_edge *e, swb_edge_conn *c, int code, const char *msg)
{
	swb_info("reject %s: %d %s", c->socket_id, code, msg);
	send_error(e, c, msg, code);
	swb_edge_conn_close(e, c, code, msg, false);
}

/* Parse "protocol=N" from the query; -1 missing, -2 not a number. */
static long protocol_version(struct lws *wsi)
{
	char buf[64];
	const char *v = lws_get_urlarg_by_name(wsi, "protocol=", buf, sizeof(buf));
	if (!v)
		return -1;
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || *end || n < 0)
		return -2;
	return n;
}

void swb_edge_pusher_established(swb_edge *e, swb_edge_conn *c)
{
	char uri[256];
	int n = lws_hdr_copy(c->wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
	if (n <= 5 || strncmp(uri, "/app/", 5) != 0 || memchr(uri + 5, '/', (size_t)n - 5)) {
		reject(e, c, 4005, "Path not found");
		return;
	}
	const swb_edge_app *app = swb_edge_apps_by_key(&e->apps, uri + 5, (size_t)n - 5);
	if (!app) {
		reject(e, c, 4001, "Application does not exist");
		return;
	}
	long proto = protocol_version(c->wsi);
	if (proto == -1) {
		reject(e, c, 4008, "No protocol version supplied");
		return;
	}
	if (proto < 5 || proto > 7) {
		reject(e, c, 4007, "Unsupported protocol version");
		return;
	}
	c->app = app;
	swb_debug("connected %s app %s", c->socket_id, app->id);
	swb_edge_conn_send_new(e, c, swb_edge_frame_established(LWS_PRE, c->socket_id, e->cfg.activity_timeout));
}

void swb_edge_pusher_chan_gone(void *ctx, const swb_edge_chan *ch)
{
	swb_edge *e = ctx;
	swb_edge_link_interest(e, ch->app_id, ch->app_len, ch->name, ch->name_len, false);
}

/* The data of pusher:* frames is an object, or a string holding one.
 * Returns a borrowed object (from msg) or one parsed into *owned. */
static const cJSON *data_object(const cJSON *msg, cJSON **owned)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(msg, "data");
	*owned = NULL;
	if (cJSON_IsString(d)) {
		*owned = cJSON_Parse(d->valuestring);
		d = *owned;
	}
	return cJSON_IsObject(d) ? d : NULL;
}

/* Channel name from data.channel, validated; NULL after sending an error. */
static const char *channel_arg(swb_edge *e, swb_edge_conn *c, const cJSON *d)
{
	const cJSON *ch = d ? cJSON_GetObjectItemCaseSensitive(d, "channel") : NULL;
	if (!cJSON_IsString(ch)) {
		send_error(e, c, "Invalid message format: data.channel missing", -1);
		return NULL;
	}
	size_t n = strlen(ch->valuestring);
	if (!swb_channel_name_valid(ch->valuestring, n)) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Invalid channel name '%.*s'", (int)(n > 164 ? 164 : n), ch->valuestring);
		send_error(e, c, msg, -1);
		return NULL;
	}
	return ch->valuestring;
}

/* Authorization by channel kind. Public only for now; private/presence
 * auth checks go here. Returns true, or false after sending an error. */
static bool subscribe_allowed(swb_edge *e, swb_edge_conn *c, const char *name, const cJSON *d)
{
	if (swb_channel_kind(name, strlen(name)) == SWB_CH_PUBLIC)
		return true;
	char msg[256];
	snprintf(msg, sizeof(msg), "Subscribing to channel %s is not supported yet (only public channels)", name);
	send_error(e, c, msg, -1);
	return false;
}

static void on_subscribe(swb_edge *e, swb_edge_conn *c, const cJSON *d)
{
	const char *name = channel_arg(e, c, d);
	if (!name || !subscribe_allowed(e, c, name, d))
		return;
	size_t n = strlen(name);
	bool first;
	char msg[256];
	int rc = swb_edge_chan_add(&e->chans, &c->subs, SWB_EDGE_MAX_SUBS, c->app->id, c->app->id_len, name, n,
				   &first);
	if (rc == -EEXIST) {
		snprintf(msg, sizeof(msg), "Existing subscription to channel %s", name);
		send_error(e, c, msg, -1);
		return;
	}
	if (rc == -E2BIG) {
		snprintf(msg, sizeof(msg), "Too many subscriptions on this connection (limit %d)", SWB_EDGE_MAX_SUBS);
		send_error(e, c, msg, -1);
		return;
	}
	if (rc < 0) {
		send_error(e, c, "Internal error", -1);
		return;
	}
	if (first)
		swb_edge_link_interest(e, c->app->id, c->app->id_len, name, n, true);
	static const char ev[] = "pusher_internal:subscription_succeeded";
	swb_edge_conn_send_new(e, c, swb_edge_frame_event(LWS_PRE, ev, sizeof(ev) - 1, name, n, "{}", 2, NULL, 0));
}

static void on_unsubscribe(swb_edge *e, swb_edge_conn *c, const cJSON *d)
{
	const char *name = channel_arg(e, c, d);
	if (!name)
		return;
	if (swb_edge_chan_remove(&e->chans, &c->subs, c->app->id, c->app->id_len, name, strlen(name),
				 swb_edge_pusher_chan_gone, e) < 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "No current subscription to channel %s, or subscription in progress", name);
		send_error(e, c, msg, -1);
	}
}

static void on_client_event(swb_edge *e, swb_edge_conn *c, const cJSON *msg)
{
	send_error(e, c, "Client events are not enabled yet", -1);
}

static void dispatch(swb_edge *e, swb_edge_conn *c, const cJSON *msg, const char *ev)
{
	static const char pong[] = "{\"event\":\"pusher:pong\",\"data\":{}}";
	cJSON *owned = NULL;
	if (!strcmp(ev, "pusher:ping")) {
		swb_buf *b = swb_buf_new(LWS_PRE, sizeof(pong) - 1);
		if (b) {
			memcpy(swb_buf_payload(b), pong, sizeof(pong) - 1);
			b->len = sizeof(pong) - 1;
		}
		swb_edge_conn_send_new(e, c, b);
	} else if (!strcmp(ev, "pusher:pong")) {
		/* activity only */
	} else if (!strcmp(ev, "pusher:subscribe")) {
		on_subscribe(e, c, data_object(msg, &owned));
	} else if (!strcmp(ev, "pusher:unsubscribe")) {
		on_unsubscribe(e, c, data_object(msg, &owned));
	} else if (!strncmp(ev, "client-", 7)) {
		on_client_event(e, c, msg);
	} else {
		e->st.bad_frames++;
		char m[256];
		snprintf(m, sizeof(m), "Unsupported event '%.64s'", ev);
		send_error(e, c, m, -1);
	}
	cJSON_Delete(owned);
}

void swb_edge_pusher_message(swb_edge *e, swb_edge_conn *c, const char *text, size_t n)
{
	if (!c->app || c->close_code)
		return;
	e->st.messages_in++;
	cJSON *msg = cJSON_ParseWithLength(text, n);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(msg, "event");
	if (!cJSON_IsObject(msg) || !cJSON_IsString(ev)) {
		e->st.bad_frames++;
		send_error(e, c, "Invalid message format", -1);
	} else {
		dispatch(e, c, msg, ev->valuestring);
	}
	cJSON_Delete(msg);
}
