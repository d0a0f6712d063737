/* sdnotify.h: the systemd notify protocol (sd_notify(3)) without
 * libsystemd: one datagram of "KEY=VALUE\n..." lines to the unix socket
 * named by $NOTIFY_SOCKET ("/path" or "@abstract"), and the watchdog
 * period from $WATCHDOG_USEC / $WATCHDOG_PID. Without NOTIFY_SOCKET every
 * call is a no-op, so daemons call these unconditionally. */
#ifndef SWB_SDNOTIFY_H
#define SWB_SDNOTIFY_H

#include <stdint.h>

#include <uv.h>

/* Send state (e.g. "READY=1\nSTATUS=serving"). 1 sent, 0 no
 * NOTIFY_SOCKET, -1 error (logged at debug; systemd is optional). */
int swb_sd_notify(const char *state);
/* printf-style swb_sd_notify. */
int swb_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Half of $WATCHDOG_USEC in ms when the watchdog is meant for this
 * process ($WATCHDOG_PID unset or our pid), else 0. */
uint64_t swb_sd_watchdog_ms(void);
/* Start a repeating timer on loop sending WATCHDOG=1 every
 * swb_sd_watchdog_ms(); returns 0 (nothing to do) or the period. The
 * caller owns t and closes it with uv_close at shutdown when started. */
uint64_t swb_sd_watchdog_start(uv_loop_t *loop, uv_timer_t *t);

#endif
