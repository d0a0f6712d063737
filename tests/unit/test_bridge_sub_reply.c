/* test_bridge_sub_reply.c: validation of subscribe-connection replies with
 * hand-built (possibly hostile) redisReply trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sub_reply.h"
#include "fake_reply.h"

/* Fake reply nodes live in static pools; each test builds a small tree. */
static redisReply *arr(size_t n, redisReply *a, redisReply *b, redisReply *c, redisReply *d)
{
	redisReply *items[4] = { a, b, c, d };
	return fake_arr(n, items, 4);
}

static int kind(const redisReply *r)
{
	swb_bridge_subrep o;
	return swb_bridge_subrep_parse(r, &o);
}

static void test_message(void **state)
{
	(void)state;
	fake_reply_reset();
	swb_bridge_subrep o;
	redisReply *r = arr(3, fake_str("message"), fake_str("swb:a:ch:x"), fake_str("payload"), NULL);
	assert_int_equal(swb_bridge_subrep_parse(r, &o), SWB_SUBREP_MESSAGE);
	assert_int_equal(o.chan_len, 10);
	assert_memory_equal(o.chan, "swb:a:ch:x", 10);
	assert_int_equal(o.payload_len, 7);
	/* binary payload with a NUL */
	redisReply *p = fake_str("ab");
	p->len = 3;
	r = arr(3, fake_str("message"), fake_str("c"), p, NULL);
	assert_int_equal(swb_bridge_subrep_parse(r, &o), SWB_SUBREP_MESSAGE);
	assert_int_equal(o.payload_len, 3);
	r = arr(4, fake_str("pmessage"), fake_str("pat"), fake_str("chan"), fake_str("x"));
	assert_int_equal(swb_bridge_subrep_parse(r, &o), SWB_SUBREP_PMESSAGE);
	assert_memory_equal(o.chan, "chan", 4);
}

static void test_confirmations(void **state)
{
	(void)state;
	fake_reply_reset();
	swb_bridge_subrep o;
	assert_int_equal(kind(arr(3, fake_str("subscribe"), fake_str("c"), fake_int(1), NULL)), SWB_SUBREP_SUBSCRIBE);
	assert_int_equal(kind(arr(3, fake_str("psubscribe"), fake_str("p*"), fake_int(2), NULL)), SWB_SUBREP_SUBSCRIBE);
	assert_int_equal(swb_bridge_subrep_parse(arr(3, fake_str("unsubscribe"), fake_str("c"), fake_int(0), NULL), &o),
			 SWB_SUBREP_UNSUBSCRIBE);
	assert_int_equal(o.pattern, 0);
	assert_memory_equal(o.chan, "c", 1);
	assert_int_equal(swb_bridge_subrep_parse(arr(3, fake_str("unsubscribe"), fake_node(REDIS_REPLY_NIL), fake_int(0),
						     NULL), &o),
			 SWB_SUBREP_UNSUBSCRIBE);
	assert_null(o.chan);
	redisReply *st = fake_node(REDIS_REPLY_STATUS);
	st->str = "OK";
	st->len = 2;
	assert_int_equal(kind(st), SWB_SUBREP_STATUS);
	redisReply *er = fake_node(REDIS_REPLY_ERROR);
	er->str = "ERR nope";
	assert_int_equal(swb_bridge_subrep_parse(er, &o), SWB_SUBREP_ERROR);
	assert_string_equal(o.text, "ERR nope");
	assert_int_equal(kind(NULL), SWB_SUBREP_NULL);
}

static void test_hostile(void **state)
{
	(void)state;
	fake_reply_reset();
	/* wrong arity, wrong types, NULL elements, unknown kinds */
	assert_int_equal(kind(arr(2, fake_str("message"), fake_str("c"), NULL, NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(4, fake_str("message"), fake_str("c"), fake_str("p"), fake_str("x"))), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_int(1), fake_str("c"), fake_str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_str("message"), fake_int(1), fake_str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_str("message"), fake_str("c"), fake_int(5), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_str("message"), fake_str("c"), arr(0, NULL, NULL, NULL, NULL), NULL)),
			 SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_str("message"), NULL, fake_str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, NULL, NULL, NULL, NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_str("subscribe"), fake_str("c"), fake_str("1"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_str("subscribe"), fake_node(REDIS_REPLY_NIL), fake_int(1), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_str("MESSAGE"), fake_str("c"), fake_str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, fake_str("messagex"), fake_str("c"), fake_str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(0, NULL, NULL, NULL, NULL)), SWB_SUBREP_BAD);
	redisReply *noel = fake_node(REDIS_REPLY_ARRAY);
	noel->elements = 3; /* claims elements but has none */
	assert_int_equal(kind(noel), SWB_SUBREP_BAD);
	assert_int_equal(kind(fake_int(7)), SWB_SUBREP_BAD);
	assert_int_equal(kind(fake_node(REDIS_REPLY_NIL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(fake_str("message")), SWB_SUBREP_BAD);
	redisReply *nullstr = fake_node(REDIS_REPLY_STRING);
	nullstr->len = 4; /* length without data */
	assert_int_equal(kind(arr(3, fake_str("message"), fake_str("c"), nullstr, NULL)), SWB_SUBREP_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_confirmations),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
