/* ipc_watchdog.c: creates our NNG IPC listeners and re-creates one that
 * stopped accepting (nng bug #1518; see ipc_watchdog.h for the mechanism
 * and the check). Runs on one libuv loop: one repeating timer, at most one
 * check connection open. A check started at one tick is judged at the
 * following ones, so it has at least a whole interval to finish; a verdict
 * only reads what already arrived on the connection (a late loop cannot
 * fake a failure). */
#include "ipc_watchdog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define IPCWD_SILENT_TICKS 2     /* judgements with the header but no EOF: stalled */
#define IPCWD_HDR_TICKS 4        /* judgements without the header: failed */
#define IPCWD_CONNECT_FAILS 2    /* refused / missing file, in a row: re-create */
#define IPCWD_BURST 10           /* re-creations allowed back to back ... */
#define IPCWD_REFILL_MS 60000    /* ... then one a minute (each leaks, see relisten()) */
#define IPCWD_MIN_MS 100         /* shortest interval */
#define IPCWD_WARN_EVERY_MS 10000 /* one warning line per this, the counter has the rest */
#define IPCWD_HDR 8              /* SP header: 0 'S' 'P' 0, protocol id (BE16), 0 0 */
#define IPCWD_FRAME 9            /* IPC frame header: type (1), length (BE64) */

struct swb_ipcwd {
	nng_socket sock;
	nng_listener l;
	bool listening;              /* l is ours and open */
	swb_ipcwd_cfg cfg;           /* cfg.url points to url */
	char *url;
	uint8_t hello[IPCWD_HDR + IPCWD_FRAME]; /* our header, then a frame of type 0 */
	uint8_t want[IPCWD_HDR];     /* the header the listener must send */
	uint8_t got[IPCWD_HDR];
	size_t ngot;
	int fd;                      /* the check connection, -1 = none */
	unsigned fails;              /* failed connects in a row */
	unsigned waits;              /* judgements of the open check so far */
	uint64_t restarts, warned_ms;
	bool listen_failed;          /* the last re-creation failed (logged once) */
	const char *stalled;         /* why the listener must be re-created, or NULL */
	unsigned tokens;             /* re-creations allowed now */
	uint64_t refill_ms;
	bool postponed_logged;
	uv_timer_t tick;
};

static void sp_header(uint8_t *h, int proto)
{
	h[0] = 0;
	h[1] = 'S';
	h[2] = 'P';
	h[3] = 0;
	h[4] = (uint8_t)((proto >> 8) & 0xff);
	h[5] = (uint8_t)(proto & 0xff);
	h[6] = h[7] = 0;
}

int swb_ipcwd_listen(nng_socket sock, const swb_ipcwd_cfg *cfg, nng_listener *out)
{
	nng_listener l = NNG_LISTENER_INITIALIZER;
	int rv;
	if ((rv = nng_listener_create(&l, sock, cfg->url)) != 0 ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, cfg->mode)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		swb_err("cannot listen on %s: %s", cfg->url, nng_strerror(rv));
		if (nng_listener_id(l) > 0)
			nng_listener_close(l);
		return -1;
	}
	if (cfg->gid >= 0 && chown(cfg->url + strlen("ipc://"), (uid_t)-1, (gid_t)cfg->gid) != 0) {
		swb_err("cannot give %s to group %ld: %s", cfg->url, cfg->gid, strerror(errno));
		nng_listener_close(l);
		return -1;
	}
	*out = l;
	return 0;
}

enum verdict { CHECK_PASSED, CHECK_FAILED, CHECK_PENDING };

/* Passed: the listener answered with its header and the socket then closed
 * our pipe (EOF). Failed: the header came and then nothing for
 * IPCWD_SILENT_TICKS judgements (the stall: two intervals at least, so a
 * slow process is not taken for a stalled one), no header for
 * IPCWD_HDR_TICKS (closing before the header could itself trigger #1518,
 * so this waits longer), or anything odd. One connection per verdict: on
 * a stalled listener each check stays parked inside NNG for good (see
 * relisten()), so a verdict must not take several. Reads only what has
 * arrived; never blocks. */
static enum verdict check_verdict(swb_ipcwd *w)
{
	uint8_t buf[64];
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n > 0) {
			size_t take = (size_t)n < IPCWD_HDR - w->ngot ? (size_t)n : IPCWD_HDR - w->ngot;
			memcpy(w->got + w->ngot, buf, take);
			w->ngot += take;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		bool eof = n == 0 || errno == ECONNRESET, again = n < 0 && errno == EAGAIN;
		bool hdr = w->ngot == IPCWD_HDR;
		if (hdr && memcmp(w->got, w->want, IPCWD_HDR) != 0)
			return CHECK_FAILED;
		if (eof)
			return hdr ? CHECK_PASSED : CHECK_FAILED;
		if (!again)
			return CHECK_FAILED;
		return ++w->waits < (hdr ? IPCWD_SILENT_TICKS : IPCWD_HDR_TICKS) ? CHECK_PENDING : CHECK_FAILED;
	}
}

static void warn_restart(swb_ipcwd *w, const char *why)
{
	uint64_t now = swb_mono_ms();
	if (w->warned_ms && now - w->warned_ms < IPCWD_WARN_EVERY_MS)
		return;
	swb_warn("%s listener %s %s: re-created it (its pipes were closed; peers dial again); "
		 "%llu re-creation(s) so far (nng bug #1518: a peer that left during the handshake)",
		 w->cfg.name, w->url, why, (unsigned long long)w->restarts);
	w->warned_ms = now;
}

