/* test_bridge_outq.c: the bridge -> edge transport (bridge/outq.c).
 * - A burst of 3000 messages to one edge that starts reading late arrives
 *   complete and in order (as single BridgeMsgs or BridgeMsg.batch), with
 *   no drop: push0 pushes back, the bridge queues, nothing is lost.
 * - An edge that never reads: the bridge's queue stops at its bound and
 *   the rest is dropped and counted.
 * Uses a real NNG ipc pull0 listener for the edge side (a reader thread)
 * and the bridge's own push0 socket (swb_bridge_outq_open). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "switchboard.pb-c.h"
#include "util.h"

#include <nng/protocol/pipeline0/pull.h>

#define N_MSGS 3000

typedef struct reader {
	nng_socket s;
	int got, out_of_order, batches, bad;
} reader;

/* One delivered message: its body is the 4-byte sequence number. */
static void count_one(reader *r, const Swb__BridgeMsg *bm)
{
	uint32_t seq;
	if (bm->body_case != SWB__BRIDGE_MSG__BODY_DELIVER || bm->deliver.len != sizeof(seq)) {
		r->bad++;
		return;
	}
	memcpy(&seq, bm->deliver.data, sizeof(seq));
	if (seq != (uint32_t)r->got)
		r->out_of_order++;
	r->got++;
}

static void count_msg(reader *r, const uint8_t *p, size_t n, bool in_batch)
{
	Swb__BridgeMsg *bm = swb__bridge_msg__unpack(NULL, n, p);
	if (!bm) {
		r->bad++;
		return;
	}
	if (bm->body_case == SWB__BRIDGE_MSG__BODY_BATCH && !in_batch) {
		r->batches++;
		for (size_t i = 0; i < bm->batch->n_msgs; i++)
			count_msg(r, bm->batch->msgs[i].data, bm->batch->msgs[i].len, true);
	} else {
		count_one(r, bm);
	}
	swb__bridge_msg__free_unpacked(bm, NULL);
}

static void *read_all(void *arg)
{
	reader *r = arg;
	nng_socket_set_ms(r->s, NNG_OPT_RECVTIMEO, 3000);
	usleep(200 * 1000); /* start late: the bridge side must queue, not drop */
	while (r->got < N_MSGS) {
		nng_msg *m;
		if (nng_recvmsg(r->s, &m, 0) != 0)
			break;
		count_msg(r, nng_msg_body(m), nng_msg_len(m), false);
		nng_msg_free(m);
	}
	return NULL;
}

static nng_msg *deliver_msg(uint32_t seq)
{
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_DELIVER;
	bm.deliver.data = (uint8_t *)&seq;
	bm.deliver.len = sizeof(seq);
	return swb_bridge_pack(&bm);
}

typedef struct fixture {
	swb_bridge b;
	uv_loop_t loop;
	swb_bridge_edge *e;
	reader r;
	char url[128];
} fixture;

static void setup_edge(fixture *f, const char *tag)
{
	memset(f, 0, sizeof(*f));
	uv_loop_init(&f->loop);
	f->b.loop = &f->loop;
	snprintf(f->url, sizeof(f->url), "ipc:///tmp/swb-test-outq-%s-%d.ipc", tag, (int)getpid());
	assert_int_equal(nng_pull0_open(&f->r.s), 0);
	assert_int_equal(nng_listen(f->r.s, f->url, NULL, 0), 0);
	f->e = calloc(1, sizeof(*f->e));
	f->e->pipe_id = 1;
	snprintf(f->e->edge_id, sizeof(f->e->edge_id), "test");
	HASH_ADD(hh, f->b.edges, pipe_id, sizeof(f->e->pipe_id), f->e);
	swb_bridge_outq_init(&f->b);
	assert_int_equal(swb_bridge_outq_open(&f->b, f->e, f->url), 0);
}

static void teardown_edge(fixture *f)
{
	HASH_DEL(f->b.edges, f->e);
	swb_bridge_outq_clear(f->e);
	free(f->e);
	swb_bridge_outq_fini(&f->b);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_loop_close(&f->loop);
	nng_close(f->r.s);
	unlink(f->url + 6);
}

static void test_burst_to_one_edge(void **state)
{
	(void)state;
	static fixture f;
	setup_edge(&f, "burst");
	pthread_t t;
	pthread_create(&t, NULL, read_all, &f.r);
	for (uint32_t i = 0; i < N_MSGS; i++)
		swb_bridge_outq_send(&f.b, f.e, deliver_msg(i));
	uint64_t deadline = swb_mono_ms() + 20000;
	while (f.e->out_len > 0 && swb_mono_ms() < deadline)
		uv_run(&f.loop, UV_RUN_ONCE);
	pthread_join(t, NULL);
	if (f.r.got != N_MSGS)
		fail_msg("edge got %d of %d; still queued %zu", f.r.got, N_MSGS, f.e->out_len);
	assert_int_equal(f.r.out_of_order, 0);
	assert_int_equal(f.r.bad, 0);
	assert_true(f.r.batches > 0); /* the backlog went out batched */
	assert_int_equal(f.b.cnt.edge_send_drops, 0);
	teardown_edge(&f);
}

static void test_edge_not_reading(void **state)
{
	(void)state;
	static fixture f;
	setup_edge(&f, "stuck");
	const uint32_t n = SWB_BRIDGE_OUTQ_MAX_MSGS + 40000;
	for (uint32_t i = 0; i < n; i++) {
		swb_bridge_outq_send(&f.b, f.e, deliver_msg(i));
		if (i % 1000 == 0)
			uv_run(&f.loop, UV_RUN_NOWAIT);
	}
	uint64_t until = swb_mono_ms() + 300;
	while (swb_mono_ms() < until)
		uv_run(&f.loop, UV_RUN_NOWAIT);
	assert_true(f.e->out_len <= SWB_BRIDGE_OUTQ_MAX_MSGS);
	assert_true(f.e->out_blocked); /* waiting for the SENDFD, not polling */
	assert_true(f.b.cnt.edge_send_drops > 0);
	assert_true(f.b.cnt.edge_send_drops + f.e->out_len <= n);
	teardown_edge(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_to_one_edge),
		cmocka_unit_test(test_edge_not_reading),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
