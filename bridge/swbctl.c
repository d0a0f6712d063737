/* swbctl.c: the operator CLI. Parses one command and its arguments, sends
 * it as one JSON request to the bridge's control socket (NNG req0 dialing
 * ipc://DIR/control.ipc) and prints the reply, as JSON (--json) or as a
 * human-readable table (swbctl_print.c). Reference: docs/operations.md.
 *
 * Exit: 0 ok; 1 the bridge answered ok=false, or `status --ready` and the
 * bridge is not ready; 2 bad usage, or no bridge answered (missing, dead,
 * or silent for --timeout ms). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>
/* after nng.h: the protocol headers do not include it */
#include <nng/protocol/reqrep0/req.h>

#include "opts.h"
#include "swbctl.h"
#include "util.h"

static swb_opt ctl_opts[4];
static swb_opts_spec ctl_spec;

#define COMMANDS                                                                                              \
	"Commands:\n"                                                                                         \
	"  status [--ready]        bridge, readiness, Redis, probe, edges (--ready: exit 1 unless ready)\n"  \
	"  edges                   per edge: pid, connections, channels, messages, bytes, queues, uptime\n"  \
	"  channels [PREFIX]       subscribers per channel on this host and in the cluster\n"              \
	"  connections             connections per app on this host and in the cluster\n"                  \
	"  stats                   the bridge's counters\n"                                                  \
	"  drain [EDGE|all] [--deadline SECONDS] [--rate N]\n"                                               \
	"                          tell edges to drain (default all)\n"                                      \
	"  log-level LEVEL         error|warn|info|debug, for the bridge and every edge\n"                   \
	"  reload                  tell every edge to re-read its apps\n"                                    \
	"Exit status: 0 ok, 1 refused or not ready, 2 bad usage or no bridge."

static const char *const commands[] = { "status", "edges",	   "channels", "connections", "stats",
					"drain",  "log-level", "reload",   NULL };

_Noreturn static void usage(const char *fmt, const char *arg)
{
	swb_opts_usage_error(&ctl_spec, fmt, arg);
}

static bool known_command(const char *c)
{
	for (int i = 0; commands[i]; i++)
		if (!strcmp(commands[i], c))
			return true;
	return false;
}

/* A non-negative integer argument of an option. */
static long num_arg(const char *opt, const char *v, long max)
{
	char *end;
	long n = v ? strtol(v, &end, 10) : -1;
	if (!v || !*v || *end || n < 0 || n > max) {
		char msg[120];
		snprintf(msg, sizeof(msg), "invalid value for %s: expected an integer 0-%ld", opt, max);
		usage("%s", msg);
	}
	return n;
}

/* The value of --opt V / --opt=V at argv[*i] (NULL if a is not opt). */
static const char *opt_value(const char *opt, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	size_t n = strlen(opt);
	if (strncmp(a, opt, n) != 0 || (a[n] && a[n] != '='))
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (*i + 1 >= argc)
		usage("option %s needs a value", opt);
	return argv[++*i];
}

/* Options allowed after the command: --json, --timeout, and the command's own. */
static bool common_opt(ctl_cfg *c, int argc, char **argv, int *i)
{
	const char *v;
	if (!strcmp(argv[*i], "--json")) {
		c->json = true;
		return true;
	}
	if ((v = opt_value("--timeout", argc, argv, i))) {
		c->timeout_ms = num_arg("--timeout", v, 600000);
		if (c->timeout_ms < 1)
			usage("%s", "invalid value for --timeout: expected 1-600000 ms");
		return true;
	}
	return false;
}

static bool command_opt(ctl_cfg *c, int argc, char **argv, int *i)
{
	const char *v;
	if (!strcmp(c->cmd, "status") && !strcmp(argv[*i], "--ready")) {
		c->ready = true;
		return true;
	}
	if (!strcmp(c->cmd, "drain") && (v = opt_value("--deadline", argc, argv, i))) {
		c->deadline_s = num_arg("--deadline", v, 86400);
		return true;
	}
	if (!strcmp(c->cmd, "drain") && (v = opt_value("--rate", argc, argv, i))) {
		c->rate = num_arg("--rate", v, 1000000);
		return true;
	}
	return false;
}

