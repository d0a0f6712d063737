/* test_edge_wire.c: the server frame headers of coalesced writes (wire.h):
 * 7-bit, 16-bit and 64-bit lengths at their boundaries, FIN + text opcode,
 * no mask, payload copied after the header. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire.h"

static void check(size_t len, size_t hlen, const unsigned char *want_hdr)
{
	unsigned char *payload = malloc(len + 1), *out = malloc(len + 16);
	assert_non_null(payload);
	assert_non_null(out);
	for (size_t i = 0; i < len; i++)
		payload[i] = (unsigned char)('a' + i % 26);
	assert_int_equal(swb_edge_wire_size(len), hlen + len);
	assert_int_equal(swb_edge_wire_frame(out, payload, len), hlen + len);
	assert_memory_equal(out, want_hdr, hlen);
	if (len)
		assert_memory_equal(out + hlen, payload, len);
	free(payload);
	free(out);
}

static void test_lengths(void **state)
{
	(void)state;
	check(0, 2, (const unsigned char[]){ 0x81, 0 });
	check(125, 2, (const unsigned char[]){ 0x81, 125 });
	check(126, 4, (const unsigned char[]){ 0x81, 126, 0, 126 });
	check(300, 4, (const unsigned char[]){ 0x81, 126, 1, 44 });
	check(65535, 4, (const unsigned char[]){ 0x81, 126, 0xff, 0xff });
	check(65536, 10, (const unsigned char[]){ 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 });
	check(70000, 10, (const unsigned char[]){ 0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70 });
}

static void test_back_to_back(void **state)
{
	(void)state;
	unsigned char out[64];
	size_t n = swb_edge_wire_frame(out, (const unsigned char *)"ab", 2);
	n += swb_edge_wire_frame(out + n, (const unsigned char *)"", 0);
	n += swb_edge_wire_frame(out + n, (const unsigned char *)"xyz", 3);
	const unsigned char want[] = { 0x81, 2, 'a', 'b', 0x81, 0, 0x81, 3, 'x', 'y', 'z' };
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_back_to_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
