/* metrics.c: the edge's /metrics (Prometheus text, common/metrics.c);
 * the metric table is in docs/operations.md. Counters the edge already
 * keeps in swb_edge_stats are copied in right before each render; HTTP
 * responses by status code and the publish->deliver latency are observed
 * live. Labels: HTTP status code (bounded: at most 16 codes, then
 * "other") and auth failure source. Also: swb_edge_sample(), the
 * subscription and send-queue totals that swbctl's EdgeStats uses too. */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "metrics.h"
#include "util.h"

typedef struct swb_edge_metrics {
	swb_metrics reg;
	swb_metrics_process proc;
	swb_metric *conns, *chans, *subs, *queued, *link, *ready, *draining, *config_gen, *reload_fail;
	swb_metric *conns_total, *msgs_in, *msgs_out, *bytes_in, *bytes_out, *drops, *slow, *bad_frames,
		*bad_deliveries, *link_fail, *publishes, *publish_fail, *auth, *client_events, *client_rejected,
		*pjoins, *pjoin_fail, *wh_sent, *wh_failed, *wh_dropped, *accept_fail, *coalesced,
		*uring_sends, *uring_submits, *partial_sends, *uring_aborts, *resyncs;
	swb_metric *http, *latency, *ipc_restarts, *subs_waiting, *sub_waits;
	swb_metric *hostile[9]; /* issue #6, in the order of hostile_counters() */
} swb_edge_metrics;

/* Issue #6 counters (hostile input, TLS): name, help, value. */
typedef struct hostile_counter {
	const char *name, *help;
	uint64_t v;
} hostile_counter;

static size_t hostile_counters(const swb_edge_stats *st, hostile_counter *c)
{
	const hostile_counter all[] = {
		{ "swb_edge_origin_rejected_total", "WebSocket upgrades refused (4009): Origin not in the app's allowed_origins", st->origin_rejected },
		{ "swb_edge_http_timeouts_total", "HTTP request bodies not complete within --handshake-timeout (408)", st->http_timeouts },
		{ "swb_edge_heads_dropped_total", "Connections gone without a whole request head: slowloris, oversized heads, failed TLS handshakes, probes", st->heads_dropped },
		{ "swb_edge_api_bad_requests_total", "HTTP requests refused with a 4xx other than 401 and 408", st->api_bad_requests },
		{ "swb_edge_subscribe_refused_total", "Subscribes refused: over the per-connection subscription cap", st->subscribe_refused },
		{ "swb_edge_fragment_floods_total", "Connections closed (1008): a message of more than 1024 frames", st->fragment_floods },
		{ "swb_edge_pings_total", "pusher:ping messages answered", st->pings },
		{ "swb_edge_tls_reloads_total", "TLS certificate reloads (SIGHUP) that took effect", st->tls_reloads },
		{ "swb_edge_tls_reload_failures_total", "TLS certificate reloads refused (the previous certificate stays)", st->tls_reload_failures },
	};
	memcpy(c, all, sizeof(all));
	return sizeof(all) / sizeof(all[0]);
}

static swb_metric *counter(swb_edge_metrics *m, const char *n, const char *h)
{
	return swb_metrics_counter(&m->reg, n, h);
}

static swb_metric *gauge(swb_edge_metrics *m, const char *n, const char *h)
{
	return swb_metrics_gauge(&m->reg, n, h);
}

