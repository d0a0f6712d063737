/* webhooks.c: which edge of this host sends a cluster event's webhook.
 *
 * Every edge says in its Hello (again after each reload) which apps it
 * serves (app_ids) and, when webhooks_reported is set, which of them have
 * webhook URLs and for which event types (webhooks: app -> bit mask of
 * common/webhook_kinds.h). A WebhookEvent goes to one live edge that wants
 * the event (round-robin among them). An edge that sent no report (an
 * older edge, or one out of memory) wants every event of the apps it
 * serves, as before the report existed.
 *
 * Outcomes, each counted: sent (webhooks); skipped (webhooks_skipped:
 * edges of this host serve the app but none wants the event - no message
 * at all; such an edge would have discarded it); dropped
 * (webhooks_dropped: no live edge serves the app, or the only ones that
 * want it are closing - as before, nothing is kept for later).
 *
 * Ownership: swb_bridge_edge.hooks (an array of entries, hooks_by_app a
 * uthash view of it) is set and freed here. */
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "bridge.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "webhook_kinds.h"

#define HOOKS_MAX 10000

void swb_bridge_webhooks_free(swb_bridge_edge *e)
{
	HASH_CLEAR(hh, e->hooks_by_app);
	free(e->hooks);
	e->hooks = NULL;
	e->n_hooks = 0;
	e->hooks_reported = false;
}

static swb_bridge_apphooks *find_hooks(swb_bridge_edge *e, const char *app)
{
	swb_bridge_apphooks *a = NULL;
	HASH_FIND_STR(e->hooks_by_app, app, a);
	return a;
}

/* Keep Hello's report: valid app ids (others counted as edge_bad_name),
 * at most HOOKS_MAX apps, a repeated app's masks merged. */
void swb_bridge_webhooks_hello(swb_bridge *b, swb_bridge_edge *e, const Swb__Hello *h)
{
	swb_bridge_webhooks_free(e);
	e->hooks_reported = h->webhooks_reported;
	size_t n = h->n_webhooks < HOOKS_MAX ? h->n_webhooks : HOOKS_MAX;
	if (!e->hooks_reported || !n)
		return;
	if (!(e->hooks = calloc(n, sizeof(*e->hooks)))) {
		swb_err("out of memory keeping edge %s's webhooks: sending it every event of its apps", e->edge_id);
		e->hooks_reported = false;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const Swb__AppWebhooks *w = h->webhooks[i];
		if (!w || !w->app_id || !swb_app_token_valid(w->app_id, strlen(w->app_id))) {
			b->cnt.edge_bad_name++;
			continue;
		}
		swb_bridge_apphooks *a = find_hooks(e, w->app_id);
		if (!a) {
			a = &e->hooks[e->n_hooks++];
			memcpy(a->app, w->app_id, strlen(w->app_id) + 1);
			HASH_ADD_STR(e->hooks_by_app, app, a);
		}
		a->events |= w->events;
	}
}

static bool edge_serves(const swb_bridge_edge *e, const char *app)
{
	for (size_t i = 0; i < e->n_app_ids; i++)
		if (!strcmp(e->app_ids[i], app))
			return true;
	return false;
}

static bool edge_wants(swb_bridge_edge *e, const char *app, uint32_t kind)
{
	if (!e->hooks_reported)
		return edge_serves(e, app);
	const swb_bridge_apphooks *a = find_hooks(e, app);
	return a && (a->events & kind);
}

/* Whether e's pipe is still open. Its removal may be queued but not yet
 * processed (several edges going at once): a webhook handed to a closed
 * pipe would be lost (and nng 1.5.2 leaks such a message). */
static bool edge_alive(const swb_bridge_edge *e)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;
	nng_sockaddr sa;
	p.id = e->pipe_id;
	return nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0;
}

static bool webhook_target(swb_bridge_edge *e, const char *app, uint32_t kind)
{
	return edge_wants(e, app, kind) && edge_alive(e);
}

/* Round-robin among the live edges that want the event; NULL if none. */
static swb_bridge_edge *webhook_edge(swb_bridge *b, const char *app, uint32_t kind)
{
	size_t n = 0;
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
		n += webhook_target(e, app, kind);
	if (!n)
		return NULL;
	size_t pick = (size_t)(b->wh_rr++ % n);
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next)
		if (webhook_target(e, app, kind) && pick-- == 0)
			return e;
	return NULL;
}

/* No live edge wants it: skipped if edges serve the app and none of them
 * (live or not) wants it, else dropped. */
static void count_unsent(swb_bridge *b, const char *app, uint32_t kind)
{
	bool served = false;
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next) {
		if (edge_wants(e, app, kind)) {
			b->cnt.webhooks_dropped++; /* it is closing */
			return;
		}
		served = served || edge_serves(e, app);
	}
	if (served)
		b->cnt.webhooks_skipped++;
	else
		b->cnt.webhooks_dropped++;
}

void swb_bridge_webhook(swb_bridge *b, const char *app, const char *name, const char *chan, const char *user)
{
	uint32_t kind = swb_webhook_kind_bit(name);
	swb_bridge_edge *e = webhook_edge(b, app, kind);
	if (!e) {
		count_unsent(b, app, kind);
		return;
	}
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_bridge_json_webhook(&s, name, chan, user);
	Swb__WebhookEvent w = SWB__WEBHOOK_EVENT__INIT;
	w.app_id = (char *)app;
	w.event_json.data = (uint8_t *)s.p;
	w.event_json.len = s.len;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_WEBHOOK;
	bm.webhook = &w;
	if (!s.oom) {
		swb_bridge_send_msg(b, e->pipe_id, &bm);
		b->cnt.webhooks++;
	}
	swb_sbuf_free(&s);
}
