/* test_bridge_state.c: the bridge's per-host aggregate (bridge/state.c):
 * channel totals over edges, presence users over connections, the 0 -> 1
 * and 1 -> 0 decisions, and what an edge that disappears leaves behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "state.h"

static int occ_calls, left_calls;
static char left_user[SWB_BRIDGE_USER_MAX + 1];
static uint64_t last_total;

static void on_occ(void *ctx, swb_bridge_occ *o)
{
	occ_calls++;
	last_total = o->total;
	swb_bridge_state_occ_release(ctx, o);
}

static void on_left(void *ctx, swb_bridge_pchan *pc, swb_bridge_puser *u)
{
	left_calls++;
	strcpy(left_user, u->id);
}

static void test_counts_sum_over_edges(void **state)
{
	swb_bridge_state st;
	swb_bridge_state_init(&st);
	bool changed;
	swb_bridge_occ *o = swb_bridge_state_count(&st, "a", "c", 1, 3, &changed);
	assert_non_null(o);
	assert_true(changed);
	assert_int_equal(o->total, 3);
	o = swb_bridge_state_count(&st, "a", "c", 2, 2, &changed);
	assert_int_equal(o->total, 5);
	/* the same absolute value again: no change */
	o = swb_bridge_state_count(&st, "a", "c", 2, 2, &changed);
	assert_false(changed);
	o = swb_bridge_state_count(&st, "a", "c", 1, 1, &changed);
	assert_true(changed);
	assert_int_equal(o->total, 3);
	/* a 0 for an edge that never counted changes nothing */
	o = swb_bridge_state_count(&st, "a", "c", 9, 0, &changed);
	assert_false(changed);
	/* an unknown channel with 0 creates nothing */
	assert_null(swb_bridge_state_count(&st, "a", "other", 1, 0, &changed));
	assert_int_equal(st.nocc, 1);
	/* other apps are other channels */
	o = swb_bridge_state_count(&st, "b", "c", 1, 7, &changed);
	assert_int_equal(o->total, 7);
	assert_int_equal(swb_bridge_state_occ_find(&st, "a", "c")->total, 3);
	swb_bridge_state_fini(&st);
}

static void test_edge_gone_counts(void **state)
{
	swb_bridge_state st;
	swb_bridge_state_init(&st);
	bool changed;
	swb_bridge_state_count(&st, "a", "c1", 1, 3, &changed);
	swb_bridge_state_count(&st, "a", "c1", 2, 1, &changed);
	swb_bridge_state_count(&st, "a", "c2", 1, 4, &changed);
	occ_calls = 0;
	swb_bridge_state_cbs cbs = { on_occ, on_left, &st };
	swb_bridge_state_edge_gone(&st, 1, &cbs);
	assert_int_equal(occ_calls, 2);
	assert_int_equal(swb_bridge_state_occ_find(&st, "a", "c1")->total, 1);
	assert_null(swb_bridge_state_occ_find(&st, "a", "c2")); /* released at 0 */
	swb_bridge_state_edge_gone(&st, 2, &cbs);
	assert_int_equal(last_total, 0);
	assert_int_equal(st.nocc, 0);
	swb_bridge_state_fini(&st);
}

