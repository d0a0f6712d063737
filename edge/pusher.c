/* pusher.c: the Pusher protocol on one client connection: the handshake
 * (app key, enabled app, connection quota, protocol version,
 * connection_established or a fatal close) and every client frame: ping,
 * subscribe (public; private and encrypted with a channel signature;
 * presence through presence.c; #server-to-user- for the signed-in user),
 * unsubscribe, pusher:signin, and client events. Owns no memory beyond the
 * duration of a call (presence.c, users.c and cache.c keep what outlives
 * it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "edge.h"
#include "frames.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

static void send_error(swb_edge *e, swb_edge_conn *c, const char *msg, int code)
{
	swb_edge_conn_send_new(e, c, swb_edge_frame_error(LWS_PRE, msg, code));
}

/* Fatal handshake error: pusher:error with the code, then close with it. */
static void reject(swb_edge *e, swb_edge_conn *c, int code, const char *msg)
{
	swb_debug("reject %s: %d %s", c->socket_id, code, msg); /* per connection: debug */
	send_error(e, c, msg, code);
	swb_edge_conn_close(e, c, code, msg, false);
}

void swb_edge_pusher_goaway(swb_edge *e, swb_edge_conn *c, int code, const char *msg)
{
	swb_debug("goaway %s: %d %s", c->socket_id, code, msg);
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

/* The upgrade's Origin header against the app's allowed_origins. */
static bool origin_ok(struct lws *wsi, const swb_edge_app *app)
{
	char origin[256];
	if (!app->n_origins || lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return true;
	int n = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
	return n > 0 && swb_edge_app_origin_allowed(app, origin, (size_t)n);
}

void swb_edge_pusher_established(swb_edge *e, swb_edge_conn *c)
{
	if (e->draining) { /* slipped in before the upgrade was refused */
		swb_edge_pusher_goaway(e, c, 4200, "Server draining: reconnect");
		return;
	}
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
	if (!origin_ok(c->wsi, app)) {
		e->st.origin_rejected++;
		reject(e, c, 4009, "Origin not allowed for this application");
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
	if (!app->enabled) {
		reject(e, c, 4003, "Application is disabled");
		return;
	}
	if (!swb_edge_app_admit(app, swb_edge_link_usage_fresh(e, app))) {
		reject(e, c, 4004, "Application is over connection quota");
		return;
	}
	c->app = app;
	((swb_edge_app *)app)->connections++; /* runtime fields; conn.c decrements */
	((swb_edge_app *)app)->accepted_since++; /* until the next AppUsage */
	((swb_edge_app *)app)->accepted_unreported++; /* until the next EdgeStats */
	swb_debug("connected %s app %s", c->socket_id, app->id);
	swb_edge_conn_send_new(e, c, swb_edge_frame_established(LWS_PRE, c->socket_id, e->cfg.activity_timeout));
}

void swb_edge_pusher_chan_gone(void *ctx, const swb_edge_chan *ch)
{
	swb_edge *e = ctx;
	swb_edge_link_interest(e, ch->app_id, ch->app_len, ch->name, ch->name_len, false, 0);
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
		e->st.bad_frames++;
		send_error(e, c, "Invalid message format: data.channel missing", -1);
		return NULL;
	}
	size_t n = strlen(ch->valuestring);
	if (!swb_channel_name_valid(ch->valuestring, n)) {
		char msg[256];
		e->st.bad_frames++;
		snprintf(msg, sizeof(msg), "Invalid channel name '%.*s'", (int)(n > 164 ? 164 : n), ch->valuestring);
		send_error(e, c, msg, -1);
		return NULL;
	}
	return ch->valuestring;
}

bool swb_edge_pusher_is_subscribed(swb_edge *e, swb_edge_conn *c, const char *name, size_t n)
{
	swb_edge_chan *ch = swb_edge_chan_find(&e->chans, c->app->id, c->app->id_len, name, n);
	for (uint32_t i = 0; ch && i < c->subs.n; i++)
		if (c->subs.v[i].chan == ch)
			return true;
	return false;
}

void swb_edge_pusher_sub_error(swb_edge *e, swb_edge_conn *c, const char *channel, const char *type,
			       const char *msg, int code, int status)
{
	static const char ev[] = "pusher:subscription_error";
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_sbuf_puts(&s, "{\"type\":");
	swb_sbuf_json_str(&s, type, strlen(type));
	swb_sbuf_puts(&s, ",\"error\":");
	swb_sbuf_json_str(&s, msg, strlen(msg));
	swb_sbuf_printf(&s, ",\"status\":%d}", status);
	send_error(e, c, msg, code);
	if (!s.oom)
		swb_edge_conn_send_new(e, c, swb_edge_frame_event(LWS_PRE, ev, sizeof(ev) - 1, channel, strlen(channel),
								    s.p, s.len, NULL, 0));
	swb_sbuf_free(&s);
}

static const char *str_member(const cJSON *d, const char *k, size_t *n)
{
	const cJSON *v = d ? cJSON_GetObjectItemCaseSensitive(d, k) : NULL;
	if (!cJSON_IsString(v))
		return NULL;
	*n = strlen(v->valuestring);
	return v->valuestring;
}

/* Check data.auth over "sid:channel[:channel_data]"; false after errors. */
static bool channel_auth_ok(swb_edge *e, swb_edge_conn *c, const char *name, const char *cd, size_t cdn,
			    const cJSON *d)
{
	size_t an = 0;
	const char *auth = str_member(d, "auth", &an);
	swb_sbuf str, msg;
	swb_sbuf_init(&str);
	swb_sbuf_init(&msg);
	swb_edge_auth_channel_string(&str, c->socket_id, name, cd, cdn);
	bool ok = !str.oom && swb_edge_auth_valid(c->app, auth, an, str.p, str.len);
	if (!ok) {
		e->st.auth_failures++;
		swb_edge_auth_error(&msg, str.p ? str.p : "", str.len, auth, an);
		swb_edge_pusher_sub_error(e, c, name, "AuthError", msg.oom ? "Invalid signature" : msg.p, -1, 401);
	}
	swb_sbuf_free(&str);
	swb_sbuf_free(&msg);
	return ok;
}

static void subscribe_presence(swb_edge *e, swb_edge_conn *c, const char *name, const cJSON *d)
{
	size_t cdn = 0;
	const char *cd = str_member(d, "channel_data", &cdn);
	char err[256], *uid, *info;
	if (!cd) {
		swb_edge_pusher_sub_error(e, c, name, "AuthError", "Missing channel_data for a presence channel", -1, 401);
		return;
	}
	if (!channel_auth_ok(e, c, name, cd, cdn, d))
		return;
	if (swb_edge_parse_channel_data(cd, cdn, &uid, &info, err, sizeof(err)) < 0) {
		swb_edge_pusher_sub_error(e, c, name, "AuthError", err, -1, 400);
		return;
	}
	static const char down[] = "Presence channels are unavailable: the server is not connected to its cluster, try again";
	int revived = swb_edge_presence_revive(c, name, uid);
	if (revived) {
		free(uid);
		free(info);
		if (revived < 0)
			send_error(e, c, "Previous subscription with another user_id still in progress, try again", -1);
	} else if (!swb_edge_link_ready(e)) {
		free(uid);
		free(info);
		e->st.presence_join_fail++;
		send_error(e, c, down, -1);
	} else if (swb_edge_presence_join(e, c, name, uid, info) < 0) { /* it freed uid, info */
		e->st.presence_join_fail++;
		send_error(e, c, down, -1);
	}
}

/* Authorization by channel kind, then the subscription (or the join). */
static void subscribe_kind(swb_edge *e, swb_edge_conn *c, const char *name, const cJSON *d)
{
	const char *uid;
	char msg[256];
	switch (swb_channel_kind(name, strlen(name))) {
	case SWB_CH_PUBLIC:
		break;
	case SWB_CH_PRIVATE:
	case SWB_CH_PRIVATE_ENCRYPTED:
		if (!channel_auth_ok(e, c, name, NULL, 0, d))
			return;
		break;
	case SWB_CH_PRESENCE:
		subscribe_presence(e, c, name, d);
		return;
	case SWB_CH_SERVER_TO_USER:
		uid = swb_edge_users_id(c);
		if (!uid || strcmp(uid, name + strlen("#server-to-user-")) != 0) {
			snprintf(msg, sizeof(msg), "Subscribing to %.164s requires being signed in as that user", name);
			swb_edge_pusher_sub_error(e, c, name, "AuthError", msg, -1, 401);
			return;
		}
		break;
	}
	swb_edge_pusher_add_sub(e, c, name, "{}", 2, false);
}

static void on_subscribe(swb_edge *e, swb_edge_conn *c, const cJSON *d)
{
	const char *name = channel_arg(e, c, d);
	char msg[256];
	if (!name)
		return;
	size_t n = strlen(name);
	if (swb_edge_pusher_is_subscribed(e, c, name, n) || swb_edge_presence_pending(c, name)) {
		snprintf(msg, sizeof(msg), "Existing subscription to channel %s", name);
		send_error(e, c, msg, -1);
		return;
	}
	if (c->subs.n + swb_edge_presence_pending_count(c) >= SWB_EDGE_MAX_SUBS) {
		e->st.subscribe_refused++;
		snprintf(msg, sizeof(msg), "Too many subscriptions on this connection (limit %d)", SWB_EDGE_MAX_SUBS);
		send_error(e, c, msg, -1);
		return;
	}
	subscribe_kind(e, c, name, d);
}

void swb_edge_pusher_succeeded(swb_edge *e, swb_edge_conn *c, const char *name, size_t n, const char *data,
			       size_t dlen)
{
	static const char ev[] = "pusher_internal:subscription_succeeded";
	swb_edge_conn_send_new(e, c, swb_edge_frame_event(LWS_PRE, ev, sizeof(ev) - 1, name, n, data, dlen, NULL, 0));
	if (swb_edge_is_cache_channel(name, n))
		swb_edge_cache_get(e, c, name);
}

int swb_edge_pusher_add_sub(swb_edge *e, swb_edge_conn *c, const char *name, const char *data, size_t dlen,
			    bool live)
{
	size_t n = strlen(name);
	bool first, waiting;
	char msg[256];
	int rc = swb_edge_chan_add(&e->chans, &c->subs, SWB_EDGE_MAX_SUBS, c->app->id, c->app->id_len, name, n,
				   !live && swb_edge_subwait_may_wait(e), &first, &waiting);
	if (rc == -EEXIST) {
		snprintf(msg, sizeof(msg), "Existing subscription to channel %s", name);
		send_error(e, c, msg, -1);
		return -1;
	}
	if (rc == -E2BIG) {
		e->st.subscribe_refused++;
		snprintf(msg, sizeof(msg), "Too many subscriptions on this connection (limit %d)", SWB_EDGE_MAX_SUBS);
		send_error(e, c, msg, -1);
		return -1;
	}
	if (rc < 0) {
		send_error(e, c, "Internal error", -1);
		return -1;
	}
	if (first)
		swb_edge_link_interest(e, c->app->id, c->app->id_len, name, n, true,
				       swb_edge_subwait_stamp(e, c->subs.v[c->subs.n - 1].chan));
	swb_edge_counts_touch(e, c->app->id, c->app->id_len, name, n);
	if (waiting) /* told when the bridge confirms the channel (sub_wait.c) */
		e->st.subscribe_waits++;
	else
		swb_edge_pusher_succeeded(e, c, name, n, data, dlen);
	return 0;
}

static void on_unsubscribe(swb_edge *e, swb_edge_conn *c, const cJSON *d)
{
	const char *name = channel_arg(e, c, d);
	if (!name)
		return;
	size_t n = strlen(name);
	bool pres = swb_edge_presence_unsubscribe(e, c, name);
	if (swb_edge_chan_remove(&e->chans, &c->subs, c->app->id, c->app->id_len, name, n,
				 swb_edge_pusher_chan_gone, e) == 0) {
		swb_edge_counts_touch(e, c->app->id, c->app->id_len, name, n);
	} else if (!pres) {
		char msg[256];
		snprintf(msg, sizeof(msg), "No current subscription to channel %s, or subscription in progress", name);
		send_error(e, c, msg, -1);
	}
}

static void signin_failed(swb_edge *e, swb_edge_conn *c, const char *msg)
{
	e->st.auth_failures++;
	send_error(e, c, msg, 4009);
	swb_edge_conn_close(e, c, 4009, "Sign-in failed", false);
}

static void signin_succeeded(swb_edge *e, swb_edge_conn *c, const char *ud, size_t udn)
{
	static const char ev[] = "pusher:signin_success";
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_sbuf_puts(&s, "{\"user_data\":");
	swb_sbuf_json_str(&s, ud, udn);
	swb_sbuf_puts(&s, "}");
	swb_edge_conn_send_new(e, c, s.oom ? NULL : swb_edge_frame_event(LWS_PRE, ev, sizeof(ev) - 1, NULL, 0, s.p, s.len, NULL, 0));
	swb_sbuf_free(&s);
}

static void on_signin(swb_edge *e, swb_edge_conn *c, const cJSON *d)
{
	size_t an = 0, udn = 0;
	const char *auth = str_member(d, "auth", &an), *ud = str_member(d, "user_data", &udn);
	char err[256], *uid = NULL;
	swb_sbuf str, msg;
	if (!ud) {
		signin_failed(e, c, "Invalid sign-in: data.user_data must be a string");
		return;
	}
	swb_sbuf_init(&str);
	swb_sbuf_init(&msg);
	swb_edge_auth_signin_string(&str, c->socket_id, ud, udn);
	if (str.oom || !swb_edge_auth_valid(c->app, auth, an, str.p, str.len)) {
		swb_edge_auth_error(&msg, str.p ? str.p : "", str.len, auth, an);
		signin_failed(e, c, msg.oom ? "Invalid signature" : msg.p);
	} else if (swb_edge_parse_user_data(ud, udn, &uid, err, sizeof(err)) < 0) {
		signin_failed(e, c, err);
	} else if (swb_edge_users_id(c)) {
		if (strcmp(swb_edge_users_id(c), uid) != 0)
			signin_failed(e, c, "Already signed in as a different user");
		else
			signin_succeeded(e, c, ud, udn);
		free(uid);
	} else if (swb_edge_users_signin(e, c, uid) < 0) {
		signin_failed(e, c, "Internal error");
	} else {
		signin_succeeded(e, c, ud, udn);
	}
	swb_sbuf_free(&str);
	swb_sbuf_free(&msg);
}

/* Client event data as the string to forward: strings unchanged, anything
 * else re-encoded as JSON text. Returns a pointer (into msg or *owned). */
static const char *client_data(const cJSON *msg, char **owned)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(msg, "data");
	*owned = NULL;
	if (!d)
		return "{}";
	if (cJSON_IsString(d))
		return d->valuestring;
	*owned = cJSON_PrintUnformatted(d);
	return *owned;
}

/* Why a client event must be refused (NULL = acceptable so far). */
static const char *client_event_refusal(swb_edge *e, swb_edge_conn *c, const char *ev, const cJSON *ch, char *buf,
					size_t buflen)
{
	if (!cJSON_IsString(ch) || !swb_channel_name_valid(ch->valuestring, strlen(ch->valuestring)))
		return "Invalid client event: missing or invalid channel";
	if (!swb_event_name_valid(ev, strlen(ev)))
		return "Invalid client event name (at most 200 characters)";
	enum swb_channel_kind k = swb_channel_kind(ch->valuestring, strlen(ch->valuestring));
	if (k == SWB_CH_PRIVATE_ENCRYPTED)
		return "Client events are not supported on encrypted channels";
	if (k != SWB_CH_PRIVATE && k != SWB_CH_PRESENCE)
		return "Client events are only supported on private and presence channels";
	if (!c->app->client_events)
		return "To send client events, you must enable this feature in the Settings page of your dashboard.";
	if (!swb_edge_pusher_is_subscribed(e, c, ch->valuestring, strlen(ch->valuestring))) {
		snprintf(buf, buflen, "Client event rejected: not subscribed to channel %s", ch->valuestring);
		return buf;
	}
	return NULL;
}

static int publish_client_event(swb_edge *e, swb_edge_conn *c, const char *ch, const char *ev, const char *data,
				const char *uid)
{
	Swb__Envelope env = SWB__ENVELOPE__INIT;
	Swb__Envelope *envs[1] = { &env };
	env.app_id = c->app->id;
	env.channel = (char *)ch;
	env.event = (char *)ev;
	env.data.data = (uint8_t *)data;
	env.data.len = strlen(data);
	env.exclude_socket_id = c->socket_id;
	env.user_id = uid ? (char *)uid : "";
	Swb__PublishRequest pr = SWB__PUBLISH_REQUEST__INIT;
	pr.request_id = swb_edge_next_request_id(e);
	pr.n_envelopes = 1;
	pr.envelopes = envs;
	pr.no_ack = true;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_PUBLISH;
	m.publish = &pr;
	return swb_edge_link_send(e, &m);
}

static void client_event_webhook(swb_edge *e, swb_edge_conn *c, const char *ch, const char *ev, const char *data,
				 const char *uid)
{
	if (!(c->app->webhook_events & SWB_EDGE_WH_CLIENT_EVENT))
		return;
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_sbuf_puts(&s, "{\"name\":\"client_event\",\"channel\":");
	swb_sbuf_json_str(&s, ch, strlen(ch));
	swb_sbuf_puts(&s, ",\"event\":");
	swb_sbuf_json_str(&s, ev, strlen(ev));
	swb_sbuf_puts(&s, ",\"data\":");
	swb_sbuf_json_str(&s, data, strlen(data));
	swb_sbuf_puts(&s, ",\"socket_id\":");
	swb_sbuf_json_str(&s, c->socket_id, strlen(c->socket_id));
	if (uid) {
		swb_sbuf_puts(&s, ",\"user_id\":");
		swb_sbuf_json_str(&s, uid, strlen(uid));
	}
	swb_sbuf_puts(&s, "}");
	if (!s.oom)
		swb_edge_webhook_event(e, c->app, s.p, s.len);
	swb_sbuf_free(&s);
}

static void on_client_event(swb_edge *e, swb_edge_conn *c, const cJSON *msg, const char *ev)
{
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(msg, "channel");
	char buf[256], *owned = NULL;
	const char *why = client_event_refusal(e, c, ev, ch, buf, sizeof(buf));
	const char *data = why ? NULL : client_data(msg, &owned);
	int code = -1;
	if (!why && !data)
		why = "Internal error";
	else if (!why && strlen(data) > SWB_EDGE_CLIENT_DATA_MAX)
		why = "Client event data too large (limit 10240 bytes)";
	else if (!why && !swb_edge_bucket_take(&c->bucket, c->app->client_event_rate, swb_mono_ms())) {
		snprintf(buf, sizeof(buf), "Client event rejected: rate limit of %u events per second exceeded",
			 c->app->client_event_rate);
		why = buf;
		code = 4301;
	}
	const char *uid = why ? NULL : swb_edge_presence_user(c, ch->valuestring);
	if (!why && publish_client_event(e, c, ch->valuestring, ev, data, uid) < 0)
		why = "Client event dropped: the server is not connected to its cluster";
	if (why) {
		e->st.client_events_rejected++;
		send_error(e, c, why, code);
	} else {
		e->st.client_events++;
		client_event_webhook(e, c, ch->valuestring, ev, data, uid);
	}
	cJSON_free(owned);
}

static void dispatch(swb_edge *e, swb_edge_conn *c, const cJSON *msg, const char *ev)
{
	static const char pong[] = "{\"event\":\"pusher:pong\",\"data\":{}}";
	cJSON *owned = NULL;
	if (!strcmp(ev, "pusher:ping")) {
		e->st.pings++;
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
	} else if (!strcmp(ev, "pusher:signin")) {
		on_signin(e, c, data_object(msg, &owned));
	} else if (!strncmp(ev, "client-", 7)) {
		on_client_event(e, c, msg, ev);
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
	e->st.bytes_in += n;
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
