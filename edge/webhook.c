/* webhook.c: sending webhooks. Events (from the bridge's WebhookEvent, or
 * client_event from this edge) are filtered per configured URL by type,
 * batched per (app, URL) for SWB_WH_BATCH_MS or SWB_WH_BATCH_MAX events,
 * signed (webhook_body.c) and POSTed with libcurl's multi interface driven
 * by the uv loop (CURLMOPT_SOCKETFUNCTION -> uv_poll_t per socket,
 * CURLMOPT_TIMERFUNCTION -> uv_timer_t, a third timer for retries); the
 * loop never blocks. Any 2xx is
 * done; anything else is retried with exponential backoff (1 s doubling)
 * for at most SWB_WH_MAX_AGE_MS / SWB_WH_MAX_ATTEMPTS. At most
 * SWB_WH_QUEUE_MAX requests exist at once; beyond that a batch is dropped,
 * counted and logged.
 *
 * Ownership: swb_edge.webhooks owns the curl multi handle, the per-app
 * batch buffers (wh_app), every request (wh_req: body, headers, easy
 * handle) and every socket context (wh_sock, freed when its poll handle
 * has closed). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "crypto.h"
#include "edge.h"
#include "frames.h"
#include "log.h"
#include "util.h"
#include "webhook_body.h"

#define SWB_WH_BATCH_MS 50
#define SWB_WH_BATCH_MAX 50
#define SWB_WH_EVENT_MAX (64 * 1024)
#define SWB_WH_QUEUE_MAX 1000
#define SWB_WH_TIMEOUT_MS 5000
#define SWB_WH_MAX_ATTEMPTS 10
#define SWB_WH_MAX_AGE_MS (5 * 60 * 1000)

typedef struct wh_app {
	UT_hash_handle hh;
	const swb_edge_app *app;
	swb_sbuf ev[SWB_EDGE_APP_MAX_WEBHOOKS]; /* comma-separated event objects */
	uint32_t n[SWB_EDGE_APP_MAX_WEBHOOKS];
} wh_app;

typedef struct wh_req {
	struct wh_req *prev, *next;
	const swb_edge_app *app;      /* the app table outlives every request */
	size_t hook;
	char *url;                    /* owned copy: a reload may change the app's hooks */
	char *body;                   /* owned */
	size_t len;
	struct curl_slist *headers;   /* owned */
	CURL *easy;                   /* owned while in flight */
	uint32_t attempts;
	uint64_t first_ms, next_ms;
} wh_req;

typedef struct wh_sock {
	uv_poll_t poll;
	struct wh_sock *prev, *next;  /* in swb_edge_webhooks.socks */
	struct swb_edge_webhooks *w;
	curl_socket_t fd;
} wh_sock;

struct swb_edge_webhooks {
	swb_edge *e;
	CURLM *multi;
	uv_timer_t curl_timer, batch_timer, retry_timer;
	bool batch_armed;
	wh_app *apps;                 /* uthash by app pointer */
	wh_req *head;                 /* every request, in flight or waiting */
	wh_sock *socks;               /* every socket curl asked us to watch */
	uint32_t n_reqs;
	int open_handles;
	bool stopping;
};

static void req_free(struct swb_edge_webhooks *w, wh_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		w->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (r->easy) {
		curl_multi_remove_handle(w->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	free(r->url);
	free(r->body);
	free(r);
	w->n_reqs--;
}

static size_t discard(char *p, size_t size, size_t n, void *u) { return size * n; }

static int start_req(struct swb_edge_webhooks *w, wh_req *r)
{
	CURL *c = curl_easy_init();
	if (!c)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)r->len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)SWB_WH_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_PRIVATE, r);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "switchboard-webhooks/" SWB_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (curl_multi_add_handle(w->multi, c) != CURLM_OK) {
		curl_easy_cleanup(c);
		return -1;
	}
	r->easy = c;
	r->attempts++;
	return 0;
}

static void on_retry_timer(uv_timer_t *t);

/* Wake up for the earliest waiting retry. */
static void arm_retry(struct swb_edge_webhooks *w)
{
	uint64_t next = UINT64_MAX, now = swb_mono_ms();
	for (wh_req *r = w->head; r; r = r->next)
		if (!r->easy && r->next_ms < next)
			next = r->next_ms;
	if (next == UINT64_MAX)
		uv_timer_stop(&w->retry_timer);
	else
		uv_timer_start(&w->retry_timer, on_retry_timer, next > now ? next - now : 0, 0);
}

