/* presence.c: presence channel membership as seen from one edge. A
 * presence subscribe is checked in pusher.c, then sent to the bridge as a
 * PresenceJoin; the subscription is "pending" until PresenceJoined comes
 * back, and only then indexed and answered. Unsubscribe or close of a
 * joined subscription sends PresenceLeave; while pending it is marked
 * cancelled and the leave follows the (ok) answer, so no membership leaks.
 * On every bridge (re)connect the joined subscriptions are replayed,
 * paced: a snapshot of (socket id, channel) is sent with at most
 * REPLAY_WINDOW joins unanswered, so a big edge does not flood the bridge
 * (each answer carries the whole member list). Replay answers are only
 * counted, never shown to clients.
 *
 * Ownership: each swb_edge_pres is owned by its connection's list
 * (conn->pres) while the connection lives; a pending entry is also listed
 * in swb_edge.pres_pending. An entry whose connection closed while pending
 * is owned by pres_pending alone and freed on answer, timeout or link
 * loss. The replay snapshot and its set of outstanding request ids are
 * owned by swb_edge.replay and dropped when the link goes down. */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "frames.h"
#include "log.h"
#include "switchboard.pb-c.h"
#include "util.h"

enum { PRES_PENDING = 0, PRES_JOINED };

#define REPLAY_WINDOW 64            /* replayed joins awaiting an answer */
#define REPLAY_STALL_MS 5000        /* give up waiting for those answers */

typedef struct replay_item {
	char sid[32];
	char *channel;                /* owned */
} replay_item;

typedef struct replay_id {
	UT_hash_handle hh;
	uint64_t request_id;
} replay_id;

struct swb_edge_replay {
	replay_item *items;           /* owned */
	size_t n, next;
	replay_id *outstanding;       /* uthash, at most REPLAY_WINDOW */
	uint32_t n_out;
	uint64_t progress_ms;         /* last send or answer */
};

struct swb_edge_pres {
	swb_edge_pres *next;          /* in conn->pres */
	swb_edge_conn *conn;          /* NULL once the connection is gone */
	uint64_t request_id;
	uint64_t deadline_ms;
	uint8_t state;
	bool cancelled;               /* unsubscribed or closed while pending */
	bool in_pending;              /* listed in swb_edge.pres_pending */
	char *app_id, *channel, *user_id, *user_info; /* owned; user_info may be NULL */
	char sid[32];
	UT_hash_handle hh;
};

static void replay_free(swb_edge *e);
static void replay_pump(swb_edge *e);
static bool replay_answered(swb_edge *e, uint64_t request_id);

static void pres_free(swb_edge_pres *p)
{
	free(p->app_id);
	free(p->channel);
	free(p->user_id);
	free(p->user_info);
	free(p);
}

