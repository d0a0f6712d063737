/* http_api.c: transport-free Pusher HTTP API logic (see http_api.h).
 * Query parameters and publish items own their strings; the _fini
 * functions free them. */
#include "http_api.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "crypto.h"
#include "names.h"

size_t swb_edge_pct_decode(const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (in[i] == '%' && i + 2 < n && (hi = swb_hex_digit(in[i + 1])) >= 0 && (lo = swb_hex_digit(in[i + 2])) >= 0) {
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (in[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

void swb_edge_query_init(swb_edge_query *q) { memset(q, 0, sizeof(*q)); }

void swb_edge_query_fini(swb_edge_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->p[i].key);
		free(q->p[i].val);
	}
	q->n = 0;
}

const swb_edge_param *swb_edge_query_get(const swb_edge_query *q, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < q->n; i++)
		if (q->p[i].key_len == kl && memcmp(q->p[i].key, key, kl) == 0)
			return &q->p[i];
	return NULL;
}

int swb_edge_query_add(swb_edge_query *q, const char *kv, size_t n, bool decoded)
{
	if (n == 0)
		return 0;
	if (q->n >= SWB_EDGE_API_MAX_PARAMS)
		return -1;
	const char *eq = memchr(kv, '=', n);
	size_t kn = eq ? (size_t)(eq - kv) : n;
	const char *v = eq ? eq + 1 : kv + n;
	size_t vn = eq ? n - kn - 1 : 0;
	char *key = malloc(kn + 1), *val = malloc(vn + 1);
	if (!key || !val) {
		free(key);
		free(val);
		return -1;
	}
	size_t kl = decoded ? (memcpy(key, kv, kn), kn) : swb_edge_pct_decode(kv, kn, key);
	size_t vl = decoded ? (memcpy(val, v, vn), vn) : swb_edge_pct_decode(v, vn, val);
	key[kl] = '\0';
	val[vl] = '\0';
	for (size_t i = 0; i < kl; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	if (memchr(key, '\0', kl) || swb_edge_query_get(q, key)) {
		free(key);
		free(val);
		return -1;
	}
	q->p[q->n++] = (swb_edge_param){ .key = key, .val = val, .key_len = kl, .val_len = vl };
	return 0;
}

int swb_edge_query_parse(swb_edge_query *q, const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '&') {
			if (swb_edge_query_add(q, s + start, i - start, false) < 0)
				return -1;
			start = i + 1;
		}
	}
	return 0;
}

/* "/<seg>" at p: its length up to the next '/' or end. */
static size_t segment(const char *p, const char *end)
{
	const char *slash = memchr(p, '/', (size_t)(end - p));
	return (size_t)((slash ? slash : end) - p);
}

static bool rest_is(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(end - p) == n && memcmp(p, lit, n) == 0;
}

/* After "/apps/{id}": the rest of the path. */
static enum swb_edge_api_route match_rest(const char *r, const char *end, swb_edge_api_target *t)
{
	if (rest_is(r, end, "/events"))
		return SWB_EDGE_API_EVENTS;
	if (rest_is(r, end, "/batch_events"))
		return SWB_EDGE_API_BATCH_EVENTS;
	if (rest_is(r, end, "/channels"))
		return SWB_EDGE_API_CHANNELS;
	bool chans = (size_t)(end - r) > 10 && !memcmp(r, "/channels/", 10);
	bool users = (size_t)(end - r) > 7 && !memcmp(r, "/users/", 7);
	if (!chans && !users)
		return SWB_EDGE_API_NOT_FOUND;
	const char *a = r + (chans ? 10 : 7);
	size_t an = segment(a, end);
	if (an == 0)
		return SWB_EDGE_API_NOT_FOUND;
	t->arg = a;
	t->arg_len = an;
	if (chans && a + an == end)
		return SWB_EDGE_API_CHANNEL;
	if (chans && rest_is(a + an, end, "/users"))
		return SWB_EDGE_API_USERS;
	if (users && rest_is(a + an, end, "/terminate_connections"))
		return SWB_EDGE_API_TERMINATE;
	return SWB_EDGE_API_NOT_FOUND;
}

