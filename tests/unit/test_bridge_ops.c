/* test_bridge_ops.c: the operator commands of control_cmds.c without a
 * socket (edges, connections, channels with --redis none, stats, drain /
 * log-level / reload forwarding and their argument checks), readiness
 * (probe.c) and the bridge's metrics text (metrics.c). Forwarded commands
 * are read back from the edges' queues (out_blocked: nothing is sent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge.h"
#include "log.h"
#include "switchboard.pb-c.h"

static swb_bridge *new_bridge(void)
{
	swb_bridge *b = calloc(1, sizeof(*b));
	b->host_id = "h1";
	b->prefix = "swb";
	b->redis_url_str = "none";
	b->url.none = true;
	swb_bridge_interest_init(&b->interest, NULL, NULL);
	swb_bridge_state_init(&b->state);
	return b;
}

static swb_bridge_edge *add_edge(swb_bridge *b, uint32_t pipe, const char *id, uint32_t conns)
{
	swb_bridge_edge *e = calloc(1, sizeof(*e));
	e->pipe_id = pipe;
	e->pid = 1000 + pipe;
	snprintf(e->edge_id, sizeof(e->edge_id), "%s", id);
	e->connections = conns;
	e->out_blocked = true; /* queue only: read back below */
	e->all_apps = calloc(2, sizeof(*e->all_apps));
	snprintf(e->all_apps[0].app, sizeof(e->all_apps[0].app), "app1");
	e->all_apps[0].n = conns;
	snprintf(e->all_apps[1].app, sizeof(e->all_apps[1].app), "app2");
	e->all_apps[1].n = 1;
	e->n_all_apps = 2;
	HASH_ADD(hh, b->edges, pipe_id, sizeof(e->pipe_id), e);
	return e;
}

static void free_bridge(swb_bridge *b)
{
	swb_bridge_edge *e, *tmp;
	HASH_ITER(hh, b->edges, e, tmp) {
		HASH_DEL(b->edges, e);
		swb_bridge_outq_clear(e);
		free(e->all_apps);
		free(e);
	}
	swb_bridge_state_fini(&b->state);
	swb_bridge_interest_fini(&b->interest);
	swb_bridge_metrics_fini(b);
	free(b);
}

static cJSON *ask(swb_bridge *b, const char *req)
{
	char *s = swb_bridge_control_handle(b, req, strlen(req));
	assert_non_null(s);
	cJSON *o = cJSON_Parse(s);
	free(s);
	assert_non_null(o);
	return o;
}

static void expect_error(swb_bridge *b, const char *req, const char *substr)
{
	cJSON *o = ask(b, req);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "ok")));
	const char *e = cJSON_GetObjectItem(o, "error")->valuestring;
	if (!strstr(e, substr))
		fail_msg("error '%s' lacks '%s'", e, substr);
	cJSON_Delete(o);
}

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k)->valuedouble; }

/* The one BridgeMsg queued for e (unpacked; caller frees). */
static Swb__BridgeMsg *queued(swb_bridge_edge *e)
{
	assert_int_equal(e->out_len, 1);
	nng_msg *m = e->outq[e->out_head];
	Swb__BridgeMsg *bm = swb__bridge_msg__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	assert_non_null(bm);
	swb_bridge_outq_clear(e);
	e->out_blocked = true;
	return bm;
}

static void test_edges_connections_stats(void **state)
{
	(void)state;
	swb_bridge *b = new_bridge();
	swb_bridge_edge *e1 = add_edge(b, 1, "e1", 3);
	add_edge(b, 2, "e2", 4);
	e1->draining = true;
	e1->config_generation = 7;
	snprintf(e1->reload_error, sizeof(e1->reload_error), "bad file");
	cJSON *o = ask(b, "{\"cmd\":\"edges\"}");
	const cJSON *arr = cJSON_GetObjectItem(o, "edges"), *it;
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	cJSON_ArrayForEach(it, arr) if (!strcmp(cJSON_GetObjectItem(it, "edge_id")->valuestring, "e1"))
	{
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(it, "draining")));
		assert_int_equal(num(it, "config_generation"), 7);
		assert_string_equal(cJSON_GetObjectItem(it, "reload_error")->valuestring, "bad file");
		assert_int_equal(num(it, "pid"), 1001);
	}
	cJSON_Delete(o);
	o = ask(b, "{\"cmd\":\"connections\"}");
	assert_int_equal(num(o, "host_total"), 7);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "apps"))
	{
		const char *app = cJSON_GetObjectItem(it, "app")->valuestring;
		assert_int_equal(num(it, "host"), !strcmp(app, "app1") ? 7 : 2);
		assert_int_equal(num(it, "cluster"), num(it, "host")); /* --redis none */
	}
	cJSON_Delete(o);
	o = ask(b, "{\"cmd\":\"stats\"}");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ready")));
	assert_int_equal(num(o, "edges"), 2);
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "counters")));
	cJSON_Delete(o);
	free_bridge(b);
}

