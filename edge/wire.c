/* wire.c: coalesced delivery writes. A delivery only queues its frame on the
 * connection and marks the connection here; once per loop turn (uv_check,
 * after the I/O callbacks that delivered, and uv_prepare, for deliveries
 * from timers) every marked connection writes everything it has queued,
 * several frames in one send() (conn.c). A burst of N deliveries to one
 * client costs one syscall instead of N, and a single delivery still goes
 * out in the same loop turn it arrived in. Connections whose whole queue is
 * one frame go out together through io_uring (uring.c) when it is there.
 * Owns the marked list and the two loop handles; also the framing (wire.h). */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"
#include "wire.h"

size_t swb_edge_wire_size(size_t len)
{
	return len + (len < 126 ? 2 : len <= 0xffff ? 4 : 10);
}

size_t swb_edge_wire_header(unsigned char *h, size_t len)
{
	h[0] = 0x81; /* FIN, text */
	if (len < 126) {
		h[1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

size_t swb_edge_wire_frame(unsigned char *dst, const unsigned char *payload, size_t len)
{
	size_t h = swb_edge_wire_header(dst, len);
	memcpy(dst + h, payload, len);
	return h + len;
}

void swb_edge_wire_mark(swb_edge *e, swb_edge_conn *c)
{
	if (c->wire_marked)
		return;
	if (e->wire_n == e->wire_cap) {
		uint32_t cap = e->wire_cap ? e->wire_cap * 2 : 256;
		swb_edge_conn **v = realloc(e->wire_v, cap * sizeof(*v));
		if (!v) { /* fall back to lws's writable callback */
			lws_callback_on_writable(c->wsi);
			return;
		}
		e->wire_v = v;
		e->wire_cap = cap;
	}
	e->wire_v[e->wire_n++] = c;
	c->wire_marked = true;
}

/* c is being freed: it must not be flushed. Rare (a close between a
 * delivery and the end of its loop turn), so a scan is fine. */
void swb_edge_wire_forget(swb_edge *e, swb_edge_conn *c)
{
	if (!c->wire_marked)
		return;
	for (uint32_t i = 0; i < e->wire_n; i++)
		if (e->wire_v[i] == c)
			e->wire_v[i] = NULL;
	c->wire_marked = false;
}

void swb_edge_wire_flush(swb_edge *e)
{
	/* A flush can close a connection (marking it, never freeing it), and
	 * nothing marks new connections meanwhile, but keep it general. */
	for (uint32_t i = 0; i < e->wire_n; i++) {
		swb_edge_conn *c = e->wire_v[i];
		if (!c)
			continue;
		c->wire_marked = false;
		if (!swb_edge_uring_add(e, c))
			swb_edge_conn_flush(e, c);
	}
	swb_edge_uring_flush(e);
	e->wire_n = 0;
	if (e->wire_cap > 65536) { /* give back what a huge fan-out grew */
		free(e->wire_v);
		e->wire_v = NULL;
		e->wire_cap = 0;
	}
}

static void on_check(uv_check_t *h) { swb_edge_wire_flush(h->data); }
static void on_prepare(uv_prepare_t *h) { swb_edge_wire_flush(h->data); }

void swb_edge_wire_start(swb_edge *e)
{
	uv_check_init(&e->loop, &e->wire_check);
	uv_prepare_init(&e->loop, &e->wire_prepare);
	e->wire_check.data = e->wire_prepare.data = e;
	uv_check_start(&e->wire_check, on_check);
	uv_prepare_start(&e->wire_prepare, on_prepare);
	/* they never keep the loop alive on their own */
	uv_unref((uv_handle_t *)&e->wire_check);
	uv_unref((uv_handle_t *)&e->wire_prepare);
}

void swb_edge_wire_stop(swb_edge *e)
{
	e->wire_n = 0;
	uv_close((uv_handle_t *)&e->wire_check, NULL);
	uv_close((uv_handle_t *)&e->wire_prepare, NULL);
}

void swb_edge_wire_fini(swb_edge *e)
{
	free(e->wire_v);
	e->wire_v = NULL;
	e->wire_n = e->wire_cap = 0;
}
