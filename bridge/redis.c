/* redis.c: the bridge's two Redis connections and their life cycle.
 *
 * "cmd" carries CLIENT SETNAME, SELECT and PUBLISH; "sub" carries CLIENT
 * SETNAME and (P)(UN)SUBSCRIBE only, all with one catch-all callback
 * (on_sub_reply) that validates every reply. Each connection connects
 * non-blocking with a 2 s timeout and, when lost, reconnects from its timer
 * with exponential backoff (100 ms doubling to 5 s, jittered; reset only
 * after a connection stayed up STABLE_MS). hiredis owns
 * and frees the contexts; we drop our pointer in the connect-failure and
 * disconnect callbacks.
 *
 * Subscriptions follow the interest table (swb_bridge_chan.sub_state): a
 * channel is SUBSCRIBEd when it gains its first edge and UNSUBSCRIBEd when it
 * loses its last; a re-SUBSCRIBE waits for the pending UNSUBSCRIBE's
 * confirmation. A permanent PSUBSCRIBE on PREFIX:__bridge:HOST:probe keeps
 * hiredis 0.14.1 in subscribe mode even when no channel is subscribed (its
 * bookkeeping asserts if a reply arrives after it left that mode), and
 * carries the end-to-end probe (probe.c). The
 * sub connection also SUBSCRIBEs PREFIX:ctl for as long as it is up
 * (cluster.c: terminate); the cmd connection, once up, loads the scripts
 * and re-applies this host's state (cluster.c). */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "log.h"
#include "redis_guard.h"
#include "redis_uv.h"
#include "sub_reply.h"
#include "util.h"

#define CONNECT_TIMEOUT_MS 2000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define SUBSCRIBE_BATCH 100
#define STABLE_MS 5000 /* a connection up this long resets the backoff */

static void conn_start(swb_bridge_rconn *rc);

bool swb_bridge_redis_cmd_up(const swb_bridge *b)
{
	return b->cmd.state == SWB_RCONN_UP && b->cmd.ac;
}

const char *swb_bridge_redis_state(const swb_bridge *b)
{
	if (b->url.none)
		return "none";
	if (b->cmd.state == SWB_RCONN_UP && b->sub.state == SWB_RCONN_UP)
		return "connected";
	if (b->cmd.state == SWB_RCONN_CONNECTING || b->sub.state == SWB_RCONN_CONNECTING)
		return "connecting";
	return "disconnected";
}

size_t swb_bridge_redis_subscribed(const swb_bridge *b)
{
	size_t n = 0;
	for (const swb_bridge_chan *ch = b->interest.chans; ch; ch = ch->hh.next)
		n += ch->sub_state == SWB_SUB_ON;
	return n;
}

int swb_bridge_redis_publish(swb_bridge *b, const char *name, size_t name_len, const uint8_t *payload,
			     size_t len, redisCallbackFn *fn, void *privdata)
{
	if (!swb_bridge_redis_cmd_up(b))
		return -1;
	const char *argv[3] = { "PUBLISH", name, (const char *)payload };
	size_t lens[3] = { 7, name_len, len };
	return redisAsyncCommandArgv(b->cmd.ac, fn, privdata, 3, argv, lens) == REDIS_OK ? 0 : -1;
}

/* ---- subscriptions ---- */

