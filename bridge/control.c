/* control.c: the operator control socket (NNG rep0, raw mode, on
 * ipc://DIR/control.ipc, mode 0600, or 0660 and group --control-group)
 * and its command dispatch.
 *
 * A request is one JSON object {"cmd":"...", ...}; every request gets
 * exactly one JSON reply, {"ok":false,"error":"..."} on failure. Most are
 * answered at once on the loop; a command that needs Redis (channels)
 * keeps its swb_bridge_ctlreq and answers when the reply comes. Raw mode
 * lets several requests wait at once: each reply carries its request's
 * NNG header back. At most CONTROL_PENDING_MAX wait. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bridge.h"

#include <nng/protocol/reqrep0/rep.h>
#include "ipc.h"
#include "ipc_watchdog.h"
#include "log.h"

#define CONTROL_REQ_MAX (64 * 1024)
#define CONTROL_RECV_MAX (1024 * 1024)
#define CONTROL_PENDING_MAX 64

struct swb_bridge_ctlreq {
	swb_bridge *b;
	nng_msg *m;      /* the request (its header routes the reply); NULL in handle() */
	char *out;       /* handle(): the reply, for the caller */
	bool sync;       /* handle(): the caller frees cr */
};

cJSON *swb_bridge_control_error(swb_bridge *b, const char *error)
{
	b->cnt.control_bad++;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", 0);
	cJSON_AddStringToObject(o, "error", error);
	return o;
}

bool swb_bridge_control_can_wait(const swb_bridge_ctlreq *cr) { return !cr->sync; }

static char *print_reply(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return s;
}

static void send_reply(swb_bridge *b, nng_msg *m, const char *s);

/* Parse exactly one JSON value filling [req, req + len) (whitespace
 * around it allowed). Returns NULL if malformed. */
static cJSON *parse_whole(const char *req, size_t len)
{
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(req, len, &end, 0);
	if (!o)
		return NULL;
	for (; end && end < req + len; end++)
		if (!strchr(" \t\r\n", *end) || !*end) {
			cJSON_Delete(o);
			return NULL;
		}
	return o;
}

/* Run one request: the reply, or NULL when cr was kept for later. */
static cJSON *dispatch(swb_bridge *b, const char *req, size_t len, swb_bridge_ctlreq *cr)
{
	if (len > CONTROL_REQ_MAX)
		return swb_bridge_control_error(b, "request too large (limit 64 KiB)");
	cJSON *o = parse_whole(req, len), *reply;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(o, "cmd");
	char msg[160];
	bool unknown = false;
	if (!o)
		reply = swb_bridge_control_error(b, "malformed JSON");
	else if (!cJSON_IsObject(o))
		reply = swb_bridge_control_error(b, "request must be a JSON object");
	else if (!cJSON_IsString(cmd))
		reply = swb_bridge_control_error(b, "missing \"cmd\" (a string)");
	else if (!strcmp(cmd->valuestring, "status"))
		reply = swb_bridge_status_json(b);
	else if (!(reply = swb_bridge_cmd_run(b, cmd->valuestring, o, cr, &unknown)) && unknown) {
		snprintf(msg, sizeof(msg), "unknown command: %.100s", cmd->valuestring);
		reply = swb_bridge_control_error(b, msg);
	}
	cJSON_Delete(o);
	return reply;
}

void swb_bridge_control_reply(swb_bridge_ctlreq *cr, cJSON *reply)
{
	swb_bridge *b = cr->b;
	char *s = print_reply(reply);
	if (cr->sync) {
		cr->out = s;
		return;
	}
	b->ctl_pending--;
	send_reply(b, cr->m, s ? s : "{\"ok\":false,\"error\":\"out of memory\"}");
	free(s);
	free(cr);
}

char *swb_bridge_control_handle(swb_bridge *b, const char *req, size_t len)
{
	swb_bridge_ctlreq cr = { .b = b, .sync = true };
	b->cnt.control_requests++;
	cJSON *reply = dispatch(b, req, len, &cr);
	if (reply)
		return print_reply(reply);
	return cr.out; /* answered inside (sync callers get Redis-less answers) */
}

/* Reuse the request message: its header is the route back. */
static void send_reply(swb_bridge *b, nng_msg *m, const char *s)
{
	nng_msg_clear(m);
	if (nng_msg_append(m, s, strlen(s)) != 0 || !b->ctl_open) {
		nng_msg_free(m);
		return;
	}
	int rv = nng_sendmsg(b->ctl_sock, m, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_msg_free(m);
		swb_bridge_ratelog_emit(&b->rl_ctl, SWB_LOG_WARN, "control reply not sent: %s", nng_strerror(rv));
	}
}

