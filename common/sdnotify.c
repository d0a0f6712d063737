/* sdnotify.c: the systemd notify datagram protocol (see sdnotify.h). The
 * protocol is small enough that we implement it instead of linking
 * libsystemd: a SOCK_DGRAM AF_UNIX socket, one sendto() per state, '@'
 * as the first byte of NOTIFY_SOCKET meaning the abstract namespace. */
#include "sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* Fill sa from NOTIFY_SOCKET; returns the address length or -1. */
static int notify_addr(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);
	if (n < 2 || n >= sizeof(sa->sun_path) || (path[0] != '/' && path[0] != '@'))
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@')
		sa->sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
	else
		n++;
	return (int)(offsetof(struct sockaddr_un, sun_path) + n);
}

int swb_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sa;
	int len = notify_addr(path, &sa);
	if (len < 0) {
		swb_debug("sd_notify: unusable NOTIFY_SOCKET '%s'", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, (socklen_t)len);
	int saved = errno;
	close(fd);
	if (w < 0) {
		swb_debug("sd_notify to %s: %s", path, strerror(saved));
		return -1;
	}
	return 1;
}

int swb_sd_notifyf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return swb_sd_notify(buf);
}

uint64_t swb_sd_watchdog_ms(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	if (!us || !*us)
		return 0;
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(us, &end, 10);
	if (errno || *end || v == 0)
		return 0;
	uint64_t ms = v / 2000; /* half the period, in ms */
	return ms ? ms : 1;
}

static void on_watchdog(uv_timer_t *t) { swb_sd_notify("WATCHDOG=1"); }

uint64_t swb_sd_watchdog_start(uv_loop_t *loop, uv_timer_t *t)
{
	uint64_t ms = swb_sd_watchdog_ms();
	if (!ms || !getenv("NOTIFY_SOCKET"))
		return 0;
	uv_timer_init(loop, t);
	uv_timer_start(t, on_watchdog, ms, ms);
	swb_info("systemd watchdog: WATCHDOG=1 every %llu ms", (unsigned long long)ms);
	return ms;
}
