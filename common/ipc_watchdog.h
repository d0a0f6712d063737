/* ipc_watchdog.h: creates our NNG IPC listeners and keeps them accepting.
 *
 * Why: nng 1.5.2 (Debian 12) has bug #1518 (fixed in nng 1.6 by PR #1519):
 * a peer that connects and goes away before NNG has written its SP header
 * ends the listener's accept loop for good. Pipes accepted before keep
 * working; every later connection is negotiated and then parked, never
 * becoming a pipe. Any local process that can open the socket can do it.
 *
 * The watchdog, on the owner's libuv loop, every interval connects to the
 * listener's own path as a legitimate peer (SP header with the socket's
 * peer protocol id) and sends, right behind the header, one malformed
 * frame (message type 0), then waits. An accepting listener hands the pipe
 * to the socket, whose first receive fails on that frame and closes it:
 * the watchdog sees EOF. A stalled listener never reads it: header, then
 * silence for two intervals, and the listener is closed (NNG then also
 * closes the pipes it had accepted: their peers dial again) and created
 * anew on the same socket and path, with the same file mode and group.
 * Each re-creation is counted (swb_ipcwd_restarts) and logged (at most one
 * line per 10 s); nng leaks a little with each, so they are limited to 10
 * back to back, then one a minute. */
#ifndef SWB_IPC_WATCHDOG_H
#define SWB_IPC_WATCHDOG_H

#include <stdint.h>

#include <nng/nng.h>
#include <uv.h>

typedef struct swb_ipcwd swb_ipcwd;

typedef struct swb_ipcwd_cfg {
	const char *name;      /* "bridge", "control", "deliver": logs (static string) */
	const char *url;       /* ipc://PATH (copied by swb_ipcwd_start) */
	int mode;              /* file mode of the socket, e.g. 0600 */
	long gid;              /* group of the socket file; -1: leave it */
	uint64_t interval_ms;  /* 0: no checks */
} swb_ipcwd_cfg;

/* Create and start a listener of sock on cfg->url with cfg->mode and
 * cfg->gid. 0, or -1 (logged). */
int swb_ipcwd_listen(nng_socket sock, const swb_ipcwd_cfg *cfg, nng_listener *out);

/* Check listener l of sock from now on. NULL if cfg->interval_ms is 0, or
 * on no memory (logged; the listener stays, unchecked). */
swb_ipcwd *swb_ipcwd_start(uv_loop_t *loop, nng_socket sock, nng_listener l, const swb_ipcwd_cfg *cfg);

/* Listeners re-created so far (0 for NULL). */
uint64_t swb_ipcwd_restarts(const swb_ipcwd *w);

/* Stop checking (NULL: no-op). Call before closing the socket; the memory
 * is freed once the loop has closed the watchdog's handles. */
void swb_ipcwd_stop(swb_ipcwd *w);

#endif
