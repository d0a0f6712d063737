/* listen.c: the edge's own listening socket for --reuseport. Several edges
 * of one host then bind the same HOST:PORT with SO_REUSEPORT and the kernel
 * spreads new connections over them. lws 4.1.6 cannot do this itself
 * (LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE only acts with several service
 * threads), so the vhost is created without a listener and every accepted
 * socket is handed to lws_adopt_socket_vhost(). Owns the listening fd and
 * its uv_poll / back-off timer (swb_edge.listener). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge.h"
#include "log.h"

#define SWB_EDGE_LISTEN_BACKLOG 4096
#define SWB_EDGE_ACCEPTS_PER_TURN 64
#define SWB_EDGE_ACCEPT_PAUSE_MS 100 /* after EMFILE/ENFILE/ENOMEM */

struct swb_edge_listener {
	swb_edge *e;
	int fd;
	uv_poll_t poll;
	uv_timer_t pause;
	struct lws_vhost *vh;
	int closing;                 /* handles still closing */
};

/* Fill sa for HOST ("" = every address, dual-stack). 0 or -1. */
static int listen_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (host[0] && inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*a4);
		return 0;
	}
	if (host[0] && inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
		return -1;
	a6->sin6_family = AF_INET6; /* "" leaves in6addr_any */
	a6->sin6_port = htons((uint16_t)port);
	*sl = sizeof(*a6);
	return 0;
}

/* A non-blocking SO_REUSEPORT listening socket on host:port, or -1. */
static int open_listen_socket(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (listen_addr(host, port, &ss, &sl) < 0)
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 && !host[0] &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, SWB_EDGE_LISTEN_BACKLOG) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static void on_acceptable(uv_poll_t *h, int status, int events);

static void on_pause_over(uv_timer_t *t)
{
	swb_edge_listener *l = t->data;
	uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
}

/* Out of file descriptors (or memory): the backlog waits; stop polling a
 * socket that stays readable for a moment instead of spinning on it. */
static void accept_pause(swb_edge_listener *l, int err)
{
	l->e->st.accept_failures++;
	swb_warn("accept: %s; pausing accepts for %d ms", strerror(err), SWB_EDGE_ACCEPT_PAUSE_MS);
	uv_poll_stop(&l->poll);
	uv_timer_start(&l->pause, on_pause_over, SWB_EDGE_ACCEPT_PAUSE_MS, 0);
}

static void on_acceptable(uv_poll_t *h, int status, int events)
{
	swb_edge_listener *l = h->data;
	(void)events;
	if (status < 0 || l->e->lws_stopping)
		return;
	for (int i = 0; i < SWB_EDGE_ACCEPTS_PER_TURN; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS)
				accept_pause(l, errno);
			/* EAGAIN: drained; ECONNABORTED etc.: that one is gone */
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* On failure lws has closed fd itself. */
		if (!lws_adopt_socket_vhost(l->vh, fd))
			l->e->st.accept_failures++;
	}
}

int swb_edge_listener_start(swb_edge *e, struct lws_vhost *vh, const char *host, int port)
{
	swb_edge_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return -1;
	l->fd = open_listen_socket(host, port);
	if (l->fd < 0) {
		swb_err("cannot listen on %s (SO_REUSEPORT): %s", e->cfg.listen, strerror(errno));
		free(l);
		return -1;
	}
	l->e = e;
	l->vh = vh;
	uv_poll_init_socket(&e->loop, &l->poll, l->fd);
	uv_timer_init(&e->loop, &l->pause);
	l->poll.data = l->pause.data = l;
	uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
	e->listener = l;
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	swb_edge_listener *l = h->data;
	if (--l->closing == 0) {
		close(l->fd);
		free(l);
	}
}

void swb_edge_listener_stop(swb_edge *e)
{
	swb_edge_listener *l = e->listener;
	if (!l)
		return;
	e->listener = NULL;
	l->closing = 2;
	uv_close((uv_handle_t *)&l->poll, on_handle_closed);
	uv_close((uv_handle_t *)&l->pause, on_handle_closed);
}
