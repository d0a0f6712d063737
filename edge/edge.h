/* edge.h: the shared state of one swb-edge process and the functions the
 * edge modules call on each other. Everything runs on one thread (the uv
 * loop); NNG callbacks only hand events over through bridge_link.c.
 *
 * Ownership: main.c owns the swb_edge; server.c owns the lws context;
 * conn.c owns every swb_edge_conn (created on ESTABLISHED, freed on
 * CLOSED); http.c owns every swb_edge_http (one per HTTP transaction);
 * bridge_link.c owns the NNG socket; presence.c the presence joins (and
 * the replay), users.c the sign-ins and the user index, cache.c the
 * CacheGets in flight, counts.c the dirty-count set and its timer,
 * webhook.c the curl multi handle, batches and requests; tls.c reads the
 * TLS files (the SSL_CTX itself belongs to lws). */
#ifndef SWB_EDGE_H
#define SWB_EDGE_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <uthash.h>
#include <uv.h>

#include "apps.h"
#include "auth.h"
#include "buf.h"
#include "channels.h"
#include "http_api.h"

#define SWB_EDGE_MAX_SUBS 100        /* subscriptions per connection */
#define SWB_EDGE_ACK_TIMEOUT_MS 5000 /* publish -> PublishAck */
#define SWB_EDGE_RX_BUFFER 512    /* lws per-connection rx buffer (allocated once traffic touches it) */
#define SWB_EDGE_TX_PACKET (1024 * 1024) /* largest single send() lws may issue */
#define SWB_EDGE_COALESCE_MAX (64 * 1024) /* bytes of queued frames packed into one send() */
#define SWB_EDGE_SENDS_PER_TURN 4  /* coalesced sends per connection per turn (fairness) */
#define SWB_EDGE_SHUTDOWN_GRACE_MS 300 /* for close frames on SIGTERM */
#define SWB_EDGE_CLOSE_GRACE_S 3     /* hard close if a close frame cannot be sent */
#define SWB_EDGE_JOIN_TIMEOUT_MS 5000 /* PresenceJoin -> PresenceJoined */
#define SWB_EDGE_COUNTS_MS 100       /* ChannelCounts coalescing window */
#define SWB_EDGE_CLIENT_DATA_MAX 10240 /* client event data bytes */
#define SWB_EDGE_CACHE_PENDING_MAX 10000 /* CacheGets awaiting an answer */
#define SWB_EDGE_DRAIN_TICK_MS 50    /* drain scheduler period */
#define SWB_EDGE_MAX_FRAGMENTS 1024  /* frames per inbound message; over it: close 1008 */

typedef struct swb_edge_config {
	const char *runtime_dir;
	const char *listen;
	long activity_timeout;       /* seconds, sent to clients */
	long pong_timeout;           /* seconds */
	long max_queue;              /* bytes per connection send queue */
	long max_message;            /* bytes per inbound WebSocket message */
	long drain_rate;             /* connections told to leave per second, 0 = all at once */
	long drain_deadline;         /* seconds a drain waits for clients to go */
	long handshake_timeout;      /* seconds: TLS accept, HTTP head, HTTP body */
	const char *tls_cert, *tls_key, *tls_ca; /* NULL = plain TCP (tls.c) */
	bool reuseport;              /* own SO_REUSEPORT listener (listen.c) */
	bool no_io_uring;            /* --no-io-uring: plain send()s only (uring.c) */
	long ipc_check_interval;     /* ms; edge-ID.ipc watchdog (nng#1518), 0 = off */
} swb_edge_config;

/* Where the app table comes from, kept for a reload (ops.c). The lists
 * and the spec live as long as the process (main.c). */
typedef struct swb_edge_app_sources {
	const struct swb_opts_spec *spec;
	const struct swb_strlist *apps, *hooks;  /* --app, --webhook as parsed at start */
	const char *apps_file;
} swb_edge_app_sources;

