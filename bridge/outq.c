/* outq.c: the per-edge outbound queue and its pacing.
 *
 * Why: nng 1.5.2's polyamorous pair1 hands each message from the socket's
 * send queue to a per-pipe queue only 2 deep and silently DROPS it when that
 * queue is full (pair1poly_sock_get_cb), while nng_sendmsg still returned 0.
 * A burst of acks or deliveries to one edge therefore loses all but ~3.
 *
 * So the bridge keeps at most SWB_BRIDGE_OUT_WINDOW messages per edge
 * inside NNG: outstanding = messages we handed to NNG for the pipe minus the
 * pipe's own "tx_msgs" statistic (bumped when the write completed). The
 * rest wait in the edge's queue here (bounded: SWB_BRIDGE_OUTQ_MAX_*; over
 * that, new messages are dropped and counted). While any edge has a
 * backlog, a pump re-reads the statistics and refills: every loop
 * iteration (uv_idle) until SPIN_MS passed without progress, then every
 * millisecond (uv_timer), so a stuck edge costs next to no CPU. */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "log.h"
#include "util.h"

#define OUT_WINDOW 2
#define OUTQ_MAX_MSGS 65536
#define OUTQ_MAX_BYTES (16u * 1024 * 1024)
#define STALL_MS 3000 /* no tx progress this long: say so (rate-limited) */
#define SPIN_MS 20    /* keep polling every iteration this long after progress */

static void pump_schedule(swb_bridge *b, bool progress);

static uint64_t outstanding(const swb_bridge_edge *e)
{
	return e->sent > e->tx_seen ? e->sent - e->tx_seen : 0;
}

/* Hand m to NNG for e's pipe (takes ownership). */
static void nng_out(swb_bridge *b, swb_bridge_edge *e, nng_msg *m)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;
	p.id = e->pipe_id;
	nng_msg_set_pipe(m, p);
	int rv = nng_sendmsg(b->edge_sock, m, NNG_FLAG_NONBLOCK);
	if (rv == 0) {
		e->sent++;
		return;
	}
	nng_msg_free(m);
	b->cnt.edge_send_drops++;
	swb_bridge_ratelog_emit(&b->rl_send, SWB_LOG_WARN, "dropped a message to edge %s: %s", e->edge_id,
				nng_strerror(rv));
}

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

static nng_msg *pop(swb_bridge_edge *e)
{
	nng_msg *m = e->outq[e->out_head];
	e->out_head = (e->out_head + 1) % e->out_cap;
	e->out_len--;
	e->out_bytes -= nng_msg_len(m);
	return m;
}

void swb_bridge_outq_send(swb_bridge *b, swb_bridge_edge *e, nng_msg *m)
{
	if (e->out_len == 0 && outstanding(e) < OUT_WINDOW) {
		nng_out(b, e, m);
		return;
	}
	if (e->out_len >= OUTQ_MAX_MSGS || e->out_bytes + nng_msg_len(m) > OUTQ_MAX_BYTES || !push(e, m)) {
		nng_msg_free(m);
		b->cnt.edge_send_drops++;
		swb_bridge_ratelog_emit(&b->rl_send, SWB_LOG_WARN,
					"queue to edge %s is full (%zu messages): dropping", e->edge_id, e->out_len);
		return;
	}
	if (e->out_len == 1)
		e->stall_ms = swb_mono_ms();
	pump_schedule(b, true);
}

void swb_bridge_outq_clear(swb_bridge_edge *e)
{
	while (e->out_len)
		nng_msg_free(pop(e));
	free(e->outq);
	e->outq = NULL;
	e->out_cap = e->out_head = 0;
}

/* Refresh every edge's tx_seen from one statistics snapshot. Returns
 * true if any advanced. Without statistics, pacing is off. */
static bool read_tx(swb_bridge *b)
{
	nng_stat *snap;
	bool moved = false;
	if (nng_stats_get(&snap) != 0) {
		for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
			e->tx_seen = e->sent;
		return true;
	}
	for (nng_stat *s = nng_stat_child(snap); s; s = nng_stat_next(s)) {
		if (strcmp(nng_stat_name(s), "pipe") != 0)
			continue;
		nng_stat *id = nng_stat_find(s, "id"), *tx = nng_stat_find(s, "tx_msgs");
		swb_bridge_edge *e = id && tx ? swb_bridge_edge_find(b, (uint32_t)nng_stat_value(id)) : NULL;
		if (e && nng_stat_value(tx) > e->tx_seen) {
			e->tx_seen = nng_stat_value(tx);
			moved = true;
		}
	}
	nng_stats_free(snap);
	return moved;
}

/* Move queued messages into NNG as the window allows. */
static bool refill(swb_bridge *b, swb_bridge_edge *e, uint64_t now, bool *backlog)
{
	bool sent = false;
	while (e->out_len && outstanding(e) < OUT_WINDOW) {
		nng_out(b, e, pop(e));
		sent = true;
	}
	if (sent || !e->out_len)
		e->stall_ms = now;
	else if (now - e->stall_ms > STALL_MS) {
		/* A slow edge. Waiting is right: NNG would drop anything more. */
		swb_bridge_ratelog_emit(&b->rl_send, SWB_LOG_WARN, "edge %s is not reading: %zu messages queued",
					e->edge_id, e->out_len);
		e->stall_ms = now;
	}
	*backlog |= e->out_len > 0;
	return sent;
}

static void pump(swb_bridge *b)
{
	bool progress = read_tx(b), backlog = false;
	uint64_t now = swb_mono_ms();
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
		if (e->out_len)
			progress |= refill(b, e, now, &backlog);
	if (!backlog) {
		uv_idle_stop(&b->out_idle);
		uv_timer_stop(&b->out_timer);
		return;
	}
	pump_schedule(b, progress);
}

static void on_out_idle(uv_idle_t *h)
{
	pump(h->data);
}

static void on_out_timer(uv_timer_t *h)
{
	pump(h->data);
}

static void pump_schedule(swb_bridge *b, bool progress)
{
	uint64_t now = swb_mono_ms();
	if (progress)
		b->out_progress_ms = now;
	if (now - b->out_progress_ms < SPIN_MS) {
		uv_timer_stop(&b->out_timer);
		uv_idle_start(&b->out_idle, on_out_idle);
	} else {
		uv_idle_stop(&b->out_idle);
		if (!uv_is_active((uv_handle_t *)&b->out_timer))
			uv_timer_start(&b->out_timer, on_out_timer, 1, 0);
	}
}

void swb_bridge_outq_init(swb_bridge *b)
{
	uv_idle_init(b->loop, &b->out_idle);
	b->out_idle.data = b;
	uv_timer_init(b->loop, &b->out_timer);
	b->out_timer.data = b;
}

void swb_bridge_outq_fini(swb_bridge *b)
{
	if (!b->out_idle.data)
		return;
	uv_close((uv_handle_t *)&b->out_idle, NULL);
	uv_close((uv_handle_t *)&b->out_timer, NULL);
}
