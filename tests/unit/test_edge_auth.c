/* test_edge_auth.c: private / presence / sign-in signatures (the worked
 * examples of pusher-protocol.md §11), channel_data and user_data parsing,
 * cache channel names, the client-event token bucket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth.h"

#define SID "4242.1717"

static swb_edge_apps apps;
static const swb_edge_app *app;

static int setup(void **state)
{
	char err[128];
	swb_edge_apps_init(&apps);
	assert_int_equal(swb_edge_apps_add_spec(&apps, "42:k3y-demo:s3cr3t-demo", 23, err, sizeof(err)), 0);
	app = swb_edge_apps_by_id(&apps, "42", 2);
	return 0;
}

static int teardown(void **state)
{
	swb_edge_apps_fini(&apps);
	return 0;
}

static bool check(const char *auth, const char *str)
{
	return swb_edge_auth_valid(app, auth, auth ? strlen(auth) : 0, str, strlen(str));
}

static void test_private(void **state)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_edge_auth_channel_string(&s, SID, "private-orders", NULL, 0);
	assert_string_equal(s.p, "4242.1717:private-orders");
	const char *good = "k3y-demo:a14cd19707ee8b85d0ab11d22ea3c75af6df06cd86da09ea01ea3a487bbb2f3f";
	assert_true(check(good, s.p));
	assert_false(check("k3y-demo:a14cd19707ee8b85d0ab11d22ea3c75af6df06cd86da09ea01ea3a487bbb2f3e", s.p));
	assert_false(check("other:a14cd19707ee8b85d0ab11d22ea3c75af6df06cd86da09ea01ea3a487bbb2f3f", s.p));
	assert_false(check("a14cd19707ee8b85d0ab11d22ea3c75af6df06cd86da09ea01ea3a487bbb2f3f", s.p));
	assert_false(check("", s.p));
	assert_false(check(NULL, s.p));
	assert_false(check("k3y-demo:", s.p));
	assert_false(check(good, "4242.1718:private-orders"));
	swb_sbuf err;
	swb_sbuf_init(&err);
	swb_edge_auth_error(&err, s.p, s.len, "k3y-demo:abc", 12);
	assert_string_equal(err.p, "Invalid signature: Expected HMAC SHA256 hex digest of 4242.1717:private-orders, but got abc");
	assert_null(strstr(err.p, "a14cd197")); /* never the expected digest */
	swb_sbuf_free(&err);
	swb_sbuf_free(&s);
}

static void test_presence_and_signin(void **state)
{
	const char *cd = "{\"user_id\":\"u-7\",\"user_info\":{\"name\":\"Ada\"}}";
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_edge_auth_channel_string(&s, SID, "presence-lobby", cd, strlen(cd));
	assert_string_equal(s.p, "4242.1717:presence-lobby:{\"user_id\":\"u-7\",\"user_info\":{\"name\":\"Ada\"}}");
	assert_true(check("k3y-demo:c954883c71968685bb550a868a2056e1f4d164d737d0406a44d609abcf532c58", s.p));
	swb_sbuf_free(&s);
	const char *ud = "{\"id\":\"u-7\",\"user_info\":{\"name\":\"Ada\"}}";
	swb_sbuf_init(&s);
	swb_edge_auth_signin_string(&s, SID, ud, strlen(ud));
	assert_string_equal(s.p, "4242.1717::user::{\"id\":\"u-7\",\"user_info\":{\"name\":\"Ada\"}}");
	assert_true(check("k3y-demo:047d2a356684cac982086fcfde10d61ec057f76c9a05114866860d5535b6f8a1", s.p));
	swb_sbuf_free(&s);
}

static int cd_parse(const char *cd, char **uid, char **info)
{
	char err[256];
	return swb_edge_parse_channel_data(cd, strlen(cd), uid, info, err, sizeof(err));
}

