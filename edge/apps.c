/* apps.c: parsing and lookup of the app table (see apps.h). The table owns
 * every app entry, its strings and its webhook URLs; swb_edge_apps_fini
 * frees them. */
#include "apps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "names.h"

void swb_edge_apps_init(swb_edge_apps *t) { memset(t, 0, sizeof(*t)); }

static void app_free(swb_edge_app *a)
{
	for (size_t i = 0; i < a->n_webhooks; i++)
		free(a->webhooks[i].url);
	swb_edge_app_origins_free(a);
	free(a->id);
	free(a->key);
	free(a->secret);
	free(a);
}

void swb_edge_apps_fini(swb_edge_apps *t)
{
	swb_edge_app *a, *tmp;
	HASH_ITER(hh_id, t->by_id, a, tmp) {
		HASH_DELETE(hh_id, t->by_id, a);
		HASH_DELETE(hh_key, t->by_key, a);
		app_free(a);
	}
	while ((a = t->retired)) {
		t->retired = a->retired_next;
		app_free(a);
	}
	t->n = 0;
}

/* a takes f's configuration; f gets a's old one (and is freed later). */
static void take_config(swb_edge_app *a, swb_edge_app *f)
{
	swb_edge_app old = *a;
	a->key = f->key;
	a->key_len = f->key_len;
	a->secret = f->secret;
	a->secret_len = f->secret_len;
	a->enabled = f->enabled;
	a->client_events = f->client_events;
	a->client_event_rate = f->client_event_rate;
	a->max_connections = f->max_connections;
	a->presence_max_members = f->presence_max_members;
	memcpy(a->webhooks, f->webhooks, sizeof(a->webhooks));
	a->n_webhooks = f->n_webhooks;
	a->webhook_events = f->webhook_events;
	a->origins = f->origins;
	a->n_origins = f->n_origins;
	f->key = old.key;
	f->secret = old.secret;
	memcpy(f->webhooks, old.webhooks, sizeof(f->webhooks));
	f->n_webhooks = old.n_webhooks;
	f->origins = old.origins;
	f->n_origins = old.n_origins;
}

size_t swb_edge_apps_replace(swb_edge_apps *t, swb_edge_apps *fresh)
{
	swb_edge_app *a, *tmp, *f;
	size_t removed = 0;
	HASH_ITER(hh_id, t->by_id, a, tmp) {
		HASH_DELETE(hh_key, t->by_key, a); /* keys may move between apps */
		HASH_FIND(hh_id, fresh->by_id, a->id, a->id_len, f);
		if (f)
			continue;
		HASH_DELETE(hh_id, t->by_id, a);
		t->n--;
		a->removed = true;
		a->enabled = false;
		a->retired_next = t->retired;
		t->retired = a;
		removed++;
	}
	HASH_ITER(hh_id, t->by_id, a, tmp) {
		HASH_FIND(hh_id, fresh->by_id, a->id, a->id_len, f);
		HASH_DELETE(hh_id, fresh->by_id, f);
		HASH_DELETE(hh_key, fresh->by_key, f);
		fresh->n--;
		take_config(a, f);
		app_free(f);
		HASH_ADD_KEYPTR(hh_key, t->by_key, a->key, a->key_len, a);
	}
	HASH_ITER(hh_id, fresh->by_id, f, tmp) {
		HASH_DELETE(hh_id, fresh->by_id, f);
		HASH_DELETE(hh_key, fresh->by_key, f);
		HASH_ADD_KEYPTR(hh_id, t->by_id, f->id, f->id_len, f);
		HASH_ADD_KEYPTR(hh_key, t->by_key, f->key, f->key_len, f);
		t->n++;
	}
	fresh->n = 0;
	return removed;
}

const swb_edge_app *swb_edge_apps_by_id(const swb_edge_apps *t, const char *id, size_t n)
{
	swb_edge_app *a = NULL;
	HASH_FIND(hh_id, t->by_id, id, n, a);
	return a;
}

const swb_edge_app *swb_edge_apps_by_key(const swb_edge_apps *t, const char *key, size_t n)
{
	swb_edge_app *a = NULL;
	HASH_FIND(hh_key, t->by_key, key, n, a);
	return a;
}

static swb_edge_app *app_new(const char *id, size_t idn, const char *key, size_t keyn,
			     const char *sec, size_t secn)
{
	swb_edge_app *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->id = strndup(id, idn);
	a->key = strndup(key, keyn);
	a->secret = strndup(sec, secn);
	if (!a->id || !a->key || !a->secret) {
		free(a->id);
		free(a->key);
		free(a->secret);
		free(a);
		return NULL;
	}
	a->id_len = idn;
	a->key_len = keyn;
	a->secret_len = secn;
	a->enabled = true;
	a->client_events = true;
	a->client_event_rate = 10;
	a->presence_max_members = 100;
	return a;
}