enum swb_edge_api_route swb_edge_api_match(const char *path, size_t n, swb_edge_api_target *t)
{
	static const char pre[] = "/apps/";
	memset(t, 0, sizeof(*t));
	if (n <= sizeof(pre) - 1 || memcmp(path, pre, sizeof(pre) - 1) != 0)
		return SWB_EDGE_API_NOT_FOUND;
	const char *id = path + sizeof(pre) - 1, *end = path + n;
	size_t idn = segment(id, end);
	if (idn == 0 || id + idn == end)
		return SWB_EDGE_API_NOT_FOUND;
	t->app_id = id;
	t->app_len = idn;
	t->route = match_rest(id + idn, end, t);
	return t->route;
}

enum swb_edge_api_route swb_edge_api_route(const char *path, size_t n, const char **app_id,
					   size_t *app_len)
{
	swb_edge_api_target t;
	enum swb_edge_api_route r = swb_edge_api_match(path, n, &t);
	if (r != SWB_EDGE_API_EVENTS && r != SWB_EDGE_API_BATCH_EVENTS)
		return SWB_EDGE_API_NOT_FOUND;
	*app_id = t.app_id;
	*app_len = t.app_len;
	return r;
}

bool swb_edge_api_route_is_get(enum swb_edge_api_route r)
{
	return r == SWB_EDGE_API_CHANNELS || r == SWB_EDGE_API_CHANNEL || r == SWB_EDGE_API_USERS;
}

int swb_edge_api_info_parse(const char *s, size_t n, unsigned allowed, unsigned *mask, char *err, size_t errlen)
{
	static const struct { const char *name; unsigned bit; } attrs[] = {
		{ "user_count", SWB_EDGE_INFO_USER_COUNT },
		{ "subscription_count", SWB_EDGE_INFO_SUBSCRIPTION_COUNT },
		{ "cache", SWB_EDGE_INFO_CACHE },
	};
	*mask = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		const char *a = s + start;
		size_t an = i - start, k;
		start = i + 1;
		if (an == 0)
			continue;
		for (k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++)
			if (strlen(attrs[k].name) == an && !memcmp(attrs[k].name, a, an) && (attrs[k].bit & allowed))
				break;
		if (k == sizeof(attrs) / sizeof(attrs[0])) {
			snprintf(err, errlen, "Invalid info attribute '%.*s'", (int)(an > 40 ? 40 : an), a);
			return 400;
		}
		*mask |= attrs[k].bit;
	}
	return 200;
}

static bool is_presence(const char *s) { return !strncmp(s, "presence-", 9); }

int swb_edge_api_get_validate(const swb_edge_api_target *t, const swb_edge_query *q, swb_edge_api_get *out,
			      char *err, size_t errlen)
{
	const swb_edge_param *info = swb_edge_query_get(q, "info");
	const swb_edge_param *pre = swb_edge_query_get(q, "filter_by_prefix");
	unsigned allowed = SWB_EDGE_INFO_USER_COUNT | SWB_EDGE_INFO_SUBSCRIPTION_COUNT;
	memset(out, 0, sizeof(*out));
	if (t->route != SWB_EDGE_API_CHANNELS) {
		if (!swb_channel_name_valid(t->arg, t->arg_len)) {
			snprintf(err, errlen, "Invalid channel name");
			return 400;
		}
		memcpy(out->channel, t->arg, t->arg_len);
		allowed |= t->route == SWB_EDGE_API_CHANNEL ? SWB_EDGE_INFO_CACHE : 0;
	} else if (pre) {
		if (pre->val_len > SWB_CHANNEL_NAME_MAX || (pre->val_len && !swb_channel_name_valid(pre->val, pre->val_len))) {
			snprintf(err, errlen, "Invalid filter_by_prefix");
			return 400;
		}
		memcpy(out->prefix, pre->val, pre->val_len);
	}
	if (t->route != SWB_EDGE_API_USERS && info &&
	    swb_edge_api_info_parse(info->val, info->val_len, allowed, &out->info, err, errlen) != 200)
		return 400;
	if (t->route == SWB_EDGE_API_USERS && !is_presence(out->channel)) {
		snprintf(err, errlen, "Users can only be retrieved for presence channels");
		return 400;
	}
	if ((out->info & SWB_EDGE_INFO_USER_COUNT) && t->route == SWB_EDGE_API_CHANNELS && !is_presence(out->prefix)) {
		snprintf(err, errlen, "info=user_count requires filter_by_prefix=presence-");
		return 400;
	}
	if ((out->info & SWB_EDGE_INFO_USER_COUNT) && t->route == SWB_EDGE_API_CHANNEL && !is_presence(out->channel)) {
		snprintf(err, errlen, "info=user_count is only available for presence channels");
		return 400;
	}
	return 200;
}

