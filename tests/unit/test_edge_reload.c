/* test_edge_reload.c: swapping in a reloaded app table
 * (swb_edge_apps_replace): apps that stay keep their entry (pointers and
 * runtime counters) and take the new key, secret and settings; removed
 * apps leave the lookups but stay allocated (retired) for whoever still
 * points at them; new apps appear; keys may move between apps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "apps.h"

static void add(swb_edge_apps *t, const char *spec)
{
	char err[256];
	assert_int_equal(swb_edge_apps_add_spec(t, spec, strlen(spec), err, sizeof(err)), 0);
}

#define BY_ID(t, id) swb_edge_apps_by_id(t, id, strlen(id))
#define BY_KEY(t, k) swb_edge_apps_by_key(t, k, strlen(k))

static void test_replace(void **state)
{
	(void)state;
	swb_edge_apps t, fresh;
	swb_edge_apps_init(&t);
	swb_edge_apps_init(&fresh);
	add(&t, "stay:key-stay:old-secret");
	add(&t, "gone:key-gone:s");
	add(&t, "swap1:key-a:s1");
	add(&t, "swap2:key-b:s2");
	swb_edge_app *stay = (swb_edge_app *)BY_ID(&t, "stay"), *gone = (swb_edge_app *)BY_ID(&t, "gone");
	const swb_edge_app *swap1 = BY_ID(&t, "swap1");
	stay->connections = 7; /* runtime state survives */
	gone->connections = 2;

	add(&fresh, "stay:key-stay:new-secret");
	add(&fresh, "new:key-new:s");
	add(&fresh, "swap1:key-b:s1"); /* the two apps trade keys */
	add(&fresh, "swap2:key-a:s2");
	assert_int_equal(swb_edge_apps_replace(&t, &fresh), 1);
	assert_int_equal(fresh.n, 0);
	assert_null(fresh.by_id);
	assert_int_equal(t.n, 4);

	assert_ptr_equal(BY_ID(&t, "stay"), stay);
	assert_ptr_equal(BY_KEY(&t, "key-stay"), stay);
	assert_string_equal(stay->secret, "new-secret");
	assert_int_equal(stay->connections, 7);
	assert_true(stay->enabled);

	assert_null(BY_ID(&t, "gone"));
	assert_null(BY_KEY(&t, "key-gone"));
	assert_ptr_equal(t.retired, gone); /* still allocated for its connections */
	assert_true(gone->removed);
	assert_false(gone->enabled);
	assert_string_equal(gone->id, "gone");

	assert_non_null(BY_ID(&t, "new"));
	assert_ptr_equal(BY_KEY(&t, "key-new"), BY_ID(&t, "new"));
	assert_ptr_equal(BY_ID(&t, "swap1"), swap1);
	assert_ptr_equal(BY_KEY(&t, "key-b"), swap1);
	assert_ptr_equal(BY_KEY(&t, "key-a"), BY_ID(&t, "swap2"));

	swb_edge_apps_fini(&fresh);
	swb_edge_apps_fini(&t);
	assert_null(t.retired);
}

static void test_settings_follow(void **state)
{
	(void)state;
	swb_edge_apps t, fresh;
	char err[256];
	swb_edge_apps_init(&t);
	swb_edge_apps_init(&fresh);
	const char *v1 = "[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\",\"webhooks\":[{\"url\":\"http://x/1\"},{\"url\":\"http://x/2\"}]}]";
	const char *v2 = "[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\",\"enabled\":false,\"max_connections\":5}]";
	assert_int_equal(swb_edge_apps_load_json(&t, v1, strlen(v1), err, sizeof(err)), 0);
	assert_int_equal(swb_edge_apps_load_json(&fresh, v2, strlen(v2), err, sizeof(err)), 0);
	const swb_edge_app *a = BY_ID(&t, "a");
	assert_int_equal(a->n_webhooks, 2);
	assert_int_equal(swb_edge_apps_replace(&t, &fresh), 0);
	assert_ptr_equal(BY_ID(&t, "a"), a);
	assert_false(a->enabled);
	assert_false(a->removed);
	assert_int_equal(a->max_connections, 5);
	assert_int_equal(a->n_webhooks, 0);
	swb_edge_apps_fini(&fresh);
	swb_edge_apps_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_settings_follow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
