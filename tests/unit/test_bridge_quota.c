/* test_bridge_quota.c: the bridge's per-host connection counts behind
 * max_connections (bridge/quota.c): EdgeStats.apps are kept per edge
 * (invalid app ids dropped and counted), the host sum per app is the sum
 * over the edges registered now (an edge that goes away stops counting at
 * the next sum), and an app no edge reports any more is not reported. No
 * loop or Redis: only the pure parts (edge_stats, sum, total). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "switchboard.pb-c.h"

static swb_bridge_edge *add_edge(swb_bridge *b, uint32_t id)
{
	swb_bridge_edge *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->pipe_id = id;
	HASH_ADD(hh, b->edges, pipe_id, sizeof(e->pipe_id), e);
	return e;
}

static void report(swb_bridge *b, swb_bridge_edge *e, size_t n, const char **ids, const uint32_t *counts)
{
	Swb__AppCount ac[8], *ap[8];
	Swb__EdgeStats s = SWB__EDGE_STATS__INIT;
	for (size_t i = 0; i < n; i++) {
		swb__app_count__init(&ac[i]);
		ac[i].app_id = (char *)ids[i];
		ac[i].connections = counts[i];
		ap[i] = &ac[i];
	}
	s.n_apps = n;
	s.apps = ap;
	swb_bridge_quota_edge_stats(b, e, &s);
}

static void drop_edge(swb_bridge *b, swb_bridge_edge *e)
{
	HASH_DEL(b->edges, e);
	free(e->apps);
	free(e);
}

static void test_host_sum(void **state)
{
	(void)state;
	swb_bridge b;
	memset(&b, 0, sizeof(b));
	swb_bridge_edge *e1 = add_edge(&b, 1), *e2 = add_edge(&b, 2);
	const char *ids1[] = { "app1", "app2" }, *ids2[] = { "app1", "bad app!", "" };
	const uint32_t c1[] = { 2, 5 }, c2[] = { 1, 7, 9 };
	report(&b, e1, 2, ids1, c1);
	report(&b, e2, 3, ids2, c2);
	assert_int_equal(e2->n_apps, 1);
	assert_int_equal(b.cnt.edge_bad_name, 2); /* "bad app!" and "" */
	assert_int_equal(swb_bridge_quota_sum(&b), 2);
	uint32_t host = 0;
	swb_bridge_quota_total(&b, "app1", &host);
	assert_int_equal(host, 3);
	swb_bridge_quota_total(&b, "app2", &host);
	assert_int_equal(host, 5);
	swb_bridge_quota_total(&b, "bad app!", &host);
	assert_int_equal(host, 0);

	/* a new report replaces the edge's previous one */
	const uint32_t c1b[] = { 4, 0 };
	report(&b, e1, 2, ids1, c1b);
	swb_bridge_quota_sum(&b);
	swb_bridge_quota_total(&b, "app1", &host);
	assert_int_equal(host, 5);
	swb_bridge_quota_total(&b, "app2", &host);
	assert_int_equal(host, 0);

	/* an edge that goes away stops counting */
	drop_edge(&b, e1);
	assert_int_equal(swb_bridge_quota_sum(&b), 1); /* app2: nobody reports it */
	swb_bridge_quota_total(&b, "app1", &host);
	assert_int_equal(host, 1);

	/* saturating sum */
	swb_bridge_edge *e3 = add_edge(&b, 3);
	const char *ids3[] = { "app1" };
	const uint32_t c3[] = { UINT32_MAX };
	report(&b, e3, 1, ids3, c3);
	swb_bridge_quota_sum(&b);
	swb_bridge_quota_total(&b, "app1", &host);
	assert_int_equal(host, UINT32_MAX);

	drop_edge(&b, e2);
	drop_edge(&b, e3);
	swb_bridge_quota_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_sum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