static void test_channel_data(void **state)
{
	char *uid, *info;
	assert_int_equal(cd_parse("{\"user_id\":\"u-7\",\"user_info\":{\"name\": \"Ada\"}}", &uid, &info), 0);
	assert_string_equal(uid, "u-7");
	assert_string_equal(info, "{\"name\":\"Ada\"}");
	free(uid);
	free(info);
	assert_int_equal(cd_parse("{\"user_id\":10}", &uid, &info), 0); /* number -> "10" */
	assert_string_equal(uid, "10");
	assert_null(info);
	free(uid);
	char big[300];
	memset(big, 'a', sizeof(big));
	snprintf(big, sizeof(big), "{\"user_id\":\"%0129d\"}", 1); /* 129 chars */
	assert_int_equal(cd_parse(big, &uid, &info), -1);
	assert_null(uid);
	snprintf(big, sizeof(big), "{\"user_id\":\"%0128d\"}", 1); /* 128 chars */
	assert_int_equal(cd_parse(big, &uid, &info), 0);
	free(uid);
	assert_int_equal(cd_parse("{\"user_id\":\"a b\"}", &uid, &info), -1);  /* charset */
	assert_int_equal(cd_parse("{\"user_id\":\"\"}", &uid, &info), -1);
	assert_int_equal(cd_parse("{\"user_id\":true}", &uid, &info), -1);
	assert_int_equal(cd_parse("{\"user_info\":{}}", &uid, &info), -1);
	assert_int_equal(cd_parse("{\"user_id\":\"u\"", &uid, &info), -1);     /* bad JSON */
	assert_int_equal(cd_parse("[1]", &uid, &info), -1);
	assert_int_equal(cd_parse("", &uid, &info), -1);
	char *huge = malloc(2000);
	int n = snprintf(huge, 2000, "{\"user_id\":\"u\",\"user_info\":\"");
	memset(huge + n, 'x', 1100);
	strcpy(huge + n + 1100, "\"}");
	assert_int_equal(cd_parse(huge, &uid, &info), -1); /* user_info > 1 KB */
	free(huge);
}

static void test_user_data(void **state)
{
	char err[256], *uid;
	const char *ok = "{\"id\":\"u-7\",\"user_info\":{}}";
	assert_int_equal(swb_edge_parse_user_data(ok, strlen(ok), &uid, err, sizeof(err)), 0);
	assert_string_equal(uid, "u-7");
	free(uid);
	const char *bad[] = { "{\"id\":\"\"}", "{\"id\":7}", "{}", "nope", "{\"id\":\"a/b\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(swb_edge_parse_user_data(bad[i], strlen(bad[i]), &uid, err, sizeof(err)), -1);
		assert_null(uid);
	}
}

static void test_cache_names(void **state)
{
	assert_true(swb_edge_is_cache_channel("cache-x", 7));
	assert_true(swb_edge_is_cache_channel("private-cache-x", 15));
	assert_true(swb_edge_is_cache_channel("private-encrypted-cache-x", 25));
	assert_true(swb_edge_is_cache_channel("presence-cache-x", 16));
	assert_false(swb_edge_is_cache_channel("x-cache-y", 9));
	assert_false(swb_edge_is_cache_channel("private-x", 9));
}

static void test_bucket(void **state)
{
	swb_edge_bucket b = { 0, 0 };
	uint64_t t = 1000000;
	for (int i = 0; i < 10; i++)
		assert_true(swb_edge_bucket_take(&b, 10, t));
	assert_false(swb_edge_bucket_take(&b, 10, t));        /* burst of 10 used */
	assert_false(swb_edge_bucket_take(&b, 10, t + 50));   /* half a token back */
	assert_true(swb_edge_bucket_take(&b, 10, t + 150));   /* one token after 100 ms */
	assert_false(swb_edge_bucket_take(&b, 10, t + 150));
	assert_true(swb_edge_bucket_take(&b, 10, t + 60000)); /* long idle: full again */
	int ok = 0;
	for (int i = 0; i < 20; i++)
		ok += swb_edge_bucket_take(&b, 10, t + 60000);
	assert_int_equal(ok, 9);
	for (int i = 0; i < 1000; i++)
		assert_true(swb_edge_bucket_take(&b, 0, t)); /* 0 = unlimited */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_presence_and_signin),
		cmocka_unit_test(test_channel_data),
		cmocka_unit_test(test_user_data),
		cmocka_unit_test(test_cache_names),
		cmocka_unit_test(test_bucket),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
