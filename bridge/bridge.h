/* bridge.h: the swb-bridge daemon's shared state and the calls its modules
 * make on each other. One swb_bridge per process, owned by main.c. Every
 * field is touched only from the libuv loop thread, except the pipe-event
 * queue (mutex-protected, filled by NNG threads).
 *
 * Modules: edges.c (NNG endpoint + edge registry), publish.c (publish
 * requests, delivery to edges), interest.c (interest table), redis.c (the
 * two Redis connections), redis_uv.c (hiredis adapter), sub_reply.c (reply
 * validation), control.c + status.c (control socket), ratelog.c.
 * Cluster state (issue #3, docs/cluster-state.md): state.c (per-host
 * aggregate), occupancy.c, presence.c, query.c (queries), cache.c (cache
 * channels), pending.c (what Redis missed during an outage), hold.c
 * (deliveries held while a join waits for Redis), park.c (joins waiting
 * for their channel's SUBSCRIBE), ready.c (InterestReady: an edge's
 * interest is live), cluster.c
 * (heartbeat, epoch, sweep, reconcile, terminate), webhooks.c (which
 * edge sends a webhook),
 * scripts.c (Lua), answers.c (JSON bodies and reply shapes). */
#ifndef SWB_BRIDGE_H
#define SWB_BRIDGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <async.h>
#include <hiredis.h>
#include <nng/nng.h>
#include <uthash.h>
#include <uv.h>

#include "interest.h"
#include "nng_io.h"
#include "names.h"
#include "redis_url.h"
#include "scripts.h"
#include "state.h"

struct Swb__PublishRequest;
struct Swb__BridgeMsg;
struct Swb__ChannelCounts;
struct Swb__PresenceJoin;
struct Swb__EdgeMsg;
struct Swb__PresenceLeave;
struct Swb__Query;
struct Swb__CacheGet;
struct Swb__TerminateUser;
struct swb_bridge_kv;
struct Swb__EdgeStats;

/* One app's connections as an edge last reported them (quota.c). */
typedef struct swb_bridge_appcount {
	char app[SWB_APP_ID_MAX + 1];
	uint32_t n;
} swb_bridge_appcount;
typedef struct swb_bridge_quota swb_bridge_quota;

/* One app's webhook event types on an edge (webhooks.c). */
typedef struct swb_bridge_apphooks {
	char app[SWB_APP_ID_MAX + 1];
	uint32_t events; /* common/webhook_kinds.h bits */
	UT_hash_handle hh; /* in swb_bridge_edge.hooks_by_app */
} swb_bridge_apphooks;