static int param_cmp(const void *a, const void *b)
{
	const swb_edge_param *x = *(const swb_edge_param *const *)a, *y = *(const swb_edge_param *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

void swb_edge_api_string_to_sign(const char *method, const char *path, size_t path_len,
				 const swb_edge_query *q, swb_sbuf *out)
{
	const swb_edge_param *sorted[SWB_EDGE_API_MAX_PARAMS];
	size_t n = 0;
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->p[i].key, "auth_signature") != 0)
			sorted[n++] = &q->p[i];
	qsort(sorted, n, sizeof(sorted[0]), param_cmp);
	swb_sbuf_puts(out, method);
	swb_sbuf_puts(out, "\n");
	swb_sbuf_append(out, path, path_len);
	swb_sbuf_puts(out, "\n");
	for (size_t i = 0; i < n; i++) {
		if (i)
			swb_sbuf_puts(out, "&");
		swb_sbuf_append(out, sorted[i]->key, sorted[i]->key_len);
		swb_sbuf_puts(out, "=");
		swb_sbuf_append(out, sorted[i]->val, sorted[i]->val_len);
	}
}

/* Check auth_key / auth_timestamp / auth_version / body_md5. */
static int auth_params(const swb_edge_app *app, const swb_edge_query *q, const char *body,
		       size_t body_len, int64_t now, char *err, size_t errlen)
{
	const swb_edge_param *key = swb_edge_query_get(q, "auth_key");
	const swb_edge_param *ts = swb_edge_query_get(q, "auth_timestamp");
	const swb_edge_param *ver = swb_edge_query_get(q, "auth_version");
	const swb_edge_param *md5 = swb_edge_query_get(q, "body_md5");
	if (!key || !ts || !swb_edge_query_get(q, "auth_signature")) {
		snprintf(err, errlen, "Missing auth_key, auth_timestamp or auth_signature");
		return 401;
	}
	if (!swb_ct_equal(key->val, key->val_len, app->key, app->key_len)) {
		snprintf(err, errlen, "Invalid auth_key for this app");
		return 401;
	}
	char *end;
	long long t = strtoll(ts->val, &end, 10);
	if (ts->val_len == 0 || ts->val_len > 19 || end != ts->val + ts->val_len ||
	    llabs(t - (long long)now) > SWB_EDGE_API_TS_WINDOW) {
		snprintf(err, errlen, "Timestamp expired: Given timestamp (%.20s) not within %ds of server time (%lld)",
			 ts->val, SWB_EDGE_API_TS_WINDOW, (long long)now);
		return 401;
	}
	if (ver && strcmp(ver->val, "1.0") != 0) {
		snprintf(err, errlen, "Unsupported auth_version: expected 1.0");
		return 401;
	}
	if (body_len > 0 || md5) {
		char hex[SWB_MD5_HEX_LEN + 1];
		if (swb_md5_hex(body, body_len, hex) < 0) {
			snprintf(err, errlen, "Internal error");
			return 500;
		}
		if (!md5 || !swb_ct_equal(md5->val, md5->val_len, hex, SWB_MD5_HEX_LEN)) {
			snprintf(err, errlen, "Invalid body_md5: the MD5 of the request body does not match");
			return 401;
		}
	}
	return 200;
}

