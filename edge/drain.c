/* drain.c: how an edge ends. A drain (SIGTERM, or DrainCmd from the
 * bridge) stops taking WebSocket connections (with --reuseport its
 * listener closes, so the kernel sends new ones to the other edges on the
 * port; otherwise upgrades get 503 and /readyz says 503), then tells the clients to reconnect elsewhere with
 * pusher:error + close 4200, spread at --drain-rate connections per second
 * so that a rolling restart is not a reconnect storm, and stops once they
 * (and the HTTP API requests waiting for the bridge) are gone or
 * --drain-deadline has passed. A shutdown is the last step of
 * every ending: what is left is closed with 4200, the close frames get a
 * moment, then every handle is closed and the loop ends.
 * Owns swb_edge.drain_timer (its state lives in swb_edge's drain fields);
 * closes the signal, tick and watchdog handles main.c opened. */
#include <stdlib.h>

#include "edge.h"
#include "log.h"
#include "sdnotify.h"
#include "util.h"

uint64_t swb_edge_drain_quota(uint32_t rate, uint64_t elapsed_ms, uint64_t told, uint64_t left)
{
	if (rate == 0)
		return left;
	uint64_t allowed = 1 + elapsed_ms * rate / 1000; /* the first one at once */
	uint64_t q = allowed > told ? allowed - told : 0;
	return q < left ? q : left;
}

void swb_edge_drain_init(swb_edge *e)
{
	uv_timer_init(&e->loop, &e->drain_timer);
	e->drain_timer.data = e;
}

/* Last step: lws closes what is left, handles close, the loop ends. */
static void stop_now(swb_edge *e)
{
	uv_close((uv_handle_t *)&e->tick, NULL);
	uv_close((uv_handle_t *)&e->drain_timer, NULL);
	uv_close((uv_handle_t *)&e->sigint, NULL);
	uv_close((uv_handle_t *)&e->sigterm, NULL);
	uv_close((uv_handle_t *)&e->sighup, NULL);
	if (e->watchdog_on)
		uv_close((uv_handle_t *)&e->watchdog, NULL);
	e->watchdog_on = false;
	swb_edge_wire_stop(e);
	swb_edge_server_stop(e);
	swb_edge_link_stop(e);
	swb_edge_counts_stop(e);
	swb_edge_webhooks_stop(e);
}

static void on_close_grace(uv_timer_t *t) { stop_now(t->data); }

void swb_edge_shutdown(swb_edge *e)
{
	if (e->stopping)
		return;
	e->stopping = true;
	if (!e->draining)
		swb_sd_notify("STOPPING=1");
	uv_timer_stop(&e->drain_timer);
	uv_timer_stop(&e->tick);
	swb_edge_listener_stop(e); /* new connections go to the other edges on the port */
	uint32_t left = 0;
	swb_edge_conn *c, *tmp;
	HASH_ITER(hh, e->by_sid, c, tmp) {
		if (!c->close_code)
			left++;
		swb_edge_conn_close(e, c, 4200, "Server shutting down", true);
	}
	swb_info("shutting down: %u connection(s) open, %u closed now with 4200", e->st.connections, left);
	if (e->st.connections == 0) {
		stop_now(e);
		return;
	}
	e->tick.data = e;
	uv_timer_start(&e->tick, on_close_grace, SWB_EDGE_SHUTDOWN_GRACE_MS, 0);
}

/* Tell up to n connections that have not been told yet to go. */
static uint64_t tell_some(swb_edge *e, uint64_t n)
{
	uint64_t told = 0;
	swb_edge_conn *c, *tmp;
	HASH_ITER(hh, e->by_sid, c, tmp) {
		if (told == n)
			break;
		if (c->close_code)
			continue;
		swb_edge_pusher_goaway(e, c, 4200, "Server draining: reconnect");
		told++;
	}
	return told;
}

static uint64_t untold(const swb_edge *e)
{
	uint64_t n = 0;
	for (const swb_edge_conn *c = e->by_sid; c; c = c->hh.next)
		n += !c->close_code;
	return n;
}

static void on_drain_tick(uv_timer_t *t)
{
	swb_edge *e = t->data;
	uint64_t elapsed = swb_mono_ms() - e->drain_start_ms;
	if (e->st.connections == 0 && swb_edge_http_waiting(e) == 0) {
		swb_info("drained: every connection left within %llu ms (%llu told to reconnect)",
			 (unsigned long long)elapsed, (unsigned long long)e->drain_told);
		swb_edge_shutdown(e);
		return;
	}
	if (elapsed >= e->drain_deadline_ms) {
		swb_warn("drain deadline (%u ms) reached with %u connection(s) and %u API request(s) left",
			 e->drain_deadline_ms, e->st.connections, swb_edge_http_waiting(e));
		swb_edge_shutdown(e);
		return;
	}
	uint64_t left = untold(e);
	if (left)
		e->drain_told += tell_some(e, swb_edge_drain_quota(e->drain_rate, elapsed, e->drain_told, left));
}

void swb_edge_drain_start(swb_edge *e, uint32_t rate, uint32_t deadline_ms, const char *why)
{
	if (e->draining || e->stopping)
		return;
	e->draining = true;
	e->drain_rate = rate;
	e->drain_deadline_ms = deadline_ms;
	e->drain_start_ms = swb_mono_ms();
	e->drain_told = 0;
	swb_sd_notify("STOPPING=1\nSTATUS=draining");
	swb_edge_listener_stop(e); /* --reuseport: the kernel sends new connections to the other edges */
	swb_info("draining (%s): %u connection(s), %u/s%s, deadline %u ms", why, e->st.connections, rate,
		 rate ? "" : " (all at once)", deadline_ms);
	swb_edge_link_stats(e); /* the bridge sees draining=true now */
	on_drain_tick(&e->drain_timer);
	if (!e->stopping)
		uv_timer_start(&e->drain_timer, on_drain_tick, SWB_EDGE_DRAIN_TICK_MS, SWB_EDGE_DRAIN_TICK_MS);
}
