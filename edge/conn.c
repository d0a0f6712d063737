/* conn.c: WebSocket connection state: creation and teardown, the bounded
 * per-connection send queue, server-initiated closes, and liveness (idle
 * connections get a WebSocket PING, then 4201 if nothing comes back).
 * Each swb_edge_conn is owned here, from ESTABLISHED to CLOSED; it owns
 * its rx buffer, its queue references and its subscription list (its
 * presence entries and sign-in are released through presence.c and
 * users.c at free). */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"
#include "util.h"
#include "wire.h"

static void list_unlink(swb_edge *e, swb_edge_conn *c)
{
	swb_edge_list *l = c->live_list == SWB_EDGE_LIVE_ACTIVE ? &e->active
			 : c->live_list == SWB_EDGE_LIVE_PINGED ? &e->pinged : NULL;
	if (!l)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	c->live_list = SWB_EDGE_LIVE_NONE;
}

static void list_append(swb_edge *e, swb_edge_conn *c, uint8_t which, uint64_t now)
{
	swb_edge_list *l = which == SWB_EDGE_LIVE_ACTIVE ? &e->active : &e->pinged;
	c->prev = l->tail;
	c->next = NULL;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	c->live_list = which;
	c->live_ms = now;
}

swb_edge_conn *swb_edge_conn_new(swb_edge *e, struct lws *wsi)
{
	swb_edge_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->wsi = wsi;
	snprintf(c->socket_id, sizeof(c->socket_id), "%s.%llu", e->edge_id_str,
		 (unsigned long long)++e->conn_counter);
	c->subs.owner = c;
	HASH_ADD_STR(e->by_sid, socket_id, c);
	list_append(e, c, SWB_EDGE_LIVE_ACTIVE, swb_mono_ms());
	e->st.connections++;
	e->st.connections_total++;
	return c;
}

static void queue_clear(swb_edge *e, swb_edge_conn *c)
{
	e->queued_bytes -= c->q_bytes;
	while (c->q_n) {
		swb_buf_unref(c->q[c->q_head]);
		c->q_head = (c->q_head + 1) % c->q_cap;
		c->q_n--;
	}
	c->q_head = 0;
	c->q_bytes = 0;
}

void swb_edge_conn_free(swb_edge *e, swb_edge_conn *c)
{
	swb_edge_presence_conn_closed(e, c);
	for (uint32_t i = 0; i < c->subs.n; i++) {
		const swb_edge_chan *ch = c->subs.v[i].chan;
		swb_edge_counts_touch(e, ch->app_id, ch->app_len, ch->name, ch->name_len);
	}
	swb_edge_cache_forget_conn(e, c);
	swb_edge_chan_remove_all(&e->chans, &c->subs, swb_edge_pusher_chan_gone, e);
	swb_edge_users_signout(e, c);
	if (c->app)
		((swb_edge_app *)c->app)->connections--; /* counted in pusher.c */
	list_unlink(e, c);
	swb_edge_wire_forget(e, c);
	HASH_DEL(e->by_sid, c);
	queue_clear(e, c);
	free(c->q);
	free(c->rx);
	free(c);
	e->st.connections--;
}

swb_edge_conn *swb_edge_conn_by_socket_id(swb_edge *e, const char *sid, size_t n)
{
	swb_edge_conn *c = NULL;
	HASH_FIND(hh, e->by_sid, sid, n, c);
	return c;
}