static void unlink_conn(swb_edge_pres *p)
{
	if (!p->conn)
		return;
	for (swb_edge_pres **pp = &p->conn->pres; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->conn = NULL;
	p->next = NULL;
}

static void drop_pending(swb_edge *e, swb_edge_pres *p)
{
	if (p->in_pending) {
		HASH_DEL(e->pres_pending, p);
		p->in_pending = false;
	}
}

static int send_join(swb_edge *e, const swb_edge_pres *p, uint64_t request_id, uint32_t max_members, bool replay)
{
	Swb__PresenceJoin j = SWB__PRESENCE_JOIN__INIT;
	j.request_id = request_id;
	j.app_id = p->app_id;
	j.channel = p->channel;
	j.user_id = p->user_id;
	if (p->user_info) {
		j.user_info.data = (uint8_t *)p->user_info;
		j.user_info.len = strlen(p->user_info);
	}
	j.socket_id = (char *)p->sid;
	j.max_members = max_members;
	j.replay = replay;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_PRESENCE_JOIN;
	m.presence_join = &j;
	return swb_edge_link_send(e, &m);
}

static void send_leave(swb_edge *e, const swb_edge_pres *p)
{
	Swb__PresenceLeave l = SWB__PRESENCE_LEAVE__INIT;
	l.app_id = p->app_id;
	l.channel = p->channel;
	l.user_id = p->user_id;
	l.socket_id = (char *)p->sid;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_PRESENCE_LEAVE;
	m.presence_leave = &l;
	swb_edge_link_send(e, &m); /* if the link is down the bridge dropped us anyway */
}

int swb_edge_presence_join(swb_edge *e, swb_edge_conn *c, const char *channel, char *user_id, char *user_info)
{
	swb_edge_pres *p = calloc(1, sizeof(*p));
	if (!p || !(p->app_id = strdup(c->app->id)) || !(p->channel = strdup(channel))) {
		if (p)
			free(p->app_id);
		free(p);
		free(user_id);
		free(user_info);
		return -1;
	}
	p->user_id = user_id;
	p->user_info = user_info;
	snprintf(p->sid, sizeof(p->sid), "%s", c->socket_id);
	p->request_id = swb_edge_next_request_id(e);
	if (send_join(e, p, p->request_id, c->app->presence_max_members, false) < 0) {
		pres_free(p);
		return -1;
	}
	e->st.presence_joins++;
	p->conn = c;
	p->deadline_ms = swb_mono_ms() + SWB_EDGE_JOIN_TIMEOUT_MS;
	p->next = c->pres;
	c->pres = p;
	p->in_pending = true;
	HASH_ADD(hh, e->pres_pending, request_id, sizeof(p->request_id), p);
	return 0;
}

static swb_edge_pres *find(const swb_edge_conn *c, const char *channel)
{
	for (swb_edge_pres *p = c->pres; p; p = p->next)
		if (!strcmp(p->channel, channel))
			return p;
	return NULL;
}

bool swb_edge_presence_pending(const swb_edge_conn *c, const char *channel)
{
	const swb_edge_pres *p = find(c, channel);
	return p && p->state == PRES_PENDING && !p->cancelled;
}

int swb_edge_presence_revive(swb_edge_conn *c, const char *channel, const char *user_id)
{
	swb_edge_pres *p = find(c, channel);
	if (!p || p->state != PRES_PENDING || !p->cancelled)
		return 0;
	if (strcmp(p->user_id, user_id) != 0)
		return -1;
	p->cancelled = false;
	return 1;
}

uint32_t swb_edge_presence_pending_count(const swb_edge_conn *c)
{
	uint32_t n = 0;
	for (const swb_edge_pres *p = c->pres; p; p = p->next)
		n += p->state == PRES_PENDING;
	return n;
}

const char *swb_edge_presence_user(const swb_edge_conn *c, const char *channel)
{
	const swb_edge_pres *p = find(c, channel);
	return p && p->state == PRES_JOINED ? p->user_id : NULL;
}

/* End one of c's entries: a joined one leaves now; a pending one is
 * cancelled and left when its answer comes (it stays on a live
 * connection's list, so a quick re-subscribe can revive it instead of
 * racing a second join against the first one's leave). */
static void end_entry(swb_edge *e, swb_edge_pres *p, bool closing)
{
	if (p->state == PRES_PENDING) {
		p->cancelled = true;
		if (closing)
			unlink_conn(p);
		return;
	}
	unlink_conn(p);
	send_leave(e, p);
	pres_free(p);
}

bool swb_edge_presence_unsubscribe(swb_edge *e, swb_edge_conn *c, const char *channel)
{
	swb_edge_pres *p = find(c, channel);
	if (!p)
		return false;
	end_entry(e, p, false);
	return true;
}

void swb_edge_presence_conn_closed(swb_edge *e, swb_edge_conn *c)
{
	while (c->pres)
		end_entry(e, c->pres, true);
}

/* A successful answer for a live, wanted subscription. */
static void joined(swb_edge *e, swb_edge_pres *p, const uint8_t *members, size_t len)
{
	static const char empty[] = "{\"presence\":{\"ids\":[],\"hash\":{},\"count\":0}}";
	const char *data = len ? (const char *)members : empty;
	size_t dlen = len ? len : sizeof(empty) - 1;
	if (!swb_edge_utf8_valid(data, dlen)) {
		data = empty;
		dlen = sizeof(empty) - 1;
	}
	p->state = PRES_JOINED;
	/* live: the bridge answered only once the channel's SUBSCRIBE was
	 * confirmed, and delivers it to this edge (bridge/park.c, hold.c) */
	if (swb_edge_pusher_add_sub(e, p->conn, p->channel, data, dlen, true) < 0) {
		/* not indexed (limit or memory): undo the membership */
		unlink_conn(p);
		send_leave(e, p);
		pres_free(p);
	}
}

void swb_edge_presence_on_joined(swb_edge *e, uint64_t request_id, bool ok, const char *error,
				 const uint8_t *members, size_t len)
{
	swb_edge_pres *p = NULL;
	HASH_FIND(hh, e->pres_pending, &request_id, sizeof(request_id), p);
	if (!p) {
		if (replay_answered(e, request_id) && !ok)
			swb_info("replayed presence join refused by the bridge: %s", error ? error : "");
		return;
	}
	drop_pending(e, p);
	if (p->cancelled || !p->conn) {
		if (ok)
			send_leave(e, p);
		unlink_conn(p);
		pres_free(p);
		return;
	}
	if (ok) {
		joined(e, p, members, len);
		return;
	}
	e->st.presence_join_fail++;
	swb_edge_conn *c = p->conn;
	char msg[256];
	const char *why = error && *error ? error : "presence member limit reached";
	snprintf(msg, sizeof(msg), "Cannot join %s: %s", p->channel, why);
	if (strstr(why, "member limit")) {
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (%u)", c->app->presence_max_members);
		swb_edge_pusher_sub_error(e, c, p->channel, "LimitReached", msg, 4100, 4100);
	} else {
		/* Redis down, bridge overloaded: not a limit, try again later. */
		swb_edge_pusher_sub_error(e, c, p->channel, "ServiceUnavailable", msg, -1, 503);
	}
	unlink_conn(p);
	pres_free(p);
}

/* A pending join that will not be answered (link lost, timeout). */
static void abandon(swb_edge *e, swb_edge_pres *p, const char *why)
{
	drop_pending(e, p);
	if (p->conn && !p->cancelled) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Cannot join %s: %s", p->channel, why);
		swb_edge_pusher_sub_error(e, p->conn, p->channel, "ServiceUnavailable", msg, -1, 503);
	}
	unlink_conn(p);
	pres_free(p);
}

