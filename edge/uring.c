/* uring.c: the end-of-turn delivery flush through io_uring.
 *
 * A broadcast leaves most subscribers with one frame per loop turn, and
 * wire.c's flush then made one send() per connection. In this VM the
 * syscall around each loopback send is ~40 % of its CPU
 * (docs/benchmarks.md, "The kernel floor of one delivery"), so the
 * single-frame connections of a flush go out as IORING_OP_SEND entries,
 * up to URING_DEPTH per io_uring_enter. The sends carry MSG_DONTWAIT: each
 * one completes inside the submit (a full socket answers -EAGAIN instead of
 * arming a poll), so nothing is in flight once the flush returns and the
 * frame can leave the queue at once. What each outcome does is conn.c's
 * (swb_edge_conn_one_frame_sent): a short write hands the rest to lws, a
 * full socket waits for the writable callback as on the plain path.
 * Connections with several frames queued (the plain path packs those into
 * one send), TLS ones, and ones with a close, ping or partial write
 * pending keep the plain path. Without io_uring (--no-io-uring, or the
 * kernel or a seccomp filter refuses it) the plain path does everything.
 * Owns the ring and the entries of the batch being built. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <liburing.h>

#include "edge.h"
#include "log.h"

#define URING_DEPTH 256

typedef struct {
	swb_edge_conn *c;
	const unsigned char *p;
	size_t len;
} uring_ent;

struct swb_edge_uring {
	struct io_uring ring;
	unsigned n; /* entries queued, not yet submitted */
	uring_ent ent[URING_DEPTH];
};

int swb_edge_uring_init(swb_edge *e)
{
	if (e->cfg.no_io_uring)
		return -1;
	struct swb_edge_uring *u = calloc(1, sizeof(*u));
	if (!u)
		return -1;
	int rv = io_uring_queue_init(URING_DEPTH, &u->ring, 0);
	if (rv < 0) {
		swb_info("io_uring not available (%s): deliveries use plain send()", strerror(-rv));
		free(u);
		return -1;
	}
	e->uring = u;
	return 0;
}

void swb_edge_uring_fini(swb_edge *e)
{
	if (!e->uring)
		return;
	io_uring_queue_exit(&e->uring->ring);
	free(e->uring);
	e->uring = NULL;
}

/* Report the completion cqe (entry i of the batch) to conn.c. */
static void report(swb_edge *e, struct io_uring_cqe *cqe)
{
	struct swb_edge_uring *u = e->uring;
	uint64_t i = io_uring_cqe_get_data64(cqe);
	int res = cqe->res;
	io_uring_cqe_seen(&u->ring, cqe);
	if (i >= u->n || !u->ent[i].c)
		return;
	uring_ent en = u->ent[i];
	u->ent[i].c = NULL; /* reported */
	e->st.uring_sends++;
	swb_edge_conn_one_frame_sent(e, en.c, en.p, en.len, res);
}

/* The ring failed as a whole (never seen; e.g. ENOMEM): no more io_uring.
 * The kernel took entries [0, submitted) of the batch, in order. Every
 * completion already posted is reported as usual (without waiting). A
 * taken entry without one has an unknown outcome: sent, partly sent, or
 * not at all. Handing its frame back to lws could send it twice or
 * resend the head of a half-sent frame, corrupting the stream, so its
 * connection is dropped without another byte (counted in uring_aborts).
 * The entries the kernel never took go out the plain way: closing the
 * ring discards them unsent. An aborted connection's frame may still be
 * read by a send the kernel has in flight while the ring is torn down
 * (with MSG_DONTWAIT the sends complete inside the submit, so only in
 * theory); its bytes then go to a socket being closed anyway. */
static void give_up(swb_edge *e, const char *what, int err, unsigned submitted)
{
	struct swb_edge_uring *u = e->uring;
	struct io_uring_cqe *cqe;
	unsigned aborted = 0, plain = 0;
	for (unsigned k = 0; k < submitted && io_uring_peek_cqe(&u->ring, &cqe) == 0; k++)
		report(e, cqe);
	for (unsigned i = 0; i < u->n; i++) {
		swb_edge_conn *c = u->ent[i].c;
		if (!c)
			continue;
		u->ent[i].c = NULL;
		if (i < submitted) {
			swb_edge_conn_abort(e, c, "io_uring failed");
			aborted++;
		} else {
			lws_callback_on_writable(c->wsi);
			plain++;
		}
	}
	e->st.uring_aborts += aborted;
	swb_err("%s failed (%s): deliveries use plain send() from now on; %u connection(s) closed with a "
		"send of unknown outcome, %u frame(s) go the plain way",
		what, strerror(err), aborted, plain);
	u->n = 0;
	swb_edge_uring_fini(e);
}

void swb_edge_uring_flush(swb_edge *e)
{
	struct swb_edge_uring *u = e->uring;
	if (!u || !u->n)
		return;
	int rv;
	do
		rv = io_uring_submit_and_wait(&u->ring, u->n);
	while (rv == -EINTR);
	if (rv < 0) { /* the kernel took none */
		give_up(e, "io_uring submit", -rv, 0);
		return;
	}
	e->st.uring_submits++;
	unsigned submitted = (unsigned)rv < u->n ? (unsigned)rv : u->n, got = 0;
	while (got < submitted) {
		struct io_uring_cqe *cqe;
		rv = io_uring_wait_cqe(&u->ring, &cqe);
		if (rv == -EINTR)
			continue;
		if (rv < 0) {
			give_up(e, "io_uring wait", -rv, submitted);
			return;
		}
		report(e, cqe);
		got++;
	}
	if (submitted < u->n) { /* a short submit: the rest would go out with the next one */
		give_up(e, "io_uring submit (short)", EAGAIN, submitted);
		return;
	}
	u->n = 0;
}

bool swb_edge_uring_add(swb_edge *e, swb_edge_conn *c)
{
	struct swb_edge_uring *u = e->uring;
	const unsigned char *p;
	size_t len;
	if (!u || !swb_edge_conn_one_frame(c, &p, &len))
		return false;
	int fd = lws_get_socket_fd(c->wsi);
	if (fd < 0)
		return false;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe)
		return false; /* cannot happen: the batch is flushed at URING_DEPTH */
	io_uring_prep_send(sqe, fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, u->n);
	u->ent[u->n++] = (uring_ent){ c, p, len };
	if (u->n == URING_DEPTH)
		swb_edge_uring_flush(e);
	return true;
}
