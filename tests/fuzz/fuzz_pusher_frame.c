/* fuzz_pusher_frame.c: the client frame handler (swb_edge_pusher_message:
 * JSON parsing, pusher:subscribe / unsubscribe / signin / ping, client
 * events, every error path). Input: text frames separated by NUL bytes,
 * all sent by one new connection of app1, which is then closed. */
#include <stdint.h>
#include <string.h>

#include "edge_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned n;
	swb_edge *e = fuzz_edge();
	swb_edge_conn *c = fuzz_edge_conn(e);
	const char *p = (const char *)data, *end = p + size;
	while (p <= end && !c->close_code) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		size_t len = z ? (size_t)(z - p) : (size_t)(end - p);
		swb_edge_pusher_message(e, c, p, len);
		p += len + 1;
	}
	swb_edge_conn_free(e, c);
	if (++n % 64 == 0)
		fuzz_edge_turn();
	return 0;
}
