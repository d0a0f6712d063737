/* auth.c: channel / sign-in authorization helpers (see auth.h). Parsed
 * strings returned to the caller are malloc'd and owned by the caller. */
#include "auth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "crypto.h"
#include "names.h"

void swb_edge_auth_channel_string(swb_sbuf *out, const char *sid, const char *channel, const char *cd,
				  size_t cd_len)
{
	swb_sbuf_puts(out, sid);
	swb_sbuf_puts(out, ":");
	swb_sbuf_puts(out, channel);
	if (cd) {
		swb_sbuf_puts(out, ":");
		swb_sbuf_append(out, cd, cd_len);
	}
}

void swb_edge_auth_signin_string(swb_sbuf *out, const char *sid, const char *ud, size_t ud_len)
{
	swb_sbuf_puts(out, sid);
	swb_sbuf_puts(out, "::user::");
	swb_sbuf_append(out, ud, ud_len);
}

bool swb_edge_auth_valid(const swb_edge_app *app, const char *auth, size_t auth_len, const char *str,
			 size_t str_len)
{
	const char *colon = auth ? memchr(auth, ':', auth_len) : NULL;
	if (!colon)
		return false;
	size_t keyn = (size_t)(colon - auth);
	char want[SWB_SHA256_HEX_LEN + 1];
	if (swb_hmac_sha256_hex(app->secret, app->secret_len, str, str_len, want) < 0)
		return false;
	bool key_ok = swb_ct_equal(auth, keyn, app->key, app->key_len);
	bool sig_ok = swb_ct_equal(colon + 1, auth_len - keyn - 1, want, SWB_SHA256_HEX_LEN);
	return key_ok && sig_ok;
}

void swb_edge_auth_error(swb_sbuf *out, const char *str, size_t str_len, const char *auth, size_t auth_len)
{
	const char *colon = auth ? memchr(auth, ':', auth_len) : NULL;
	const char *sig = colon ? colon + 1 : (auth ? auth : "");
	size_t sn = colon ? auth_len - (size_t)(colon + 1 - auth) : (auth ? auth_len : 0);
	if (sn > 128)
		sn = 128;
	if (str_len > 2048)
		str_len = 2048;
	swb_sbuf_puts(out, "Invalid signature: Expected HMAC SHA256 hex digest of ");
	swb_sbuf_append(out, str, str_len);
	swb_sbuf_puts(out, ", but got ");
	swb_sbuf_append(out, sig, sn);
}

bool swb_edge_user_id_valid(const char *s, size_t n)
{
	/* Same characters as channel names; reuse that check on the id. */
	if (n == 0 || n > SWB_EDGE_USER_ID_MAX || s[0] == '#')
		return false;
	return swb_channel_name_valid(s, n);
}

/* Canonical string for a user id given as a string or a number. */
static char *user_id_string(const cJSON *v, char *err, size_t errlen)
{
	char buf[64];
	const char *s = NULL;
	if (cJSON_IsString(v)) {
		s = v->valuestring;
	} else if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			snprintf(buf, sizeof(buf), "%lld", (long long)d);
		else
			snprintf(buf, sizeof(buf), "%.17g", d);
		s = buf;
	}
	if (!s) {
		snprintf(err, errlen, "user_id must be a string or a number");
		return NULL;
	}
	if (!swb_edge_user_id_valid(s, strlen(s))) {
		snprintf(err, errlen, "Invalid user_id: 1-%d characters of A-Z a-z 0-9 _ - = @ , . ;",
			 SWB_EDGE_USER_ID_MAX);
		return NULL;
	}
	char *out = strdup(s);
	if (!out)
		snprintf(err, errlen, "Out of memory");
	return out;
}

int swb_edge_parse_channel_data(const char *s, size_t n, char **user_id, char **user_info, char *err,
				size_t errlen)
{
	*user_id = *user_info = NULL;
	cJSON *root = s ? cJSON_ParseWithLength(s, n) : NULL;
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "Invalid channel_data: expected a JSON object");
		cJSON_Delete(root);
		return -1;
	}
	int rc = -1;
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(root, "user_info");
	if (!(*user_id = user_id_string(cJSON_GetObjectItemCaseSensitive(root, "user_id"), err, errlen)))
		goto out;
	if (info) {
		*user_info = cJSON_PrintUnformatted(info);
		if (!*user_info) {
			snprintf(err, errlen, "Out of memory");
			goto out;
		}
		if (strlen(*user_info) > SWB_EDGE_USER_INFO_MAX) {
			snprintf(err, errlen, "user_info too large (limit %d bytes)", SWB_EDGE_USER_INFO_MAX);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0) {
		free(*user_id);
		cJSON_free(*user_info);
		*user_id = *user_info = NULL;
	}
	cJSON_Delete(root);
	return rc;
}

int swb_edge_parse_user_data(const char *s, size_t n, char **user_id, char *err, size_t errlen)
{
	*user_id = NULL;
	cJSON *root = s ? cJSON_ParseWithLength(s, n) : NULL;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (!cJSON_IsObject(root) || !cJSON_IsString(id) || !id->valuestring[0]) {
		snprintf(err, errlen, "Invalid user_data: expected a JSON object with a non-empty string id");
		cJSON_Delete(root);
		return -1;
	}
	*user_id = user_id_string(id, err, errlen);
	cJSON_Delete(root);
	return *user_id ? 0 : -1;
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
	size_t pn = strlen(p);
	return n >= pn && memcmp(s, p, pn) == 0;
}

bool swb_edge_is_cache_channel(const char *name, size_t n)
{
	return has_prefix(name, n, "cache-") || has_prefix(name, n, "private-cache-") ||
	       has_prefix(name, n, "private-encrypted-cache-") || has_prefix(name, n, "presence-cache-");
}

bool swb_edge_bucket_take(swb_edge_bucket *b, uint32_t rate, uint64_t now_ms)
{
	if (rate == 0)
		return true;
	uint32_t now = (uint32_t)now_ms, elapsed = now - b->last_ms;
	uint64_t refill = (uint64_t)elapsed * rate; /* milli-events: rate per 1000 ms */
	b->debt_milli = refill >= b->debt_milli ? 0 : b->debt_milli - (uint32_t)refill;
	b->last_ms = now;
	uint64_t cap = (uint64_t)rate * 1000;
	if ((uint64_t)b->debt_milli + 1000 > cap)
		return false;
	b->debt_milli += 1000;
	return true;
}
