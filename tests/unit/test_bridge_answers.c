/* test_bridge_answers.c: the JSON the bridge builds for issue #3
 * (members_json, member data, webhook events, query answers), the P:ctl
 * message format against hostile input, and the shape checks of script /
 * command replies with hand-built (possibly hostile) redisReply trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "state.h"
#include "fake_reply.h"

#define KV(k, v) { k, sizeof(k) - 1, v, sizeof(v) - 1 }

static char *built; /* last result, freed by the next */

static const char *take(swb_sbuf *s)
{
	free(built);
	built = s->p; /* the sbuf's buffer is ours now */
	assert_false(s->oom);
	return built;
}

static void test_members_json(void **state)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_bridge_kv m[3] = { KV("u1", "{\"name\":\"A\\\"lice\"}"), KV("u\"2", ""), KV("u3", "{broken") };
	swb_bridge_json_members(&s, m, 3);
	assert_string_equal(take(&s), "{\"presence\":{\"ids\":[\"u1\",\"u\\\"2\",\"u3\"],\"hash\":{\"u1\":"
				      "{\"name\":\"A\\\"lice\"},\"u\\\"2\":null,\"u3\":null},\"count\":3}}");
	swb_sbuf_init(&s);
	swb_bridge_json_members(&s, NULL, 0);
	assert_string_equal(take(&s), "{\"presence\":{\"ids\":[],\"hash\":{},\"count\":0}}");
	/* many users: count matches */
	swb_bridge_kv many[150];
	char ids[150][8];
	for (int i = 0; i < 150; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%d", i);
		many[i] = (swb_bridge_kv){ ids[i], strlen(ids[i]), "1", 1 };
	}
	swb_sbuf_init(&s);
	swb_bridge_json_members(&s, many, 150);
	assert_non_null(strstr(take(&s), "\"count\":150}}"));
}

static void test_member_data_and_webhooks(void **state)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_bridge_json_member_data(&s, "u1", "{\"a\":[1,2]}", 11);
	assert_string_equal(take(&s), "{\"user_id\":\"u1\",\"user_info\":{\"a\":[1,2]}}");
	swb_sbuf_init(&s);
	swb_bridge_json_member_data(&s, "u\\1", NULL, 0);
	assert_string_equal(take(&s), "{\"user_id\":\"u\\\\1\"}");
	swb_sbuf_init(&s);
	swb_bridge_json_member_data(&s, "u1", "not json", 8);
	assert_string_equal(take(&s), "{\"user_id\":\"u1\"}");
	swb_sbuf_init(&s);
	swb_bridge_json_webhook(&s, "channel_occupied", "c", NULL);
	assert_string_equal(take(&s), "{\"name\":\"channel_occupied\",\"channel\":\"c\"}");
	swb_sbuf_init(&s);
	swb_bridge_json_webhook(&s, "member_added", "presence-c", "u");
	assert_string_equal(take(&s), "{\"name\":\"member_added\",\"channel\":\"presence-c\",\"user_id\":\"u\"}");
}

static void test_query_json(void **state)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_bridge_qchan c[3] = { { "presence-a", 2, 3 }, { "b", -1, 1 }, { "c", -1, -1 } };
	swb_bridge_json_channels(&s, c, 3);
	assert_string_equal(take(&s), "{\"channels\":{\"presence-a\":{\"user_count\":2,\"subscription_count\":3},"
				      "\"b\":{\"subscription_count\":1},\"c\":{}}}");
	swb_sbuf_init(&s);
	swb_bridge_json_channels(&s, NULL, 0);
	assert_string_equal(take(&s), "{\"channels\":{}}");
	swb_sbuf_init(&s);
	swb_bridge_json_channel(&s, true, 3, 4, 0, NULL, 0, 0);
	assert_string_equal(take(&s), "{\"occupied\":true,\"user_count\":3,\"subscription_count\":4}");
	swb_sbuf_init(&s);
	swb_bridge_json_channel(&s, false, -1, -1, 1, NULL, 0, 0);
	assert_string_equal(take(&s), "{\"occupied\":false,\"cache\":null}");
	swb_sbuf_init(&s);
	swb_bridge_json_channel(&s, true, -1, 1, 2, "{\"x\":1}", 7, 1799);
	assert_string_equal(take(&s),
			    "{\"occupied\":true,\"subscription_count\":1,\"cache\":{\"data\":\"{\\\"x\\\":1}\",\"ttl\":1799}}");
	swb_sbuf_init(&s);
	swb_bridge_kv ids[2] = { KV("1", ""), KV("2\"", "") };
	swb_bridge_json_users(&s, ids, 2);
	assert_string_equal(take(&s), "{\"users\":[{\"id\":\"1\"},{\"id\":\"2\\\"\"}]}");
}

