/* test_bridge_scripts.c: the Lua scripts of bridge/scripts.c against a
 * real redis-server started here on a free port (the test is skipped when
 * redis-server is not installed): occ_set transitions, pres_join /
 * pres_leave idempotency per host and the member limit, the sweep of a
 * dead host (transitions returned, member_removed published as a valid
 * Envelope), publish_cache, gone (after Redis lost its data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis.h>

#include "scripts.h"
#include "switchboard.pb-c.h"

static pid_t redis_pid;
static int redis_port;
static redisContext *rc;

static redisContext *connect_port(int port)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Start redis-server on the first port that works; 0 or -1. */
static int start_redis(void)
{
	for (int i = 0; i < 20; i++) {
		int port = 21000 + (int)(getpid() % 20000) + i * 7;
		pid_t pid = fork();
		if (pid == 0) {
			char ps[16];
			snprintf(ps, sizeof(ps), "%d", port);
			freopen("/dev/null", "w", stdout);
			execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save", "",
			       "--appendonly", "no", (char *)NULL);
			_exit(127);
		}
		for (int t = 0; t < 50; t++) {
			usleep(20000);
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid)
				break; /* port taken or no redis-server */
			if ((rc = connect_port(port)) != NULL) {
				redis_pid = pid;
				redis_port = port;
				return 0;
			}
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return -1;
}

static int setup(void **state)
{
	if (start_redis() < 0)
		fprintf(stderr, "redis-server not available: script tests skipped\n");
	return 0;
}

static int teardown(void **state)
{
	if (rc)
		redisFree(rc);
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	return 0;
}

static redisReply *cmd(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	return r;
}

