/* redis_url.c: parses the --redis value (see redis_url.h). */
#include "redis_url.h"

#include <stdlib.h>
#include <string.h>

/* Parse decimal digits [s, end) into *out within [min, max]. */
static int parse_num(const char *s, const char *end, long min, long max, int *out)
{
	if (s == end || end - s > 9)
		return -1;
	long v = 0;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-' || c == '_';
}

/* Host part [s, end): a name / IPv4 address, or [IPv6]. */
static int parse_host(const char *s, const char *end, swb_bridge_redis_url *u, const char **err)
{
	size_t n = (size_t)(end - s);
	if (n >= 2 && s[0] == '[' && end[-1] == ']') {
		s++, end--, n -= 2;
		for (const char *p = s; p < end; p++)
			if (!(host_char(*p) || *p == ':'))
				return *err = "invalid character in IPv6 address", -1;
	} else {
		for (const char *p = s; p < end; p++)
			if (!host_char(*p))
				return *err = "invalid character in host", -1;
	}
	if (n == 0)
		return *err = "missing host", -1;
	if (n >= sizeof(u->host))
		return *err = "host too long", -1;
	memcpy(u->host, s, n);
	u->host[n] = '\0';
	return 0;
}

/* Where the host ends and ":PORT" may start, honouring [v6]. */
static const char *host_end(const char *s, const char *end)
{
	if (*s == '[') {
		const char *rb = memchr(s, ']', (size_t)(end - s));
		return rb ? rb + 1 : end;
	}
	const char *colon = memchr(s, ':', (size_t)(end - s));
	return colon ? colon : end;
}

int swb_bridge_redis_url_parse(const char *s, swb_bridge_redis_url *u, const char **err)
{
	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (!strcmp(s, "none")) {
		u->none = true;
		return 0;
	}
	if (strncmp(s, "redis://", 8) != 0)
		return *err = "expected redis://HOST:PORT[/DB] or none", -1;
	const char *p = s + 8, *end = p + strlen(p);
	if (memchr(p, '@', (size_t)(end - p)))
		return *err = "credentials in the URL are not supported", -1;
	const char *slash = memchr(p, '/', (size_t)(end - p));
	const char *auth_end = slash ? slash : end;
	const char *hend = host_end(p, auth_end);
	if (parse_host(p, hend, u, err) < 0)
		return -1;
	if (hend < auth_end) {
		if (*hend != ':' || parse_num(hend + 1, auth_end, 1, 65535, &u->port) < 0)
			return *err = "invalid port (expected 1-65535)", -1;
	}
	if (slash && slash + 1 < end) {
		if (parse_num(slash + 1, end, 0, 1000000, &u->db) < 0)
			return *err = "invalid database number", -1;
		u->has_db = true;
	}
	return 0;
}
