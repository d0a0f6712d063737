/* buf.c: refcounted buffers. Single-threaded: each buffer lives on one loop. */
#include "buf.h"

#include <stdlib.h>

swb_buf *swb_buf_new(size_t headroom, size_t cap)
{
	swb_buf *b = malloc(sizeof(*b) + headroom + cap + 1);
	if (!b)
		return NULL;
	b->refs = 1;
	b->headroom = (uint32_t)headroom;
	b->len = 0;
	b->cap = cap;
	return b;
}

swb_buf *swb_buf_ref(swb_buf *b)
{
	b->refs++;
	return b;
}

void swb_buf_unref(swb_buf *b)
{
	if (b && --b->refs == 0)
		free(b);
}
