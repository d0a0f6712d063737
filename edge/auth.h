/* auth.h: channel and sign-in authorization for client frames (pusher
 * protocol §3): the strings to sign, the "KEY:hexsig" check, parsing of
 * presence channel_data and sign-in user_data, user id rules, cache channel
 * names and the client-event token bucket. Pure functions (no lws, clock
 * passed in), unit-testable. */
#ifndef SWB_EDGE_AUTH_H
#define SWB_EDGE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps.h"
#include "sbuf.h"

#define SWB_EDGE_USER_ID_MAX 128
#define SWB_EDGE_USER_INFO_MAX 1024

/* "sid:channel" (private), "sid:channel:channel_data" (presence, cd != NULL)
 * appended to out. */
void swb_edge_auth_channel_string(swb_sbuf *out, const char *sid, const char *channel, const char *cd,
				  size_t cd_len);
/* "sid::user::user_data" appended to out. */
void swb_edge_auth_signin_string(swb_sbuf *out, const char *sid, const char *ud, size_t ud_len);
/* True when auth is "<app key>:<hex HMAC-SHA256(secret, str)>" (split at
 * the first ':', compared in constant time). */
bool swb_edge_auth_valid(const swb_edge_app *app, const char *auth, size_t auth_len, const char *str,
			 size_t str_len);
/* The Pusher error message for a bad channel signature into out:
 * "Invalid signature: Expected HMAC SHA256 hex digest of STR, but got SIG"
 * (SIG = the part of auth after the first ':', or all of it). */
void swb_edge_auth_error(swb_sbuf *out, const char *str, size_t str_len, const char *auth, size_t auth_len);

/* User ids: 1..128 bytes of the channel-name character set. */
bool swb_edge_user_id_valid(const char *s, size_t n);
/* Presence channel_data {"user_id": string|number, "user_info": any}.
 * On success returns 0 with *user_id (canonical string) and *user_info
 * (compact JSON text, NULL when absent) owned by the caller. Otherwise -1
 * with a message in err. */
int swb_edge_parse_channel_data(const char *s, size_t n, char **user_id, char **user_info, char *err,
				size_t errlen);
/* Sign-in user_data: a JSON object with a non-empty string "id" that is a
 * valid user id. 0 with *user_id owned by the caller, or -1 (err set). */
int swb_edge_parse_user_data(const char *s, size_t n, char **user_id, char *err, size_t errlen);

/* cache-, private-cache-, private-encrypted-cache-, presence-cache-. */
bool swb_edge_is_cache_channel(const char *name, size_t n);

/* Client-event token bucket: `rate` events per second, bursts of `rate`.
 * A zeroed bucket is full. rate 0 = unlimited. */
typedef struct swb_edge_bucket {
	uint32_t debt_milli;         /* milli-events used and not yet refilled */
	uint32_t last_ms;            /* truncated monotonic ms of the last refill */
} swb_edge_bucket;
bool swb_edge_bucket_take(swb_edge_bucket *b, uint32_t rate, uint64_t now_ms);

#endif
