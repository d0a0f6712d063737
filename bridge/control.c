/* control.c: the operator control socket (NNG rep0 on
 * ipc://DIR/control.ipc, mode 0600) and its command dispatch.
 *
 * A request is one JSON object {"cmd":"..."}; every request gets exactly
 * one JSON reply, {"ok":false,"error":"..."} on failure. Requests are
 * handled synchronously on the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bridge.h"

#include <nng/protocol/reqrep0/rep.h>
#include "ipc.h"
#include "log.h"

#define CONTROL_REQ_MAX (64 * 1024)
#define CONTROL_RECV_MAX (1024 * 1024)

static char *error_reply(swb_bridge *b, const char *error)
{
	b->cnt.control_bad++;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", 0);
	cJSON_AddStringToObject(o, "error", error);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static char *status_reply(swb_bridge *b)
{
	cJSON *o = swb_bridge_status_json(b);
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return s;
}

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

char *swb_bridge_control_handle(swb_bridge *b, const char *req, size_t len)
{
	if (len > CONTROL_REQ_MAX)
		return error_reply(b, "request too large (limit 64 KiB)");
	cJSON *o = parse_whole(req, len);
	char *reply;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(o, "cmd");
	char msg[160];
	if (!o)
		reply = error_reply(b, "malformed JSON");
	else if (!cJSON_IsObject(o))
		reply = error_reply(b, "request must be a JSON object");
	else if (!cJSON_IsString(cmd))
		reply = error_reply(b, "missing \"cmd\" (a string)");
	else if (!strcmp(cmd->valuestring, "status"))
		reply = status_reply(b);
	else {
		snprintf(msg, sizeof(msg), "unknown command: %.100s", cmd->valuestring);
		reply = error_reply(b, msg);
	}
	cJSON_Delete(o);
	return reply;
}

static void reply_to(swb_bridge *b, const char *s)
{
	nng_msg *m;
	size_t n = strlen(s);
	if (nng_msg_alloc(&m, n) != 0)
		return;
	memcpy(nng_msg_body(m), s, n);
	int rv = nng_sendmsg(b->ctl_sock, m, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_msg_free(m);
		swb_bridge_ratelog_emit(&b->rl_ctl, SWB_LOG_WARN, "control reply not sent: %s", nng_strerror(rv));
	}
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
		char *reply = swb_bridge_control_handle(b, nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
		reply_to(b, reply ? reply : "{\"ok\":false,\"error\":\"out of memory\"}");
		free(reply);
	}
}

static int open_control(swb_bridge *b, const char *url)
{
	int rv;
	nng_listener l;
	if ((rv = nng_rep0_open(&b->ctl_sock)) != 0) {
		swb_err("cannot open the control socket: %s", nng_strerror(rv));
		return -1;
	}
	b->ctl_open = true;
	nng_socket_set_size(b->ctl_sock, NNG_OPT_RECVMAXSZ, CONTROL_RECV_MAX);
	if ((rv = nng_listener_create(&l, b->ctl_sock, url)) != 0 ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		swb_err("cannot listen on %s: %s", url, nng_strerror(rv));
		return -1;
	}
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
	if (b->ctl_open) {
		nng_close(b->ctl_sock);
		b->ctl_open = false;
	}
	if (b->control_path[0])
		unlink(b->control_path + 6);
}
