/* test_edge_listen.c: --listen parsing (IP literals only, [v6], *, localhost). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "edge.h"

static void ok(const char *in, const char *host, int port)
{
	char h[64];
	int p = 0;
	assert_int_equal(swb_edge_parse_listen(in, h, sizeof(h), &p), 0);
	assert_string_equal(h, host);
	assert_int_equal(p, port);
}

static void bad(const char *in)
{
	char h[64];
	int p;
	assert_int_equal(swb_edge_parse_listen(in, h, sizeof(h), &p), -1);
}

static void test_listen(void **state)
{
	ok("0.0.0.0:6001", "0.0.0.0", 6001);
	ok("127.0.0.1:1", "127.0.0.1", 1);
	ok("[::1]:65535", "::1", 65535);
	ok("*:80", "", 80);
	ok(":80", "", 80);
	ok("[::]:80", "", 80);
	ok("localhost:9", "127.0.0.1", 9);
	bad("6001");
	bad("host.example:80");
	bad("eth0:80");
	bad("1.2.3.4:0");
	bad("1.2.3.4:65536");
	bad("1.2.3.4:80x");
	bad("1.2.3.4:");
	bad("1.2.3:80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
