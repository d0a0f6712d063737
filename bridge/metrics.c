/* metrics.c: the bridge's metrics (docs/operations.md has the table).
 * Counters the bridge already keeps (swb_bridge_counters, health) are
 * copied into the registry right before each render; the Redis round-trip
 * histogram is observed live. Labels are bounded: connection role, publish
 * result, webhook result, bad-input source, and edge id (at most EDGE_SERIES_MAX edges, the
 * family re-filled per scrape). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "ipc_watchdog.h"
#include "metrics.h"
#include "util.h"

#define EDGE_SERIES_MAX 64

typedef struct swb_bridge_metrics {
	swb_metrics reg;
	swb_metrics_process proc;
	swb_metric *ready, *edges, *redis_up, *subscribed, *inflight, *outq_msgs, *outq_bytes, *edge_outq;
	swb_metric *host_conns, *host_subs, *host_chans;
	swb_metric *reconnects, *probe_fail, *probe_sent, *probe_recv, *unready, *rebuilds, *probe_rtt;
	swb_metric *msgs_in, *bytes_in, *msgs_out, *bytes_out, *publishes, *pub_bytes, *drops, *bad, *ctl;
	swb_metric *other[16];
	swb_metric *rtt;
	swb_metric *ipc_restarts;
	swb_metric *wh_events;
} swb_bridge_metrics;

/* The other swb_bridge_counters, one counter each. */
static const struct {
	const char *name, *help;
	size_t off;
} mirrored[] = {
#define M(f, n, h) { "swb_bridge_" n "_total", h, offsetof(swb_bridge_counters, f) }
	M(state_refused, "state_refused", "Presence joins / channel counts refused (limits, bad names, memory)"),
	M(presence_joins, "presence_joins", "Presence joins handled"),
	M(presence_refused, "presence_refused", "Presence joins answered ok=false"),
	M(occ_sets, "occupancy_updates", "occ_set scripts run"),
	M(queries, "queries", "HTTP API queries and cache reads answered"),
	M(webhooks, "webhooks", "Webhook events handed to an edge"),
	M(webhooks_dropped, "webhooks_dropped", "Webhook events with no live edge serving the app (see swb_bridge_webhook_events_total)"),
	M(swept, "swept", "Transitions found by this bridge's sweeps of dead hosts"),
	M(reconciled, "reconciled", "Stale Redis entries of this host removed"),
	M(terminates, "terminates", "terminate_connections commands forwarded"),
	M(script_errors, "script_errors", "Script replies refused (error or bad shape)"),
	M(redis_no_interest, "redis_no_interest", "Redis messages for a channel no edge wants"),
#undef M
};
#define NMIRRORED (sizeof(mirrored) / sizeof(mirrored[0]))

static swb_metric *counter(swb_metrics *r, const char *n, const char *h) { return swb_metrics_counter(r, n, h); }
static swb_metric *gauge(swb_metrics *r, const char *n, const char *h) { return swb_metrics_gauge(r, n, h); }
static swb_metric *labelled(swb_metrics *r, int type, const char *n, const char *h, const char *label, size_t max)
{
	return swb_metrics_add(r, (enum swb_metric_type)type, n, h, label, max, NULL, 0);
}

static void register_gauges(swb_bridge_metrics *m)
{
	swb_metrics *r = &m->reg;
	m->ready = gauge(r, "swb_bridge_ready", "1 when Redis is connected and the pub/sub probe comes back");
	m->edges = gauge(r, "swb_bridge_edges", "Edges connected to this bridge");
	m->redis_up = labelled(r, SWB_METRIC_GAUGE, "swb_bridge_redis_connected",
			       "1 while the Redis connection (cmd or sub) is up", "conn", 2);
	m->subscribed = gauge(r, "swb_bridge_subscribed_channels", "Redis channels SUBSCRIBEd for local edges");
	m->inflight = gauge(r, "swb_bridge_inflight_publishes", "PUBLISH commands awaiting their reply");
	m->outq_msgs = gauge(r, "swb_bridge_outq_messages", "Messages queued in the bridge for edges (all edges)");
	m->outq_bytes = gauge(r, "swb_bridge_outq_bytes", "Bytes queued in the bridge for edges (all edges)");
	m->edge_outq = labelled(r, SWB_METRIC_GAUGE, "swb_bridge_edge_outq_messages",
				"Messages queued in the bridge per edge (at most 64 edges, then other)", "edge",
				EDGE_SERIES_MAX);
	m->host_conns = gauge(r, "swb_host_connections", "Client connections on this host's edges (last EdgeStats)");
	m->host_subs = gauge(r, "swb_host_subscriptions", "Channel subscriptions on this host's edges");
	m->host_chans = gauge(r, "swb_host_channels", "Occupied channels on this host");
}

