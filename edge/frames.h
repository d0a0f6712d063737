/* frames.h: encoding of server -> client Pusher frames into refcounted
 * buffers with transport headroom, and UTF-8 validation of client frames.
 * Pure functions (no lws), unit-testable. */
#ifndef SWB_EDGE_FRAMES_H
#define SWB_EDGE_FRAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "sbuf.h"

/* Copy an sbuf into a new swb_buf with headroom. NULL on failure/oom. */
swb_buf *swb_edge_frame_from_sbuf(size_t headroom, const swb_sbuf *s);
/* {"event":E,"channel":C,"data":"<data as JSON string>"[,"user_id":U]}.
 * channel / user_id are omitted when NULL. */
swb_buf *swb_edge_frame_event(size_t headroom, const char *event, size_t elen, const char *channel,
			      size_t clen, const char *data, size_t dlen, const char *user_id, size_t ulen);
/* {"event":"pusher:error","data":{"message":M,"code":N|null}}; code < 0 = null. */
swb_buf *swb_edge_frame_error(size_t headroom, const char *msg, int code);
/* pusher:connection_established with its data as a JSON string. */
swb_buf *swb_edge_frame_established(size_t headroom, const char *socket_id, long activity_timeout);
/* RFC 3629 UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool swb_edge_utf8_valid(const void *p, size_t n);

#endif
