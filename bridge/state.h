/* state.h: this host's share of the cluster state, aggregated in memory
 * over every local edge (issue #3, docs/cluster-state.md).
 *
 * Occupancy: per (app, channel), each edge's absolute subscription count
 * (ChannelCounts) and their sum, the host total. Presence: per (app,
 * channel), the users present on this host, each with the connections
 * (edge, socket_id) that joined, and the user_info of the first join.
 *
 * The table owns every swb_bridge_occ / pchan / puser. It is pure data: the
 * owner (occupancy.c, presence.c) decides what a transition means for
 * Redis. It is the source of truth for this host: after a Redis outage
 * the owner re-applies it. Sizes are bounded (SWB_BRIDGE_STATE_MAX_*). */
#ifndef SWB_BRIDGE_STATE_H
#define SWB_BRIDGE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "names.h"

#define SWB_BRIDGE_USER_MAX 128
/* "APP\nCHANNEL": the key of every per-channel entry. */
#define SWB_BRIDGE_KEY_MAX (SWB_APP_ID_MAX + 1 + SWB_CHANNEL_NAME_MAX)
#define SWB_BRIDGE_STATE_MAX_CHANS 1000000 /* occupancy entries */
#define SWB_BRIDGE_STATE_MAX_CONNS 1000000 /* presence connections */
#define SWB_BRIDGE_INFO_MAX 4096           /* user_info bytes kept */

typedef struct swb_bridge_edgecount {
	uint32_t edge;  /* NNG pipe id */
	uint32_t count;
} swb_bridge_edgecount;

typedef struct swb_bridge_occ {
	char key[SWB_BRIDGE_KEY_MAX + 1]; /* "APP\nCHANNEL" (hash key) */
	size_t app_len, key_len;
	swb_bridge_edgecount *per_edge;   /* owned */
	uint32_t n, cap;
	uint64_t total;    /* sum over edges: this host's count */
	/* owner's bookkeeping (occupancy.c) */
	uint64_t sent;     /* value of the occ_set in flight */
	uint64_t applied;  /* value Redis last confirmed */
	bool inflight;
	UT_hash_handle hh;
} swb_bridge_occ;

typedef struct swb_bridge_pconn {
	uint32_t edge;
	char socket_id[SWB_SOCKET_ID_MAX + 1];
} swb_bridge_pconn;

typedef struct swb_bridge_puser {
	char id[SWB_BRIDGE_USER_MAX + 1]; /* hash key */
	char *info;      /* owned raw JSON of the first join (may be NULL) */
	size_t info_len;
	swb_bridge_pconn *conns; /* owned */
	uint32_t n, cap;
	UT_hash_handle hh;
} swb_bridge_puser;

typedef struct swb_bridge_pchan {
	char key[SWB_BRIDGE_KEY_MAX + 1]; /* "APP\nCHANNEL" (hash key) */
	size_t app_len, key_len;
	swb_bridge_puser *users; /* owned */
	uint32_t nusers;
	UT_hash_handle hh;
} swb_bridge_pchan;

typedef struct swb_bridge_state {
	swb_bridge_occ *occ;     /* owned */
	swb_bridge_pchan *pres;  /* owned */
	size_t nocc, nconns;
} swb_bridge_state;

/* Called for each transition while an edge's entries are dropped. */
typedef struct swb_bridge_state_cbs {
	void (*occ_changed)(void *ctx, swb_bridge_occ *o); /* total changed */
	/* the user's last connection on this host left; the puser is freed
	 * right after the call */
	void (*user_left)(void *ctx, swb_bridge_pchan *pc, swb_bridge_puser *u);
	void *ctx;
} swb_bridge_state_cbs;

void swb_bridge_state_init(swb_bridge_state *st);
void swb_bridge_state_fini(swb_bridge_state *st);

/* Build "APP\nCHANNEL" into key (SWB_BRIDGE_KEY_MAX + 1). -1 if too long. */
int swb_bridge_state_key(char *key, const char *app, const char *chan);
/* The channel part of a key. */
static inline const char *swb_bridge_key_chan(const char *key, size_t app_len)
{
	return key + app_len + 1;
}

swb_bridge_occ *swb_bridge_state_occ_find(swb_bridge_state *st, const char *app, const char *chan);
/* Set `edge`'s count for (app, chan). Returns the entry (NULL: out of
 * memory / too many channels / name too long); *changed tells whether the
 * host total changed. */
swb_bridge_occ *swb_bridge_state_count(swb_bridge_state *st, const char *app, const char *chan, uint32_t edge,
				       uint32_t count, bool *changed);
/* Free o if its total is 0 (the owner knows Redis needs nothing more). */
bool swb_bridge_state_occ_release(swb_bridge_state *st, swb_bridge_occ *o);

swb_bridge_pchan *swb_bridge_state_pchan_find(swb_bridge_state *st, const char *app, const char *chan);
swb_bridge_puser *swb_bridge_state_user_find(swb_bridge_pchan *pc, const char *user);

enum { SWB_JOIN_FIRST = 1, SWB_JOIN_MORE = 0, SWB_JOIN_ERR = -1 };
/* Connection (edge, socket) of `user` joined (app, chan). Returns
 * SWB_JOIN_FIRST when it is the user's first connection on this host
 * (0 -> 1), SWB_JOIN_MORE when the user was already present (also when
 * the same connection joins twice), SWB_JOIN_ERR when refused. */
int swb_bridge_state_join(swb_bridge_state *st, const char *app, const char *chan, const char *user,
			  const char *info, size_t info_len, uint32_t edge, const char *socket_id);
/* Connection left. Returns 1 if it was the user's last on this host (the
 * user is gone from the table), 0 if not, -1 if unknown. */
int swb_bridge_state_leave(swb_bridge_state *st, const char *app, const char *chan, const char *user,
			   uint32_t edge, const char *socket_id);
/* Drop everything `edge` contributed, reporting transitions via cbs. */
void swb_bridge_state_edge_gone(swb_bridge_state *st, uint32_t edge, const swb_bridge_state_cbs *cbs);

/* A user id we accept: 1..128 bytes, no control characters. */
bool swb_bridge_user_id_valid(const char *s, size_t n);

#endif
