/* counts.c: per-channel subscription counts reported to the bridge. Every
 * change of a channel's number of local subscribers marks it dirty; a
 * 100 ms one-shot uv timer then sends one ChannelCounts with the absolute
 * counts of the dirty channels (0 = none left), so bursts coalesce. After
 * a bridge (re)connect every channel's count is sent.
 *
 * Ownership: the dirty set (swb_edge.counts_dirty) owns its entries; it
 * holds at most one entry per channel touched in the last window, and is
 * emptied on every flush and whenever the link is down. */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"
#include "switchboard.pb-c.h"

#define COUNTS_CHUNK 2000 /* channels per ChannelCounts message */

struct swb_edge_count_dirty {
	UT_hash_handle hh;
	size_t app_len, key_len;
	char key[];                   /* "app\0channel\0" */
};

static void clear_dirty(swb_edge *e)
{
	swb_edge_count_dirty *d, *tmp;
	HASH_ITER(hh, e->counts_dirty, d, tmp) {
		HASH_DEL(e->counts_dirty, d);
		free(d);
	}
}

/* Send n (app, channel, count) triples as one message. */
static void send_counts(swb_edge *e, Swb__ChannelCount **ptrs, size_t n)
{
	if (n == 0)
		return;
	Swb__ChannelCounts cc = SWB__CHANNEL_COUNTS__INIT;
	cc.n_counts = n;
	cc.counts = ptrs;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_COUNTS;
	m.counts = &cc;
	swb_edge_link_send(e, &m);
}

static void flush(swb_edge *e)
{
	Swb__ChannelCount items[64], *ptrs[64];
	size_t n = 0;
	swb_edge_count_dirty *d, *tmp;
	HASH_ITER(hh, e->counts_dirty, d, tmp) {
		const char *ch = d->key + d->app_len + 1;
		swb_edge_chan *c = swb_edge_chan_find(&e->chans, d->key, d->app_len, ch, strlen(ch));
		swb__channel_count__init(&items[n]);
		items[n].app_id = d->key;
		items[n].channel = (char *)ch;
		items[n].count = c ? c->n : 0;
		ptrs[n] = &items[n];
		if (++n == 64) {
			send_counts(e, ptrs, n);
			n = 0;
		}
	}
	send_counts(e, ptrs, n);
	clear_dirty(e);
}

static void on_timer(uv_timer_t *t)
{
	swb_edge *e = t->data;
	e->counts_armed = false;
	if (swb_edge_link_up(e))
		flush(e);
	else
		clear_dirty(e);
}

void swb_edge_counts_init(swb_edge *e)
{
	uv_timer_init(&e->loop, &e->counts_timer);
	e->counts_timer.data = e;
}

void swb_edge_counts_touch(swb_edge *e, const char *app, size_t app_len, const char *ch, size_t ch_len)
{
	if (!swb_edge_link_up(e) || e->stopping)
		return; /* the reconnect sends every count */
	size_t kl = app_len + 1 + ch_len;
	swb_edge_count_dirty *d = NULL;
	char key[512];
	if (kl >= sizeof(key))
		return;
	memcpy(key, app, app_len);
	key[app_len] = '\0';
	memcpy(key + app_len + 1, ch, ch_len);
	HASH_FIND(hh, e->counts_dirty, key, kl, d);
	if (!d) {
		if (!(d = malloc(sizeof(*d) + kl + 1)))
			return;
		memcpy(d->key, key, kl);
		d->key[kl] = '\0';
		d->app_len = app_len;
		d->key_len = kl;
		HASH_ADD_KEYPTR(hh, e->counts_dirty, d->key, d->key_len, d);
	}
	if (!e->counts_armed) {
		e->counts_armed = true;
		uv_timer_start(&e->counts_timer, on_timer, SWB_EDGE_COUNTS_MS, 0);
	}
}

void swb_edge_counts_send_all(swb_edge *e)
{
	clear_dirty(e);
	size_t total = swb_edge_chans_count(&e->chans), n = 0;
	Swb__ChannelCount *items = calloc(COUNTS_CHUNK, sizeof(*items));
	Swb__ChannelCount **ptrs = calloc(COUNTS_CHUNK, sizeof(*ptrs));
	if (!items || !ptrs) {
		free(items);
		free(ptrs);
		return;
	}
	swb_edge_chan *c, *tmp;
	HASH_ITER(hh, e->chans.by_key, c, tmp) {
		swb__channel_count__init(&items[n]);
		items[n].app_id = (char *)c->app_id;
		items[n].channel = (char *)c->name;
		items[n].count = c->n;
		ptrs[n] = &items[n];
		if (++n == COUNTS_CHUNK) {
			send_counts(e, ptrs, n);
			n = 0;
		}
	}
	send_counts(e, ptrs, n);
	free(items);
	free(ptrs);
	if (total)
		swb_debug("sent the counts of %zu channels", total);
}

void swb_edge_counts_stop(swb_edge *e)
{
	clear_dirty(e);
	uv_close((uv_handle_t *)&e->counts_timer, NULL);
}
