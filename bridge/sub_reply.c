/* sub_reply.c: shape checks for subscribe-connection replies (see
 * sub_reply.h). Never dereferences an element it has not type-checked. */
#include "sub_reply.h"

#include <string.h>

static int is_str(const redisReply *e)
{
	return e && e->type == REDIS_REPLY_STRING && (e->str || e->len == 0);
}

static int str_is(const redisReply *e, const char *lit)
{
	size_t n = strlen(lit);
	return is_str(e) && e->len == n && memcmp(e->str, lit, n) == 0;
}

static int parse_array(const redisReply *r, swb_bridge_subrep *o)
{
	redisReply **el = r->element;
	if (!el)
		return o->kind = SWB_SUBREP_BAD;
	if (r->elements == 3 && str_is(el[0], "message") && is_str(el[1]) && is_str(el[2])) {
		o->chan = el[1]->str, o->chan_len = el[1]->len;
		o->payload = el[2]->str, o->payload_len = el[2]->len;
		return o->kind = SWB_SUBREP_MESSAGE;
	}
	if (r->elements == 4 && str_is(el[0], "pmessage") && is_str(el[1]) && is_str(el[2]) &&
	    is_str(el[3])) {
		o->pattern = 1;
		o->chan = el[2]->str, o->chan_len = el[2]->len;
		o->payload = el[3]->str, o->payload_len = el[3]->len;
		return o->kind = SWB_SUBREP_PMESSAGE;
	}
	if (r->elements != 3 || !el[2] || el[2]->type != REDIS_REPLY_INTEGER)
		return o->kind = SWB_SUBREP_BAD;
	int sub = str_is(el[0], "subscribe"), psub = str_is(el[0], "psubscribe");
	int unsub = str_is(el[0], "unsubscribe"), punsub = str_is(el[0], "punsubscribe");
	if ((sub || psub) && is_str(el[1])) {
		o->pattern = psub;
		o->chan = el[1]->str, o->chan_len = el[1]->len;
		return o->kind = SWB_SUBREP_SUBSCRIBE;
	}
	if ((unsub || punsub) && (is_str(el[1]) || (el[1] && el[1]->type == REDIS_REPLY_NIL))) {
		o->pattern = punsub;
		if (is_str(el[1]))
			o->chan = el[1]->str, o->chan_len = el[1]->len;
		return o->kind = SWB_SUBREP_UNSUBSCRIBE;
	}
	return o->kind = SWB_SUBREP_BAD;
}

int swb_bridge_subrep_parse(const redisReply *r, swb_bridge_subrep *o)
{
	memset(o, 0, sizeof(*o));
	if (!r)
		return o->kind = SWB_SUBREP_NULL;
	switch (r->type) {
	case REDIS_REPLY_ARRAY:
		return parse_array(r, o);
	case REDIS_REPLY_STATUS:
		o->text = r->str ? r->str : "";
		return o->kind = SWB_SUBREP_STATUS;
	case REDIS_REPLY_ERROR:
		o->text = r->str ? r->str : "";
		return o->kind = SWB_SUBREP_ERROR;
	default:
		return o->kind = SWB_SUBREP_BAD;
	}
}