static void test_channel_kinds(void **state)
{
	assert_true(swb_bridge_is_presence("presence-x"));
	assert_false(swb_bridge_is_presence("private-x"));
	assert_true(swb_bridge_is_cache("cache-x"));
	assert_true(swb_bridge_is_cache("private-cache-x"));
	assert_true(swb_bridge_is_cache("private-encrypted-cache-x"));
	assert_true(swb_bridge_is_cache("presence-cache-x"));
	assert_false(swb_bridge_is_cache("x-cache-y"));
	assert_false(swb_bridge_is_cache("presence-x"));
}

static void test_ctl_messages(void **state)
{
	char msg[256], app[65], user[SWB_BRIDGE_USER_MAX + 1];
	int n = swb_bridge_ctl_format(msg, sizeof(msg), "app1", "u 1");
	assert_true(n > 0);
	assert_int_equal(swb_bridge_ctl_parse(msg, (size_t)n, app, user), 0);
	assert_string_equal(app, "app1");
	assert_string_equal(user, "u 1");
	static const struct {
		const char *p;
		size_t n;
	} bad[] = {
		{ "", 0 },
		{ "T1", 2 },
		{ "T1\n", 3 },
		{ "T1\napp1", 7 },
		{ "T1\napp1\n", 8 },          /* empty user */
		{ "T2\napp1\nu", 9 },         /* unknown version */
		{ "T1\na:b\nu", 8 },          /* invalid app id */
		{ "T1\n\nu", 5 },             /* empty app */
		{ "T1\napp1\nu\nx", 11 },     /* extra field */
		{ "T1\napp1\nu\0x", 11 },     /* NUL in the user */
		{ "T1\napp1\nu\x01", 10 },    /* control character */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (swb_bridge_ctl_parse(bad[i].p, bad[i].n, app, user) == 0)
			fail_msg("accepted bad ctl message %zu", i);
	assert_int_equal(swb_bridge_ctl_parse(NULL, 5, app, user), -1);
	char big[400];
	memset(big, 'u', sizeof(big));
	memcpy(big, "T1\napp1\n", 8);
	assert_int_equal(swb_bridge_ctl_parse(big, sizeof(big), app, user), -1); /* user too long */
	assert_int_equal(swb_bridge_ctl_format(msg, 8, "app1", "u1"), -1);       /* does not fit */
}

/* ---- fake reply trees ---- */

#define ARR(...) fake_arr(sizeof((redisReply *[]){ __VA_ARGS__ }) / sizeof(redisReply *), (redisReply *[]){ __VA_ARGS__ }, \
			  sizeof((redisReply *[]){ __VA_ARGS__ }) / sizeof(redisReply *))

static void test_reply_kv(void **state)
{
	fake_reply_reset();
	swb_bridge_kv kv[4];
	assert_int_equal(swb_bridge_reply_kv(ARR(fake_str("u1"), fake_str("{}"), fake_str("u2"), fake_str("")), kv, 4), 2);
	assert_int_equal(kv[1].klen, 2);
	assert_memory_equal(kv[1].k, "u2", 2);
	assert_int_equal(swb_bridge_reply_kv(ARR(fake_str("u1"), fake_str("{}"), fake_str("u2"), fake_str("")), kv, 1), 1);
	assert_int_equal(swb_bridge_reply_kv(ARR(fake_str("u1")), kv, 4), -1);                /* odd */
	assert_int_equal(swb_bridge_reply_kv(ARR(fake_str("u1"), fake_int(1)), kv, 4), -1);    /* not a string */
	assert_int_equal(swb_bridge_reply_kv(ARR(fake_str("u1"), NULL), kv, 4), -1);          /* missing child */
	assert_int_equal(swb_bridge_reply_kv(fake_str("x"), kv, 4), -1);
	assert_int_equal(swb_bridge_reply_kv(NULL, kv, 4), -1);
	redisReply *broken = fake_node(REDIS_REPLY_ARRAY);
	broken->elements = 4; /* and no element array */
	assert_int_equal(swb_bridge_reply_kv(broken, kv, 4), -1);
	assert_int_equal(swb_bridge_reply_strs(broken, kv, 4), -1);
	assert_int_equal(swb_bridge_reply_strs(ARR(fake_str("a"), fake_str("b"), fake_str("c")), kv, 4), 3);
	assert_int_equal(swb_bridge_reply_strs(ARR(fake_str("a"), fake_node(REDIS_REPLY_NIL)), kv, 4), -1);
}

