/* hold.c: deliveries held back for an edge while one of its presence joins
 * on that channel waits for Redis.
 *
 * Why: the join's member list is read on the cmd connection, events come
 * on the sub connection. An event published right after the read (a
 * member_added) can reach the bridge before the read's reply; forwarded at
 * once, it would reach the edge before the joining connection is
 * subscribed there (the edge subscribes it on PresenceJoined), and that
 * connection would miss it for good. So from the join until its answer,
 * deliveries of that channel to that edge are queued here, then sent right
 * after the answer (same per-edge queue: order kept). Events published
 * before the read may then arrive twice in effect (already in the list):
 * a member_added for a known member, a member_removed for an unknown one,
 * both harmless to Pusher clients.
 *
 * Owns every swb_bridge_hold (keyed by pipe id + Redis channel name) and
 * the messages queued in it; bounded per hold (HOLD_MAX_MSGS /
 * HOLD_MAX_BYTES: beyond that, the hold is released early). */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

#define HOLD_MAX_MSGS 10000
#define HOLD_MAX_BYTES (8u * 1024 * 1024)

typedef struct swb_bridge_hold {
	char key[4 + SWB_BRIDGE_CHAN_NAME_MAX + 1]; /* pipe id bytes + channel name */
	size_t key_len;
	uint32_t pipe_id;
	uint32_t joins;  /* joins in flight */
	bool provisional; /* the edge was made interested here (see begin), or
			   * its Interest(remove) came while held: decided at release */
	bool any_ok;      /* a join was answered ok: the edge subscribes itself */
	nng_msg **q;     /* owned */
	size_t n, cap, bytes;
	UT_hash_handle hh;
} swb_bridge_hold;

static size_t hold_key(char *key, uint32_t pipe_id, const char *name, size_t len)
{
	memcpy(key, &pipe_id, 4);
	memcpy(key + 4, name, len);
	return 4 + len;
}

static swb_bridge_hold *hold_find(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len)
{
	char key[4 + SWB_BRIDGE_CHAN_NAME_MAX + 1];
	swb_bridge_hold *h = NULL;
	if (len > SWB_BRIDGE_CHAN_NAME_MAX)
		return NULL;
	HASH_FIND(hh, b->holds, key, hold_key(key, pipe_id, name, len), h);
	return h;
}

static bool is_member(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len)
{
	swb_bridge_chan *ch = swb_bridge_interest_find(&b->interest, name, len);
	for (uint32_t i = 0; ch && i < ch->n; i++)
		if (ch->members[i].edge == pipe_id)
			return true;
	return false;
}

/* The edge declares interest only once the joining connection is
 * subscribed (after the answer): until then the bridge makes it
 * interested itself, so events of the channel reach this host (SUBSCRIBE)
 * and get queued here instead of passing the edge by. */
void swb_bridge_hold_begin(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len)
{
	swb_bridge_hold *h = hold_find(b, pipe_id, name, len);
	if (!h && len <= SWB_BRIDGE_CHAN_NAME_MAX && (h = calloc(1, sizeof(*h))) != NULL) {
		h->pipe_id = pipe_id;
		h->key_len = hold_key(h->key, pipe_id, name, len);
		HASH_ADD(hh, b->holds, key, h->key_len, h);
		h->provisional = !is_member(b, pipe_id, name, len) &&
				 swb_bridge_interest_add(&b->interest, name, len, pipe_id, 0) == 0;
	}
	if (h)
		h->joins++;
}

/* Send what h queued (in order) and free it. A provisional interest stays
 * if a join succeeded (the edge now subscribes and declares it itself). */
static void release(swb_bridge *b, swb_bridge_hold *h)
{
	HASH_DEL(b->holds, h);
	if (h->provisional && !h->any_ok)
		swb_bridge_interest_remove(&b->interest, h->key + 4, h->key_len - 4, h->pipe_id);
	for (size_t i = 0; i < h->n; i++)
		swb_bridge_edges_send(b, h->pipe_id, h->q[i]);
	free(h->q);
	free(h);
}

bool swb_bridge_hold_defer_remove(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len)
{
	swb_bridge_hold *h = b->holds ? hold_find(b, pipe_id, name, len) : NULL;
	if (h)
		h->provisional = true;
	return h != NULL;
}

void swb_bridge_hold_sync_keep(swb_bridge *b, uint32_t pipe_id, uint32_t gen)
{
	swb_bridge_hold *h, *tmp;
	HASH_ITER(hh, b->holds, h, tmp) {
		if (h->pipe_id != pipe_id)
			continue;
		swb_bridge_chan *ch = swb_bridge_interest_find(&b->interest, h->key + 4, h->key_len - 4);
		swb_bridge_member *m = ch ? swb_bridge_interest_member(ch, pipe_id) : NULL;
		if (m && m->gen != gen) {
			m->gen = gen;
			h->provisional = true;
		}
	}
}

void swb_bridge_hold_end(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len, bool ok)
{
	swb_bridge_hold *h = hold_find(b, pipe_id, name, len);
	if (!h)
		return;
	h->any_ok |= ok;
	if (--h->joins == 0)
		release(b, h);
}

static bool push(swb_bridge_hold *h, nng_msg *m)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		nng_msg **q = realloc(h->q, cap * sizeof(*q));
		if (!q)
			return false;
		h->q = q;
		h->cap = cap;
	}
	h->q[h->n++] = m;
	h->bytes += nng_msg_len(m);
	return true;
}

bool swb_bridge_hold_take(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len, nng_msg *m)
{
	swb_bridge_hold *h = b->holds ? hold_find(b, pipe_id, name, len) : NULL;
	if (!h)
		return false;
	if (h->n >= HOLD_MAX_MSGS || h->bytes + nng_msg_len(m) > HOLD_MAX_BYTES || !push(h, m)) {
		h->any_ok = true; /* too much: give up holding (keeping the order and the interest) */
		release(b, h);
		return false;
	}
	return true;
}

/* pipe_id 0: every hold (shutdown). */
void swb_bridge_hold_edge_gone(swb_bridge *b, uint32_t pipe_id)
{
	swb_bridge_hold *h, *tmp;
	HASH_ITER(hh, b->holds, h, tmp) {
		if (pipe_id && h->pipe_id != pipe_id)
			continue;
		HASH_DEL(b->holds, h);
		for (size_t i = 0; i < h->n; i++)
			nng_msg_free(h->q[i]);
		free(h->q);
		free(h);
	}
}
