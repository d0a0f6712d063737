/* pending.c: transitions this host could not apply while Redis was
 * unreachable: a user's last connection leaving a presence channel, a
 * channel's host count dropping to 0.
 *
 * If Redis kept its data, the reconcile after the reconnect finds this
 * host's entries and undoes them (member_removed, webhooks): the list is
 * simply dropped. If Redis lost its data (P:epoch changed), no entry is
 * left to undo, yet others saw the member / the occupied channel before
 * the outage. Then, PENDING_DELAY_MS after the reconnect (time for the
 * other hosts to re-apply what is still there), each pending transition
 * runs the `gone` script: a member no host re-applied gets member_removed
 * (published once cluster-wide), a channel nobody re-applied gets
 * channel_vacated, each with its webhook.
 *
 * Owns the pending table (uthash, at most PENDING_MAX entries; an entry
 * whose user / channel came back in memory is skipped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"

#define PENDING_MAX 100000
#define PENDING_DELAY_MS 3000

typedef struct swb_bridge_pending {
	char key[8 + SWB_BRIDGE_KEY_MAX + SWB_BRIDGE_USER_MAX]; /* "KIND\nAPP\nCHAN[\nUSER]" */
	bool pres;
	char app[SWB_APP_ID_MAX + 1];
	char chan[SWB_CHANNEL_NAME_MAX + 1];
	char user[SWB_BRIDGE_USER_MAX + 1];
	UT_hash_handle hh;
} swb_bridge_pending;

void swb_bridge_pending_add(swb_bridge *b, const char *app, const char *chan, const char *user)
{
	if (b->url.none || b->npending >= PENDING_MAX)
		return;
	swb_bridge_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->pres = user != NULL;
	snprintf(p->app, sizeof(p->app), "%s", app);
	snprintf(p->chan, sizeof(p->chan), "%s", chan);
	snprintf(p->user, sizeof(p->user), "%s", user ? user : "");
	snprintf(p->key, sizeof(p->key), "%s\n%s\n%s\n%s", p->pres ? "pres" : "occ", app, chan, p->user);
	swb_bridge_pending *old = NULL;
	HASH_FIND_STR(b->pending, p->key, old);
	if (old) {
		free(p);
		return;
	}
	HASH_ADD_STR(b->pending, key, p);
	b->npending++;
}

typedef struct swb_bridge_gone_call {
	swb_bridge *b;
	bool pres;
	char app[SWB_APP_ID_MAX + 1];
	char chan[SWB_CHANNEL_NAME_MAX + 1];
	char user[SWB_BRIDGE_USER_MAX + 1];
} swb_bridge_gone_call;

static void on_gone_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_gone_call *c = privdata;
	redisReply *r = reply;
	if (r && swb_bridge_reply_is_str(r) && r->str && !strcmp(r->str, "removed"))
		swb_bridge_webhook(c->b, c->app, "member_removed", c->chan, c->user);
	else if (r && swb_bridge_reply_is_str(r) && r->str && !strcmp(r->str, "vacated"))
		swb_bridge_webhook(c->b, c->app, "channel_vacated", c->chan, NULL);
	else if (r && !swb_bridge_reply_is_str(r))
		c->b->cnt.script_errors++;
	free(c);
}

/* Whether memory says the transition no longer holds. */
static bool came_back(swb_bridge *b, const swb_bridge_pending *p)
{
	if (p->pres)
		return swb_bridge_state_user_find(swb_bridge_state_pchan_find(&b->state, p->app, p->chan), p->user);
	swb_bridge_occ *o = swb_bridge_state_occ_find(&b->state, p->app, p->chan);
	return o && o->total;
}

static void send_gone(swb_bridge *b, const swb_bridge_pending *p)
{
	swb_bridge_gone_call *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	*c = (swb_bridge_gone_call){ .b = b, .pres = p->pres };
	memcpy(c->app, p->app, sizeof(c->app));
	memcpy(c->chan, p->chan, sizeof(c->chan));
	memcpy(c->user, p->user, sizeof(c->user));
	const char *args[6] = { b->prefix, p->pres ? "pres" : "occ", c->app, c->chan, c->user, b->host_id };
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(args[i]);
	if (swb_bridge_script_run(b, SWB_SCRIPT_GONE, 6, args, lens, on_gone_reply, c) < 0)
		free(c);
}

static void clear(swb_bridge *b, bool send)
{
	swb_bridge_pending *p, *tmp;
	size_t sent = 0;
	HASH_ITER(hh, b->pending, p, tmp) {
		if (send && !came_back(b, p)) {
			send_gone(b, p);
			sent++;
		}
		HASH_DEL(b->pending, p);
		free(p);
	}
	b->npending = 0;
	if (sent)
		swb_info("announcing %zu leaves / vacates from the Redis outage", sent);
}

static void on_pending_timer(uv_timer_t *t)
{
	swb_bridge *b = t->data;
	if (swb_bridge_redis_cmd_up(b))
		clear(b, true); /* else: kept for the next reconnect */
}

void swb_bridge_pending_reconnected(swb_bridge *b, bool lost)
{
	if (!lost) {
		clear(b, false); /* the reconcile finds this host's entries */
		return;
	}
	if (b->pending)
		uv_timer_start(&b->pending_timer, on_pending_timer, PENDING_DELAY_MS, 0);
}

void swb_bridge_pending_init(swb_bridge *b)
{
	uv_timer_init(b->loop, &b->pending_timer);
	b->pending_timer.data = b;
}

void swb_bridge_pending_fini(swb_bridge *b)
{
	uv_close((uv_handle_t *)&b->pending_timer, NULL);
	clear(b, false);
}
