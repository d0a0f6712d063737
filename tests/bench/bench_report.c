/* bench_report.c: swb-bench's two report formats: the human summary
 * (stdout) and one JSON document with stable keys (see README.md). Values
 * that do not apply are null; nothing here measures anything. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "sbuf.h"

static void json_num(swb_sbuf *b, double v)
{
	if (isnan(v) || isinf(v))
		swb_sbuf_puts(b, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		swb_sbuf_printf(b, "%.0f", v);
	else
		swb_sbuf_printf(b, "%.3f", v);
}

static void json_kv(swb_sbuf *b, const char *k, double v, bool comma)
{
	swb_sbuf_printf(b, "%s\"%s\":", comma ? "," : "", k);
	json_num(b, v);
}

static void json_ks(swb_sbuf *b, const char *k, const char *v, bool comma)
{
	swb_sbuf_printf(b, "%s\"%s\":", comma ? "," : "", k);
	if (v && *v)
		swb_sbuf_json_str(b, v, strlen(v));
	else
		swb_sbuf_puts(b, "null");
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void json_hist(swb_sbuf *b, const char *k, const swb_hist *h)
{
	swb_sbuf_printf(b, ",\"%s\":{", k);
	json_kv(b, "count", (double)h->n, false);
	if (!h->n) {
		swb_sbuf_puts(b, ",\"p50\":null,\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null,\"mean\":null}");
		return;
	}
	json_kv(b, "p50", round(ms(swb_hist_quantile(h, 0.5)) * 1000) / 1000, true);
	json_kv(b, "p90", round(ms(swb_hist_quantile(h, 0.9)) * 1000) / 1000, true);
	json_kv(b, "p99", round(ms(swb_hist_quantile(h, 0.99)) * 1000) / 1000, true);
	json_kv(b, "p999", round(ms(swb_hist_quantile(h, 0.999)) * 1000) / 1000, true);
	json_kv(b, "max", round(ms(h->max) * 1000) / 1000, true);
	json_kv(b, "mean", round(swb_hist_mean(h) / 1e3) / 1000, true);
	swb_sbuf_puts(b, "}");
}

static uint64_t lost_of(const bench_step_result *s)
{
	return s->expected > s->rx.received ? s->expected - s->rx.received : 0;
}

static double setup_seconds(const bench_results *r)
{
	return r->setup.t_last_ns > r->setup.t_first_ns ? (double)(r->setup.t_last_ns - r->setup.t_first_ns) / 1e9 : 0;
}

typedef struct totals {
	uint64_t expected, received, lost, dup, http_errors, attempted, ok;
	long rss_start, rss, hwm;
} totals;

static totals sum_totals(const bench_results *r)
{
	totals t = { 0 };
	for (size_t i = 0; i < r->nsteps; i++) {
		const bench_step_result *s = r->steps[i];
		t.expected += s->expected;
		t.received += s->rx.received;
		t.lost += lost_of(s);
		t.dup += s->rx.duplicates;
		t.http_errors += s->pub.http_errors;
		t.attempted += s->pub.attempted;
		t.ok += s->pub.ok;
	}
	for (int i = 0; i < r->nprocs; i++) {
		t.rss_start += r->procs[i].rss_start_kb;
		t.rss += r->procs[i].rss_kb;
		t.hwm += r->procs[i].hwm_kb;
	}
	return t;
}

static void json_config(swb_sbuf *b, const bench_cfg *c)
{
	swb_sbuf_puts(b, ",\"config\":{\"targets\":[");
	for (size_t i = 0; i < c->ntargets; i++) {
		if (i)
			swb_sbuf_puts(b, ",");
		swb_sbuf_json_str(b, c->targets[i].hostport, strlen(c->targets[i].hostport));
	}
	swb_sbuf_puts(b, "]");
	json_ks(b, "publish_target", c->publish_target.hostport, true);
	json_kv(b, "connections", (double)c->connections, true);
	json_kv(b, "workers", (double)c->workers, true);
	json_kv(b, "source_ips", (double)c->source_ips, true);
	json_ks(b, "pattern", c->pattern_s, true);
	json_kv(b, "channels", c->nchannels, true);
	json_kv(b, "payload_bytes", (double)c->payload, true);
	json_kv(b, "duration_s", (double)c->duration, true);
	json_kv(b, "warmup_s", (double)c->warmup, true);
	json_kv(b, "drain_s", (double)c->drain, true);
	json_kv(b, "http_conns", (double)c->http_conns, true);
	swb_sbuf_puts(b, ",\"rate_steps\":[");
	for (size_t i = 0; i < c->nsteps; i++)
		swb_sbuf_printf(b, "%s%ld", i ? "," : "", c->steps[i]);
	swb_sbuf_puts(b, "]}");
}

static void json_setup(swb_sbuf *b, const bench_results *r)
{
	double ss = setup_seconds(r);
	swb_sbuf_puts(b, ",\"setup\":{");
	json_kv(b, "requested", (double)r->setup.requested, false);
	json_kv(b, "tcp_connected", (double)r->setup.tcp_connected, true);
	json_kv(b, "upgraded", (double)r->setup.upgraded, true);
	json_kv(b, "subscribed", (double)r->setup.subscribed, true);
	json_kv(b, "failed", (double)r->setup.failed, true);
	json_kv(b, "seconds", round(ss * 1000) / 1000, true);
	json_kv(b, "connect_rate", ss > 0 ? round((double)r->setup.subscribed / ss) : NAN, true);
	json_ks(b, "first_error", r->setup.first_error, true);
	json_hist(b, "handshake_ms", &r->setup.handshake);
	swb_sbuf_puts(b, "}");
}

static void json_step(swb_sbuf *b, const bench_results *r, const bench_step_result *s)
{
	swb_sbuf_puts(b, "{");
	json_kv(b, "rate", (double)s->rate, false);
	json_kv(b, "seconds", s->seconds, true);
	json_kv(b, "publishes_attempted", (double)s->pub.attempted, true);
	json_kv(b, "publishes_ok", (double)s->pub.ok, true);
	json_kv(b, "publishes_unsent", (double)s->pub.unsent, true);
	json_kv(b, "publish_rate", round((double)s->pub.attempted / s->seconds), true);
	json_kv(b, "http_errors", (double)s->pub.http_errors, true);
	json_kv(b, "http_timeouts", (double)s->pub.timeouts, true);
	json_ks(b, "first_http_error", s->pub.first_error, true);
	json_kv(b, "expected", (double)s->expected, true);
	json_kv(b, "received", (double)s->rx.received, true);
	json_kv(b, "lost", (double)lost_of(s), true);
	/* deliveries beyond expected: publishes that failed (non-200) yet were delivered */
	json_kv(b, "unexpected", s->rx.received > s->expected ? (double)(s->rx.received - s->expected) : 0, true);
	json_kv(b, "duplicates", (double)s->rx.duplicates, true);
	json_kv(b, "wrong_channel", (double)s->rx.wrong_channel, true);
	json_kv(b, "bad_payload", (double)s->rx.bad_payload, true);
	json_kv(b, "deliveries_per_s", round((double)s->rx.received / s->seconds), true);
	json_hist(b, "latency_ms", &s->rx.lat);
	json_hist(b, "publish_rtt_ms", &s->pub.rtt);
	json_kv(b, "window_s", round(s->window_s * 1000) / 1000, true);
	json_kv(b, "server_cpu_s", round(s->server_cpu_s * 100) / 100, true);
	json_kv(b, "active_s", round(s->active_s * 1000) / 1000, true);
	json_kv(b, "server_cpu_pct", r->nprocs ? round(s->server_cpu_s / s->active_s * 1000) / 10 : NAN, true);
	json_kv(b, "server_cpu_us_per_delivery",
		r->nprocs && s->rx.received ? round(s->server_cpu_s * 1e6 / (double)s->rx.received * 100) / 100 : NAN,
		true);
	json_kv(b, "bench_cpu_s", round(s->bench_cpu_s * 100) / 100, true);
	json_kv(b, "bench_cpu_pct", round(s->bench_cpu_s / s->active_s * 1000) / 10, true);
	json_kv(b, "bench_cpu_us_per_delivery",
		s->rx.received ? round(s->bench_cpu_s * 1e6 / (double)s->rx.received * 100) / 100 : NAN, true);
	swb_sbuf_puts(b, "}");
}

