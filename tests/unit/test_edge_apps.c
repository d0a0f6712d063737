/* test_edge_apps.c: parsing and validating --app / apps-file specs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "apps.h"

static int add(swb_edge_apps *t, const char *spec)
{
	char err[256];
	return swb_edge_apps_add_spec(t, spec, strlen(spec), err, sizeof(err));
}

static void test_specs(void **state)
{
	swb_edge_apps t;
	swb_edge_apps_init(&t);
	assert_int_equal(add(&t, "42:k3y-demo:s3cr3t:with:colons"), 0);
	const swb_edge_app *a = swb_edge_apps_by_key(&t, "k3y-demo", 8);
	assert_non_null(a);
	assert_string_equal(a->id, "42");
	assert_string_equal(a->secret, "s3cr3t:with:colons");
	assert_ptr_equal(swb_edge_apps_by_id(&t, "42", 2), a);
	assert_null(swb_edge_apps_by_id(&t, "4", 1));
	assert_int_equal(add(&t, "42:other:x"), -1);     /* duplicate id */
	assert_int_equal(add(&t, "43:k3y-demo:x"), -1);  /* duplicate key */
	assert_int_equal(add(&t, "44:key44:"), -1);      /* empty secret */
	assert_int_equal(add(&t, "44:key44"), -1);       /* no secret */
	assert_int_equal(add(&t, ":key44:s"), -1);       /* empty id */
	assert_int_equal(add(&t, "4/4:key44:s"), -1);    /* bad id char */
	assert_int_equal(add(&t, "44:ke y:s"), -1);      /* bad key char */
	assert_int_equal(add(&t, "44:key44:s"), 0);
	assert_int_equal(t.n, 2);
	swb_edge_apps_fini(&t);
}