typedef struct swb_edge_conn swb_edge_conn;
typedef struct swb_edge_http swb_edge_http;
typedef struct swb_edge_link swb_edge_link;
typedef struct swb_edge_pres swb_edge_pres;
typedef struct swb_edge_signin swb_edge_signin;
typedef struct swb_edge_user swb_edge_user;
typedef struct swb_edge_cache_req swb_edge_cache_req;
typedef struct swb_edge_count_dirty swb_edge_count_dirty;
typedef struct swb_edge_webhooks swb_edge_webhooks;
typedef struct swb_edge_replay swb_edge_replay;
typedef struct swb_edge_listener swb_edge_listener;

enum swb_edge_live_list { SWB_EDGE_LIVE_NONE = 0, SWB_EDGE_LIVE_ACTIVE, SWB_EDGE_LIVE_PINGED };

/* One WebSocket client. Allocated lazily on ESTABLISHED. */
struct swb_edge_conn {
	struct lws *wsi;
	const swb_edge_app *app;     /* NULL while being rejected */
	swb_edge_subs subs;
	char socket_id[32];
	UT_hash_handle hh;           /* swb_edge.by_sid */
	/* liveness: the conn sits in the active or the pinged list, each
	 * ordered by time, so the tick only looks at list heads. */
	swb_edge_conn *prev, *next;
	uint8_t live_list;
	uint64_t live_ms;            /* last inbound (active) or ping sent (pinged) */
	/* inbound message reassembly (owned) */
	char *rx;
	size_t rx_len, rx_cap;
	uint32_t rx_frames;          /* frames of the message being received */
	/* send queue: ring of buffer references (owned) */
	swb_buf **q;
	uint32_t q_head, q_n, q_cap;
	size_t q_bytes;
	/* close once the queue is written (or at once if dropped) */
	int close_code;
	char close_reason[64];
	bool close_sent;
	bool ping_due;
	bool rx_drop;                /* rest of an oversized/binary message is ignored */
	bool wire_marked;            /* in swb_edge.wire_v: flush at the end of this loop turn */
	/* issue #3 state, all NULL/zero for a plain public-channel client */
	swb_edge_pres *pres;         /* presence subscriptions (presence.c) */
	swb_edge_signin *signin;     /* set while signed in (users.c) */
	swb_edge_bucket bucket;      /* client-event rate limit */
	uint16_t cache_watch;        /* cache.c states naming this connection */
};

/* lws per_session_data: two pointers, whatever the connection turns into. */
typedef struct swb_edge_pss {
	swb_edge_conn *conn;
	swb_edge_http *http;
} swb_edge_pss;

typedef struct swb_edge_list {
	swb_edge_conn *head, *tail;
} swb_edge_list;

typedef struct swb_edge_stats {
	uint32_t connections;
	uint64_t connections_total;
	uint64_t messages_in, messages_out;
	uint64_t slow_disconnects;
	uint64_t bad_frames;          /* client frames answered with an error */
	uint64_t bad_deliveries;      /* garbage from the bridge */
	uint64_t link_send_fail;
	uint64_t publishes, publish_fail;
	uint64_t auth_failures;       /* bad channel / sign-in signatures */
	uint64_t client_events, client_events_rejected;
	uint64_t presence_joins, presence_join_fail;
	uint64_t webhooks_sent, webhooks_failed, webhooks_dropped;
	uint64_t accept_failures;     /* --reuseport accept()/adopt failures */
	uint64_t coalesced_sends;     /* sends that carried several frames */
	uint64_t uring_sends;         /* frames sent through io_uring (uring.c) */
	uint64_t uring_submits;       /* io_uring_enter calls that carried them */
	uint64_t partial_sends;       /* of those, sends the socket took only part of */
	uint64_t reload_failures;     /* reloads that kept the old app table (ops.c) */
	/* operations (issue #5) */
	uint64_t bytes_in, bytes_out;   /* client message payload / event frame bytes */
	uint64_t drops;                 /* frames not queued (closing / over the queue) */
	uint64_t api_auth_failures;     /* HTTP API requests answered 401 */
	/* issue #6: hostile input and TLS (metrics.c) */
	uint64_t origin_rejected;     /* WebSocket upgrades from a disallowed Origin (4009) */
	uint64_t http_timeouts;       /* HTTP bodies not complete within --handshake-timeout (408) */
	uint64_t heads_dropped;       /* connections closed before a whole request head (slowloris, TLS failures) */
	uint64_t api_bad_requests;    /* HTTP requests refused with a 4xx other than 401 / 408 */
	uint64_t subscribe_refused;   /* subscribes over the per-connection cap */
	uint64_t subscribe_waits;     /* subscriptions that waited for InterestReady (sub_wait.c) */
	uint64_t fragment_floods;     /* messages over SWB_EDGE_MAX_FRAGMENTS frames (1008) */
	uint64_t pings;               /* pusher:ping messages answered */
	uint64_t tls_reloads, tls_reload_failures;
	uint64_t interest_resyncs;    /* interest sets re-sent after a lost Interest (interest_resync.c) */
	uint64_t uring_aborts;        /* connections closed: io_uring send outcome unknown (uring.c) */
} swb_edge_stats;

