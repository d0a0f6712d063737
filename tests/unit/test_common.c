/* test_common.c: unit tests for common/ (names, crypto, sbuf, buf, opts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "names.h"
#include "opts.h"
#include "sbuf.h"

#define S(x) x, strlen(x)

static void test_channel_names(void **state)
{
	(void)state;
	assert_true(swb_channel_name_valid(S("my-channel")));
	assert_true(swb_channel_name_valid(S("A_z-0=@,.;")));
	assert_true(swb_channel_name_valid(S("#server-to-user-42")));
	assert_false(swb_channel_name_valid(S("")));
	assert_false(swb_channel_name_valid(S("has space")));
	assert_false(swb_channel_name_valid(S("colon:inside")));
	assert_false(swb_channel_name_valid(S("#other")));
	assert_false(swb_channel_name_valid(S("#server-to-user-")));
	assert_false(swb_channel_name_valid(S("a/b")));
	assert_false(swb_channel_name_valid("ab\0c", 4));
	/* Nothing that could leave PREFIX:APP:ch:NAME in Redis or act as a
	 * pattern or hash tag: ':' '{' '}' '*' '?' '[' ']' '\\' whitespace,
	 * control characters, non-ASCII bytes. */
	static const char *hostile[] = { "a:b", "x:ch:y", "{tag}", "a{b", "b}", "a*", "a?", "[ab]", "a\\b",
					 "a\nb", "a\rb", "a\tb", "a b", "\x7f", "caf\xc3\xa9", "#server-to-user-a:b",
					 "#server-to-user-{x}", "presence-a\nSUBSCRIBE" };
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		assert_false(swb_channel_name_valid(hostile[i], strlen(hostile[i])));
	assert_false(swb_app_token_valid(S("a:b")));
	assert_false(swb_app_token_valid(S("{a}")));
	char longname[SWB_CHANNEL_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname));
	assert_true(swb_channel_name_valid(longname, SWB_CHANNEL_NAME_MAX));
	assert_false(swb_channel_name_valid(longname, SWB_CHANNEL_NAME_MAX + 1));
}

static void test_channel_kinds(void **state)
{
	(void)state;
	assert_int_equal(swb_channel_kind(S("news")), SWB_CH_PUBLIC);
	assert_int_equal(swb_channel_kind(S("cache-news")), SWB_CH_PUBLIC);
	assert_int_equal(swb_channel_kind(S("private-x")), SWB_CH_PRIVATE);
	assert_int_equal(swb_channel_kind(S("private-encrypted-x")), SWB_CH_PRIVATE_ENCRYPTED);
	assert_int_equal(swb_channel_kind(S("presence-x")), SWB_CH_PRESENCE);
	assert_int_equal(swb_channel_kind(S("#server-to-user-1")), SWB_CH_SERVER_TO_USER);
}

static void test_socket_ids(void **state)
{
	(void)state;
	assert_true(swb_socket_id_valid(S("123.456")));
	assert_true(swb_socket_id_valid(S("1.2")));
	assert_false(swb_socket_id_valid(S("123")));
	assert_false(swb_socket_id_valid(S(".1")));
	assert_false(swb_socket_id_valid(S("1.")));
	assert_false(swb_socket_id_valid(S("1.2.3")));
	assert_false(swb_socket_id_valid(S("1a.2")));
	assert_false(swb_socket_id_valid(S("-1.2")));
}

static void test_app_tokens_and_events(void **state)
{
	(void)state;
	assert_true(swb_app_token_valid(S("app-1.key_X")));
	assert_false(swb_app_token_valid(S("")));
	assert_false(swb_app_token_valid(S("a:b")));
	assert_false(swb_app_token_valid(S("a{b}")));
	assert_true(swb_event_name_valid(S("my event: ok")));
	assert_false(swb_event_name_valid(S("")));
	assert_false(swb_event_name_valid(S("tab\there")));
}

/* Worked example of ../shared/pusher-protocol.md section 11. */
static void test_hmac_worked_example(void **state)
{
	(void)state;
	char hex[SWB_SHA256_HEX_LEN + 1];
	const char *secret = "s3cr3t-demo";
	assert_int_equal(swb_hmac_sha256_hex(secret, strlen(secret), S("4242.1717:private-orders"), hex), 0);
	assert_string_equal(hex, "a14cd19707ee8b85d0ab11d22ea3c75af6df06cd86da09ea01ea3a487bbb2f3f");
	const char *to_sign = "POST\n/apps/42/events\nauth_key=k3y-demo&auth_timestamp=1700000000&"
			      "auth_version=1.0&body_md5=ea0f8d29f5393fa92fffba9f5b5fd9d5";
	assert_int_equal(swb_hmac_sha256_hex(secret, strlen(secret), S(to_sign), hex), 0);
	assert_string_equal(hex, "6cd1769c9b3d04a348a74749d2fdfa1efa410fb3a25692aa24aaf80d64024252");
}