static void register_all(swb_edge_metrics *m)
{
	m->conns = gauge(m, "swb_edge_connections", "Client WebSocket connections now");
	m->chans = gauge(m, "swb_edge_channels", "Channels with at least one local subscriber");
	m->subs = gauge(m, "swb_edge_subscriptions", "Channel subscriptions (connection, channel) now");
	m->subs_waiting = gauge(m, "swb_edge_subscriptions_waiting",
				"Subscriptions not yet told subscription_succeeded: waiting for the bridge to confirm "
				"the channel's Redis SUBSCRIBE");
	m->sub_waits = counter(m, "swb_edge_subscription_waits_total",
			       "Subscriptions that had to wait for the bridge to confirm the channel's Redis SUBSCRIBE");
	m->queued = gauge(m, "swb_edge_send_queue_bytes", "Bytes waiting in the clients' send queues");
	m->link = gauge(m, "swb_edge_bridge_ready", "1 while the link to the bridge is up and welcomed");
	m->ready = gauge(m, "swb_edge_ready", "1 when /readyz says ready: bridge link up, the bridge ready, not draining");
	m->draining = gauge(m, "swb_edge_draining", "1 from the start of a drain (SIGTERM, swbctl drain) until exit");
	m->config_gen = gauge(m, "swb_edge_config_generation", "App table generation: 1 at start, +1 per successful reload");
	m->reload_fail = counter(m, "swb_edge_reload_failures_total", "Reloads (SIGHUP, swbctl reload) that kept the old app table");
	m->conns_total = counter(m, "swb_edge_connections_total", "Client connections accepted");
	m->msgs_in = counter(m, "swb_edge_messages_in_total", "WebSocket messages received from clients");
	m->msgs_out = counter(m, "swb_edge_messages_out_total", "Event frames written to clients");
	m->bytes_in = counter(m, "swb_edge_bytes_in_total", "WebSocket message payload bytes received from clients");
	m->bytes_out = counter(m, "swb_edge_bytes_out_total", "Event frame payload bytes written to clients");
	m->drops = counter(m, "swb_edge_drops_total", "Frames not queued: the connection was closing or over its queue");
	m->slow = counter(m, "swb_edge_slow_disconnects_total", "Clients closed (4100) for not reading: send queue over limit");
	m->bad_frames = counter(m, "swb_edge_bad_frames_total", "Client frames answered with an error");
	m->bad_deliveries = counter(m, "swb_edge_bad_deliveries_total", "Garbage from the bridge, dropped");
	m->link_fail = counter(m, "swb_edge_bridge_send_failures_total", "Messages to the bridge that could not be sent");
	m->publishes = counter(m, "swb_edge_publishes_total", "HTTP API publishes handed to the bridge");
	m->publish_fail = counter(m, "swb_edge_publish_failures_total", "HTTP API publishes that failed");
	m->auth = swb_metrics_add(&m->reg, SWB_METRIC_COUNTER, "swb_edge_auth_failures_total",
				  "Authentication failures: bad channel / sign-in signatures (websocket), HTTP API "
				  "requests answered 401 (http_api)",
				  "source", 2, NULL, 0);
	m->client_events = counter(m, "swb_edge_client_events_total", "Client events accepted");
	m->client_rejected = counter(m, "swb_edge_client_events_rejected_total", "Client events refused");
	m->pjoins = counter(m, "swb_edge_presence_joins_total", "Presence joins sent to the bridge");
	m->pjoin_fail = counter(m, "swb_edge_presence_join_failures_total", "Presence joins refused or failed");
	m->wh_sent = counter(m, "swb_edge_webhooks_sent_total", "Webhook batches delivered");
	m->wh_failed = counter(m, "swb_edge_webhooks_failed_total", "Webhook attempts that failed");
	m->wh_dropped = counter(m, "swb_edge_webhooks_dropped_total", "Webhook events dropped");
	m->accept_fail = counter(m, "swb_edge_accept_failures_total",
				 "--reuseport: accept() out of descriptors/memory, or lws refused the socket");
	m->coalesced = counter(m, "swb_edge_coalesced_sends_total", "send()s that carried several queued frames");
	m->uring_sends = counter(m, "swb_edge_uring_sends_total", "single-frame deliveries sent through io_uring");
	m->uring_submits = counter(m, "swb_edge_uring_submits_total", "io_uring_enter calls that carried them");
	m->partial_sends = counter(m, "swb_edge_uring_partial_sends_total",
				   "io_uring sends the socket took only part of (lws sent the rest)");
	m->uring_aborts = counter(m, "swb_edge_uring_aborts_total",
				  "connections closed because the io_uring ring failed with their send's outcome unknown");
	m->resyncs = counter(m, "swb_edge_interest_resyncs_total",
			     "interest sets re-sent to the bridge because an Interest could not be sent");
	m->http = swb_metrics_add(&m->reg, SWB_METRIC_COUNTER, "swb_edge_http_requests_total",
				  "HTTP requests answered (API, /metrics, /healthz, /readyz), by status code", "code",
				  16, NULL, 0);
	m->ipc_restarts = swb_metrics_add(&m->reg, SWB_METRIC_COUNTER, "swb_ipc_listener_restarts_total",
					  "IPC listeners re-created after they stopped accepting (nng bug #1518), "
					  "by socket (deliver: edge-ID.ipc)", "socket", 1, NULL, 0);
	m->latency = swb_metrics_histogram(&m->reg, "swb_edge_publish_deliver_latency_seconds",
					   "From the origin bridge packing an event (Envelope.origin_time_us, the "
					   "origin host's wall clock) to this edge writing or queueing it to its "
					   "subscribers; once per event per edge",
					   swb_metrics_latency_buckets, swb_metrics_latency_nbuckets);
	hostile_counter hc[9];
	swb_edge_stats none = { 0 };
	size_t n = hostile_counters(&none, hc);
	for (size_t i = 0; i < n; i++)
		m->hostile[i] = counter(m, hc[i].name, hc[i].help);
}