static void json_totals(swb_sbuf *b, const bench_results *r, const totals *t)
{
	swb_sbuf_puts(b, ",\"totals\":{");
	json_kv(b, "expected", (double)t->expected, false);
	json_kv(b, "received", (double)t->received, true);
	json_kv(b, "lost", (double)t->lost, true);
	json_kv(b, "duplicates", (double)t->dup, true);
	json_kv(b, "late", (double)r->fin.late, true);
	json_kv(b, "publishes_attempted", (double)t->attempted, true);
	json_kv(b, "publishes_ok", (double)t->ok, true);
	json_kv(b, "http_errors", (double)t->http_errors, true);
	json_kv(b, "disconnects", (double)r->fin.disconnects, true);
	json_kv(b, "protocol_errors", (double)r->fin.protocol_errors, true);
	json_kv(b, "pusher_errors", (double)r->fin.pusher_errors, true);
	json_kv(b, "pusher_pings", (double)r->fin.pings, true);
	json_kv(b, "ws_pings", (double)r->fin.ws_pings, true);
	json_kv(b, "other_events", (double)r->fin.other_events, true);
	json_ks(b, "first_error", r->fin.first_error, true);
	swb_sbuf_puts(b, "}");
}

static void json_procs_memory(swb_sbuf *b, const bench_cfg *c, const bench_results *r, const totals *t)
{
	swb_sbuf_puts(b, ",\"processes\":[");
	for (int i = 0; i < r->nprocs; i++) {
		const bench_proc *p = &r->procs[i];
		swb_sbuf_puts(b, i ? ",{" : "{");
		json_kv(b, "pid", p->pid, false);
		json_ks(b, "name", p->name, true);
		json_kv(b, "cpu_s", round((p->cpu_step - p->cpu_start) * 100) / 100, true);
		json_kv(b, "rss_start_kb", (double)p->rss_start_kb, true);
		json_kv(b, "rss_kb", (double)p->rss_kb, true);
		json_kv(b, "hwm_kb", (double)p->hwm_kb, true);
		swb_sbuf_puts(b, p->gone ? ",\"exited\":true}" : ",\"exited\":false}");
	}
	swb_sbuf_puts(b, "],\"memory\":{");
	json_kv(b, "server_rss_start_kb", r->nprocs ? (double)t->rss_start : NAN, false);
	json_kv(b, "server_rss_kb", r->nprocs ? (double)t->rss : NAN, true);
	json_kv(b, "server_hwm_kb", r->nprocs ? (double)t->hwm : NAN, true);
	json_kv(b, "server_rss_per_connection_kb",
		c->idle && r->nprocs && r->setup.subscribed
			? round((double)(t->rss - t->rss_start) / (double)r->setup.subscribed * 100) / 100
			: NAN,
		true);
	json_kv(b, "kernel_tcp_sockets_start", r->k0.inuse >= 0 ? (double)r->k0.inuse : NAN, true);
	json_kv(b, "kernel_tcp_sockets", r->k1.inuse >= 0 ? (double)r->k1.inuse : NAN, true);
	json_kv(b, "kernel_tcp_buffers_start_kb", r->k0.buf_kb >= 0 ? (double)r->k0.buf_kb : NAN, true);
	json_kv(b, "kernel_tcp_buffers_kb", r->k1.buf_kb >= 0 ? (double)r->k1.buf_kb : NAN, true);
	json_kv(b, "kernel_tcp_slab_start_kb", r->k0.slab_kb >= 0 ? (double)r->k0.slab_kb : NAN, true);
	json_kv(b, "kernel_tcp_slab_kb", r->k1.slab_kb >= 0 ? (double)r->k1.slab_kb : NAN, true);
	json_kv(b, "hold_s", c->idle ? r->idle_hold_s : NAN, true);
	swb_sbuf_puts(b, "}");
}

