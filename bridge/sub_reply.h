/* sub_reply.h: validation of every reply read on the subscribe connection.
 * Redis is not trusted: a reply is classified only if its shape is exactly
 * what a pub/sub reply must be; anything else is SWB_SUBREP_BAD. */
#ifndef SWB_BRIDGE_SUB_REPLY_H
#define SWB_BRIDGE_SUB_REPLY_H

#include <stddef.h>

#include <hiredis.h>

enum swb_bridge_subrep_kind {
	SWB_SUBREP_NULL = 0,   /* NULL reply: connection going away */
	SWB_SUBREP_MESSAGE,    /* ["message", channel, payload] */
	SWB_SUBREP_PMESSAGE,   /* ["pmessage", pattern, channel, payload] */
	SWB_SUBREP_SUBSCRIBE,  /* ["subscribe"|"psubscribe", name, count] */
	SWB_SUBREP_UNSUBSCRIBE,/* ["unsubscribe"|"punsubscribe", name|nil, count] */
	SWB_SUBREP_STATUS,     /* +OK (CLIENT SETNAME) */
	SWB_SUBREP_ERROR,      /* -ERR ... */
	SWB_SUBREP_BAD,        /* anything else */
};

typedef struct swb_bridge_subrep {
	int kind;              /* enum swb_bridge_subrep_kind */
	int pattern;           /* 1 for the p* variants */
	const char *chan;      /* channel (or pattern for p[un]subscribe); not NUL-safe: use chan_len */
	size_t chan_len;
	const char *payload;   /* MESSAGE / PMESSAGE */
	size_t payload_len;
	const char *text;      /* STATUS / ERROR text */
} swb_bridge_subrep;

/* Classify r (may be NULL). Pointers in out point into r. Returns out->kind. */
int swb_bridge_subrep_parse(const redisReply *r, swb_bridge_subrep *out);

#endif
