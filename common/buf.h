/* buf.h: refcounted byte buffers with reserved headroom.
 *
 * A delivery is encoded once into one swb_buf and the same buffer is queued
 * on every subscriber's connection; each queue holds one reference. The
 * headroom (LWS_PRE on the edge) lets a transport write its frame header in
 * front of the payload without copying. */
#ifndef SWB_BUF_H
#define SWB_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct swb_buf {
	uint32_t refs;
	uint32_t headroom;
	size_t len;            /* payload bytes, starting at data + headroom */
	size_t cap;            /* payload capacity */
	unsigned char data[];  /* headroom + cap bytes */
} swb_buf;

/* New buffer with one reference, len 0. Returns NULL on allocation failure. */
swb_buf *swb_buf_new(size_t headroom, size_t cap);
/* Take another reference; returns b. */
swb_buf *swb_buf_ref(swb_buf *b);
/* Drop a reference; frees the buffer with the last one. NULL is ignored. */
void swb_buf_unref(swb_buf *b);
/* Payload start. */
static inline unsigned char *swb_buf_payload(swb_buf *b) { return b->data + b->headroom; }

#endif
