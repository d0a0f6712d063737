/* edge_env.h: a swb-edge for the fuzz targets, without sockets: the app
 * table (app1 with client events and a webhook), the channel index, the
 * loop with its counts timer and the webhook sender, no bridge link (every
 * message to the bridge fails as when it is down). Connections are fake:
 * edge_env.c defines the few libwebsockets calls conn.c makes on a
 * connection (writes succeed and are discarded), so the target links them
 * instead of the library's. Production code is unchanged.
 * FUZZ_VERBOSE=1 in the environment: debug logging (quiet by default). */
#ifndef SWB_FUZZ_EDGE_ENV_H
#define SWB_FUZZ_EDGE_ENV_H

#include "edge.h"

swb_edge *fuzz_edge(void);
/* A new established connection of app1 (free with swb_edge_conn_free). */
swb_edge_conn *fuzz_edge_conn(swb_edge *e);
void fuzz_edge_turn(void);

#endif