static bool sub_up(const swb_bridge *b)
{
	return b->sub.state == SWB_RCONN_UP && b->sub.ac;
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Send `cmd` for names[0..n). Returns 0 or -1. */
static int sub_command(swb_bridge *b, const char *cmd, const char **names, const size_t *lens, size_t n)
{
	const char *argv[SUBSCRIBE_BATCH + 1];
	size_t argl[SUBSCRIBE_BATCH + 1];
	argv[0] = cmd;
	argl[0] = strlen(cmd);
	for (size_t i = 0; i < n; i++) {
		argv[i + 1] = names[i];
		argl[i + 1] = lens[i];
	}
	return redisAsyncCommandArgv(b->sub.ac, on_sub_reply, b, (int)n + 1, argv, argl) == REDIS_OK ? 0 : -1;
}

static int sub_one(swb_bridge *b, const char *cmd, swb_bridge_chan *ch)
{
	const char *name = ch->name;
	return sub_command(b, cmd, &name, &ch->len, 1);
}

/* Bring ch's Redis state in line with whether any edge wants it. */
static void chan_sync(swb_bridge *b, swb_bridge_chan *ch)
{
	bool want = ch->n > 0;
	if (b->url.none) {
		if (!want)
			swb_bridge_interest_release(&b->interest, ch);
		return;
	}
	switch (ch->sub_state) {
	case SWB_SUB_NONE:
		if (!want)
			swb_bridge_interest_release(&b->interest, ch);
		else if (sub_up(b) && sub_one(b, "SUBSCRIBE", ch) == 0)
			ch->sub_state = SWB_SUB_ON, ch->confirmed = false;
		break; /* not up: subscribed on (re)connect */
	case SWB_SUB_ON:
		if (want)
			break;
		if (sub_up(b) && sub_one(b, "UNSUBSCRIBE", ch) == 0) {
			ch->sub_state = SWB_SUB_LEAVING, ch->confirmed = false;
		} else {
			ch->sub_state = SWB_SUB_NONE;
			swb_bridge_interest_release(&b->interest, ch);
		}
		break;
	default:
		break; /* LEAVING: decided when the confirmation arrives */
	}
}

void swb_bridge_redis_chan_changed(void *ctx, swb_bridge_chan *ch)
{
	chan_sync(ctx, ch);
}

static void on_unsubscribed(swb_bridge *b, const swb_bridge_subrep *r)
{
	if (r->pattern || !r->chan)
		return;
	swb_bridge_chan *ch = swb_bridge_interest_find(&b->interest, r->chan, r->chan_len);
	if (!ch || ch->sub_state != SWB_SUB_LEAVING)
		return;
	ch->sub_state = SWB_SUB_NONE;
	chan_sync(b, ch);
}

static void on_subscribed(swb_bridge *b, const swb_bridge_subrep *r)
{
	if (r->pattern || !r->chan)
		return;
	swb_bridge_chan *ch = swb_bridge_interest_find(&b->interest, r->chan, r->chan_len);
	if (!ch || ch->sub_state != SWB_SUB_ON)
		return;
	ch->confirmed = true;
	swb_bridge_ready_confirmed(b, ch); /* before parked requests answer (cache.c) */
	swb_bridge_presence_subscribed(b, ch->name, ch->len);
}

static void bad_sub_reply(swb_bridge *b, const char *what, const char *text)
{
	b->cnt.redis_bad_reply++;
	swb_bridge_ratelog_emit(&b->rl_redis, SWB_LOG_WARN, "subscribe connection: %s%s%.200s", what,
			   text ? ": " : "", text ? text : "");
}

static void rebuild(swb_bridge_rconn *rc, const char *reason);

/* The subscribe connection said something no Redis says there: what it
 * is subscribed to is unknown from now on. Rebuild it (on the next loop
 * turn: a hiredis context must not be freed inside its own callback);
 * on_disconnect forgets its subscriptions and reconnects with backoff. */
static void on_rebuild(uv_timer_t *t) { rebuild(t->data, "unexpected reply on the subscribe connection"); }

static void rebuild_sub(swb_bridge *b)
{
	if (b->sub.state != SWB_RCONN_UP || b->redis_stopping)
		return;
	uv_timer_start(&b->sub.timer, on_rebuild, 0, 0);
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge *b = privdata;
	swb_bridge_subrep r;
	switch (swb_bridge_subrep_parse(reply, &r)) {
	case SWB_SUBREP_MESSAGE:
		b->cnt.redis_msgs_in++;
		b->cnt.redis_bytes_in += r.payload_len;
		if (r.chan_len == strlen(b->ctl_chan) && !memcmp(r.chan, b->ctl_chan, r.chan_len))
			swb_bridge_cluster_ctl_message(b, r.payload, r.payload_len);
		else
			swb_bridge_deliver(b, r.chan, r.chan_len, (const uint8_t *)r.payload, r.payload_len);
		break;
	case SWB_SUBREP_UNSUBSCRIBE:
		on_unsubscribed(b, &r);
		break;
	case SWB_SUBREP_SUBSCRIBE: /* confirmation: parked presence joins may go */
		if (r.pattern)
			swb_bridge_probe_subscribed(b);
		else
			on_subscribed(b, &r);
		break;
	case SWB_SUBREP_PMESSAGE: /* the probe (probe.c) */
		if (r.chan_len == strlen(b->probe) && !memcmp(r.chan, b->probe, r.chan_len))
			swb_bridge_probe_message(b, r.payload, r.payload_len);
		break;
	case SWB_SUBREP_NULL:      /* connection going away */
	case SWB_SUBREP_STATUS:    /* +OK to CLIENT SETNAME */
		break;
	case SWB_SUBREP_ERROR:
		bad_sub_reply(b, "error reply", r.text);
		break;
	default:
		bad_sub_reply(b, "unexpected reply", NULL);
		rebuild_sub(b);
		break;
	}
}

/* After (re)connecting: SUBSCRIBE every wanted channel, in batches. */
static void resubscribe_all(swb_bridge *b)
{
	const char *names[SUBSCRIBE_BATCH];
	size_t lens[SUBSCRIBE_BATCH], n = 0, total = 0;
	for (swb_bridge_chan *ch = b->interest.chans; ch; ch = ch->hh.next) {
		if (ch->n == 0 || ch->sub_state != SWB_SUB_NONE)
			continue;
		names[n] = ch->name;
		lens[n++] = ch->len;
		ch->sub_state = SWB_SUB_ON;
		ch->confirmed = false;
		if (n == SUBSCRIBE_BATCH) {
			sub_command(b, "SUBSCRIBE", names, lens, n);
			total += n, n = 0;
		}
	}
	if (n)
		sub_command(b, "SUBSCRIBE", names, lens, n);
	total += n;
	if (total)
		swb_info("redis sub: subscribing to %zu channels", total);
}

/* Subscribe connection lost: nothing is subscribed any more. */
static void forget_subscriptions(swb_bridge *b)
{
	swb_bridge_chan *ch, *tmp;
	HASH_ITER(hh, b->interest.chans, ch, tmp) {
		ch->sub_state = SWB_SUB_NONE;
		ch->confirmed = false;
		swb_bridge_interest_release(&b->interest, ch);
	}
}

/* ---- connection life cycle ---- */

static void on_cmd_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	swb_bridge_rconn *rc = privdata;
	redisReply *r = reply;
	if (r && r->type == REDIS_REPLY_ERROR)
		swb_warn("redis %s: %s", rc->role, r->str ? r->str : "error");
}

