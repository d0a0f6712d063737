/* http.c: HTTP transactions on the shared port: collecting the request
 * (method, path, query, bounded body), routing to /healthz, /readyz,
 * /metrics and the Pusher API (http_api.c): publishes wait for the
 * bridge's PublishAck (then, with `info`, for a CHANNEL_INFO QueryResult),
 * GET channel queries for a QueryResult, terminate_connections is sent to
 * the bridge and answered at once. Each swb_edge_http is owned by its lws
 * pss from LWS_CALLBACK_HTTP until the response is written or the client
 * goes away; while waiting it is also listed in swb_edge.pending (removed
 * on free, so a late answer finds nothing); a publish with `info` keeps its
 * parsed items (pub) until answered. */
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

struct swb_edge_http {
	struct lws *wsi;
	swb_edge_pss *pss;
	bool is_post;
	char path[256];
	size_t path_len;
	enum swb_edge_api_route route;
	swb_edge_api_target target;   /* points into path */
	const swb_edge_app *app;
	bool dispatched;              /* handled without a body */
	swb_edge_api_publish pub;     /* kept for `info` until the answer */
	bool want_info, waiting_query;
	swb_edge_query q;
	swb_sbuf body;
	bool body_too_big;
	bool reading_body;            /* a body is due; its deadline timer runs */
	/* response */
	int status;
	const char *content_type;    /* NULL = application/json */
	swb_sbuf resp;               /* LWS_PRE zero bytes, then the JSON body */
	bool resp_ready, headers_sent, close_after;
	/* waiting for a PublishAck */
	uint64_t request_id;
	uint64_t deadline_ms;
	bool pending;
	UT_hash_handle hh;
};

static void http_free(swb_edge *e, swb_edge_http *h)
{
	if (h->pending)
		HASH_DEL(e->pending, h);
	swb_edge_query_fini(&h->q);
	swb_edge_api_publish_fini(&h->pub);
	swb_sbuf_free(&h->body);
	swb_sbuf_free(&h->resp);
	if (h->pss)
		h->pss->http = NULL;
	free(h);
}

static void respond_raw(swb_edge_http *h, int status, const char *json)
{
	static const unsigned char pre[LWS_PRE];
	if (h->resp_ready)
		return;
	h->status = status;
	swb_sbuf_append(&h->resp, pre, sizeof(pre));
	swb_sbuf_puts(&h->resp, json);
	h->resp_ready = true;
	lws_callback_on_writable(h->wsi);
}

/* Refusals of the client's request, for /metrics (401 and 408 count apart). */
static void count_refusal(swb_edge_http *h, int status)
{
	swb_edge *e = lws_context_user(lws_get_context(h->wsi));
	if (status >= 400 && status < 500 && status != 401 && status != 408)
		e->st.api_bad_requests++; /* 401: metrics.c counts them (api_auth_failures) */
}

static void respond_error(swb_edge_http *h, int status, const char *msg)
{
	count_refusal(h, status);
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_sbuf_puts(&s, "{\"error\":");
	swb_sbuf_json_str(&s, msg, strlen(msg));
	swb_sbuf_puts(&s, "}");
	respond_raw(h, status, s.oom ? "{\"error\":\"internal\"}" : s.p);
	swb_sbuf_free(&s);
}

static bool header_method(struct lws *wsi, enum lws_token_indexes t)
{
	return lws_hdr_total_length(wsi, t) > 0;
}

/* Collect the query arguments (lws has already percent-decoded each one).
 * Returns -1 on too many or duplicate parameters. */
static int read_query(swb_edge_http *h)
{
	char frag[1024];
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(h->wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			return 0;
		if (swb_edge_query_add(&h->q, frag, (size_t)n, true) < 0)
			return -1;
	}
}

static long content_length(struct lws *wsi)
{
	char buf[32];
	if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return -1;
	char *end;
	long n = strtol(buf, &end, 10);
	return (*end || n < 0) ? -2 : n;
}

static void wait_answer(swb_edge *e, swb_edge_http *h, uint64_t request_id)
{
	if (h->pending)
		HASH_DEL(e->pending, h);
	h->request_id = request_id;
	h->deadline_ms = swb_mono_ms() + SWB_EDGE_ACK_TIMEOUT_MS;
	h->pending = true;
	HASH_ADD(hh, e->pending, request_id, sizeof(h->request_id), h);
}

static bool any_info(const swb_edge_api_publish *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->items[i].info)
			return true;
	return false;
}

