/* test_bridge_control.c: control command parsing and dispatch (no socket):
 * bad JSON, non-objects, unknown commands, oversized requests, and the
 * shape of the status reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge.h"

static swb_bridge *new_bridge(void)
{
	swb_bridge *b = calloc(1, sizeof(*b));
	b->host_id = "h1";
	b->prefix = "swb";
	b->redis_url_str = "redis://127.0.0.1:6379";
	swb_bridge_interest_init(&b->interest, NULL, NULL);
	return b;
}

static void free_bridge(swb_bridge *b)
{
	swb_bridge_interest_fini(&b->interest);
	free(b);
}

/* Run one request; returns the parsed reply (caller deletes). */
static cJSON *ask(swb_bridge *b, const char *req, size_t len)
{
	char *s = swb_bridge_control_handle(b, req, len);
	assert_non_null(s);
	cJSON *o = cJSON_Parse(s);
	free(s);
	assert_non_null(o);
	return o;
}

static void expect_error(swb_bridge *b, const char *req, size_t len, const char *substr)
{
	cJSON *o = ask(b, req, len);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "ok")));
	const cJSON *e = cJSON_GetObjectItem(o, "error");
	assert_true(cJSON_IsString(e));
	if (!strstr(e->valuestring, substr))
		fail_msg("error '%s' lacks '%s'", e->valuestring, substr);
	cJSON_Delete(o);
}

#define S(x) x, strlen(x)

static void test_bad_requests(void **state)
{
	(void)state;
	swb_bridge *b = new_bridge();
	expect_error(b, S("{"), "malformed");
	expect_error(b, S(""), "malformed");
	expect_error(b, "\0\0\0", 3, "malformed");
	expect_error(b, S("[1,2]"), "object");
	expect_error(b, S("\"status\""), "object");
	expect_error(b, S("{}"), "cmd");
	expect_error(b, S("{\"cmd\":5}"), "cmd");
	expect_error(b, S("{\"cmd\":\"frobnicate\"}"), "unknown command");
	expect_error(b, S("{\"cmd\":\"status\"} trailing"), "malformed");
	size_t big = 64 * 1024 + 1;
	char *huge = malloc(big);
	memset(huge, ' ', big);
	expect_error(b, huge, big, "too large");
	free(huge);
	assert_int_equal(b->cnt.control_bad, 10);
	free_bridge(b);
}

static void test_status(void **state)
{
	(void)state;
	swb_bridge *b = new_bridge();
	b->url.none = true;
	swb_bridge_interest_add(&b->interest, S("swb:app1:ch:news"), 9, 0);
	cJSON *o = ask(b, S("{\"cmd\":\"status\"}"));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
	assert_string_equal(cJSON_GetObjectItem(o, "host_id")->valuestring, "h1");
	assert_string_equal(cJSON_GetObjectItem(o, "version")->valuestring, SWB_VERSION);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "pid")));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "uptime_ms")));
	const cJSON *r = cJSON_GetObjectItem(o, "redis");
	assert_string_equal(cJSON_GetObjectItem(r, "mode")->valuestring, "none");
	assert_string_equal(cJSON_GetObjectItem(r, "state")->valuestring, "none");
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(r, "reconnects")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(o, "edges")));
	const cJSON *ch = cJSON_GetObjectItem(o, "channels");
	assert_int_equal(cJSON_GetArraySize(ch), 1);
	assert_string_equal(cJSON_GetArrayItem(ch, 0)->valuestring, "swb:app1:ch:news");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "channels_truncated")));
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "counters")));
	cJSON_Delete(o);
	free_bridge(b);
}

static void test_status_truncates(void **state)
{
	(void)state;
	swb_bridge *b = new_bridge();
	b->url.none = true;
	char name[64];
	for (int i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "swb:a:ch:c%d", i);
		swb_bridge_interest_add(&b->interest, name, strlen(name), 1, 0);
	}
	cJSON *o = ask(b, S("{\"cmd\":\"status\"}"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "channels")), 1000);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "channels_truncated")));
	cJSON_Delete(o);
	free_bridge(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