#define SWB_EDGE_SYNC_CHUNK 2000     /* channels per InterestSync (message) */

/* interest_resync.c: the state of an interest resync. */
typedef struct swb_edge_resync {
	uv_timer_t timer;
	bool inited;
	bool dirty;                  /* an Interest was lost: the set must be re-sent */
	uint64_t backoff_ms;
	uint64_t failed_sends;       /* this episode */
} swb_edge_resync;

/* metrics.c: totals for a scrape and for EdgeStats (running sums, O(1)). */
typedef struct swb_edge_sample_t {
	uint64_t subscriptions, queued_bytes;
} swb_edge_sample_t;

typedef struct swb_edge {
	swb_edge_config cfg;
	swb_edge_apps apps;
	uv_loop_t loop;
	struct lws_context *lws;
	void *tls_ctx;               /* the vhost's SSL_CTX (tls.c), owned by lws */
	swb_edge_listener *listener; /* --reuseport only */
	bool lws_stopping;
	uv_timer_t tick;
	uv_signal_t sigint, sigterm, sighup;
	uint32_t edge_id;            /* socket_id prefix, random 31-bit */
	char edge_id_str[16];
	uint64_t conn_counter;
	swb_edge_conn *by_sid;       /* uthash: socket_id -> conn */
	swb_edge_list active, pinged;
	swb_edge_chans chans;
	size_t queued_bytes;         /* every connection's q_bytes summed (conn.c) */
	swb_edge_link *link;
	swb_edge_http *pending;      /* uthash: request_id -> waiting request */
	swb_edge_pres *pres_pending; /* uthash: request_id -> presence join awaiting PresenceJoined */
	swb_edge_replay *replay;     /* presence replay in progress (presence.c) */
	swb_edge_user *users;        /* uthash: "app\0user" -> signed-in connections */
	swb_edge_cache_req *cache_pending; /* uthash: request_id -> CacheGet */
	swb_edge_cache_req *cache_by_key;  /* uthash (hk): "socket_id\0channel" -> same */
	uint32_t cache_pending_n;
	swb_edge_count_dirty *counts_dirty; /* uthash: channels whose count changed */
	uv_timer_t counts_timer;
	bool counts_armed;
	swb_edge_webhooks *webhooks;
	/* wire.c: connections with fresh deliveries, written once per loop turn */
	swb_edge_conn **wire_v;
	uint32_t wire_n, wire_cap;
	uv_check_t wire_check;
	uv_prepare_t wire_prepare;
	struct swb_edge_uring *uring; /* uring.c (owned), NULL: plain send()s */
	uint64_t next_request_id;
	uint64_t interest_seq;       /* sub_wait.c: last Interest.seq stamped */
	bool bridge_legacy;          /* sub_wait.c: the bridge sends no InterestReady */
	bool bridge_sync_chunks;     /* Welcome.sync_chunks of the current bridge */
	swb_edge_resync resync;      /* interest_resync.c */
	swb_edge_stats st;
	struct swb_edge_metrics *metrics; /* metrics.c (owned) */
	uint64_t start_ms;
	bool stopping;
	/* drain (drain.c) */
	bool draining;
	uv_timer_t drain_timer;
	uint64_t drain_start_ms, drain_told;
	uint32_t drain_rate, drain_deadline_ms;
	/* operations (main.c, ops.c) */
	uv_timer_t watchdog;
	bool watchdog_on;
	swb_edge_app_sources app_src;
	uint32_t config_generation;  /* 1 at start, +1 per successful reload */
	char reload_error[256];      /* why the last reload failed, "" if it did not */
} swb_edge;

