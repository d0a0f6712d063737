/* origins.c: per-app allowed Origins ("allowed_origins" in the JSON apps
 * file) and the check of a WebSocket upgrade's Origin header against them.
 *
 * An entry is one of:
 *   "*"                    every origin (the same as no list at all)
 *   "https://a.example"    exactly this origin (scheme://host[:port])
 *   "a.example"            this host, any scheme and port
 *   "*.example.org"        any host under example.org (not example.org
 *                          itself), any scheme and port
 * Comparison ignores ASCII case. An upgrade without an Origin header is
 * not from a browser page and is allowed: only browsers are made to send a
 * truthful Origin, so the list protects users of other web sites, not the
 * app from arbitrary programs (those need channel authorization).
 * The strings belong to the app (apps.c frees them with
 * swb_edge_app_origins_free). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "apps.h"

#define ORIGIN_MAX 253

static bool entry_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ORIGIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ',')
			return false;
	return true;
}

int swb_edge_app_origins_json(swb_edge_app *a, const void *json, char *err, size_t errlen)
{
	const cJSON *arr = json, *v;
	if (!arr)
		return 0;
	int n = cJSON_GetArraySize(arr);
	if (!cJSON_IsArray(arr) || n > SWB_EDGE_APP_MAX_ORIGINS) {
		snprintf(err, errlen, "\"allowed_origins\" must be an array of at most %d strings", SWB_EDGE_APP_MAX_ORIGINS);
		return -1;
	}
	a->origins = calloc((size_t)n + 1, sizeof(char *));
	if (!a->origins) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(v, arr) {
		if (!cJSON_IsString(v) || !entry_valid(v->valuestring)) {
			snprintf(err, errlen, "\"allowed_origins\": each entry is an origin like \"https://a.example\", "
					      "a host, \"*.example.org\" or \"*\" (printable ASCII, at most %d bytes)", ORIGIN_MAX);
			return -1;
		}
		if (!(a->origins[a->n_origins] = strdup(v->valuestring))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		a->n_origins++;
	}
	return 0;
}

void swb_edge_app_origins_free(swb_edge_app *a)
{
	for (size_t i = 0; i < a->n_origins; i++)
		free(a->origins[i]);
	free(a->origins);
	a->origins = NULL;
	a->n_origins = 0;
}

/* The host of "scheme://host[:port]" (or of a bare host). */
static void origin_host(const char *o, size_t n, const char **h, size_t *hn)
{
	const char *sep = n >= 3 ? strstr(o, "://") : NULL;
	const char *p = (sep && sep < o + n) ? sep + 3 : o;
	const char *end = o + n, *q = p;
	if (q < end && *q == '[') { /* [v6]:port */
		while (q < end && *q != ']')
			q++;
		if (q < end)
			q++;
	} else {
		while (q < end && *q != ':' && *q != '/')
			q++;
	}
	*h = p;
	*hn = (size_t)(q - p);
}

static bool entry_matches(const char *e, const char *o, size_t n)
{
	size_t en = strlen(e);
	if (!strcmp(e, "*"))
		return true;
	if (strstr(e, "://"))
		return en == n && !strncasecmp(e, o, n);
	const char *h;
	size_t hn;
	origin_host(o, n, &h, &hn);
	if (en > 2 && e[0] == '*' && e[1] == '.') { /* ".example.org" must end the host, with a label before */
		size_t sn = en - 1;
		return hn > sn && !strncasecmp(h + hn - sn, e + 1, sn);
	}
	return en == hn && !strncasecmp(e, h, hn);
}

bool swb_edge_app_origin_allowed(const swb_edge_app *a, const char *origin, size_t n)
{
	if (!a->n_origins || !origin)
		return true;
	if (n == 0 || n > ORIGIN_MAX || memchr(origin, '\0', n))
		return false;
	for (size_t i = 0; i < a->n_origins; i++)
		if (entry_matches(a->origins[i], origin, n))
			return true;
	return false;
}