static void test_reply_int(void **state)
{
	fake_reply_reset();
	long long v = -1;
	assert_int_equal(swb_bridge_reply_int(fake_int(5), &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(swb_bridge_reply_int(fake_str("42"), &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(swb_bridge_reply_int(fake_node(REDIS_REPLY_NIL), &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(swb_bridge_reply_int(fake_str("4x"), &v), -1);
	assert_int_equal(swb_bridge_reply_int(fake_str(""), &v), -1);
	assert_int_equal(swb_bridge_reply_int(fake_str("123456789012345678901234"), &v), -1);
	assert_int_equal(swb_bridge_reply_int(ARR(fake_int(1)), &v), -1);
	assert_int_equal(swb_bridge_reply_int(NULL, &v), -1);
}

static void test_reply_pres_join(void **state)
{
	fake_reply_reset();
	const redisReply *h;
	assert_int_equal(swb_bridge_reply_pres_join(ARR(fake_str("full")), &h), SWB_PJ_FULL);
	assert_int_equal(swb_bridge_reply_pres_join(ARR(fake_str("added"), ARR(fake_str("u"), fake_str("{}"))), &h), SWB_PJ_ADDED);
	assert_non_null(h);
	assert_int_equal(h->elements, 2);
	assert_int_equal(swb_bridge_reply_pres_join(ARR(fake_str("present"), ARR()), &h), SWB_PJ_PRESENT);
	assert_int_equal(swb_bridge_reply_pres_join(ARR(fake_str("added")), &h), SWB_PJ_BAD);
	assert_int_equal(swb_bridge_reply_pres_join(ARR(fake_str("added"), fake_str("x")), &h), SWB_PJ_BAD);
	assert_int_equal(swb_bridge_reply_pres_join(ARR(fake_str("weird"), ARR()), &h), SWB_PJ_BAD);
	assert_null(h);
	assert_int_equal(swb_bridge_reply_pres_join(ARR(fake_int(1), ARR()), &h), SWB_PJ_BAD);
	assert_int_equal(swb_bridge_reply_pres_join(ARR(fake_str("added"), NULL), &h), SWB_PJ_BAD);
	assert_int_equal(swb_bridge_reply_pres_join(ARR(), &h), SWB_PJ_BAD);
	assert_int_equal(swb_bridge_reply_pres_join(fake_str("full"), &h), SWB_PJ_BAD);
	assert_int_equal(swb_bridge_reply_pres_join(NULL, &h), SWB_PJ_BAD);
}

static void test_reply_sweep(void **state)
{
	fake_reply_reset();
	swb_bridge_transition t[4];
	redisReply *good = ARR(fake_str("removed"), fake_str("app1"), fake_str("presence-r"), fake_str("u1"), fake_str("vacated"),
			       fake_str("app1"), fake_str("c"), fake_str(""));
	assert_int_equal(swb_bridge_reply_sweep(good, t, 4), 2);
	assert_string_equal(t[0].user, "u1");
	assert_string_equal(t[1].kind, "vacated");
	assert_int_equal(swb_bridge_reply_sweep(good, t, 1), 1);
	assert_int_equal(swb_bridge_reply_sweep(ARR(), t, 4), 0);
	/* not a multiple of 4 */
	assert_int_equal(swb_bridge_reply_sweep(ARR(fake_str("removed"), fake_str("a"), fake_str("c")), t, 4), -1);
	/* invalid tuples are skipped: unknown kind, bad app, bad channel,
	 * removed without user, vacated with a user, non-string, embedded NUL */
	redisReply *nul = fake_str("u1");
	nul->str = "u\0x";
	nul->len = 3;
	redisReply *bad = ARR(fake_str("boom"), fake_str("a"), fake_str("c"), fake_str(""), fake_str("removed"), fake_str("a:b"), fake_str("c"),
			      fake_str("u"), fake_str("removed"), fake_str("a"), fake_str("c c"), fake_str("u"), fake_str("removed"), fake_str("a"),
			      fake_str("c"), fake_str(""));
	assert_int_equal(swb_bridge_reply_sweep(bad, t, 4), 0);
	bad = ARR(fake_str("vacated"), fake_str("a"), fake_str("c"), fake_str("u"), fake_int(1), fake_str("a"), fake_str("c"), fake_str(""),
		  fake_str("removed"), fake_str("a"), fake_str("c"), nul);
	assert_int_equal(swb_bridge_reply_sweep(bad, t, 4), 0);
	assert_int_equal(swb_bridge_reply_sweep(fake_int(1), t, 4), -1);
	assert_int_equal(swb_bridge_reply_sweep(NULL, t, 4), -1);
}

static int teardown(void **state)
{
	free(built);
	built = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_json),
		cmocka_unit_test(test_member_data_and_webhooks),
		cmocka_unit_test(test_query_json),
		cmocka_unit_test(test_channel_kinds),
		cmocka_unit_test(test_ctl_messages),
		cmocka_unit_test(test_reply_kv),
		cmocka_unit_test(test_reply_int),
		cmocka_unit_test(test_reply_pres_join),
		cmocka_unit_test(test_reply_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
