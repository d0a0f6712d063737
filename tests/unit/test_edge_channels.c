/* test_edge_channels.c: local channel index: first/last semantics, O(1)
 * swap-remove bookkeeping on both sides, caps, remove_all. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "channels.h"

static int gone_count;
static char gone_name[256];

static void on_gone(void *ctx, const swb_edge_chan *c)
{
	gone_count++;
	memcpy(gone_name, c->name, c->name_len);
	gone_name[c->name_len] = '\0';
	assert_ptr_equal(ctx, &gone_count);
}

#define ADD(x, s, ch, first) swb_edge_chan_add((x), (s), 100, "app", 3, (ch), strlen(ch), false, (first), NULL)
#define REM(x, s, ch) swb_edge_chan_remove((x), (s), "app", 3, (ch), strlen(ch), on_gone, &gone_count)

/* Both sides of every membership point at each other. */
static void check_consistent(swb_edge_subs **all, int n)
{
	for (int i = 0; i < n; i++) {
		swb_edge_subs *s = all[i];
		for (uint32_t k = 0; k < s->n; k++) {
			swb_edge_chan *c = s->v[k].chan;
			assert_true(s->v[k].pos < c->n);
			assert_ptr_equal(c->members[s->v[k].pos].subs, s);
			assert_int_equal(c->members[s->v[k].pos].idx, k);
		}
	}
}

/* The index's running member count is every subscriber's subs.n summed. */
static void check_members(const swb_edge_chans *x, swb_edge_subs **all, int n)
{
	size_t sum = 0;
	for (int i = 0; i < n; i++)
		sum += all[i]->n;
	assert_int_equal(x->members, sum);
}

static void test_first_last(void **state)
{
	swb_edge_chans x;
	swb_edge_chans_init(&x);
	swb_edge_subs a = { .owner = &a }, b = { .owner = &b };
	bool first;
	gone_count = 0;
	assert_int_equal(ADD(&x, &a, "news", &first), 0);
	assert_true(first);
	assert_int_equal(ADD(&x, &b, "news", &first), 0);
	assert_false(first);
	assert_int_equal(ADD(&x, &a, "news", &first), -EEXIST);
	assert_int_equal(swb_edge_chans_count(&x), 1);
	assert_int_equal(x.members, 2);
	assert_int_equal(REM(&x, &a, "news"), 0);
	assert_int_equal(x.members, 1);
	assert_int_equal(gone_count, 0);
	assert_int_equal(REM(&x, &a, "news"), -ENOENT);
	assert_int_equal(REM(&x, &a, "other"), -ENOENT);
	assert_int_equal(REM(&x, &b, "news"), 0);
	assert_int_equal(x.members, 0);
	assert_int_equal(gone_count, 1);
	assert_string_equal(gone_name, "news");
	assert_int_equal(swb_edge_chans_count(&x), 0);
	assert_null(swb_edge_chan_find(&x, "app", 3, "news", 4));
	swb_edge_chan_remove_all(&x, &a, on_gone, &gone_count);
	swb_edge_chan_remove_all(&x, &b, on_gone, &gone_count);
	swb_edge_chans_fini(&x);
}

static void test_apps_are_separate(void **state)
{
	swb_edge_chans x;
	swb_edge_chans_init(&x);
	swb_edge_subs a = { .owner = &a };
	bool first;
	assert_int_equal(swb_edge_chan_add(&x, &a, 100, "a1", 2, "c", 1, false, &first, NULL), 0);
	assert_true(first);
	assert_int_equal(swb_edge_chan_add(&x, &a, 100, "a2", 2, "c", 1, false, &first, NULL), 0);
	assert_true(first);
	/* "a" + "1c" must not collide with "a1" + "c" */
	assert_int_equal(swb_edge_chan_add(&x, &a, 100, "a", 1, "1c", 2, false, &first, NULL), 0);
	assert_true(first);
	assert_int_equal(swb_edge_chans_count(&x), 3);
	swb_edge_chan *c = swb_edge_chan_find(&x, "a2", 2, "c", 1);
	assert_non_null(c);
	assert_int_equal(c->app_len, 2);
	assert_memory_equal(c->app_id, "a2", 2);
	swb_edge_chan_remove_all(&x, &a, NULL, NULL);
	assert_int_equal(swb_edge_chans_count(&x), 0);
	swb_edge_chans_fini(&x);
}

static void test_swap_remove_many(void **state)
{
	enum { N = 20, C = 8 };
	swb_edge_chans x;
	swb_edge_chans_init(&x);
	swb_edge_subs subs[N], *all[N];
	char name[16];
	bool first;
	gone_count = 0;
	for (int i = 0; i < N; i++) {
		subs[i] = (swb_edge_subs){ .owner = &subs[i] };
		all[i] = &subs[i];
		for (int k = 0; k < C; k++) {
			snprintf(name, sizeof(name), "ch%d", (i + k) % C);
			assert_int_equal(ADD(&x, &subs[i], name, &first), 0);
		}
	}
	check_consistent(all, N);
	check_members(&x, all, N);
	assert_int_equal(x.members, N * C);
	/* remove in an interleaved order and keep checking */
	for (int i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "ch%d", i % C);
		assert_int_equal(REM(&x, &subs[i], name), 0);
		check_consistent(all, N);
		check_members(&x, all, N);
	}
	for (int i = 1; i < N; i += 2) {
		swb_edge_chan_remove_all(&x, &subs[i], on_gone, &gone_count);
		check_consistent(all, N);
		check_members(&x, all, N);
	}
	assert_int_equal(gone_count, 0);
	for (int i = 0; i < N; i += 2)
		swb_edge_chan_remove_all(&x, &subs[i], on_gone, &gone_count);
	assert_int_equal(gone_count, C);
	assert_int_equal(swb_edge_chans_count(&x), 0);
	assert_int_equal(x.members, 0);
	swb_edge_chans_fini(&x);
}

