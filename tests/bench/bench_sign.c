/* bench_sign.c: signed Pusher HTTP API publishes (see bench_sign.h). */
#include "bench_sign.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"

size_t swb_bench_sign_query(char *out, size_t cap, const char *path, const char *key, const char *secret,
			    int64_t timestamp, const void *body, size_t body_len)
{
	char md5[SWB_MD5_HEX_LEN + 1], sig[SWB_SHA256_HEX_LEN + 1];
	if (swb_md5_hex(body, body_len, md5) < 0)
		return 0;
	/* already in sorted key order: auth_key < auth_timestamp < auth_version < body_md5 */
	char tosign[1024];
	int n = snprintf(tosign, sizeof(tosign),
			 "POST\n%s\nauth_key=%s&auth_timestamp=%lld&auth_version=1.0&body_md5=%s", path, key,
			 (long long)timestamp, md5);
	if (n < 0 || (size_t)n >= sizeof(tosign))
		return 0;
	if (swb_hmac_sha256_hex(secret, strlen(secret), tosign, (size_t)n, sig) < 0)
		return 0;
	const char *query = strchr(strchr(tosign, '\n') + 1, '\n') + 1;
	int m = snprintf(out, cap, "%s&auth_signature=%s", query, sig);
	if (m < 0 || (size_t)m >= cap)
		return 0;
	return (size_t)m;
}

size_t swb_bench_publish_request(char *out, size_t cap, const char *host, const char *app_id, const char *key,
				 const char *secret, int64_t timestamp, const char *body, size_t body_len)
{
	char path[300], query[512];
	int pl = snprintf(path, sizeof(path), "/apps/%s/events", app_id);
	if (pl < 0 || (size_t)pl >= sizeof(path))
		return 0;
	if (!swb_bench_sign_query(query, sizeof(query), path, key, secret, timestamp, body, body_len))
		return 0;
	int n = snprintf(out, cap,
			 "POST %s?%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
			 "X-Pusher-Library: swb-bench\r\nContent-Length: %zu\r\n\r\n",
			 path, query, host, body_len);
	if (n < 0 || (size_t)n + body_len > cap)
		return 0;
	memcpy(out + n, body, body_len);
	return (size_t)n + body_len;
}