static void handle_msg(swb_bridge *b, nng_msg *m)
{
	b->cnt.control_requests++;
	if (b->ctl_pending >= CONTROL_PENDING_MAX) {
		char *s = print_reply(swb_bridge_control_error(b, "too many control requests waiting; try again"));
		send_reply(b, m, s ? s : "{\"ok\":false}");
		free(s);
		return;
	}
	swb_bridge_ctlreq *cr = calloc(1, sizeof(*cr));
	if (!cr) {
		send_reply(b, m, "{\"ok\":false,\"error\":\"out of memory\"}");
		return;
	}
	cr->b = b;
	cr->m = m;
	b->ctl_pending++;
	cJSON *reply = dispatch(b, nng_msg_body(m), nng_msg_len(m), cr);
	if (reply)
		swb_bridge_control_reply(cr, reply);
}

static void on_control_readable(uv_poll_t *h, int status, int events)
{
	swb_bridge *b = h->data;
	for (;;) {
		nng_msg *m;
		int rv = nng_recvmsg(b->ctl_sock, &m, NNG_FLAG_NONBLOCK);
		if (rv != 0) {
			if (rv != NNG_EAGAIN && rv != NNG_ECLOSED)
				swb_bridge_ratelog_emit(&b->rl_ctl, SWB_LOG_WARN, "control receive failed: %s",
						   nng_strerror(rv));
			return;
		}
		handle_msg(b, m);
	}
}

/* --control-group: the socket file's group (a name or a number). */
static int group_id(const char *group, long *gid)
{
	struct group *g = getgrnam(group);
	char *end;
	long n = strtol(group, &end, 10);
	if (!g && (!*group || *end || n < 0)) {
		swb_err("--control-group: no group named '%s'", group);
		return -1;
	}
	*gid = g ? (long)g->gr_gid : n;
	return 0;
}

/* Mode 0600, or 0660 and group --control-group. The watchdog (nng#1518)
 * re-creates the listener with the same mode and group if it stalls. */
static int open_control(swb_bridge *b, const char *url)
{
	int rv;
	nng_listener l;
	swb_ipcwd_cfg wc = { "control", url, 0600, -1, b->ipc_check_ms };
	if (b->control_group && group_id(b->control_group, &wc.gid) < 0)
		return -1;
	if (b->control_group)
		wc.mode = 0660;
	if ((rv = nng_rep0_open_raw(&b->ctl_sock)) != 0) {
		swb_err("cannot open the control socket: %s", nng_strerror(rv));
		return -1;
	}
	b->ctl_open = true;
	nng_socket_set_size(b->ctl_sock, NNG_OPT_RECVMAXSZ, CONTROL_RECV_MAX);
	if (swb_ipcwd_listen(b->ctl_sock, &wc, &l) < 0)
		return -1;
	b->ctl_wd = swb_ipcwd_start(b->loop, b->ctl_sock, l, &wc);
	return 0;
}

int swb_bridge_control_init(swb_bridge *b)
{
	char url[sizeof(b->control_path)];
	int fd, rv;
	snprintf(url, sizeof(url), "ipc://%s/control.ipc", b->runtime_dir);
	if (swb_bridge_ipc_claim(url + 6) < 0)
		return -1;
	memcpy(b->control_path, url, sizeof(url)); /* ours from now on: fini unlinks it */
	if (open_control(b, url) < 0)
		return -1;
	if ((rv = nng_socket_get_int(b->ctl_sock, NNG_OPT_RECVFD, &fd)) != 0) {
		swb_err("cannot get the control socket's receive fd: %s", nng_strerror(rv));
		return -1;
	}
	uv_poll_init(b->loop, &b->ctl_poll, fd);
	b->ctl_poll.data = b;
	uv_poll_start(&b->ctl_poll, UV_READABLE, on_control_readable);
	return 0;
}

void swb_bridge_control_fini(swb_bridge *b)
{
	if (b->ctl_poll.data)
		uv_close((uv_handle_t *)&b->ctl_poll, NULL);
	swb_ipcwd_stop(b->ctl_wd);
	b->ctl_wd = NULL;
	if (b->ctl_open) {
		nng_close(b->ctl_sock);
		b->ctl_open = false;
	}
	if (b->control_path[0])
		unlink(b->control_path + 6);
}
