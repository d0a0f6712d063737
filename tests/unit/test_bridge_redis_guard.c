/* test_bridge_redis_guard.c: the guarded reply builder turns replies that
 * would trip hiredis 0.14.1's asserts into error replies, and builds
 * everything else exactly like hiredis does. Feeds raw RESP into a real
 * hiredis reader with a fake async context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_guard.h"

static redisAsyncContext ac;
static redisCallback pending;

/* Parse one reply from resp with the context subscribed / with a command
 * callback pending or not. */
static redisReply *parse_n(const char *resp, size_t len, int subscribed, int has_pending)
{
	memset(&ac, 0, sizeof(ac));
	ac.c.flags = subscribed ? REDIS_SUBSCRIBED : 0;
	ac.replies.head = has_pending ? &pending : NULL;
	redisReader *r = redisReaderCreateWithFunctions(&swb_bridge_guard_fns);
	r->privdata = &ac;
	assert_int_equal(redisReaderFeed(r, resp, len), REDIS_OK);
	void *reply = NULL;
	assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
	assert_non_null(reply);
	redisReaderFree(r);
	return reply;
}

static redisReply *parse(const char *resp, int subscribed, int has_pending)
{
	return parse_n(resp, strlen(resp), subscribed, has_pending);
}

static void expect_guard_error(const char *resp, int subscribed, int has_pending)
{
	redisReply *r = parse(resp, subscribed, has_pending);
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	if (strncmp(r->str, SWB_BRIDGE_GUARD_PREFIX, strlen(SWB_BRIDGE_GUARD_PREFIX)) != 0)
		fail_msg("not a guard error: %s", r->str);
	freeReplyObject(r);
}

static void test_normal_replies_unchanged(void **state)
{
	(void)state;
	static const char msg[] = "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$3\r\na\0b\r\n";
	redisReply *r = parse_n(msg, sizeof(msg) - 1, 1, 0);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 3);
	assert_string_equal(r->element[0]->str, "message");
	assert_int_equal(r->element[2]->len, 3);
	assert_memory_equal(r->element[2]->str, "a\0b", 3);
	freeReplyObject(r);
	r = parse("*3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:1\r\n", 1, 0);
	assert_int_equal(r->element[2]->integer, 1);
	freeReplyObject(r);
	r = parse("*4\r\n$8\r\npmessage\r\n$1\r\np\r\n$1\r\nc\r\n$0\r\n\r\n", 1, 0);
	assert_int_equal(r->elements, 4);
	freeReplyObject(r);
	/* replies to commands are left alone whatever their shape */
	r = parse(":42\r\n", 0, 1);
	assert_int_equal(r->integer, 42);
	freeReplyObject(r);
	r = parse("*2\r\n*1\r\n:1\r\n$-1\r\n", 0, 1);
	assert_int_equal(r->element[0]->element[0]->integer, 1);
	assert_int_equal(r->element[1]->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	/* spontaneous errors stay errors (hiredis disconnects on them) */
	r = parse("-ERR max clients\r\n", 0, 0);
	assert_string_equal(r->str, "ERR max clients");
	freeReplyObject(r);
	/* non-arrays while subscribed go to hiredis' "invalid" queue: safe */
	r = parse("+OK\r\n", 1, 0);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
}

static void test_unsolicited(void **state)
{
	(void)state;
	expect_guard_error("+OK\r\n", 0, 0);
	expect_guard_error(":1\r\n", 0, 0);
	expect_guard_error("$-1\r\n", 0, 0);
	expect_guard_error("$3\r\nabc\r\n", 0, 0);
	expect_guard_error("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n", 0, 0);
}

static void test_malformed_pubsub(void **state)
{
	(void)state;
	expect_guard_error("*0\r\n", 1, 0);
	expect_guard_error("*1\r\n$7\r\nmessage\r\n", 1, 0);
	expect_guard_error("*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n", 1, 0);
	expect_guard_error("*3\r\n:1\r\n$1\r\nc\r\n$1\r\np\r\n", 1, 0);
	expect_guard_error("*3\r\n$7\r\nmessage\r\n:5\r\n$1\r\np\r\n", 1, 0);
	expect_guard_error("*3\r\n$7\r\nmessage\r\n$-1\r\n$1\r\np\r\n", 1, 0);
	expect_guard_error("*3\r\n*2\r\n:1\r\n*1\r\n:2\r\n$1\r\nc\r\n$1\r\np\r\n", 1, 0);
	expect_guard_error("*2\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n", 1, 0);
	expect_guard_error("*3\r\n$11\r\nUnSubscribe\r\n$1\r\nc\r\n$1\r\nx\r\n", 1, 0);
	expect_guard_error("*3\r\n$12\r\npunsubscribe\r\n$1\r\nc\r\n*0\r\n", 1, 0);
	expect_guard_error("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n", 1, 0);
}

/* "*n\r\n" followed by n integers, optionally inside "*2\r\n:7\r\n". */
static char *long_array(size_t n, bool nested, size_t *len)
{
	char *resp = malloc(32 + n * 4), *p = resp;
	p += sprintf(p, nested ? "*2\r\n:7\r\n*%zu\r\n" : "*%zu\r\n", n);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, ":%zu\r\n", i % 10);
	*len = (size_t)(p - resp);
	return resp;
}

static void expect_long(size_t n, int subscribed, int type)
{
	size_t len;
	char *resp = long_array(n, false, &len);
	redisReply *r = parse_n(resp, len, subscribed, 1);
	assert_int_equal(r->type, type);
	freeReplyObject(r);
	free(resp);
}

static void test_long_arrays(void **state)
{
	(void)state;
	/* a huge array becomes an error at once: 1024 on the subscribe
	 * connection, SWB_BRIDGE_GUARD_MAX_ELEMENTS_CMD on the cmd one */
	expect_long(2000, 1, REDIS_REPLY_ERROR);
	expect_long(2000, 0, REDIS_REPLY_ARRAY);
	expect_long(SWB_BRIDGE_GUARD_MAX_ELEMENTS_CMD + 1, 0, REDIS_REPLY_ERROR);
	/* nested: the inner array is replaced, the outer one kept */
	size_t len;
	char *resp = long_array(2000, true, &len);
	redisReply *r = parse_n(resp, len, 1, 1);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->element[0]->integer, 7);
	assert_int_equal(r->element[1]->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	free(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_replies_unchanged),
		cmocka_unit_test(test_unsolicited),
		cmocka_unit_test(test_malformed_pubsub),
		cmocka_unit_test(test_long_arrays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
