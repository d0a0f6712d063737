/* apps.h: the table of Pusher apps this edge serves (id, key, secret).
 * Pure data structure: no lws, no loop, so it is unit-testable. */
#ifndef SWB_EDGE_APPS_H
#define SWB_EDGE_APPS_H

#include <stdbool.h>
#include <stddef.h>

#include <uthash.h>

typedef struct swb_edge_app {
	char *id, *key, *secret;   /* owned, NUL-terminated */
	size_t id_len, key_len, secret_len;
	UT_hash_handle hh_id, hh_key;
} swb_edge_app;

typedef struct swb_edge_apps {
	swb_edge_app *by_id, *by_key; /* two uthash views of the same entries */
	size_t n;
} swb_edge_apps;

void swb_edge_apps_init(swb_edge_apps *t);
void swb_edge_apps_fini(swb_edge_apps *t);
/* Add one "ID:KEY:SECRET" spec (the secret is everything after the second
 * ':'). On error returns -1 and writes a human message into err. */
int swb_edge_apps_add_spec(swb_edge_apps *t, const char *spec, size_t n, char *err, size_t errlen);
/* Read an apps file: one spec per line, '#' comments and blank lines
 * ignored, surrounding whitespace trimmed. Returns 0 or -1 (err set). */
int swb_edge_apps_load_file(swb_edge_apps *t, const char *path, char *err, size_t errlen);
const swb_edge_app *swb_edge_apps_by_id(const swb_edge_apps *t, const char *id, size_t n);
const swb_edge_app *swb_edge_apps_by_key(const swb_edge_apps *t, const char *key, size_t n);

#endif