/* Rate-limited logging: at most one line per reason every 10 s. */
typedef struct swb_bridge_ratelog {
	uint64_t last_ms;
	uint64_t suppressed;
} swb_bridge_ratelog;
void swb_bridge_ratelog_emit(swb_bridge_ratelog *rl, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Drop / garbage counters, shown by `swbctl status` under "counters". */
typedef struct swb_bridge_counters {
	uint64_t edge_bad_msg;      /* undecodable EdgeMsg / unset oneof */
	uint64_t edge_bad_name;     /* invalid app / channel / event name */
	uint64_t edge_unknown;      /* message before Hello */
	uint64_t edge_unsupported;  /* EdgeMsg body this bridge does not handle */
	uint64_t edge_send_drops;   /* bridge -> edge queue full */
	uint64_t redis_bad_reply;   /* unexpected reply on the subscribe connection, or a reply
				     * hiredis / the guard refused (protocol error) on either */
	uint64_t redis_lost;        /* Redis connections lost (closed, error, bad reply) */
	uint64_t redis_bad_payload; /* message that is no Envelope / wrong channel */
	uint64_t redis_no_interest; /* message for a channel no edge wants */
	uint64_t publish_ok;        /* envelopes accepted */
	uint64_t publish_failed;    /* envelopes refused (Redis down / error) */
	uint64_t publish_overload;  /* requests refused: too many in flight */
	uint64_t delivered;         /* deliveries sent to edges */
	uint64_t control_bad;       /* bad control requests */
	/* cluster state (issue #3) */
	uint64_t state_refused;     /* joins / counts refused (limits, bad names, memory) */
	uint64_t presence_joins;    /* PresenceJoin handled */
	uint64_t presence_refused;  /* PresenceJoined ok=false */
	uint64_t occ_sets;          /* occ_set scripts run */
	uint64_t queries;           /* Query / CacheGet answered */
	uint64_t webhooks;          /* WebhookEvent sent to an edge */
	uint64_t webhooks_dropped;  /* no live edge serves the app (webhooks.c) */
	uint64_t webhooks_skipped;  /* edges serve the app, none has a webhook for the event */
	uint64_t swept;             /* transitions found by this bridge's sweeps */
	uint64_t reconciled;        /* stale entries of this host removed */
	uint64_t terminates;        /* TerminateUserCmd forwarded (per P:ctl message) */
	uint64_t script_errors;     /* script replies refused (error / bad shape) */
	uint64_t stale_removals;    /* member_removed for a user present here: not delivered */
	/* operations (issue #5) */
	uint64_t redis_msgs_in;     /* channel messages received on the subscribe connection */
	uint64_t redis_bytes_in;    /* their payload bytes */
	uint64_t delivered_bytes;   /* payload bytes of the deliveries sent to edges */
	uint64_t published_bytes;   /* envelope bytes PUBLISHed */
	uint64_t control_requests;  /* control requests answered (good or bad) */
	uint64_t forwarded_cmds;    /* drain / log-level / reload messages sent to edges */
	uint64_t interest_ready;    /* InterestReady sent to edges (ready.c) */
} swb_bridge_counters;

typedef struct swb_bridge_edge {
	uint32_t pipe_id;  /* hash key */
	nng_pipe pipe;
	uint32_t pid, proto_version;
	char edge_id[65];
	char listen[129];
	uint64_t connected_ms;
	/* last EdgeStats */
	uint32_t connections, channels;
	uint64_t messages_in, messages_out, slow_disconnects, uptime_ms;
	/* outq.c: the push0 socket to the edge's deliver_url, and the
	 * messages waiting for room in it (ring buffer, owned) */
	nng_socket push;
	swb_nng_io push_io;
	bool push_open;
	bool out_blocked; /* push0 full: waiting for its SENDFD */
	struct swb_bridge_wpoll *wpoll;
	nng_msg **outq;
	size_t out_head, out_len, out_cap, out_bytes;
	uint64_t stall_ms; /* when out_blocked began */
	char **app_ids;   /* Hello.app_ids (owned copies) */
	size_t n_app_ids;
	/* webhooks.c: Hello.webhooks (owned); without a report every app of
	 * app_ids wants every event */
	bool hooks_reported;
	struct swb_bridge_apphooks *hooks;        /* the entries (array) */
	struct swb_bridge_apphooks *hooks_by_app; /* uthash view of them */
	size_t n_hooks;
	swb_bridge_appcount *apps; /* EdgeStats.apps (owned): quota.c */
	size_t n_apps;
	/* operations (issue #5): the rest of the last EdgeStats */
	uint64_t bytes_in, bytes_out, queued_bytes, auth_failures, drops;
	uint32_t subscriptions, config_generation;
	bool draining;
	char reload_error[256];
	swb_bridge_appcount *all_apps; /* EdgeStats.app_connections (owned) */
	size_t n_all_apps;
	uint32_t sync_gen; /* a chunked InterestSync under way (more=true seen): its generation, 0 = none */
	UT_hash_handle hh;
} swb_bridge_edge;

/* probe.c: the pub/sub probe and the bridge's readiness. */
typedef struct swb_bridge_health {
	uint64_t interval_ms, timeout_ms;
	uv_timer_t timer;
	bool timer_inited;
	bool psub_confirmed;   /* PSUBSCRIBE of the probe channel confirmed on this sub connection */
	uint64_t seq;          /* id of the last probe sent */
	uint64_t sent_ms;      /* when it was sent; 0 = none outstanding */
	uint64_t sent_us;
	bool published;        /* its PUBLISH got its reply */
	bool ok;               /* a probe came back on this sub connection, none failed since */
	bool ready;            /* readiness as last announced */
	bool announced;        /* ready has been computed once */
	char reason[96];       /* why not ready */
	uint64_t sent, received, failures, unready, rebuilds;
	uint64_t last_rtt_us;
} swb_bridge_health;

enum swb_bridge_rconn_state { SWB_RCONN_DOWN = 0, SWB_RCONN_CONNECTING, SWB_RCONN_UP };

/* One Redis connection ("cmd" or "sub") and its reconnect timer. */
typedef struct swb_bridge_rconn {
	struct swb_bridge *b;
	const char *role;       /* "cmd" / "sub" */
	redisAsyncContext *ac;  /* owned by hiredis; NULL when down */
	int state;              /* enum swb_bridge_rconn_state */
	uv_timer_t timer;       /* connect timeout / reconnect backoff */
	uint64_t backoff_ms;
	uint64_t up_ms;         /* when it last connected */
	bool lost_logged;       /* one warning per outage */
} swb_bridge_rconn;

typedef struct swb_bridge {
	uv_loop_t *loop;
	/* configuration (strings live as long as the process) */
	const char *runtime_dir, *host_id, *prefix, *redis_url_str;
	swb_bridge_redis_url url;
	char bridge_path[512], control_path[512];
	uint64_t start_ms, next_seq;

	/* edges.c */
	nng_socket edge_sock;
	swb_nng_io edge_io;
	bool edge_open;
	uv_poll_t edge_poll;
	uv_async_t pipe_async;
	pthread_mutex_t pipe_mu;
	uint32_t *gone_pipes; /* queue filled by NNG threads, under pipe_mu */
	size_t ngone, gone_cap;
	bool pipes_closing;   /* under pipe_mu: stop signalling the loop */
	swb_bridge_edge *edges;
	uv_timer_t out_flush; /* outq.c: zero-delay flush of the edges' queues */

	swb_bridge_interest interest;

	/* redis.c */
	swb_bridge_rconn cmd, sub;
	uint64_t reconnects;    /* times both connections were back up after a loss */
	bool redis_was_up;      /* both were up at least once */
	bool redis_inited, redis_stopping;
	size_t inflight;       /* PUBLISH commands awaiting a reply */
	size_t inflight_bytes; /* their payload bytes */
	char probe[SWB_BRIDGE_CHAN_NAME_MAX + 1];

	/* control.c */
	nng_socket ctl_sock;
	bool ctl_open;
	uv_poll_t ctl_poll;

	/* cluster state (issue #3): state.c, occupancy.c, presence.c,
	 * query.c, cluster.c, scripts.c */
	swb_bridge_state state;
	uint64_t host_ttl_s, heartbeat_s;
	char script_sha[SWB_SCRIPT_COUNT][41];
	char ctl_chan[SWB_BRIDGE_CHAN_NAME_MAX + 1]; /* PREFIX:ctl */
	uv_timer_t hb_timer, sweep_timer, settle_timer;
	bool cluster_inited;
	bool reconcile_due;   /* remove this host's stale Redis entries when up */
	bool settle_started;  /* the first edge registered: settle timer running */
	bool settled;         /* edges had their time to replay */
	bool redis_cmd_was_up;
	bool hb_fresh;        /* the next heartbeat reply is the one sent on cmd up */
	char redis_epoch[40]; /* P:epoch as last seen: changes when Redis lost its data */
	char epoch_try[40];   /* the value this bridge proposed on the last connect */
	struct swb_bridge_pending *pending; /* pending.c: transitions Redis missed */
	struct swb_bridge_hold *holds;      /* hold.c: deliveries held during joins */
	struct swb_bridge_parked *parked, *parked_tail; /* park.c */
	size_t nparked;
	size_t npending;
	uv_timer_t pending_timer;
	uint64_t wh_rr;       /* webhook round-robin */
	size_t req_inflight;  /* presence / query / cache calls awaiting Redis */
	bool sweep_inflight, hb_inflight;
	struct swb_bridge_mcache *mcache; /* --redis none: cache channels */
	size_t mcache_bytes;

	/* quota.c: cluster-wide connections per app */
	swb_bridge_quota *quota;
	uv_timer_t quota_timer;
	uint64_t quota_ticks, quota_gen, quota_round_tick;
	size_t quota_pending; /* HVALS replies of the current round */

	/* operations (issue #5): control_cmds.c, probe.c, metrics.c,
	 * metrics_http.c */
	const char *control_group;  /* --control-group: socket mode 0660, this group */
	const char *metrics_listen; /* --metrics-listen HOST:PORT, or NULL */
	swb_bridge_health health;
	struct swb_bridge_metrics *metrics; /* owned (metrics.c) */
	struct swb_bridge_mhttp *mhttp;     /* owned (metrics_http.c) */
	size_t ctl_pending;                 /* control requests waiting for Redis */

	/* common/ipc_watchdog.c (nng#1518): bridge.ipc and control.ipc */
	uint64_t ipc_check_ms;              /* --ipc-check-interval, 0 = off */
	struct swb_ipcwd *edge_wd, *ctl_wd; /* owned; NULL when off */

	swb_bridge_counters cnt;
	swb_bridge_ratelog rl_edge, rl_redis, rl_send, rl_ctl, rl_script;
} swb_bridge;

/* Publishes refused ("bridge overloaded") beyond these. */
#define SWB_BRIDGE_MAX_INFLIGHT 100000
#define SWB_BRIDGE_MAX_INFLIGHT_BYTES (64u * 1024 * 1024)
/* Presence joins, queries and cache reads refused ("bridge overloaded")
 * while this many wait for Redis. */
#define SWB_BRIDGE_MAX_REQUESTS 100000

/* edges.c */
int swb_bridge_edges_init(swb_bridge *b);
void swb_bridge_edges_fini(swb_bridge *b);
/* Send m to one edge (takes ownership of m in every case). */
void swb_bridge_edges_send(swb_bridge *b, uint32_t pipe_id, nng_msg *m);
size_t swb_bridge_edges_count(const swb_bridge *b);
/* Handle one packed EdgeMsg from edge pipe `pipe_id` (what the receive
 * callback does with each message; the fuzz target calls it directly). */
void swb_bridge_edges_handle(swb_bridge *b, uint32_t pipe_id, const uint8_t *p, size_t n);
swb_bridge_edge *swb_bridge_edge_find(swb_bridge *b, uint32_t pipe_id);
/* Pack bm into a new NNG message (NULL on allocation failure). */
nng_msg *swb_bridge_pack(const struct Swb__BridgeMsg *bm);

/* outq.c: per-edge push0 socket and bounded queue (see there). Beyond
 * these, messages to the edge are dropped (edge_send_drops). */
#define SWB_BRIDGE_OUTQ_MAX_MSGS 65536
#define SWB_BRIDGE_OUTQ_MAX_BYTES (16u * 1024 * 1024)
void swb_bridge_outq_init(swb_bridge *b);
void swb_bridge_outq_fini(swb_bridge *b);
/* Open e's socket and dial the edge's deliver_url (0 or -1). */
int swb_bridge_outq_open(swb_bridge *b, swb_bridge_edge *e, const char *url);
void swb_bridge_outq_send(swb_bridge *b, swb_bridge_edge *e, nng_msg *m);
/* Close e's socket and free its queue. */
void swb_bridge_outq_clear(swb_bridge_edge *e);

/* publish.c */
void swb_bridge_publish(swb_bridge *b, uint32_t pipe_id, struct Swb__PublishRequest *req);
void swb_bridge_send_ack(swb_bridge *b, uint32_t pipe_id, uint64_t request_id, bool ok, const char *error);
/* Deliver a packed Envelope that arrived on Redis channel `name` to every
 * interested edge. Validates the payload against the channel. */
void swb_bridge_deliver(swb_bridge *b, const char *name, size_t name_len, const uint8_t *payload,
			size_t len);

/* redis.c */
int swb_bridge_redis_init(swb_bridge *b);
void swb_bridge_redis_fini(swb_bridge *b);
/* interest-table `changed` handler: (un)subscribe / release ch. */
void swb_bridge_redis_chan_changed(void *ctx, swb_bridge_chan *ch);
bool swb_bridge_redis_cmd_up(const swb_bridge *b);
/* Queue PUBLISH name payload on the cmd connection; fn gets the reply
 * (NULL on failure) with privdata. Returns 0 or -1 (not queued). */
int swb_bridge_redis_publish(swb_bridge *b, const char *name, size_t name_len, const uint8_t *payload,
			     size_t len, redisCallbackFn *fn, void *privdata);
const char *swb_bridge_redis_state(const swb_bridge *b);
size_t swb_bridge_redis_subscribed(const swb_bridge *b);

/* occupancy.c: ChannelCounts -> host totals -> occ_set */
void swb_bridge_occ_counts(swb_bridge *b, uint32_t pipe_id, const struct Swb__ChannelCounts *c);
void swb_bridge_occ_changed(swb_bridge *b, swb_bridge_occ *o); /* host total changed */
/* after a reconnect; silent: Redis lost its data, no webhooks */
void swb_bridge_occ_reapply(swb_bridge *b, bool silent);
/* Reconcile: this host's Redis count for (app, chan) is not backed by
 * memory: set it to 0 (webhook on a transition). -1 if memory backs it. */
int swb_bridge_occ_stale(swb_bridge *b, const char *app, const char *chan);

/* presence.c: PresenceJoin / PresenceLeave */
void swb_bridge_presence_join(swb_bridge *b, uint32_t pipe_id, const struct Swb__PresenceJoin *j);
void swb_bridge_presence_leave(swb_bridge *b, uint32_t pipe_id, const struct Swb__PresenceLeave *l);
/* u's last connection on this host is gone (u is freed after the call) */
void swb_bridge_presence_user_left(swb_bridge *b, swb_bridge_pchan *pc, swb_bridge_puser *u);
void swb_bridge_presence_reapply(swb_bridge *b, bool silent);
/* Reconcile: user is registered in Redis for this host but not in
 * memory: pres_leave (member_removed + webhook). -1 if still present. */
int swb_bridge_presence_stale(swb_bridge *b, const char *app, const char *chan, const char *user);
/* members of (app, chan) in memory (--redis none): kv borrow from state */
size_t swb_bridge_presence_local_members(swb_bridge *b, swb_bridge_pchan *pc, struct swb_bridge_kv **out);

/* query.c: Query */
void swb_bridge_query(swb_bridge *b, uint32_t pipe_id, const struct Swb__Query *q);
/* "PREFIX:APP:WHAT[:CHAN]" into out */
void swb_bridge_key(swb_bridge *b, char *out, size_t cap, const char *app, const char *what, const char *chan);

/* cache.c: CacheGet, and the in-memory cache of --redis none */
bool swb_bridge_mcache_peek(swb_bridge *b, const char *app, const char *chan, const uint8_t **env, size_t *len,
			    uint64_t *ttl_ms);
void swb_bridge_cache_get(swb_bridge *b, uint32_t pipe_id, const struct Swb__CacheGet *g);
void swb_bridge_cache_refuse(swb_bridge *b, uint32_t pipe_id, uint64_t request_id); /* a parked read timed out */
void swb_bridge_mcache_store(swb_bridge *b, const char *app, const char *chan, const uint8_t *env, size_t len);
void swb_bridge_mcache_expire(swb_bridge *b);
void swb_bridge_mcache_fini(swb_bridge *b);

/* hold.c: while a presence join of edge pipe_id on Redis channel name
 * waits for Redis, deliveries of that channel to that edge are queued and
 * sent right after the join's answer. take() returns true if it kept m. */
void swb_bridge_hold_begin(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len);
void swb_bridge_hold_end(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len, bool ok);
bool swb_bridge_hold_take(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len, nng_msg *m);
/* The edge's last local subscriber left while a join of it is held: keep
 * the interest until the join is answered (true if deferred). */
bool swb_bridge_hold_defer_remove(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len);
/* Before an InterestSync of pipe_id ends (generation gen): the channels
 * its presence joins hold stay, decided at release as for a deferred
 * remove when the sync did not name them. */
void swb_bridge_hold_sync_keep(swb_bridge *b, uint32_t pipe_id, uint32_t gen);
void swb_bridge_hold_edge_gone(swb_bridge *b, uint32_t pipe_id); /* 0: all */

/* park.c: presence joins and cache reads waiting for their channel's SUBSCRIBE to be
 * confirmed (see there). */
struct Swb__PresenceJoin;
struct Swb__EdgeMsg;
/* Park em (a presence_join or cache_get of app/chan, from pipe_id) while
 * this host's SUBSCRIBE of the channel is not confirmed. 0: not needed
 * (run it now), 1: parked, -1: it had to wait but could not be parked
 * (the caller refuses it). */
int swb_bridge_park_until_subscribed(swb_bridge *b, uint32_t pipe_id, const char *app, const char *chan,
				     const struct Swb__EdgeMsg *em);
void swb_bridge_presence_subscribed(swb_bridge *b, const char *name, size_t len); /* redis.c */
void swb_bridge_park_expire(swb_bridge *b);
void swb_bridge_park_edge_gone(swb_bridge *b, uint32_t pipe_id); /* 0: all */
/* presence.c: answer a join with ok=false */
void swb_bridge_presence_refuse(swb_bridge *b, uint32_t pipe_id, uint64_t request_id, const char *why);

/* ready.c: InterestReady to edges (see there). added: edge pipe_id just
 * added (or re-added) interest in name; confirmed: Redis confirmed ch's
 * SUBSCRIBE. */
void swb_bridge_ready_added(swb_bridge *b, uint32_t pipe_id, const char *name, size_t len);
void swb_bridge_ready_confirmed(swb_bridge *b, swb_bridge_chan *ch);

/* pending.c: leaves / vacates that could not reach Redis (user NULL = the
 * channel's host count went to 0); announced after a reconnect to a Redis
 * that lost its data. */
void swb_bridge_pending_init(swb_bridge *b);
void swb_bridge_pending_fini(swb_bridge *b);
void swb_bridge_pending_add(swb_bridge *b, const char *app, const char *chan, const char *user);
void swb_bridge_pending_reconnected(swb_bridge *b, bool lost);

/* cluster.c: host liveness, sweep, reconcile, webhooks, terminate */
int swb_bridge_cluster_init(swb_bridge *b);
void swb_bridge_cluster_fini(swb_bridge *b);
void swb_bridge_cluster_cmd_up(swb_bridge *b);   /* cmd connection (re)connected */
void swb_bridge_cluster_edge_up(swb_bridge *b);  /* an edge registered (Hello) */
void swb_bridge_cluster_edge_gone(swb_bridge *b, uint32_t pipe_id);
void swb_bridge_cluster_ctl_message(swb_bridge *b, const char *payload, size_t len);
void swb_bridge_terminate(swb_bridge *b, const struct Swb__TerminateUser *t);
/* Pack and send a PresenceJoined / QueryResult-like BridgeMsg to one edge. */
void swb_bridge_send_msg(swb_bridge *b, uint32_t pipe_id, const struct Swb__BridgeMsg *bm);

/* webhooks.c: Send {"name":..,"channel":..[,"user_id":..]} to one live
 * edge that has a webhook for it, or to none (counted). */
struct Swb__Hello;
void swb_bridge_webhook(swb_bridge *b, const char *app, const char *name, const char *chan, const char *user);
/* Keep (replace) e's Hello.webhooks report; free it. */
void swb_bridge_webhooks_hello(swb_bridge *b, swb_bridge_edge *e, const struct Swb__Hello *h);
void swb_bridge_webhooks_free(swb_bridge_edge *e);

/* quota.c: per-app connection counts for max_connections (see there) */
void swb_bridge_quota_init(swb_bridge *b);
void swb_bridge_quota_fini(swb_bridge *b);
void swb_bridge_quota_free(swb_bridge *b); /* the table only (tests) */
/* Keep e's EdgeStats.apps (invalid app ids are dropped and counted). */
void swb_bridge_quota_edge_stats(swb_bridge *b, swb_bridge_edge *e, const struct Swb__EdgeStats *s);
/* Recompute every app's host sum over the current edges; returns the
 * number of apps reported. */
int swb_bridge_quota_sum(swb_bridge *b);
/* An app's cluster total as last read (and its host sum into *host). */
uint32_t swb_bridge_quota_total(swb_bridge *b, const char *app, uint32_t *host);
void swb_bridge_quota_cmd_up(swb_bridge *b);
/* {"APP":{"host":N,"cluster":N},...} for status (the caller owns it) */
struct cJSON *swb_bridge_quota_json(swb_bridge *b);
/* Reconcile: this host's conns field of app is not backed by an edge:
 * remove it (0), or -1 if an edge reports connections. */
int swb_bridge_quota_stale(swb_bridge *b, const char *app);

/* control.c */
int swb_bridge_control_init(swb_bridge *b);
void swb_bridge_control_fini(swb_bridge *b);
/* Handle one request; returns a malloc'd NUL-terminated JSON reply. */
char *swb_bridge_control_handle(swb_bridge *b, const char *req, size_t len);

/* Operator requests: a request being answered (control.c). The handler
 * of a command either answers at once or keeps the request and calls
 * swb_bridge_control_reply later (exactly once). */
typedef struct swb_bridge_ctlreq swb_bridge_ctlreq;
/* Send reply (taken over and freed) and free cr. */
void swb_bridge_control_reply(swb_bridge_ctlreq *cr, struct cJSON *reply);
/* false for requests that must be answered before the handler returns */
bool swb_bridge_control_can_wait(const swb_bridge_ctlreq *cr);
/* {"ok":false,"error":error} (counted as control_bad) */
struct cJSON *swb_bridge_control_error(swb_bridge *b, const char *error);

/* control_cmds.c: commands other than status. Returns the reply, or NULL
 * when the command kept cr to answer later. Unknown command: NULL and
 * *unknown = true. */
struct cJSON *swb_bridge_cmd_run(swb_bridge *b, const char *cmd, const struct cJSON *req, swb_bridge_ctlreq *cr,
				 bool *unknown);

/* status.c: the `status` reply object (cJSON *; the caller owns it). */
struct cJSON *swb_bridge_status_json(swb_bridge *b);
struct cJSON *swb_bridge_counters_json(const swb_bridge_counters *c);
struct cJSON *swb_bridge_edge_json(const swb_bridge_edge *e, uint64_t now);

/* probe.c */
void swb_bridge_probe_init(swb_bridge *b);
void swb_bridge_probe_fini(swb_bridge *b);
/* Probe pattern subscription confirmed / probe message arrived / a
 * connection changed state: re-evaluate readiness. */
void swb_bridge_probe_subscribed(swb_bridge *b);
void swb_bridge_probe_message(swb_bridge *b, const char *payload, size_t len);
void swb_bridge_probe_conn_changed(swb_bridge *b);
struct cJSON *swb_bridge_probe_json(swb_bridge *b);
/* Ready: Redis connected and the probe coming back (always with none). */
bool swb_bridge_ready(const swb_bridge *b, const char **why);
/* Send BridgeHealth to one edge (pipe_id) or, with 0, to every edge. */
void swb_bridge_health_send(swb_bridge *b, uint32_t pipe_id);
/* redis.c: drop the subscribe connection now (it reconnects and
 * re-subscribes everything); reason goes to the log. */
void swb_bridge_redis_rebuild_sub(swb_bridge *b, const char *reason);
void swb_bridge_redis_rebuild_cmd(swb_bridge *b, const char *reason);

/* metrics.c: the bridge's metrics registry; metrics_http.c serves it. */
int swb_bridge_metrics_init(swb_bridge *b);
void swb_bridge_metrics_fini(swb_bridge *b);
/* Redis round trip of a command sent at sent_us (swb_mono_us). */
void swb_bridge_metrics_redis_rtt(swb_bridge *b, uint64_t sent_us);
/* The exposition text (malloc'd, NUL-terminated; NULL on no memory). */
char *swb_bridge_metrics_render(swb_bridge *b, size_t *len);
int swb_bridge_mhttp_start(swb_bridge *b, const char *listen);
int swb_bridge_mhttp_valid(const char *listen); /* 0 if HOST:PORT parses */
void swb_bridge_mhttp_stop(swb_bridge *b);

#endif
