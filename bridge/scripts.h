/* scripts.h: the Lua scripts on the cmd connection (see scripts.c). */
#ifndef SWB_BRIDGE_SCRIPTS_H
#define SWB_BRIDGE_SCRIPTS_H

#include <async.h>
#include <hiredis.h>

enum swb_bridge_script {
	SWB_SCRIPT_OCC_SET = 0, /* P, H, A, C, count */
	SWB_SCRIPT_PRES_JOIN,   /* P, H, A, C, user, info, max, envelope */
	SWB_SCRIPT_PRES_LEAVE,  /* P, H, A, C, user, leaving socket or "" */
	SWB_SCRIPT_SWEEP,       /* P, now_ms, H */
	SWB_SCRIPT_PUBLISH_CACHE, /* P, cache key, channel, envelope, px */
	SWB_SCRIPT_GONE,        /* P, "pres"|"occ", A, C, user, H */
	SWB_SCRIPT_COUNT
};

struct swb_bridge;
/* The Lua source of a script (tests run them with EVAL). */
const char *swb_bridge_script_source(int script);
/* SCRIPT LOAD every script (right after the cmd connection is up). */
void swb_bridge_scripts_load(struct swb_bridge *b);
/* The cmd connection went away: SHAs are unknown until the next load. */
void swb_bridge_scripts_forget(struct swb_bridge *b);
/* Run a script with args[0..nargs) as ARGV (copied). fn gets the final
 * reply (NULL if the connection failed) exactly once, unless this
 * returns -1 (not sent: Redis down / out of memory). */
int swb_bridge_script_run(struct swb_bridge *b, int script, int nargs, const char **args, const size_t *lens,
			  redisCallbackFn *fn, void *privdata);

#endif
