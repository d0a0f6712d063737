/* park.c: presence joins and cache reads parked until this host's
 * SUBSCRIBE of their channel is confirmed by Redis.
 *
 * Why: a join reads the member list, a cache read the channel's last
 * event, on the cmd connection. If this host was not subscribed to the
 * channel yet, Redis could run that read before the SUBSCRIBE, and an
 * event published in between (a member_added; the next cache event)
 * would never reach this host. So such a request waits here: hold.c makes
 * the edge interested (which SUBSCRIBEs) and holds deliveries, redis.c
 * reports the confirmation (swb_bridge_presence_subscribed) and the
 * request then runs as usual. One parked longer than PARK_MAX_MS (the sub
 * connection is down) is refused: a join with "redis unavailable", a
 * cache read as a miss (as when Redis is down).
 *
 * Owns the parked list (FIFO, at most PARK_MAX entries) and each entry's
 * packed EdgeMsg (a PresenceJoin or a CacheGet). */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "log.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define PARK_MAX 100000
#define PARK_MAX_MS 2000

typedef struct swb_bridge_parked {
	struct swb_bridge_parked *next;
	uint32_t pipe_id;
	uint64_t since_ms;
	char name[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	size_t len;
	uint8_t *msg; /* owned packed EdgeMsg: presence_join or cache_get */
	size_t msg_len;
} swb_bridge_parked;

static bool park_needed(swb_bridge *b, const char *name, size_t len)
{
	swb_bridge_chan *ch = swb_bridge_interest_find(&b->interest, name, len);
	return !ch || ch->sub_state != SWB_SUB_ON || !ch->confirmed;
}

static int park(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len, const Swb__EdgeMsg *em)
{
	if (b->nparked >= PARK_MAX || len > SWB_BRIDGE_CHAN_NAME_MAX)
		return -1;
	swb_bridge_parked *p = calloc(1, sizeof(*p));
	size_t n = swb__edge_msg__get_packed_size(em);
	if (!p || !(p->msg = malloc(n ? n : 1))) {
		free(p);
		return -1;
	}
	p->msg_len = swb__edge_msg__pack(em, p->msg);
	p->pipe_id = pipe_id;
	p->since_ms = swb_mono_ms();
	memcpy(p->name, name, len);
	p->len = len;
	*(b->parked_tail ? &b->parked_tail->next : &b->parked) = p;
	b->parked_tail = p;
	b->nparked++;
	swb_bridge_hold_begin(b, pipe_id, name, len); /* interest (SUBSCRIBE) + hold */
	return 0;
}

int swb_bridge_park_until_subscribed(swb_bridge *b, uint32_t pipe_id, const char *app, const char *chan,
				     const Swb__EdgeMsg *em)
{
	char name[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	int n = swb_bridge_chan_name(name, b->prefix, app, strlen(app), chan, strlen(chan));
	if (n < 0 || !park_needed(b, name, (size_t)n))
		return 0;
	return park(b, pipe_id, name, (size_t)n, em) < 0 ? -1 : 1;
}

/* Detach every entry for which match() holds into a local list (in order),
 * so that settling one may park again without disturbing the walk. */
static swb_bridge_parked *detach(swb_bridge *b, bool (*match)(const swb_bridge_parked *, const void *),
				 const void *arg)
{
	swb_bridge_parked *out = NULL, **tail = &out, *prev = NULL, *p = b->parked;
	while (p) {
		swb_bridge_parked *next = p->next;
		if (match(p, arg)) {
			*(prev ? &prev->next : &b->parked) = next;
			if (b->parked_tail == p)
				b->parked_tail = prev;
			b->nparked--;
			p->next = NULL;
			*tail = p;
			tail = &p->next;
		} else {
			prev = p;
		}
		p = next;
	}
	return out;
}

/* Run (why NULL) or refuse the parked request p, then free it. */
static void settle(swb_bridge *b, swb_bridge_parked *p, const char *why)
{
	Swb__EdgeMsg *em = swb__edge_msg__unpack(NULL, p->msg_len, p->msg);
	if (em && em->body_case == SWB__EDGE_MSG__BODY_PRESENCE_JOIN && swb_bridge_edge_find(b, p->pipe_id)) {
		if (why)
			swb_bridge_presence_refuse(b, p->pipe_id, em->presence_join->request_id, why);
		else
			swb_bridge_presence_join(b, p->pipe_id, em->presence_join);
	} else if (em && em->body_case == SWB__EDGE_MSG__BODY_CACHE_GET && swb_bridge_edge_find(b, p->pipe_id)) {
		if (why)
			swb_bridge_cache_refuse(b, p->pipe_id, em->cache_get->request_id);
		else
			swb_bridge_cache_get(b, p->pipe_id, em->cache_get);
	}
	if (em)
		swb__edge_msg__free_unpacked(em, NULL);
	swb_bridge_hold_end(b, p->pipe_id, p->name, p->len, false);
	free(p->msg);
	free(p);
}

typedef struct name_arg {
	const char *name;
	size_t len;
} name_arg;

static bool match_name(const swb_bridge_parked *p, const void *arg)
{
	const name_arg *a = arg;
	return p->len == a->len && !memcmp(p->name, a->name, a->len);
}

static bool match_old(const swb_bridge_parked *p, const void *arg)
{
	return *(const uint64_t *)arg - p->since_ms >= PARK_MAX_MS;
}

static bool match_pipe(const swb_bridge_parked *p, const void *arg)
{
	return !*(const uint32_t *)arg || p->pipe_id == *(const uint32_t *)arg;
}

void swb_bridge_presence_subscribed(swb_bridge *b, const char *name, size_t len)
{
	name_arg a = { name, len };
	swb_bridge_parked *p = b->parked ? detach(b, match_name, &a) : NULL;
	while (p) {
		swb_bridge_parked *next = p->next;
		settle(b, p, NULL);
		p = next;
	}
}

void swb_bridge_park_expire(swb_bridge *b)
{
	uint64_t now = swb_mono_ms();
	swb_bridge_parked *p = b->parked ? detach(b, match_old, &now) : NULL;
	while (p) {
		swb_bridge_parked *next = p->next;
		settle(b, p, "redis unavailable");
		p = next;
	}
}

/* pipe_id 0: all (shutdown). The holds go with the edge (hold.c). */
void swb_bridge_park_edge_gone(swb_bridge *b, uint32_t pipe_id)
{
	swb_bridge_parked *p = b->parked ? detach(b, match_pipe, &pipe_id) : NULL;
	while (p) {
		swb_bridge_parked *next = p->next;
		free(p->msg);
		free(p);
		p = next;
	}
}
