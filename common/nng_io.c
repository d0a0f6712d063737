/* nng_io.c: non-blocking send and receive through one long-lived aio.
 *
 * nng 1.5.2's nng_sendmsg() and nng_recvmsg() allocate an aio, initialise
 * it (a malloc, a mutex and condvar, and a getrandom() syscall to pick an
 * expiry queue) and free it again on every call. On the hot paths (edge ->
 * bridge publishes, bridge -> edge deliveries, both directions drained per
 * loop turn) that was one extra syscall and an allocation per message and
 * per hop. These do what those two do with NNG_FLAG_NONBLOCK (zero
 * timeout, wait, translate ETIMEDOUT to EAGAIN) on an aio kept per socket.
 * One io per socket and per thread: the aio is not shared. */
#include "nng_io.h"

#include <stddef.h>

static int ready(swb_nng_io *io)
{
	if (io->aio)
		return 1;
	if (io->failed || nng_aio_alloc(&io->aio, NULL, NULL) != 0) {
		io->aio = NULL;
		io->failed = 1;
		return 0;
	}
	nng_aio_set_timeout(io->aio, NNG_DURATION_ZERO);
	return 1;
}

void swb_nng_io_fini(swb_nng_io *io)
{
	if (io->aio)
		nng_aio_free(io->aio);
	io->aio = NULL;
	io->failed = 0;
}

int swb_nng_io_recv(swb_nng_io *io, nng_socket s, nng_msg **m)
{
	if (!ready(io))
		return nng_recvmsg(s, m, NNG_FLAG_NONBLOCK);
	nng_recv_aio(s, io->aio);
	nng_aio_wait(io->aio);
	int rv = nng_aio_result(io->aio);
	if (rv == 0) {
		*m = nng_aio_get_msg(io->aio);
		nng_aio_set_msg(io->aio, NULL);
	}
	return rv == NNG_ETIMEDOUT ? NNG_EAGAIN : rv;
}

int swb_nng_io_send(swb_nng_io *io, nng_socket s, nng_msg *m)
{
	if (!ready(io))
		return nng_sendmsg(s, m, NNG_FLAG_NONBLOCK);
	nng_aio_set_msg(io->aio, m);
	nng_send_aio(s, io->aio);
	nng_aio_wait(io->aio);
	int rv = nng_aio_result(io->aio);
	nng_aio_set_msg(io->aio, NULL); /* on failure m is still the caller's */
	return rv == NNG_ETIMEDOUT ? NNG_EAGAIN : rv;
}