/* Validate and insert one app; returns it (owned by t) or NULL (err set). */
static swb_edge_app *app_add(swb_edge_apps *t, const char *id, size_t idn, const char *key, size_t keyn,
			     const char *sec, size_t secn, char *err, size_t errlen)
{
	if (!swb_app_token_valid(id, idn)) {
		snprintf(err, errlen, "invalid app id '%.*s': use 1-64 of A-Z a-z 0-9 _ - .", (int)(idn > 80 ? 80 : idn), id);
		return NULL;
	}
	if (!swb_app_token_valid(key, keyn)) {
		snprintf(err, errlen, "invalid app key for app '%.*s': use 1-64 of A-Z a-z 0-9 _ - .", (int)idn, id);
		return NULL;
	}
	if (secn == 0 || memchr(sec, '\0', secn)) {
		snprintf(err, errlen, "empty or invalid secret for app '%.*s'", (int)idn, id);
		return NULL;
	}
	if (swb_edge_apps_by_id(t, id, idn)) {
		snprintf(err, errlen, "duplicate app id '%.*s'", (int)idn, id);
		return NULL;
	}
	if (swb_edge_apps_by_key(t, key, keyn)) {
		snprintf(err, errlen, "duplicate app key '%.*s'", (int)keyn, key);
		return NULL;
	}
	swb_edge_app *a = app_new(id, idn, key, keyn, sec, secn);
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	HASH_ADD_KEYPTR(hh_id, t->by_id, a->id, a->id_len, a);
	HASH_ADD_KEYPTR(hh_key, t->by_key, a->key, a->key_len, a);
	t->n++;
	return a;
}

int swb_edge_apps_add_spec(swb_edge_apps *t, const char *spec, size_t n, char *err, size_t errlen)
{
	const char *c1 = memchr(spec, ':', n);
	const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - spec)) : NULL;
	if (!c2) {
		/* Never echo the value: without its separators any part of it may be the secret. */
		snprintf(err, errlen, "invalid app (%zu bytes, not shown): expected ID:KEY:SECRET", n);
		return -1;
	}
	size_t idn = (size_t)(c1 - spec), keyn = (size_t)(c2 - c1 - 1), secn = n - (size_t)(c2 + 1 - spec);
	return app_add(t, spec, idn, c1 + 1, keyn, c2 + 1, secn, err, errlen) ? 0 : -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* The line-based format, from f. */
static int load_lines(swb_edge_apps *t, FILE *f, const char *path, char *err, size_t errlen)
{
	char line[1024];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		char *s = line;
		while (n && is_space(s[n - 1]))
			n--;
		while (n && is_space(*s)) {
			s++;
			n--;
		}
		if (n == 0 || *s == '#')
			continue;
		char sub[512];
		if (swb_edge_apps_add_spec(t, s, n, sub, sizeof(sub)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
			rc = -1;
		}
	}
	return rc;
}

#define APPS_FILE_MAX (4 * 1024 * 1024)

static int load_json_file(swb_edge_apps *t, FILE *f, const char *path, char *err, size_t errlen)
{
	char *text = malloc(APPS_FILE_MAX + 1);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t n = fread(text, 1, APPS_FILE_MAX + 1, f);
	int rc = -1;
	char sub[512];
	if (n > APPS_FILE_MAX)
		snprintf(err, errlen, "%s: file too large (limit %d bytes)", path, APPS_FILE_MAX);
	else if ((rc = swb_edge_apps_load_json(t, text, n, sub, sizeof(sub))) < 0)
		snprintf(err, errlen, "%s: %s", path, sub);
	free(text);
	return rc;
}

int swb_edge_apps_load_file(swb_edge_apps *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open apps file '%s': %s", path, strerror(errno));
		return -1;
	}
	int ch;
	while ((ch = fgetc(f)) != EOF && is_space((char)ch))
		;
	bool json = ch == '[' || ch == '{';
	rewind(f);
	int rc = json ? load_json_file(t, f, path, err, errlen) : load_lines(t, f, path, err, errlen);
	fclose(f);
	return rc;
}

uint32_t swb_edge_webhook_event_bit(const char *name)
{
	return swb_webhook_kind_bit(name);
}

static bool url_valid(const char *u)
{
	size_t n = strlen(u);
	if (n > 2048)
		return false;
	return (!strncmp(u, "http://", 7) && n > 7) || (!strncmp(u, "https://", 8) && n > 8);
}

static int add_webhook(swb_edge_app *a, const char *url, uint32_t events, char *err, size_t errlen)
{
	if (!url_valid(url)) {
		snprintf(err, errlen, "app '%s': invalid webhook url (http:// or https://, at most 2048 bytes)", a->id);
		return -1;
	}
	if (a->n_webhooks >= SWB_EDGE_APP_MAX_WEBHOOKS) {
		snprintf(err, errlen, "app '%s': too many webhooks (limit %d)", a->id, SWB_EDGE_APP_MAX_WEBHOOKS);
		return -1;
	}
	char *u = strdup(url);
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->webhooks[a->n_webhooks++] = (swb_edge_webhook_cfg){ .url = u, .events = events };
	a->webhook_events |= events;
	return 0;
}

