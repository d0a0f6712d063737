/* test_bridge_sub_reply.c: validation of subscribe-connection replies with
 * hand-built (possibly hostile) redisReply trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sub_reply.h"

/* Fake reply nodes live in static pools; each test builds a small tree. */
static redisReply nodes[128];
static redisReply *kids[128][8];
static int nnodes;

static redisReply *node(int type)
{
	redisReply *r = &nodes[nnodes++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	return r;
}

static redisReply *str(const char *s)
{
	redisReply *r = node(REDIS_REPLY_STRING);
	r->str = (char *)s;
	r->len = strlen(s);
	return r;
}

static redisReply *integer(long long v)
{
	redisReply *r = node(REDIS_REPLY_INTEGER);
	r->integer = v;
	return r;
}

static redisReply *arr(size_t n, redisReply *a, redisReply *b, redisReply *c, redisReply *d)
{
	int i = nnodes;
	redisReply *r = node(REDIS_REPLY_ARRAY);
	redisReply *items[4] = { a, b, c, d };
	for (size_t k = 0; k < n && k < 4; k++)
		kids[i][k] = items[k];
	r->element = kids[i];
	r->elements = n;
	return r;
}

static int kind(const redisReply *r)
{
	swb_bridge_subrep o;
	return swb_bridge_subrep_parse(r, &o);
}

static void test_message(void **state)
{
	(void)state;
	nnodes = 0;
	swb_bridge_subrep o;
	redisReply *r = arr(3, str("message"), str("swb:a:ch:x"), str("payload"), NULL);
	assert_int_equal(swb_bridge_subrep_parse(r, &o), SWB_SUBREP_MESSAGE);
	assert_int_equal(o.chan_len, 10);
	assert_memory_equal(o.chan, "swb:a:ch:x", 10);
	assert_int_equal(o.payload_len, 7);
	/* binary payload with a NUL */
	redisReply *p = str("ab");
	p->len = 3;
	r = arr(3, str("message"), str("c"), p, NULL);
	assert_int_equal(swb_bridge_subrep_parse(r, &o), SWB_SUBREP_MESSAGE);
	assert_int_equal(o.payload_len, 3);
	r = arr(4, str("pmessage"), str("pat"), str("chan"), str("x"));
	assert_int_equal(swb_bridge_subrep_parse(r, &o), SWB_SUBREP_PMESSAGE);
	assert_memory_equal(o.chan, "chan", 4);
}

static void test_confirmations(void **state)
{
	(void)state;
	nnodes = 0;
	swb_bridge_subrep o;
	assert_int_equal(kind(arr(3, str("subscribe"), str("c"), integer(1), NULL)), SWB_SUBREP_SUBSCRIBE);
	assert_int_equal(kind(arr(3, str("psubscribe"), str("p*"), integer(2), NULL)), SWB_SUBREP_SUBSCRIBE);
	assert_int_equal(swb_bridge_subrep_parse(arr(3, str("unsubscribe"), str("c"), integer(0), NULL), &o),
			 SWB_SUBREP_UNSUBSCRIBE);
	assert_int_equal(o.pattern, 0);
	assert_memory_equal(o.chan, "c", 1);
	assert_int_equal(swb_bridge_subrep_parse(arr(3, str("unsubscribe"), node(REDIS_REPLY_NIL), integer(0),
						     NULL), &o),
			 SWB_SUBREP_UNSUBSCRIBE);
	assert_null(o.chan);
	redisReply *st = node(REDIS_REPLY_STATUS);
	st->str = "OK";
	st->len = 2;
	assert_int_equal(kind(st), SWB_SUBREP_STATUS);
	redisReply *er = node(REDIS_REPLY_ERROR);
	er->str = "ERR nope";
	assert_int_equal(swb_bridge_subrep_parse(er, &o), SWB_SUBREP_ERROR);
	assert_string_equal(o.text, "ERR nope");
	assert_int_equal(kind(NULL), SWB_SUBREP_NULL);
}

static void test_hostile(void **state)
{
	(void)state;
	nnodes = 0;
	/* wrong arity, wrong types, NULL elements, unknown kinds */
	assert_int_equal(kind(arr(2, str("message"), str("c"), NULL, NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(4, str("message"), str("c"), str("p"), str("x"))), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, integer(1), str("c"), str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, str("message"), integer(1), str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, str("message"), str("c"), integer(5), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, str("message"), str("c"), arr(0, NULL, NULL, NULL, NULL), NULL)),
			 SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, str("message"), NULL, str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, NULL, NULL, NULL, NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, str("subscribe"), str("c"), str("1"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, str("subscribe"), node(REDIS_REPLY_NIL), integer(1), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, str("MESSAGE"), str("c"), str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(3, str("messagex"), str("c"), str("p"), NULL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(arr(0, NULL, NULL, NULL, NULL)), SWB_SUBREP_BAD);
	redisReply *noel = node(REDIS_REPLY_ARRAY);
	noel->elements = 3; /* claims elements but has none */
	assert_int_equal(kind(noel), SWB_SUBREP_BAD);
	assert_int_equal(kind(integer(7)), SWB_SUBREP_BAD);
	assert_int_equal(kind(node(REDIS_REPLY_NIL)), SWB_SUBREP_BAD);
	assert_int_equal(kind(str("message")), SWB_SUBREP_BAD);
	redisReply *nullstr = node(REDIS_REPLY_STRING);
	nullstr->len = 4; /* length without data */
	assert_int_equal(kind(arr(3, str("message"), str("c"), nullstr, NULL)), SWB_SUBREP_BAD);
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
