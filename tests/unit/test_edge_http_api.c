/* test_edge_http_api.c: Pusher HTTP API request auth (pusher-protocol.md
 * §7.1, worked example §11), percent-decoding, routing and body parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http_api.h"

#define BODY "{\"name\":\"order-shipped\",\"channels\":[\"private-orders\"],\"data\":\"{\\\"id\\\":9}\"}"
#define SIG "6cd1769c9b3d04a348a74749d2fdfa1efa410fb3a25692aa24aaf80d64024252"
#define QS "auth_key=k3y-demo&auth_timestamp=1700000000&auth_version=1.0&body_md5=ea0f8d29f5393fa92fffba9f5b5fd9d5"

static swb_edge_apps apps;
static const swb_edge_app *app42;

static int setup(void **state)
{
	char err[256];
	swb_edge_apps_init(&apps);
	assert_int_equal(swb_edge_apps_add_spec(&apps, "42:k3y-demo:s3cr3t-demo", 23, err, sizeof(err)), 0);
	app42 = swb_edge_apps_by_id(&apps, "42", 2);
	assert_non_null(app42);
	return 0;
}

static int teardown(void **state)
{
	swb_edge_apps_fini(&apps);
	return 0;
}

static int auth(const char *qs, const char *body, int64_t now, char *err)
{
	swb_edge_query q;
	swb_edge_query_init(&q);
	assert_int_equal(swb_edge_query_parse(&q, qs, strlen(qs)), 0);
	int rc = swb_edge_api_auth(app42, "POST", "/apps/42/events", 15, &q, body, strlen(body), now, err, 512);
	swb_edge_query_fini(&q);
	return rc;
}

static void test_string_to_sign(void **state)
{
	swb_edge_query q;
	swb_edge_query_init(&q);
	/* shuffled order, upper-case key, signature excluded */
	const char *qs = "body_md5=ea0f8d29f5393fa92fffba9f5b5fd9d5&auth_signature=zz&AUTH_KEY=k3y-demo"
			 "&auth_version=1.0&auth_timestamp=1700000000";
	assert_int_equal(swb_edge_query_parse(&q, qs, strlen(qs)), 0);
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_edge_api_string_to_sign("POST", "/apps/42/events", 15, &q, &s);
	assert_string_equal(s.p, "POST\n/apps/42/events\n" QS);
	swb_sbuf_free(&s);
	swb_edge_query_fini(&q);
}

static void test_worked_example(void **state)
{
	char err[512] = "";
	assert_int_equal(auth(QS "&auth_signature=" SIG, BODY, 1700000000, err), 200);
	assert_int_equal(auth(QS "&auth_signature=" SIG, BODY, 1700000000 + 600, err), 200);
	assert_int_equal(auth(QS "&auth_signature=" SIG, BODY, 1700000000 - 600, err), 200);
}

static void test_timestamp_window(void **state)
{
	char err[512] = "";
	assert_int_equal(auth(QS "&auth_signature=" SIG, BODY, 1700000000 + 601, err), 401);
	assert_non_null(strstr(err, "Timestamp expired"));
	assert_int_equal(auth(QS "&auth_signature=" SIG, BODY, 1700000000 - 601, err), 401);
}

static void test_bad_signature_and_body(void **state)
{
	char err[512] = "";
	char sig[] = SIG;
	sig[0] = '7';
	char qs[512];
	snprintf(qs, sizeof(qs), QS "&auth_signature=%s", sig);
	assert_int_equal(auth(qs, BODY, 1700000000, err), 401);
	assert_non_null(strstr(err, "Invalid signature"));
	/* body changed: md5 mismatch */
	assert_int_equal(auth(QS "&auth_signature=" SIG, "{}", 1700000000, err), 401);
	assert_non_null(strstr(err, "body_md5"));
	/* wrong key */
	assert_int_equal(auth("auth_key=other&auth_timestamp=1700000000&auth_version=1.0&body_md5="
			      "ea0f8d29f5393fa92fffba9f5b5fd9d5&auth_signature=" SIG, BODY, 1700000000, err), 401);
	/* missing signature */
	assert_int_equal(auth(QS, BODY, 1700000000, err), 401);
	/* bad version */
	assert_int_equal(auth("auth_key=k3y-demo&auth_timestamp=1700000000&auth_version=2.0&body_md5="
			      "ea0f8d29f5393fa92fffba9f5b5fd9d5&auth_signature=" SIG, BODY, 1700000000, err), 401);
}