/* POST events / batch_events after authentication. */
static void api_publish(swb_edge *e, swb_edge_http *h)
{
	char err[512];
	int rc = swb_edge_api_parse_body(h->route, h->body.p ? h->body.p : "", h->body.len, &h->pub, err, sizeof(err));
	if (rc != 200) {
		respond_error(h, rc, err);
	} else if (!swb_edge_link_up(e)) {
		e->st.publish_fail++;
		respond_error(h, 503, "Bridge not connected");
	} else {
		uint64_t id = swb_edge_next_request_id(e);
		if (swb_edge_link_publish(e, id, h->app->id, &h->pub) < 0) {
			e->st.publish_fail++;
			respond_error(h, 503, "Could not send to the bridge");
		} else {
			e->st.publishes++;
			h->want_info = any_info(&h->pub);
			wait_answer(e, h, id);
		}
	}
	if (!h->want_info)
		swb_edge_api_publish_fini(&h->pub);
}

static void api_terminate(swb_edge *e, swb_edge_http *h)
{
	char uid[SWB_EDGE_USER_ID_MAX + 1];
	const swb_edge_api_target *t = &h->target;
	if (!swb_edge_user_id_valid(t->arg, t->arg_len)) {
		respond_error(h, 400, "Invalid user id");
		return;
	}
	memcpy(uid, t->arg, t->arg_len);
	uid[t->arg_len] = '\0';
	Swb__TerminateUser tu = SWB__TERMINATE_USER__INIT;
	tu.app_id = h->app->id;
	tu.user_id = uid;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_TERMINATE;
	m.terminate = &tu;
	if (swb_edge_link_send(e, &m) < 0) {
		respond_error(h, 503, "Bridge not connected");
		return;
	}
	swb_edge_users_terminate(e, h->app->id, uid); /* at once here; the bridge tells the other edges */
	respond_raw(h, 200, "{}");
}

static int send_query(swb_edge *e, uint64_t id, const char *app, Swb__Query__Kind kind, char **chans, size_t n,
		      const char *prefix, unsigned info)
{
	Swb__Query q = SWB__QUERY__INIT;
	q.request_id = id;
	q.app_id = (char *)app;
	q.kind = kind;
	q.channels = chans;
	q.n_channels = n;
	q.prefix = (char *)prefix;
	q.user_count = (info & SWB_EDGE_INFO_USER_COUNT) != 0;
	q.subscription_count = (info & SWB_EDGE_INFO_SUBSCRIPTION_COUNT) != 0;
	q.cache = (info & SWB_EDGE_INFO_CACHE) != 0;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_QUERY;
	m.query = &q;
	return swb_edge_link_send(e, &m);
}

/* GET channels / channel / users, after authentication. */
static void api_get(swb_edge *e, swb_edge_http *h)
{
	char err[256];
	swb_edge_api_get g;
	if (swb_edge_api_get_validate(&h->target, &h->q, &g, err, sizeof(err)) != 200) {
		respond_error(h, 400, err);
		return;
	}
	Swb__Query__Kind kind = h->route == SWB_EDGE_API_CHANNELS ? SWB__QUERY__KIND__CHANNELS
			      : h->route == SWB_EDGE_API_CHANNEL ? SWB__QUERY__KIND__CHANNEL : SWB__QUERY__KIND__USERS;
	char *chans[1] = { g.channel };
	uint64_t id = swb_edge_next_request_id(e);
	if (send_query(e, id, h->app->id, kind, chans, kind == SWB__QUERY__KIND__CHANNELS ? 0 : 1, g.prefix, g.info) < 0) {
		respond_error(h, 503, "Bridge not connected");
		return;
	}
	h->waiting_query = true;
	wait_answer(e, h, id);
}

/* Authenticate, then hand over by route. */
static void api_request(swb_edge *e, swb_edge_http *h)
{
	char err[512];
	if (h->body_too_big) {
		respond_error(h, 413, "Request body too large");
		return;
	}
	int rc = swb_edge_api_auth(h->app, h->is_post ? "POST" : "GET", h->path, h->path_len, &h->q,
				   h->body.p ? h->body.p : "", h->body.len, swb_wall_s(), err, sizeof(err));
	if (rc != 200)
		respond_error(h, rc, err);
	else if (!h->app->enabled)
		respond_error(h, 403, "Application is disabled");
	else if (h->route == SWB_EDGE_API_TERMINATE)
		api_terminate(e, h);
	else if (swb_edge_api_route_is_get(h->route))
		api_get(e, h);
	else
		api_publish(e, h);
}

