/* state.c: the host's in-memory aggregate (see state.h). Owns every
 * occupancy entry, presence channel, user and their arrays; never talks
 * to Redis or NNG. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void swb_bridge_state_init(swb_bridge_state *st)
{
	memset(st, 0, sizeof(*st));
}

static void user_free(swb_bridge_puser *u)
{
	free(u->info);
	free(u->conns);
	free(u);
}

static void pchan_free(swb_bridge_pchan *pc)
{
	swb_bridge_puser *u, *tmp;
	HASH_ITER(hh, pc->users, u, tmp) {
		HASH_DEL(pc->users, u);
		user_free(u);
	}
	free(pc);
}

void swb_bridge_state_fini(swb_bridge_state *st)
{
	swb_bridge_occ *o, *otmp;
	HASH_ITER(hh, st->occ, o, otmp) {
		HASH_DEL(st->occ, o);
		free(o->per_edge);
		free(o);
	}
	swb_bridge_pchan *pc, *ptmp;
	HASH_ITER(hh, st->pres, pc, ptmp) {
		HASH_DEL(st->pres, pc);
		pchan_free(pc);
	}
	memset(st, 0, sizeof(*st));
}

bool swb_bridge_user_id_valid(const char *s, size_t n)
{
	if (!s || n == 0 || n > SWB_BRIDGE_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int swb_bridge_state_key(char *key, const char *app, const char *chan)
{
	int n = snprintf(key, SWB_BRIDGE_KEY_MAX + 1, "%s\n%s", app, chan);
	return n < 0 || n > SWB_BRIDGE_KEY_MAX ? -1 : n;
}

/* ---- occupancy ---- */

swb_bridge_occ *swb_bridge_state_occ_find(swb_bridge_state *st, const char *app, const char *chan)
{
	char key[SWB_BRIDGE_KEY_MAX + 1];
	int n = swb_bridge_state_key(key, app, chan);
	swb_bridge_occ *o = NULL;
	if (n > 0)
		HASH_FIND(hh, st->occ, key, (size_t)n, o);
	return o;
}

static swb_bridge_occ *occ_get(swb_bridge_state *st, const char *app, const char *chan)
{
	swb_bridge_occ *o = swb_bridge_state_occ_find(st, app, chan);
	if (o || st->nocc >= SWB_BRIDGE_STATE_MAX_CHANS)
		return o;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	int n = swb_bridge_state_key(o->key, app, chan);
	if (n < 0) {
		free(o);
		return NULL;
	}
	o->key_len = (size_t)n;
	o->app_len = strlen(app);
	HASH_ADD(hh, st->occ, key, o->key_len, o);
	st->nocc++;
	return o;
}

static swb_bridge_edgecount *edgecount_slot(swb_bridge_occ *o, uint32_t edge, bool create)
{
	for (uint32_t i = 0; i < o->n; i++)
		if (o->per_edge[i].edge == edge)
			return &o->per_edge[i];
	if (!create)
		return NULL;
	if (o->n == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 2;
		swb_bridge_edgecount *p = realloc(o->per_edge, cap * sizeof(*p));
		if (!p)
			return NULL;
		o->per_edge = p;
		o->cap = cap;
	}
	o->per_edge[o->n] = (swb_bridge_edgecount){ edge, 0 };
	return &o->per_edge[o->n++];
}

/* Set the slot's count; a 0 count frees the slot. */
static void edgecount_set(swb_bridge_occ *o, swb_bridge_edgecount *s, uint32_t count)
{
	o->total = o->total - s->count + count;
	if (count) {
		s->count = count;
		return;
	}
	*s = o->per_edge[--o->n];
}

