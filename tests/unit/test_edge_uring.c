/* test_edge_uring.c: edge/uring.c when the ring fails mid-batch.
 *
 * uring.c runs against a fake ring: the test links with -Wl,--wrap of
 * liburing's exported calls (io_uring_queue_init / _exit,
 * io_uring_submit_and_wait, and __io_uring_get_cqe, which the inline
 * io_uring_wait_cqe / io_uring_peek_cqe call when no completion is
 * posted) and plays the kernel: it takes the SQEs, posts completions into
 * the CQ memory the inline helpers read, and makes the wait fail on cue.
 * The conn.c and lws calls uring.c makes are wrapped too and recorded
 * (tests/CMakeLists.txt lists the wraps). What must hold when the wait
 * fails: completions that are there (or arrive meanwhile) are reported
 * normally, a send whose outcome is unknown closes its connection and is
 * never handed back to lws for a resend, and entries the kernel never
 * took go the plain way. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <liburing.h>

#include "edge.h"

#define NCONN 4
#define DEPTH 256

/* ---- the fake kernel side of the ring ---- */

enum fate { NOW, LATE, NEVER };

static struct {
	struct io_uring_sqe sqes[DEPTH];
	struct io_uring_cqe cqes[2 * DEPTH];
	unsigned sq_head, sq_tail, cq_head, cq_tail;
	enum fate fate[NCONN];   /* per entry of the next batch */
	int take;                /* SQEs the next submit takes (-1: all) */
	int submit_rv;           /* != 0: the next submit fails with it */
	struct { uint64_t data; int res; } late[NCONN];
	int n_late;
	int inited, exited, wait_fails;
} k;

static void post(uint64_t data, int res)
{
	struct io_uring_cqe *c = &k.cqes[k.cq_tail & (2 * DEPTH - 1)];
	memset(c, 0, sizeof(*c));
	c->user_data = data;
	c->res = res;
	k.cq_tail++;
}

int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags);
int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	(void)flags;
	assert_int_equal(entries, DEPTH);
	memset(ring, 0, sizeof(*ring));
	ring->sq.khead = &k.sq_head;
	ring->sq.ktail = &k.sq_tail;
	ring->sq.sqes = k.sqes;
	ring->sq.ring_mask = DEPTH - 1;
	ring->sq.ring_entries = DEPTH;
	ring->cq.khead = &k.cq_head;
	ring->cq.ktail = &k.cq_tail;
	ring->cq.cqes = k.cqes;
	ring->cq.ring_mask = 2 * DEPTH - 1;
	ring->cq.ring_entries = 2 * DEPTH;
	ring->features = IORING_FEAT_EXT_ARG;
	ring->ring_fd = -1;
	k.inited++;
	return 0;
}

void __wrap_io_uring_queue_exit(struct io_uring *ring);
void __wrap_io_uring_queue_exit(struct io_uring *ring)
{
	(void)ring;
	k.exited++;
}

/* Takes the queued SQEs (or the first k.take); each one's CQE is posted
 * now, at the failing wait (LATE) or never, as k.fate says. */
int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr);
int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr)
{
	(void)wait_nr;
	if (k.submit_rv)
		return k.submit_rv;
	unsigned queued = ring->sq.sqe_tail - ring->sq.sqe_head;
	unsigned take = k.take < 0 ? queued : (unsigned)k.take;
	for (unsigned i = 0; i < take; i++) {
		const struct io_uring_sqe *s = &k.sqes[(ring->sq.sqe_head + i) & (DEPTH - 1)];
		assert_int_equal(s->opcode, IORING_OP_SEND);
		int res = (int)s->len;
		if (k.fate[i] == NOW)
			post(s->user_data, res);
		else if (k.fate[i] == LATE)
			k.late[k.n_late].data = s->user_data, k.late[k.n_late++].res = res;
	}
	ring->sq.sqe_head = ring->sq.sqe_tail; /* what liburing's flush does */
	k.sq_head += take;
	return (int)take;
}

/* Reached only when no completion is posted: a wait (wait_nr > 0) fails,
 * and the late completions show up meanwhile; a peek finds nothing. */
int __wrap___io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned submit,
			      unsigned wait_nr, sigset_t *sigmask);
int __wrap___io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned submit,
			      unsigned wait_nr, sigset_t *sigmask)
{
	(void)ring;
	(void)submit;
	(void)sigmask;
	*cqe_ptr = NULL;
	if (!wait_nr)
		return -EAGAIN;
	k.wait_fails++;
	for (int i = 0; i < k.n_late; i++)
		post(k.late[i].data, k.late[i].res);
	k.n_late = 0;
	return -EIO;
}

/* ---- the conn.c / lws side, recorded ---- */

static swb_edge_conn conns[NCONN];
static unsigned char frames[NCONN][64];
static struct {
	int sent[NCONN], sent_res[NCONN], writable[NCONN], aborted[NCONN];
} rec;

static int conn_index(const swb_edge_conn *c)
{
	assert_true(c >= conns && c < conns + NCONN);
	return (int)(c - conns);
}

static int wsi_index(const struct lws *wsi)
{
	for (int i = 0; i < NCONN; i++)
		if (conns[i].wsi == wsi)
			return i;
	fail_msg("unknown wsi");
	return -1;
}

