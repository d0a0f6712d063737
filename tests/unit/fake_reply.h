/* fake_reply.h: hand-built (possibly hostile) redisReply trees for the
 * bridge's unit tests. Nodes live in static pools: call fake_reply_reset()
 * at the start of each test, then build a small tree. */
#ifndef SWB_TEST_FAKE_REPLY_H
#define SWB_TEST_FAKE_REPLY_H

#include <string.h>

#include <hiredis.h>

#define FAKE_REPLY_NODES 256
#define FAKE_REPLY_KIDS 16

static redisReply fake_nodes[FAKE_REPLY_NODES];
static redisReply *fake_kids[FAKE_REPLY_NODES][FAKE_REPLY_KIDS];
static int fake_nnodes;

static inline void fake_reply_reset(void) { fake_nnodes = 0; }

static inline redisReply *fake_node(int type)
{
	redisReply *r = &fake_nodes[fake_nnodes++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	return r;
}

static inline redisReply *fake_str(const char *s)
{
	redisReply *r = fake_node(REDIS_REPLY_STRING);
	r->str = (char *)s;
	r->len = strlen(s);
	return r;
}

static inline redisReply *fake_int(long long v)
{
	redisReply *r = fake_node(REDIS_REPLY_INTEGER);
	r->integer = v;
	return r;
}

/* An array claiming `elements` children, of which the first nitems are
 * given (a hostile reply may claim more than it has; the rest are NULL). */
static inline redisReply *fake_arr(size_t elements, redisReply **items, size_t nitems)
{
	int i = fake_nnodes;
	redisReply *r = fake_node(REDIS_REPLY_ARRAY);
	memset(fake_kids[i], 0, sizeof(fake_kids[i]));
	for (size_t k = 0; k < nitems && k < FAKE_REPLY_KIDS; k++)
		fake_kids[i][k] = items[k];
	r->element = fake_kids[i];
	r->elements = elements;
	return r;
}

#endif
