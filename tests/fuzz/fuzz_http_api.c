/* fuzz_http_api.c: the Pusher HTTP API request handling without the
 * transport (http_api.c): routing, query parsing and percent-decoding,
 * GET validation, the request signature check (auth_key, auth_timestamp,
 * auth_version, body_md5, auth_signature) and /events and /batch_events
 * body parsing. Input: "METHOD\nPATH\nQUERY\nBODY" (missing parts empty).
 * A second pass signs the request correctly so the checks after the
 * signature are reached too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz_app.h"
#include "http_api.h"
#include "sbuf.h"

static const char *part(const char **p, const char *end, size_t *n)
{
	const char *s = *p;
	const char *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
	*n = nl ? (size_t)(nl - s) : (size_t)(end > s ? end - s : 0);
	*p = nl ? nl + 1 : end;
	return s;
}

static void request(const swb_edge_app *app, const char *method, const char *path, size_t plen,
		    const swb_edge_query *q, const char *body, size_t blen)
{
	char err[256];
	swb_edge_api_target t;
	enum swb_edge_api_route r = swb_edge_api_match(path, plen, &t);
	const char *id;
	size_t idn;
	swb_edge_api_route(path, plen, &id, &idn);
	if (swb_edge_api_auth(app, method, path, plen, q, body, blen, 1700000000, err, sizeof(err)) != 200)
		return;
	if (r == SWB_EDGE_API_NOT_FOUND)
		return;
	if (swb_edge_api_route_is_get(r)) {
		swb_edge_api_get g;
		swb_edge_api_get_validate(&t, q, &g, err, sizeof(err));
	} else {
		swb_edge_api_publish pub;
		swb_edge_api_publish_init(&pub);
		swb_edge_api_parse_body(r, body, blen, &pub, err, sizeof(err));
		swb_edge_api_publish_fini(&pub);
	}
}

/* Replace (or add) auth_signature with the right one for app. */
static void sign(const swb_edge_app *app, const char *method, const char *path, size_t plen, swb_edge_query *q)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_edge_api_string_to_sign(method, path, plen, q, &s);
	char hex[65];
	swb_hmac_sha256_hex(app->secret, app->secret_len, s.p ? s.p : "", s.len, hex);
	swb_sbuf_free(&s);
	char kv[100];
	snprintf(kv, sizeof(kv), "auth_signature=%s", hex);
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->p[i].key, "auth_signature")) {
			free(q->p[i].val);
			q->p[i].val = strdup(hex);
			q->p[i].val_len = 64;
			return;
		}
	swb_edge_query_add(q, kv, strlen(kv), false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const swb_edge_app *app = fuzz_app();
	const char *p = (const char *)data, *end = p + size;
	size_t mn, pn, qn;
	const char *m = part(&p, end, &mn), *path = part(&p, end, &pn), *qs = part(&p, end, &qn);
	char method[16];
	snprintf(method, sizeof(method), "%.*s", (int)(mn < 15 ? mn : 15), m);
	char *pathz = strndup(path, pn); /* lws hands over NUL-terminated paths */
	swb_edge_query q;
	swb_edge_query_init(&q);
	if (swb_edge_query_parse(&q, qs, qn) == 0) {
		request(app, method, pathz, strlen(pathz), &q, p, (size_t)(end - p));
		sign(app, method, pathz, strlen(pathz), &q);
		request(app, method, pathz, strlen(pathz), &q, p, (size_t)(end - p));
	}
	swb_edge_query_fini(&q);
	free(pathz);
	char *dec = malloc(size + 1);
	swb_edge_pct_decode((const char *)data, size, dec);
	free(dec);
	unsigned mask;
	char err[128];
	swb_edge_api_info_parse((const char *)data, size, SWB_EDGE_INFO_USER_COUNT | SWB_EDGE_INFO_SUBSCRIPTION_COUNT,
				&mask, err, sizeof(err));
	return 0;
}
