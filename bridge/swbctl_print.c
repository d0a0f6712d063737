/* swbctl_print.c: the human-readable tables swbctl prints for each reply
 * (the --json form prints the reply as it came). Missing fields print as
 * "-" or 0: an older bridge's reply still prints. */
#include <stdio.h>
#include <string.h>

#include "swbctl.h"

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

static bool flag(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const cJSON *obj(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void uptime(char *out, size_t cap, double ms)
{
	unsigned long s = (unsigned long)(ms / 1000);
	snprintf(out, cap, "%lud%02luh%02lum%02lus", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
}

/* 1234567 -> "1.2M": table cells stay narrow. */
static const char *human(char *out, size_t cap, double v)
{
	const char *unit = "";
	if (v >= 1e9)
		v /= 1e9, unit = "G";
	else if (v >= 1e6)
		v /= 1e6, unit = "M";
	else if (v >= 1e4)
		v /= 1e3, unit = "k";
	snprintf(out, cap, *unit ? "%.1f%s" : "%.0f%s", v, unit);
	return out;
}

static void print_edges(const cJSON *edges)
{
	char up[32], a[16], b[16], c[16], d[16], q[16], h[16];
	printf("%-10s %7s %-21s %6s %6s %6s %7s %7s %7s %7s %6s %6s %-13s %-5s %4s %5s %s\n", "EDGE", "PID", "LISTEN",
	       "CONNS", "CHANS", "SUBS", "MSG_IN", "MSG_OUT", "B_IN", "B_OUT", "QUEUE", "CLQ_B", "UPTIME", "DRAIN",
	       "GEN", "HOOKS", "RELOAD_ERROR");
	const cJSON *e;
	cJSON_ArrayForEach(e, edges)
	{
		uptime(up, sizeof(up), num(e, "uptime_ms"));
		const char *err = str(e, "reload_error");
		const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(e, "webhook_apps");
		if (cJSON_IsNumber(hooks))
			snprintf(h, sizeof(h), "%.0f", hooks->valuedouble);
		else
			snprintf(h, sizeof(h), "-");
		printf("%-10s %7.0f %-21s %6.0f %6.0f %6.0f %7s %7s %7s %7s %6.0f %6s %-13s %-5s %4.0f %5s %s\n",
		       str(e, "edge_id"), num(e, "pid"), str(e, "listen"), num(e, "connections"), num(e, "channels"),
		       num(e, "subscriptions"), human(a, sizeof(a), num(e, "messages_in")),
		       human(b, sizeof(b), num(e, "messages_out")), human(c, sizeof(c), num(e, "bytes_in")),
		       human(d, sizeof(d), num(e, "bytes_out")), num(e, "queued"),
		       human(q, sizeof(q), num(e, "queued_bytes_clients")), up, flag(e, "draining") ? "yes" : "no",
		       num(e, "config_generation"), h, *err && strcmp(err, "-") ? err : "-");
	}
}

static void print_status(const cJSON *o)
{
	const cJSON *r = obj(o, "redis"), *p = obj(o, "probe"), *cl = obj(o, "cluster");
	char up[32];
	uptime(up, sizeof(up), num(o, "uptime_ms"));
	printf("Bridge:      %s (version %s, pid %.0f), up %s\n", str(o, "host_id"), str(o, "version"),
	       num(o, "pid"), up);
	if (flag(o, "ready"))
		printf("Ready:       yes\n");
	else
		printf("Ready:       NO (%s)\n", str(o, "ready_reason"));
	printf("Log level:   %s\n", str(o, "log_level"));
	printf("Redis:       %s, %s", str(r, "mode"), str(r, "state"));
	if (strcmp(str(r, "mode"), "none") != 0)
		printf(", %s, %.0f reconnects", str(r, "url"), num(r, "reconnects"));
	if (strcmp(str(r, "mode"), "none") != 0)
		printf("\nProbe:       every %.0f ms, timeout %.0f ms; %.0f sent, %.0f back, %.0f failed, %.0f "
		       "rebuilds, last round trip %.3f ms",
		       num(p, "interval_ms"), num(p, "timeout_ms"), num(p, "sent"), num(p, "received"),
		       num(p, "failures"), num(p, "rebuilds"), num(p, "last_rtt_ms"));
	printf("\nSubscribed:  %.0f Redis channels\n", num(r, "subscribed"));
	if (cJSON_IsObject(cl))
		printf("State:       %.0f occupied channels, %.0f presence users (%.0f connections) in %.0f "
		       "presence channels\n",
		       num(cl, "occupied_channels"), num(cl, "presence_users"), num(cl, "presence_connections"),
		       num(cl, "presence_channels"));
	printf("\nEdges: %d\n", cJSON_GetArraySize(obj(o, "edges")));
	print_edges(obj(o, "edges"));
}

static void cell(char *out, size_t cap, const cJSON *v)
{
	if (cJSON_IsNumber(v))
		snprintf(out, cap, "%.0f", v->valuedouble);
	else
		snprintf(out, cap, "?");
}

static void print_channels(const cJSON *o)
{
	const cJSON *arr = obj(o, "channels"), *it;
	char cl[32];
	printf("%-16s %-40s %8s %8s\n", "APP", "CHANNEL", "HOST", "CLUSTER");
	cJSON_ArrayForEach(it, arr)
	{
		cell(cl, sizeof(cl), obj(it, "cluster"));
		printf("%-16s %-40s %8.0f %8s\n", str(it, "app"), str(it, "channel"), num(it, "host"), cl);
	}
	printf("%d channels%s%s\n", cJSON_GetArraySize(arr), flag(o, "truncated") ? " (list truncated)" : "",
	       flag(o, "cluster_known") ? "" : "; cluster counts unknown (Redis unavailable): ?");
}

static void print_connections(const cJSON *o)
{
	const cJSON *it;
	char cl[32];
	printf("%-16s %8s %8s\n", "APP", "HOST", "CLUSTER");
	cJSON_ArrayForEach(it, obj(o, "apps"))
	{
		cell(cl, sizeof(cl), obj(it, "cluster"));
		printf("%-16s %8.0f %8s\n", str(it, "app"), num(it, "host"), cl);
	}
	printf("%.0f connections on this host (cluster counts are known for apps with max_connections: ? "
	       "otherwise)\n",
	       num(o, "host_total"));
}

static void print_stats(const cJSON *o)
{
	const cJSON *c, *p = obj(o, "probe");
	printf("%-24s %s\n", "host", str(o, "host_id"));
	printf("%-24s %s\n", "ready", flag(o, "ready") ? "yes" : "no");
	printf("%-24s %.0f\n", "edges", num(o, "edges"));
	printf("%-24s %.0f\n", "subscribed", num(o, "subscribed"));
	printf("%-24s %.0f\n", "redis_reconnects", num(o, "redis_reconnects"));
	printf("%-24s %.0f\n", "inflight_publishes", num(o, "inflight_publishes"));
	printf("%-24s %.0f\n", "probe_failures", num(p, "failures"));
	printf("%-24s %.0f\n", "probe_rebuilds", num(p, "rebuilds"));
	cJSON_ArrayForEach(c, obj(o, "counters")) printf("%-24s %.0f\n", c->string, c->valuedouble);
}

static void print_forwarded(const char *cmd, const cJSON *o)
{
	const cJSON *id;
	printf("%s sent to %.0f edge(s)", cmd, num(o, "edges"));
	cJSON_ArrayForEach(id, obj(o, "edge_ids")) printf(" %s", cJSON_IsString(id) ? id->valuestring : "?");
	if (!strcmp(cmd, "log-level"))
		printf("; bridge log level is now %s", str(o, "level"));
	printf("\n");
}

void swbctl_print(const char *cmd, const cJSON *o)
{
	if (!strcmp(cmd, "status"))
		print_status(o);
	else if (!strcmp(cmd, "edges"))
		print_edges(obj(o, "edges"));
	else if (!strcmp(cmd, "channels"))
		print_channels(o);
	else if (!strcmp(cmd, "connections"))
		print_connections(o);
	else if (!strcmp(cmd, "stats"))
		print_stats(o);
	else
		print_forwarded(cmd, o);
}

bool swbctl_print_ready(const cJSON *o, bool json)
{
	bool ready = flag(o, "ready");
	if (!json) {
		if (ready)
			printf("ready\n");
		else
			printf("not ready: %s\n", str(o, "ready_reason"));
	}
	return ready;
}
