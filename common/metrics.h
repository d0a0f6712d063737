/* metrics.h: a small metrics registry and its Prometheus text exposition
 * (format 0.0.4), shared by swb-edge and swb-bridge.
 *
 * A registry owns its metric families; a family owns its series. A family
 * has at most one label (e.g. "code" or "edge"), and a bounded number of
 * series: the first max_series distinct label values get their own series,
 * every later value is counted under the value "other". Callers never pass
 * unbounded values (channel names, socket ids) as labels.
 *
 * Values are doubles. Counters only grow (swb_metric_add with delta >= 0),
 * except swb_metric_set, which mirrors a counter the caller already keeps
 * (set it right before rendering). Histograms have fixed upper bounds
 * (ascending, +Inf implied). Everything runs on one thread. */
#ifndef SWB_METRICS_H
#define SWB_METRICS_H

#include <stddef.h>

#include "sbuf.h"

enum swb_metric_type { SWB_METRIC_COUNTER, SWB_METRIC_GAUGE, SWB_METRIC_HISTOGRAM };

#define SWB_METRIC_LABEL_MAX 64       /* bytes of a label value */
#define SWB_METRIC_SERIES_MAX 256     /* hard limit of series per family */
#define SWB_METRIC_BUCKETS_MAX 32

typedef struct swb_metric swb_metric;
typedef struct swb_metrics {
	swb_metric *head, *tail;
} swb_metrics;

void swb_metrics_init(swb_metrics *r);
void swb_metrics_fini(swb_metrics *r);

/* Create a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*; label: NULL for none.
 * bounds/nbounds only for histograms. NULL on a bad name or no memory. */
swb_metric *swb_metrics_add(swb_metrics *r, enum swb_metric_type type, const char *name, const char *help,
			    const char *label, size_t max_series, const double *bounds, size_t nbounds);
/* Shorthands for unlabelled families. */
swb_metric *swb_metrics_counter(swb_metrics *r, const char *name, const char *help);
swb_metric *swb_metrics_gauge(swb_metrics *r, const char *name, const char *help);
swb_metric *swb_metrics_histogram(swb_metrics *r, const char *name, const char *help, const double *bounds,
				  size_t nbounds);

/* Update the series of label value lv (NULL for an unlabelled family).
 * m may be NULL (no-op), so a failed registration costs nothing. */
void swb_metric_add(swb_metric *m, const char *lv, double delta);
void swb_metric_set(swb_metric *m, const char *lv, double v);
void swb_metric_observe(swb_metric *m, const char *lv, double v);
/* Current value (count for a histogram); 0 if the series does not exist. */
double swb_metric_get(const swb_metric *m, const char *lv);
/* Drop every series of a gauge family (before re-filling it per scrape). */
void swb_metric_clear(swb_metric *m);

#define swb_metric_inc(m) swb_metric_add((m), NULL, 1)

/* Append the exposition text of every family to out. */
void swb_metrics_render(const swb_metrics *r, swb_sbuf *out);

/* Process metrics (common/metrics_process.c): registers
 * swb_process_cpu_seconds_total, swb_process_resident_memory_bytes,
 * swb_process_open_fds, swb_process_start_time_seconds; update before
 * each render. */
typedef struct swb_metrics_process {
	swb_metric *cpu, *rss, *fds, *start;
	double start_time;
} swb_metrics_process;
void swb_metrics_process_init(swb_metrics_process *p, swb_metrics *r);
void swb_metrics_process_update(swb_metrics_process *p);

/* Latency buckets in seconds, 100 us .. 10 s. */
extern const double swb_metrics_latency_buckets[];
extern const size_t swb_metrics_latency_nbuckets;

#endif