/* server.c */
/* Split --listen "HOST:PORT" / "[V6]:PORT"; HOST must be an IP address,
 * "*" (host becomes ""), or localhost. Returns 0 or -1. */
int swb_edge_parse_listen(const char *s, char *host, size_t hostlen, int *port);
int swb_edge_server_start(swb_edge *e);
void swb_edge_server_stop(swb_edge *e);
void swb_edge_server_free(swb_edge *e);
/* Route lws's log into ours at the level swb_log has now. */
void swb_edge_server_log_level(swb_edge *e);

/* listen.c: an SO_REUSEPORT socket on host:port ("" = every address)
 * whose connections are adopted into vh. 0, or -1 (logged). */
int swb_edge_listener_start(swb_edge *e, struct lws_vhost *vh, const char *host, int port);
void swb_edge_listener_stop(swb_edge *e);

/* wire.c */
void swb_edge_wire_start(swb_edge *e);
void swb_edge_wire_stop(swb_edge *e);
void swb_edge_wire_fini(swb_edge *e);
void swb_edge_wire_mark(swb_edge *e, swb_edge_conn *c);
void swb_edge_wire_forget(swb_edge *e, swb_edge_conn *c);
void swb_edge_wire_flush(swb_edge *e);

/* conn.c */
swb_edge_conn *swb_edge_conn_new(swb_edge *e, struct lws *wsi);
void swb_edge_conn_free(swb_edge *e, swb_edge_conn *c);
/* Queue one reference to b (the caller keeps its own). Returns 0, or -1
 * if the connection is closing or was just closed as a slow consumer. */
int swb_edge_conn_send(swb_edge *e, swb_edge_conn *c, swb_buf *b);
/* Fan-out path: queue (as above) and mark c for the end-of-turn flush
 * (wire.c), which writes all of c's queued frames in one send(). */
int swb_edge_conn_deliver(swb_edge *e, swb_edge_conn *c, swb_buf *b);
/* Write c's queue now (coalesced), or leave it to SERVER_WRITEABLE. */
void swb_edge_conn_flush(swb_edge *e, swb_edge_conn *c);
bool swb_edge_conn_one_frame(swb_edge_conn *c, const unsigned char **p, size_t *len);
void swb_edge_conn_one_frame_sent(swb_edge *e, swb_edge_conn *c, const unsigned char *p, size_t len, int res);
/* Close c at once without writing anything more (its stream state is unknown). */
void swb_edge_conn_abort(swb_edge *e, swb_edge_conn *c, const char *reason);

/* uring.c: the single-frame connections of a wire.c flush, sent in one
 * io_uring_enter. init: 0, or -1 (then add() declines everything). */
int swb_edge_uring_init(swb_edge *e);
void swb_edge_uring_fini(swb_edge *e);
bool swb_edge_uring_add(swb_edge *e, swb_edge_conn *c);
void swb_edge_uring_flush(swb_edge *e);
/* Queue a frame the caller gives up (NULL = allocation failure). */
int swb_edge_conn_send_new(swb_edge *e, swb_edge_conn *c, swb_buf *b);
/* Close with a WebSocket close code once the queue is written; drop=true
 * discards the queue first. */