static void test_cap(void **state)
{
	swb_edge_chans x;
	swb_edge_chans_init(&x);
	swb_edge_subs a = { .owner = &a };
	bool first;
	assert_int_equal(swb_edge_chan_add(&x, &a, 2, "app", 3, "a", 1, false, &first, NULL), 0);
	assert_int_equal(swb_edge_chan_add(&x, &a, 2, "app", 3, "b", 1, false, &first, NULL), 0);
	assert_int_equal(swb_edge_chan_add(&x, &a, 2, "app", 3, "c", 1, false, &first, NULL), -E2BIG);
	assert_int_equal(swb_edge_chans_count(&x), 2);
	assert_int_equal(x.members, 2);
	swb_edge_chan_remove_all(&x, &a, NULL, NULL);
	swb_edge_chans_fini(&x);
}

#define ADDW(x, s, ch, first, waiting) \
	swb_edge_chan_add((x), (s), 100, "app", 3, (ch), strlen(ch), true, (first), (waiting))

static void *told[8];
static int ntold;

static void on_told(void *ctx, void *owner, const swb_edge_chan *c)
{
	assert_ptr_equal(ctx, &ntold);
	assert_true(ntold < 8);
	told[ntold++] = owner;
}

/* Members added before the channel is ready wait; set_ready tells each
 * once; later members never wait; unready makes new ones wait again while
 * the told ones stay told; removing a waiting member keeps the counts. */
static void test_waiting(void **state)
{
	swb_edge_chans x;
	swb_edge_chans_init(&x);
	swb_edge_subs a = { .owner = &a }, b = { .owner = &b }, c = { .owner = &c }, d = { .owner = &d };
	bool first, waiting;
	ntold = 0;
	assert_int_equal(ADDW(&x, &a, "news", &first, &waiting), 0);
	assert_true(first);
	assert_true(waiting);
	assert_int_equal(ADDW(&x, &b, "news", &first, &waiting), 0);
	assert_true(waiting);
	assert_int_equal(ADD(&x, &c, "news", &first), 0); /* may_wait false: told at once */
	swb_edge_chan *ch = swb_edge_chan_find(&x, "app", 3, "news", 4);
	assert_non_null(ch);
	assert_int_equal(x.waiting, 2);
	assert_int_equal(ch->n_waiting, 2);
	assert_true(swb_edge_chan_waiting(ch, &a));
	assert_false(swb_edge_chan_waiting(ch, &c));
	assert_false(swb_edge_chan_waiting(ch, &d)); /* not a member */
	/* a leaves while waiting: swap-remove moves c's entry, flags move too */
	assert_int_equal(REM(&x, &a, "news"), 0);
	assert_int_equal(x.waiting, 1);
	assert_int_equal(ch->n_waiting, 1);
	assert_false(swb_edge_chan_waiting(ch, &c));
	assert_true(swb_edge_chan_waiting(ch, &b));
	assert_int_equal(swb_edge_chan_set_ready(&x, ch, on_told, &ntold), 1);
	assert_int_equal(ntold, 1);
	assert_ptr_equal(told[0], &b);
	assert_int_equal(x.waiting, 0);
	assert_int_equal(swb_edge_chan_set_ready(&x, ch, on_told, &ntold), 0); /* again: nothing */
	assert_int_equal(ntold, 1);
	assert_int_equal(ADDW(&x, &d, "news", &first, &waiting), 0);
	assert_false(waiting); /* ready channel */
	REM(&x, &d, "news");
	swb_edge_chans_unready(&x);
	assert_int_equal(ADDW(&x, &d, "news", &first, &waiting), 0);
	assert_true(waiting);
	assert_false(swb_edge_chan_waiting(ch, &b));
	assert_int_equal(x.waiting, 1);
	/* close while waiting */
	swb_edge_chan_remove_all(&x, &d, NULL, NULL);
	assert_int_equal(x.waiting, 0);
	assert_int_equal(ch->n_waiting, 0);
	swb_edge_subs *all[] = { &b, &c };
	check_consistent(all, 2);
	swb_edge_chan_remove_all(&x, &b, NULL, NULL);
	swb_edge_chan_remove_all(&x, &c, NULL, NULL);
	swb_edge_chan_remove_all(&x, &a, NULL, NULL); /* a left its only channel: frees its vector */
	assert_int_equal(swb_edge_chans_count(&x), 0);
	swb_edge_chans_fini(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_last),
		cmocka_unit_test(test_apps_are_separate),
		cmocka_unit_test(test_swap_remove_many),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_waiting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
