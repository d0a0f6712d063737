/* test_bridge_interest.c: the bridge's interest table: 0 -> 1 / 1 -> 0
 * transitions across several edges, sync replacement, edge removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "interest.h"

#define S(x) x, strlen(x)

/* Records transitions like the Redis layer would: "+name" when a channel
 * becomes wanted (SUBSCRIBE), "-name" when it becomes unwanted
 * (UNSUBSCRIBE, then release). */
typedef struct rec {
	swb_bridge_interest *t;
	char log[2048];
	int subs, unsubs;
} rec;

static void on_changed(void *ctx, swb_bridge_chan *ch)
{
	rec *r = ctx;
	bool want = ch->n > 0;
	if (strlen(r->log) + ch->len + 3 < sizeof(r->log)) {
		strcat(r->log, want ? "+" : "-");
		strcat(r->log, ch->name);
		strcat(r->log, " ");
	}
	if (want)
		r->subs++;
	else
		r->unsubs++;
	if (!want)
		swb_bridge_interest_release(r->t, ch);
}

static void setup_rec(rec *r, swb_bridge_interest *t)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	swb_bridge_interest_init(t, on_changed, r);
}

static void test_chan_name(void **state)
{
	(void)state;
	char out[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	assert_int_equal(swb_bridge_chan_name(out, "swb", S("app1"), S("news")), 16);
	assert_string_equal(out, "swb:app1:ch:news");
	char big[400];
	memset(big, 'x', sizeof(big));
	assert_int_equal(swb_bridge_chan_name(out, "swb", big, 64, big, 300), -1);
}

/* chan_split inverts chan_name (app ids hold no ':'; channels and the
 * prefix may) and refuses other shapes. */
static void test_chan_split(void **state)
{
	const char *a, *c;
	size_t al, cl;
	char buf[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	int n = swb_bridge_chan_name(buf, "p:x", "app-1", 5, "presence-a:b", 12);
	assert_int_equal(swb_bridge_chan_split("p:x", buf, (size_t)n, &a, &al, &c, &cl), 0);
	assert_int_equal(al, 5);
	assert_memory_equal(a, "app-1", 5);
	assert_int_equal(cl, 12);
	assert_memory_equal(c, "presence-a:b", 12);
	assert_int_equal(swb_bridge_chan_split("swb", S("swb:a:ch:x"), &a, &al, &c, &cl), 0);
	assert_int_equal(cl, 1);
	assert_int_equal(swb_bridge_chan_split("swb", S("swb:a:ch:"), &a, &al, &c, &cl), -1);  /* no channel */
	assert_int_equal(swb_bridge_chan_split("swb", S("swb::ch:x"), &a, &al, &c, &cl), -1);  /* no app */
	assert_int_equal(swb_bridge_chan_split("swb", S("swb:a:cx:x"), &a, &al, &c, &cl), -1);
	assert_int_equal(swb_bridge_chan_split("swb", S("other:a:ch:x"), &a, &al, &c, &cl), -1);
	assert_int_equal(swb_bridge_chan_split("swb", S("swbx:a:ch:x"), &a, &al, &c, &cl), -1);
	assert_int_equal(swb_bridge_chan_split("swb", S("swb"), &a, &al, &c, &cl), -1);
	assert_int_equal(swb_bridge_chan_split("swb", S("swb:a"), &a, &al, &c, &cl), -1);
}

/* A member keeps the seq of its last add that asked for InterestReady; an
 * add with seq 0 (the bridge's own provisional interest, hold.c) keeps it;
 * a new member after a remove starts from its own add's seq. */
static void test_member_seq(void **state)
{
	swb_bridge_interest t;
	swb_bridge_interest_init(&t, NULL, NULL);
	swb_bridge_interest_add(&t, S("x"), 1, 5);
	swb_bridge_chan *ch = swb_bridge_interest_find(&t, S("x"));
	assert_int_equal(swb_bridge_interest_member(ch, 1)->seq, 5);
	swb_bridge_interest_add(&t, S("x"), 1, 0);
	assert_int_equal(swb_bridge_interest_member(ch, 1)->seq, 5);
	swb_bridge_interest_add(&t, S("x"), 1, 9);
	assert_int_equal(swb_bridge_interest_member(ch, 1)->seq, 9);
	swb_bridge_interest_add(&t, S("x"), 2, 0);
	assert_int_equal(swb_bridge_interest_member(ch, 2)->seq, 0);
	assert_null(swb_bridge_interest_member(ch, 3));
	uint32_t gen = swb_bridge_interest_sync_begin(&t);
	swb_bridge_interest_sync_add(&t, S("x"), 2, gen, 11);
	swb_bridge_interest_sync_end(&t, 2, gen);
	assert_int_equal(swb_bridge_interest_member(ch, 2)->seq, 11);
	swb_bridge_interest_remove(&t, S("x"), 1);
	swb_bridge_interest_add(&t, S("x"), 1, 0);
	assert_int_equal(swb_bridge_interest_member(ch, 1)->seq, 0);
	swb_bridge_interest_fini(&t);
}

static void test_transitions_across_edges(void **state)
{
	(void)state;
	swb_bridge_interest t;
	rec r;
	setup_rec(&r, &t);
	assert_int_equal(swb_bridge_interest_add(&t, S("swb:a:ch:x"), 1, 0), 0);
	assert_int_equal(r.subs, 1);
	swb_bridge_interest_add(&t, S("swb:a:ch:x"), 2, 0); /* second edge: no new SUBSCRIBE */
	swb_bridge_interest_add(&t, S("swb:a:ch:x"), 2, 0); /* duplicate: harmless */
	assert_int_equal(r.subs, 1);
	assert_int_equal(swb_bridge_interest_find(&t, S("swb:a:ch:x"))->n, 2);
	swb_bridge_interest_remove(&t, S("swb:a:ch:x"), 1);
	assert_int_equal(r.unsubs, 0);
	swb_bridge_interest_remove(&t, S("swb:a:ch:x"), 3); /* non-member */
	swb_bridge_interest_remove(&t, S("swb:a:ch:nope"), 2); /* unknown channel */
	assert_int_equal(r.unsubs, 0);
	swb_bridge_interest_remove(&t, S("swb:a:ch:x"), 2);
	assert_int_equal(r.unsubs, 1);
	assert_null(swb_bridge_interest_find(&t, S("swb:a:ch:x")));
	assert_int_equal(t.wanted, 0);
	/* and again: 0 -> 1 re-subscribes */
	swb_bridge_interest_add(&t, S("swb:a:ch:x"), 5, 0);
	assert_int_equal(r.subs, 2);
	assert_string_equal(r.log, "+swb:a:ch:x -swb:a:ch:x +swb:a:ch:x ");
	swb_bridge_interest_fini(&t);
}

static void test_remove_edge(void **state)
{
	(void)state;
	swb_bridge_interest t;
	rec r;
	setup_rec(&r, &t);
	swb_bridge_interest_add(&t, S("c1"), 1, 0);
	swb_bridge_interest_add(&t, S("c2"), 1, 0);
	swb_bridge_interest_add(&t, S("c2"), 2, 0);
	swb_bridge_interest_add(&t, S("c3"), 2, 0);
	assert_int_equal(r.subs, 3);
	assert_int_equal(swb_bridge_interest_edge_count(&t, 1), 2);
	swb_bridge_interest_remove_edge(&t, 1);
	assert_int_equal(r.unsubs, 1); /* only c1 lost its last edge */
	assert_null(swb_bridge_interest_find(&t, S("c1")));
	assert_int_equal(swb_bridge_interest_find(&t, S("c2"))->n, 1);
	assert_int_equal(swb_bridge_interest_edge_count(&t, 1), 0);
	swb_bridge_interest_remove_edge(&t, 2);
	assert_int_equal(r.unsubs, 3);
	assert_null(t.chans);
	assert_int_equal(t.wanted, 0);
	swb_bridge_interest_fini(&t);
}

static void test_sync_replaces_set(void **state)
{
	(void)state;
	swb_bridge_interest t;
	rec r;
	setup_rec(&r, &t);
	swb_bridge_interest_add(&t, S("keep"), 7, 0);
	swb_bridge_interest_add(&t, S("drop"), 7, 0);
	swb_bridge_interest_add(&t, S("drop"), 8, 0); /* other edge keeps it wanted */
	swb_bridge_interest_add(&t, S("gone"), 7, 0);
	r.log[0] = '\0';
	uint32_t gen = swb_bridge_interest_sync_begin(&t);
	swb_bridge_interest_sync_add(&t, S("keep"), 7, gen, 0);
	swb_bridge_interest_sync_add(&t, S("new"), 7, gen, 0);
	swb_bridge_interest_sync_end(&t, 7, gen);
	assert_string_equal(r.log, "+new -gone ");
	assert_int_equal(swb_bridge_interest_find(&t, S("drop"))->n, 1);
	assert_int_equal(swb_bridge_interest_find(&t, S("drop"))->members[0].edge, 8);
	assert_int_equal(swb_bridge_interest_edge_count(&t, 7), 2);
	/* an empty sync drops everything of that edge */
	gen = swb_bridge_interest_sync_begin(&t);
	swb_bridge_interest_sync_end(&t, 7, gen);
	assert_int_equal(swb_bridge_interest_edge_count(&t, 7), 0);
	assert_int_equal(t.wanted, 1);
	swb_bridge_interest_fini(&t);
}

/* A changed handler that keeps unwanted channels (e.g. UNSUBSCRIBE
 * pending): the table must keep them until released. */
static void keep_changed(void *ctx, swb_bridge_chan *ch)
{
	(void)ctx;
	ch->sub_state = ch->n ? SWB_SUB_ON : SWB_SUB_LEAVING;
}

static void test_release_is_owner_decision(void **state)
{
	(void)state;
	swb_bridge_interest t;
	swb_bridge_interest_init(&t, keep_changed, NULL);
	swb_bridge_interest_add(&t, S("x"), 1, 0);
	swb_bridge_interest_remove(&t, S("x"), 1);
	swb_bridge_chan *ch = swb_bridge_interest_find(&t, S("x"));
	assert_non_null(ch);
	assert_int_equal(ch->sub_state, SWB_SUB_LEAVING);
	swb_bridge_interest_add(&t, S("x"), 2, 0); /* wanted again while leaving */
	assert_false(swb_bridge_interest_release(&t, ch));
	swb_bridge_interest_remove(&t, S("x"), 2);
	assert_true(swb_bridge_interest_release(&t, ch));
	assert_null(t.chans);
	swb_bridge_interest_fini(&t);
}

static void test_many_channels(void **state)
{
	(void)state;
	swb_bridge_interest t;
	rec r;
	setup_rec(&r, &t);
	char name[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "swb:a:ch:c%d", i);
		swb_bridge_interest_add(&t, name, strlen(name), (uint32_t)(i % 3), 0);
	}
	assert_int_equal(r.subs, 5000);
	assert_int_equal(HASH_COUNT(t.chans), 5000);
	swb_bridge_interest_remove_edge(&t, 0);
	swb_bridge_interest_remove_edge(&t, 1);
	swb_bridge_interest_remove_edge(&t, 2);
	assert_int_equal(r.unsubs, 5000);
	assert_null(t.chans);
	swb_bridge_interest_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chan_name),
		cmocka_unit_test(test_chan_split),
		cmocka_unit_test(test_member_seq),
		cmocka_unit_test(test_transitions_across_edges),
		cmocka_unit_test(test_remove_edge),
		cmocka_unit_test(test_sync_replaces_set),
		cmocka_unit_test(test_release_is_owner_decision),
		cmocka_unit_test(test_many_channels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