static void test_presence_first_and_last(void **state)
{
	swb_bridge_state st;
	swb_bridge_state_init(&st);
	const char *info = "{\"n\":1}";
	assert_int_equal(swb_bridge_state_join(&st, "a", "presence-r", "u1", info, strlen(info), 1, "1.1"),
			 SWB_JOIN_FIRST);
	/* the same connection again: not a new user, not a new connection */
	assert_int_equal(swb_bridge_state_join(&st, "a", "presence-r", "u1", NULL, 0, 1, "1.1"), SWB_JOIN_MORE);
	assert_int_equal(st.nconns, 1);
	/* a second tab on another edge: more, and the first info is kept */
	assert_int_equal(swb_bridge_state_join(&st, "a", "presence-r", "u1", "{}", 2, 2, "2.1"), SWB_JOIN_MORE);
	swb_bridge_pchan *pc = swb_bridge_state_pchan_find(&st, "a", "presence-r");
	assert_string_equal(swb_bridge_state_user_find(pc, "u1")->info, info);
	assert_int_equal(swb_bridge_state_join(&st, "a", "presence-r", "u2", NULL, 0, 2, "2.2"), SWB_JOIN_FIRST);
	assert_int_equal(pc->nusers, 2);
	/* leaves */
	assert_int_equal(swb_bridge_state_leave(&st, "a", "presence-r", "u1", 1, "1.1"), 0);
	assert_int_equal(swb_bridge_state_leave(&st, "a", "presence-r", "u1", 1, "1.1"), -1);
	assert_int_equal(swb_bridge_state_leave(&st, "a", "presence-r", "u1", 2, "2.1"), 1);
	assert_int_equal(swb_bridge_state_leave(&st, "a", "presence-r", "u2", 2, "2.2"), 1);
	assert_null(swb_bridge_state_pchan_find(&st, "a", "presence-r"));
	assert_int_equal(st.nconns, 0);
	swb_bridge_state_fini(&st);
}

static void test_presence_edge_gone(void **state)
{
	swb_bridge_state st;
	swb_bridge_state_init(&st);
	swb_bridge_state_join(&st, "a", "presence-r", "u1", NULL, 0, 1, "1.1");
	swb_bridge_state_join(&st, "a", "presence-r", "u1", NULL, 0, 2, "2.1");
	swb_bridge_state_join(&st, "a", "presence-r", "u2", NULL, 0, 1, "1.2");
	swb_bridge_state_join(&st, "a", "presence-r", "u2", NULL, 0, 1, "1.3");
	swb_bridge_state_join(&st, "a", "presence-s", "u3", NULL, 0, 1, "1.4");
	left_calls = 0;
	swb_bridge_state_cbs cbs = { on_occ, on_left, &st };
	swb_bridge_state_edge_gone(&st, 1, &cbs);
	/* u2 (both tabs on edge 1) and u3 left; u1 stays through edge 2 */
	assert_int_equal(left_calls, 2);
	swb_bridge_pchan *pc = swb_bridge_state_pchan_find(&st, "a", "presence-r");
	assert_non_null(swb_bridge_state_user_find(pc, "u1"));
	assert_null(swb_bridge_state_user_find(pc, "u2"));
	assert_null(swb_bridge_state_pchan_find(&st, "a", "presence-s"));
	assert_int_equal(st.nconns, 1);
	swb_bridge_state_edge_gone(&st, 2, &cbs);
	assert_int_equal(left_calls, 3);
	assert_string_equal(left_user, "u1");
	assert_null(st.pres);
	swb_bridge_state_fini(&st);
}

static void test_hostile_joins(void **state)
{
	swb_bridge_state st;
	swb_bridge_state_init(&st);
	char longid[SWB_BRIDGE_USER_MAX + 2];
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(swb_bridge_state_join(&st, "a", "presence-r", longid, NULL, 0, 1, "1.1"), SWB_JOIN_ERR);
	assert_int_equal(swb_bridge_state_join(&st, "a", "presence-r", "u\n1", NULL, 0, 1, "1.1"), SWB_JOIN_ERR);
	assert_int_equal(swb_bridge_state_join(&st, "a", "presence-r", "", NULL, 0, 1, "1.1"), SWB_JOIN_ERR);
	assert_int_equal(swb_bridge_state_join(&st, "a", "presence-r", "u", "x", SWB_BRIDGE_INFO_MAX + 1, 1, "1.1"),
			 SWB_JOIN_ERR);
	assert_null(st.pres); /* nothing half-created */
	assert_int_equal(swb_bridge_state_leave(&st, "a", "presence-r", "nobody", 1, "1.1"), -1);
	swb_bridge_state_fini(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_sum_over_edges),
		cmocka_unit_test(test_edge_gone_counts),
		cmocka_unit_test(test_presence_first_and_last),
		cmocka_unit_test(test_presence_edge_gone),
		cmocka_unit_test(test_hostile_joins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