int swb_edge_api_auth(const swb_edge_app *app, const char *method, const char *path,
		      size_t path_len, const swb_edge_query *q, const char *body, size_t body_len,
		      int64_t now, char *err, size_t errlen)
{
	int rc = auth_params(app, q, body, body_len, now, err, errlen);
	if (rc != 200)
		return rc;
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_edge_api_string_to_sign(method, path, path_len, q, &s);
	char want[SWB_SHA256_HEX_LEN + 1];
	if (s.oom || swb_hmac_sha256_hex(app->secret, app->secret_len, s.p, s.len, want) < 0) {
		swb_sbuf_free(&s);
		snprintf(err, errlen, "Internal error");
		return 500;
	}
	const swb_edge_param *sig = swb_edge_query_get(q, "auth_signature");
	if (!swb_ct_equal(sig->val, sig->val_len, want, SWB_SHA256_HEX_LEN)) {
		/* Pusher-style hint: the string to sign (never the secret). */
		snprintf(err, errlen, "Invalid signature: you should have sent HmacSHA256Hex(\"%.*s\", your_secret_key), but you sent \"%.64s\"",
			 (int)(s.len > 300 ? 300 : s.len), s.p, sig->val);
		swb_sbuf_free(&s);
		return 401;
	}
	swb_sbuf_free(&s);
	return 200;
}

void swb_edge_api_publish_init(swb_edge_api_publish *p) { memset(p, 0, sizeof(*p)); }

void swb_edge_api_publish_fini(swb_edge_api_publish *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].channel);
		free(p->items[i].event);
		free(p->items[i].data);
		free(p->items[i].socket_id);
	}
	free(p->items);
	memset(p, 0, sizeof(*p));
}

static int push_item(swb_edge_api_publish *p, const char *ch, const char *ev, const char *data,
		     size_t dlen, const char *sid, unsigned info)
{
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 4;
		swb_edge_api_item *v = realloc(p->items, ncap * sizeof(*v));
		if (!v)
			return -1;
		p->items = v;
		p->cap = ncap;
	}
	swb_edge_api_item *it = &p->items[p->n];
	memset(it, 0, sizeof(*it));
	it->channel = strdup(ch);
	it->event = strdup(ev);
	it->data = malloc(dlen + 1);
	it->socket_id = sid ? strdup(sid) : NULL;
	p->n++; /* counted now so _fini frees partial allocations */
	if (!it->channel || !it->event || !it->data || (sid && !it->socket_id))
		return -1;
	memcpy(it->data, data, dlen);
	it->data[dlen] = '\0';
	it->channel_len = strlen(ch);
	it->event_len = strlen(ev);
	it->data_len = dlen;
	it->info = info;
	return 0;
}

#define FAIL(code, ...) do { snprintf(err, errlen, __VA_ARGS__); rc = (code); goto out; } while (0)

/* The optional "info" of an event object: user_count, subscription_count. */
static int body_info(const cJSON *o, unsigned *mask, char *err, size_t errlen)
{
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(o, "info");
	*mask = 0;
	if (!info || cJSON_IsNull(info))
		return 200;
	if (!cJSON_IsString(info)) {
		snprintf(err, errlen, "info must be a string");
		return 400;
	}
	return swb_edge_api_info_parse(info->valuestring, strlen(info->valuestring),
				       SWB_EDGE_INFO_USER_COUNT | SWB_EDGE_INFO_SUBSCRIPTION_COUNT, mask, err, errlen);
}

