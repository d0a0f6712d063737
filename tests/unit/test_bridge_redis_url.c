/* test_bridge_redis_url.c: parsing of swb-bridge --redis values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "redis_url.h"

static void test_good(void **state)
{
	(void)state;
	swb_bridge_redis_url u;
	const char *err = NULL;
	assert_int_equal(swb_bridge_redis_url_parse("redis://127.0.0.1:6379", &u, &err), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6379);
	assert_false(u.has_db);
	assert_false(u.none);
	assert_int_equal(swb_bridge_redis_url_parse("redis://redis.example-1:6411/3", &u, &err), 0);
	assert_string_equal(u.host, "redis.example-1");
	assert_int_equal(u.port, 6411);
	assert_true(u.has_db);
	assert_int_equal(u.db, 3);
	assert_int_equal(swb_bridge_redis_url_parse("redis://localhost", &u, &err), 0);
	assert_int_equal(u.port, 6379);
	assert_int_equal(swb_bridge_redis_url_parse("redis://localhost/", &u, &err), 0);
	assert_false(u.has_db);
	assert_int_equal(swb_bridge_redis_url_parse("redis://[::1]:7000/0", &u, &err), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 7000);
	assert_true(u.has_db);
	assert_int_equal(swb_bridge_redis_url_parse("none", &u, &err), 0);
	assert_true(u.none);
}

static void test_bad(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "None", "http://127.0.0.1:6379", "redis://", "redis://:6379", "redis://host:",
		"redis://host:0", "redis://host:65536", "redis://host:12ab", "redis://host:6379/x",
		"redis://host:6379/-1", "redis://user:pw@host:6379", "redis://ho st:1", "redis://host:1:2",
		"redis://[::1", "redis://[]:1", "redis://host:99999999999999999999", "redis://host/1/2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		swb_bridge_redis_url u;
		const char *err = NULL;
		if (swb_bridge_redis_url_parse(bad[i], &u, &err) == 0)
			fail_msg("accepted bad url '%s'", bad[i]);
		assert_non_null(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
