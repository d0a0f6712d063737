/* interest.c: the host's interest table (see interest.h). Owns every
 * swb_bridge_chan and its member array; reports 0 <-> 1 edge transitions to
 * its owner and never talks to Redis itself. */
#include "interest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void swb_bridge_interest_init(swb_bridge_interest *t, swb_bridge_chan_changed_fn *fn, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->changed = fn;
	t->ctx = ctx;
}

static void chan_free(swb_bridge_chan *ch)
{
	free(ch->members);
	free(ch->name);
	free(ch);
}

void swb_bridge_interest_fini(swb_bridge_interest *t)
{
	swb_bridge_chan *ch, *tmp;
	HASH_ITER(hh, t->chans, ch, tmp) {
		HASH_DEL(t->chans, ch);
		chan_free(ch);
	}
	t->wanted = 0;
}

int swb_bridge_chan_name(char *out, const char *prefix, const char *app, size_t app_len,
			 const char *chan, size_t chan_len)
{
	int n = snprintf(out, SWB_BRIDGE_CHAN_NAME_MAX + 1, "%s:%.*s:ch:%.*s", prefix, (int)app_len, app,
			 (int)chan_len, chan);
	if (n < 0 || n > SWB_BRIDGE_CHAN_NAME_MAX)
		return -1;
	return n;
}

int swb_bridge_chan_split(const char *prefix, const char *name, size_t len, const char **app, size_t *app_len,
			  const char **chan, size_t *chan_len)
{
	size_t pl = strlen(prefix);
	if (len <= pl + 1 || memcmp(name, prefix, pl) != 0 || name[pl] != ':')
		return -1;
	const char *a = name + pl + 1, *end = name + len;
	const char *colon = memchr(a, ':', (size_t)(end - a));
	/* app ids hold no ':' (swb_app_token_valid): the first one ends it */
	if (!colon || colon == a || end - colon < 5 || memcmp(colon, ":ch:", 4) != 0)
		return -1;
	*app = a;
	*app_len = (size_t)(colon - a);
	*chan = colon + 4;
	*chan_len = (size_t)(end - *chan);
	return 0;
}

swb_bridge_chan *swb_bridge_interest_find(swb_bridge_interest *t, const char *name, size_t len)
{
	swb_bridge_chan *ch = NULL;
	HASH_FIND(hh, t->chans, name, len, ch);
	return ch;
}

static swb_bridge_chan *chan_get(swb_bridge_interest *t, const char *name, size_t len)
{
	swb_bridge_chan *ch = swb_bridge_interest_find(t, name, len);
	if (ch)
		return ch;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->name = malloc(len + 1);
	if (!ch->name) {
		free(ch);
		return NULL;
	}
	memcpy(ch->name, name, len);
	ch->name[len] = '\0';
	ch->len = len;
	HASH_ADD_KEYPTR(hh, t->chans, ch->name, ch->len, ch);
	return ch;
}

swb_bridge_member *swb_bridge_interest_member(swb_bridge_chan *ch, uint32_t edge)
{
	for (uint32_t i = 0; i < ch->n; i++)
		if (ch->members[i].edge == edge)
			return &ch->members[i];
	return NULL;
}

bool swb_bridge_interest_release(swb_bridge_interest *t, swb_bridge_chan *ch)
{
	if (ch->n > 0)
		return false;
	HASH_DEL(t->chans, ch);
	chan_free(ch);
	return true;
}

/* Add edge to ch with generation gen. Returns 0 or -1 (OOM). */
static int member_add(swb_bridge_interest *t, swb_bridge_chan *ch, uint32_t edge, uint32_t gen, uint64_t seq)
{
	swb_bridge_member *m = swb_bridge_interest_member(ch, edge);
	if (m) {
		m->gen = gen;
		if (seq)
			m->seq = seq;
		return 0;
	}
	if (ch->n == ch->cap) {
		uint32_t cap = ch->cap ? ch->cap * 2 : 2;
		swb_bridge_member *mem = realloc(ch->members, cap * sizeof(*mem));
		if (!mem)
			return -1;
		ch->members = mem;
		ch->cap = cap;
	}
	ch->members[ch->n++] = (swb_bridge_member){ .edge = edge, .gen = gen, .seq = seq };
	if (ch->n == 1) {
		t->wanted++;
		if (t->changed)
			t->changed(t->ctx, ch);
	}
	return 0;
}

/* Remove the member at index i; ch may be freed by `changed`. */
static void member_del(swb_bridge_interest *t, swb_bridge_chan *ch, uint32_t i)
{
	ch->members[i] = ch->members[--ch->n];
	if (ch->n > 0)
		return;
	t->wanted--;
	if (t->changed)
		t->changed(t->ctx, ch);
	else
		swb_bridge_interest_release(t, ch);
}

static int add_gen(swb_bridge_interest *t, const char *name, size_t len, uint32_t edge, uint32_t gen,
		   uint64_t seq)
{
	swb_bridge_chan *ch = chan_get(t, name, len);
	if (!ch)
		return -1;
	if (member_add(t, ch, edge, gen, seq) < 0) {
		swb_bridge_interest_release(t, ch);
		return -1;
	}
	return 0;
}

int swb_bridge_interest_add(swb_bridge_interest *t, const char *name, size_t len, uint32_t edge, uint64_t seq)
{
	return add_gen(t, name, len, edge, t->gen, seq);
}

void swb_bridge_interest_remove(swb_bridge_interest *t, const char *name, size_t len, uint32_t edge)
{
	swb_bridge_chan *ch = swb_bridge_interest_find(t, name, len);
	if (!ch)
		return;
	swb_bridge_member *m = swb_bridge_interest_member(ch, edge);
	if (m)
		member_del(t, ch, (uint32_t)(m - ch->members));
}

void swb_bridge_interest_remove_edge(swb_bridge_interest *t, uint32_t edge)
{
	swb_bridge_chan *ch, *tmp;
	HASH_ITER(hh, t->chans, ch, tmp) {
		swb_bridge_member *m = swb_bridge_interest_member(ch, edge);
		if (m)
			member_del(t, ch, (uint32_t)(m - ch->members));
	}
}

uint32_t swb_bridge_interest_sync_begin(swb_bridge_interest *t)
{
	return ++t->gen;
}

int swb_bridge_interest_sync_add(swb_bridge_interest *t, const char *name, size_t len, uint32_t edge,
				 uint32_t gen, uint64_t seq)
{
	return add_gen(t, name, len, edge, gen, seq);
}

void swb_bridge_interest_sync_end(swb_bridge_interest *t, uint32_t edge, uint32_t gen)
{
	swb_bridge_chan *ch, *tmp;
	HASH_ITER(hh, t->chans, ch, tmp) {
		swb_bridge_member *m = swb_bridge_interest_member(ch, edge);
		if (m && m->gen != gen)
			member_del(t, ch, (uint32_t)(m - ch->members));
	}
}

size_t swb_bridge_interest_edge_count(const swb_bridge_interest *t, uint32_t edge)
{
	size_t n = 0;
	const swb_bridge_chan *ch;
	for (ch = t->chans; ch; ch = ch->hh.next)
		for (uint32_t i = 0; i < ch->n; i++)
			if (ch->members[i].edge == edge)
				n++;
	return n;
}