swb_bridge_occ *swb_bridge_state_count(swb_bridge_state *st, const char *app, const char *chan, uint32_t edge,
				       uint32_t count, bool *changed)
{
	*changed = false;
	swb_bridge_occ *o = count ? occ_get(st, app, chan) : swb_bridge_state_occ_find(st, app, chan);
	if (!o)
		return NULL;
	swb_bridge_edgecount *s = edgecount_slot(o, edge, count > 0);
	if (!s)
		return o; /* a 0 for an edge with no count: nothing changes */
	uint64_t before = o->total;
	edgecount_set(o, s, count);
	*changed = before != o->total;
	return o;
}

bool swb_bridge_state_occ_release(swb_bridge_state *st, swb_bridge_occ *o)
{
	if (o->total)
		return false;
	HASH_DEL(st->occ, o);
	st->nocc--;
	free(o->per_edge);
	free(o);
	return true;
}

/* ---- presence ---- */

swb_bridge_pchan *swb_bridge_state_pchan_find(swb_bridge_state *st, const char *app, const char *chan)
{
	char key[SWB_BRIDGE_KEY_MAX + 1];
	int n = swb_bridge_state_key(key, app, chan);
	swb_bridge_pchan *pc = NULL;
	if (n > 0)
		HASH_FIND(hh, st->pres, key, (size_t)n, pc);
	return pc;
}

swb_bridge_puser *swb_bridge_state_user_find(swb_bridge_pchan *pc, const char *user)
{
	swb_bridge_puser *u = NULL;
	if (pc && user)
		HASH_FIND(hh, pc->users, user, strlen(user), u);
	return u;
}

static swb_bridge_pchan *pchan_get(swb_bridge_state *st, const char *app, const char *chan)
{
	swb_bridge_pchan *pc = swb_bridge_state_pchan_find(st, app, chan);
	if (pc)
		return pc;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return NULL;
	int n = swb_bridge_state_key(pc->key, app, chan);
	if (n < 0) {
		free(pc);
		return NULL;
	}
	pc->key_len = (size_t)n;
	pc->app_len = strlen(app);
	HASH_ADD(hh, st->pres, key, pc->key_len, pc);
	return pc;
}

static swb_bridge_puser *user_new(swb_bridge_pchan *pc, const char *user, const char *info, size_t info_len)
{
	swb_bridge_puser *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	snprintf(u->id, sizeof(u->id), "%s", user);
	if (info_len) {
		u->info = malloc(info_len + 1);
		if (!u->info) {
			free(u);
			return NULL;
		}
		memcpy(u->info, info, info_len);
		u->info[info_len] = '\0';
		u->info_len = info_len;
	}
	HASH_ADD_STR(pc->users, id, u);
	pc->nusers++;
	return u;
}

static int conn_find(const swb_bridge_puser *u, uint32_t edge, const char *socket_id)
{
	for (uint32_t i = 0; i < u->n; i++)
		if (u->conns[i].edge == edge && !strcmp(u->conns[i].socket_id, socket_id))
			return (int)i;
	return -1;
}

static int conn_add(swb_bridge_puser *u, uint32_t edge, const char *socket_id)
{
	if (u->n == u->cap) {
		uint32_t cap = u->cap ? u->cap * 2 : 1;
		swb_bridge_pconn *p = realloc(u->conns, cap * sizeof(*p));
		if (!p)
			return -1;
		u->conns = p;
		u->cap = cap;
	}
	u->conns[u->n].edge = edge;
	snprintf(u->conns[u->n].socket_id, sizeof(u->conns[0].socket_id), "%s", socket_id);
	u->n++;
	return 0;
}

static void pchan_drop(swb_bridge_state *st, swb_bridge_pchan *pc)
{
	HASH_DEL(st->pres, pc);
	free(pc);
}

/* Remove user u (no connections left) and pc if it became empty. */
static void user_drop(swb_bridge_state *st, swb_bridge_pchan *pc, swb_bridge_puser *u)
{
	HASH_DEL(pc->users, u);
	pc->nusers--;
	user_free(u);
	if (pc->nusers == 0)
		pchan_drop(st, pc);
}

