/* bridge_env.h: a swb-bridge set up for the fuzz targets the way main.c
 * sets one up (--redis none unless FUZZ_BRIDGE_REDIS is set, a temp runtime
 * dir, its NNG and control sockets), with two registered fake edges (pipe
 * ids 1 and 2, serving app1) whose outgoing messages are dropped.
 * FUZZ_VERBOSE=1 in the environment: debug logging (quiet by default). */
#ifndef SWB_FUZZ_BRIDGE_ENV_H
#define SWB_FUZZ_BRIDGE_ENV_H

#include "bridge.h"

swb_bridge *fuzz_bridge(void);
/* Run what is due on the bridge's loop without blocking. */
void fuzz_bridge_turn(void);

#endif
