/* bridge_link.c: the NNG link between this edge and the host's bridge.
 * Edge -> bridge: a pair1 socket dialing ipc://RUNTIME_DIR/bridge.ipc (NNG
 * retries by itself). Bridge -> edge: a pull0 socket listening on
 * ipc://RUNTIME_DIR/edge-EDGE_ID.ipc (mode 0600, removed on stop), which
 * the bridge dials with push0 after our Hello names it (deliver_url).
 * Announces itself (Hello + InterestSync, then the presence replay and
 * every channel count) on every new pair1 pipe, forwards interest changes,
 * publishes and stats, and dispatches BridgeMsgs (welcome, deliver, ack,
 * presence answers, query results, cache results, webhooks, terminate,
 * app usage, interest confirmations (sub_wait.c), and batches of these) on the loop thread. EdgeStats carries
 * the per-app connection counts of apps with max_connections; AppUsage
 * brings back the cluster-wide totals (swb_edge_app_admit).
 *
 * Threads: pipe events arrive on NNG threads; they only update a
 * mutex-protected state word and wake the loop with a uv_async_t. Receives
 * are driven by the pull socket's NNG_OPT_RECVFD through a uv_poll_t and
 * drained with non-blocking nng_recvmsg; the fd itself is never read.
 * Ownership: swb_edge_link is owned by swb_edge.link and freed once both
 * uv handles have closed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pipeline0/pull.h>

#include "edge.h"
#include "ipc_watchdog.h"
#include "nng_io.h"
#include "log.h"
#include "names.h"
#include "switchboard.pb-c.h"
#include "util.h"

#define RECV_BATCH 256       /* messages per poll callback */

struct swb_edge_link {
	swb_edge *e;
	nng_socket sock;             /* pair1: to the bridge */
	nng_socket pull;             /* pull0: from the bridge */
	swb_nng_io sock_io, pull_io; /* their send / receive aios */
	bool pull_open;
	swb_ipcwd *wd;               /* keeps the pull listener accepting (nng#1518) */
	char deliver_url[4200];      /* ipc://...; the file is removed on stop */
	uv_async_t async;
	uv_poll_t poll;
	bool poll_inited;
	int open_handles;
	/* written by NNG threads, under mu */
	pthread_mutex_t mu;
	uint32_t pipe_id;            /* current pipe, 0 = none */
	uint64_t gen;                /* bumped on every pipe change */
	bool closing;
	/* loop thread only */
	uint64_t seen_gen;
	bool up, welcomed;
	bool bridge_not_ready;       /* BridgeHealth.ready == false */
	char bridge_reason[128];
};

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	swb_edge_link *l = arg;
	uint32_t id = nng_pipe_id(p);
	pthread_mutex_lock(&l->mu);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		l->pipe_id = id;
		l->gen++;
	} else if (ev == NNG_PIPE_EV_REM_POST && l->pipe_id == id) {
		l->pipe_id = 0;
		l->gen++;
	}
	if (!l->closing)
		uv_async_send(&l->async);
	pthread_mutex_unlock(&l->mu);
}

static int send_edge_msg(swb_edge_link *l, const Swb__EdgeMsg *m)
{
	size_t n = swb__edge_msg__get_packed_size(m);
	nng_msg *msg;
	if (nng_msg_alloc(&msg, n) != 0) {
		l->e->st.link_send_fail++;
		return -1;
	}
	swb__edge_msg__pack(m, nng_msg_body(msg));
	int rv = swb_nng_io_send(&l->sock_io, l->sock, msg);
	if (rv != 0) {
		nng_msg_free(msg);
		l->e->st.link_send_fail++;
		swb_debug("bridge send failed: %s", nng_strerror(rv));
		return -1;
	}
	return 0;
}

/* Hello.webhooks: the apps with webhook URLs and the event types they
 * want (none while the webhook sender is not running: it would drop them).
 * Fills at most cap entries of items / ptrs; returns how many. */
