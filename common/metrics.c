/* metrics.c: the metrics registry and Prometheus text exposition (see
 * metrics.h). Series live in a per-family array searched linearly: a
 * family has few series (status codes, edges), bounded by max_series. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const double swb_metrics_latency_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					       0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
					       5,      10 };
const size_t swb_metrics_latency_nbuckets = sizeof(swb_metrics_latency_buckets) / sizeof(double);

typedef struct swb_series {
	char lv[SWB_METRIC_LABEL_MAX + 1];
	double v;          /* counter / gauge value; histogram sum */
	uint64_t count;    /* histogram observations */
	uint64_t *buckets; /* histogram: per bucket (not cumulative), owned */
} swb_series;

struct swb_metric {
	enum swb_metric_type type;
	char *name, *help, *label;
	size_t max_series;
	double bounds[SWB_METRIC_BUCKETS_MAX];
	size_t nbounds;
	swb_series *series; /* owned */
	size_t n, cap;
	swb_metric *next;
};

void swb_metrics_init(swb_metrics *r) { memset(r, 0, sizeof(*r)); }

static void series_clear(swb_metric *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->series[i].buckets);
	m->n = 0;
}

void swb_metrics_fini(swb_metrics *r)
{
	swb_metric *m = r->head;
	while (m) {
		swb_metric *next = m->next;
		series_clear(m);
		free(m->series);
		free(m->name);
		free(m->help);
		free(m->label);
		free(m);
		m = next;
	}
	memset(r, 0, sizeof(*r));
}

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || (colon && *s == ':')))
			return false;
	return true;
}

static bool bounds_ok(const double *b, size_t n)
{
	if (n > SWB_METRIC_BUCKETS_MAX || (n && !b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(b[i]) || (i && b[i] <= b[i - 1]))
			return false;
	return true;
}

swb_metric *swb_metrics_add(swb_metrics *r, enum swb_metric_type type, const char *name, const char *help,
			    const char *label, size_t max_series, const double *bounds, size_t nbounds)
{
	if (!name_ok(name, true) || (label && (!name_ok(label, false) || !strcmp(label, "le"))) ||
	    (type == SWB_METRIC_HISTOGRAM && !bounds_ok(bounds, nbounds)))
		return NULL;
	swb_metric *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->type = type;
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	m->label = label ? strdup(label) : NULL;
	if (!m->name || !m->help || (label && !m->label)) {
		free(m->name), free(m->help), free(m->label), free(m);
		return NULL;
	}
	m->max_series = !label ? 1 : max_series < 1 ? 1 : max_series > SWB_METRIC_SERIES_MAX ? SWB_METRIC_SERIES_MAX
											    : max_series;
	if (type == SWB_METRIC_HISTOGRAM) {
		memcpy(m->bounds, bounds, nbounds * sizeof(double));
		m->nbounds = nbounds;
	}
	if (r->tail)
		r->tail->next = m;
	else
		r->head = m;
	r->tail = m;
	return m;
}

swb_metric *swb_metrics_counter(swb_metrics *r, const char *name, const char *help)
{
	return swb_metrics_add(r, SWB_METRIC_COUNTER, name, help, NULL, 1, NULL, 0);
}

swb_metric *swb_metrics_gauge(swb_metrics *r, const char *name, const char *help)
{
	return swb_metrics_add(r, SWB_METRIC_GAUGE, name, help, NULL, 1, NULL, 0);
}

swb_metric *swb_metrics_histogram(swb_metrics *r, const char *name, const char *help, const double *bounds,
				  size_t nbounds)
{
	return swb_metrics_add(r, SWB_METRIC_HISTOGRAM, name, help, NULL, 1, bounds, nbounds);
}

static swb_series *series_find(const swb_metric *m, const char *lv)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->label || !strcmp(m->series[i].lv, lv))
			return &m->series[i];
	return NULL;
}

static swb_series *series_new(swb_metric *m, const char *lv)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		swb_series *s = realloc(m->series, cap * sizeof(*s));
		if (!s)
			return NULL;
		m->series = s;
		m->cap = cap;
	}
	swb_series *s = &m->series[m->n];
	memset(s, 0, sizeof(*s));
	if (m->type == SWB_METRIC_HISTOGRAM && !(s->buckets = calloc(m->nbounds + 1, sizeof(uint64_t))))
		return NULL;
	snprintf(s->lv, sizeof(s->lv), "%s", lv);
	m->n++;
	return s;
}

/* The series for lv, created if missing; beyond max_series, "other". */
static swb_series *series_get(swb_metric *m, const char *lv)
{
	if (!m->label || !lv)
		lv = "";
	char cut[SWB_METRIC_LABEL_MAX + 1];
	snprintf(cut, sizeof(cut), "%s", lv);
	swb_series *s = series_find(m, cut);
	if (s)
		return s;
	bool has_other = m->label && series_find(m, "other");
	if (m->label && m->n - has_other >= m->max_series) /* "other": one more series */
		return has_other ? series_find(m, "other") : series_new(m, "other");
	return series_new(m, cut);
}

