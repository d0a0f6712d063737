/* redis_guard.h: a reply builder for hiredis' reader that stops replies a
 * broken or hostile Redis sends from reaching hiredis 0.14.1's asserts.
 *
 * hiredis aborts the process when an unsolicited non-error reply arrives on
 * a context that is not subscribed, or when a pub/sub reply is not
 * [string, string, ...] (and [.., .., integer] for unsubscribe). The guard
 * sees each reply while it is built and turns such a reply into an error
 * reply "ERR swb-guard: ..."; hiredis then treats it like any spontaneous
 * error: it closes the connection (the bridge reconnects and counts it).
 * It also refuses arrays longer than SWB_BRIDGE_GUARD_MAX_ELEMENTS on a
 * subscribed context, SWB_BRIDGE_GUARD_MAX_ELEMENTS_CMD on the cmd one
 * (member hashes, channel lists and sweep results are longer). */
#ifndef SWB_BRIDGE_REDIS_GUARD_H
#define SWB_BRIDGE_REDIS_GUARD_H

#include <async.h>
#include <hiredis.h>

#define SWB_BRIDGE_GUARD_MAX_ELEMENTS 1024
#define SWB_BRIDGE_GUARD_MAX_ELEMENTS_CMD 400000
#define SWB_BRIDGE_GUARD_PREFIX "ERR swb-guard: "

/* Install on ac's reader (right after redisAsyncConnect). */
void swb_bridge_redis_guard_install(redisAsyncContext *ac);
/* The reply functions themselves (for tests: reader->privdata must be a
 * redisAsyncContext whose replies / flags describe the situation). */
extern redisReplyObjectFunctions swb_bridge_guard_fns;

#endif
