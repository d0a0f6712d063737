/* test_bench_lib.c: swb_bench_lib: histogram percentiles, WebSocket frame
 * parsing (partial frames, 16/64-bit lengths, hostile lengths,
 * fragmentation), masked frame building, request signing against the
 * worked example of pusher-protocol.md §11, the duplicate window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench_hist.h"
#include "bench_seq.h"
#include "bench_sign.h"
#include "bench_ws.h"

static void hist_exact_small(void **state)
{
	(void)state;
	static swb_hist h;
	swb_hist_init(&h);
	for (uint64_t v = 1; v <= 100; v++)
		swb_hist_add(&h, v);
	assert_int_equal(h.n, 100);
	assert_int_equal(swb_hist_quantile(&h, 0.5), 50);
	assert_int_equal(swb_hist_quantile(&h, 0.99), 99);
	assert_int_equal(swb_hist_quantile(&h, 1.0), 100);
	assert_int_equal(swb_hist_quantile(&h, 0.0), 1);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 100);
}

static void hist_relative_error(void **state)
{
	(void)state;
	static swb_hist h;
	swb_hist_init(&h);
	/* 1..100000 us in ns: the true p50 is 50 ms, p99 99 ms, p99.9 99.9 ms */
	for (uint64_t us = 1; us <= 100000; us++)
		swb_hist_add(&h, us * 1000);
	double p50 = (double)swb_hist_quantile(&h, 0.5), p99 = (double)swb_hist_quantile(&h, 0.99),
	       p999 = (double)swb_hist_quantile(&h, 0.999);
	assert_true(p50 >= 50e6 && p50 <= 50e6 * 1.008);
	assert_true(p99 >= 99e6 && p99 <= 99e6 * 1.008);
	assert_true(p999 >= 99.9e6 && p999 <= 99.9e6 * 1.008);
	assert_int_equal(swb_hist_quantile(&h, 1.0), 100000000);
}

static void hist_buckets_monotonic(void **state)
{
	(void)state;
	uint32_t prev = 0;
	for (uint64_t v = 0; v < (1ull << 40); v = v < 1000 ? v + 1 : v + v / 37) {
		uint32_t i = swb_hist_index(v);
		assert_true(i >= prev);
		assert_true(i < SWB_HIST_BUCKETS);
		assert_true(swb_hist_bucket_high(i) >= v);
		prev = i;
	}
	/* huge values are clamped into the last bucket, not out of bounds */
	assert_true(swb_hist_index(UINT64_MAX) < SWB_HIST_BUCKETS);
}

static void hist_merge_and_outliers(void **state)
{
	(void)state;
	static swb_hist a, b;
	swb_hist_init(&a);
	swb_hist_init(&b);
	for (int i = 0; i < 990; i++)
		swb_hist_add(&a, 1000000); /* 1 ms */
	for (int i = 0; i < 10; i++)
		swb_hist_add(&b, 500000000); /* 500 ms */
	swb_hist_add(&b, UINT64_MAX);
	swb_hist_merge(&a, &b);
	assert_int_equal(a.n, 1001);
	assert_int_equal(a.clamped, 1);
	uint64_t p50 = swb_hist_quantile(&a, 0.5), p99 = swb_hist_quantile(&a, 0.98);
	assert_true(p50 >= 1000000 && p50 < 1010000);
	assert_true(p99 >= 1000000 && p99 < 1010000);
	uint64_t p995 = swb_hist_quantile(&a, 0.995);
	assert_true(p995 >= 500000000 && p995 < 504000000);
	assert_int_equal(a.max, UINT64_MAX);
	swb_hist_init(&b);
	assert_int_equal(swb_hist_quantile(&b, 0.99), 0);
}

