/* edges.c: the NNG endpoint for local edges (pair1 polyamorous on
 * ipc://DIR/bridge.ipc; edge -> bridge only) and the edge registry.
 *
 * Owns the socket, its receive poll, the pipe-removal queue (filled on NNG
 * threads, drained on the loop through pipe_async) and every
 * swb_bridge_edge. An edge exists from its Hello until its pipe goes away;
 * its Hello names the edge's deliver_url, which outq.c dials with a push0
 * socket of its own (every message to the edge goes there). Messages from
 * a pipe that has not sent Hello are counted and dropped (edges always
 * send Hello first on a new pipe). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

#include <nng/protocol/pair1/pair.h>
#include "ipc.h"
#include "ipc_watchdog.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define EDGE_QUEUE_LEN 4096
#define EDGE_RECV_MAX (4 * 1024 * 1024)
#define EDGE_APPS_MAX 10000

static nng_pipe pipe_of(uint32_t id)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;
	p.id = id;
	return p;
}

nng_msg *swb_bridge_pack(const Swb__BridgeMsg *bm)
{
	nng_msg *m;
	size_t n = swb__bridge_msg__get_packed_size(bm);
	if (nng_msg_alloc(&m, n) != 0)
		return NULL;
	swb__bridge_msg__pack(bm, nng_msg_body(m));
	return m;
}

swb_bridge_edge *swb_bridge_edge_find(swb_bridge *b, uint32_t id)
{
	swb_bridge_edge *e = NULL;
	HASH_FIND(hh, b->edges, &id, sizeof(id), e);
	return e;
}

#define edge_find swb_bridge_edge_find

/* Only registered edges get messages; anything else (e.g. an ack for an
 * edge that has just gone) is dropped. */
void swb_bridge_edges_send(swb_bridge *b, uint32_t pipe_id, nng_msg *m)
{
	swb_bridge_edge *e = edge_find(b, pipe_id);
	if (e)
		swb_bridge_outq_send(b, e, m);
	else
		nng_msg_free(m);
}

size_t swb_bridge_edges_count(const swb_bridge *b)
{
	return HASH_COUNT(b->edges);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void send_welcome(swb_bridge *b, uint32_t pipe_id)
{
	Swb__Welcome w = SWB__WELCOME__INIT;
	w.host_id = (char *)b->host_id;
	w.proto_version = SWB_PROTO_VERSION;
	w.sync_chunks = true;
	Swb__BridgeMsg bm = SWB__BRIDGE_MSG__INIT;
	bm.body_case = SWB__BRIDGE_MSG__BODY_WELCOME;
	bm.welcome = &w;
	nng_msg *m = swb_bridge_pack(&bm);
	if (m)
		swb_bridge_edges_send(b, pipe_id, m);
}

static void free_app_ids(swb_bridge_edge *e)
{
	for (size_t i = 0; i < e->n_app_ids; i++)
		free(e->app_ids[i]);
	free(e->app_ids);
	e->app_ids = NULL;
	e->n_app_ids = 0;
}

/* Keep the valid app ids of Hello (at most EDGE_APPS_MAX). */
static void set_app_ids(swb_bridge_edge *e, const Swb__Hello *h)
{
	free_app_ids(e);
	size_t n = h->n_app_ids < EDGE_APPS_MAX ? h->n_app_ids : EDGE_APPS_MAX;
	if (!n || !(e->app_ids = calloc(n, sizeof(char *))))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *a = h->app_ids[i];
		if (a && swb_app_token_valid(a, strlen(a)) && (e->app_ids[e->n_app_ids] = strdup(a)))
			e->n_app_ids++;
	}
}

/* The edge's pull0 listener: an ipc:// path (edges reach bridge.ipc, a
 * 0600 file, so they run as this user: the path is theirs to choose). */
static bool deliver_url_ok(const char *url)
{
	return url && strncmp(url, "ipc://", 6) == 0 && url[6] && strlen(url) < 512;
}

