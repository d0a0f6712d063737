/* outq.c: the bridge -> edge transport: one NNG push0 socket per edge,
 * dialing the pull0 listener the edge announced in Hello.deliver_url, and
 * the edge's bounded outbound queue in front of it.
 *
 * Why push0 (not the pair1 socket the edges dial): nng 1.5.2's polyamorous
 * pair1 silently drops messages beyond a 2-deep per-pipe queue. push0 with
 * one pipe never drops: it holds up to PUSH_SENDBUF messages, then refuses
 * (NNG_EAGAIN) until its pipe took one, and NNG_OPT_SENDFD turns readable
 * when it can accept again. (nng 1.5.2 src/sp/protocol/pipeline0/push.c:
 * a full send queue blocks the sender; nothing is discarded.)
 *
 * Every BridgeMsg for an edge goes through swb_bridge_outq_send: it is
 * queued here (bounded by OUTQ_MAX_MSGS / OUTQ_MAX_BYTES; beyond that it is
 * dropped, counted in edge_send_drops and logged rate-limited) and a
 * zero-delay flush timer is armed. The flush packs what is queued into NNG
 * messages (one BridgeMsg as is, more as one BridgeMsg.batch of up to
 * BATCH_MSGS / BATCH_BYTES) and hands them to push0 until it says EAGAIN;
 * then the edge waits for its SENDFD (uv_poll) and nothing runs meanwhile.
 * Bytes inside NNG stay bounded by PUSH_SENDBUF * BATCH_BYTES.
 *
 * Ownership: the queue and the push socket belong to the edge; the uv_poll
 * lives in a heap block (swb_bridge_wpoll) freed by its close callback, as
 * uv_close outlives the edge. */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

#include <nng/protocol/pipeline0/push.h>
#include "log.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define PUSH_SENDBUF 64
#define BATCH_MSGS 256
#define BATCH_BYTES (128u * 1024)
#define STALL_MS 3000 /* blocked this long and more comes: say so (rate-limited) */

struct swb_bridge_wpoll {
	uv_poll_t h;
	swb_bridge *b;
	swb_bridge_edge *e; /* NULL once the edge is gone */
};

static void flush_arm(swb_bridge *b);

static bool push(swb_bridge_edge *e, nng_msg *m)
{
	if (e->out_len == e->out_cap) {
		size_t cap = e->out_cap ? e->out_cap * 2 : 64;
		nng_msg **q = malloc(cap * sizeof(*q));
		if (!q)
			return false;
		for (size_t i = 0; i < e->out_len; i++)
			q[i] = e->outq[(e->out_head + i) % e->out_cap];
		free(e->outq);
		e->outq = q;
		e->out_head = 0;
		e->out_cap = cap;
	}
	e->outq[(e->out_head + e->out_len++) % e->out_cap] = m;
	e->out_bytes += nng_msg_len(m);
	return true;
}

static nng_msg *peek(const swb_bridge_edge *e, size_t i)
{
	return e->outq[(e->out_head + i) % e->out_cap];
}

static nng_msg *pop(swb_bridge_edge *e)
{
	nng_msg *m = e->outq[e->out_head];
	e->out_head = (e->out_head + 1) % e->out_cap;
	e->out_len--;
	e->out_bytes -= nng_msg_len(m);
	return m;
}

static void drop(swb_bridge *b, swb_bridge_edge *e, nng_msg *m, const char *why)
{
	nng_msg_free(m);
	b->cnt.edge_send_drops++;
	swb_bridge_ratelog_emit(&b->rl_send, SWB_LOG_WARN, "dropped a message to edge %s: %s (%zu queued)",
				e->edge_id, why, e->out_len);
}

void swb_bridge_outq_send(swb_bridge *b, swb_bridge_edge *e, nng_msg *m)
{
	if (e->out_len >= SWB_BRIDGE_OUTQ_MAX_MSGS || e->out_bytes + nng_msg_len(m) > SWB_BRIDGE_OUTQ_MAX_BYTES) {
		drop(b, e, m, "queue full");
		return;
	}
	if (!push(e, m)) {
		drop(b, e, m, "out of memory");
		return;
	}
	if (!e->out_blocked)
		flush_arm(b);
	else if (swb_mono_ms() - e->stall_ms > STALL_MS)
		swb_bridge_ratelog_emit(&b->rl_send, SWB_LOG_WARN, "edge %s is not reading: %zu messages queued",
					e->edge_id, e->out_len);
}

/* How many queued messages (from the head) go into the next NNG message. */
static size_t batch_len(const swb_bridge_edge *e)
{
	size_t k = 1, bytes = nng_msg_len(peek(e, 0));
	while (k < e->out_len && k < BATCH_MSGS) {
		size_t n = nng_msg_len(peek(e, k));
		if (bytes + n > BATCH_BYTES)
			break;
		bytes += n;
		k++;
	}
	return k;
}

/* The first k queued messages as one BridgeMsg.batch (NULL: no memory). */
static nng_msg *pack_batch(const swb_bridge_edge *e, size_t k)
{
	ProtobufCBinaryData items[BATCH_MSGS];
	for (size_t i = 0; i < k; i++) {
		items[i].data = nng_msg_body(peek(e, i));
		items[i].len = nng_msg_len(peek(e, i));
	}
	Swb__BridgeBatch bb = SWB__BRIDGE_BATCH__INIT;
	bb.n_msgs = k;
	bb.msgs = items;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_BATCH;
	bm.batch = &bb;
	return swb_bridge_pack(&bm);
}