static void test_channels_none(void **state)
{
	(void)state;
	swb_bridge *b = new_bridge();
	bool changed;
	swb_bridge_state_count(&b->state, "app1", "news", 1, 3, &changed);
	swb_bridge_state_count(&b->state, "app1", "news", 2, 2, &changed);
	swb_bridge_state_count(&b->state, "app1", "other", 1, 1, &changed);
	swb_bridge_state_count(&b->state, "app0", "news-x", 1, 4, &changed);
	cJSON *o = ask(b, "{\"cmd\":\"channels\"}");
	const cJSON *arr = cJSON_GetObjectItem(o, "channels");
	assert_int_equal(cJSON_GetArraySize(arr), 3);
	const cJSON *first = cJSON_GetArrayItem(arr, 0); /* sorted by app, channel */
	assert_string_equal(cJSON_GetObjectItem(first, "app")->valuestring, "app0");
	const cJSON *news = cJSON_GetArrayItem(arr, 1);
	assert_string_equal(cJSON_GetObjectItem(news, "channel")->valuestring, "news");
	assert_int_equal(num(news, "host"), 5);
	assert_int_equal(num(news, "cluster"), 5);
	cJSON_Delete(o);
	o = ask(b, "{\"cmd\":\"channels\",\"prefix\":\"news\"}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "channels")), 2);
	cJSON_Delete(o);
	expect_error(b, "{\"cmd\":\"channels\",\"prefix\":5}", "prefix");
	free_bridge(b);
}

static void test_forwarding(void **state)
{
	(void)state;
	swb_bridge *b = new_bridge();
	swb_bridge_edge *e1 = add_edge(b, 1, "e1", 0), *e2 = add_edge(b, 2, "e2", 0);
	cJSON *o = ask(b, "{\"cmd\":\"drain\",\"edge\":\"e2\",\"deadline_s\":30,\"rate\":50}");
	assert_int_equal(num(o, "edges"), 1);
	cJSON_Delete(o);
	assert_int_equal(e1->out_len, 0);
	Swb__BridgeMsg *bm = queued(e2);
	assert_int_equal(bm->body_case, SWB__BRIDGE_MSG__BODY_DRAIN);
	assert_int_equal(bm->drain->deadline_ms, 30000);
	assert_int_equal(bm->drain->rate, 50);
	swb__bridge_msg__free_unpacked(bm, NULL);

	o = ask(b, "{\"cmd\":\"log-level\",\"level\":\"debug\"}");
	assert_int_equal(num(o, "edges"), 2);
	cJSON_Delete(o);
	assert_int_equal(swb_log_get_level(), SWB_LOG_DEBUG);
	swb_log_set_level(SWB_LOG_WARN);
	bm = queued(e1);
	assert_int_equal(bm->body_case, SWB__BRIDGE_MSG__BODY_LOG_LEVEL);
	assert_string_equal(bm->log_level->level, "debug");
	swb__bridge_msg__free_unpacked(bm, NULL);
	swb_bridge_outq_clear(e2);
	e2->out_blocked = true;

	o = ask(b, "{\"cmd\":\"reload\"}");
	assert_int_equal(num(o, "edges"), 2);
	cJSON_Delete(o);
	bm = queued(e2);
	assert_int_equal(bm->body_case, SWB__BRIDGE_MSG__BODY_RELOAD);
	swb__bridge_msg__free_unpacked(bm, NULL);
	assert_int_equal(b->cnt.forwarded_cmds, 5);

	expect_error(b, "{\"cmd\":\"drain\",\"edge\":\"nope\"}", "no edge with id 'nope'");
	expect_error(b, "{\"cmd\":\"drain\",\"deadline_s\":-1}", "deadline_s");
	expect_error(b, "{\"cmd\":\"drain\",\"deadline_s\":1.5}", "deadline_s");
	expect_error(b, "{\"cmd\":\"drain\",\"rate\":\"x\"}", "rate");
	expect_error(b, "{\"cmd\":\"drain\",\"edge\":\"\"}", "edge");
	expect_error(b, "{\"cmd\":\"log-level\",\"level\":\"loud\"}", "level");
	expect_error(b, "{\"cmd\":\"log-level\"}", "level");
	expect_error(b, "{\"cmd\":\"frob\"}", "unknown command");
	assert_int_equal(swb_log_get_level(), SWB_LOG_WARN);
	free_bridge(b);
}

static void test_readiness(void **state)
{
	(void)state;
	swb_bridge *b = new_bridge();
	const char *why;
	assert_true(swb_bridge_ready(b, &why)); /* --redis none */
	b->url.none = false;
	assert_false(swb_bridge_ready(b, &why));
	assert_string_equal(why, "redis command connection down");
	b->cmd.state = SWB_RCONN_UP;
	assert_false(swb_bridge_ready(b, &why));
	assert_string_equal(why, "redis subscribe connection down");
	b->sub.state = SWB_RCONN_UP;
	assert_false(swb_bridge_ready(b, &why));
	assert_string_equal(why, "pub/sub probe not back yet");
	b->health.ok = true;
	assert_true(swb_bridge_ready(b, &why));
	assert_string_equal(why, "");
	/* a probe answer for another sequence number changes nothing */
	b->health.ok = false;
	b->health.seq = 5;
	b->health.sent_ms = 1;
	swb_bridge_probe_message(b, "4", 1);
	assert_false(b->health.ok);
	swb_bridge_probe_message(b, "5x", 2);
	assert_false(b->health.ok);
	swb_bridge_probe_message(b, "5", 1);
	assert_true(b->health.ok);
	assert_int_equal(b->health.received, 1);
	assert_int_equal(b->health.sent_ms, 0);
	free_bridge(b);
}

static void test_metrics_text(void **state)
{
	(void)state;
	swb_bridge *b = new_bridge();
	assert_int_equal(swb_bridge_metrics_init(b), 0);
	add_edge(b, 1, "e1", 3);
	b->cnt.publish_ok = 12;
	b->cnt.edge_bad_msg = 2;
	b->health.failures = 4;
	swb_bridge_metrics_redis_rtt(b, 1); /* a huge round trip: +Inf bucket */
	size_t len = 0;
	char *t = swb_bridge_metrics_render(b, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_non_null(strstr(t, "\nswb_bridge_ready 1\n"));
	assert_non_null(strstr(t, "\nswb_bridge_publishes_total{result=\"ok\"} 12\n"));
	assert_non_null(strstr(t, "\nswb_bridge_bad_input_total{source=\"edge_msg\"} 2\n"));
	assert_non_null(strstr(t, "\nswb_bridge_probe_failures_total 4\n"));
	assert_non_null(strstr(t, "\nswb_host_connections 3\n"));
	assert_non_null(strstr(t, "\nswb_bridge_edge_outq_messages{edge=\"e1\"} 0\n"));
	assert_non_null(strstr(t, "\nswb_bridge_redis_rtt_seconds_bucket{le=\"+Inf\"} 1\n"));
	assert_non_null(strstr(t, "\nswb_bridge_redis_rtt_seconds_count 1\n"));
	free(t);
	assert_int_equal(swb_bridge_mhttp_valid("127.0.0.1:9100"), 0);
	assert_int_equal(swb_bridge_mhttp_valid("[::1]:9100"), 0);
	assert_int_equal(swb_bridge_mhttp_valid("*:9100"), 0);
	assert_int_equal(swb_bridge_mhttp_valid("host:9100"), -1);
	assert_int_equal(swb_bridge_mhttp_valid("127.0.0.1:0"), -1);
	assert_int_equal(swb_bridge_mhttp_valid("127.0.0.1"), -1);
	free_bridge(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges_connections_stats), cmocka_unit_test(test_channels_none),
		cmocka_unit_test(test_forwarding),		cmocka_unit_test(test_readiness),
		cmocka_unit_test(test_metrics_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