static void test_md5(void **state)
{
	(void)state;
	char hex[SWB_MD5_HEX_LEN + 1];
	assert_int_equal(swb_md5_hex(S("{}"), hex), 0);
	assert_string_equal(hex, "99914b932bd37a50b983c5e7c90ae93b");
	const char *body = "{\"name\":\"order-shipped\",\"channels\":[\"private-orders\"],\"data\":\"{\\\"id\\\":9}\"}";
	assert_int_equal(swb_md5_hex(S(body), hex), 0);
	assert_string_equal(hex, "ea0f8d29f5393fa92fffba9f5b5fd9d5");
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(swb_ct_equal(S("abc"), S("abc")));
	assert_false(swb_ct_equal(S("abc"), S("abd")));
	assert_false(swb_ct_equal(S("abc"), S("abcd")));
	assert_true(swb_ct_equal("", 0, "", 0));
	/* Whole buffers, not C strings: a difference after an embedded NUL
	 * counts (strcmp would call these equal), and so do the first and the
	 * last byte of a signature-sized buffer. */
	assert_false(swb_ct_equal("a\0b", 3, "a\0c", 3));
	char x[64], y[64];
	memset(x, 'f', sizeof(x));
	memcpy(y, x, sizeof(y));
	assert_true(swb_ct_equal(x, sizeof(x), y, sizeof(y)));
	y[0] = 'e';
	assert_false(swb_ct_equal(x, sizeof(x), y, sizeof(y)));
	y[0] = 'f';
	y[63] = 'e';
	assert_false(swb_ct_equal(x, sizeof(x), y, sizeof(y)));
}

static void test_sbuf_json(void **state)
{
	(void)state;
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_sbuf_json_str(&s, "a\"b\\c\n\x01\xc3\xa9", 9);
	assert_string_equal(s.p, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
	swb_sbuf_printf(&s, "%d", 42);
	swb_sbuf_puts(&s, "!");
	assert_string_equal(s.p + s.len - 3, "42!");
	assert_false(s.oom);
	swb_sbuf_free(&s);
	assert_null(s.p);
}

static void test_buf_refs(void **state)
{
	(void)state;
	swb_buf *b = swb_buf_new(16, 100);
	assert_non_null(b);
	memcpy(swb_buf_payload(b), "hello", 5);
	b->len = 5;
	assert_ptr_equal(swb_buf_ref(b), b);
	assert_int_equal(b->refs, 2);
	swb_buf_unref(b);
	assert_int_equal(b->refs, 1);
	assert_memory_equal(b->data + 16, "hello", 5);
	swb_buf_unref(b); /* freed: ASan/valgrind catch a leak or double free */
	swb_buf_unref(NULL);
}

static void test_opts_precedence(void **state)
{
	(void)state;
	const char *dir = "/default";
	long n = 5;
	bool flag = false;
	swb_strlist apps = { 0 };
	swb_opt opts[] = {
		{ "runtime-dir", "SWB_T_DIR", SWB_OPT_STR, "DIR", "dir", &dir, 0, 0 },
		{ "count", "SWB_T_COUNT", SWB_OPT_INT, "N", "count", &n, 1, 10 },
		{ "json", "SWB_T_JSON", SWB_OPT_FLAG, NULL, "json", &flag, 0, 0 },
		{ "app", "SWB_T_APPS", SWB_OPT_LIST, "A", "app", &apps, 0, 0 },
		{ NULL, NULL, 0, NULL, NULL, NULL, 0, 0 },
	};
	swb_opts_spec spec = { "t", "[options]", "test", NULL, opts, true };
	setenv("SWB_T_DIR", "/env", 1);
	setenv("SWB_T_COUNT", "7", 1);
	setenv("SWB_T_JSON", "true", 1);
	setenv("SWB_T_APPS", "a:b:c, d:e:f", 1);
	char *argv1[] = { "t", NULL };
	assert_int_equal(swb_opts_parse(&spec, 1, argv1), 1);
	assert_string_equal(dir, "/env");
	assert_int_equal(n, 7);
	assert_true(flag);
	assert_int_equal(apps.n, 2);
	assert_string_equal(apps.items[1], "d:e:f");
	swb_opts_release(&spec);
	assert_int_equal(apps.n, 0);

	char *argv2[] = { "t", "--runtime-dir", "/flag", "--count=9", "--app", "x:y:z", "status", "--json", NULL };
	assert_int_equal(swb_opts_parse(&spec, 8, argv2), 6);
	assert_string_equal(dir, "/flag");
	assert_int_equal(n, 9);
	assert_int_equal(apps.n, 1); /* flags replace the env list */
	assert_string_equal(apps.items[0], "x:y:z");
	swb_opts_release(&spec);
	unsetenv("SWB_T_DIR");
	unsetenv("SWB_T_COUNT");
	unsetenv("SWB_T_JSON");
	unsetenv("SWB_T_APPS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channel_names),
		cmocka_unit_test(test_channel_kinds),
		cmocka_unit_test(test_socket_ids),
		cmocka_unit_test(test_app_tokens_and_events),
		cmocka_unit_test(test_hmac_worked_example),
		cmocka_unit_test(test_md5),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_sbuf_json),
		cmocka_unit_test(test_buf_refs),
		cmocka_unit_test(test_opts_precedence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