/* Prometheus text format, this edge's counters only. */
static void respond_metrics(swb_edge *e, swb_edge_http *h)
{
	static const unsigned char pre[LWS_PRE];
	swb_sbuf_append(&h->resp, pre, sizeof(pre));
	swb_edge_metrics_render(e, &h->resp); /* metrics.c */
	h->status = 200;
	h->content_type = "text/plain; version=0.0.4";
	h->resp_ready = true;
	lws_callback_on_writable(h->wsi);
}

static void route_request(swb_edge *e, swb_edge_http *h)
{
	if (!h->is_post && h->path_len == 8 && !memcmp(h->path, "/healthz", 8)) {
		respond_raw(h, 200, "{\"ok\":true}");
		return;
	}
	if (!h->is_post && h->path_len == 7 && !memcmp(h->path, "/readyz", 7)) {
		bool link = swb_edge_link_ready(e), up = swb_edge_link_bridge_ready(e, NULL);
		bool draining = e->draining || e->stopping, ok = link && up && !draining;
		const char *state = ok ? "\"ok\":true,\"bridge\":true,\"redis\":true"
				  : link ? (up ? "\"ok\":false,\"bridge\":true,\"redis\":true"
					       : "\"ok\":false,\"bridge\":true,\"redis\":false")
					 : "\"ok\":false,\"bridge\":false";
		char body[128];
		snprintf(body, sizeof(body), "{%s%s}", state, draining ? ",\"draining\":true" : "");
		respond_raw(h, ok ? 200 : 503, body);
		return;
	}
	if (!h->is_post && h->path_len == 8 && !memcmp(h->path, "/metrics", 8)) {
		respond_metrics(e, h);
		return;
	}
	h->route = swb_edge_api_match(h->path, h->path_len, &h->target);
	bool get = swb_edge_api_route_is_get(h->route);
	if (h->route == SWB_EDGE_API_NOT_FOUND) {
		respond_error(h, 404, "Not found");
	} else if (!(h->app = swb_edge_apps_by_id(&e->apps, h->target.app_id, h->target.app_len))) {
		respond_error(h, 404, "Unknown app id");
	} else if (h->is_post == get) {
		respond_error(h, 405, get ? "Method not allowed: use GET" : "Method not allowed: use POST");
	} else if (get) {
		h->dispatched = true;
		api_request(e, h);
	}
}

static int on_http(swb_edge *e, struct lws *wsi, swb_edge_pss *pss, const char *in)
{
	if (pss->http)
		http_free(e, pss->http);
	swb_edge_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -1;
	h->wsi = wsi;
	h->pss = pss;
	pss->http = h;
	h->is_post = header_method(wsi, WSI_TOKEN_POST_URI);
	size_t n = in ? strnlen(in, sizeof(h->path)) : 0;
	if (n >= sizeof(h->path)) {
		h->close_after = true;
		respond_error(h, 404, "Not found");
		return 0;
	}
	memcpy(h->path, in, n);
	h->path_len = n;
	if (read_query(h) < 0) {
		h->close_after = true;
		respond_error(h, 400, "Invalid query string: duplicate or too many parameters");
		return 0;
	}
	route_request(e, h);
	if (h->resp_ready || h->dispatched) {
		h->close_after = h->is_post; /* do not read an unwanted body */
		return 0;
	}
	long cl = content_length(wsi);
	if (cl > SWB_EDGE_API_MAX_BODY || cl == -2) {
		h->close_after = true;
		respond_error(h, cl == -2 ? 400 : 413, cl == -2 ? "Bad Content-Length" : "Request body too large");
		return 0;
	}
	if (cl == -1 && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		h->close_after = true;
		respond_error(h, 411, "Length Required: chunked request bodies are not accepted");
		return 0;
	}
	if (cl <= 0) {
		api_request(e, h); /* no body will follow */
	} else {
		/* lws restarts its own timeout at every piece of the body, so a
		 * body sent a byte at a time would never end: one deadline. */
		h->reading_body = true;
		lws_set_timer_usecs(wsi, (lws_usec_t)e->cfg.handshake_timeout * LWS_US_PER_SEC);
	}
	return 0;
}

