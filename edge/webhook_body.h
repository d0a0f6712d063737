/* webhook_body.h: the pure part of webhooks (pusher protocol §8): the
 * batch body {"time_ms":T,"events":[...]} and its X-Pusher-Signature
 * (hex HMAC-SHA256 of the body with the app secret), and the event type
 * of an event object. No curl, no loop: unit-testable. */
#ifndef SWB_EDGE_WEBHOOK_BODY_H
#define SWB_EDGE_WEBHOOK_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "apps.h"
#include "sbuf.h"

/* events: comma-separated JSON objects (without brackets). */
void swb_edge_webhook_body(swb_sbuf *out, uint64_t time_ms, const char *events, size_t len);
/* out holds 65 bytes. 0 or -1. */
int swb_edge_webhook_sign(const swb_edge_app *app, const char *body, size_t len, char *out);
/* SWB_EDGE_WH_* bit of an event object's "name", 0 if invalid/unknown. */
uint32_t swb_edge_webhook_event_type(const char *json, size_t len);

#endif