static void on_hello(swb_bridge *b, uint32_t id, const Swb__Hello *h)
{
	nng_sockaddr sa;
	if (nng_pipe_get_addr(pipe_of(id), NNG_OPT_REMADDR, &sa) != 0)
		return; /* the pipe is already gone: do not register a ghost */
	if (!deliver_url_ok(h->deliver_url)) {
		b->cnt.edge_bad_msg++;
		swb_bridge_ratelog_emit(&b->rl_edge, SWB_LOG_WARN, "edge %s sent no usable deliver_url (%s): ignored",
					h->edge_id ? h->edge_id : "?", h->deliver_url ? h->deliver_url : "");
		return;
	}
	swb_bridge_edge *e = edge_find(b, id);
	bool known = e != NULL;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			swb_err("out of memory registering an edge");
			return;
		}
		e->pipe_id = id;
		e->connected_ms = swb_mono_ms();
		HASH_ADD(hh, b->edges, pipe_id, sizeof(e->pipe_id), e);
	}
	e->pid = h->pid;
	e->proto_version = h->proto_version;
	copy_str(e->edge_id, sizeof(e->edge_id), h->edge_id);
	copy_str(e->listen, sizeof(e->listen), h->listen);
	set_app_ids(e, h);
	swb_bridge_webhooks_hello(b, e, h);
	char hooks_desc[24] = "unreported";
	if (e->hooks_reported)
		snprintf(hooks_desc, sizeof(hooks_desc), "%zu", e->n_hooks);
	if (!e->push_open)
		swb_bridge_outq_open(b, e, h->deliver_url); /* failed: its messages are dropped, counted */
	swb_info("edge %s: id=%s pid=%u listen=%s proto=%u pipe=%u deliver=%s apps=%zu webhook_apps=%s",
		 known ? "re-announced (reload)" : "connected", e->edge_id, e->pid, e->listen, e->proto_version, id,
		 h->deliver_url, e->n_app_ids, hooks_desc);
	if (h->proto_version != SWB_PROTO_VERSION)
		swb_warn("edge %s speaks protocol %u, bridge speaks %u", e->edge_id, h->proto_version,
			 SWB_PROTO_VERSION);
	send_welcome(b, id);
	swb_bridge_health_send(b, id);
	swb_bridge_cluster_edge_up(b);
}

/* Validate (app, channel) and build the Redis channel name into out. */
static int interest_name(swb_bridge *b, const char *app, const char *chan, char *out)
{
	if (!app || !chan || !swb_app_token_valid(app, strlen(app)) ||
	    !swb_channel_name_valid(chan, strlen(chan))) {
		b->cnt.edge_bad_name++;
		swb_bridge_ratelog_emit(&b->rl_edge, SWB_LOG_WARN, "edge sent an invalid app id or channel name");
		return -1;
	}
	return swb_bridge_chan_name(out, b->prefix, app, strlen(app), chan, strlen(chan));
}

static void on_interest(swb_bridge *b, uint32_t id, const Swb__Interest *in)
{
	char name[SWB_BRIDGE_CHAN_NAME_MAX + 1];
	int n = interest_name(b, in->app_id, in->channel, name);
	if (n < 0)
		return;
	if (!in->add) {
		if (!swb_bridge_hold_defer_remove(b, id, name, (size_t)n))
			swb_bridge_interest_remove(&b->interest, name, (size_t)n, id);
	} else if (swb_bridge_interest_add(&b->interest, name, (size_t)n, id, in->seq) < 0) {
		swb_err("out of memory adding interest in %s", name);
	} else {
		swb_bridge_ready_added(b, id, name, (size_t)n);
	}
}

/* InterestSync: replaces the edge's set, at once or (more=true chunks)
 * at the last chunk. Sent on every new pipe and again on a live link
 * when the edge could not send an Interest (edge/interest_resync.c). */
