/* test_bridge_webhooks.c: which edge gets a webhook event (webhooks.c).
 * Edges are registry entries whose pipe ids belong to real inproc pair1
 * pipes (so they count as live; closing a dialer makes its edge "closing")
 * and whose messages stay queued (out_blocked) to be read back. Covers the
 * Hello report (valid apps, bad ids counted, repeats merged), sending only
 * to edges that want the app and event type (round-robin among them),
 * skipping when none of the serving edges wants it, dropping when no edge
 * serves the app or the wanting edge is closing, and an edge without a
 * report (older edge) getting every event of its apps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/util/platform.h>

#include "bridge.h"
#include "switchboard.pb-c.h"
#include "util.h"
#include "webhook_kinds.h"

#define NEDGES 3

static nng_socket lsock, dsock[NEDGES];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t pipes[NEDGES];
static int npipes;

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)ev;
	(void)arg;
	pthread_mutex_lock(&mu);
	if (npipes < NEDGES)
		pipes[npipes++] = nng_pipe_id(p);
	pthread_mutex_unlock(&mu);
}

/* NEDGES live pipes into lsock; their ids in pipes[] (dial order). */
static void open_pipes(void)
{
	assert_int_equal(nng_pair1_open_poly(&lsock), 0);
	assert_int_equal(nng_pipe_notify(lsock, NNG_PIPE_EV_ADD_POST, on_pipe, NULL), 0);
	assert_int_equal(nng_listen(lsock, "inproc://swb-test-webhooks", NULL, 0), 0);
	for (int i = 0; i < NEDGES; i++) {
		int before = npipes;
		assert_int_equal(nng_pair1_open(&dsock[i]), 0);
		assert_int_equal(nng_dial(dsock[i], "inproc://swb-test-webhooks", NULL, 0), 0);
		uint64_t until = swb_mono_ms() + 5000;
		for (;;) {
			pthread_mutex_lock(&mu);
			int n = npipes;
			pthread_mutex_unlock(&mu);
			if (n > before)
				break;
			assert_true(swb_mono_ms() < until);
			nng_msleep(1);
		}
	}
}

static swb_bridge_edge *add_edge(swb_bridge *b, uint32_t pipe, const char *app_a, const char *app_b)
{
	swb_bridge_edge *e = calloc(1, sizeof(*e));
	e->pipe_id = pipe;
	snprintf(e->edge_id, sizeof(e->edge_id), "e%u", pipe);
	e->out_blocked = true; /* queue only: read back below */
	e->stall_ms = swb_mono_ms(); /* no "not reading" warning */
	e->app_ids = calloc(2, sizeof(char *));
	e->app_ids[e->n_app_ids++] = strdup(app_a);
	if (app_b)
		e->app_ids[e->n_app_ids++] = strdup(app_b);
	HASH_ADD(hh, b->edges, pipe_id, sizeof(e->pipe_id), e);
	return e;
}

/* Apply a Hello carrying this webhook report (n entries of app, mask). */
static void report(swb_bridge *b, swb_bridge_edge *e, bool reported, size_t n, const char **apps,
		   const uint32_t *masks)
{
	Swb__AppWebhooks items[8], *ptrs[8];
	for (size_t i = 0; i < n; i++) {
		swb__app_webhooks__init(&items[i]);
		items[i].app_id = (char *)apps[i];
		items[i].events = masks[i];
		ptrs[i] = &items[i];
	}
	Swb__Hello h = SWB__HELLO__INIT;
	h.webhooks_reported = reported;
	h.n_webhooks = n;
	h.webhooks = ptrs;
	swb_bridge_webhooks_hello(b, e, &h);
}

/* The webhook queued for e, if any (its app id and event name checked). */
static bool took(swb_bridge_edge *e, const char *app, const char *name)
{
	if (!e->out_len)
		return false;
	assert_int_equal(e->out_len, 1);
	nng_msg *m = e->outq[e->out_head];
	Swb__BridgeMsg *bm = swb__bridge_msg__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	assert_non_null(bm);
	assert_int_equal(bm->body_case, SWB__BRIDGE_MSG__BODY_WEBHOOK);
	assert_string_equal(bm->webhook->app_id, app);
	assert_non_null(strstr((const char *)bm->webhook->event_json.data, name));
	swb__bridge_msg__free_unpacked(bm, NULL);
	swb_bridge_outq_clear(e);
	e->out_blocked = true;
	e->stall_ms = swb_mono_ms();
	return true;
}