static size_t hello_webhooks(swb_edge *e, Swb__AppWebhooks *items, Swb__AppWebhooks **ptrs, size_t cap)
{
	size_t n = 0;
	swb_edge_app *a, *tmp;
	HASH_ITER(hh_id, e->apps.by_id, a, tmp) {
		if (!e->webhooks || !a->n_webhooks || !a->webhook_events || n == cap)
			continue;
		swb__app_webhooks__init(&items[n]);
		items[n].app_id = a->id;
		items[n].events = a->webhook_events;
		ptrs[n] = &items[n];
		n++;
	}
	return n;
}

/* Hello: on every new pipe, and again after a reload (app list and
 * webhooks changed). */
static void send_hello(swb_edge_link *l)
{
	swb_edge *e = l->e;
	size_t cap = e->apps.n ? e->apps.n : 1;
	char **ids = calloc(cap, sizeof(*ids));
	Swb__AppWebhooks *hooks = calloc(cap, sizeof(*hooks));
	Swb__AppWebhooks **hook_ptrs = calloc(cap, sizeof(*hook_ptrs));
	size_t n = 0;
	swb_edge_app *a, *tmp;
	HASH_ITER(hh_id, e->apps.by_id, a, tmp) {
		if (ids)
			ids[n++] = a->id;
	}
	Swb__Hello h = SWB__HELLO__INIT;
	h.pid = (uint32_t)getpid();
	h.edge_id = e->edge_id_str;
	h.listen = (char *)e->cfg.listen;
	h.proto_version = SWB_PROTO_VERSION;
	h.n_app_ids = n;
	h.app_ids = ids;
	h.deliver_url = l->deliver_url;
	/* out of memory: no report, so the bridge sends this edge every event
	 * of its apps, as to an edge that predates the report */
	h.webhooks_reported = hooks && hook_ptrs;
	h.n_webhooks = h.webhooks_reported ? hello_webhooks(e, hooks, hook_ptrs, cap) : 0;
	h.webhooks = hook_ptrs;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_HELLO;
	m.hello = &h;
	send_edge_msg(l, &m);
	free(ids);
	free(hooks);
	free(hook_ptrs);
}

static void send_sync(swb_edge_link *l)
{
	swb_edge *e = l->e;
	size_t total = swb_edge_chans_count(&e->chans), n = total < SWB_EDGE_SYNC_CHUNK ? total : SWB_EDGE_SYNC_CHUNK, i = 0;
	Swb__Interest *items = calloc(n ? n : 1, sizeof(*items));
	Swb__Interest **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!items || !ptrs) {
		free(items);
		free(ptrs);
		return;
	}
	swb_edge_chan *c, *tmp;
	HASH_ITER(hh, e->chans.by_key, c, tmp) {
		if (i < n) {
			swb__interest__init(&items[i]);
			items[i].app_id = (char *)c->app_id;
			items[i].channel = (char *)c->name;
			items[i].add = true;
			items[i].seq = swb_edge_subwait_stamp(e, c);
			ptrs[i] = &items[i];
			i++;
		}
	}
	Swb__InterestSync s = SWB__INTEREST_SYNC__INIT;
	s.n_channels = n;
	s.channels = ptrs;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_SYNC;
	m.sync = &s;
	if (send_edge_msg(l, &m) < 0)
		swb_edge_resync_needed(e, "the InterestSync");
	free(items);
	free(ptrs);
	i = 0;
	HASH_ITER(hh, e->chans.by_key, c, tmp) {
		if (i++ >= n)
			swb_edge_link_interest(e, c->app_id, c->app_len, c->name, c->name_len, true,
					       swb_edge_subwait_stamp(e, c));
	}
	swb_info("bridge link up: sent hello and %zu channel interests", total);
}