static void on_up(swb_bridge_rconn *rc)
{
	swb_bridge *b = rc->b;
	char name[160];
	snprintf(name, sizeof(name), "swb-%s-%s", b->host_id, rc->role);
	if (rc == &b->cmd) {
		redisAsyncCommand(rc->ac, on_cmd_reply, rc, "CLIENT SETNAME %s", name);
		if (b->url.has_db)
			redisAsyncCommand(rc->ac, on_cmd_reply, rc, "SELECT %d", b->url.db);
		swb_bridge_cluster_cmd_up(b);
		return;
	}
	redisAsyncCommand(rc->ac, on_sub_reply, b, "CLIENT SETNAME %s", name);
	redisAsyncCommand(rc->ac, on_sub_reply, b, "PSUBSCRIBE %s", b->probe);
	redisAsyncCommand(rc->ac, on_sub_reply, b, "SUBSCRIBE %s", b->ctl_chan);
	resubscribe_all(b);
}

static void schedule_retry(swb_bridge_rconn *rc, uint64_t delay_ms);

static void retry_later(swb_bridge_rconn *rc)
{
	uint64_t base = rc->backoff_ms ? rc->backoff_ms : BACKOFF_MIN_MS;
	uint64_t delay = base / 2 + (uint64_t)rand() % (base / 2 + 1);
	rc->backoff_ms = base * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : base * 2;
	schedule_retry(rc, delay);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
	swb_bridge_rconn *rc = cac->data;
	swb_bridge *b = rc->b;
	uv_timer_stop(&rc->timer);
	if (status != REDIS_OK) {
		if (!rc->lost_logged)
			swb_warn("redis %s: cannot connect to %s:%d: %s", rc->role, b->url.host, b->url.port,
				 cac->errstr);
		rc->lost_logged = true;
		rc->ac = NULL; /* hiredis frees it after this callback */
		rc->state = SWB_RCONN_DOWN;
		retry_later(rc);
		return;
	}
	rc->lost_logged = false;
	rc->up_ms = swb_mono_ms();
	rc->state = SWB_RCONN_UP;
	/* reconnects: times the pair became whole again after having been */
	if (b->cmd.state == SWB_RCONN_UP && b->sub.state == SWB_RCONN_UP) {
		if (b->redis_was_up)
			b->reconnects++;
		b->redis_was_up = true;
	}
	swb_info("redis %s connected to %s:%d", rc->role, b->url.host, b->url.port);
	on_up(rc);
	swb_bridge_probe_conn_changed(b);
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
	swb_bridge_rconn *rc = cac->data;
	swb_bridge *b = rc->b;
	rc->ac = NULL; /* hiredis frees it after this callback */
	rc->state = SWB_RCONN_DOWN;
	if (rc == &b->sub)
		forget_subscriptions(b);
	else
		swb_bridge_scripts_forget(b);
	if (b->redis_stopping)
		return;
	/* A server that accepts and then fails at once must not make us spin:
	 * the backoff restarts only after a connection that held up. */
	if (swb_mono_ms() - rc->up_ms >= STABLE_MS)
		rc->backoff_ms = 0;
	b->cnt.redis_lost++;
	if (cac->err == REDIS_ERR_PROTOCOL ||
	    !strncmp(cac->errstr, SWB_BRIDGE_GUARD_PREFIX, strlen(SWB_BRIDGE_GUARD_PREFIX)))
		b->cnt.redis_bad_reply++;
	swb_warn("redis %s connection lost: %s", rc->role, cac->errstr[0] ? cac->errstr : "closed");
	rc->lost_logged = true;
	retry_later(rc);
	swb_bridge_probe_conn_changed(b);
}