/* The command's positional argument (at most one). */
static void command_arg(ctl_cfg *c, const char *a)
{
	bool takes = !strcmp(c->cmd, "channels") || !strcmp(c->cmd, "drain") || !strcmp(c->cmd, "log-level");
	if (!takes || c->arg)
		usage("unexpected argument '%s'", a);
	c->arg = a;
}

static void check_args(const ctl_cfg *c)
{
	if (!strcmp(c->cmd, "log-level")) {
		if (!c->arg)
			usage("%s", "log-level needs a LEVEL (error|warn|info|debug)");
		if (strcmp(c->arg, "error") && strcmp(c->arg, "warn") && strcmp(c->arg, "info") &&
		    strcmp(c->arg, "debug"))
			usage("invalid log level '%s' (error|warn|info|debug)", c->arg);
	}
	if (c->arg && strlen(c->arg) > 200)
		usage("%s", "argument too long (at most 200 bytes)");
}

static void parse_args(ctl_cfg *c, int argc, char **argv)
{
	swb_opt opts[] = {
		{ "runtime-dir", "SWB_RUNTIME_DIR", SWB_OPT_STR, "DIR", "the bridge's runtime dir", &c->runtime_dir,
		  0, 0 },
		{ "json", "SWB_JSON", SWB_OPT_FLAG, NULL, "print the raw JSON reply", &c->json, 0, 0 },
		{ "timeout", "SWB_TIMEOUT", SWB_OPT_INT, "MS", "reply timeout in ms (default 2000)", &c->timeout_ms,
		  1, 600000 },
		{ 0 },
	};
	memcpy(ctl_opts, opts, sizeof(opts));
	ctl_spec = (swb_opts_spec){
		.prog = "swbctl",
		.usage = "[--runtime-dir DIR] [--json] [--timeout MS] COMMAND [ARGS]",
		.summary = "Ask the local swb-bridge about its state, or tell it and its edges what to do.",
		.epilog = COMMANDS,
		.opts = ctl_opts,
		.positional = true,
	};
	int i = swb_opts_parse(&ctl_spec, argc, argv);
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (common_opt(c, argc, argv, &i) || (c->cmd && command_opt(c, argc, argv, &i)))
			continue;
		if (!strncmp(a, "--", 2))
			usage(c->cmd ? "unknown option '%s' for this command" : "unknown option '%s'", a);
		if (!c->cmd && !known_command(a))
			usage("unknown command '%s' (commands: status, edges, channels, connections, stats, drain, "
			      "log-level, reload)",
			      a);
		if (!c->cmd)
			c->cmd = a;
		else
			command_arg(c, a);
	}
	if (!c->cmd)
		usage("%s", "missing COMMAND (try: status)");
	check_args(c);
}

static char *build_request(const ctl_cfg *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "cmd", c->cmd);
	if (!strcmp(c->cmd, "channels") && c->arg)
		cJSON_AddStringToObject(o, "prefix", c->arg);
	if (!strcmp(c->cmd, "log-level"))
		cJSON_AddStringToObject(o, "level", c->arg);
	if (!strcmp(c->cmd, "drain")) {
		cJSON_AddStringToObject(o, "edge", c->arg ? c->arg : "all");
		cJSON_AddNumberToObject(o, "deadline_s", (double)c->deadline_s);
		cJSON_AddNumberToObject(o, "rate", (double)c->rate);
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* Is a listening socket bound to path? From /proc/net/unix (Flags has
 * __SO_ACCEPTCON, 0x10000), so no connection is made: nng 1.5.2's listener
 * stops accepting after a peer that connects and leaves before the SP
 * handshake (nng issue #1518). 1 yes, 0 no, -1 cannot tell. */
static int listening(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[4600];
	int found = 0;
	if (!f)
		return -1;
	size_t n = strlen(path);
	while (!found && fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);
		while (l && (line[l - 1] == '\n' || line[l - 1] == ' '))
			line[--l] = '\0';
		unsigned long flags;
		if (l > n && line[l - n - 1] == ' ' && !strcmp(line + l - n, path) &&
		    sscanf(line, "%*s %*s %*s %lx", &flags) == 1 && (flags & 0x10000))
			found = 1;
	}
	fclose(f);
	return found;
}

/* Not in this network namespace's /proc/net/unix: connect to tell a dead
 * socket (refused, nothing accepted) from a listener we cannot see; with
 * the latter, finish the SP handshake (req0) before closing, so that the
 * listener is not left broken (see listening()). 0 alive, -1 dead. */
static int connect_check(const char *path, long timeout_ms)
{
	static const unsigned char hdr[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char peer[8];
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		errno = err;
		return -1;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (write(fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) && poll(&pfd, 1, (int)timeout_ms) == 1)
		(void)!read(fd, peer, sizeof(peer));
	close(fd);
	return 0;
}

/* A missing socket file or one nobody listens on: say so at once. */
static int socket_check(const char *url, long timeout_ms)
{
	const char *path = url + strlen("ipc://");
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "swbctl: no bridge is running at %s (%s)\n", url, strerror(errno));
		return -1;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "swbctl: socket path too long: %s\n", path);
		return -1;
	}
	if (listening(path) != 1 && connect_check(path, timeout_ms) < 0) {
		fprintf(stderr, "swbctl: no bridge is running at %s (stale socket: %s)\n", url, strerror(errno));
		return -1;
	}
	return 0;
}