static void on_pipe_change(uv_async_t *a)
{
	swb_edge_link *l = a->data;
	pthread_mutex_lock(&l->mu);
	bool now_up = l->pipe_id != 0;
	uint64_t gen = l->gen;
	pthread_mutex_unlock(&l->mu);
	if (gen == l->seen_gen)
		return;
	l->seen_gen = gen;
	if (l->up) {
		l->up = false;
		l->welcomed = false;
		l->bridge_not_ready = false; /* the next bridge says */
		swb_info("bridge link down");
		swb_edge_http_fail_pending(l->e, 503, "Bridge disconnected");
		swb_edge_presence_link_down(l->e);
		swb_edge_cache_clear(l->e);
		swb_edge_subwait_link_down(l->e);
		l->e->bridge_sync_chunks = false; /* the next bridge's Welcome says */
	}
	swb_edge_resync_link_changed(l->e);
	if (now_up) {
		l->up = true;
		send_hello(l);
		send_sync(l);
		swb_edge_presence_replay(l->e);
		swb_edge_counts_send_all(l->e);
	}
}

static const swb_edge_app *app_of(swb_edge *e, const char *id)
{
	return id ? swb_edge_apps_by_id(&e->apps, id, strlen(id)) : NULL;
}

/* AppUsage: the cluster-wide connections per app. A bad app id is
 * ignored and counted; an app this edge does not serve is ignored. */
static void on_usage(swb_edge *e, const Swb__AppUsage *u)
{
	uint64_t now = swb_mono_ms();
	for (size_t i = 0; i < u->n_apps; i++) {
		const Swb__AppCount *c = u->apps[i];
		if (!c || !c->app_id || !swb_app_token_valid(c->app_id, strlen(c->app_id))) {
			e->st.bad_deliveries++;
			continue;
		}
		swb_edge_app *a = (swb_edge_app *)app_of(e, c->app_id);
		if (!a)
			continue;
		a->cluster_total = c->connections;
		/* the bridge summed EdgeStats sent before this: what was accepted
		 * since the last one is not in the total */
		a->accepted_since = a->accepted_unreported;
		a->usage_ms = now;
	}
}

/* Operator commands the bridge forwards from swbctl. */
static void handle_ops_msg(swb_edge *e, const Swb__BridgeMsg *m)
{
	switch (m->body_case) {
	case SWB__BRIDGE_MSG__BODY_DRAIN:
		swb_edge_drain_start(e, m->drain->rate ? m->drain->rate : (uint32_t)e->cfg.drain_rate,
				     m->drain->deadline_ms ? m->drain->deadline_ms
							   : (uint32_t)e->cfg.drain_deadline * 1000u,
				     "drain command from the bridge");
		break;
	case SWB__BRIDGE_MSG__BODY_LOG_LEVEL:
		if (swb_edge_set_log_level(e, m->log_level->level) < 0)
			e->st.bad_deliveries++;
		break;
	case SWB__BRIDGE_MSG__BODY_RELOAD:
		swb_edge_reload(e, "reload command from the bridge");
		break;
	default:
		e->st.bad_deliveries++;
		break;
	}
}

/* BridgeHealth: the bridge's readiness (Redis + pub/sub probe). */
static void on_health(swb_edge_link *l, const Swb__BridgeHealth *h)
{
	bool not_ready = !h->ready;
	if (not_ready != l->bridge_not_ready) {
		if (not_ready)
			swb_warn("bridge not ready: %s", h->reason ? h->reason : "?");
		else
			swb_info("bridge ready again");
	}
	l->bridge_not_ready = not_ready;
	snprintf(l->bridge_reason, sizeof(l->bridge_reason), "%s", h->reason ? h->reason : "");
}