/* Close the listener (NNG unlinks its file and closes its pipes) and
 * listen again on the same socket and path. nng 1.5.2 never frees a
 * stalled listener's transport endpoint: connections it negotiated after
 * the stall (our check among them) sit in its wait list, which only an
 * accept empties, and the endpoint waits for them. So each re-creation
 * leaves its listening fd, those connections' fds and a few KiB behind
 * (docs/operations.md). */
static void relisten(swb_ipcwd *w, const char *why)
{
	if (w->listening)
		nng_listener_close(w->l);
	w->listening = false;
	w->fails = 0;
	if (swb_ipcwd_listen(w->sock, &w->cfg, &w->l) < 0) {
		if (!w->listen_failed)
			swb_err("%s listener %s is gone and cannot be re-created; retrying every %llu ms",
				w->cfg.name, w->url, (unsigned long long)w->cfg.interval_ms);
		w->listen_failed = true;
		return;
	}
	w->listening = true;
	w->listen_failed = false;
	w->restarts++;
	warn_restart(w, why);
}

static void connect_failed(swb_ipcwd *w, const char *why)
{
	if (++w->fails >= IPCWD_CONNECT_FAILS)
		w->stalled = why;
}

/* A token bucket bounds what a process that stalls the listener again and
 * again can make us leak: IPCWD_BURST, then one per IPCWD_REFILL_MS. */
static bool may_relisten(swb_ipcwd *w)
{
	uint64_t now = swb_mono_ms(), n = (now - w->refill_ms) / IPCWD_REFILL_MS;
	if (n) {
		w->tokens = n >= IPCWD_BURST || w->tokens + n >= IPCWD_BURST ? IPCWD_BURST : w->tokens + (unsigned)n;
		w->refill_ms += n * IPCWD_REFILL_MS;
	}
	if (!w->tokens) {
		if (!w->postponed_logged)
			swb_warn("%s listener %s stopped accepting again: re-created %d times back to back, "
				 "now at most once a minute (a local process keeps stalling it, nng bug #1518)",
				 w->cfg.name, w->url, IPCWD_BURST);
		w->postponed_logged = true;
		return false;
	}
	w->tokens--;
	if (w->tokens == IPCWD_BURST - 1)
		w->postponed_logged = false;
	return true;
}

/* Connect as a peer, send our header and the malformed frame at once. */
static void check_start(swb_ipcwd *w)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", w->url + strlen("ipc://"));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return; /* no fd to spare: no verdict this time */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int err = errno;
		close(fd);
		if (err == ENOENT || err == ECONNREFUSED)
			connect_failed(w, err == ENOENT ? "lost its socket file" : "refused a connection");
		return; /* EAGAIN: backlog full, no verdict */
	}
	if (send(fd, w->hello, sizeof(w->hello), MSG_NOSIGNAL) != (ssize_t)sizeof(w->hello)) {
		close(fd);
		return;
	}
	w->fd = fd;
	w->fails = 0;
	w->ngot = 0;
	w->waits = 0;
}

static void on_tick(uv_timer_t *t)
{
	swb_ipcwd *w = t->data;
	if (w->fd >= 0) {
		enum verdict v = check_verdict(w);
		if (v == CHECK_PENDING)
			return;
		close(w->fd);
		w->fd = -1;
		if (v == CHECK_FAILED)
			w->stalled = "stopped accepting connections";
	}
	if (w->stalled) { /* no checks meanwhile: each would stay parked */
		if (!may_relisten(w))
			return;
		relisten(w, w->stalled);
		w->stalled = NULL;
	} else if (!w->listening) {
		relisten(w, "was gone");
	}
	if (w->listening && w->fd < 0)
		check_start(w);
}

swb_ipcwd *swb_ipcwd_start(uv_loop_t *loop, nng_socket sock, nng_listener l, const swb_ipcwd_cfg *cfg)
{
	int self = 0, peer = 0;
	if (!cfg->interval_ms)
		return NULL;
	swb_ipcwd *w = calloc(1, sizeof(*w));
	if (!w || !(w->url = strdup(cfg->url)) || nng_socket_get_int(sock, NNG_OPT_PROTO, &self) != 0 ||
	    nng_socket_get_int(sock, NNG_OPT_PEER, &peer) != 0) {
		swb_err("cannot check the %s listener %s (out of memory?): left unchecked", cfg->name, cfg->url);
		if (w)
			free(w->url);
		free(w);
		return NULL;
	}
	w->sock = sock;
	w->l = l;
	w->listening = true;
	w->cfg = *cfg;
	w->cfg.url = w->url;
	if (w->cfg.interval_ms < IPCWD_MIN_MS)
		w->cfg.interval_ms = IPCWD_MIN_MS;
	sp_header(w->hello, peer); /* the frame after it stays all zero: type 0 is invalid */
	sp_header(w->want, self);
	w->fd = -1;
	w->tokens = IPCWD_BURST;
	w->refill_ms = swb_mono_ms();
	uv_timer_init(loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, on_tick, w->cfg.interval_ms, w->cfg.interval_ms);
	return w;
}

uint64_t swb_ipcwd_restarts(const swb_ipcwd *w) { return w ? w->restarts : 0; }

static void on_closed(uv_handle_t *h)
{
	swb_ipcwd *w = h->data;
	free(w->url);
	free(w);
}

void swb_ipcwd_stop(swb_ipcwd *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	uv_close((uv_handle_t *)&w->tick, on_closed);
}