static int queue_push(swb_edge *e, swb_edge_conn *c, swb_buf *b)
{
	if (c->q_n == c->q_cap) {
		uint32_t ncap = c->q_cap ? c->q_cap * 2 : 4;
		swb_buf **q = malloc(ncap * sizeof(*q));
		if (!q)
			return -1;
		for (uint32_t i = 0; i < c->q_n; i++)
			q[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = q;
		c->q_cap = ncap;
		c->q_head = 0;
	}
	c->q[(c->q_head + c->q_n) % c->q_cap] = swb_buf_ref(b);
	c->q_n++;
	c->q_bytes += b->len;
	e->queued_bytes += b->len;
	return 0;
}

/* Queue one reference, closing a slow consumer. 0 or -1. */
static int swb_edge_conn_send_queued(swb_edge *e, swb_edge_conn *c, swb_buf *b)
{
	if (c->close_code) {
		e->st.drops++;
		return -1;
	}
	if (c->q_bytes + b->len > (size_t)e->cfg.max_queue) {
		e->st.drops++;
		e->st.slow_disconnects++;
		swb_info("slow consumer %s: queue %zu bytes + %zu over %ld, closing 4100", c->socket_id,
			 c->q_bytes, b->len, e->cfg.max_queue);
		swb_edge_conn_close(e, c, 4100, "Slow consumer: send queue over limit", true);
		return -1;
	}
	if (queue_push(e, c, b) < 0) {
		swb_edge_conn_close(e, c, 1011, "Out of memory", true);
		return -1;
	}
	return 0;
}

int swb_edge_conn_send(swb_edge *e, swb_edge_conn *c, swb_buf *b)
{
	if (swb_edge_conn_send_queued(e, c, b) < 0)
		return -1;
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* Queue a delivery and have the end-of-turn flush (wire.c) write it, with
 * whatever else this turn delivers to c, in one send(). */
int swb_edge_conn_deliver(swb_edge *e, swb_edge_conn *c, swb_buf *b)
{
	if (swb_edge_conn_send_queued(e, c, b) < 0)
		return -1;
	swb_edge_wire_mark(e, c);
	return 0;
}

static swb_buf *queue_pop(swb_edge *e, swb_edge_conn *c)
{
	swb_buf *b = c->q[c->q_head];
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_n--;
	c->q_bytes -= b->len;
	e->queued_bytes -= b->len;
	return b;
}

/* One send() of queued frames: the head frame as is (zero copy) when it is
 * alone or too big to pack, else as many whole frames as fit in
 * SWB_EDGE_COALESCE_MAX, framed into one buffer and written raw (lws adds
 * nothing to LWS_WRITE_RAW on a ws connection; we use no extensions). */
static int write_some(swb_edge *e, swb_edge_conn *c)
{
	static unsigned char pack[LWS_PRE + SWB_EDGE_COALESCE_MAX];
	swb_buf *b = c->q[c->q_head];
	size_t first = swb_edge_wire_size(b->len);
	if (c->q_n == 1 || first + swb_edge_wire_size(c->q[(c->q_head + 1) % c->q_cap]->len) >
				  SWB_EDGE_COALESCE_MAX) {
		b = queue_pop(e, c);
		int n = lws_write(c->wsi, swb_buf_payload(b), b->len, LWS_WRITE_TEXT);
		e->st.messages_out++;
		e->st.bytes_out += b->len;
		swb_buf_unref(b);
		return n < 0 ? -1 : 0;
	}
	size_t used = 0;
	while (c->q_n && used + swb_edge_wire_size(c->q[c->q_head]->len) <= SWB_EDGE_COALESCE_MAX) {
		b = queue_pop(e, c);
		used += swb_edge_wire_frame(pack + LWS_PRE + used, swb_buf_payload(b), b->len);
		e->st.messages_out++;
		e->st.bytes_out += b->len;
		swb_buf_unref(b);
	}
	e->st.coalesced_sends++;
	return lws_write(c->wsi, pack + LWS_PRE, used, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* Write the queue (bounded for fairness), stopping as soon as lws had to
 * buffer part of a write. -1 = write error. */
static int write_queue(swb_edge *e, swb_edge_conn *c)
{
	for (int i = 0; i < SWB_EDGE_SENDS_PER_TURN && c->q_n; i++) {
		if (lws_partial_buffered(c->wsi))
			break;
		if (write_some(e, c) < 0)
			return -1;
	}
	return 0;
}

/* Whether queued frames may be written now, outside SERVER_WRITEABLE: not
 * when a close or ping must go first (from SERVER_WRITEABLE), nor while
 * lws holds part of an earlier write. */
static bool writable_now(swb_edge_conn *c)
{
	return !c->close_code && !c->ping_due && !lws_partial_buffered(c->wsi);
}

void swb_edge_conn_flush(swb_edge *e, swb_edge_conn *c)
{
	if (!c->q_n)
		return;
	if (!writable_now(c)) {
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (write_queue(e, c) < 0) {
		swb_edge_conn_close(e, c, 1011, "Write failed", true);
		return;
	}
	if (c->q_n)
		lws_callback_on_writable(c->wsi);
}

/* For uring.c: when c's whole queue is one frame and nothing else waits on
 * c (no close, ping or partly written frame) and it is plain TCP, write
 * the frame header into the headroom in front of the payload (a frame
 * shared by many subscribers gets the same bytes each time, as lws_write
 * does it) and give the frame's wire bytes. */
bool swb_edge_conn_one_frame(swb_edge_conn *c, const unsigned char **p, size_t *len)
{
	if (c->q_n != 1 || lws_is_ssl(c->wsi) || !writable_now(c))
		return false;
	swb_buf *b = c->q[c->q_head];
	unsigned char h[10];
	size_t hl = swb_edge_wire_header(h, b->len);
	if (b->headroom < hl)
		return false;
	unsigned char *dst = swb_buf_payload(b) - hl;
	memcpy(dst, h, hl);
	*p = dst;
	*len = hl + b->len;
	return true;
}

/* The outcome (bytes or -errno) of sending that frame (p, len) by other
 * means than lws: all of it; part of it (lws gets the rest, and sends it
 * before anything else once the socket is writable); nothing (the socket
 * is full: the writable callback writes it); or an error (closed, 1011). */
void swb_edge_conn_one_frame_sent(swb_edge *e, swb_edge_conn *c, const unsigned char *p, size_t len, int res)
{
	if (res == 0 || res == -EAGAIN || res == -EINTR) {
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (res < 0) {
		swb_edge_conn_close(e, c, 1011, "Write failed", true);
		return;
	}
	int rc = 0;
	if ((size_t)res < len) {
		size_t rest = len - (size_t)res;
		unsigned char *tmp = malloc(LWS_PRE + rest);
		if (tmp) {
			memcpy(tmp + LWS_PRE, p + res, rest);
			rc = lws_write(c->wsi, tmp + LWS_PRE, rest, LWS_WRITE_RAW);
			free(tmp);
		}
		e->st.partial_sends++;
		if (!tmp || rc < 0)
			rc = -1;
	}
	swb_buf *b = queue_pop(e, c); /* on the wire, whole or (the rest with lws) in part */
	e->st.messages_out++;
	e->st.bytes_out += b->len;
	swb_buf_unref(b);
	if (rc < 0)
		swb_edge_conn_close(e, c, 1011, "Write failed", true);
}

int swb_edge_conn_send_new(swb_edge *e, swb_edge_conn *c, swb_buf *b)
{
	if (!b) {
		swb_edge_conn_close(e, c, 1011, "Out of memory", true);
		return -1;
	}
	int rc = swb_edge_conn_send(e, c, b);
	swb_buf_unref(b);
	return rc;
}

void swb_edge_conn_close(swb_edge *e, swb_edge_conn *c, int code, const char *reason, bool drop)
{
	if (c->close_code)
		return;
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	if (drop)
		queue_clear(e, c);
	list_unlink(e, c);
	/* If the peer never lets us write the close frame, lws kills it. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, SWB_EDGE_CLOSE_GRACE_S);
	lws_callback_on_writable(c->wsi);
}

/* Drop c without writing another byte, not even a close frame: its byte
 * stream is in an unknown state (uring.c: a send whose outcome was lost;
 * it may have left part of a frame on the wire). lws closes the socket on
 * its next service; the queue goes now. */
void swb_edge_conn_abort(swb_edge *e, swb_edge_conn *c, const char *reason)
{
	if (!c->close_code) {
		c->close_code = 1006;
		snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	}
	c->close_sent = true; /* write_close() writes nothing */
	c->ping_due = false;
	queue_clear(e, c);
	list_unlink(e, c);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void swb_edge_conn_activity(swb_edge *e, swb_edge_conn *c)
{
	if (c->close_code)
		return;
	list_unlink(e, c);
	list_append(e, c, SWB_EDGE_LIVE_ACTIVE, swb_mono_ms());
}

/* Write our close frame ourselves. lws 4.1 only sends a close frame when
 * it closes from inside rx handling: returning -1 from SERVER_WRITEABLE or
 * a timeout close drops the socket without one (checked). 4 is lws's
 * internal LWS_WRITE_CLOSE opcode (the public header leaves it out). The
 * peer's answering close then ends the connection (server.c), or the
 * timeout does. */
#define SWB_EDGE_WRITE_CLOSE ((enum lws_write_protocol)4)

static int write_close(swb_edge_conn *c)
{
	unsigned char buf[LWS_PRE + 2 + sizeof(c->close_reason)];
	size_t rl = strlen(c->close_reason);
	if (c->close_sent)
		return 0;
	buf[LWS_PRE] = (unsigned char)((c->close_code >> 8) & 0xff);
	buf[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
	memcpy(buf + LWS_PRE + 2, c->close_reason, rl);
	c->close_sent = true;
	if (lws_write(c->wsi, buf + LWS_PRE, 2 + rl, SWB_EDGE_WRITE_CLOSE) < 0)
		return -1;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, SWB_EDGE_CLOSE_GRACE_S);
	return 0;
}

int swb_edge_conn_writeable(swb_edge *e, swb_edge_conn *c)
{
	if (c->close_code && c->q_n == 0)
		return write_close(c);
	if (c->ping_due) {
		/* lws 4.1 does not call RECEIVE_PONG for an empty pong, so the
		 * ping carries one byte that the peer echoes. */
		unsigned char ping[LWS_PRE + 1];
		ping[LWS_PRE] = 'p';
		c->ping_due = false;
		if (lws_write(c->wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0)
			return -1;
	}
	/* What the socket takes now, several frames per send (bounded for
	 * fairness): a reader that keeps up never lets its queue grow. */
	if (write_queue(e, c) < 0)
		return -1;
	if (c->q_n || (c->close_code && !c->close_sent) || c->ping_due)
		lws_callback_on_writable(c->wsi);
	return 0;
}

void swb_edge_conn_tick(swb_edge *e, uint64_t now)
{
	uint64_t idle = (uint64_t)e->cfg.activity_timeout * 1000;
	uint64_t pong = (uint64_t)e->cfg.pong_timeout * 1000;
	swb_edge_conn *c;
	while ((c = e->active.head) && now - c->live_ms >= idle) {
		list_unlink(e, c);
		list_append(e, c, SWB_EDGE_LIVE_PINGED, now);
		c->ping_due = true;
		lws_callback_on_writable(c->wsi);
	}
	while ((c = e->pinged.head) && now - c->live_ms >= pong) {
		swb_debug("%s: no pong within %llu ms, closing 4201", c->socket_id, (unsigned long long)pong);
		swb_edge_conn_close(e, c, 4201, "Pong reply not received", true);
	}
}
