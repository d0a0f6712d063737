/* channels.c: local channel index (see channels.h). The index owns each
 * swb_edge_chan and its member array; each subscriber owns its subs list. */
#include "channels.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void swb_edge_chans_init(swb_edge_chans *x)
{
	x->by_key = NULL;
	x->waiting = 0;
	x->members = 0;
}

void swb_edge_chans_fini(swb_edge_chans *x)
{
	swb_edge_chan *c, *tmp;
	HASH_ITER(hh, x->by_key, c, tmp) {
		HASH_DEL(x->by_key, c);
		free(c->members);
		free(c);
	}
	x->waiting = 0;
	x->members = 0;
}

size_t swb_edge_chans_count(const swb_edge_chans *x) { return HASH_COUNT(x->by_key); }

/* Build the lookup key "app\0ch" into out (caller provides room). */
static size_t make_key(char *out, const char *app, size_t app_len, const char *ch, size_t ch_len)
{
	memcpy(out, app, app_len);
	out[app_len] = '\0';
	memcpy(out + app_len + 1, ch, ch_len);
	return app_len + 1 + ch_len;
}

swb_edge_chan *swb_edge_chan_find(const swb_edge_chans *x, const char *app, size_t app_len,
				  const char *ch, size_t ch_len)
{
	char key[512];
	if (app_len + ch_len + 1 > sizeof(key))
		return NULL;
	size_t n = make_key(key, app, app_len, ch, ch_len);
	swb_edge_chan *c = NULL;
	HASH_FIND(hh, x->by_key, key, n, c);
	return c;
}

static swb_edge_chan *chan_new(swb_edge_chans *x, const char *app, size_t app_len, const char *ch,
			       size_t ch_len)
{
	swb_edge_chan *c = calloc(1, sizeof(*c) + app_len + ch_len + 2);
	if (!c)
		return NULL;
	c->key_len = make_key(c->key, app, app_len, ch, ch_len);
	c->key[c->key_len] = '\0';
	c->app_id = c->key;
	c->app_len = app_len;
	c->name = c->key + app_len + 1;
	c->name_len = ch_len;
	HASH_ADD_KEYPTR(hh, x->by_key, c->key, c->key_len, c);
	return c;
}

static void chan_free(swb_edge_chans *x, swb_edge_chan *c)
{
	HASH_DEL(x->by_key, c);
	free(c->members);
	free(c);
}

static int grow(void **v, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	uint32_t ncap = *cap ? *cap * 2 : 4;
	while (ncap < need)
		ncap *= 2;
	void *p = realloc(*v, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

static bool subs_has(const swb_edge_subs *subs, const swb_edge_chan *c)
{
	for (uint32_t i = 0; i < subs->n; i++)
		if (subs->v[i].chan == c)
			return true;
	return false;
}

int swb_edge_chan_add(swb_edge_chans *x, swb_edge_subs *subs, uint32_t max, const char *app,
		      size_t app_len, const char *ch, size_t ch_len, bool may_wait, bool *first, bool *waiting)
{
	bool dummy;
	if (!waiting)
		waiting = &dummy;
	*waiting = false;
	swb_edge_chan *c = swb_edge_chan_find(x, app, app_len, ch, ch_len);
	*first = false;
	if (c && subs_has(subs, c))
		return -EEXIST;
	if (subs->n >= max)
		return -E2BIG;
	if (grow((void **)&subs->v, &subs->cap, subs->n + 1, sizeof(*subs->v)) < 0)
		return -ENOMEM;
	if (!c) {
		if (app_len + ch_len + 1 > 511 || !(c = chan_new(x, app, app_len, ch, ch_len)))
			return -ENOMEM;
		*first = true;
	}
	if (grow((void **)&c->members, &c->cap, c->n + 1, sizeof(*c->members)) < 0) {
		if (*first)
			chan_free(x, c);
		*first = false;
		return -ENOMEM;
	}
	*waiting = may_wait && !c->ready;
	c->members[c->n] = (swb_edge_member){ .subs = subs, .idx = subs->n, .waiting = *waiting };
	subs->v[subs->n] = (swb_edge_sub){ .chan = c, .pos = c->n };
	c->n++;
	subs->n++;
	x->members++;
	if (*waiting) {
		c->n_waiting++;
		x->waiting++;
	}
	return 0;
}

/* Remove subs->v[i] from its channel and from subs (swap-remove both). */
static void remove_at(swb_edge_chans *x, swb_edge_subs *subs, uint32_t i, swb_edge_chan_last_cb last_cb,
		      void *ctx)
{
	swb_edge_chan *c = subs->v[i].chan;
	uint32_t pos = subs->v[i].pos;
	if (c->members[pos].waiting) {
		c->n_waiting--;
		x->waiting--;
	}
	x->members--;
	/* channel side */
	c->members[pos] = c->members[--c->n];
	if (pos < c->n)
		c->members[pos].subs->v[c->members[pos].idx].pos = pos;
	/* subscriber side */
	subs->v[i] = subs->v[--subs->n];
	if (i < subs->n)
		subs->v[i].chan->members[subs->v[i].pos].idx = i;
	if (c->n == 0) {
		if (last_cb)
			last_cb(ctx, c);
		chan_free(x, c);
	}
}

int swb_edge_chan_remove(swb_edge_chans *x, swb_edge_subs *subs, const char *app, size_t app_len,
			 const char *ch, size_t ch_len, swb_edge_chan_last_cb last_cb, void *ctx)
{
	swb_edge_chan *c = swb_edge_chan_find(x, app, app_len, ch, ch_len);
	if (!c)
		return -ENOENT;
	for (uint32_t i = 0; i < subs->n; i++) {
		if (subs->v[i].chan == c) {
			remove_at(x, subs, i, last_cb, ctx);
			return 0;
		}
	}
	return -ENOENT;
}

void swb_edge_chan_remove_all(swb_edge_chans *x, swb_edge_subs *subs, swb_edge_chan_last_cb last_cb,
			      void *ctx)
{
	while (subs->n)
		remove_at(x, subs, subs->n - 1, last_cb, ctx);
	free(subs->v);
	subs->v = NULL;
	subs->cap = 0;
}

uint32_t swb_edge_chan_set_ready(swb_edge_chans *x, swb_edge_chan *c, swb_edge_chan_told_cb told_cb, void *ctx)
{
	uint32_t told = 0;
	c->ready = true;
	for (uint32_t i = 0; i < c->n && c->n_waiting; i++) {
		swb_edge_member *m = &c->members[i];
		if (!m->waiting)
			continue;
		m->waiting = false;
		c->n_waiting--;
		x->waiting--;
		told++;
		if (told_cb)
			told_cb(ctx, m->subs->owner, c);
	}
	return told;
}

void swb_edge_chans_unready(swb_edge_chans *x)
{
	for (swb_edge_chan *c = x->by_key; c; c = c->hh.next)
		c->ready = false;
}

bool swb_edge_chan_waiting(const swb_edge_chan *c, const swb_edge_subs *subs)
{
	for (uint32_t i = 0; c && i < subs->n; i++)
		if (subs->v[i].chan == c)
			return c->members[subs->v[i].pos].waiting;
	return false;
}
