/* fuzz_client_auth.c: the client-side signature and data checks (auth.c):
 * "KEY:hexsig" checks against a string to sign, presence channel_data and
 * sign-in user_data parsing, user ids, cache channel names. The first
 * input byte picks the check, the rest is its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fuzz_app.h"
#include "sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const swb_edge_app *app = fuzz_app();
	if (size < 1)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	char err[256], *uid = NULL, *info = NULL;
	swb_sbuf out;
	swb_sbuf_init(&out);
	switch (data[0] % 5) {
	case 0: { /* auth then string to sign, split at the first NUL */
		const char *z = memchr(s, '\0', n);
		size_t an = z ? (size_t)(z - s) : n;
		const char *str = z ? z + 1 : s + n;
		size_t sn = (size_t)(s + n - str);
		swb_edge_auth_valid(app, s, an, str, sn);
		swb_edge_auth_error(&out, str, sn, s, an);
		break;
	}
	case 1:
		if (swb_edge_parse_channel_data(s, n, &uid, &info, err, sizeof(err)) == 0 &&
		    !swb_edge_user_id_valid(uid, strlen(uid)))
			abort(); /* a parsed user id is a valid one */
		swb_edge_auth_channel_string(&out, "1.2", "presence-x", s, n);
		break;
	case 2:
		if (swb_edge_parse_user_data(s, n, &uid, err, sizeof(err)) == 0 && !swb_edge_user_id_valid(uid, strlen(uid)))
			abort();
		swb_edge_auth_signin_string(&out, "1.2", s, n);
		break;
	case 3:
		swb_edge_user_id_valid(s, n);
		break;
	default:
		swb_edge_is_cache_channel(s, n);
		break;
	}
	free(uid);
	free(info);
	swb_sbuf_free(&out);
	return 0;
}
