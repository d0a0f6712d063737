/* nng_io.h: non-blocking send and receive on an NNG socket through one
 * long-lived aio per socket (see nng_io.c for why). */
#ifndef SWB_NNG_IO_H
#define SWB_NNG_IO_H

#include <nng/nng.h>

/* Zero-initialised = ready: the aio is allocated on first use (if that
 * fails, the calls fall back to nng_sendmsg()/nng_recvmsg()). */
typedef struct swb_nng_io {
	nng_aio *aio;
	int failed;
} swb_nng_io;

/* Frees the aio; the io can be used again afterwards. Call it once the
 * socket is closed. */
void swb_nng_io_fini(swb_nng_io *io);

/* Like nng_recvmsg(s, m, NNG_FLAG_NONBLOCK): 0 and *m, NNG_EAGAIN when
 * nothing is queued, or another NNG error. */
int swb_nng_io_recv(swb_nng_io *io, nng_socket s, nng_msg **m);
/* Like nng_sendmsg(s, m, NNG_FLAG_NONBLOCK): on 0 NNG owns m, on an error
 * (NNG_EAGAIN: the send queue is full) the caller still does. */
int swb_nng_io_send(swb_nng_io *io, nng_socket s, nng_msg *m);

#endif