/* Send req, receive the reply into *out (malloc'd, NUL-terminated). */
static int request(const ctl_cfg *c, const char *url, const char *req, char **out)
{
	nng_socket s;
	nng_msg *m = NULL;
	int rv;
	if ((rv = nng_req0_open(&s)) != 0)
		goto fail_open;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, (nng_duration)c->timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, (nng_duration)c->timeout_ms);
	/* non-blocking dial: a bridge that accepts but never answers (stopped,
	 * wedged) runs into the send / receive timeouts instead of a hang */
	if ((rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0 || (rv = nng_send(s, (void *)req, strlen(req), 0)) != 0 ||
	    (rv = nng_recvmsg(s, &m, 0)) != 0)
		goto fail;
	*out = malloc(nng_msg_len(m) + 1);
	if (*out) {
		memcpy(*out, nng_msg_body(m), nng_msg_len(m));
		(*out)[nng_msg_len(m)] = '\0';
	}
	nng_msg_free(m);
	nng_close(s);
	return *out ? 0 : -1;
fail:
	nng_close(s);
fail_open:
	if (rv == NNG_ENOENT || rv == NNG_ECONNREFUSED)
		fprintf(stderr, "swbctl: no bridge is running at %s (%s)\n", url, nng_strerror(rv));
	else if (rv == NNG_ETIMEDOUT)
		fprintf(stderr, "swbctl: the bridge at %s did not answer within %ld ms\n", url, c->timeout_ms);
	else
		fprintf(stderr, "swbctl: cannot reach the bridge at %s: %s\n", url, nng_strerror(rv));
	return -1;
}

static int show(const ctl_cfg *c, const char *reply)
{
	cJSON *o = cJSON_Parse(reply);
	if (!o) {
		fprintf(stderr, "swbctl: the bridge sent a reply that is not JSON\n");
		return 2;
	}
	int rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok")) ? 0 : 1;
	if (c->json)
		printf("%s\n", reply);
	if (rc) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
		fprintf(stderr, "swbctl: the bridge refused: %s\n", cJSON_IsString(e) ? e->valuestring : "?");
	} else if (c->ready) {
		rc = swbctl_print_ready(o, c->json) ? 0 : 1;
	} else if (!c->json) {
		swbctl_print(c->cmd, o);
	}
	cJSON_Delete(o);
	return rc;
}

int main(int argc, char **argv)
{
	ctl_cfg c = { .runtime_dir = SWB_DEFAULT_RUNTIME_DIR, .timeout_ms = 2000 };
	parse_args(&c, argc, argv);
	char url[600], *reply = NULL, *req = build_request(&c);
	snprintf(url, sizeof(url), "ipc://%s/control.ipc", c.runtime_dir);
	if (!req || socket_check(url, c.timeout_ms) < 0 || request(&c, url, req, &reply) < 0) {
		free(req);
		return 2;
	}
	int rc = show(&c, reply);
	free(req);
	free(reply);
	return rc;
}
