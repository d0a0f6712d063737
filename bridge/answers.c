/* answers.c: JSON bodies, the P:ctl format and reply shape checks (see
 * answers.h). Pure functions: no loop, no Redis connection, no NNG. */
#include "answers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "names.h"
#include "state.h"

static bool json_valid(const char *v, size_t n)
{
	if (!v || n == 0)
		return false;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(v, n, &end, 0);
	if (!j)
		return false;
	cJSON_Delete(j);
	for (; end && end < v + n; end++)
		if (!strchr(" \t\r\n", *end) || !*end)
			return false;
	return true;
}

static void json_raw_or_null(swb_sbuf *s, const char *v, size_t n)
{
	if (json_valid(v, n))
		swb_sbuf_append(s, v, n);
	else
		swb_sbuf_puts(s, "null");
}

void swb_bridge_json_members(swb_sbuf *s, const swb_bridge_kv *m, size_t n)
{
	swb_sbuf_puts(s, "{\"presence\":{\"ids\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			swb_sbuf_puts(s, ",");
		swb_sbuf_json_str(s, m[i].k, m[i].klen);
	}
	swb_sbuf_puts(s, "],\"hash\":{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			swb_sbuf_puts(s, ",");
		swb_sbuf_json_str(s, m[i].k, m[i].klen);
		swb_sbuf_puts(s, ":");
		json_raw_or_null(s, m[i].v, m[i].vlen);
	}
	swb_sbuf_printf(s, "},\"count\":%zu}}", n);
}

void swb_bridge_json_member_data(swb_sbuf *s, const char *user, const char *info, size_t info_len)
{
	swb_sbuf_puts(s, "{\"user_id\":");
	swb_sbuf_json_str(s, user, strlen(user));
	if (json_valid(info, info_len)) {
		swb_sbuf_puts(s, ",\"user_info\":");
		swb_sbuf_append(s, info, info_len);
	}
	swb_sbuf_puts(s, "}");
}

void swb_bridge_json_webhook(swb_sbuf *s, const char *name, const char *chan, const char *user)
{
	swb_sbuf_puts(s, "{\"name\":");
	swb_sbuf_json_str(s, name, strlen(name));
	swb_sbuf_puts(s, ",\"channel\":");
	swb_sbuf_json_str(s, chan, strlen(chan));
	if (user && *user) {
		swb_sbuf_puts(s, ",\"user_id\":");
		swb_sbuf_json_str(s, user, strlen(user));
	}
	swb_sbuf_puts(s, "}");
}

static void counts_obj(swb_sbuf *s, long long users, long long subs)
{
	swb_sbuf_puts(s, "{");
	if (users >= 0)
		swb_sbuf_printf(s, "\"user_count\":%lld", users);
	if (subs >= 0)
		swb_sbuf_printf(s, "%s\"subscription_count\":%lld", users >= 0 ? "," : "", subs);
	swb_sbuf_puts(s, "}");
}

void swb_bridge_json_channels(swb_sbuf *s, const swb_bridge_qchan *c, size_t n)
{
	swb_sbuf_puts(s, "{\"channels\":{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			swb_sbuf_puts(s, ",");
		swb_sbuf_json_str(s, c[i].name, strlen(c[i].name));
		swb_sbuf_puts(s, ":");
		counts_obj(s, c[i].users, c[i].subs);
	}
	swb_sbuf_puts(s, "}}");
}

void swb_bridge_json_channel(swb_sbuf *s, bool occupied, long long users, long long subs, int cache_state,
			     const char *data, size_t data_len, long long ttl_s)
{
	swb_sbuf_printf(s, "{\"occupied\":%s", occupied ? "true" : "false");
	if (users >= 0)
		swb_sbuf_printf(s, ",\"user_count\":%lld", users);
	if (subs >= 0)
		swb_sbuf_printf(s, ",\"subscription_count\":%lld", subs);
	if (cache_state == 1)
		swb_sbuf_puts(s, ",\"cache\":null");
	if (cache_state == 2) {
		swb_sbuf_puts(s, ",\"cache\":{\"data\":");
		swb_sbuf_json_str(s, data ? data : "", data ? data_len : 0);
		swb_sbuf_printf(s, ",\"ttl\":%lld}", ttl_s < 0 ? 0 : ttl_s);
	}
	swb_sbuf_puts(s, "}");
}

void swb_bridge_json_users(swb_sbuf *s, const swb_bridge_kv *ids, size_t n)
{
	swb_sbuf_puts(s, "{\"users\":[");
	for (size_t i = 0; i < n; i++) {
		swb_sbuf_puts(s, i ? ",{\"id\":" : "{\"id\":");
		swb_sbuf_json_str(s, ids[i].k, ids[i].klen);
		swb_sbuf_puts(s, "}");
	}
	swb_sbuf_puts(s, "]}");
}

bool swb_bridge_is_presence(const char *chan)
{
	return !strncmp(chan, "presence-", 9);
}