int swb_edge_metrics_init(swb_edge *e)
{
	swb_edge_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	swb_metrics_init(&m->reg);
	register_all(m);
	swb_metrics_process_init(&m->proc, &m->reg);
	e->metrics = m;
	return 0;
}

void swb_edge_metrics_fini(swb_edge *e)
{
	if (!e->metrics)
		return;
	swb_metrics_fini(&e->metrics->reg);
	free(e->metrics);
	e->metrics = NULL;
}

void swb_edge_metrics_http(swb_edge *e, int status)
{
	char code[8];
	if (!e->metrics)
		return;
	snprintf(code, sizeof(code), "%d", status >= 100 && status <= 599 ? status : 0);
	swb_metric_add(e->metrics->http, code, 1);
	if (status == 401)
		e->st.api_auth_failures++;
}

void swb_edge_metrics_latency(swb_edge *e, uint64_t origin_us)
{
	uint64_t now = swb_wall_us();
	if (e->metrics && origin_us && now >= origin_us)
		swb_metric_observe(e->metrics->latency, NULL, (double)(now - origin_us) / 1e6);
}

/* Both kept as running sums (channels.c, conn.c): this runs every second
 * for EdgeStats, and walking every connection instead cost 10 % of the
 * box's CPU with 1,000,000 idle connections over 56 edges. */
void swb_edge_sample(swb_edge *e, swb_edge_sample_t *s)
{
	s->subscriptions = e->chans.members;
	s->queued_bytes = e->queued_bytes;
}

static void update(swb_edge *e, swb_edge_metrics *m)
{
	const swb_edge_stats *st = &e->st;
	swb_edge_sample_t s;
	swb_edge_sample(e, &s);
	swb_metric_set(m->conns, NULL, st->connections);
	swb_metric_set(m->chans, NULL, (double)swb_edge_chans_count(&e->chans));
	swb_metric_set(m->subs, NULL, (double)s.subscriptions);
	swb_metric_set(m->subs_waiting, NULL, (double)e->chans.waiting);
	swb_metric_set(m->sub_waits, NULL, (double)st->subscribe_waits);
	swb_metric_set(m->queued, NULL, (double)s.queued_bytes);
	swb_metric_set(m->link, NULL, swb_edge_link_ready(e));
	bool draining = e->draining || e->stopping;
	swb_metric_set(m->ready, NULL, swb_edge_link_ready(e) && swb_edge_link_bridge_ready(e, NULL) && !draining);
	swb_metric_set(m->draining, NULL, draining);
	swb_metric_set(m->config_gen, NULL, e->config_generation);
	swb_metric_set(m->reload_fail, NULL, (double)st->reload_failures);
#define SET(f, v) swb_metric_set(m->f, NULL, (double)(v))
	SET(conns_total, st->connections_total);
	SET(msgs_in, st->messages_in);
	SET(msgs_out, st->messages_out);
	SET(bytes_in, st->bytes_in);
	SET(bytes_out, st->bytes_out);
	SET(drops, st->drops);
	SET(slow, st->slow_disconnects);
	SET(bad_frames, st->bad_frames);
	SET(bad_deliveries, st->bad_deliveries);
	SET(link_fail, st->link_send_fail);
	SET(publishes, st->publishes);
	SET(publish_fail, st->publish_fail);
	SET(client_events, st->client_events);
	SET(client_rejected, st->client_events_rejected);
	SET(pjoins, st->presence_joins);
	SET(pjoin_fail, st->presence_join_fail);
	SET(wh_sent, st->webhooks_sent);
	SET(wh_failed, st->webhooks_failed);
	SET(wh_dropped, st->webhooks_dropped);
	SET(accept_fail, st->accept_failures);
	SET(coalesced, st->coalesced_sends);
	SET(uring_sends, st->uring_sends);
	SET(uring_submits, st->uring_submits);
	SET(partial_sends, st->partial_sends);
	SET(uring_aborts, st->uring_aborts);
	SET(resyncs, st->interest_resyncs);
#undef SET
	swb_metric_set(m->auth, "websocket", (double)st->auth_failures);
	swb_metric_set(m->auth, "http_api", (double)st->api_auth_failures);
	hostile_counter hc[9];
	size_t n = hostile_counters(st, hc);
	for (size_t i = 0; i < n; i++)
		swb_metric_set(m->hostile[i], NULL, (double)hc[i].v);
	swb_metric_set(m->ipc_restarts, "deliver", (double)swb_edge_link_listener_restarts(e));
	swb_metrics_process_update(&m->proc);
}

void swb_edge_metrics_render(swb_edge *e, swb_sbuf *out)
{
	if (!e->metrics)
		return;
	update(e, e->metrics);
	swb_metrics_render(&e->metrics->reg, out);
}