/* A finished or failed attempt: done, retry later, or give up. */
static void attempt_done(struct swb_edge_webhooks *w, wh_req *r, long status, CURLcode rc)
{
	swb_edge *e = w->e;
	curl_multi_remove_handle(w->multi, r->easy);
	curl_easy_cleanup(r->easy);
	r->easy = NULL;
	if (rc == CURLE_OK && status >= 200 && status < 300) {
		e->st.webhooks_sent++;
		req_free(w, r);
		return;
	}
	uint64_t now = swb_mono_ms(), delay = 1000ull << (r->attempts - 1 < 16 ? r->attempts - 1 : 16);
	if (r->attempts >= SWB_WH_MAX_ATTEMPTS || now + delay - r->first_ms > SWB_WH_MAX_AGE_MS) {
		e->st.webhooks_failed++;
		swb_warn("webhook to %s (app %s) failed after %u attempts (last: %s, HTTP %ld): dropped",
			 r->url, r->app->id, r->attempts, curl_easy_strerror(rc), status);
		req_free(w, r);
		return;
	}
	swb_debug("webhook to %s (app %s): %s, HTTP %ld; retry in %llu ms", r->url, r->app->id,
		  curl_easy_strerror(rc), status, (unsigned long long)delay);
	r->next_ms = now + delay;
	arm_retry(w);
}

static void check_done(struct swb_edge_webhooks *w)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(w->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		wh_req *r = NULL;
		long status = 0;
		CURL *easy = m->easy_handle;
		CURLcode rc = m->data.result;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (r)
			attempt_done(w, r, status, rc);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	wh_sock *s = h->data;
	int flags = 0, running;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else
		flags = ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) | ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
	struct swb_edge_webhooks *w = s->w;
	curl_multi_socket_action(w->multi, s->fd, flags, &running);
	check_done(w);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct swb_edge_webhooks *w = ((wh_sock *)h->data)->w;
	free(h->data);
	if (--w->open_handles == 0 && w->stopping)
		free(w);
}

