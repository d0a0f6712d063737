/* fuzz_config.c: the config file reader (common/config.c on inih), as
 * --config FILE uses it: the input is written to a file and read as
 * swb-edge's config; each key handed back is then checked the way the
 * daemons take it (integers, app and webhook specs through apps.c).
 * Checks the reader's contract too: every key comes with a line >= 1, and
 * an error message is always a terminated string. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps.h"
#include "config.h"

static int on_key(void *ctx, int line, const char *key, const char *value, char *err, size_t errlen)
{
	swb_edge_apps *apps = ctx;
	if (line < 1 || !key || !value)
		abort();
	if (!strcmp(key, "app"))
		return swb_edge_apps_add_spec(apps, value, strlen(value), err, errlen) < 0 ? -1 : 0;
	if (!strcmp(key, "webhook"))
		return swb_edge_apps_add_webhook_spec(apps, value, err, errlen) < 0 ? -1 : 0;
	if (!strcmp(key, "max-queue") || !strcmp(key, "activity-timeout") || !strcmp(key, "drain-rate")) {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (end == value || *end || errno || v < 0) {
			snprintf(err, errlen, "line %d: %s: not a non-negative integer", line, key);
			return -1;
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/swb-fuzz-config-%d", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	swb_edge_apps apps;
	swb_edge_apps_init(&apps);
	char err[512];
	memset(err, 'x', sizeof(err));
	if (swb_config_read(path, "swb-edge", on_key, &apps, err, sizeof(err)) < 0 && !memchr(err, '\0', sizeof(err)))
		abort();
	swb_edge_apps_fini(&apps);
	unlink(path);
	return 0;
}