/* The issue #3 answers and commands. */
static void handle_state_msg(swb_edge *e, const Swb__BridgeMsg *m)
{
	const swb_edge_app *app;
	switch (m->body_case) {
	case SWB__BRIDGE_MSG__BODY_PRESENCE_JOINED:
		swb_edge_presence_on_joined(e, m->presence_joined->request_id, m->presence_joined->ok,
					    m->presence_joined->error, m->presence_joined->members_json.data,
					    m->presence_joined->members_json.len);
		break;
	case SWB__BRIDGE_MSG__BODY_QUERY_RESULT:
		swb_edge_http_on_query(e, m->query_result->request_id, m->query_result->ok, m->query_result->error,
				       m->query_result->http_status, m->query_result->json.data,
				       m->query_result->json.len);
		break;
	case SWB__BRIDGE_MSG__BODY_CACHE_RESULT:
		swb_edge_cache_on_result(e, m->cache_result->request_id, m->cache_result->hit,
					 m->cache_result->envelope.data, m->cache_result->envelope.len);
		break;
	case SWB__BRIDGE_MSG__BODY_WEBHOOK:
		if ((app = app_of(e, m->webhook->app_id)) && m->webhook->event_json.len)
			swb_edge_webhook_event(e, app, (const char *)m->webhook->event_json.data,
					       m->webhook->event_json.len);
		else
			e->st.bad_deliveries++;
		break;
	case SWB__BRIDGE_MSG__BODY_TERMINATE:
		if (app_of(e, m->terminate->app_id) && m->terminate->user_id)
			swb_edge_users_terminate(e, m->terminate->app_id, m->terminate->user_id);
		break;
	case SWB__BRIDGE_MSG__BODY_USAGE:
		on_usage(e, m->usage);
		break;
	case SWB__BRIDGE_MSG__BODY_HEALTH:
		if (e->link)
			on_health(e->link, m->health);
		break;
	case SWB__BRIDGE_MSG__BODY_READY:
		swb_edge_subwait_on_ready(e, m->ready->app_id, m->ready->channel, m->ready->seq);
		break;
	default:
		handle_ops_msg(e, m);
		break;
	}
}

static void handle_bridge_msg(swb_edge *e, const uint8_t *p, size_t n, bool in_batch)
{
	Swb__BridgeMsg *m = swb__bridge_msg__unpack(NULL, n, p);
	if (!m) {
		e->st.bad_deliveries++;
		return;
	}
	switch (m->body_case) {
	case SWB__BRIDGE_MSG__BODY_BATCH: /* in order; never nested */
		for (size_t i = 0; i < m->batch->n_msgs && !in_batch; i++)
			handle_bridge_msg(e, m->batch->msgs[i].data, m->batch->msgs[i].len, true);
		if (in_batch)
			e->st.bad_deliveries++;
		break;
	case SWB__BRIDGE_MSG__BODY_WELCOME:
		if (e->link && !e->link->welcomed)
			swb_info("bridge welcomed us: host %s proto %u",
				 m->welcome->host_id ? m->welcome->host_id : "?", m->welcome->proto_version);
		if (e->link)
			e->link->welcomed = true;
		e->bridge_sync_chunks = m->welcome->sync_chunks;
		swb_edge_subwait_welcome(e, m->welcome->proto_version);
		break;
	case SWB__BRIDGE_MSG__BODY_DELIVER:
		swb_edge_deliver(e, m->deliver.data, m->deliver.len);
		break;
	case SWB__BRIDGE_MSG__BODY_ACK:
		swb_edge_http_on_ack(e, m->ack->request_id, m->ack->ok, m->ack->error);
		break;
	default:
		handle_state_msg(e, m);
		break;
	}
	swb__bridge_msg__free_unpacked(m, NULL);
}

void swb_edge_link_handle(swb_edge *e, const uint8_t *p, size_t n) { handle_bridge_msg(e, p, n, false); }

/* Drain what the bridge sent, but at most about a quarter of a client queue's
 * worth of bytes per loop iteration: client sockets get their writable
 * turn in between, so a burst does not fill the queue of a client that
 * reads. The NNG fd stays readable while messages remain. */