static void test_file(void **state)
{
	char path[] = "/tmp/test_edge_apps_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("# comment\n\n  1:key1:sec1  \n2:key2:sec2\r\n", f);
	fclose(f);
	swb_edge_apps t;
	swb_edge_apps_init(&t);
	char err[512];
	assert_int_equal(swb_edge_apps_load_file(&t, path, err, sizeof(err)), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(swb_edge_apps_by_id(&t, "2", 1)->secret, "sec2");
	f = fopen(path, "w");
	fputs("3:key3:s\nbroken line\n", f);
	fclose(f);
	assert_int_equal(swb_edge_apps_load_file(&t, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2:"));
	assert_int_equal(swb_edge_apps_load_file(&t, "/nonexistent/apps", err, sizeof(err)), -1);
	unlink(path);
	swb_edge_apps_fini(&t);
}

static int json(swb_edge_apps *t, const char *text, char *err)
{
	return swb_edge_apps_load_json(t, text, strlen(text), err, 256);
}

static void test_json(void **state)
{
	swb_edge_apps t;
	char err[256];
	swb_edge_apps_init(&t);
	assert_int_equal(json(&t, "[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"s\",\"enabled\":true,"
				 "\"client_events\":false,\"client_event_rate\":5,\"max_connections\":3,"
				 "\"presence_max_members\":7,\"webhooks\":[{\"url\":\"http://127.0.0.1:9000/hook\","
				 "\"events\":[\"channel_occupied\",\"client_event\"]},{\"url\":\"https://x/y\"}]},"
				 "{\"id\":2,\"key\":\"k2\",\"secret\":\"s2\"}]", err), 0);
	const swb_edge_app *a = swb_edge_apps_by_id(&t, "1", 1);
	assert_non_null(a);
	assert_false(a->client_events);
	assert_int_equal(a->client_event_rate, 5);
	assert_int_equal(a->max_connections, 3);
	assert_int_equal(a->presence_max_members, 7);
	assert_int_equal(a->n_webhooks, 2);
	assert_int_equal(a->webhooks[0].events, SWB_EDGE_WH_CHANNEL_OCCUPIED | SWB_EDGE_WH_CLIENT_EVENT);
	assert_int_equal(a->webhooks[1].events, SWB_EDGE_WH_ALL);
	const swb_edge_app *b = swb_edge_apps_by_id(&t, "2", 1); /* numeric id, defaults */
	assert_non_null(b);
	assert_true(b->enabled && b->client_events);
	assert_int_equal(b->client_event_rate, 10);
	assert_int_equal(b->presence_max_members, 100);
	assert_int_equal(b->max_connections, 0);
	swb_edge_apps_fini(&t);

	const char *bad[] = {
		"[{\"id\":\"1\",\"key\":\"k\"}]",                                   /* no secret */
		"[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"s\",\"enabled\":1}]",          /* not a bool */
		"[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"s\",\"client_event_rate\":-1}]",
		"[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"s\",\"webhooks\":[{\"url\":\"ftp://x\"}]}]",
		"[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"s\",\"webhooks\":[{\"url\":\"http://x\",\"events\":[\"nope\"]}]}]",
		"[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"s\"},{\"id\":\"1\",\"key\":\"k9\",\"secret\":\"s\"}]", /* dup */
		"{\"apps\":5}", "[1]", "[{", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		swb_edge_apps_init(&t);
		assert_int_equal(json(&t, bad[i], err), -1);
		assert_true(err[0] != '\0');
		swb_edge_apps_fini(&t);
	}
	swb_edge_apps_init(&t);
	assert_int_equal(json(&t, "{\"apps\":[{\"id\":\"9\",\"key\":\"k9\",\"secret\":\"s\"}]}", err), 0);
	assert_int_equal(swb_edge_apps_add_webhook_spec(&t, "9=http://h/w", err, sizeof(err)), 0);
	assert_int_equal(swb_edge_apps_by_id(&t, "9", 1)->webhooks[0].events, SWB_EDGE_WH_ALL);
	assert_int_equal(swb_edge_apps_add_webhook_spec(&t, "8=http://h/w", err, sizeof(err)), -1);
	assert_int_equal(swb_edge_apps_add_webhook_spec(&t, "9", err, sizeof(err)), -1);
	swb_edge_apps_fini(&t);
}

static void test_json_file(void **state)
{
	char path[] = "/tmp/test_edge_apps_json_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("  \n[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"s\"}]\n", f);
	fclose(f);
	swb_edge_apps t;
	char err[512];
	swb_edge_apps_init(&t);
	assert_int_equal(swb_edge_apps_load_file(&t, path, err, sizeof(err)), 0);
	assert_int_equal(t.n, 1);
	unlink(path);
	swb_edge_apps_fini(&t);
}

/* Admission under max_connections (swb_edge_app_admit): cluster-wide
 * while the AppUsage total is fresh, per edge otherwise. */
static bool origin(const swb_edge_app *a, const char *o) { return swb_edge_app_origin_allowed(a, o, strlen(o)); }

static void test_origins(void **state)
{
	(void)state;
	swb_edge_apps t;
	char err[256];
	swb_edge_apps_init(&t);
	const char *json = "[{\"id\":\"o\",\"key\":\"ko\",\"secret\":\"s\","
			   "\"allowed_origins\":[\"https://a.example\",\"*.example.org\",\"b.example\"]},"
			   "{\"id\":\"any\",\"key\":\"kany\",\"secret\":\"s\"}]";
	assert_int_equal(swb_edge_apps_load_json(&t, json, strlen(json), err, sizeof(err)), 0);
	const swb_edge_app *a = swb_edge_apps_by_id(&t, "o", 1), *any = swb_edge_apps_by_id(&t, "any", 3);
	assert_int_equal(a->n_origins, 3);
	assert_true(origin(a, "https://a.example"));
	assert_true(origin(a, "HTTPS://A.Example"));       /* case-insensitive */
	assert_false(origin(a, "http://a.example"));       /* exact origin: scheme counts */
	assert_false(origin(a, "https://a.example:8443")); /* ... and port */
	assert_false(origin(a, "https://a.example.evil.com"));
	assert_false(origin(a, "https://xa.example"));
	assert_true(origin(a, "https://x.example.org"));
	assert_true(origin(a, "http://deep.x.example.org:8080"));
	assert_false(origin(a, "https://example.org"));    /* the wildcard needs a label */
	assert_false(origin(a, "https://evilexample.org"));
	assert_false(origin(a, "https://x.example.org.evil.com"));
	assert_true(origin(a, "http://b.example:3000"));    /* bare host: any scheme/port */
	assert_false(origin(a, "null"));
	assert_false(origin(a, ""));
	assert_false(swb_edge_app_origin_allowed(a, "https://a.example\0x", 19)); /* embedded NUL */
	assert_true(swb_edge_app_origin_allowed(a, NULL, 0)); /* no Origin header: not a browser */
	assert_true(origin(any, "https://anything.test"));   /* no list: any */
	swb_edge_apps_fini(&t);
	/* Bad lists are refused with a message. */
	const char *bad[] = {
		"[{\"id\":\"x\",\"key\":\"k\",\"secret\":\"s\",\"allowed_origins\":\"https://a\"}]",
		"[{\"id\":\"x\",\"key\":\"k\",\"secret\":\"s\",\"allowed_origins\":[42]}]",
		"[{\"id\":\"x\",\"key\":\"k\",\"secret\":\"s\",\"allowed_origins\":[\"a b\"]}]",
		"[{\"id\":\"x\",\"key\":\"k\",\"secret\":\"s\",\"allowed_origins\":[\"\"]}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		swb_edge_apps_init(&t);
		assert_int_equal(swb_edge_apps_load_json(&t, bad[i], strlen(bad[i]), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "allowed_origins"));
		swb_edge_apps_fini(&t);
	}
}

static void test_admit(void **state)
{
	swb_edge_app a = { 0 };
	assert_true(swb_edge_app_admit(&a, true)); /* no limit */
	a.connections = 1000;
	assert_true(swb_edge_app_admit(&a, false));
	a.max_connections = 3;
	a.connections = 1;
	/* bridge unreachable: per edge */
	assert_true(swb_edge_app_admit(&a, false));
	a.connections = 3;
	assert_false(swb_edge_app_admit(&a, false));
	/* cluster: total 2 (1 here, 1 elsewhere), nothing accepted since */
	a.connections = 1;
	a.cluster_total = 2;
	a.accepted_since = 0;
	assert_true(swb_edge_app_admit(&a, true));
	/* ... and one accepted since the report: 2 + 1 = 3, not < 3 */
	a.accepted_since = 1;
	assert_false(swb_edge_app_admit(&a, true));
	/* total at the limit although this edge has only 1 */
	a.cluster_total = 3;
	a.accepted_since = 0;
	assert_false(swb_edge_app_admit(&a, true));
	assert_true(swb_edge_app_admit(&a, false));
	/* the local count is a floor even if the total lags behind */
	a.cluster_total = 0;
	a.connections = 3;
	assert_false(swb_edge_app_admit(&a, true));
	/* no overflow near UINT32_MAX */
	a.max_connections = 10000000;
	a.connections = 0;
	a.cluster_total = UINT32_MAX;
	a.accepted_since = UINT32_MAX;
	assert_false(swb_edge_app_admit(&a, true));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_file),
		cmocka_unit_test(test_admit),
		cmocka_unit_test(test_origins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