int swb_edge_http_deadline(swb_edge *e, swb_edge_pss *pss)
{
	swb_edge_http *h = pss->http;
	if (!h || !h->reading_body || h->resp_ready)
		return 0;
	char msg[96];
	e->st.http_timeouts++;
	snprintf(msg, sizeof(msg), "Request body not received within %ld s", e->cfg.handshake_timeout);
	swb_info("HTTP %.*s: %s, closing", (int)h->path_len, h->path, msg);
	h->reading_body = false;
	h->close_after = true;
	respond_error(h, 408, msg);
	return 0;
}

static void on_body(swb_edge_http *h, const void *in, size_t len)
{
	if (h->resp_ready || h->body_too_big)
		return;
	if (h->body.len + len > SWB_EDGE_API_MAX_BODY) {
		h->body_too_big = true;
		swb_sbuf_free(&h->body);
		return;
	}
	swb_sbuf_append(&h->body, in, len);
}

static int on_writeable(swb_edge *e, swb_edge_http *h)
{
	if (!h->resp_ready)
		return 0;
	if (h->resp.oom)
		return -1;
	size_t blen = h->resp.len - LWS_PRE;
	if (!h->headers_sent) {
		unsigned char hb[LWS_PRE + 512], *start = hb + LWS_PRE, *p = start, *end = hb + sizeof(hb) - 1;
		if (lws_add_http_common_headers(h->wsi, (unsigned)h->status,
						h->content_type ? h->content_type : "application/json", blen, &p, end) ||
		    (h->close_after &&
		     lws_add_http_header_by_token(h->wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p, end)) ||
		    lws_finalize_write_http_header(h->wsi, start, &p, end))
			return -1;
		h->headers_sent = true;
		swb_edge_metrics_http(e, h->status);
		lws_callback_on_writable(h->wsi);
		return 0;
	}
	if (lws_write(h->wsi, (unsigned char *)h->resp.p + LWS_PRE, blen, LWS_WRITE_HTTP_FINAL) < 0)
		return -1;
	bool close_after = h->close_after;
	struct lws *wsi = h->wsi;
	http_free(e, h);
	if (close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int swb_edge_http_callback(swb_edge *e, struct lws *wsi, int reason, swb_edge_pss *pss, void *in, size_t len)
{
	swb_edge_http *h = pss ? pss->http : NULL;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(e, wsi, pss, in);
	case LWS_CALLBACK_HTTP_BODY:
		if (h)
			on_body(h, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (h && h->reading_body) {
			h->reading_body = false;
			lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
		}
		if (h && !h->resp_ready && !h->dispatched && h->app)
			api_request(e, h);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return h ? on_writeable(e, h) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (h)
			http_free(e, h);
		return 0;
	}
	return 0;
}

/* After the publish: one CHANNEL_INFO query for every channel of the call. */
static void query_info(swb_edge *e, swb_edge_http *h)
{
	char **chans = calloc(h->pub.n, sizeof(*chans));
	unsigned info = 0;
	size_t n = 0;
	for (size_t i = 0; chans && i < h->pub.n; i++) {
		info |= h->pub.items[i].info;
		if (h->pub.items[i].info)
			chans[n++] = h->pub.items[i].channel;
	}
	uint64_t id = swb_edge_next_request_id(e);
	if (!chans || send_query(e, id, h->app->id, SWB__QUERY__KIND__CHANNEL_INFO, chans, n, "", info) < 0) {
		respond_raw(h, 200, "{}"); /* published; the info is best effort */
	} else {
		h->waiting_query = true;
		wait_answer(e, h, id);
	}
	free(chans);
}

void swb_edge_http_on_ack(swb_edge *e, uint64_t request_id, bool ok, const char *error)
{
	swb_edge_http *h = NULL;
	HASH_FIND(hh, e->pending, &request_id, sizeof(request_id), h);
	if (!h) {
		swb_debug("ack for unknown request %llu", (unsigned long long)request_id);
		return;
	}
	if (h->waiting_query)
		return;
	HASH_DEL(e->pending, h);
	h->pending = false;
	if (ok && h->want_info) {
		query_info(e, h);
	} else if (ok) {
		respond_raw(h, 200, "{}");
	} else {
		e->st.publish_fail++;
		respond_error(h, 503, error && *error ? error : "Publish failed");
	}
}

void swb_edge_http_fail_pending(swb_edge *e, int status, const char *msg)
{
	swb_edge_http *h, *tmp;
	HASH_ITER(hh, e->pending, h, tmp) {
		HASH_DEL(e->pending, h);
		h->pending = false;
		if (h->want_info && h->waiting_query) {
			respond_raw(h, 200, "{}"); /* published; only the info is lost */
			continue;
		}
		e->st.publish_fail++;
		respond_error(h, status, msg);
	}
}

void swb_edge_http_tick(swb_edge *e, uint64_t now)
{
	swb_edge_http *h, *tmp;
	HASH_ITER(hh, e->pending, h, tmp) {
		if (now < h->deadline_ms)
			continue;
		HASH_DEL(e->pending, h);
		h->pending = false;
		e->st.publish_fail++;
		swb_info("request %llu: no answer from the bridge within %d ms", (unsigned long long)h->request_id,
			 SWB_EDGE_ACK_TIMEOUT_MS);
		if (h->want_info && h->waiting_query)
			respond_raw(h, 200, "{}"); /* published; only the info is missing */
		else
			respond_error(h, 504, "Timed out waiting for the bridge");
	}
}

/* One channel's requested attributes from the bridge's entry (if any). */
static void info_object(swb_sbuf *s, const cJSON *entry, const char *channel, unsigned info)
{
	const cJSON *uc = cJSON_GetObjectItemCaseSensitive(entry, "user_count");
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(entry, "subscription_count");
	bool comma = false;
	swb_sbuf_puts(s, "{");
	if ((info & SWB_EDGE_INFO_USER_COUNT) && !strncmp(channel, "presence-", 9)) {
		swb_sbuf_printf(s, "\"user_count\":%.0f", cJSON_IsNumber(uc) ? uc->valuedouble : 0.0);
		comma = true;
	}
	if (info & SWB_EDGE_INFO_SUBSCRIPTION_COUNT)
		swb_sbuf_printf(s, "%s\"subscription_count\":%.0f", comma ? "," : "",
				cJSON_IsNumber(sc) ? sc->valuedouble : 0.0);
	swb_sbuf_puts(s, "}");
}

/* {"channels":{...}} for events, {"batch":[...]} for batch_events. */
static void respond_info(swb_edge_http *h, const char *json, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *chans = cJSON_GetObjectItemCaseSensitive(root, "channels");
	swb_sbuf s;
	swb_sbuf_init(&s);
	bool batch = h->route == SWB_EDGE_API_BATCH_EVENTS;
	swb_sbuf_puts(&s, batch ? "{\"batch\":[" : "{\"channels\":{");
	for (size_t i = 0; i < h->pub.n; i++) {
		const swb_edge_api_item *it = &h->pub.items[i];
		if (i)
			swb_sbuf_puts(&s, ",");
		if (!batch) {
			swb_sbuf_json_str(&s, it->channel, it->channel_len);
			swb_sbuf_puts(&s, ":");
		}
		info_object(&s, cJSON_GetObjectItemCaseSensitive(chans, it->channel), it->channel, it->info);
	}
	swb_sbuf_puts(&s, batch ? "]}" : "}}");
	respond_raw(h, 200, s.oom ? "{}" : s.p);
	swb_sbuf_free(&s);
	cJSON_Delete(root);
}

void swb_edge_http_on_query(swb_edge *e, uint64_t request_id, bool ok, const char *error, uint32_t status,
			    const uint8_t *json, size_t len)
{
	swb_edge_http *h = NULL;
	HASH_FIND(hh, e->pending, &request_id, sizeof(request_id), h);
	if (!h || !h->waiting_query)
		return;
	HASH_DEL(e->pending, h);
	h->pending = false;
	bool body_ok = len > 0 && len < SWB_EDGE_API_MAX_BODY * 4 && swb_edge_utf8_valid(json, len) &&
		       !memchr(json, '\0', len);
	if (h->want_info) {
		if (ok && body_ok)
			respond_info(h, (const char *)json, len);
		else
			respond_raw(h, 200, "{}"); /* the publish itself succeeded */
		return;
	}
	if (!ok) {
		respond_error(h, 503, error && *error ? error : "Query failed");
		return;
	}
	if (!body_ok || status < 200 || status > 599) {
		respond_error(h, status == 400 ? 400 : 502, error && *error ? error : "Bad answer from the bridge");
		return;
	}
	char *body = strndup((const char *)json, len);
	if (body)
		respond_raw(h, (int)status, body);
	else
		respond_error(h, 500, "Out of memory");
	free(body);
}

uint32_t swb_edge_http_waiting(const swb_edge *e) { return HASH_COUNT(e->pending); }
