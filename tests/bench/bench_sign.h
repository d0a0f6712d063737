/* bench_sign.h: Pusher HTTP API request signing exactly as the SDKs do it
 * (pusher-protocol.md §7.1): auth_key, auth_timestamp, auth_version=1.0,
 * body_md5, and auth_signature = hex HMAC-SHA256(secret,
 * "METHOD\nPATH\nsorted query without auth_signature"). */
#ifndef SWB_BENCH_SIGN_H
#define SWB_BENCH_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* The signed query string (auth_key, auth_timestamp, auth_version,
 * body_md5, auth_signature) for a POST of body to path. Returns its length,
 * or 0 when cap is too small or hashing failed. */
size_t swb_bench_sign_query(char *out, size_t cap, const char *path, const char *key, const char *secret,
			    int64_t timestamp, const void *body, size_t body_len);

/* A complete keep-alive HTTP/1.1 request: POST /apps/APP_ID/events with the
 * signed query, Host, Content-Type, Content-Length, then the body. Returns
 * its length, or 0 when it does not fit in cap. */
size_t swb_bench_publish_request(char *out, size_t cap, const char *host, const char *app_id, const char *key,
				 const char *secret, int64_t timestamp, const char *body, size_t body_len);

#endif
