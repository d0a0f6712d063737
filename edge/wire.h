/* wire.h: server WebSocket framing for coalesced writes (pure, no lws):
 * several queued frames of one connection go out in one send() as
 * ready-made unmasked text frames. */
#ifndef SWB_EDGE_WIRE_H
#define SWB_EDGE_WIRE_H

#include <stddef.h>

/* Bytes of an unmasked FIN text frame carrying len payload bytes. */
size_t swb_edge_wire_size(size_t len);
/* Write that frame (header + payload) at dst, which has room for
 * swb_edge_wire_size(len) bytes. Returns the bytes written. */
size_t swb_edge_wire_frame(unsigned char *dst, const unsigned char *payload, size_t len);
/* The header alone of a final unmasked text frame of len payload bytes
 * (2, 4 or 10 bytes) into h; returns its length. */
size_t swb_edge_wire_header(unsigned char *h, size_t len);

#endif