void swb_edge_presence_link_down(swb_edge *e)
{
	swb_edge_pres *p, *tmp;
	replay_free(e);
	HASH_ITER(hh, e->pres_pending, p, tmp)
		abandon(e, p, "the server lost its cluster link, try again");
}

void swb_edge_presence_tick(swb_edge *e, uint64_t now)
{
	swb_edge_pres *p, *tmp;
	if (e->replay && e->replay->n_out && now - e->replay->progress_ms > REPLAY_STALL_MS) {
		swb_warn("presence replay: %u answers missing after %d ms, going on", e->replay->n_out, REPLAY_STALL_MS);
		replay_id *id, *t2;
		HASH_ITER(hh, e->replay->outstanding, id, t2) {
			HASH_DEL(e->replay->outstanding, id);
			free(id);
		}
		e->replay->n_out = 0;
		replay_pump(e);
	}
	HASH_ITER(hh, e->pres_pending, p, tmp) {
		if (now < p->deadline_ms)
			continue;
		/* the bridge may still process it: make sure it is undone */
		send_leave(e, p);
		abandon(e, p, "timed out waiting for the cluster");
	}
}

static void replay_free(swb_edge *e)
{
	swb_edge_replay *r = e->replay;
	if (!r)
		return;
	replay_id *id, *tmp;
	HASH_ITER(hh, r->outstanding, id, tmp) {
		HASH_DEL(r->outstanding, id);
		free(id);
	}
	for (size_t i = 0; i < r->n; i++)
		free(r->items[i].channel);
	free(r->items);
	free(r);
	e->replay = NULL;
}

/* Send snapshot entries (still joined) until the window is full. */
static void replay_pump(swb_edge *e)
{
	swb_edge_replay *r = e->replay;
	while (r && r->n_out < REPLAY_WINDOW && r->next < r->n) {
		replay_item *it = &r->items[r->next++];
		swb_edge_conn *c = swb_edge_conn_by_socket_id(e, it->sid, strlen(it->sid));
		swb_edge_pres *p = c ? find(c, it->channel) : NULL;
		replay_id *id = p && p->state == PRES_JOINED ? calloc(1, sizeof(*id)) : NULL;
		if (!id)
			continue;
		id->request_id = swb_edge_next_request_id(e);
		if (send_join(e, p, id->request_id, c->app->presence_max_members, true) < 0) {
			free(id);
			continue;
		}
		HASH_ADD(hh, r->outstanding, request_id, sizeof(id->request_id), id);
		r->n_out++;
		r->progress_ms = swb_mono_ms();
	}
	if (r && r->next == r->n && r->n_out == 0) {
		swb_info("bridge link up: replayed %zu presence subscriptions", r->n);
		replay_free(e);
	}
}

/* An answer nobody waits for: a replay's (advance the window) or late. */
static bool replay_answered(swb_edge *e, uint64_t request_id)
{
	replay_id *id = NULL;
	if (e->replay)
		HASH_FIND(hh, e->replay->outstanding, &request_id, sizeof(request_id), id);
	if (!id)
		return false;
	HASH_DEL(e->replay->outstanding, id);
	free(id);
	e->replay->n_out--;
	e->replay->progress_ms = swb_mono_ms();
	replay_pump(e);
	return true;
}

void swb_edge_presence_replay(swb_edge *e)
{
	size_t n = 0, i = 0;
	swb_edge_conn *c, *tmp;
	replay_free(e);
	HASH_ITER(hh, e->by_sid, c, tmp)
		for (swb_edge_pres *p = c->pres; p; p = p->next)
			n += p->state == PRES_JOINED;
	swb_edge_replay *r = n ? calloc(1, sizeof(*r)) : NULL;
	if (!r || !(r->items = calloc(n, sizeof(*r->items)))) {
		free(r);
		return;
	}
	HASH_ITER(hh, e->by_sid, c, tmp) {
		for (swb_edge_pres *p = c->pres; p && i < n; p = p->next) {
			if (p->state != PRES_JOINED || !(r->items[i].channel = strdup(p->channel)))
				continue;
			snprintf(r->items[i].sid, sizeof(r->items[i].sid), "%s", c->socket_id);
			i++;
		}
	}
	r->n = i;
	e->replay = r;
	replay_pump(e);
}

void swb_edge_presence_fini(swb_edge *e)
{
	replay_free(e);
	swb_edge_pres *p, *tmp;
	HASH_ITER(hh, e->pres_pending, p, tmp) {
		drop_pending(e, p);
		unlink_conn(p);
		pres_free(p);
	}
}