static void free_bridge(swb_bridge *b)
{
	swb_bridge_edge *e, *tmp;
	HASH_ITER(hh, b->edges, e, tmp) {
		HASH_DEL(b->edges, e);
		swb_bridge_outq_clear(e);
		swb_bridge_webhooks_free(e);
		for (size_t i = 0; i < e->n_app_ids; i++)
			free(e->app_ids[i]);
		free(e->app_ids);
		free(e);
	}
	free(b);
}

static void test_report(void **state)
{
	(void)state;
	swb_bridge *b = calloc(1, sizeof(*b));
	swb_bridge_edge *e = add_edge(b, 1, "app1", NULL);
	const char *apps[] = { "app1", "bad app", "app2", "app1" };
	const uint32_t masks[] = { SWB_WH_CHANNEL_OCCUPIED, SWB_WH_ALL, SWB_WH_MEMBER_ADDED, SWB_WH_CACHE_MISS };
	report(b, e, true, 4, apps, masks);
	assert_true(e->hooks_reported);
	assert_int_equal(e->n_hooks, 2);
	assert_int_equal(b->cnt.edge_bad_name, 1);
	assert_string_equal(e->hooks[0].app, "app1");
	assert_int_equal(e->hooks[0].events, SWB_WH_CHANNEL_OCCUPIED | SWB_WH_CACHE_MISS);
	/* a new Hello replaces the report; without the flag there is none */
	report(b, e, false, 1, apps, masks);
	assert_false(e->hooks_reported);
	assert_int_equal(e->n_hooks, 0);
	free_bridge(b);
}

static void test_routing(void **state)
{
	(void)state;
	swb_bridge *b = calloc(1, sizeof(*b));
	/* e1, e2: app1 occupied/vacated; e3: serves app1 and app2, no webhooks */
	swb_bridge_edge *e1 = add_edge(b, pipes[0], "app1", NULL), *e2 = add_edge(b, pipes[1], "app1", NULL),
			*e3 = add_edge(b, pipes[2], "app1", "app2");
	const char *a1[] = { "app1" };
	const uint32_t occ[] = { SWB_WH_CHANNEL_OCCUPIED | SWB_WH_CHANNEL_VACATED };
	report(b, e1, true, 1, a1, occ);
	report(b, e2, true, 1, a1, occ);
	report(b, e3, true, 0, NULL, NULL);

	/* round-robin between e1 and e2, never e3 */
	int n1 = 0, n2 = 0;
	for (int i = 0; i < 4; i++) {
		swb_bridge_webhook(b, "app1", "channel_occupied", "c", NULL);
		n1 += took(e1, "app1", "channel_occupied");
		n2 += took(e2, "app1", "channel_occupied");
		assert_false(took(e3, "app1", "channel_occupied"));
	}
	assert_int_equal(n1, 2);
	assert_int_equal(n2, 2);
	assert_int_equal(b->cnt.webhooks, 4);

	/* a type nobody wants, an app with no webhooks: skipped, no message */
	swb_bridge_webhook(b, "app1", "member_added", "presence-c", "u");
	swb_bridge_webhook(b, "app2", "channel_vacated", "c", NULL);
	assert_int_equal(b->cnt.webhooks_skipped, 2);
	/* an app no edge serves: dropped */
	swb_bridge_webhook(b, "app9", "channel_vacated", "c", NULL);
	assert_int_equal(b->cnt.webhooks_dropped, 1);
	assert_false(took(e1, "", "") || took(e2, "", "") || took(e3, "", ""));

	/* e3 unreported (older edge): every event of its apps */
	report(b, e3, false, 0, NULL, NULL);
	swb_bridge_webhook(b, "app2", "cache_miss", "cache-c", NULL);
	assert_true(took(e3, "app2", "cache_miss"));

	/* every edge closing (its removal not processed yet): app1's vacated,
	 * which they all want, is dropped, not skipped */
	for (int i = 0; i < NEDGES; i++)
		nng_close(dsock[i]);
	uint64_t until = swb_mono_ms() + 5000;
	for (int i = 0; i < NEDGES; i++) {
		nng_sockaddr sa;
		nng_pipe p = NNG_PIPE_INITIALIZER;
		p.id = pipes[i];
		while (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0) {
			assert_true(swb_mono_ms() < until);
			nng_msleep(1);
		}
	}
	uint64_t dropped = b->cnt.webhooks_dropped, skipped = b->cnt.webhooks_skipped;
	swb_bridge_webhook(b, "app1", "channel_vacated", "c", NULL);
	assert_int_equal(b->cnt.webhooks_dropped, dropped + 1);
	assert_int_equal(b->cnt.webhooks_skipped, skipped);
	free_bridge(b);
}

int main(void)
{
	open_pipes();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_routing),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	nng_close(lsock);
	return rc;
}