/* One event object (the /events body or one batch item) into p. */
static int parse_event(const cJSON *o, bool batch, swb_edge_api_publish *p, char *err, size_t errlen)
{
	int rc = 200;
	char *printed = NULL;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
	const cJSON *chans = batch ? NULL : cJSON_GetObjectItemCaseSensitive(o, "channels");
	const cJSON *chan = cJSON_GetObjectItemCaseSensitive(o, "channel");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(o, "socket_id");
	if (!cJSON_IsObject(o))
		FAIL(400, "Each event must be a JSON object");
	if (!cJSON_IsString(name) || !swb_event_name_valid(name->valuestring, strlen(name->valuestring)))
		FAIL(400, "Missing or invalid event name (1-%d characters)", 200);
	if (!data)
		FAIL(400, "Missing data");
	const char *d = data->valuestring;
	if (!cJSON_IsString(data)) {
		if (!(printed = cJSON_PrintUnformatted(data)))
			FAIL(500, "Internal error");
		d = printed;
	}
	size_t dlen = strlen(d);
	if (dlen > SWB_EDGE_API_MAX_DATA)
		FAIL(413, "Event data too large: %zu bytes (limit %d)", dlen, SWB_EDGE_API_MAX_DATA);
	if (sid && !cJSON_IsNull(sid) &&
	    (!cJSON_IsString(sid) || !swb_socket_id_valid(sid->valuestring, strlen(sid->valuestring))))
		FAIL(400, "Invalid socket_id");
	const char *sids = cJSON_IsString(sid) ? sid->valuestring : NULL;
	unsigned mask = 0;
	if ((rc = body_info(o, &mask, err, errlen)) != 200)
		goto out;
	if (chans) {
		int nc = cJSON_GetArraySize(chans);
		if (!cJSON_IsArray(chans) || nc < 1 || nc > SWB_EDGE_API_MAX_CHANNELS)
			FAIL(400, "channels must be an array of 1 to %d channel names", SWB_EDGE_API_MAX_CHANNELS);
		const cJSON *c;
		cJSON_ArrayForEach(c, chans) {
			if (!cJSON_IsString(c) || !swb_channel_name_valid(c->valuestring, strlen(c->valuestring)))
				FAIL(400, "Invalid channel name in channels");
			if (push_item(p, c->valuestring, name->valuestring, d, dlen, sids, mask) < 0)
				FAIL(500, "Internal error");
		}
	} else if (cJSON_IsString(chan)) {
		if (!swb_channel_name_valid(chan->valuestring, strlen(chan->valuestring)))
			FAIL(400, "Invalid channel name");
		if (push_item(p, chan->valuestring, name->valuestring, d, dlen, sids, mask) < 0)
			FAIL(500, "Internal error");
	} else {
		FAIL(400, "Missing channels");
	}
out:
	cJSON_free(printed);
	return rc;
}

int swb_edge_api_parse_body(enum swb_edge_api_route route, const char *body, size_t n,
			    swb_edge_api_publish *p, char *err, size_t errlen)
{
	int rc = 200;
	if (n > SWB_EDGE_API_MAX_BODY) {
		snprintf(err, errlen, "Request body too large");
		return 413;
	}
	cJSON *root = cJSON_ParseWithLength(body, n);
	if (!cJSON_IsObject(root))
		FAIL(400, "Request body is not a JSON object");
	if (route == SWB_EDGE_API_EVENTS) {
		rc = parse_event(root, false, p, err, errlen);
		goto out;
	}
	const cJSON *batch = cJSON_GetObjectItemCaseSensitive(root, "batch");
	int nb = cJSON_GetArraySize(batch);
	if (!cJSON_IsArray(batch) || nb < 1)
		FAIL(400, "batch must be a non-empty array");
	if (nb > SWB_EDGE_API_MAX_BATCH)
		FAIL(400, "Batch too large: %d events (limit %d)", nb, SWB_EDGE_API_MAX_BATCH);
	const cJSON *it;
	cJSON_ArrayForEach(it, batch) {
		if ((rc = parse_event(it, true, p, err, errlen)) != 200)
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}
