/* test_edge_frames.c: server -> client frame encoding and UTF-8 checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "frames.h"

static void assert_frame(swb_buf *b, const char *want)
{
	assert_non_null(b);
	assert_int_equal(b->headroom, 16);
	assert_int_equal(b->len, strlen(want));
	assert_memory_equal(swb_buf_payload(b), want, b->len);
	swb_buf_unref(b);
}

static void test_event(void **state)
{
	const char data[] = "{\"id\":9,\"s\":\"a\\\"b\"}\n\x01";
	assert_frame(swb_edge_frame_event(16, "ev", 2, "news", 4, data, sizeof(data) - 1, NULL, 0),
		     "{\"event\":\"ev\",\"channel\":\"news\",\"data\":\"{\\\"id\\\":9,\\\"s\\\":\\\"a\\\\\\\"b\\\"}\\n\\u0001\"}");
	assert_frame(swb_edge_frame_event(16, "ev", 2, "c", 1, "x", 1, "u-7", 3),
		     "{\"event\":\"ev\",\"channel\":\"c\",\"data\":\"x\",\"user_id\":\"u-7\"}");
	assert_frame(swb_edge_frame_event(16, "ev", 2, "c", 1, NULL, 0, NULL, 0),
		     "{\"event\":\"ev\",\"channel\":\"c\",\"data\":\"\"}");
	/* embedded NUL is escaped, not a terminator */
	assert_frame(swb_edge_frame_event(16, "e", 1, "c", 1, "a\0b", 3, NULL, 0),
		     "{\"event\":\"e\",\"channel\":\"c\",\"data\":\"a\\u0000b\"}");
}

static void test_error_and_established(void **state)
{
	assert_frame(swb_edge_frame_error(16, "Existing subscription to channel \"x\"", -1),
		     "{\"event\":\"pusher:error\",\"data\":{\"message\":\"Existing subscription to channel \\\"x\\\"\",\"code\":null}}");
	assert_frame(swb_edge_frame_error(16, "Application does not exist", 4001),
		     "{\"event\":\"pusher:error\",\"data\":{\"message\":\"Application does not exist\",\"code\":4001}}");
	assert_frame(swb_edge_frame_established(16, "123.456", 120),
		     "{\"event\":\"pusher:connection_established\",\"data\":\"{\\\"socket_id\\\":\\\"123.456\\\",\\\"activity_timeout\\\":120}\"}");
}

static void test_refcount(void **state)
{
	swb_buf *b = swb_edge_frame_event(16, "e", 1, "c", 1, "d", 1, NULL, 0);
	assert_int_equal(b->refs, 1);
	swb_buf_ref(b);
	swb_buf_unref(b);
	assert_int_equal(b->refs, 1);
	swb_buf_unref(b);
}

static void test_utf8(void **state)
{
	assert_true(swb_edge_utf8_valid("", 0));
	assert_true(swb_edge_utf8_valid("plain", 5));
	assert_true(swb_edge_utf8_valid("h\xc3\xa9llo", 6));
	assert_true(swb_edge_utf8_valid("\xe2\x82\xac", 3));
	assert_true(swb_edge_utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_true(swb_edge_utf8_valid("a\0b", 3));
	assert_false(swb_edge_utf8_valid("\xff", 1));
	assert_false(swb_edge_utf8_valid("\xc3", 1));           /* truncated */
	assert_false(swb_edge_utf8_valid("\xc0\xaf", 2));       /* overlong */
	assert_false(swb_edge_utf8_valid("\xe0\x80\xaf", 3));   /* overlong */
	assert_false(swb_edge_utf8_valid("\xed\xa0\x80", 3));   /* surrogate */
	assert_false(swb_edge_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(swb_edge_utf8_valid("\xe2\x82", 2));
	assert_false(swb_edge_utf8_valid("\x80", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_error_and_established),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
