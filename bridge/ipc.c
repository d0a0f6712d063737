/* ipc.c: claims an ipc socket path (see ipc.h): a live listener means
 * another bridge owns this runtime dir; a dead socket file is removed. */
#include "ipc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* 1 if something accepts connections on path, 0 if not. A live NNG
 * listener sends its SP header first: wait for it before closing, since a
 * peer that leaves before NNG has written its header stops an nng 1.5.2
 * listener from ever accepting again (nng#1518), and the listener may be
 * another bridge's. */
static int is_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char hdr[8];
	if (live && poll(&pfd, 1, 1000) == 1)
		(void)!read(fd, hdr, sizeof(hdr));
	close(fd);
	return live;
}

int swb_bridge_ipc_claim(const char *path)
{
	struct sockaddr_un sa;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		swb_err("socket path too long: %s", path);
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		swb_err("%s exists and is not a socket; refusing to remove it", path);
		return -1;
	}
	if (is_live(path)) {
		swb_err("another process is already listening on %s (another bridge on this runtime dir?)",
			path);
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		swb_err("cannot remove stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	swb_info("removed stale socket %s", path);
	return 0;
}