static void on_sync(swb_bridge *b, swb_bridge_edge *e, uint32_t id, const Swb__InterestSync *s)
{
	uint32_t gen = s->continued && e->sync_gen ? e->sync_gen : swb_bridge_interest_sync_begin(&b->interest);
	for (size_t i = 0; i < s->n_channels; i++) {
		const Swb__Interest *in = s->channels[i];
		char name[SWB_BRIDGE_CHAN_NAME_MAX + 1];
		int n = interest_name(b, in->app_id, in->channel, name);
		if (n < 0 || !in->add)
			continue;
		if (swb_bridge_interest_sync_add(&b->interest, name, (size_t)n, id, gen, in->seq) < 0)
			swb_err("out of memory adding interest in %s", name);
		else
			swb_bridge_ready_added(b, id, name, (size_t)n);
	}
	e->sync_gen = s->more ? gen : 0;
	if (s->more)
		return;
	swb_bridge_hold_sync_keep(b, id, gen);
	swb_bridge_interest_sync_end(&b->interest, id, gen);
	swb_debug("edge pipe %u synced (last chunk: %zu channels)", id, s->n_channels);
}

/* EdgeStats.app_connections: connections per app (swbctl connections).
 * Invalid app ids are dropped and counted; at most EDGE_APPS_MAX. */
static void set_all_apps(swb_bridge *b, swb_bridge_edge *e, const Swb__EdgeStats *s)
{
	size_t n = s->n_app_connections < EDGE_APPS_MAX ? s->n_app_connections : EDGE_APPS_MAX, k = 0;
	swb_bridge_appcount *v = n ? calloc(n, sizeof(*v)) : NULL;
	for (size_t i = 0; v && i < n; i++) {
		const Swb__AppCount *c = s->app_connections[i];
		if (!c || !c->app_id || !swb_app_token_valid(c->app_id, strlen(c->app_id))) {
			b->cnt.edge_bad_name++;
			continue;
		}
		snprintf(v[k].app, sizeof(v[k].app), "%s", c->app_id);
		v[k++].n = c->connections;
	}
	free(e->all_apps);
	e->all_apps = v;
	e->n_all_apps = k;
}

static void on_stats(swb_bridge *b, swb_bridge_edge *e, const Swb__EdgeStats *s)
{
	swb_bridge_quota_edge_stats(b, e, s);
	e->connections = s->connections;
	e->channels = s->channels;
	e->messages_in = s->messages_in;
	e->messages_out = s->messages_out;
	e->slow_disconnects = s->slow_disconnects;
	e->uptime_ms = s->uptime_ms;
	e->bytes_in = s->bytes_in;
	e->bytes_out = s->bytes_out;
	e->queued_bytes = s->queued_bytes;
	e->subscriptions = s->subscriptions;
	e->auth_failures = s->auth_failures;
	e->drops = s->drops;
	e->draining = s->draining;
	e->config_generation = s->config_generation;
	copy_str(e->reload_error, sizeof(e->reload_error), s->reload_error);
	if (s->pid)
		e->pid = s->pid;
	set_all_apps(b, e, s);
}

static void dispatch(swb_bridge *b, uint32_t id, Swb__EdgeMsg *em)
{
	if (em->body_case == SWB__EDGE_MSG__BODY_HELLO) {
		on_hello(b, id, em->hello);
		return;
	}
	swb_bridge_edge *e = edge_find(b, id);
	if (!e) {
		b->cnt.edge_unknown++;
		swb_bridge_ratelog_emit(&b->rl_edge, SWB_LOG_WARN, "message from pipe %u before its Hello: dropped",
				   id);
		return;
	}
	switch (em->body_case) {
	case SWB__EDGE_MSG__BODY_INTEREST:
		on_interest(b, id, em->interest);
		break;
	case SWB__EDGE_MSG__BODY_SYNC:
		on_sync(b, e, id, em->sync);
		break;
	case SWB__EDGE_MSG__BODY_PUBLISH:
		swb_bridge_publish(b, id, em->publish);
		break;
	case SWB__EDGE_MSG__BODY_STATS:
		on_stats(b, e, em->stats);
		break;
	case SWB__EDGE_MSG__BODY_COUNTS:
		swb_bridge_occ_counts(b, id, em->counts);
		break;
	case SWB__EDGE_MSG__BODY_PRESENCE_JOIN:
		swb_bridge_presence_join(b, id, em->presence_join);
		break;
	case SWB__EDGE_MSG__BODY_PRESENCE_LEAVE:
		swb_bridge_presence_leave(b, id, em->presence_leave);
		break;
	case SWB__EDGE_MSG__BODY_QUERY:
		swb_bridge_query(b, id, em->query);
		break;
	case SWB__EDGE_MSG__BODY_CACHE_GET:
		swb_bridge_cache_get(b, id, em->cache_get);
		break;
	case SWB__EDGE_MSG__BODY_TERMINATE:
		swb_bridge_terminate(b, em->terminate);
		break;
	default: /* a body this bridge does not handle (yet) */
		b->cnt.edge_unsupported++;
		swb_bridge_ratelog_emit(&b->rl_edge, SWB_LOG_WARN, "edge %s sent an unsupported message (body %d)",
					e->edge_id, (int)em->body_case);
		break;
	}
}