int swb_bridge_state_join(swb_bridge_state *st, const char *app, const char *chan, const char *user,
			  const char *info, size_t info_len, uint32_t edge, const char *socket_id)
{
	if (!swb_bridge_user_id_valid(user, strlen(user)) || strlen(socket_id) > SWB_SOCKET_ID_MAX ||
	    info_len > SWB_BRIDGE_INFO_MAX)
		return SWB_JOIN_ERR;
	swb_bridge_pchan *pc = pchan_get(st, app, chan);
	if (!pc)
		return SWB_JOIN_ERR;
	swb_bridge_puser *u = swb_bridge_state_user_find(pc, user);
	bool first = !u;
	if (u && conn_find(u, edge, socket_id) >= 0)
		return SWB_JOIN_MORE;
	if (st->nconns >= SWB_BRIDGE_STATE_MAX_CONNS || (!u && !(u = user_new(pc, user, info, info_len))) ||
	    conn_add(u, edge, socket_id) < 0) {
		if (u && u->n == 0)
			user_drop(st, pc, u); /* also drops pc if it became empty */
		else if (pc->nusers == 0)
			pchan_drop(st, pc);
		return SWB_JOIN_ERR;
	}
	st->nconns++;
	return first ? SWB_JOIN_FIRST : SWB_JOIN_MORE;
}

/* Remove conns[i] of u; returns 1 if u is gone. */
static int conn_remove(swb_bridge_state *st, swb_bridge_pchan *pc, swb_bridge_puser *u, uint32_t i)
{
	u->conns[i] = u->conns[--u->n];
	st->nconns--;
	if (u->n)
		return 0;
	user_drop(st, pc, u);
	return 1;
}

int swb_bridge_state_leave(swb_bridge_state *st, const char *app, const char *chan, const char *user,
			   uint32_t edge, const char *socket_id)
{
	swb_bridge_pchan *pc = swb_bridge_state_pchan_find(st, app, chan);
	swb_bridge_puser *u = swb_bridge_state_user_find(pc, user);
	int i = u ? conn_find(u, edge, socket_id) : -1;
	if (i < 0)
		return -1;
	return conn_remove(st, pc, u, (uint32_t)i);
}

static void edge_gone_occ(swb_bridge_state *st, uint32_t edge, const swb_bridge_state_cbs *cbs)
{
	swb_bridge_occ *o, *tmp;
	HASH_ITER(hh, st->occ, o, tmp) {
		swb_bridge_edgecount *s = edgecount_slot(o, edge, false);
		if (!s)
			continue;
		uint64_t before = o->total;
		edgecount_set(o, s, 0);
		if (before != o->total && cbs->occ_changed)
			cbs->occ_changed(cbs->ctx, o); /* may release o */
	}
}

static void edge_gone_user(swb_bridge_state *st, swb_bridge_pchan *pc, swb_bridge_puser *u, uint32_t edge,
			   const swb_bridge_state_cbs *cbs)
{
	for (uint32_t i = 0; i < u->n;) {
		if (u->conns[i].edge != edge) {
			i++;
			continue;
		}
		if (u->n == 1 && cbs->user_left)
			cbs->user_left(cbs->ctx, pc, u);
		if (conn_remove(st, pc, u, i))
			return;
	}
}

void swb_bridge_state_edge_gone(swb_bridge_state *st, uint32_t edge, const swb_bridge_state_cbs *cbs)
{
	edge_gone_occ(st, edge, cbs);
	swb_bridge_pchan *pc, *ptmp;
	HASH_ITER(hh, st->pres, pc, ptmp) {
		swb_bridge_puser *u, *utmp;
		uint32_t left = pc->nusers;
		HASH_ITER(hh, pc->users, u, utmp) {
			/* the last user leaving frees pc: stop touching it */
			if (--left == 0) {
				edge_gone_user(st, pc, u, edge, cbs);
				break;
			}
			edge_gone_user(st, pc, u, edge, cbs);
		}
	}
}
