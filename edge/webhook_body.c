/* webhook_body.c: webhook batch bodies and signatures (webhook_body.h). */
#include "webhook_body.h"

#include <stdio.h>

#include <cjson/cJSON.h>

#include "crypto.h"

void swb_edge_webhook_body(swb_sbuf *out, uint64_t time_ms, const char *events, size_t len)
{
	swb_sbuf_printf(out, "{\"time_ms\":%llu,\"events\":[", (unsigned long long)time_ms);
	swb_sbuf_append(out, events, len);
	swb_sbuf_puts(out, "]}");
}

int swb_edge_webhook_sign(const swb_edge_app *app, const char *body, size_t len, char *out)
{
	return swb_hmac_sha256_hex(app->secret, app->secret_len, body, len, out);
}

uint32_t swb_edge_webhook_event_type(const char *json, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(json, len);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	uint32_t bit = cJSON_IsObject(o) && cJSON_IsString(name) ? swb_edge_webhook_event_bit(name->valuestring) : 0;
	cJSON_Delete(o);
	return bit;
}
