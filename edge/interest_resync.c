/* interest_resync.c: getting the bridge's view of this edge's interests
 * right again after an Interest could not be sent, without a reconnect.
 *
 * Why: Interests go out by a non-blocking send on the pair1 socket
 * (bridge_link.c). When its queue is full (a bridge that does not read)
 * or an allocation fails, the message is lost: a lost add leaves the
 * channel's subscribers waiting for an InterestReady that never comes
 * (sub_wait.c), a lost remove leaves the bridge (and Redis) subscribed
 * for nothing. So a failed send marks the set dirty and a timer (backoff
 * RESYNC_MIN_MS .. RESYNC_MAX_MS) re-sends the whole current set as an
 * InterestSync, which the bridge takes as a replacement (adds what is
 * missing and answers those adds with InterestReady, drops what is
 * absent). A channel that is ready goes with seq 0 (no answer needed), a
 * waiting one with the seq of its last add (want_seq): the answer to
 * either the lost add or the re-sent one confirms it. A set larger than
 * SWB_EDGE_SYNC_CHUNK goes in chunks (InterestSync.more / continued) when
 * the bridge said Welcome.sync_chunks; an older bridge gets only the adds
 * (send_adds says why). Any send failing keeps the set dirty for the
 * next try. When the link goes down the episode ends: the next pipe's
 * Hello + InterestSync carries it.
 * Logged once per episode (start, end); counted in e->st.interest_resyncs.
 *
 * Owns e->resync (its timer included). */
#include <stdlib.h>

#include "edge.h"
#include "log.h"
#include "switchboard.pb-c.h"

#define RESYNC_MIN_MS 20
#define RESYNC_MAX_MS 2000

static void on_resync_timer(uv_timer_t *t);

void swb_edge_resync_init(swb_edge *e)
{
	uv_timer_init(&e->loop, &e->resync.timer);
	e->resync.timer.data = e;
	e->resync.inited = true;
}

void swb_edge_resync_fini(swb_edge *e)
{
	if (!e->resync.inited)
		return;
	e->resync.inited = false;
	uv_close((uv_handle_t *)&e->resync.timer, NULL);
}

static void arm(swb_edge *e)
{
	if (e->resync.inited && !uv_is_active((uv_handle_t *)&e->resync.timer))
		uv_timer_start(&e->resync.timer, on_resync_timer, e->resync.backoff_ms, 0);
}

void swb_edge_resync_needed(swb_edge *e, const char *what)
{
	e->resync.failed_sends++;
	if (e->resync.dirty)
		return;
	e->resync.dirty = true;
	e->resync.failed_sends = 1;
	e->resync.backoff_ms = RESYNC_MIN_MS;
	swb_warn("could not send %s to the bridge (send queue full?): the interest set will be re-sent", what);
	arm(e);
}

void swb_edge_resync_link_changed(swb_edge *e)
{
	if (e->resync.dirty)
		swb_info("bridge link changed: its Hello + InterestSync replace the pending interest resync");
	e->resync.dirty = false;
	if (e->resync.inited)
		uv_timer_stop(&e->resync.timer);
}

/* One InterestSync of entries [0, n) of items. */
static int send_chunk(swb_edge *e, Swb__Interest **ptrs, size_t n, bool more, bool continued)
{
	Swb__InterestSync s = SWB__INTEREST_SYNC__INIT;
	s.n_channels = n;
	s.channels = ptrs;
	s.more = more;
	s.continued = continued;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_SYNC;
	m.sync = &s;
	return swb_edge_link_send(e, &m);
}

/* A set too big for one InterestSync, to a bridge that cannot take it in
 * chunks: a replacement would drop (and UNSUBSCRIBE) every channel beyond
 * the first chunk until its Interest add follows, and those adds may not
 * all fit in the send queue either. So only the adds are re-sent (for
 * the channels still waiting, or all with a bridge that confirms
 * nothing): they change nothing for channels the bridge has. A lost
 * remove stays until the next pipe (logged). */
static int send_adds(swb_edge *e)
{
	uint64_t before = e->resync.failed_sends;
	swb_edge_chan *c, *tmp;
	HASH_ITER(hh, e->chans.by_key, c, tmp) {
		if (!c->ready || e->bridge_legacy)
			swb_edge_link_interest(e, c->app_id, c->app_len, c->name, c->name_len, true,
					       c->ready ? 0 : c->want_seq);
		if (e->resync.failed_sends != before)
			return -1; /* the queue is full again: the next try goes on */
	}
	swb_warn("the bridge takes no chunked InterestSync: re-sent the Interest adds only; a lost remove "
		 "stays until the bridge link reconnects");
	return 0;
}

/* The whole set: 0 when every message went out. */
static int send_set(swb_edge *e)
{
	size_t total = swb_edge_chans_count(&e->chans);
	if (total > SWB_EDGE_SYNC_CHUNK && !e->bridge_sync_chunks)
		return send_adds(e);
	size_t cap = total < SWB_EDGE_SYNC_CHUNK ? total : SWB_EDGE_SYNC_CHUNK, n = 0, sent = 0;
	Swb__Interest *items = calloc(cap ? cap : 1, sizeof(*items));
	Swb__Interest **ptrs = calloc(cap ? cap : 1, sizeof(*ptrs));
	int rc = items && ptrs ? 0 : -1;
	swb_edge_chan *c, *tmp;
	HASH_ITER(hh, e->chans.by_key, c, tmp) {
		if (rc < 0)
			break;
		swb__interest__init(&items[n]);
		items[n].app_id = (char *)c->app_id;
		items[n].channel = (char *)c->name;
		items[n].add = true;
		items[n].seq = c->ready ? 0 : c->want_seq;
		ptrs[n] = &items[n];
		if (++n == cap) {
			rc = send_chunk(e, ptrs, n, sent + n < total, sent > 0);
			sent += n;
			n = 0;
		}
	}
	if (rc == 0 && (n || !total)) /* the last part, or the empty set */
		rc = send_chunk(e, ptrs, n, false, sent > 0);
	free(items);
	free(ptrs);
	return rc;
}

static void on_resync_timer(uv_timer_t *t)
{
	swb_edge *e = t->data;
	if (!e->resync.dirty || e->stopping)
		return;
	if (!swb_edge_link_up(e)) {
		swb_edge_resync_link_changed(e);
		return;
	}
	bool big = swb_edge_chans_count(&e->chans) > SWB_EDGE_SYNC_CHUNK;
	/* a big set waits for the Welcome that says whether chunks work */
	uint64_t fails = e->resync.failed_sends;
	if ((!big || swb_edge_link_ready(e)) && send_set(e) == 0) {
		e->resync.dirty = false;
		e->st.interest_resyncs++;
		swb_info("interest set re-sent to the bridge (%zu channels; %llu sends had failed)",
			 swb_edge_chans_count(&e->chans), (unsigned long long)fails);
		return;
	}
	e->resync.backoff_ms = e->resync.backoff_ms * 2 > RESYNC_MAX_MS ? RESYNC_MAX_MS : e->resync.backoff_ms * 2;
	arm(e);
}
