/* test_common_sdnotify.c: the systemd notify datagram (common/sdnotify.c)
 * reaches a unix datagram socket named by NOTIFY_SOCKET, as a path and in
 * the abstract namespace ('@'); WATCHDOG_USEC gives half the period;
 * WATCHDOG_PID of another process turns it off; no NOTIFY_SOCKET is a
 * no-op. And the daemons use it: swb-bridge and swb-edge, started with
 * NOTIFY_SOCKET and WATCHDOG_USEC, send READY=1 once serving, WATCHDOG=1,
 * and STOPPING=1 on SIGTERM, then exit 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <signal.h>
#include <poll.h>
#include <unistd.h>

#include "sdnotify.h"

/* A bound datagram socket: path "/..." or "@abstract". */
static int bind_dgram(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	memcpy(sa.sun_path, name, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	if (name[0] == '@') {
		sa.sun_path[0] = '\0';
		len--;
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_path_socket(void **state)
{
	(void)state;
	char path[108];
	snprintf(path, sizeof(path), "/tmp/swb-sdnotify-%d.sock", (int)getpid());
	unlink(path);
	int fd = bind_dgram(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(swb_sd_notify("READY=1\nSTATUS=serving"), 1);
	expect_datagram(fd, "READY=1\nSTATUS=serving");
	assert_int_equal(swb_sd_notifyf("STATUS=%d edges", 3), 1);
	expect_datagram(fd, "STATUS=3 edges");
	close(fd);
	unlink(path);
	assert_int_equal(swb_sd_notify("READY=1"), -1); /* nobody listens: an error, not a crash */
	unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@swb-sdnotify-test-%d", (int)getpid());
	int fd = bind_dgram(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(swb_sd_notify("STOPPING=1"), 1);
	expect_datagram(fd, "STOPPING=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_no_socket_is_a_noop(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(swb_sd_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(swb_sd_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_period(void **state)
{
	(void)state;
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(swb_sd_watchdog_ms(), 0);
	setenv("WATCHDOG_USEC", "20000000", 1); /* 20 s: ping every 10 s */
	assert_int_equal(swb_sd_watchdog_ms(), 10000);
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(swb_sd_watchdog_ms(), 10000);
	setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
	assert_int_equal(swb_sd_watchdog_ms(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "junk", 1);
	assert_int_equal(swb_sd_watchdog_ms(), 0);
	unsetenv("WATCHDOG_USEC");
}

/* The uv timer sends WATCHDOG=1 by itself. */
static void on_stop(uv_timer_t *t) { uv_stop(t->loop); }

static void test_watchdog_timer(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@swb-sdnotify-wd-%d", (int)getpid());
	int fd = bind_dgram(name);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "20000", 1); /* every 10 ms */
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_timer_t wd, stop;
	assert_int_equal(swb_sd_watchdog_start(&loop, &wd), 10);
	uv_timer_init(&loop, &stop);
	uv_timer_start(&stop, on_stop, 35, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	expect_datagram(fd, "WATCHDOG=1");
	uv_close((uv_handle_t *)&wd, NULL);
	uv_close((uv_handle_t *)&stop, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
}

/* Wait up to timeout_ms for a datagram starting with prefix; skips others. */
static bool wait_state(int fd, const char *prefix, int timeout_ms)
{
	char buf[512];
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (!strncmp(buf, prefix, strlen(prefix)))
			return true;
	}
	return false;
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static pid_t spawn(char *const argv[], const char *sock)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("NOTIFY_SOCKET", sock, 1);
		setenv("WATCHDOG_USEC", "200000", 1); /* WATCHDOG=1 every 100 ms */
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void expect_exit0(pid_t pid)
{
	int status = 0;
	for (int i = 0; i < 200; i++) { /* 20 s */
		if (waitpid(pid, &status, WNOHANG) == pid) {
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
			return;
		}
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("daemon did not exit within 20 s of SIGTERM");
}

static void test_daemons_notify(void **state)
{
	(void)state;
	char dir[] = "/tmp/swb-sdnotify-rt-XXXXXX", sock[108], listen[64];
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "@swb-sdnotify-daemons-%d", (int)getpid());
	int fd = bind_dgram(sock);
	char *bridge[] = { SWB_TEST_BIN_DIR "/swb-bridge", "--runtime-dir", dir, "--redis", "none", NULL };
	pid_t b = spawn(bridge, sock);
	assert_true(wait_state(fd, "READY=1", 10000));
	assert_true(wait_state(fd, "WATCHDOG=1", 10000));
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
	char *edge[] = { SWB_TEST_BIN_DIR "/swb-edge", "--runtime-dir", dir, "--listen", listen, "--app", "a:b:c", NULL };
	pid_t e = spawn(edge, sock);
	assert_true(wait_state(fd, "READY=1", 10000));
	kill(e, SIGTERM);
	assert_true(wait_state(fd, "STOPPING=1", 10000));
	expect_exit0(e);
	kill(b, SIGTERM);
	assert_true(wait_state(fd, "STOPPING=1", 10000));
	expect_exit0(b);
	close(fd);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_no_socket_is_a_noop),
		cmocka_unit_test(test_watchdog_period),
		cmocka_unit_test(test_watchdog_timer),
		cmocka_unit_test(test_daemons_notify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
