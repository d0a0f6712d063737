/* interest.h: the host's interest table, (app_id, channel) -> the set of
 * local edges that hold subscribers for it.
 *
 * Keyed by the Redis channel name "PREFIX:APP:ch:CHANNEL" (the subscribe
 * connection hands exactly that name back). The table owns every
 * swb_bridge_chan. It tells its owner through `changed` when a channel's
 * edge set goes empty -> non-empty or non-empty -> empty; the owner decides
 * what that means for Redis (sub_state) and calls
 * swb_bridge_interest_release() once a channel with no edges needs no more
 * Redis bookkeeping. Pure data structure: no Redis, no NNG, no loop. */
#ifndef SWB_BRIDGE_INTEREST_H
#define SWB_BRIDGE_INTEREST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

/* Longest Redis channel name we build: prefix + app + ":ch:" + channel. */
#define SWB_BRIDGE_CHAN_NAME_MAX 320

/* What the subscribe connection has been told about a channel. */
enum swb_bridge_sub_state {
	SWB_SUB_NONE = 0, /* not subscribed (and nothing pending) */
	SWB_SUB_ON,       /* SUBSCRIBE sent (confirmed or not) */
	SWB_SUB_LEAVING,  /* UNSUBSCRIBE sent, confirmation pending */
};

typedef struct swb_bridge_member {
	uint32_t edge; /* NNG pipe id of the edge */
	uint32_t gen;  /* sync generation that last named it */
	uint64_t seq;  /* Interest.seq of its last add awaiting InterestReady; 0: none */
} swb_bridge_member;

typedef struct swb_bridge_chan {
	char *name;    /* owned, NUL-terminated Redis channel name (hash key) */
	size_t len;
	swb_bridge_member *members; /* owned array */
	uint32_t n, cap;
	int sub_state; /* enum swb_bridge_sub_state, managed by the owner */
	bool confirmed; /* owner: Redis confirmed the SUBSCRIBE (sub_state ON) */
	UT_hash_handle hh;
} swb_bridge_chan;

struct swb_bridge_interest;
/* Called when ch->n went 0 -> 1 or 1 -> 0. May release ch. */
typedef void swb_bridge_chan_changed_fn(void *ctx, swb_bridge_chan *ch);

typedef struct swb_bridge_interest {
	swb_bridge_chan *chans; /* uthash head */
	size_t wanted;          /* channels with at least one edge */
	uint32_t gen;
	swb_bridge_chan_changed_fn *changed;
	void *ctx;
} swb_bridge_interest;

void swb_bridge_interest_init(swb_bridge_interest *t, swb_bridge_chan_changed_fn *fn, void *ctx);
/* Free every channel without calling `changed`. */
void swb_bridge_interest_fini(swb_bridge_interest *t);

/* Build "PREFIX:APP:ch:CHANNEL" into out (SWB_BRIDGE_CHAN_NAME_MAX + 1
 * bytes). Returns the length, or -1 if it does not fit. */
int swb_bridge_chan_name(char *out, const char *prefix, const char *app, size_t app_len,
			 const char *chan, size_t chan_len);

swb_bridge_chan *swb_bridge_interest_find(swb_bridge_interest *t, const char *name, size_t len);
/* Edge `edge` is interested in `name`. Returns 0, or -1 on allocation
 * failure. Adding twice is harmless. seq != 0 becomes the member's seq
 * (an InterestReady is owed for it); 0 leaves it as it was. */
int swb_bridge_interest_add(swb_bridge_interest *t, const char *name, size_t len, uint32_t edge, uint64_t seq);
/* Edge `edge` no longer is. Unknown names / non-members are ignored. */
void swb_bridge_interest_remove(swb_bridge_interest *t, const char *name, size_t len, uint32_t edge);
/* Drop every interest of `edge` (edge gone). */
void swb_bridge_interest_remove_edge(swb_bridge_interest *t, uint32_t edge);

/* Replace an edge's whole set: begin, mark each channel with _sync_add,
 * then _sync_end removes the edge from every channel not marked. */
uint32_t swb_bridge_interest_sync_begin(swb_bridge_interest *t);
int swb_bridge_interest_sync_add(swb_bridge_interest *t, const char *name, size_t len, uint32_t edge,
				 uint32_t gen, uint64_t seq);
void swb_bridge_interest_sync_end(swb_bridge_interest *t, uint32_t edge, uint32_t gen);

/* The member of ch for `edge`, or NULL. */
swb_bridge_member *swb_bridge_interest_member(swb_bridge_chan *ch, uint32_t edge);

/* Split a Redis channel name built by swb_bridge_chan_name with `prefix`
 * back into app and channel (pointers into name, not NUL-terminated).
 * Returns 0, or -1 if name is not of that shape. */
int swb_bridge_chan_split(const char *prefix, const char *name, size_t len, const char **app, size_t *app_len,
			  const char **chan, size_t *chan_len);

/* Number of channels `edge` belongs to (walks the table). */
size_t swb_bridge_interest_edge_count(const swb_bridge_interest *t, uint32_t edge);
/* Free ch if it has no edges. The owner calls this when ch needs no more
 * Redis bookkeeping. Returns true if it was freed. */
bool swb_bridge_interest_release(swb_bridge_interest *t, swb_bridge_chan *ch);

#endif