void swb_metric_add(swb_metric *m, const char *lv, double delta)
{
	swb_series *s = m ? series_get(m, lv) : NULL;
	if (s && m->type != SWB_METRIC_HISTOGRAM && (m->type == SWB_METRIC_GAUGE || delta >= 0))
		s->v += delta;
}

void swb_metric_set(swb_metric *m, const char *lv, double v)
{
	swb_series *s = m ? series_get(m, lv) : NULL;
	if (s && m->type != SWB_METRIC_HISTOGRAM)
		s->v = v;
}

void swb_metric_observe(swb_metric *m, const char *lv, double v)
{
	swb_series *s = m && m->type == SWB_METRIC_HISTOGRAM ? series_get(m, lv) : NULL;
	if (!s || isnan(v))
		return;
	size_t i = 0;
	while (i < m->nbounds && v > m->bounds[i])
		i++;
	s->buckets[i]++;
	s->count++;
	s->v += v;
}

double swb_metric_get(const swb_metric *m, const char *lv)
{
	if (!m)
		return 0;
	const swb_series *s = series_find(m, lv ? lv : "");
	return !s ? 0 : m->type == SWB_METRIC_HISTOGRAM ? (double)s->count : s->v;
}

void swb_metric_clear(swb_metric *m)
{
	if (m)
		series_clear(m);
}

/* ---- exposition ---- */

static void put_escaped(swb_sbuf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			swb_sbuf_puts(out, "\\\\");
		else if (*s == '\n')
			swb_sbuf_puts(out, "\\n");
		else if (quote && *s == '"')
			swb_sbuf_puts(out, "\\\"");
		else
			swb_sbuf_append(out, s, 1);
	}
}

static void put_num(swb_sbuf *out, double v)
{
	if (isinf(v))
		swb_sbuf_puts(out, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		swb_sbuf_puts(out, "NaN");
	else if (v == floor(v) && fabs(v) < 1e15)
		swb_sbuf_printf(out, "%.0f", v);
	else {
		char b[40];
		for (int prec = 6; prec <= 17; prec++) { /* shortest text that reads back as v */
			snprintf(b, sizeof(b), "%.*g", prec, v);
			if (strtod(b, NULL) == v)
				break;
		}
		swb_sbuf_puts(out, b);
	}
}

/* name[suffix]{label="lv"[,le="x"]} value */
static void put_line(swb_sbuf *out, const swb_metric *m, const char *suffix, const swb_series *s, const char *le,
		     double v)
{
	swb_sbuf_puts(out, m->name);
	swb_sbuf_puts(out, suffix);
	if (m->label || le) {
		swb_sbuf_puts(out, "{");
		if (m->label) {
			swb_sbuf_printf(out, "%s=\"", m->label);
			put_escaped(out, s->lv, true);
			swb_sbuf_puts(out, le ? "\"," : "\"");
		}
		if (le)
			swb_sbuf_printf(out, "le=\"%s\"", le);
		swb_sbuf_puts(out, "}");
	}
	swb_sbuf_puts(out, " ");
	put_num(out, v);
	swb_sbuf_puts(out, "\n");
}

static void put_histogram(swb_sbuf *out, const swb_metric *m, const swb_series *s)
{
	uint64_t cum = 0;
	char le[40];
	for (size_t i = 0; i <= m->nbounds; i++) {
		cum += s->buckets[i];
		if (i < m->nbounds) {
			swb_sbuf sb;
			swb_sbuf_init(&sb);
			put_num(&sb, m->bounds[i]);
			snprintf(le, sizeof(le), "%s", sb.p ? sb.p : "0");
			swb_sbuf_free(&sb);
		} else {
			snprintf(le, sizeof(le), "+Inf");
		}
		put_line(out, m, "_bucket", s, le, (double)cum);
	}
	put_line(out, m, "_sum", s, NULL, s->v);
	put_line(out, m, "_count", s, NULL, (double)s->count);
}

void swb_metrics_render(const swb_metrics *r, swb_sbuf *out)
{
	static const char *types[] = { "counter", "gauge", "histogram" };
	for (const swb_metric *m = r->head; m; m = m->next) {
		swb_sbuf_printf(out, "# HELP %s ", m->name);
		put_escaped(out, m->help, false);
		swb_sbuf_printf(out, "\n# TYPE %s %s\n", m->name, types[m->type]);
		if (!m->label && m->n == 0) { /* an unlabelled family always shows */
			static uint64_t zero[SWB_METRIC_BUCKETS_MAX + 1];
			swb_series z = { .buckets = zero };
			if (m->type == SWB_METRIC_HISTOGRAM)
				put_histogram(out, m, &z);
			else
				put_line(out, m, "", &z, NULL, 0);
		}
		for (size_t i = 0; i < m->n; i++) {
			if (m->type == SWB_METRIC_HISTOGRAM)
				put_histogram(out, m, &m->series[i]);
			else
				put_line(out, m, "", &m->series[i], NULL, m->series[i].v);
		}
	}
}
