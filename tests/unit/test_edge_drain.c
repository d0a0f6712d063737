/* test_edge_drain.c: the drain scheduler (edge/drain.c): how many
 * connections a drain may tell to leave at each moment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "edge.h"

/* Simulate a drain of n connections ticking every tick_ms; returns the
 * elapsed ms at which the last one was told, and checks that at no tick
 * more were told than rate allows. */
static uint64_t simulate(uint32_t rate, uint64_t n, uint64_t tick_ms)
{
	uint64_t told = 0, t = 0;
	for (;; t += tick_ms) {
		uint64_t q = swb_edge_drain_quota(rate, t, told, n - told);
		told += q;
		if (rate)
			assert_true(told <= 1 + t * rate / 1000);
		if (told == n)
			return t;
		assert_true(t < 3600 * 1000);
	}
}

static void test_all_at_once(void **state)
{
	(void)state;
	assert_int_equal(swb_edge_drain_quota(0, 0, 0, 10000), 10000);
	assert_int_equal(simulate(0, 10000, 50), 0);
}

static void test_first_at_once_then_rate(void **state)
{
	(void)state;
	assert_int_equal(swb_edge_drain_quota(20, 0, 0, 60), 1);
	assert_int_equal(swb_edge_drain_quota(20, 49, 1, 59), 0);  /* 20/s: the next at 50 ms */
	assert_int_equal(swb_edge_drain_quota(20, 50, 1, 59), 1);
	assert_int_equal(swb_edge_drain_quota(20, 1000, 1, 59), 20); /* a late tick catches up */
	assert_int_equal(swb_edge_drain_quota(20, 1000, 21, 39), 0);
	assert_int_equal(swb_edge_drain_quota(500, 100000, 0, 7), 7); /* never more than are left */
}

static void test_spread(void **state)
{
	(void)state;
	/* 60 connections at 20/s: the last is told at ~2.95 s, not before. */
	uint64_t last = simulate(20, 60, 50);
	assert_true(last >= 2950 && last < 3000);
	/* 500/s with a 50 ms tick: 25 per tick, 10,000 in ~20 s. */
	last = simulate(500, 10000, 50);
	assert_true(last >= 19950 && last < 20050);
	/* Ticks arriving late (a busy loop) do not slow the drain down. */
	last = simulate(20, 60, 700);
	assert_true(last >= 2800 && last <= 3500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_at_once),
		cmocka_unit_test(test_first_at_once_then_rate),
		cmocka_unit_test(test_spread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