static void sock_close(struct swb_edge_webhooks *w, wh_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		w->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct swb_edge_webhooks *w = userp;
	wh_sock *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(w->multi, fd, NULL);
			sock_close(w, s);
		}
		return 0;
	}
	if (!s) {
		if (!(s = calloc(1, sizeof(*s))) || uv_poll_init_socket(&w->e->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->w = w;
		s->fd = fd;
		s->poll.data = s;
		s->next = w->socks;
		if (w->socks)
			w->socks->prev = s;
		w->socks = s;
		w->open_handles++;
		curl_multi_assign(w->multi, fd, s);
	}
	int ev = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
	struct swb_edge_webhooks *w = t->data;
	int running;
	curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(w);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct swb_edge_webhooks *w = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&w->curl_timer);
	else
		uv_timer_start(&w->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A signed request for one batch (events: comma-separated objects), not
 * yet queued; NULL on allocation failure. */
static wh_req *req_new(const swb_edge_app *app, size_t hook, const swb_sbuf *events)
{
	swb_sbuf body;
	char sig[SWB_SHA256_HEX_LEN + 1], h1[160], h2[100];
	wh_req *r = calloc(1, sizeof(*r));
	swb_sbuf_init(&body);
	swb_edge_webhook_body(&body, wall_ms(), events->p, events->len);
	if (!r || body.oom || swb_edge_webhook_sign(app, body.p, body.len, sig) < 0 ||
	    !(r->url = strdup(app->webhooks[hook].url)))
		goto fail;
	snprintf(h1, sizeof(h1), "X-Pusher-Key: %s", app->key);
	snprintf(h2, sizeof(h2), "X-Pusher-Signature: %s", sig);
	const char *hdrs[] = { "Content-Type: application/json", h1, h2, "Expect:" };
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		struct curl_slist *l = curl_slist_append(r->headers, hdrs[i]);
		if (!l)
			goto fail;
		r->headers = l;
	}
	r->app = app;
	r->hook = hook;
	r->body = body.p; /* taken over */
	r->len = body.len;
	r->first_ms = r->next_ms = swb_mono_ms();
	return r;
fail:
	if (r) {
		curl_slist_free_all(r->headers);
		free(r->url);
	}
	free(r);
	swb_sbuf_free(&body);
	return NULL;
}

/* Queue and start a request for one batch, or drop it (bounded queue). */
static void make_req(struct swb_edge_webhooks *w, const swb_edge_app *app, size_t hook, const swb_sbuf *events)
{
	static uint64_t dropped;
	wh_req *r = w->n_reqs < SWB_WH_QUEUE_MAX ? req_new(app, hook, events) : NULL;
	if (!r) {
		w->e->st.webhooks_dropped++;
		if (dropped++ % 100 == 0)
			swb_warn("webhook queue full (%d requests) or out of memory: dropping a batch for app %s (%llu dropped so far)",
				 SWB_WH_QUEUE_MAX, app->id, (unsigned long long)dropped);
		return;
	}
	r->next = w->head;
	if (w->head)
		w->head->prev = r;
	w->head = r;
	w->n_reqs++;
	if (start_req(w, r) < 0) {
		r->next_ms = swb_mono_ms() + 1000;
		arm_retry(w);
	}
}

static void flush_app(struct swb_edge_webhooks *w, wh_app *a)
{
	for (size_t i = 0; i < a->app->n_webhooks; i++) {
		if (!a->n[i])
			continue;
		if (!a->ev[i].oom)
			make_req(w, a->app, i, &a->ev[i]);
		swb_sbuf_free(&a->ev[i]);
		a->n[i] = 0;
	}
}

static void on_batch_timer(uv_timer_t *t)
{
	struct swb_edge_webhooks *w = t->data;
	w->batch_armed = false;
	wh_app *a, *tmp;
	HASH_ITER(hh, w->apps, a, tmp)
		flush_app(w, a);
}

void swb_edge_webhooks_flush(swb_edge *e)
{
	if (e->webhooks && !e->webhooks->stopping)
		on_batch_timer(&e->webhooks->batch_timer);
}

static wh_app *app_state(struct swb_edge_webhooks *w, const swb_edge_app *app)
{
	wh_app *a = NULL;
	HASH_FIND_PTR(w->apps, &app, a);
	if (!a && (a = calloc(1, sizeof(*a)))) {
		a->app = app;
		HASH_ADD_PTR(w->apps, app, a);
	}
	return a;
}

void swb_edge_webhook_event(swb_edge *e, const swb_edge_app *app, const char *json, size_t len)
{
	struct swb_edge_webhooks *w = e->webhooks;
	if (!w || w->stopping || !app->n_webhooks)
		return;
	uint32_t type = len <= SWB_WH_EVENT_MAX && swb_edge_utf8_valid(json, len) ? swb_edge_webhook_event_type(json, len) : 0;
	wh_app *a = type ? app_state(w, app) : NULL;
	if (!a) {
		e->st.bad_deliveries++;
		return;
	}
	for (size_t i = 0; i < app->n_webhooks; i++) {
		if (!(app->webhooks[i].events & type))
			continue;
		if (a->n[i]++)
			swb_sbuf_puts(&a->ev[i], ",");
		swb_sbuf_append(&a->ev[i], json, len);
		if (a->n[i] >= SWB_WH_BATCH_MAX) {
			make_req(w, app, i, &a->ev[i]);
			swb_sbuf_free(&a->ev[i]);
			a->n[i] = 0;
		}
	}
	if (!w->batch_armed) {
		w->batch_armed = true;
		uv_timer_start(&w->batch_timer, on_batch_timer, SWB_WH_BATCH_MS, 0);
	}
}

static void on_retry_timer(uv_timer_t *t)
{
	struct swb_edge_webhooks *w = t->data;
	uint64_t now = swb_mono_ms();
	for (wh_req *r = w->head; r; r = r->next)
		if (!r->easy && now >= r->next_ms && start_req(w, r) < 0)
			r->next_ms = now + 1000;
	arm_retry(w);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct swb_edge_webhooks *w = h->data;
	if (--w->open_handles == 0)
		free(w);
}

int swb_edge_webhooks_start(swb_edge *e)
{
	struct swb_edge_webhooks *w = calloc(1, sizeof(*w));
	if (!w || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(w->multi = curl_multi_init())) {
		free(w);
		swb_err("libcurl initialisation failed: webhooks disabled");
		return -1;
	}
	w->e = e;
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
	curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 32L);
	uv_timer_init(&e->loop, &w->curl_timer);
	uv_timer_init(&e->loop, &w->batch_timer);
	uv_timer_init(&e->loop, &w->retry_timer);
	w->curl_timer.data = w->batch_timer.data = w->retry_timer.data = w;
	w->open_handles = 3;
	e->webhooks = w;
	return 0;
}

void swb_edge_webhooks_stop(swb_edge *e)
{
	struct swb_edge_webhooks *w = e->webhooks;
	if (!w)
		return;
	e->webhooks = NULL;
	w->stopping = true;
	size_t lost = w->n_reqs;
	while (w->head)
		req_free(w, w->head);
	wh_app *a, *tmp;
	HASH_ITER(hh, w->apps, a, tmp) {
		for (size_t i = 0; i < SWB_EDGE_APP_MAX_WEBHOOKS; i++)
			swb_sbuf_free(&a->ev[i]);
		HASH_DEL(w->apps, a);
		free(a);
	}
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, NULL); /* we close what is left ourselves */
	curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, NULL);
	curl_multi_cleanup(w->multi);
	while (w->socks)
		sock_close(w, w->socks);
	if (lost)
		swb_info("shutdown: %zu webhook request(s) not delivered", lost);
	uv_close((uv_handle_t *)&w->curl_timer, on_timer_closed);
	uv_close((uv_handle_t *)&w->batch_timer, on_timer_closed);
	uv_close((uv_handle_t *)&w->retry_timer, on_timer_closed);
}

void swb_edge_webhooks_lib_fini(void) { curl_global_cleanup(); }