static void on_readable(uv_poll_t *h, int status, int events)
{
	swb_edge_link *l = h->data;
	size_t budget = (size_t)l->e->cfg.max_queue / 4, got = 0;
	for (int i = 0; i < RECV_BATCH && got < budget; i++) {
		nng_msg *msg;
		int rv = swb_nng_io_recv(&l->pull_io, l->pull, &msg);
		if (rv != 0) {
			if (rv != NNG_EAGAIN)
				swb_warn("bridge receive: %s", nng_strerror(rv));
			return;
		}
		got += nng_msg_len(msg);
		if (l->up) /* else: left over from a bridge that is gone */
			handle_bridge_msg(l->e, nng_msg_body(msg), nng_msg_len(msg), false);
		nng_msg_free(msg);
	}
}

/* The pull0 listener the bridge delivers to (a stale file of a dead edge
 * with the same id is removed first). */
static int open_pull(swb_edge_link *l)
{
	int rv, fd;
	nng_listener lst;
	snprintf(l->deliver_url, sizeof(l->deliver_url), "ipc://%s/edge-%s.ipc", l->e->cfg.runtime_dir,
		 l->e->edge_id_str);
	unlink(l->deliver_url + 6);
	if ((rv = nng_pull0_open(&l->pull)) != 0) {
		swb_err("nng_pull0_open: %s", nng_strerror(rv));
		return -1;
	}
	l->pull_open = true;
	nng_socket_set_size(l->pull, NNG_OPT_RECVMAXSZ, 4 * 1024 * 1024);
	swb_ipcwd_cfg wc = { "deliver", l->deliver_url, 0600, -1, (uint64_t)l->e->cfg.ipc_check_interval };
	if (swb_ipcwd_listen(l->pull, &wc, &lst) < 0) {
		l->deliver_url[0] = '\0';
		return -1;
	}
	if ((rv = nng_socket_get_int(l->pull, NNG_OPT_RECVFD, &fd)) != 0) {
		swb_err("cannot get the receive fd of %s: %s", l->deliver_url, nng_strerror(rv));
		return -1;
	}
	/* The watchdog's check pipes send nothing valid: pull0 drops them. */
	l->wd = swb_ipcwd_start(&l->e->loop, l->pull, lst, &wc);
	uv_poll_init(&l->e->loop, &l->poll, fd);
	l->poll.data = l;
	l->poll_inited = true;
	l->open_handles++;
	uv_poll_start(&l->poll, UV_READABLE, on_readable);
	return 0;
}

