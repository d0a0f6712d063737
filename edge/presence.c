/* presence.c: presence channel membership as seen from one edge. A
 * presence subscribe is checked in pusher.c, then sent to the bridge as a
 * PresenceJoin; the subscription is "pending" until PresenceJoined comes
 * back, and only then indexed and answered. Unsubscribe or close of a
 * joined subscription sends PresenceLeave; while pending it is marked
 * cancelled and the leave follows the (ok) answer, so no membership leaks.
 * On every bridge (re)connect the joined subscriptions are replayed.
 *
 * Ownership: each swb_edge_pres is owned by its connection's list
 * (conn->pres) while the connection lives; a pending entry is also listed
 * in swb_edge.pres_pending. An entry whose connection closed while pending
 * is owned by pres_pending alone and freed on answer, timeout or link
 * loss. */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "frames.h"
#include "log.h"
#include "switchboard.pb-c.h"
#include "util.h"

enum { PRES_PENDING = 0, PRES_JOINED };

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

static int send_join(swb_edge *e, const swb_edge_pres *p, uint64_t request_id, uint32_t max_members)
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
	if (send_join(e, p, p->request_id, c->app->presence_max_members) < 0) {
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
	return p && p->state == PRES_PENDING;
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
 * detached and cancelled, and left when its answer comes. */
static void end_entry(swb_edge *e, swb_edge_pres *p)
{
	unlink_conn(p);
	if (p->state == PRES_PENDING) {
		p->cancelled = true;
		return;
	}
	send_leave(e, p);
	pres_free(p);
}

bool swb_edge_presence_unsubscribe(swb_edge *e, swb_edge_conn *c, const char *channel)
{
	swb_edge_pres *p = find(c, channel);
	if (!p)
		return false;
	end_entry(e, p);
	return true;
}

void swb_edge_presence_conn_closed(swb_edge *e, swb_edge_conn *c)
{
	while (c->pres)
		end_entry(e, c->pres);
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
	if (swb_edge_pusher_add_sub(e, p->conn, p->channel, data, dlen) < 0) {
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
		if (!ok)
			swb_info("presence join %llu (replay or late) refused: %s", (unsigned long long)request_id,
				 error ? error : "");
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
	snprintf(msg, sizeof(msg), "Cannot join %s: %s", p->channel,
		 error && *error ? error : "presence member limit reached");
	if (!strstr(msg, "member limit"))
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (member limit %u)", c->app->presence_max_members);
	swb_edge_pusher_sub_error(e, c, p->channel, "LimitReached", msg, 4100, 4100);
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
	HASH_ITER(hh, e->pres_pending, p, tmp)
		abandon(e, p, "the server lost its cluster link, try again");
}

void swb_edge_presence_tick(swb_edge *e, uint64_t now)
{
	swb_edge_pres *p, *tmp;
	HASH_ITER(hh, e->pres_pending, p, tmp) {
		if (now < p->deadline_ms)
			continue;
		/* the bridge may still process it: make sure it is undone */
		send_leave(e, p);
		abandon(e, p, "timed out waiting for the cluster");
	}
}

void swb_edge_presence_replay(swb_edge *e)
{
	size_t n = 0;
	swb_edge_conn *c, *tmp;
	HASH_ITER(hh, e->by_sid, c, tmp) {
		for (swb_edge_pres *p = c->pres; p; p = p->next) {
			if (p->state != PRES_JOINED)
				continue;
			send_join(e, p, swb_edge_next_request_id(e), c->app->presence_max_members);
			n++;
		}
	}
	if (n)
		swb_info("bridge link up: replayed %zu presence subscriptions", n);
}

void swb_edge_presence_fini(swb_edge *e)
{
	swb_edge_pres *p, *tmp;
	HASH_ITER(hh, e->pres_pending, p, tmp) {
		drop_pending(e, p);
		unlink_conn(p);
		pres_free(p);
	}
}