void swb_bridge_edges_handle(swb_bridge *b, uint32_t id, const uint8_t *p, size_t n)
{
	Swb__EdgeMsg *em = swb__edge_msg__unpack(NULL, n, p);
	if (!em || em->body_case == SWB__EDGE_MSG__BODY__NOT_SET) {
		b->cnt.edge_bad_msg++;
		swb_bridge_ratelog_emit(&b->rl_edge, SWB_LOG_WARN, "undecodable message from edge pipe %u (%zu bytes)",
				   id, n);
	} else {
		dispatch(b, id, em);
	}
	if (em)
		swb__edge_msg__free_unpacked(em, NULL);
}

static void on_edge_readable(uv_poll_t *h, int status, int events)
{
	swb_bridge *b = h->data;
	for (;;) {
		nng_msg *m;
		int rv = swb_nng_io_recv(&b->edge_io, b->edge_sock, &m);
		if (rv == NNG_EAGAIN || rv == NNG_ECLOSED)
			return;
		if (rv != 0) {
			swb_bridge_ratelog_emit(&b->rl_edge, SWB_LOG_WARN, "edge receive failed: %s", nng_strerror(rv));
			return;
		}
		swb_bridge_edges_handle(b, nng_pipe_id(nng_msg_get_pipe(m)), nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
	}
}

static void edge_gone(swb_bridge *b, uint32_t id)
{
	swb_bridge_edge *e = edge_find(b, id);
	if (!e) {
		swb_debug("pipe %u closed before Hello", id);
		return;
	}
	size_t n = swb_bridge_interest_edge_count(&b->interest, id);
	swb_bridge_interest_remove_edge(&b->interest, id);
	swb_info("edge disconnected: id=%s pid=%u (%zu channel interests dropped)", e->edge_id, e->pid, n);
	HASH_DEL(b->edges, e);
	/* after HASH_DEL: its webhooks go to another edge */
	swb_bridge_cluster_edge_gone(b, id);
	swb_bridge_park_edge_gone(b, id);
	swb_bridge_hold_edge_gone(b, id);
	swb_bridge_outq_clear(e);
	free_app_ids(e);
	swb_bridge_webhooks_free(e);
	free(e->apps);
	free(e->all_apps);
	free(e);
}

static void on_pipes_gone(uv_async_t *h)
{
	swb_bridge *b = h->data;
	pthread_mutex_lock(&b->pipe_mu);
	uint32_t *ids = b->gone_pipes;
	size_t n = b->ngone;
	b->gone_pipes = NULL;
	b->ngone = b->gone_cap = 0;
	pthread_mutex_unlock(&b->pipe_mu);
	for (size_t i = 0; i < n; i++)
		edge_gone(b, ids[i]);
	free(ids);
}

/* NNG thread: queue the pipe id for the loop. Touches nothing else. */
static void on_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	swb_bridge *b = arg;
	pthread_mutex_lock(&b->pipe_mu);
	if (!b->pipes_closing) {
		if (b->ngone == b->gone_cap) {
			size_t cap = b->gone_cap ? b->gone_cap * 2 : 16;
			uint32_t *ids = realloc(b->gone_pipes, cap * sizeof(*ids));
			if (ids) {
				b->gone_pipes = ids;
				b->gone_cap = cap;
			}
		}
		if (b->ngone < b->gone_cap)
			b->gone_pipes[b->ngone++] = nng_pipe_id(p);
		uv_async_send(&b->pipe_async);
	}
	pthread_mutex_unlock(&b->pipe_mu);
}