/* Close a connection that is up but not working (probe.c): hiredis calls
 * on_disconnect, which reconnects with backoff (and, for sub, every
 * subscription follows on the new connection). Never call this from a
 * hiredis callback of the same connection. */
static void rebuild(swb_bridge_rconn *rc, const char *reason)
{
	redisAsyncContext *ac = rc->ac;
	if (!ac || rc->state != SWB_RCONN_UP)
		return;
	ac->c.err = REDIS_ERR_OTHER;
	snprintf(ac->c.errstr, sizeof(ac->c.errstr), "%s", reason);
	redisAsyncFree(ac);
}

void swb_bridge_redis_rebuild_sub(swb_bridge *b, const char *reason) { rebuild(&b->sub, reason); }
void swb_bridge_redis_rebuild_cmd(swb_bridge *b, const char *reason) { rebuild(&b->cmd, reason); }

static void on_timer(uv_timer_t *t)
{
	swb_bridge_rconn *rc = t->data;
	if (rc->state != SWB_RCONN_CONNECTING) {
		conn_start(rc);
		return;
	}
	/* connect timeout: free without callbacks (it never connected) */
	redisAsyncContext *ac = rc->ac;
	rc->ac = NULL;
	rc->state = SWB_RCONN_DOWN;
	swb_debug("redis %s: connect attempt timed out", rc->role);
	if (!rc->lost_logged)
		swb_warn("redis %s: connect to %s:%d timed out", rc->role, rc->b->url.host, rc->b->url.port);
	rc->lost_logged = true;
	if (ac)
		redisAsyncFree(ac);
	retry_later(rc);
}

static void schedule_retry(swb_bridge_rconn *rc, uint64_t delay_ms)
{
	if (!rc->b->redis_stopping)
		uv_timer_start(&rc->timer, on_timer, delay_ms, 0);
}

static void conn_start(swb_bridge_rconn *rc)
{
	swb_bridge *b = rc->b;
	swb_debug("redis %s: connecting to %s:%d", rc->role, b->url.host, b->url.port);
	redisAsyncContext *ac = redisAsyncConnect(b->url.host, b->url.port);
	if (!ac || ac->err || swb_bridge_redis_uv_attach(ac, b->loop) < 0) {
		if (!rc->lost_logged)
			swb_warn("redis %s: cannot connect to %s:%d: %s", rc->role, b->url.host, b->url.port,
				 ac ? ac->errstr : "out of memory");
		rc->lost_logged = true;
		if (ac)
			redisAsyncFree(ac);
		retry_later(rc);
		return;
	}
	swb_bridge_redis_guard_install(ac);
	ac->data = rc;
	rc->ac = ac;
	rc->state = SWB_RCONN_CONNECTING;
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	redisAsyncSetConnectCallback(ac, on_connect); /* after attach: it arms the write poll */
	uv_timer_start(&rc->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
}

static void conn_init(swb_bridge *b, swb_bridge_rconn *rc, const char *role)
{
	rc->b = b;
	rc->role = role;
	uv_timer_init(b->loop, &rc->timer);
	rc->timer.data = rc;
}

int swb_bridge_redis_init(swb_bridge *b)
{
	snprintf(b->probe, sizeof(b->probe), "%s:__bridge:%s:probe", b->prefix, b->host_id);
	conn_init(b, &b->cmd, "cmd");
	conn_init(b, &b->sub, "sub");
	b->redis_inited = true;
	if (b->url.none) {
		swb_info("no Redis (--redis none): single-host mode");
		return 0;
	}
	conn_start(&b->cmd);
	conn_start(&b->sub);
	return 0;
}

static void conn_fini(swb_bridge_rconn *rc)
{
	uv_timer_stop(&rc->timer);
	uv_close((uv_handle_t *)&rc->timer, NULL);
	redisAsyncContext *ac = rc->ac;
	rc->ac = NULL;
	rc->state = SWB_RCONN_DOWN;
	if (ac)
		redisAsyncFree(ac); /* pending callbacks get NULL replies */
}

void swb_bridge_redis_fini(swb_bridge *b)
{
	if (!b->redis_inited)
		return;
	b->redis_stopping = true;
	conn_fini(&b->cmd);
	conn_fini(&b->sub);
	b->redis_inited = false;
}
