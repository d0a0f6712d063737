/* redis_uv.h: hiredis async <-> libuv adapter. Unlike the packaged one it
 * passes poll errors on to hiredis (as a read/write event), so a failed
 * connect or a dead socket reaches hiredis' error path instead of hanging. */
#ifndef SWB_BRIDGE_REDIS_UV_H
#define SWB_BRIDGE_REDIS_UV_H

#include <async.h>
#include <uv.h>

/* Attach ac to loop. Returns 0, or -1 (ac untouched; the caller frees it).
 * The adapter state is freed by hiredis' cleanup hook (uv_close). */
int swb_bridge_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