bool swb_bridge_is_cache(const char *chan)
{
	static const char *const pre[] = { "cache-", "private-cache-", "private-encrypted-cache-",
					   "presence-cache-" };
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (!strncmp(chan, pre[i], strlen(pre[i])))
			return true;
	return false;
}

/* ---- P:ctl ---- */

int swb_bridge_ctl_format(char *out, size_t cap, const char *app, const char *user)
{
	int n = snprintf(out, cap, "T1\n%s\n%s", app, user);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int swb_bridge_ctl_parse(const char *p, size_t n, char *app, char *user)
{
	if (!p || n < 3 || memcmp(p, "T1\n", 3) != 0)
		return -1;
	const char *a = p + 3, *end = p + n;
	const char *nl = memchr(a, '\n', (size_t)(end - a));
	if (!nl)
		return -1;
	size_t al = (size_t)(nl - a), ul = (size_t)(end - nl - 1);
	if (!swb_app_token_valid(a, al) || al > SWB_APP_ID_MAX || !swb_bridge_user_id_valid(nl + 1, ul) ||
	    memchr(nl + 1, '\n', ul))
		return -1;
	memcpy(app, a, al);
	app[al] = '\0';
	memcpy(user, nl + 1, ul);
	user[ul] = '\0';
	return 0;
}

/* ---- reply shapes ---- */

bool swb_bridge_reply_is_str(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_STRING && (r->str || r->len == 0);
}

long swb_bridge_reply_kv(const redisReply *r, swb_bridge_kv *kv, size_t max)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2 || (r->elements && !r->element))
		return -1;
	size_t n = 0;
	for (size_t i = 0; i + 1 < r->elements && n < max; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		if (!swb_bridge_reply_is_str(k) || !swb_bridge_reply_is_str(v))
			return -1;
		kv[n++] = (swb_bridge_kv){ k->str, k->len, v->str, v->len };
	}
	return (long)n;
}

long swb_bridge_reply_strs(const redisReply *r, swb_bridge_kv *kv, size_t max)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || (r->elements && !r->element))
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < r->elements && n < max; i++) {
		if (!swb_bridge_reply_is_str(r->element[i]))
			return -1;
		kv[n++] = (swb_bridge_kv){ r->element[i]->str, r->element[i]->len, NULL, 0 };
	}
	return (long)n;
}

int swb_bridge_reply_int(const redisReply *r, long long *v)
{
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_NIL) {
		*v = 0;
		return 0;
	}
	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return 0;
	}
	if (!swb_bridge_reply_is_str(r) || r->len == 0 || r->len > 20)
		return -1;
	char buf[24], *end;
	memcpy(buf, r->str, r->len);
	buf[r->len] = '\0';
	*v = strtoll(buf, &end, 10);
	return *end ? -1 : 0;
}

static bool str_is(const redisReply *r, const char *lit)
{
	return swb_bridge_reply_is_str(r) && r->len == strlen(lit) && !memcmp(r->str, lit, r->len);
}

int swb_bridge_reply_pres_join(const redisReply *r, const redisReply **hash)
{
	*hash = NULL;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !r->element)
		return SWB_PJ_BAD;
	if (r->elements == 1 && str_is(r->element[0], "full"))
		return SWB_PJ_FULL;
	if (r->elements != 2 || !r->element[1] || r->element[1]->type != REDIS_REPLY_ARRAY)
		return SWB_PJ_BAD;
	*hash = r->element[1];
	if (str_is(r->element[0], "added"))
		return SWB_PJ_ADDED;
	if (str_is(r->element[0], "present"))
		return SWB_PJ_PRESENT;
	*hash = NULL;
	return SWB_PJ_BAD;
}

static bool cstr_ok(const redisReply *r)
{
	return swb_bridge_reply_is_str(r) && r->str && strlen(r->str) == r->len;
}

static bool transition_ok(const redisReply *const *e)
{
	if (!cstr_ok(e[0]) || !cstr_ok(e[1]) || !cstr_ok(e[2]) || !cstr_ok(e[3]))
		return false;
	bool removed = !strcmp(e[0]->str, "removed");
	if (!removed && strcmp(e[0]->str, "vacated") && strcmp(e[0]->str, "occupied"))
		return false;
	return swb_app_token_valid(e[1]->str, e[1]->len) && swb_channel_name_valid(e[2]->str, e[2]->len) &&
	       (removed ? swb_bridge_user_id_valid(e[3]->str, e[3]->len) : e[3]->len == 0);
}

long swb_bridge_reply_sweep(const redisReply *r, swb_bridge_transition *t, size_t max)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 4 || (r->elements && !r->element))
		return -1;
	size_t n = 0;
	for (size_t i = 0; i + 3 < r->elements && n < max; i += 4) {
		const redisReply *const *e = (const redisReply *const *)&r->element[i];
		if (!transition_ok(e))
			continue;
		t[n++] = (swb_bridge_transition){ e[0]->str, e[1]->str, e[2]->str, e[3]->str };
	}
	return (long)n;
}
