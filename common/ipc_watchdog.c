/* ipc_watchdog.c: creates our NNG IPC listeners and re-creates one that
 * stopped accepting (nng bug #1518; see ipc_watchdog.h for the mechanism
 * and the check). Runs on one libuv loop: one repeating timer, at most one
 * check connection open. A check started at one tick is judged at the
 * next, so a check has a whole interval to finish; its verdict only reads
 * what already arrived on the connection (a late loop cannot fake a
 * failure). */
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

#define IPCWD_FAILS 2            /* failed checks in a row before a re-creation */
#define IPCWD_HDR_WAITS 3        /* extra ticks a check may wait for the header */
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
	unsigned fails;              /* failed checks in a row */
	unsigned waits;              /* ticks the open check has waited for the header */
	uint64_t restarts, warned_ms;
	bool listen_failed;          /* the last re-creation failed (logged once) */
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
 * our pipe (EOF). Failed: the header came and nothing else (the stall), or
 * anything else odd. Pending: no header yet (a busy process): closing now
 * could itself trigger #1518, so the check stays open a little longer.
 * Reads only what has arrived; never blocks. */
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
		if (w->ngot == IPCWD_HDR && memcmp(w->got, w->want, IPCWD_HDR) != 0)
			return CHECK_FAILED;
		if (w->ngot < IPCWD_HDR)
			return again && w->waits++ < IPCWD_HDR_WAITS ? CHECK_PENDING : CHECK_FAILED;
		return eof ? CHECK_PASSED : CHECK_FAILED;
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
 * listen again on the same socket and path. */
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

static void check_failed(swb_ipcwd *w, const char *why)
{
	if (++w->fails >= IPCWD_FAILS)
		relisten(w, why);
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
			check_failed(w, err == ENOENT ? "lost its socket file" : "refused a connection");
		return; /* EAGAIN: backlog full, no verdict */
	}
	if (send(fd, w->hello, sizeof(w->hello), MSG_NOSIGNAL) != (ssize_t)sizeof(w->hello)) {
		close(fd);
		return;
	}
	w->fd = fd;
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
		if (v == CHECK_PASSED)
			w->fails = 0;
		else
			check_failed(w, "stopped accepting connections");
	}
	if (!w->listening)
		relisten(w, "was gone");
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
