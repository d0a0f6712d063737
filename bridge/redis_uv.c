/* redis_uv.c: the hiredis <-> libuv adapter (see redis_uv.h). One
 * uv_poll_t per async context on c.fd; owned by the context through
 * ac->ev.data and freed in the close callback after hiredis' cleanup. */
#include "redis_uv.h"

#include "redis_guard.h"

#include <stdio.h>
#include <stdlib.h>

/* A reply still incomplete after this many buffered bytes means a broken or
 * hostile server: the connection is closed (the owner reconnects). */
#define REDIS_UV_MAX_PENDING (64u * 1024 * 1024)

typedef struct swb_bridge_redis_uv {
	uv_poll_t poll;
	redisAsyncContext *ac; /* NULL once hiredis cleaned up */
	int events;            /* UV_READABLE | UV_WRITABLE wanted by hiredis */
} swb_bridge_redis_uv;

static void on_poll(uv_poll_t *h, int status, int events)
{
	swb_bridge_redis_uv *a = h->data;
	if (status < 0)
		events = a->events ? a->events : UV_READABLE; /* let hiredis find the error */
	if (a->ac && (events & UV_WRITABLE))
		redisAsyncHandleWrite(a->ac);
	/* hiredis may have freed the context above: cleanup cleared a->ac. */
	if (a->ac && (events & UV_READABLE))
		redisAsyncHandleRead(a->ac);
	redisReader *rd = a->ac ? a->ac->c.reader : NULL;
	if (rd && rd->len - rd->pos > REDIS_UV_MAX_PENDING) {
		a->ac->c.err = REDIS_ERR_OTHER;
		snprintf(a->ac->c.errstr, sizeof(a->ac->c.errstr), "%sreply larger than %u bytes",
			 SWB_BRIDGE_GUARD_PREFIX, REDIS_UV_MAX_PENDING);
		redisAsyncFree(a->ac); /* disconnect callback, then cleanup */
	}
}

static void update(swb_bridge_redis_uv *a, int events)
{
	if (events == a->events)
		return;
	a->events = events;
	if (events)
		uv_poll_start(&a->poll, events, on_poll);
	else
		uv_poll_stop(&a->poll);
}

static void add_read(void *p)
{
	swb_bridge_redis_uv *a = p;
	/* Restart even if already set: libuv stops the poll after an error. */
	a->events |= UV_READABLE;
	uv_poll_start(&a->poll, a->events, on_poll);
}

static void del_read(void *p)
{
	swb_bridge_redis_uv *a = p;
	update(a, a->events & ~UV_READABLE);
}

static void add_write(void *p)
{
	swb_bridge_redis_uv *a = p;
	a->events |= UV_WRITABLE;
	uv_poll_start(&a->poll, a->events, on_poll);
}

static void del_write(void *p)
{
	swb_bridge_redis_uv *a = p;
	update(a, a->events & ~UV_WRITABLE);
}

static void on_close(uv_handle_t *h)
{
	free(h->data);
}

static void cleanup(void *p)
{
	swb_bridge_redis_uv *a = p;
	a->ac = NULL;
	a->events = 0;
	uv_close((uv_handle_t *)&a->poll, on_close);
}

int swb_bridge_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
	if (ac->ev.data)
		return -1;
	swb_bridge_redis_uv *a = calloc(1, sizeof(*a));
	if (!a)
		return -1;
	if (uv_poll_init(loop, &a->poll, ac->c.fd) != 0) {
		free(a);
		return -1;
	}
	a->poll.data = a;
	a->ac = ac;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	ac->ev.data = a;
	return 0;
}
