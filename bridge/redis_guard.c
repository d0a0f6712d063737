/* redis_guard.c: the guarded reply builder (see redis_guard.h). It builds
 * the same redisReply trees as hiredis' default builder; a reply that
 * would crash hiredis becomes an error reply. Children of such a reply (and
 * of anything that is not an array) are built and dropped at once: they
 * are returned as the static `sink`, which is never linked into a tree and
 * so never freed. */
#include "redis_guard.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GUARD_PUBSUB 1 /* root->integer mark: a pub/sub reply being checked */

static redisReply sink = { .type = REDIS_REPLY_NIL };

static redisReply *reply_new(int type)
{
	redisReply *r = calloc(1, sizeof(*r));
	if (r)
		r->type = type;
	return r;
}

static void set_error(redisReply *r, const char *why)
{
	r->type = REDIS_REPLY_ERROR;
	r->str = malloc(strlen(SWB_BRIDGE_GUARD_PREFIX) + strlen(why) + 1);
	if (r->str) {
		strcpy(r->str, SWB_BRIDGE_GUARD_PREFIX);
		strcat(r->str, why);
		r->len = strlen(r->str);
	}
}

static redisReply *error_new(const char *why)
{
	redisReply *r = reply_new(REDIS_REPLY_ERROR);
	if (r)
		set_error(r, why);
	return r;
}

/* Turn a partly built array into an error reply. */
static void poison(redisReply *a, const char *why)
{
	for (size_t j = 0; j < a->elements; j++)
		freeReplyObject(a->element[j]);
	free(a->element);
	a->element = NULL;
	a->elements = 0;
	a->integer = 0;
	set_error(a, why);
}

/* The root of a reply hiredis will not hand to a command callback. */
static bool unsolicited_root(const redisReadTask *t)
{
	const redisAsyncContext *ac = t->privdata;
	return !t->parent && ac && ac->replies.head == NULL;
}

static bool subscribed(const redisReadTask *t)
{
	const redisAsyncContext *ac = t->privdata;
	return ac && (ac->c.flags & REDIS_SUBSCRIBED);
}

static bool is_unsubscribe(const redisReply *e)
{
	if (!e || e->type != REDIS_REPLY_STRING || !e->str)
		return false;
	const char *s = e->str;
	if (*s == 'p' || *s == 'P')
		s++;
	return strcasecmp(s, "unsubscribe") == 0;
}

/* Would hiredis' pub/sub code accept `child` at index idx of root? */
static const char *pubsub_child_problem(const redisReply *root, int idx, const redisReply *child)
{
	if (idx <= 1 && child->type != REDIS_REPLY_STRING)
		return "pub/sub reply element is not a string";
	if (idx == 0 && is_unsubscribe(child) && root->elements < 3)
		return "short unsubscribe reply";
	if (idx == 2 && is_unsubscribe(root->element[0]) && child->type != REDIS_REPLY_INTEGER)
		return "unsubscribe count is not an integer";
	return NULL;
}

/* Link child into its parent. Returns child, or &sink after freeing it
 * when it has nowhere to go. */
static void *attach(const redisReadTask *t, redisReply *child)
{
	if (!child || !t->parent)
		return child;
	redisReply *p = t->parent->obj;
	if (p == &sink || p->type != REDIS_REPLY_ARRAY || t->idx < 0 || (size_t)t->idx >= p->elements) {
		freeReplyObject(child);
		return &sink;
	}
	const char *why = NULL;
	if (!t->parent->parent && p->integer == GUARD_PUBSUB)
		why = pubsub_child_problem(p, t->idx, child);
	if (why) {
		freeReplyObject(child);
		poison(p, why);
		return &sink;
	}
	p->element[t->idx] = child;
	return child;
}

/* A non-array root that hiredis would assert on. */
static bool bad_scalar_root(const redisReadTask *t, int type)
{
	return unsolicited_root(t) && !subscribed(t) && type != REDIS_REPLY_ERROR;
}

static void *create_string(const redisReadTask *t, char *str, size_t len)
{
	if (bad_scalar_root(t, t->type))
		return error_new("unsolicited reply");
	redisReply *r = reply_new(t->type);
	if (!r)
		return NULL;
	r->str = malloc(len + 1);
	if (!r->str) {
		free(r);
		return NULL;
	}
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	return attach(t, r);
}

static void *create_array(const redisReadTask *t, int elements)
{
	if (unsolicited_root(t) && !subscribed(t))
		return error_new("unsolicited reply");
	if (elements > (subscribed(t) ? SWB_BRIDGE_GUARD_MAX_ELEMENTS : SWB_BRIDGE_GUARD_MAX_ELEMENTS_CMD))
		return attach(t, error_new("array too long"));
	bool pubsub = unsolicited_root(t);
	if (pubsub && (elements < 2 || elements > 4))
		return error_new("malformed pub/sub reply");
	redisReply *r = reply_new(REDIS_REPLY_ARRAY);
	if (!r)
		return NULL;
	if (elements > 0 && !(r->element = calloc((size_t)elements, sizeof(*r->element)))) {
		free(r);
		return NULL;
	}
	r->elements = (size_t)(elements > 0 ? elements : 0);
	r->integer = pubsub ? GUARD_PUBSUB : 0;
	return attach(t, r);
}

static void *create_integer(const redisReadTask *t, long long v)
{
	if (bad_scalar_root(t, REDIS_REPLY_INTEGER))
		return error_new("unsolicited reply");
	redisReply *r = reply_new(REDIS_REPLY_INTEGER);
	if (r)
		r->integer = v;
	return attach(t, r);
}

static void *create_nil(const redisReadTask *t)
{
	if (bad_scalar_root(t, REDIS_REPLY_NIL))
		return error_new("unsolicited reply");
	return attach(t, reply_new(REDIS_REPLY_NIL));
}

redisReplyObjectFunctions swb_bridge_guard_fns = {
	create_string, create_array, create_integer, create_nil, freeReplyObject,
};

void swb_bridge_redis_guard_install(redisAsyncContext *ac)
{
	ac->c.reader->fn = &swb_bridge_guard_fns;
	ac->c.reader->privdata = ac;
}