static void test_get_example(void **state)
{
	swb_edge_query q;
	swb_edge_query_init(&q);
	/* PHP-style encoded value; decoded before signing */
	const char *qs = "auth_key=k3y-demo&auth_timestamp=1700000000&auth_version=1.0&filter_by_prefix=presence-"
			 "&info=user%5Fcount&auth_signature=19ada47b0fca125ca6a45bb62b7857a7dd703eafdd0f58a235c4c1a321fb81cf";
	assert_int_equal(swb_edge_query_parse(&q, qs, strlen(qs)), 0);
	char err[512];
	assert_int_equal(swb_edge_api_auth(app42, "GET", "/apps/42/channels", 17, &q, "", 0, 1700000000, err, sizeof(err)),
			 200);
	swb_edge_query_fini(&q);
}

static void test_pct_decode(void **state)
{
	char out[64];
	size_t n = swb_edge_pct_decode("a%2Cb+c%zz%4", 12, out);
	assert_int_equal(n, 10);
	assert_memory_equal(out, "a,b c%zz%4", 10);
	n = swb_edge_pct_decode("%41%00x", 7, out);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "A\0x", 3);
	n = swb_edge_pct_decode("%", 1, out);
	assert_int_equal(n, 1);
}

static void test_query_limits(void **state)
{
	swb_edge_query q;
	swb_edge_query_init(&q);
	assert_int_equal(swb_edge_query_parse(&q, "a=1&A=2", 7), -1); /* duplicate after lower-casing */
	swb_edge_query_fini(&q);
	swb_edge_query_init(&q);
	char big[SWB_EDGE_API_MAX_PARAMS * 8 + 16] = "";
	for (int i = 0; i <= SWB_EDGE_API_MAX_PARAMS; i++)
		sprintf(big + strlen(big), "%sk%d=v", i ? "&" : "", i);
	assert_int_equal(swb_edge_query_parse(&q, big, strlen(big)), -1);
	swb_edge_query_fini(&q);
	swb_edge_query_init(&q);
	assert_int_equal(swb_edge_query_parse(&q, "&&x&y=", 6), 0);
	assert_non_null(swb_edge_query_get(&q, "x"));
	assert_int_equal(swb_edge_query_get(&q, "y")->val_len, 0);
	swb_edge_query_fini(&q);
}

static void test_route(void **state)
{
	const char *id;
	size_t n;
	assert_int_equal(swb_edge_api_route("/apps/42/events", 15, &id, &n), SWB_EDGE_API_EVENTS);
	assert_int_equal(n, 2);
	assert_int_equal(swb_edge_api_route("/apps/a.b/batch_events", 22, &id, &n), SWB_EDGE_API_BATCH_EVENTS);
	assert_int_equal(swb_edge_api_route("/apps//events", 13, &id, &n), SWB_EDGE_API_NOT_FOUND);
	assert_int_equal(swb_edge_api_route("/apps/42/events/x", 17, &id, &n), SWB_EDGE_API_NOT_FOUND);
	assert_int_equal(swb_edge_api_route("/apps/42", 8, &id, &n), SWB_EDGE_API_NOT_FOUND);
	assert_int_equal(swb_edge_api_route("/app", 4, &id, &n), SWB_EDGE_API_NOT_FOUND);
}

#define MATCH(path, t) swb_edge_api_match((path), strlen(path), (t))

static void test_match(void **state)
{
	swb_edge_api_target t;
	assert_int_equal(MATCH("/apps/42/channels", &t), SWB_EDGE_API_CHANNELS);
	assert_int_equal(t.app_len, 2);
	assert_int_equal(MATCH("/apps/42/channels/presence-x", &t), SWB_EDGE_API_CHANNEL);
	assert_int_equal(t.arg_len, 10);
	assert_memory_equal(t.arg, "presence-x", 10);
	assert_int_equal(MATCH("/apps/42/channels/presence-x/users", &t), SWB_EDGE_API_USERS);
	assert_int_equal(t.arg_len, 10);
	assert_int_equal(MATCH("/apps/42/users/u-7/terminate_connections", &t), SWB_EDGE_API_TERMINATE);
	assert_memory_equal(t.arg, "u-7", 3);
	assert_int_equal(MATCH("/apps/42/channels/", &t), SWB_EDGE_API_NOT_FOUND);
	assert_int_equal(MATCH("/apps/42/channels//users", &t), SWB_EDGE_API_NOT_FOUND);
	assert_int_equal(MATCH("/apps/42/channels/x/y", &t), SWB_EDGE_API_NOT_FOUND);
	assert_int_equal(MATCH("/apps/42/users/u", &t), SWB_EDGE_API_NOT_FOUND);
	assert_int_equal(MATCH("/apps/42/users//terminate_connections", &t), SWB_EDGE_API_NOT_FOUND);
	assert_true(swb_edge_api_route_is_get(SWB_EDGE_API_USERS));
	assert_false(swb_edge_api_route_is_get(SWB_EDGE_API_TERMINATE));
}