void bench_report_json(FILE *out, const bench_cfg *c, const bench_results *r)
{
	swb_sbuf b;
	swb_sbuf_init(&b);
	totals t = sum_totals(r);
	swb_sbuf_puts(&b, "{\"tool\":\"swb-bench\"");
	json_ks(&b, "version", SWB_VERSION, true);
	json_ks(&b, "mode", c->idle ? "idle" : "publish", true);
	swb_sbuf_puts(&b, ",\"ok\":");
	swb_sbuf_puts(&b, r->setup_ok && !r->error[0] ? "true" : "false");
	json_ks(&b, "error", r->error, true);
	json_config(&b, c);
	json_setup(&b, r);
	swb_sbuf_puts(&b, ",\"steps\":[");
	for (size_t i = 0; i < r->nsteps; i++) {
		if (i)
			swb_sbuf_puts(&b, ",");
		json_step(&b, r, r->steps[i]);
	}
	swb_sbuf_puts(&b, "]");
	swb_sbuf_puts(&b, r->stopped_early ? ",\"stopped_early\":true" : ",\"stopped_early\":false");
	json_ks(&b, "stop_reason", r->stop_reason, true);
	json_totals(&b, r, &t);
	json_procs_memory(&b, c, r, &t);
	json_kv(&b, "wall_s", round((double)(r->t_end - r->t_start) / 1e7) / 100, true);
	swb_sbuf_puts(&b, "}\n");
	fwrite(b.p, 1, b.len, out);
	swb_sbuf_free(&b);
}

