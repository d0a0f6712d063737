/* swbctl.c: the operator CLI. Sends one JSON command to the bridge's
 * control socket (NNG req0 dialing ipc://DIR/control.ipc) and prints the
 * reply, as JSON (--json) or as a human-readable summary.
 * Exit: 0 ok; 1 the bridge said ok=false or could not be reached; 2 usage. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>
/* after nng.h: the protocol headers do not include it */
#include <nng/protocol/reqrep0/req.h>

#include "opts.h"
#include "util.h"

typedef struct ctl_cfg {
	const char *runtime_dir;
	bool json;
	long timeout_ms;
} ctl_cfg;

static swb_opt ctl_opts[4];
static swb_opts_spec ctl_spec;

static int parse_args(ctl_cfg *c, int argc, char **argv, const char **cmd)
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
		.usage = "[--runtime-dir DIR] [--json] [--timeout MS] COMMAND",
		.summary = "Ask the local swb-bridge about its state.",
		.epilog = "Commands:\n  status    bridge, Redis, edges and subscribed channels",
		.opts = ctl_opts,
		.positional = true,
	};
	int i = swb_opts_parse(&ctl_spec, argc, argv);
	*cmd = NULL;
	/* --json / --timeout may also follow the command */
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			c->json = true;
		} else if (!strcmp(a, "--timeout") || !strncmp(a, "--timeout=", 10)) {
			const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
			char *end;
			long t = v ? strtol(v, &end, 10) : 0;
			if (!v || !*v || *end || t < 1 || t > 600000)
				swb_opts_usage_error(&ctl_spec, "invalid value for --timeout: expected 1-600000 ms");
			c->timeout_ms = t;
		} else if (!strncmp(a, "--", 2)) {
			swb_opts_usage_error(&ctl_spec, "unknown option '%s' after the command", a);
		} else if (*cmd) {
			swb_opts_usage_error(&ctl_spec, "unexpected argument '%s'", a);
		} else {
			*cmd = a;
		}
	}
	if (!*cmd)
		swb_opts_usage_error(&ctl_spec, "missing COMMAND (try: status)");
	if (strcmp(*cmd, "status") != 0)
		swb_opts_usage_error(&ctl_spec, "unknown command '%s' (commands: status)", *cmd);
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
	if ((rv = nng_dial(s, url, NULL, 0)) != 0 || (rv = nng_send(s, (void *)req, strlen(req), 0)) != 0 ||
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
	fprintf(stderr, "swbctl: cannot reach the bridge at %s: %s\n", url, nng_strerror(rv));
	return -1;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "-";
}

static void print_uptime(double ms)
{
	unsigned long s = (unsigned long)(ms / 1000);
	printf("%lud %02luh %02lum %02lus", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
}

static void print_edges(const cJSON *edges)
{
	printf("\nEdges: %d\n", cJSON_GetArraySize(edges));
	printf("%-16s %8s %-22s %8s %8s %12s %12s\n", "EDGE", "PID", "LISTEN", "CONNS", "CHANNELS", "MSG_IN",
	       "MSG_OUT");
	const cJSON *e;
	cJSON_ArrayForEach(e, edges)
	{
		printf("%-16s %8.0f %-22s %8.0f %8.0f %12.0f %12.0f\n", str(e, "edge_id"), num(e, "pid"),
		       str(e, "listen"), num(e, "connections"), num(e, "channels"), num(e, "messages_in"),
		       num(e, "messages_out"));
	}
}

static void print_channels(const cJSON *o)
{
	const cJSON *chans = cJSON_GetObjectItemCaseSensitive(o, "channels"), *ch;
	int n = cJSON_GetArraySize(chans), i = 0;
	printf("\nSubscribed Redis channels:%s\n", n ? "" : " none");
	cJSON_ArrayForEach(ch, chans)
	{
		if (i++ == 20)
			break;
		printf("  %s\n", cJSON_IsString(ch) ? ch->valuestring : "?");
	}
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "redis");
	double total = num(r, "subscribed");
	if (total < n)
		total = n;
	if (total > 20)
		printf("  ... %.0f more\n", total - 20);
}

static void print_status(const cJSON *o)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "redis");
	printf("Bridge:      %s (version %s, pid %.0f)\n", str(o, "host_id"), str(o, "version"), num(o, "pid"));
	printf("Uptime:      ");
	print_uptime(num(o, "uptime_ms"));
	printf("\nRedis:       %s, %s", str(r, "mode"), str(r, "state"));
	if (strcmp(str(r, "mode"), "none") != 0)
		printf(", %s, %.0f reconnects", str(r, "url"), num(r, "reconnects"));
	printf("\nSubscribed:  %.0f channels\n", num(r, "subscribed"));
	const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "cluster");
	if (cJSON_IsObject(cl))
		printf("State:       %.0f occupied channels, %.0f presence users (%.0f connections) in %.0f "
		       "presence channels\n",
		       num(cl, "occupied_channels"), num(cl, "presence_users"), num(cl, "presence_connections"),
		       num(cl, "presence_channels"));
	print_edges(cJSON_GetObjectItemCaseSensitive(o, "edges"));
	print_channels(o);
}

static int show(const ctl_cfg *c, const char *reply)
{
	cJSON *o = cJSON_Parse(reply);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
	int rc = cJSON_IsTrue(ok) ? 0 : 1;
	if (c->json)
		printf("%s\n", reply);
	else if (!o)
		fprintf(stderr, "swbctl: the bridge sent a reply that is not JSON\n");
	else if (rc)
		fprintf(stderr, "swbctl: the bridge refused: %s\n", str(o, "error"));
	else
		print_status(o);
	cJSON_Delete(o);
	return rc;
}

int main(int argc, char **argv)
{
	ctl_cfg c = { SWB_DEFAULT_RUNTIME_DIR, false, 2000 };
	const char *cmd;
	parse_args(&c, argc, argv, &cmd);
	char url[600], req[64], *reply = NULL;
	snprintf(url, sizeof(url), "ipc://%s/control.ipc", c.runtime_dir);
	snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}", cmd);
	if (request(&c, url, req, &reply) < 0)
		return 1;
	int rc = show(&c, reply);
	free(reply);
	return rc;
}