static void test_info_parse(void **state)
{
	char err[128];
	unsigned m;
	unsigned all = SWB_EDGE_INFO_USER_COUNT | SWB_EDGE_INFO_SUBSCRIPTION_COUNT;
	assert_int_equal(swb_edge_api_info_parse("user_count,subscription_count", 29, all, &m, err, sizeof(err)), 200);
	assert_int_equal(m, all);
	assert_int_equal(swb_edge_api_info_parse("", 0, all, &m, err, sizeof(err)), 200);
	assert_int_equal(m, 0);
	assert_int_equal(swb_edge_api_info_parse("cache", 5, all, &m, err, sizeof(err)), 400); /* not allowed here */
	assert_int_equal(swb_edge_api_info_parse("user_count,bogus", 16, all, &m, err, sizeof(err)), 400);
	assert_int_equal(swb_edge_api_info_parse("user_counts", 11, all, &m, err, sizeof(err)), 400);
}

static int get_validate(const char *path, const char *query, swb_edge_api_get *g)
{
	swb_edge_api_target t;
	swb_edge_query q;
	char err[256];
	swb_edge_query_init(&q);
	assert_int_equal(swb_edge_query_parse(&q, query, strlen(query)), 0);
	assert_int_not_equal(MATCH(path, &t), SWB_EDGE_API_NOT_FOUND);
	int rc = swb_edge_api_get_validate(&t, &q, g, err, sizeof(err));
	swb_edge_query_fini(&q);
	return rc;
}

static void test_get_validate(void **state)
{
	swb_edge_api_get g;
	assert_int_equal(get_validate("/apps/1/channels", "", &g), 200);
	assert_int_equal(get_validate("/apps/1/channels", "filter_by_prefix=presence-&info=user_count", &g), 200);
	assert_string_equal(g.prefix, "presence-");
	assert_int_equal(g.info, SWB_EDGE_INFO_USER_COUNT);
	assert_int_equal(get_validate("/apps/1/channels", "info=user_count", &g), 400);
	assert_int_equal(get_validate("/apps/1/channels", "filter_by_prefix=private-&info=user_count", &g), 400);
	assert_int_equal(get_validate("/apps/1/channels", "info=subscription_count", &g), 200);
	assert_int_equal(get_validate("/apps/1/channels", "info=cache", &g), 400);
	assert_int_equal(get_validate("/apps/1/channels", "filter_by_prefix=a%20b", &g), 400);
	assert_int_equal(get_validate("/apps/1/channels/presence-r", "info=user_count,subscription_count,cache", &g), 200);
	assert_string_equal(g.channel, "presence-r");
	assert_int_equal(g.info, SWB_EDGE_INFO_USER_COUNT | SWB_EDGE_INFO_SUBSCRIPTION_COUNT | SWB_EDGE_INFO_CACHE);
	assert_int_equal(get_validate("/apps/1/channels/private-r", "info=user_count", &g), 400);
	assert_int_equal(get_validate("/apps/1/channels/cache-r", "info=cache", &g), 200);
	assert_int_equal(get_validate("/apps/1/channels/bad!name", "", &g), 400);
	assert_int_equal(get_validate("/apps/1/channels/presence-r/users", "", &g), 200);
	assert_int_equal(get_validate("/apps/1/channels/private-r/users", "", &g), 400);
}

static void test_parse_info(void **state)
{
	char err[256];
	swb_edge_api_publish p;
	swb_edge_api_publish_init(&p);
	const char *b = "{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"a\",\"presence-b\"],\"info\":\"user_count,subscription_count\"}";
	assert_int_equal(swb_edge_api_parse_body(SWB_EDGE_API_EVENTS, b, strlen(b), &p, err, sizeof(err)), 200);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.items[1].info, SWB_EDGE_INFO_USER_COUNT | SWB_EDGE_INFO_SUBSCRIPTION_COUNT);
	swb_edge_api_publish_fini(&p);
	b = "{\"batch\":[{\"name\":\"e\",\"data\":\"d\",\"channel\":\"a\"},{\"name\":\"e\",\"data\":\"d\",\"channel\":\"b\",\"info\":\"subscription_count\"}]}";
	assert_int_equal(swb_edge_api_parse_body(SWB_EDGE_API_BATCH_EVENTS, b, strlen(b), &p, err, sizeof(err)), 200);
	assert_int_equal(p.items[0].info, 0);
	assert_int_equal(p.items[1].info, SWB_EDGE_INFO_SUBSCRIPTION_COUNT);
	swb_edge_api_publish_fini(&p);
	b = "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"a\",\"info\":\"cache\"}";
	assert_int_equal(swb_edge_api_parse_body(SWB_EDGE_API_EVENTS, b, strlen(b), &p, err, sizeof(err)), 400);
	swb_edge_api_publish_fini(&p);
	b = "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"a\",\"info\":7}";
	assert_int_equal(swb_edge_api_parse_body(SWB_EDGE_API_EVENTS, b, strlen(b), &p, err, sizeof(err)), 400);
	swb_edge_api_publish_fini(&p);
}