static void human_step(const bench_cfg *c, const bench_results *r, const bench_step_result *s)
{
	const swb_hist *h = &s->rx.lat;
	printf("%9ld %9.0f %9llu %10llu %10llu %7llu %5llu %11.0f %8.2f %8.2f %8.2f %8.2f %8.2f", s->rate,
	       (double)s->pub.attempted / s->seconds, (unsigned long long)s->pub.ok, (unsigned long long)s->expected,
	       (unsigned long long)s->rx.received, (unsigned long long)lost_of(s), (unsigned long long)s->rx.duplicates,
	       (double)s->rx.received / s->seconds, ms(swb_hist_quantile(h, 0.5)), ms(swb_hist_quantile(h, 0.9)),
	       ms(swb_hist_quantile(h, 0.99)), ms(swb_hist_quantile(h, 0.999)), ms(h->max));
	if (r->nprocs)
		printf(" %9.1f %9.2f", s->server_cpu_s / s->active_s * 100,
		       s->rx.received ? s->server_cpu_s * 1e6 / (double)s->rx.received : 0);
	else
		printf(" %9s %9s", "-", "-");
	printf(" %10.1f\n", s->bench_cpu_s / s->active_s * 100);
	if (s->pub.first_error[0])
		printf("          %llu HTTP errors, first: %s\n", (unsigned long long)s->pub.http_errors,
		       s->pub.first_error);
	if (s->pub.unsent)
		printf("          the publisher fell behind: %llu of %.0f publishes not sent: all %ld HTTP "
		       "connections were waiting (publish round trip p50 %.2f ms, p99 %.2f ms)\n",
		       (unsigned long long)s->pub.unsent, (double)s->rate * s->seconds, c->http_conns,
		       ms(swb_hist_quantile(&s->pub.rtt, 0.5)), ms(swb_hist_quantile(&s->pub.rtt, 0.99)));
}

void bench_report_human(const bench_cfg *c, const bench_results *r)
{
	totals t = sum_totals(r);
	double ss = setup_seconds(r);
	printf("swb-bench %s, mode %s: %ld connections over %zu target(s), %ld worker(s), pattern %s, %u channel(s)\n",
	       SWB_VERSION, c->idle ? "idle" : "publish", c->connections, c->ntargets, c->workers, c->pattern_s,
	       c->nchannels);
	printf("setup: %llu subscribed, %llu failed in %.2f s (%.0f/s); handshake p50 %.2f ms, p99 %.2f ms\n",
	       (unsigned long long)r->setup.subscribed, (unsigned long long)r->setup.failed, ss,
	       ss > 0 ? (double)r->setup.subscribed / ss : 0, ms(swb_hist_quantile(&r->setup.handshake, 0.5)),
	       ms(swb_hist_quantile(&r->setup.handshake, 0.99)));
	if (r->setup.first_error[0])
		printf("  first setup error: %s\n", r->setup.first_error);
	if (r->nsteps) {
		printf("\n%9s %9s %9s %10s %10s %7s %5s %11s %8s %8s %8s %8s %8s %9s %9s %10s\n", "rate/s", "sent/s",
		       "pub ok", "expected", "received", "lost", "dup", "deliv/s", "p50 ms", "p90 ms", "p99 ms",
		       "p99.9", "max ms", "srv cpu%", "srv us/d", "bench cpu%");
		for (size_t i = 0; i < r->nsteps; i++)
			human_step(c, r, r->steps[i]);
		if (r->stopped_early)
			printf("stopped early: %s\n", r->stop_reason);
		printf("\ntotals: %llu expected, %llu received, %llu lost, %llu duplicates, %llu late, %llu HTTP "
		       "errors, "
		       "%llu disconnects\n",
		       (unsigned long long)t.expected, (unsigned long long)t.received, (unsigned long long)t.lost,
		       (unsigned long long)t.dup, (unsigned long long)r->fin.late, (unsigned long long)t.http_errors,
		       (unsigned long long)r->fin.disconnects);
	}
	if (r->fin.first_error[0])
		printf("first connection error: %s\n", r->fin.first_error);
	if (r->nprocs) {
		printf("\n%8s %-14s %9s %12s %12s %12s\n", "pid", "process", "cpu s", "rss start kB", "rss kB",
		       "peak kB");
		for (int i = 0; i < r->nprocs; i++)
			printf("%8d %-14s %9.2f %12ld %12ld %12ld%s\n", r->procs[i].pid, r->procs[i].name,
			       r->procs[i].cpu_step - r->procs[i].cpu_start, r->procs[i].rss_start_kb,
			       r->procs[i].rss_kb, r->procs[i].hwm_kb, r->procs[i].gone ? "  (exited)" : "");
		if (c->idle && r->setup.subscribed)
			printf("server RSS per connection: %.2f KiB (%ld kB over %llu connections)\n",
			       (double)(t.rss - t.rss_start) / (double)r->setup.subscribed, t.rss - t.rss_start,
			       (unsigned long long)r->setup.subscribed);
	}
	printf("kernel TCP, whole machine (client and server ends): sockets %ld -> %ld, buffers %ld -> %ld kB, "
	       "socket slabs %ld -> %ld kB%s\n",
	       r->k0.inuse, r->k1.inuse, r->k0.buf_kb, r->k1.buf_kb, r->k0.slab_kb, r->k1.slab_kb,
	       r->k1.slab_kb < 0 ? " (slabinfo not readable)" : "");
	if (r->error[0])
		printf("error: %s\n", r->error);
}