void swb_edge_conn_close(swb_edge *e, swb_edge_conn *c, int code, const char *reason, bool drop);
void swb_edge_conn_activity(swb_edge *e, swb_edge_conn *c);
/* SERVER_WRITEABLE: write one frame (or ping / close). -1 = close now. */
int swb_edge_conn_writeable(swb_edge *e, swb_edge_conn *c);
void swb_edge_conn_tick(swb_edge *e, uint64_t now_ms);
swb_edge_conn *swb_edge_conn_by_socket_id(swb_edge *e, const char *sid, size_t n);

/* drain.c: the ways an edge ends */
void swb_edge_drain_init(swb_edge *e);
/* Stop taking connections and tell the clients to reconnect elsewhere
 * (pusher:error + close 4200), rate per second (0 = all at once), then
 * stop when they are gone or after deadline_ms. Ignored while draining. */
void swb_edge_drain_start(swb_edge *e, uint32_t rate, uint32_t deadline_ms, const char *why);
/* Stop now: close what is left with 4200, give the close frames a moment,
 * then close every handle so the loop ends. */
void swb_edge_shutdown(swb_edge *e);
/* How many more connections the drain may tell to leave elapsed_ms after
 * it began, having told `told` so far, with `left` not yet told: rate 0
 * means all; else 1 at once and rate per second after that. */
uint64_t swb_edge_drain_quota(uint32_t rate, uint64_t elapsed_ms, uint64_t told, uint64_t left);

/* ops.c: operator commands (SIGHUP / ReloadCmd, LogLevelCmd) */
/* Re-read the app table from its sources; 0, or -1 (old table kept,
 * e->reload_error set, logged). */
int swb_edge_reload(swb_edge *e, const char *why);
/* 0, or -1 for an unknown level name. */
int swb_edge_set_log_level(swb_edge *e, const char *level);

/* pusher.c */
/* Close a Pusher connection on the server's initiative: pusher:error
 * {code, message}, then close with code once it is written. */
void swb_edge_pusher_goaway(swb_edge *e, swb_edge_conn *c, int code, const char *msg);
void swb_edge_pusher_established(swb_edge *e, swb_edge_conn *c);
void swb_edge_pusher_message(swb_edge *e, swb_edge_conn *c, const char *msg, size_t n);
/* Channel lost its last local subscriber (channels.c callback). */
void swb_edge_pusher_chan_gone(void *ctx, const swb_edge_chan *ch);

/* deliver.c */
void swb_edge_deliver(swb_edge *e, const uint8_t *data, size_t len);

/* http.c */
int swb_edge_http_callback(swb_edge *e, struct lws *wsi, int reason, swb_edge_pss *pss, void *in,
			   size_t len);
void swb_edge_http_on_ack(swb_edge *e, uint64_t request_id, bool ok, const char *error);
void swb_edge_http_fail_pending(swb_edge *e, int status, const char *msg);
void swb_edge_http_tick(swb_edge *e, uint64_t now_ms);
/* HTTP API requests waiting for the bridge's answer (a drain waits for them). */
uint32_t swb_edge_http_waiting(const swb_edge *e);
/* LWS_CALLBACK_TIMER on an HTTP transaction: its --handshake-timeout
 * deadline for the body passed. Nonzero = close now. */
int swb_edge_http_deadline(swb_edge *e, swb_edge_pss *pss);
void swb_edge_http_on_query(swb_edge *e, uint64_t request_id, bool ok, const char *error, uint32_t status,
			    const uint8_t *json, size_t len);

/* pusher.c (continued) */
/* Subscription accepted: index it, tell the bridge; then (at once if live
 * or the channel is ready, else when it is: sub_wait.c) answer the client
 * with `data` (a JSON text sent as a string) and ask for the cache. live:
 * the caller knows the bridge delivers the channel to this edge already
 * (an answered presence join). 0, or -1 after sending an error. */
int swb_edge_pusher_add_sub(swb_edge *e, swb_edge_conn *c, const char *name, const char *data, size_t dlen,
			    bool live);
/* pusher_internal:subscription_succeeded with data, then the cache read. */
void swb_edge_pusher_succeeded(swb_edge *e, swb_edge_conn *c, const char *name, size_t n, const char *data,
			       size_t dlen);