static void register_counters(swb_bridge_metrics *m)
{
	swb_metrics *r = &m->reg;
	m->reconnects = counter(r, "swb_bridge_redis_reconnects_total", "Times both Redis connections were back up after a loss");
	m->probe_sent = counter(r, "swb_bridge_probes_sent_total", "Pub/sub probes published");
	m->probe_recv = counter(r, "swb_bridge_probes_received_total", "Pub/sub probes received back");
	m->probe_fail = counter(r, "swb_bridge_probe_failures_total",
				"Pub/sub probes that did not come back in time (or reached no subscriber)");
	m->rebuilds = counter(r, "swb_bridge_redis_rebuilds_total", "Redis connections closed and rebuilt after a failed probe");
	m->unready = counter(r, "swb_bridge_unready_total", "Times the bridge went from ready to not ready");
	m->probe_rtt = gauge(r, "swb_bridge_probe_rtt_seconds", "Round trip of the last pub/sub probe");
	m->msgs_in = counter(r, "swb_bridge_messages_in_total", "Messages received on the Redis subscribe connection");
	m->bytes_in = counter(r, "swb_bridge_bytes_in_total", "Payload bytes received on the Redis subscribe connection");
	m->msgs_out = counter(r, "swb_bridge_messages_out_total", "Deliveries sent to edges (one per edge per message)");
	m->bytes_out = counter(r, "swb_bridge_bytes_out_total", "Payload bytes of the deliveries sent to edges");
	m->publishes = labelled(r, SWB_METRIC_COUNTER, "swb_bridge_publishes_total",
				"Envelopes published, by result (ok, failed, overload)", "result", 3);
	m->pub_bytes = counter(r, "swb_bridge_published_bytes_total", "Envelope bytes PUBLISHed on Redis");
	m->drops = counter(r, "swb_bridge_drops_total", "Messages to edges dropped: the edge's queue in the bridge was full");
	m->bad = labelled(r, SWB_METRIC_COUNTER, "swb_bridge_bad_input_total",
			  "Bad input dropped, by source (edge_msg, edge_name, edge_unknown, edge_unsupported, "
			  "redis_reply, redis_payload, control)",
			  "source", 7);
	m->ctl = counter(r, "swb_bridge_control_requests_total", "Control socket requests");
	m->wh_events = labelled(r, SWB_METRIC_COUNTER, "swb_bridge_webhook_events_total",
				"Cluster events due a webhook, by result (sent: to an edge; skipped: no edge of this host "
				"has a webhook for the app and event type, no message; dropped: no live edge serves the app)",
				"result", 3);
	m->ipc_restarts = labelled(r, SWB_METRIC_COUNTER, "swb_ipc_listener_restarts_total",
				   "IPC listeners re-created after they stopped accepting (nng bug #1518), "
				   "by socket (bridge, control)", "socket", 2);
	for (size_t i = 0; i < NMIRRORED; i++)
		m->other[i] = counter(r, mirrored[i].name, mirrored[i].help);
	m->rtt = swb_metrics_histogram(r, "swb_bridge_redis_rtt_seconds",
				       "Redis command round trip: PUBLISH and script calls, from queuing to reply",
				       swb_metrics_latency_buckets, swb_metrics_latency_nbuckets);
}

int swb_bridge_metrics_init(swb_bridge *b)
{
	swb_bridge_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	swb_metrics_init(&m->reg);
	register_gauges(m);
	register_counters(m);
	swb_metrics_process_init(&m->proc, &m->reg);
	b->metrics = m;
	return 0;
}

void swb_bridge_metrics_fini(swb_bridge *b)
{
	if (!b->metrics)
		return;
	swb_metrics_fini(&b->metrics->reg);
	free(b->metrics);
	b->metrics = NULL;
}

void swb_bridge_metrics_redis_rtt(swb_bridge *b, uint64_t sent_us)
{
	if (b->metrics && sent_us)
		swb_metric_observe(b->metrics->rtt, NULL, (double)(swb_mono_us() - sent_us) / 1e6);
}