/* server frame header for len (unmasked) */
static size_t hdr(uint8_t *o, int fin, int op, uint64_t len)
{
	o[0] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (len < 126) {
		o[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		o[1] = 126;
		o[2] = (uint8_t)(len >> 8);
		o[3] = (uint8_t)len;
		return 4;
	}
	o[1] = 127;
	for (int i = 0; i < 8; i++)
		o[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

static void ws_parse_small_and_partial(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t h = hdr(b, 1, SWB_WS_TEXT, 5);
	memcpy(b + h, "hello", 5);
	swb_ws_frame f;
	const char *err = NULL;
	for (size_t n = 0; n < h + 5; n++)
		assert_int_equal(swb_ws_parse(b, n, 1 << 20, &f, &err), 0);
	assert_int_equal(swb_ws_parse(b, h + 5, 1 << 20, &f, &err), 1);
	assert_true(f.fin);
	assert_int_equal(f.opcode, SWB_WS_TEXT);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.payload, "hello", 5);
	assert_int_equal(f.frame_len, 7);
	/* two frames back to back: the first is returned alone */
	memcpy(b + 7, b, 7);
	assert_int_equal(swb_ws_parse(b, 14, 1 << 20, &f, &err), 1);
	assert_int_equal(f.frame_len, 7);
}

static void ws_parse_16_and_64_bit(void **state)
{
	(void)state;
	size_t n16 = 300, n64 = 70000;
	uint8_t *b = malloc(n64 + 16);
	assert_non_null(b);
	swb_ws_frame f;
	const char *err = NULL;
	size_t h = hdr(b, 1, SWB_WS_TEXT, n16);
	assert_int_equal(h, 4);
	memset(b + h, 'a', n16);
	assert_int_equal(swb_ws_parse(b, 3, 1 << 20, &f, &err), 0);
	assert_int_equal(swb_ws_parse(b, h + n16 - 1, 1 << 20, &f, &err), 0);
	assert_int_equal(swb_ws_parse(b, h + n16, 1 << 20, &f, &err), 1);
	assert_int_equal(f.len, n16);
	h = hdr(b, 1, SWB_WS_BINARY, n64);
	assert_int_equal(h, 10);
	memset(b + h, 'b', n64);
	assert_int_equal(swb_ws_parse(b, 9, 1 << 20, &f, &err), 0);
	assert_int_equal(swb_ws_parse(b, h + n64 - 1, 1 << 20, &f, &err), 0);
	assert_int_equal(swb_ws_parse(b, h + n64, 1 << 20, &f, &err), 1);
	assert_int_equal(f.len, n64);
	assert_int_equal(f.frame_len, h + n64);
	free(b);
}

static void ws_parse_hostile(void **state)
{
	(void)state;
	uint8_t b[16];
	swb_ws_frame f;
	const char *err = NULL;
	/* 64-bit length with the top bit set */
	hdr(b, 1, SWB_WS_TEXT, 0x8000000000000000ull);
	assert_int_equal(swb_ws_parse(b, 10, UINT64_MAX, &f, &err), -1);
	/* 2^62: over any sane limit, refused before waiting for the bytes */
	hdr(b, 1, SWB_WS_TEXT, 1ull << 62);
	assert_int_equal(swb_ws_parse(b, 10, 16 << 20, &f, &err), -1);
	/* just over the limit */
	hdr(b, 1, SWB_WS_TEXT, 70000);
	assert_int_equal(swb_ws_parse(b, 10, 65536, &f, &err), -1);
	/* non-minimal lengths */
	b[0] = 0x81;
	b[1] = 126;
	b[2] = 0;
	b[3] = 5;
	assert_int_equal(swb_ws_parse(b, 4, 1 << 20, &f, &err), -1);
	b[0] = 0x81;
	b[1] = 127;
	memset(b + 2, 0, 8);
	b[9] = 200;
	assert_int_equal(swb_ws_parse(b, 10, 1 << 20, &f, &err), -1);
	/* masked server frame, reserved bits, unknown opcode */
	b[0] = 0x81;
	b[1] = 0x80 | 1;
	assert_int_equal(swb_ws_parse(b, 8, 1 << 20, &f, &err), -1);
	b[0] = 0xC1;
	b[1] = 0;
	assert_int_equal(swb_ws_parse(b, 2, 1 << 20, &f, &err), -1);
	b[0] = 0x83;
	b[1] = 0;
	assert_int_equal(swb_ws_parse(b, 2, 1 << 20, &f, &err), -1);
	/* control frames: fragmented, or longer than 125 */
	b[0] = 0x09;
	b[1] = 0;
	assert_int_equal(swb_ws_parse(b, 2, 1 << 20, &f, &err), -1);
	hdr(b, 1, SWB_WS_PING, 126);
	assert_int_equal(swb_ws_parse(b, 4, 1 << 20, &f, &err), -1);
	assert_non_null(err);
}

static void ws_fragmented(void **state)
{
	(void)state;
	uint8_t b[64];
	swb_ws_asm a;
	swb_ws_asm_init(&a);
	const uint8_t *msg;
	size_t len;
	int op;
	const char *err = NULL;
	swb_ws_frame f;
	size_t h = hdr(b, 0, SWB_WS_TEXT, 3);
	memcpy(b + h, "abc", 3);
	assert_int_equal(swb_ws_parse(b, h + 3, 1 << 20, &f, &err), 1);
	assert_int_equal(swb_ws_asm_feed(&a, &f, 1 << 20, &msg, &len, &op, &err), 0);
	h = hdr(b, 0, SWB_WS_CONT, 2);
	memcpy(b + h, "de", 2);
	assert_int_equal(swb_ws_parse(b, h + 2, 1 << 20, &f, &err), 1);
	assert_int_equal(swb_ws_asm_feed(&a, &f, 1 << 20, &msg, &len, &op, &err), 0);
	h = hdr(b, 1, SWB_WS_CONT, 1);
	b[h] = 'f';
	assert_int_equal(swb_ws_parse(b, h + 1, 1 << 20, &f, &err), 1);
	assert_int_equal(swb_ws_asm_feed(&a, &f, 1 << 20, &msg, &len, &op, &err), 1);
	assert_int_equal(len, 6);
	assert_int_equal(op, SWB_WS_TEXT);
	assert_memory_equal(msg, "abcdef", 6);
	/* a continuation without a start, and a new message inside one */
	assert_int_equal(swb_ws_asm_feed(&a, &f, 1 << 20, &msg, &len, &op, &err), -1);
	h = hdr(b, 0, SWB_WS_TEXT, 1);
	assert_int_equal(swb_ws_parse(b, h + 1, 1 << 20, &f, &err), 1);
	assert_int_equal(swb_ws_asm_feed(&a, &f, 1 << 20, &msg, &len, &op, &err), 0);
	assert_int_equal(swb_ws_asm_feed(&a, &f, 1 << 20, &msg, &len, &op, &err), -1);
	/* reassembled size is bounded */
	swb_ws_asm_free(&a);
	swb_ws_asm_init(&a);
	assert_int_equal(swb_ws_asm_feed(&a, &f, 1, &msg, &len, &op, &err), 0);
	assert_int_equal(swb_ws_asm_feed(&a,
					 &(swb_ws_frame){ .fin = true, .opcode = SWB_WS_CONT, .payload = b, .len = 1 },
					 1, &msg, &len, &op, &err),
			 -1);
	swb_ws_asm_free(&a);
}

static void ws_build_masked(void **state)
{
	(void)state;
	uint8_t out[80000];
	const char *txt = "{\"event\":\"pusher:pong\",\"data\":{}}";
	size_t n = swb_ws_build(out, sizeof(out), SWB_WS_TEXT, txt, strlen(txt), 0x11223344);
	assert_int_equal(n, 2 + 4 + strlen(txt));
	assert_int_equal(out[0], 0x81);
	assert_int_equal(out[1], 0x80 | strlen(txt));
	for (size_t i = 0; i < strlen(txt); i++)
		assert_int_equal(out[6 + i] ^ out[2 + (i & 3)], (uint8_t)txt[i]);
	static uint8_t big[70000];
	n = swb_ws_build(out, sizeof(out), SWB_WS_BINARY, big, sizeof(big), 1);
	assert_int_equal(n, 10 + 4 + sizeof(big));
	assert_int_equal(out[1], 0x80 | 127);
	n = swb_ws_build(out, sizeof(out), SWB_WS_BINARY, big, 300, 1);
	assert_int_equal(n, 4 + 4 + 300);
	assert_int_equal(swb_ws_build(out, 10, SWB_WS_TEXT, big, 300, 1), 0);
}

static void ws_accept_rfc_example(void **state)
{
	(void)state;
	char out[29];
	swb_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out); /* RFC 6455 §1.3 */
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	uint8_t r[16] = { 0 };
	char key[25];
	swb_ws_key(r, key);
	assert_string_equal(key, "AAAAAAAAAAAAAAAAAAAAAA==");
}

static void http_head(void **state)
{
	(void)state;
	const char *r =
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-accept:  abc \r\n\r\nXX";
	int st;
	assert_int_equal(swb_http_head(r, 20, &st), 0);
	long hl = swb_http_head(r, strlen(r), &st);
	assert_int_equal(hl, (long)strlen(r) - 2);
	assert_int_equal(st, 101);
	size_t vl;
	const char *v = swb_http_header(r, (size_t)hl, "Sec-WebSocket-Accept", &vl);
	assert_non_null(v);
	assert_int_equal(vl, 3);
	assert_memory_equal(v, "abc", 3);
	assert_null(swb_http_header(r, (size_t)hl, "Content-Length", &vl));
	static char big[9000];
	memset(big, 'a', sizeof(big));
	assert_int_equal(swb_http_head(big, sizeof(big), &st), -1);
}

static void sign_worked_example(void **state)
{
	(void)state;
	const char *body = "{\"name\":\"order-shipped\",\"channels\":[\"private-orders\"],\"data\":\"{\\\"id\\\":9}\"}";
	char q[512];
	size_t n = swb_bench_sign_query(q, sizeof(q), "/apps/42/events", "k3y-demo", "s3cr3t-demo", 1700000000, body,
					strlen(body));
	assert_true(n > 0);
	assert_string_equal(q, "auth_key=k3y-demo&auth_timestamp=1700000000&auth_version=1.0"
			       "&body_md5=ea0f8d29f5393fa92fffba9f5b5fd9d5"
			       "&auth_signature=6cd1769c9b3d04a348a74749d2fdfa1efa410fb3a25692aa24aaf80d64024252");
	char req[1024];
	n = swb_bench_publish_request(req, sizeof(req), "127.0.0.1:6001", "42", "k3y-demo", "s3cr3t-demo", 1700000000,
				      body, strlen(body));
	assert_true(n > 0);
	assert_true(!strncmp(req, "POST /apps/42/events?auth_key=k3y-demo&", 39));
	assert_non_null(strstr(req, "\r\nContent-Length: 74\r\n\r\n{\"name\""));
	assert_int_equal(swb_bench_publish_request(req, 100, "h", "42", "k", "s", 1, body, strlen(body)), 0);
}

static void seq_window(void **state)
{
	(void)state;
	swb_seqwin w = { 0 };
	assert_int_equal(swb_seqwin_see(&w, 0), SWB_SEQ_NEW);
	assert_int_equal(swb_seqwin_see(&w, 0), SWB_SEQ_OLD);
	assert_int_equal(swb_seqwin_see(&w, 2), SWB_SEQ_NEW); /* 1 missing so far */
	assert_int_equal(swb_seqwin_see(&w, 2), SWB_SEQ_DUP);
	assert_int_equal(swb_seqwin_see(&w, 1), SWB_SEQ_NEW); /* reordered: fine */
	assert_int_equal(w.base, 3);
	assert_int_equal(swb_seqwin_see(&w, 1000), SWB_SEQ_NEW); /* a gap slides the window */
	assert_int_equal(swb_seqwin_see(&w, 5), SWB_SEQ_OLD);
	assert_int_equal(swb_seqwin_see(&w, 990), SWB_SEQ_NEW);
	assert_int_equal(swb_seqwin_see(&w, 990), SWB_SEQ_DUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hist_exact_small),
		cmocka_unit_test(hist_relative_error),
		cmocka_unit_test(hist_buckets_monotonic),
		cmocka_unit_test(hist_merge_and_outliers),
		cmocka_unit_test(ws_parse_small_and_partial),
		cmocka_unit_test(ws_parse_16_and_64_bit),
		cmocka_unit_test(ws_parse_hostile),
		cmocka_unit_test(ws_fragmented),
		cmocka_unit_test(ws_build_masked),
		cmocka_unit_test(ws_accept_rfc_example),
		cmocka_unit_test(http_head),
		cmocka_unit_test(sign_worked_example),
		cmocka_unit_test(seq_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