/* sub_wait.c: subscriptions waiting for InterestReady (see there). */
bool swb_edge_subwait_may_wait(const swb_edge *e);
/* Stamp ch with a new Interest.seq for the add about to be sent. */
uint64_t swb_edge_subwait_stamp(swb_edge *e, swb_edge_chan *ch);
void swb_edge_subwait_on_ready(swb_edge *e, const char *app, const char *channel, uint64_t seq);
void swb_edge_subwait_link_down(swb_edge *e);
void swb_edge_subwait_welcome(swb_edge *e, uint32_t proto_version);
/* pusher:error (code < 0 = null) and a channel-scoped
 * pusher:subscription_error {type, error, status}. */
void swb_edge_pusher_sub_error(swb_edge *e, swb_edge_conn *c, const char *channel, const char *type,
			       const char *msg, int code, int status);
bool swb_edge_pusher_is_subscribed(swb_edge *e, swb_edge_conn *c, const char *name, size_t n);

/* presence.c */
/* Send a PresenceJoin for c (user_id, user_info owned and taken over).
 * 0, or -1 (not sent; strings freed). */
int swb_edge_presence_join(swb_edge *e, swb_edge_conn *c, const char *channel, char *user_id, char *user_info);
/* A (not cancelled) join for this channel is still unanswered. */
bool swb_edge_presence_pending(const swb_edge_conn *c, const char *channel);
/* Subscribe again while an unsubscribed join is still unanswered: 1 =
 * the pending join is wanted again (same user), -1 = a different user
 * (refuse), 0 = nothing pending. */
int swb_edge_presence_revive(swb_edge_conn *c, const char *channel, const char *user_id);
uint32_t swb_edge_presence_pending_count(const swb_edge_conn *c);
/* user_id of c's joined presence subscription to channel, or NULL. */
const char *swb_edge_presence_user(const swb_edge_conn *c, const char *channel);
/* Unsubscribe: true if c had a (pending or joined) presence subscription. */
bool swb_edge_presence_unsubscribe(swb_edge *e, swb_edge_conn *c, const char *channel);
void swb_edge_presence_conn_closed(swb_edge *e, swb_edge_conn *c);
void swb_edge_presence_on_joined(swb_edge *e, uint64_t request_id, bool ok, const char *error,
				 const uint8_t *members, size_t len);
void swb_edge_presence_link_down(swb_edge *e);
void swb_edge_presence_replay(swb_edge *e);
void swb_edge_presence_tick(swb_edge *e, uint64_t now_ms);
void swb_edge_presence_fini(swb_edge *e);

/* counts.c */
void swb_edge_counts_init(swb_edge *e);
/* The local subscription count of (app, channel) changed. */
void swb_edge_counts_touch(swb_edge *e, const char *app, size_t app_len, const char *ch, size_t ch_len);
void swb_edge_counts_send_all(swb_edge *e);
void swb_edge_counts_stop(swb_edge *e);

/* users.c */
/* Sign c in as user_id (owned, taken over). 0 or -1 (freed). */
int swb_edge_users_signin(swb_edge *e, swb_edge_conn *c, char *user_id);
const char *swb_edge_users_id(const swb_edge_conn *c);
void swb_edge_users_signout(swb_edge *e, swb_edge_conn *c);
/* Close every local connection of app signed in as user (4009). */
void swb_edge_users_terminate(swb_edge *e, const char *app_id, const char *user_id);

/* cache.c */
void swb_edge_cache_get(swb_edge *e, swb_edge_conn *c, const char *channel);
void swb_edge_cache_on_result(swb_edge *e, uint64_t request_id, bool hit, const uint8_t *env, size_t len);
void swb_edge_cache_tick(swb_edge *e, uint64_t now_ms);
void swb_edge_cache_clear(swb_edge *e);
/* Fan-out hook for connections with cache_watch != 0: true when cache.c
 * took (held) or dropped this delivery for c, false to deliver it now. */