static int open_socket(swb_edge_link *l)
{
	char url[4200];
	int rv;
	snprintf(url, sizeof(url), "ipc://%s/bridge.ipc", l->e->cfg.runtime_dir);
	if (open_pull(l) < 0)
		return -1;
	if ((rv = nng_pair1_open(&l->sock)) != 0) {
		swb_err("nng_pair1_open: %s", nng_strerror(rv));
		return -1;
	}
	nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, 1000);
	nng_socket_set_int(l->sock, NNG_OPT_SENDBUF, 1024);
	nng_socket_set_int(l->sock, NNG_OPT_RECVBUF, 16);
	nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, 4 * 1024 * 1024);
	nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, l);
	nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, pipe_cb, l);
	if ((rv = nng_dial(l->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		swb_err("dial %s: %s", url, nng_strerror(rv));
		return -1;
	}
	swb_info("dialing bridge at %s; deliveries on %s", url, l->deliver_url);
	return 0;
}

int swb_edge_link_start(swb_edge *e)
{
	swb_edge_link *l = calloc(1, sizeof(*l));
	if (!l)
		return -1;
	l->e = e;
	pthread_mutex_init(&l->mu, NULL);
	e->link = l;
	uv_async_init(&e->loop, &l->async, on_pipe_change);
	l->async.data = l;
	l->open_handles = 1;
	swb_edge_resync_init(e);
	return open_socket(l);
}

static void on_handle_closed(uv_handle_t *h)
{
	swb_edge_link *l = h->data;
	if (--l->open_handles == 0) {
		pthread_mutex_destroy(&l->mu);
		free(l);
	}
}

void swb_edge_link_stop(swb_edge *e)
{
	swb_edge_link *l = e->link;
	if (!l)
		return;
	e->link = NULL;
	swb_edge_resync_fini(e);
	pthread_mutex_lock(&l->mu);
	l->closing = true;
	pthread_mutex_unlock(&l->mu);
	if (l->poll_inited)
		uv_close((uv_handle_t *)&l->poll, on_handle_closed);
	nng_close(l->sock);
	swb_nng_io_fini(&l->sock_io);
	swb_ipcwd_stop(l->wd);
	if (l->pull_open)
		nng_close(l->pull);
	swb_nng_io_fini(&l->pull_io);
	if (l->deliver_url[0])
		unlink(l->deliver_url + 6);
	uv_close((uv_handle_t *)&l->async, on_handle_closed);
}

bool swb_edge_link_up(const swb_edge *e) { return e->link && e->link->up; }
uint64_t swb_edge_link_listener_restarts(const swb_edge *e) { return e->link ? swb_ipcwd_restarts(e->link->wd) : 0; }
bool swb_edge_link_ready(const swb_edge *e) { return e->link && e->link->up && e->link->welcomed; }

bool swb_edge_link_bridge_ready(const swb_edge *e, const char **why)
{
	bool ok = e->link && !e->link->bridge_not_ready;
	if (why)
		*why = ok ? "" : e->link ? e->link->bridge_reason : "no bridge link";
	return ok;
}

void swb_edge_link_interest(swb_edge *e, const char *app, size_t app_len, const char *ch, size_t ch_len,
			    bool add, uint64_t seq)
{
	if (!swb_edge_link_up(e) || e->stopping)
		return; /* the next Hello + InterestSync carries it */
	char a[128], c[256];
	if (app_len >= sizeof(a) || ch_len >= sizeof(c))
		return;
	memcpy(a, app, app_len);
	a[app_len] = '\0';
	memcpy(c, ch, ch_len);
	c[ch_len] = '\0';
	Swb__Interest in = SWB__INTEREST__INIT;
	in.app_id = a;
	in.channel = c;
	in.add = add;
	in.seq = seq;
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_INTEREST;
	m.interest = &in;
	if (send_edge_msg(e->link, &m) < 0)
		swb_edge_resync_needed(e, add ? "an Interest (add)" : "an Interest (remove)");
}

int swb_edge_link_publish(swb_edge *e, uint64_t request_id, const char *app_id,
			  const swb_edge_api_publish *p)
{
	if (!swb_edge_link_up(e))
		return -1;
	Swb__Envelope *envs = calloc(p->n ? p->n : 1, sizeof(*envs));
	Swb__Envelope **ptrs = calloc(p->n ? p->n : 1, sizeof(*ptrs));
	int rc = -1;
	if (envs && ptrs) {
		for (size_t i = 0; i < p->n; i++) {
			swb__envelope__init(&envs[i]);
			envs[i].app_id = (char *)app_id;
			envs[i].channel = p->items[i].channel;
			envs[i].event = p->items[i].event;
			envs[i].data.data = (uint8_t *)p->items[i].data;
			envs[i].data.len = p->items[i].data_len;
			envs[i].exclude_socket_id = p->items[i].socket_id ? p->items[i].socket_id : "";
			ptrs[i] = &envs[i];
		}
		Swb__PublishRequest pr = SWB__PUBLISH_REQUEST__INIT;
		pr.request_id = request_id;
		pr.n_envelopes = p->n;
		pr.envelopes = ptrs;
		Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
		m.body_case = SWB__EDGE_MSG__BODY_PUBLISH;
		m.publish = &pr;
		rc = send_edge_msg(e->link, &m);
	}
	free(envs);
	free(ptrs);
	return rc;
}

/* EdgeStats fields 12..: operations metrics for swbctl edges. */
static void fill_ops_stats(swb_edge *e, Swb__EdgeStats *s)
{
	swb_edge_sample_t smp;
	swb_edge_sample(e, &smp);
	s->pid = (uint32_t)getpid();
	s->bytes_in = e->st.bytes_in;
	s->bytes_out = e->st.bytes_out;
	s->queued_bytes = smp.queued_bytes;
	s->subscriptions = (uint32_t)smp.subscriptions;
	s->auth_failures = e->st.auth_failures + e->st.api_auth_failures;
	s->drops = e->st.drops;
}

void swb_edge_link_stats(swb_edge *e)
{
	if (!swb_edge_link_up(e))
		return;
	Swb__EdgeStats s = SWB__EDGE_STATS__INIT;
	s.connections = e->st.connections;
	s.channels = (uint32_t)swb_edge_chans_count(&e->chans);
	s.messages_in = e->st.messages_in;
	s.messages_out = e->st.messages_out;
	s.slow_disconnects = e->st.slow_disconnects;
	s.uptime_ms = swb_mono_ms() - e->start_ms;
	fill_ops_stats(e, &s);
	s.draining = e->draining || e->stopping;
	s.config_generation = e->config_generation;
	s.reload_error = e->reload_error;
	/* connections of the apps with a limit (0 included) */
	size_t n = 0;
	Swb__AppCount *ac = calloc(e->apps.n ? e->apps.n : 1, sizeof(*ac));
	Swb__AppCount **ap = calloc(e->apps.n ? e->apps.n : 1, sizeof(*ap));
	if (ac && ap) {
		swb_edge_app *a, *tmp;
		HASH_ITER(hh_id, e->apps.by_id, a, tmp) {
			if (!a->max_connections || n >= e->apps.n)
				continue;
			swb__app_count__init(&ac[n]);
			ac[n].app_id = a->id;
			ac[n].connections = a->connections;
			a->accepted_unreported = 0;
			ap[n] = &ac[n];
			n++;
		}
		s.n_apps = n;
		s.apps = ap;
	}
	Swb__AppCount *all = calloc(e->apps.n ? e->apps.n : 1, sizeof(*all));
	Swb__AppCount **allp = calloc(e->apps.n ? e->apps.n : 1, sizeof(*allp));
	if (all && allp) { /* every app's connections: swbctl connections */
		size_t k = 0;
		swb_edge_app *a, *tmp;
		HASH_ITER(hh_id, e->apps.by_id, a, tmp) {
			if (k >= e->apps.n)
				break;
			swb__app_count__init(&all[k]);
			all[k].app_id = a->id;
			all[k].connections = a->connections;
			allp[k] = &all[k];
			k++;
		}
		s.n_app_connections = k;
		s.app_connections = allp;
	}
	Swb__EdgeMsg m = SWB__EDGE_MSG__INIT;
	m.body_case = SWB__EDGE_MSG__BODY_STATS;
	m.stats = &s;
	send_edge_msg(e->link, &m);
	free(ac);
	free(ap);
	free(all);
	free(allp);
}

/* The app's AppUsage total counts: recent (3 s, about 3 reports) and the
 * link is up. Otherwise max_connections applies per edge. */
#define USAGE_FRESH_MS 3000
bool swb_edge_link_usage_fresh(const swb_edge *e, const swb_edge_app *a)
{
	return swb_edge_link_ready(e) && a->usage_ms && swb_mono_ms() - a->usage_ms < USAGE_FRESH_MS;
}

int swb_edge_link_send(swb_edge *e, const void *edge_msg)
{
	if (!swb_edge_link_up(e))
		return -1;
	return send_edge_msg(e->link, edge_msg);
}

void swb_edge_link_hello(swb_edge *e)
{
	if (swb_edge_link_up(e))
		send_hello(e->link);
}

uint64_t swb_edge_next_request_id(swb_edge *e) { return ++e->next_request_id; }

void swb_edge_link_lib_fini(void)
{
	nng_fini(); /* NNG's threads, so valgrind sees a clean exit */
}
