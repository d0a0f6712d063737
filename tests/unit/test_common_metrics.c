/* test_common_metrics.c: unit tests for common/metrics.c (registry,
 * bounded label sets, histogram buckets, exposition text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "metrics.h"

static char *render(swb_metrics *r, swb_sbuf *s)
{
	swb_sbuf_init(s);
	swb_metrics_render(r, s);
	swb_sbuf_append(s, "", 1);
	return s->p;
}

static void test_counter_gauge(void **state)
{
	(void)state;
	swb_metrics r;
	swb_metrics_init(&r);
	swb_metric *c = swb_metrics_counter(&r, "swb_x_total", "X things");
	swb_metric *g = swb_metrics_gauge(&r, "swb_y", "Y now");
	assert_non_null(c);
	swb_metric_inc(c);
	swb_metric_add(c, NULL, 2);
	swb_metric_add(c, NULL, -5); /* counters never go down */
	swb_metric_set(g, NULL, 1.5);
	swb_metric_add(g, NULL, -3);
	assert_true(swb_metric_get(c, NULL) == 3);
	swb_sbuf s;
	char *t = render(&r, &s);
	assert_non_null(strstr(t, "# HELP swb_x_total X things\n# TYPE swb_x_total counter\nswb_x_total 3\n"));
	assert_non_null(strstr(t, "# TYPE swb_y gauge\nswb_y -1.5\n"));
	swb_sbuf_free(&s);
	swb_metrics_fini(&r);
}

static void test_bad_names(void **state)
{
	(void)state;
	swb_metrics r;
	swb_metrics_init(&r);
	assert_null(swb_metrics_counter(&r, "9bad", ""));
	assert_null(swb_metrics_counter(&r, "has space", ""));
	assert_null(swb_metrics_add(&r, SWB_METRIC_COUNTER, "ok", "", "le", 4, NULL, 0));
	double bad[] = { 1, 1 };
	assert_null(swb_metrics_histogram(&r, "h", "", bad, 2));
	swb_metric_inc(NULL); /* harmless */
	swb_metrics_fini(&r);
}

static void test_labels_bounded(void **state)
{
	(void)state;
	swb_metrics r;
	swb_metrics_init(&r);
	swb_metric *m = swb_metrics_add(&r, SWB_METRIC_COUNTER, "swb_req_total", "Requests", "code", 4, NULL, 0);
	const char *codes[] = { "200", "400", "404", "500", "503", "200" };
	for (int i = 0; i < 6; i++)
		swb_metric_add(m, codes[i], 1);
	assert_true(swb_metric_get(m, "200") == 2);
	assert_true(swb_metric_get(m, "400") == 1);
	assert_true(swb_metric_get(m, "500") == 1);
	assert_true(swb_metric_get(m, "other") == 1); /* 503: the fifth value */
	swb_metric_add(m, "a\"b\\c\nd", 1); /* escaped, and folded into other */
	swb_sbuf s;
	char *t = render(&r, &s);
	assert_non_null(strstr(t, "swb_req_total{code=\"200\"} 2\n"));
	assert_non_null(strstr(t, "swb_req_total{code=\"other\"} 2\n"));
	swb_sbuf_free(&s);
	swb_metric *e = swb_metrics_add(&r, SWB_METRIC_GAUGE, "swb_e", "", "edge", 8, NULL, 0);
	swb_metric_set(e, "x\"y", 1);
	t = render(&r, &s);
	assert_non_null(strstr(t, "swb_e{edge=\"x\\\"y\"} 1\n"));
	swb_sbuf_free(&s);
	swb_metric_clear(e);
	assert_true(swb_metric_get(e, "x\"y") == 0);
	swb_metrics_fini(&r);
}

static void test_histogram(void **state)
{
	(void)state;
	swb_metrics r;
	swb_metrics_init(&r);
	double b[] = { 0.1, 1 };
	swb_metric *h = swb_metrics_histogram(&r, "swb_lat_seconds", "Latency", b, 2);
	swb_sbuf s;
	char *t = render(&r, &s);
	assert_non_null(strstr(t, "swb_lat_seconds_bucket{le=\"+Inf\"} 0\nswb_lat_seconds_sum 0\n"
				  "swb_lat_seconds_count 0\n"));
	swb_sbuf_free(&s);
	swb_metric_observe(h, NULL, 0.05);
	swb_metric_observe(h, NULL, 0.1);
	swb_metric_observe(h, NULL, 0.5);
	swb_metric_observe(h, NULL, 7);
	t = render(&r, &s);
	assert_non_null(strstr(t, "# TYPE swb_lat_seconds histogram\n"
				  "swb_lat_seconds_bucket{le=\"0.1\"} 2\n"
				  "swb_lat_seconds_bucket{le=\"1\"} 3\n"
				  "swb_lat_seconds_bucket{le=\"+Inf\"} 4\n"
				  "swb_lat_seconds_sum 7.65\n"
				  "swb_lat_seconds_count 4\n"));
	swb_sbuf_free(&s);
	swb_metrics_fini(&r);
}

static void test_process(void **state)
{
	(void)state;
	swb_metrics r;
	swb_metrics_process p;
	swb_metrics_init(&r);
	swb_metrics_process_init(&p, &r);
	swb_metrics_process_update(&p);
	assert_true(swb_metric_get(p.rss, NULL) > 0);
	assert_true(swb_metric_get(p.fds, NULL) >= 0);
	swb_metrics_fini(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_gauge), cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_labels_bounded), cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