static int open_socket(swb_bridge *b)
{
	int rv;
	nng_listener l;
	if ((rv = nng_pair1_open_poly(&b->edge_sock)) != 0) {
		swb_err("cannot open the edge socket: %s", nng_strerror(rv));
		return -1;
	}
	b->edge_open = true;
	nng_socket_set_int(b->edge_sock, NNG_OPT_SENDBUF, EDGE_QUEUE_LEN);
	nng_socket_set_int(b->edge_sock, NNG_OPT_RECVBUF, EDGE_QUEUE_LEN);
	nng_socket_set_size(b->edge_sock, NNG_OPT_RECVMAXSZ, EDGE_RECV_MAX);
	if ((rv = nng_pipe_notify(b->edge_sock, NNG_PIPE_EV_REM_POST, on_pipe_event, b)) != 0) {
		swb_err("cannot watch the edge socket's pipes: %s", nng_strerror(rv));
		return -1;
	}
	/* The watchdog's own check pipes never say Hello: edge_gone() ignores them. */
	swb_ipcwd_cfg wc = { "bridge", b->bridge_path, 0600, -1, b->ipc_check_ms };
	if (swb_ipcwd_listen(b->edge_sock, &wc, &l) < 0)
		return -1;
	b->edge_wd = swb_ipcwd_start(b->loop, b->edge_sock, l, &wc);
	return 0;
}

int swb_bridge_edges_init(swb_bridge *b)
{
	int fd, rv;
	char url[sizeof(b->bridge_path)];
	snprintf(url, sizeof(url), "ipc://%s/bridge.ipc", b->runtime_dir);
	if (swb_bridge_ipc_claim(url + 6) < 0)
		return -1;
	memcpy(b->bridge_path, url, sizeof(url)); /* ours from now on: fini unlinks it */
	pthread_mutex_init(&b->pipe_mu, NULL);
	swb_bridge_outq_init(b);
	uv_async_init(b->loop, &b->pipe_async, on_pipes_gone);
	b->pipe_async.data = b;
	if (open_socket(b) < 0)
		return -1;
	if ((rv = nng_socket_get_int(b->edge_sock, NNG_OPT_RECVFD, &fd)) != 0) {
		swb_err("cannot get the edge socket's receive fd: %s", nng_strerror(rv));
		return -1;
	}
	uv_poll_init(b->loop, &b->edge_poll, fd);
	b->edge_poll.data = b;
	uv_poll_start(&b->edge_poll, UV_READABLE, on_edge_readable);
	swb_info("listening for edges on %s", b->bridge_path);
	return 0;
}

static void free_edges(swb_bridge *b)
{
	swb_bridge_edge *e, *tmp;
	HASH_ITER(hh, b->edges, e, tmp) {
		HASH_DEL(b->edges, e);
		swb_bridge_outq_clear(e);
		free_app_ids(e);
		swb_bridge_webhooks_free(e);
		free(e->apps);
		free(e->all_apps);
		free(e);
	}
}

/* Close the socket and the loop handles (uv_close: run the loop after). */
void swb_bridge_edges_fini(swb_bridge *b)
{
	if (uv_is_active((uv_handle_t *)&b->edge_poll) || b->edge_poll.data)
		uv_close((uv_handle_t *)&b->edge_poll, NULL);
	pthread_mutex_lock(&b->pipe_mu);
	b->pipes_closing = true;
	pthread_mutex_unlock(&b->pipe_mu);
	swb_ipcwd_stop(b->edge_wd);
	b->edge_wd = NULL;
	if (b->edge_open) {
		nng_close(b->edge_sock);
		swb_nng_io_fini(&b->edge_io);
		b->edge_open = false;
	}
	if (b->pipe_async.data)
		uv_close((uv_handle_t *)&b->pipe_async, NULL);
	swb_bridge_outq_fini(b);
	free(b->gone_pipes);
	b->gone_pipes = NULL;
	free_edges(b);
	if (b->bridge_path[0])
		unlink(b->bridge_path + 6);
}