bool __wrap_swb_edge_conn_one_frame(swb_edge_conn *c, const unsigned char **p, size_t *len);
bool __wrap_swb_edge_conn_one_frame(swb_edge_conn *c, const unsigned char **p, size_t *len)
{
	int i = conn_index(c);
	*p = frames[i];
	*len = 10 + (size_t)i;
	return true;
}

void __wrap_swb_edge_conn_one_frame_sent(swb_edge *e, swb_edge_conn *c, const unsigned char *p, size_t len,
					 int res);
void __wrap_swb_edge_conn_one_frame_sent(swb_edge *e, swb_edge_conn *c, const unsigned char *p, size_t len,
					 int res)
{
	(void)e;
	int i = conn_index(c);
	assert_ptr_equal(p, frames[i]);
	assert_int_equal(len, 10 + (size_t)i);
	rec.sent[i]++;
	rec.sent_res[i] = res;
}

void __wrap_swb_edge_conn_abort(swb_edge *e, swb_edge_conn *c, const char *reason);
void __wrap_swb_edge_conn_abort(swb_edge *e, swb_edge_conn *c, const char *reason)
{
	(void)e;
	(void)reason;
	rec.aborted[conn_index(c)]++;
}

int __wrap_lws_get_socket_fd(struct lws *wsi);
int __wrap_lws_get_socket_fd(struct lws *wsi) { return 100 + wsi_index(wsi); }

int __wrap_lws_callback_on_writable(struct lws *wsi);
int __wrap_lws_callback_on_writable(struct lws *wsi)
{
	rec.writable[wsi_index(wsi)]++;
	return 1;
}

/* ---- tests ---- */

static int setup(void **state)
{
	memset(&k, 0, sizeof(k));
	k.take = -1;
	memset(&rec, 0, sizeof(rec));
	memset(conns, 0, sizeof(conns));
	for (int i = 0; i < NCONN; i++)
		conns[i].wsi = (struct lws *)&frames[i][1]; /* any distinct pointer */
	swb_edge *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	assert_int_equal(swb_edge_uring_init(e), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	swb_edge *e = *state;
	swb_edge_uring_fini(e);
	free(e);
	return 0;
}

static void add_all(swb_edge *e, int n)
{
	for (int i = 0; i < n; i++)
		assert_true(swb_edge_uring_add(e, &conns[i]));
}

static void test_all_complete(void **state)
{
	swb_edge *e = *state;
	add_all(e, 3);
	swb_edge_uring_flush(e);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rec.sent[i], 1);
		assert_int_equal(rec.sent_res[i], 10 + i);
		assert_int_equal(rec.writable[i], 0);
	}
	assert_non_null(e->uring);
	assert_int_equal(e->st.uring_sends, 3);
	assert_int_equal(k.wait_fails, 0);
}

/* The wait fails after a good submit: #0 completed already, #1 completes
 * while the wait fails, #2's outcome never comes. */
static void test_wait_fails(void **state)
{
	swb_edge *e = *state;
	k.fate[0] = NOW;
	k.fate[1] = LATE;
	k.fate[2] = NEVER;
	add_all(e, 3);
	swb_edge_uring_flush(e);
	assert_int_equal(k.wait_fails, 1);
	/* #0 and #1 went out: reported as sent, never handed back to lws */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rec.sent[i], 1);
		assert_int_equal(rec.sent_res[i], 10 + i);
		assert_int_equal(rec.writable[i], 0);
		assert_int_equal(rec.aborted[i], 0);
	}
	/* #2: unknown, so closed, not resent */
	assert_int_equal(rec.sent[2], 0);
	assert_int_equal(rec.writable[2], 0);
	assert_int_equal(rec.aborted[2], 1);
	assert_int_equal(e->st.uring_aborts, 1);
	/* and io_uring is off for good */
	assert_null(e->uring);
	assert_int_equal(k.exited, 1);
	assert_false(swb_edge_uring_add(e, &conns[3]));
}

/* The kernel took 2 of 3: those complete, the third was never sent and
 * goes the plain way (the old loop waited for a third completion). */
static void test_short_submit(void **state)
{
	swb_edge *e = *state;
	k.take = 2;
	add_all(e, 3);
	swb_edge_uring_flush(e);
	assert_int_equal(k.wait_fails, 0);
	assert_int_equal(rec.sent[0], 1);
	assert_int_equal(rec.sent[1], 1);
	assert_int_equal(rec.sent[2], 0);
	assert_int_equal(rec.writable[2], 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rec.aborted[i], 0);
	assert_null(e->uring);
}

/* The submit fails: the kernel took nothing, everything goes the plain way. */
static void test_submit_fails(void **state)
{
	swb_edge *e = *state;
	k.submit_rv = -ENOMEM;
	add_all(e, 3);
	swb_edge_uring_flush(e);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rec.sent[i], 0);
		assert_int_equal(rec.writable[i], 1);
		assert_int_equal(rec.aborted[i], 0);
	}
	assert_int_equal(e->st.uring_aborts, 0);
	assert_null(e->uring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_submit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_fails, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