static int parse(enum swb_edge_api_route r, const char *body, swb_edge_api_publish *p)
{
	char err[512];
	swb_edge_api_publish_init(p);
	return swb_edge_api_parse_body(r, body, strlen(body), p, err, sizeof(err));
}

static void test_parse_events(void **state)
{
	swb_edge_api_publish p;
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, BODY, &p), 200);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.items[0].channel, "private-orders");
	assert_string_equal(p.items[0].data, "{\"id\":9}");
	assert_null(p.items[0].socket_id);
	swb_edge_api_publish_fini(&p);

	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "{\"name\":\"e\",\"channel\":\"c\",\"data\":{\"a\":1},\"socket_id\":\"1.2\"}", &p), 200);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.items[0].data, "{\"a\":1}");
	assert_string_equal(p.items[0].socket_id, "1.2");
	swb_edge_api_publish_fini(&p);

	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "{\"name\":\"e\",\"channels\":[\"a\",\"b\"],\"data\":\"x\"}", &p), 200);
	assert_int_equal(p.n, 2);
	swb_edge_api_publish_fini(&p);

	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "{\"name\":\"e\",\"channels\":[\"a b\"],\"data\":\"x\"}", &p), 400);
	swb_edge_api_publish_fini(&p);
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "{\"name\":\"e\",\"channels\":[],\"data\":\"x\"}", &p), 400);
	swb_edge_api_publish_fini(&p);
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "{\"channels\":[\"a\"],\"data\":\"x\"}", &p), 400);
	swb_edge_api_publish_fini(&p);
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "{\"name\":\"e\",\"channels\":[\"a\"]}", &p), 400);
	swb_edge_api_publish_fini(&p);
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "{\"name\":\"e\",\"channels\":[\"a\"],\"data\":\"x\",\"socket_id\":\"abc\"}", &p), 400);
	swb_edge_api_publish_fini(&p);
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "[1]", &p), 400);
	swb_edge_api_publish_fini(&p);
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, "{\"name\":", &p), 400);
	swb_edge_api_publish_fini(&p);
}

static void test_parse_limits(void **state)
{
	swb_edge_api_publish p;
	static char body[20000];
	char data[SWB_EDGE_API_MAX_DATA + 2];
	memset(data, 'x', sizeof(data) - 1);
	data[SWB_EDGE_API_MAX_DATA] = '\0';
	snprintf(body, sizeof(body), "{\"name\":\"e\",\"channel\":\"a\",\"data\":\"%s\"}", data);
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, body, &p), 200);
	swb_edge_api_publish_fini(&p);
	data[SWB_EDGE_API_MAX_DATA] = 'x';
	data[SWB_EDGE_API_MAX_DATA + 1] = '\0';
	snprintf(body, sizeof(body), "{\"name\":\"e\",\"channel\":\"a\",\"data\":\"%s\"}", data);
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, body, &p), 413);
	swb_edge_api_publish_fini(&p);
	/* 101 channels */
	strcpy(body, "{\"name\":\"e\",\"data\":\"x\",\"channels\":[");
	for (int i = 0; i < 101; i++)
		sprintf(body + strlen(body), "%s\"c%d\"", i ? "," : "", i);
	strcat(body, "]}");
	assert_int_equal(parse(SWB_EDGE_API_EVENTS, body, &p), 400);
	swb_edge_api_publish_fini(&p);
	/* batch of 10 ok, 11 not */
	strcpy(body, "{\"batch\":[");
	for (int i = 0; i < 11; i++)
		sprintf(body + strlen(body), "%s{\"name\":\"e\",\"channel\":\"c%d\",\"data\":\"x\"}", i ? "," : "", i);
	strcat(body, "]}");
	assert_int_equal(parse(SWB_EDGE_API_BATCH_EVENTS, body, &p), 400);
	swb_edge_api_publish_fini(&p);
	char *last = strrchr(body, '{');
	strcpy(last - 1, "]}");
	assert_int_equal(parse(SWB_EDGE_API_BATCH_EVENTS, body, &p), 200);
	assert_int_equal(p.n, 10);
	swb_edge_api_publish_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_to_sign),
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_timestamp_window),
		cmocka_unit_test(test_bad_signature_and_body),
		cmocka_unit_test(test_get_example),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_query_limits),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_info_parse),
		cmocka_unit_test(test_get_validate),
		cmocka_unit_test(test_parse_info),
		cmocka_unit_test(test_parse_events),
		cmocka_unit_test(test_parse_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