int swb_edge_apps_add_webhook_spec(swb_edge_apps *t, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	swb_edge_app *a = NULL;
	if (eq)
		HASH_FIND(hh_id, t->by_id, spec, (size_t)(eq - spec), a);
	if (!a) {
		snprintf(err, errlen, "invalid --webhook '%.80s': expected ID=URL with a configured app ID", spec);
		return -1;
	}
	return add_webhook(a, eq + 1, SWB_EDGE_WH_ALL, err, errlen);
}

/* Optional bool / bounded unsigned members of an app object. */
static int json_bool(const cJSON *o, const char *k, bool *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v)
		return 0;
	if (!cJSON_IsBool(v)) {
		snprintf(err, errlen, "\"%s\" must be true or false", k);
		return -1;
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

static int json_uint(const cJSON *o, const char *k, uint32_t max, uint32_t *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max || v->valuedouble != (double)(uint32_t)v->valuedouble) {
		snprintf(err, errlen, "\"%s\" must be an integer from 0 to %u", k, max);
		return -1;
	}
	*out = (uint32_t)v->valuedouble;
	return 0;
}

static int json_webhooks(swb_edge_app *a, const cJSON *hooks, char *err, size_t errlen)
{
	if (!hooks)
		return 0;
	if (!cJSON_IsArray(hooks)) {
		snprintf(err, errlen, "app '%s': \"webhooks\" must be an array", a->id);
		return -1;
	}
	const cJSON *h, *ev;
	cJSON_ArrayForEach(h, hooks) {
		const cJSON *url = cJSON_GetObjectItemCaseSensitive(h, "url");
		const cJSON *evs = cJSON_GetObjectItemCaseSensitive(h, "events");
		uint32_t mask = evs ? 0 : SWB_EDGE_WH_ALL;
		if (!cJSON_IsString(url) || (evs && !cJSON_IsArray(evs))) {
			snprintf(err, errlen, "app '%s': each webhook needs a string \"url\" and an optional \"events\" array", a->id);
			return -1;
		}
		cJSON_ArrayForEach(ev, evs) {
			uint32_t bit = cJSON_IsString(ev) ? swb_edge_webhook_event_bit(ev->valuestring) : 0;
			if (!bit) {
				snprintf(err, errlen, "app '%s': unknown webhook event type", a->id);
				return -1;
			}
			mask |= bit;
		}
		if (add_webhook(a, url->valuestring, mask, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int json_app(swb_edge_apps *t, const cJSON *o, char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(o, "secret");
	char idbuf[32];
	if (cJSON_IsNumber(id)) { /* "id": 1 is a common way to write it */
		snprintf(idbuf, sizeof(idbuf), "%.0f", id->valuedouble);
	}
	const char *ids = cJSON_IsNumber(id) ? idbuf : cJSON_IsString(id) ? id->valuestring : NULL;
	if (!cJSON_IsObject(o) || !ids || !cJSON_IsString(key) || !cJSON_IsString(sec)) {
		snprintf(err, errlen, "each app needs string \"id\", \"key\" and \"secret\"");
		return -1;
	}
	swb_edge_app *a = app_add(t, ids, strlen(ids), key->valuestring, strlen(key->valuestring), sec->valuestring,
				  strlen(sec->valuestring), err, errlen);
	if (!a)
		return -1;
	char sub[256];
	if (json_bool(o, "enabled", &a->enabled, sub, sizeof(sub)) < 0 ||
	    json_bool(o, "client_events", &a->client_events, sub, sizeof(sub)) < 0 ||
	    json_uint(o, "client_event_rate", 1000000, &a->client_event_rate, sub, sizeof(sub)) < 0 ||
	    json_uint(o, "max_connections", 10000000, &a->max_connections, sub, sizeof(sub)) < 0 ||
	    json_uint(o, "presence_max_members", 1000000, &a->presence_max_members, sub, sizeof(sub)) < 0) {
		snprintf(err, errlen, "app '%s': %s", a->id, sub);
		return -1;
	}
	if (swb_edge_app_origins_json(a, cJSON_GetObjectItemCaseSensitive(o, "allowed_origins"), sub, sizeof(sub)) < 0) {
		snprintf(err, errlen, "app '%s': %s", a->id, sub);
		return -1;
	}
	return json_webhooks(a, cJSON_GetObjectItemCaseSensitive(o, "webhooks"), err, errlen);
}

int swb_edge_apps_load_json(swb_edge_apps *t, const char *text, size_t n, char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(text, n);
	const cJSON *list = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "apps") : root;
	int rc = 0;
	const cJSON *o;
	if (!cJSON_IsArray(list)) {
		snprintf(err, errlen, root ? "expected an array of apps or {\"apps\":[...]}" : "invalid JSON");
		rc = -1;
	} else {
		cJSON_ArrayForEach(o, list) {
			if ((rc = json_app(t, o, err, errlen)) < 0)
				break;
		}
	}
	cJSON_Delete(root);
	return rc;
}

bool swb_edge_app_admit(const swb_edge_app *a, bool cluster_fresh)
{
	if (!a->max_connections)
		return true;
	if (a->connections >= a->max_connections)
		return false;
	if (!cluster_fresh)
		return true;
	return (uint64_t)a->cluster_total + a->accepted_since < a->max_connections;
}