bool swb_edge_cache_intercept(swb_edge *e, swb_edge_conn *c, const char *channel, swb_buf *frame,
			      const char *origin, uint64_t id);
/* Connection c is going away: forget its cache states. */
void swb_edge_cache_forget_conn(swb_edge *e, swb_edge_conn *c);

/* webhook.c */
int swb_edge_webhooks_start(swb_edge *e);
void swb_edge_webhooks_stop(swb_edge *e);
/* Queue one webhook event (a JSON object text) for app. */
void swb_edge_webhook_event(swb_edge *e, const swb_edge_app *app, const char *json, size_t len);
void swb_edge_webhooks_lib_fini(void);
/* Send every batched event now (before a reload changes the hooks). */
void swb_edge_webhooks_flush(swb_edge *e);

/* metrics.c: the registry behind /metrics (docs/operations.md) */
int swb_edge_metrics_init(swb_edge *e);
void swb_edge_metrics_fini(swb_edge *e);
/* Append the exposition text to out. */
struct swb_sbuf;
void swb_edge_metrics_render(swb_edge *e, struct swb_sbuf *out);
void swb_edge_metrics_http(swb_edge *e, int status); /* a response went out */
void swb_edge_metrics_latency(swb_edge *e, uint64_t origin_us); /* Envelope.origin_time_us */
void swb_edge_sample(swb_edge *e, swb_edge_sample_t *s);

/* bridge_link.c */
int swb_edge_link_start(swb_edge *e);
void swb_edge_link_stop(swb_edge *e);
/* Pipe up and Welcome received. */
bool swb_edge_link_ready(const swb_edge *e);
/* Times edge-ID.ipc was re-created after it stopped accepting (nng#1518). */
uint64_t swb_edge_link_listener_restarts(const swb_edge *e);
bool swb_edge_link_up(const swb_edge *e);
/* The bridge's last BridgeHealth: Redis connected and its pub/sub probe
 * coming back (true until a bridge says otherwise). */
bool swb_edge_link_bridge_ready(const swb_edge *e, const char **why);
/* interest_resync.c: re-sending the interest set after a lost Interest. */
void swb_edge_resync_init(swb_edge *e);
void swb_edge_resync_fini(swb_edge *e);
/* what (for the log) could not be sent: mark the set dirty, retry soon. */
void swb_edge_resync_needed(swb_edge *e, const char *what);
/* A new pipe (or none): its Hello + InterestSync replace a pending resync. */
void swb_edge_resync_link_changed(swb_edge *e);

/* Interest add (seq: swb_edge_subwait_stamp) or remove (seq 0). A send
 * that fails is made good by a resync (interest_resync.c). */
void swb_edge_link_interest(swb_edge *e, const char *app, size_t app_len, const char *ch, size_t ch_len,
			    bool add, uint64_t seq);
/* 0 sent, -1 not connected / failed. */
int swb_edge_link_publish(swb_edge *e, uint64_t request_id, const char *app_id,
			  const swb_edge_api_publish *p);
void swb_edge_link_stats(swb_edge *e);
/* true when a's cluster-wide total (AppUsage) is recent enough to admit by */
bool swb_edge_link_usage_fresh(const swb_edge *e, const swb_edge_app *a);
/* Send one packed EdgeMsg (a Swb__EdgeMsg *; void to keep protobuf out of
 * this header). 0, or -1 if not connected / failed. */
int swb_edge_link_send(swb_edge *e, const void *edge_msg);
/* Announce the (reloaded) app list to the bridge again, if connected. */
void swb_edge_link_hello(swb_edge *e);
uint64_t swb_edge_next_request_id(swb_edge *e);
/* Handle one packed BridgeMsg as if the bridge had sent it (what the
 * receive callback does with each message; the fuzz target calls it). */
void swb_edge_link_handle(swb_edge *e, const uint8_t *p, size_t n);
/* At process exit, after swb_edge_link_stop and the loop have finished. */
void swb_edge_link_lib_fini(void);

#endif
