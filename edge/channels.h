/* channels.h: the local channel index, (app_id, channel) -> the set of
 * subscribers on this edge, with O(1) add and remove.
 *
 * Each subscriber owns a swb_edge_subs (its list of subscriptions); each
 * channel owns an array of members. A member records the index of the
 * matching entry in the subscriber's list and vice versa, so both sides can
 * swap-remove in O(1).
 *
 * A member may be "waiting": subscribed, but not yet told so (its
 * subscription_succeeded waits until the bridge confirms that the edge's
 * interest in the channel is live, see sub_wait.c); fan-out skips it. A
 * channel is "ready" from that confirmation until the bridge link goes
 * down; members added to a ready channel never wait. Pure data structure:
 * no lws, unit-testable. */
#ifndef SWB_EDGE_CHANNELS_H
#define SWB_EDGE_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

struct swb_edge_chan;

typedef struct swb_edge_sub {
	struct swb_edge_chan *chan;
	uint32_t pos;                 /* index in chan->members */
} swb_edge_sub;

typedef struct swb_edge_subs {
	swb_edge_sub *v;              /* owned by the subscriber, freed when empty */
	uint32_t n, cap;
	void *owner;                  /* the subscriber (a connection) */
} swb_edge_subs;

typedef struct swb_edge_member {
	swb_edge_subs *subs;
	uint32_t idx;                 /* index in subs->v */
	bool waiting;                 /* not told subscription_succeeded yet */
} swb_edge_member;

typedef struct swb_edge_chan {
	UT_hash_handle hh;
	swb_edge_member *members;     /* owned */
	uint32_t n, cap;
	uint32_t n_waiting;           /* members waiting */
	bool ready;                   /* the bridge confirmed the interest (this link) */
	uint64_t want_seq;            /* Interest.seq of the last add sent for it */
	const char *app_id, *name;    /* point into key */
	size_t app_len, name_len;
	size_t key_len;
	char key[];                   /* "app\0channel\0" */
} swb_edge_chan;

typedef struct swb_edge_chans {
	swb_edge_chan *by_key;
	size_t waiting;               /* waiting members over all channels */
	size_t members;               /* members over all channels: every subscriber's subs.n summed */
} swb_edge_chans;

/* Called for a channel that just lost its last local subscriber, before it
 * is freed. */
typedef void (*swb_edge_chan_last_cb)(void *ctx, const swb_edge_chan *c);

void swb_edge_chans_init(swb_edge_chans *x);
/* Frees every channel; subscriber lists are left to their owners. */
void swb_edge_chans_fini(swb_edge_chans *x);
size_t swb_edge_chans_count(const swb_edge_chans *x);
swb_edge_chan *swb_edge_chan_find(const swb_edge_chans *x, const char *app, size_t app_len,
				  const char *ch, size_t ch_len);

/* Subscribe. Returns 0 (and *first says whether the channel is new),
 * -EEXIST if already subscribed, -E2BIG if subs already holds max entries,
 * -ENOMEM. With may_wait and a channel that is not ready, the new member
 * waits (*waiting = true; waiting may be NULL). */
int swb_edge_chan_add(swb_edge_chans *x, swb_edge_subs *subs, uint32_t max, const char *app,
		      size_t app_len, const char *ch, size_t ch_len, bool may_wait, bool *first, bool *waiting);
/* Unsubscribe. Returns 0 (calls last_cb if it was the last member) or
 * -ENOENT if not subscribed. */
int swb_edge_chan_remove(swb_edge_chans *x, swb_edge_subs *subs, const char *app, size_t app_len,
			 const char *ch, size_t ch_len, swb_edge_chan_last_cb last_cb, void *ctx);
/* Called for each member of a channel that stops waiting, with its
 * subscriber (subs->owner). Must not add or remove members. */
typedef void (*swb_edge_chan_told_cb)(void *ctx, void *owner, const swb_edge_chan *c);
/* The channel is ready: every waiting member stops waiting (told_cb for
 * each, in member order). Returns how many did. */
uint32_t swb_edge_chan_set_ready(swb_edge_chans *x, swb_edge_chan *c, swb_edge_chan_told_cb told_cb, void *ctx);
/* No channel is ready any more (bridge link lost); members keep their state. */
void swb_edge_chans_unready(swb_edge_chans *x);
/* Is subs subscribed to c and waiting? */
bool swb_edge_chan_waiting(const swb_edge_chan *c, const swb_edge_subs *subs);

/* Drop every subscription of subs (connection close) and free subs->v. */
void swb_edge_chan_remove_all(swb_edge_chans *x, swb_edge_subs *subs, swb_edge_chan_last_cb last_cb,
			      void *ctx);

#endif