/* EVAL script with the NUL-terminated args (ends at NULL). */
static redisReply *run(int script, ...)
{
	const char *argv[16] = { "EVAL", swb_bridge_script_source(script), "0" };
	size_t lens[16];
	int argc = 3;
	va_list ap;
	va_start(ap, script);
	for (const char *a; argc < 16 && (a = va_arg(ap, const char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	redisReply *r = redisCommandArgv(rc, argc, argv, lens);
	assert_non_null(r);
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("script error: %s", r->str);
	return r;
}

static void expect_str(redisReply *r, const char *want)
{
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, want);
	freeReplyObject(r);
}

static long long int_of(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	long long v = r->type == REDIS_REPLY_INTEGER ? r->integer :
		      r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
	freeReplyObject(r);
	return v;
}

#define NEED_REDIS()                \
	do {                        \
		if (!rc)            \
			skip();     \
		freeReplyObject(cmd("FLUSHALL")); \
	} while (0)

static void test_occ_set(void **state)
{
	NEED_REDIS();
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hA", "a", "c", "2", NULL), "occupied");
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hB", "a", "c", "1", NULL), "");
	assert_int_equal(int_of("HGET p:a:occtot c"), 3);
	assert_int_equal(int_of("SISMEMBER p:a:chans c"), 1);
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hA", "a", "c", "5", NULL), "");
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hA", "a", "c", "0", NULL), "");
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hA", "a", "c", "0", NULL), ""); /* idempotent */
	assert_int_equal(int_of("HGET p:a:occtot c"), 1);
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hB", "a", "c", "0", NULL), "vacated");
	assert_int_equal(int_of("EXISTS p:a:occtot p:a:chans p:a:occ:c p:host:hA:keys p:host:hB:keys"), 0);
}

static redisReply *join(const char *host, const char *user, const char *max)
{
	return run(SWB_SCRIPT_PRES_JOIN, "p", host, "a", "presence-r", user, "{\"n\":1}", max, "ENV", NULL);
}

static void expect_join(redisReply *r, const char *status, size_t members)
{
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_string_equal(r->element[0]->str, status);
	if (members != (size_t)-1)
		assert_int_equal(r->element[1]->elements, members * 2);
	freeReplyObject(r);
}

static void test_presence(void **state)
{
	NEED_REDIS();
	expect_join(join("hA", "u1", "2"), "added", 1);
	expect_join(join("hA", "u1", "2"), "present", 1); /* same host again: no change */
	assert_int_equal(int_of("HGET p:a:pu:presence-r u1"), 1);
	expect_join(join("hB", "u1", "2"), "present", 1);
	assert_int_equal(int_of("HGET p:a:pu:presence-r u1"), 2);
	expect_join(join("hB", "u2", "2"), "added", 2);
	redisReply *r = join("hC", "u3", "2");
	assert_int_equal(r->elements, 1);
	assert_string_equal(r->element[0]->str, "full");
	freeReplyObject(r);
	expect_join(join("hC", "u1", "2"), "present", 2); /* a present user is never "full" */
	expect_str(run(SWB_SCRIPT_PRES_LEAVE, "p", "hA", "a", "presence-r", "u1", NULL), "");
	expect_str(run(SWB_SCRIPT_PRES_LEAVE, "p", "hA", "a", "presence-r", "u1", NULL), "");
	expect_str(run(SWB_SCRIPT_PRES_LEAVE, "p", "hB", "a", "presence-r", "u1", NULL), "");
	expect_str(run(SWB_SCRIPT_PRES_LEAVE, "p", "hC", "a", "presence-r", "u1", NULL), "removed");
	expect_str(run(SWB_SCRIPT_PRES_LEAVE, "p", "hB", "a", "presence-r", "u2", NULL), "removed");
	assert_int_equal(int_of("EXISTS p:a:pm:presence-r p:a:pu:presence-r p:host:hA:keys p:host:hB:keys"), 0);
}

/* Read one pub/sub message from sub; returns the payload reply. */
static redisReply *next_message(redisContext *sub)
{
	void *reply = NULL;
	assert_int_equal(redisGetReply(sub, &reply), REDIS_OK);
	redisReply *r = reply;
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_string_equal(r->element[0]->str, "message");
	return r;
}

static void test_sweep(void **state)
{
	NEED_REDIS();
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hA", "a", "c", "3", NULL), "occupied");
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hA", "a", "d", "1", NULL), "occupied");
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hB", "a", "d", "1", NULL), "");
	expect_join(join("hA", "u1", "100"), "added", 1);
	expect_join(join("hB", "u1", "100"), "present", 1);
	expect_join(join("hA", "u\"2", "100"), "added", 2);
	freeReplyObject(cmd("ZADD p:hosts 1000 hA 99999999999999 hB"));
	redisContext *sub = connect_port(redis_port);
	freeReplyObject(redisCommand(sub, "SUBSCRIBE p:a:ch:presence-r"));
	redisReply *r = run(SWB_SCRIPT_SWEEP, "p", "2000", "hB", NULL);
	/* c vacated; d still on hB; u1 still on hB; u"2 removed */
	assert_int_equal(r->elements, 8);
	for (size_t i = 0; i < 8; i += 4) {
		const char *kind = r->element[i]->str;
		if (!strcmp(kind, "vacated")) {
			assert_string_equal(r->element[i + 2]->str, "c");
			assert_string_equal(r->element[i + 3]->str, "");
		} else {
			assert_string_equal(kind, "removed");
			assert_string_equal(r->element[i + 1]->str, "a");
			assert_string_equal(r->element[i + 3]->str, "u\"2");
		}
	}
	freeReplyObject(r);
	redisReply *m = next_message(sub);
	Swb__Envelope *e = swb__envelope__unpack(NULL, m->element[2]->len, (uint8_t *)m->element[2]->str);
	assert_non_null(e);
	assert_string_equal(e->origin_host, "hB");
	assert_string_equal(e->app_id, "a");
	assert_string_equal(e->channel, "presence-r");
	assert_string_equal(e->event, "pusher_internal:member_removed");
	assert_int_equal(e->data.len, strlen("{\"user_id\":\"u\\\"2\"}"));
	assert_memory_equal(e->data.data, "{\"user_id\":\"u\\\"2\"}", e->data.len);
	swb__envelope__free_unpacked(e, NULL);
	freeReplyObject(m);
	redisFree(sub);
	assert_int_equal(int_of("ZSCORE p:hosts hA"), 0);
	assert_int_equal(int_of("EXISTS p:host:hA:keys"), 0);
	assert_int_equal(int_of("HGET p:a:occtot d"), 1);
	assert_int_equal(int_of("HGET p:a:pu:presence-r u1"), 1);
	r = run(SWB_SCRIPT_SWEEP, "p", "3000", "hB", NULL); /* swept once only */
	assert_int_equal(r->elements, 0);
	freeReplyObject(r);
}

static void test_publish_cache(void **state)
{
	NEED_REDIS();
	redisReply *r = run(SWB_SCRIPT_PUBLISH_CACHE, "p", "p:a:cache:cache-x", "p:a:ch:cache-x", "ENV", "1800000",
			    NULL);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	r = cmd("GET p:a:cache:cache-x");
	assert_string_equal(r->str, "ENV");
	freeReplyObject(r);
	long long ttl = int_of("PTTL p:a:cache:cache-x");
	assert_true(ttl > 1790000 && ttl <= 1800000);
}

static void test_leave_excludes_the_leaver(void **state)
{
	NEED_REDIS();
	expect_join(join("hA", "u1", "10"), "added", 1);
	redisContext *sub = connect_port(redis_port);
	freeReplyObject(redisCommand(sub, "SUBSCRIBE p:a:ch:presence-r"));
	expect_str(run(SWB_SCRIPT_PRES_LEAVE, "p", "hA", "a", "presence-r", "u1", "123.456", NULL), "removed");
	redisReply *m = next_message(sub);
	Swb__Envelope *e = swb__envelope__unpack(NULL, m->element[2]->len, (uint8_t *)m->element[2]->str);
	assert_non_null(e);
	assert_string_equal(e->event, "pusher_internal:member_removed");
	assert_string_equal(e->exclude_socket_id, "123.456");
	assert_string_equal(e->origin_host, "hA");
	swb__envelope__free_unpacked(e, NULL);
	freeReplyObject(m);
	redisFree(sub);
}

static void test_gone(void **state)
{
	NEED_REDIS();
	expect_join(join("hA", "u1", "10"), "added", 1);
	expect_str(run(SWB_SCRIPT_GONE, "p", "pres", "a", "presence-r", "u1", "hB", NULL), ""); /* still there */
	expect_str(run(SWB_SCRIPT_GONE, "p", "pres", "a", "presence-r", "u2", "hB", NULL), "removed");
	expect_str(run(SWB_SCRIPT_GONE, "p", "pres", "a", "presence-r", "u2", "hA", NULL), ""); /* once */
	expect_str(run(SWB_SCRIPT_OCC_SET, "p", "hA", "a", "c", "1", NULL), "occupied");
	expect_str(run(SWB_SCRIPT_GONE, "p", "occ", "a", "c", "", "hB", NULL), "");
	expect_str(run(SWB_SCRIPT_GONE, "p", "occ", "a", "d", "", "hB", NULL), "vacated");
	expect_str(run(SWB_SCRIPT_GONE, "p", "occ", "a", "d", "", "hA", NULL), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_occ_set),
		cmocka_unit_test(test_presence),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_publish_cache),
		cmocka_unit_test(test_leave_excludes_the_leaver),
		cmocka_unit_test(test_gone),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
