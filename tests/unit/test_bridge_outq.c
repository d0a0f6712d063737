/* test_bridge_outq.c: the per-edge outbound queue delivers a burst to one
 * edge completely and in order. Without it, nng 1.5.2's polyamorous pair1
 * drops everything beyond its 2-deep per-pipe queue (see bridge/outq.c).
 * Uses a real NNG ipc pair (bridge side poly, edge side plain pair1) and a
 * reader thread for the edge side. */
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
#include "util.h"

#include <nng/protocol/pair1/pair.h>

#define N_MSGS 3000

typedef struct reader {
	nng_socket s;
	int got, out_of_order;
} reader;

static void *read_all(void *arg)
{
	reader *r = arg;
	nng_socket_set_ms(r->s, NNG_OPT_RECVTIMEO, 3000);
	usleep(200 * 1000); /* start late: the bridge side must queue, not drop */
	for (;;) {
		nng_msg *m;
		if (nng_recvmsg(r->s, &m, 0) != 0)
			break;
		uint32_t seq;
		memcpy(&seq, nng_msg_body(m), sizeof(seq));
		if (seq != (uint32_t)r->got)
			r->out_of_order++;
		r->got++;
		nng_msg_free(m);
		if (r->got == N_MSGS)
			break;
	}
	return NULL;
}

static void test_burst_to_one_edge(void **state)
{
	(void)state;
	static swb_bridge b;
	uv_loop_t loop;
	uv_loop_init(&loop);
	b.loop = &loop;
	char url[128];
	snprintf(url, sizeof(url), "ipc:///tmp/swb-test-outq-%d.ipc", (int)getpid());
	assert_int_equal(nng_pair1_open_poly(&b.edge_sock), 0);
	nng_socket_set_int(b.edge_sock, NNG_OPT_SENDBUF, 4096); /* as edges.c */
	assert_int_equal(nng_listen(b.edge_sock, url, NULL, 0), 0);
	reader r = { 0 };
	assert_int_equal(nng_pair1_open(&r.s), 0);
	assert_int_equal(nng_dial(r.s, url, NULL, 0), 0);
	/* learn the edge's pipe id from one message */
	assert_int_equal(nng_send(r.s, "hi", 2, 0), 0);
	nng_msg *hello;
	assert_int_equal(nng_recvmsg(b.edge_sock, &hello, 0), 0);
	swb_bridge_edge *e = calloc(1, sizeof(*e));
	e->pipe_id = nng_pipe_id(nng_msg_get_pipe(hello));
	snprintf(e->edge_id, sizeof(e->edge_id), "test");
	nng_msg_free(hello);
	HASH_ADD(hh, b.edges, pipe_id, sizeof(e->pipe_id), e);
	swb_bridge_outq_init(&b);

	pthread_t t;
	pthread_create(&t, NULL, read_all, &r);
	for (uint32_t i = 0; i < N_MSGS; i++) {
		nng_msg *m;
		assert_int_equal(nng_msg_alloc(&m, 64), 0);
		memcpy(nng_msg_body(m), &i, sizeof(i));
		swb_bridge_outq_send(&b, e, m);
	}
	uint64_t deadline = swb_mono_ms() + 20000;
	while (e->out_len > 0 && swb_mono_ms() < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	pthread_join(t, NULL);
	if (r.got != N_MSGS)
		fail_msg("edge got %d of %d; sent %llu tx_seen %llu queued %zu", r.got, N_MSGS,
			 (unsigned long long)e->sent, (unsigned long long)e->tx_seen, e->out_len);
	assert_int_equal(r.out_of_order, 0);
	assert_int_equal(b.cnt.edge_send_drops, 0);

	HASH_DEL(b.edges, e);
	swb_bridge_outq_clear(e);
	free(e);
	swb_bridge_outq_fini(&b);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	nng_close(r.s);
	nng_close(b.edge_sock);
	unlink(url + 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_to_one_edge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
