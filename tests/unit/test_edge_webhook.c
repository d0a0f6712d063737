/* test_edge_webhook.c: webhook batch body and X-Pusher-Signature (the
 * worked example of pusher-protocol.md §11), event type detection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "webhook_body.h"

static void test_sign(void **state)
{
	char err[128], sig[65];
	swb_edge_apps t;
	swb_edge_apps_init(&t);
	assert_int_equal(swb_edge_apps_add_spec(&t, "42:k3y-demo:s3cr3t-demo", 23, err, sizeof(err)), 0);
	const char *ev = "{\"name\":\"channel_occupied\",\"channel\":\"private-orders\"}";
	swb_sbuf b;
	swb_sbuf_init(&b);
	swb_edge_webhook_body(&b, 1700000000123ull, ev, strlen(ev));
	assert_string_equal(b.p, "{\"time_ms\":1700000000123,\"events\":[{\"name\":\"channel_occupied\",\"channel\":\"private-orders\"}]}");
	assert_int_equal(swb_edge_webhook_sign(swb_edge_apps_by_id(&t, "42", 2), b.p, b.len, sig), 0);
	assert_string_equal(sig, "d0bad02a470a2c2c5d841b136c620c55778061d60d25766a2cabf76d6b75c3bc");
	swb_sbuf_free(&b);
	swb_edge_apps_fini(&t);
}

static void test_types(void **state)
{
	const char *a = "{\"name\":\"member_added\",\"channel\":\"presence-x\",\"user_id\":\"1\"}";
	assert_int_equal(swb_edge_webhook_event_type(a, strlen(a)), SWB_EDGE_WH_MEMBER_ADDED);
	const char *c = "{\"name\":\"client_event\"}";
	assert_int_equal(swb_edge_webhook_event_type(c, strlen(c)), SWB_EDGE_WH_CLIENT_EVENT);
	assert_int_equal(swb_edge_webhook_event_type("{\"name\":\"nope\"}", 15), 0);
	assert_int_equal(swb_edge_webhook_event_type("{\"name\":1}", 10), 0);
	assert_int_equal(swb_edge_webhook_event_type("[]", 2), 0);
	assert_int_equal(swb_edge_webhook_event_type("{", 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