static void update_gauges(swb_bridge *b, swb_bridge_metrics *m)
{
	double conns = 0, subs = 0, qm = 0, qb = 0;
	swb_metric_set(m->ready, NULL, swb_bridge_ready(b, NULL));
	swb_metric_set(m->edges, NULL, (double)swb_bridge_edges_count(b));
	swb_metric_set(m->redis_up, "cmd", b->cmd.state == SWB_RCONN_UP);
	swb_metric_set(m->redis_up, "sub", b->sub.state == SWB_RCONN_UP);
	swb_metric_set(m->subscribed, NULL, (double)swb_bridge_redis_subscribed(b));
	swb_metric_set(m->inflight, NULL, (double)b->inflight);
	swb_metric_clear(m->edge_outq);
	for (swb_bridge_edge *e = b->edges; e; e = e->hh.next) {
		conns += e->connections;
		subs += e->subscriptions;
		qm += (double)e->out_len;
		qb += (double)e->out_bytes;
		swb_metric_add(m->edge_outq, e->edge_id, (double)e->out_len);
	}
	swb_metric_set(m->outq_msgs, NULL, qm);
	swb_metric_set(m->outq_bytes, NULL, qb);
	swb_metric_set(m->host_conns, NULL, conns);
	swb_metric_set(m->host_subs, NULL, subs);
	swb_metric_set(m->host_chans, NULL, (double)b->state.nocc);
}

static void update_counters(swb_bridge *b, swb_bridge_metrics *m)
{
	const swb_bridge_counters *c = &b->cnt;
	const swb_bridge_health *h = &b->health;
	swb_metric_set(m->reconnects, NULL, (double)b->reconnects);
	swb_metric_set(m->probe_sent, NULL, (double)h->sent);
	swb_metric_set(m->probe_recv, NULL, (double)h->received);
	swb_metric_set(m->probe_fail, NULL, (double)h->failures);
	swb_metric_set(m->rebuilds, NULL, (double)h->rebuilds);
	swb_metric_set(m->unready, NULL, (double)h->unready);
	swb_metric_set(m->probe_rtt, NULL, (double)h->last_rtt_us / 1e6);
	swb_metric_set(m->msgs_in, NULL, (double)c->redis_msgs_in);
	swb_metric_set(m->bytes_in, NULL, (double)c->redis_bytes_in);
	swb_metric_set(m->msgs_out, NULL, (double)c->delivered);
	swb_metric_set(m->bytes_out, NULL, (double)c->delivered_bytes);
	swb_metric_set(m->publishes, "ok", (double)c->publish_ok);
	swb_metric_set(m->publishes, "failed", (double)c->publish_failed);
	swb_metric_set(m->publishes, "overload", (double)c->publish_overload);
	swb_metric_set(m->pub_bytes, NULL, (double)c->published_bytes);
	swb_metric_set(m->drops, NULL, (double)c->edge_send_drops);
	swb_metric_set(m->bad, "edge_msg", (double)c->edge_bad_msg);
	swb_metric_set(m->bad, "edge_name", (double)c->edge_bad_name);
	swb_metric_set(m->bad, "edge_unknown", (double)c->edge_unknown);
	swb_metric_set(m->bad, "edge_unsupported", (double)c->edge_unsupported);
	swb_metric_set(m->bad, "redis_reply", (double)c->redis_bad_reply);
	swb_metric_set(m->bad, "redis_payload", (double)c->redis_bad_payload);
	swb_metric_set(m->bad, "control", (double)c->control_bad);
	swb_metric_set(m->ctl, NULL, (double)c->control_requests);
	swb_metric_set(m->wh_events, "sent", (double)c->webhooks);
	swb_metric_set(m->wh_events, "skipped", (double)c->webhooks_skipped);
	swb_metric_set(m->wh_events, "dropped", (double)c->webhooks_dropped);
	swb_metric_set(m->ipc_restarts, "bridge", (double)swb_ipcwd_restarts(b->edge_wd));
	swb_metric_set(m->ipc_restarts, "control", (double)swb_ipcwd_restarts(b->ctl_wd));
	for (size_t i = 0; i < NMIRRORED; i++)
		swb_metric_set(m->other[i], NULL, (double)*(const uint64_t *)((const char *)c + mirrored[i].off));
}

char *swb_bridge_metrics_render(swb_bridge *b, size_t *len)
{
	swb_bridge_metrics *m = b->metrics;
	if (!m)
		return NULL;
	update_gauges(b, m);
	update_counters(b, m);
	swb_metrics_process_update(&m->proc);
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_metrics_render(&m->reg, &s);
	if (s.oom || !s.p) {
		swb_sbuf_free(&s);
		return NULL;
	}
	*len = s.len;
	return s.p; /* the caller frees it */
}