static void on_writable(uv_poll_t *h, int status, int events);

/* push0 is full: sleep until its SENDFD says it can take more. */
static void wait_writable(swb_bridge_edge *e)
{
	e->out_blocked = true;
	e->stall_ms = swb_mono_ms();
	uv_poll_start(&e->wpoll->h, UV_READABLE, on_writable);
}

/* Hand the first k queued messages to NNG as one message. Returns the NNG
 * result; on success they are off the queue. */
static int send_head(swb_bridge_edge *e, size_t k)
{
	nng_msg *m = k == 1 ? peek(e, 0) : pack_batch(e, k);
	if (!m)
		return NNG_ENOMEM;
	if (k == 1) { /* once sent, NNG may free m on its own thread: no pop(), which reads it */
		size_t len = nng_msg_len(m);
		int rv = swb_nng_io_send(&e->push_io, e->push, m);
		if (rv == 0) {
			e->out_head = (e->out_head + 1) % e->out_cap;
			e->out_len--;
			e->out_bytes -= len;
		}
		return rv;
	}
	int rv = swb_nng_io_send(&e->push_io, e->push, m);
	if (rv != 0) {
		nng_msg_free(m);
		return rv;
	}
	for (size_t i = 0; i < k; i++)
		nng_msg_free(pop(e));
	return 0;
}

/* Move queued messages into NNG until it is full or the queue is empty. */
static void flush_edge(swb_bridge *b, swb_bridge_edge *e)
{
	while (e->out_len && !e->out_blocked) {
		if (!e->push_open) {
			drop(b, e, pop(e), "no deliver socket");
			continue;
		}
		size_t k = batch_len(e);
		int rv = send_head(e, k);
		if (rv == NNG_EAGAIN)
			wait_writable(e);
		else if (rv == NNG_ENOMEM)
			return; /* retried on the next send */
		else
			for (size_t i = 0; rv != 0 && i < k; i++)
				drop(b, e, pop(e), nng_strerror(rv));
	}
}

static void on_flush(uv_timer_t *h)
{
	swb_bridge *b = h->data;
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
		flush_edge(b, e);
}

/* Zero-delay: runs once, after the current callback (I/O: next turn). */
static void flush_arm(swb_bridge *b)
{
	if (!uv_is_active((uv_handle_t *)&b->out_flush))
		uv_timer_start(&b->out_flush, on_flush, 0, 0);
}

static void on_writable(uv_poll_t *h, int status, int events)
{
	struct swb_bridge_wpoll *w = h->data;
	uv_poll_stop(h);
	if (!w->e)
		return;
	w->e->out_blocked = false;
	flush_edge(w->b, w->e);
}

static void wpoll_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Open e's push0 socket and dial url without blocking (NNG retries until
 * the edge's listener is there; sends queue in NNG meanwhile). */
int swb_bridge_outq_open(swb_bridge *b, swb_bridge_edge *e, const char *url)
{
	int rv, fd;
	struct swb_bridge_wpoll *w = calloc(1, sizeof(*w));
	if (!w || (rv = nng_push0_open(&e->push)) != 0) {
		free(w);
		swb_err("cannot open a deliver socket for edge %s", e->edge_id);
		return -1;
	}
	e->push_open = true;
	nng_socket_set_int(e->push, NNG_OPT_SENDBUF, PUSH_SENDBUF);
	nng_socket_set_ms(e->push, NNG_OPT_RECONNMINT, 10);
	nng_socket_set_ms(e->push, NNG_OPT_RECONNMAXT, 500);
	if ((rv = nng_socket_get_int(e->push, NNG_OPT_SENDFD, &fd)) != 0 ||
	    (rv = nng_dial(e->push, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		swb_err("cannot dial edge %s at %s: %s", e->edge_id, url, nng_strerror(rv));
		free(w);
		nng_close(e->push);
		swb_nng_io_fini(&e->push_io);
		e->push_open = false;
		return -1;
	}
	w->b = b;
	w->e = e;
	uv_poll_init(b->loop, &w->h, fd);
	w->h.data = w;
	e->wpoll = w;
	return 0;
}

/* Close e's socket and free its queue (the edge is going away). */
void swb_bridge_outq_clear(swb_bridge_edge *e)
{
	if (e->wpoll) {
		e->wpoll->e = NULL;
		uv_close((uv_handle_t *)&e->wpoll->h, wpoll_closed);
		e->wpoll = NULL;
	}
	if (e->push_open) {
		nng_close(e->push);
		swb_nng_io_fini(&e->push_io);
		e->push_open = false;
	}
	while (e->out_len)
		nng_msg_free(pop(e));
	free(e->outq);
	e->outq = NULL;
	e->out_cap = e->out_head = e->out_bytes = 0;
	e->out_blocked = false;
}

void swb_bridge_outq_init(swb_bridge *b)
{
	uv_timer_init(b->loop, &b->out_flush);
	b->out_flush.data = b;
}

void swb_bridge_outq_fini(swb_bridge *b)
{
	if (b->out_flush.data)
		uv_close((uv_handle_t *)&b->out_flush, NULL);
}
