/* fuzz_apps.c: app configuration parsing (apps.c): a JSON apps file, the
 * line-based apps file, --app ID:KEY:SECRET and --webhook ID=URL specs.
 * The first input byte picks the parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (size < 1)
		return 0;
	swb_edge_apps t;
	swb_edge_apps_init(&t);
	char err[512];
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 4) {
	case 0:
		swb_edge_apps_load_json(&t, s, n, err, sizeof(err));
		break;
	case 1: { /* through a file: the line format (or JSON) as --apps-file reads it */
		if (!path[0]) {
			snprintf(path, sizeof(path), "/tmp/swb-fuzz-apps-%d", (int)getpid());
		}
		FILE *f = fopen(path, "wb");
		if (!f)
			abort();
		fwrite(s, 1, n, f);
		fclose(f);
		swb_edge_apps_load_file(&t, path, err, sizeof(err));
		unlink(path);
		break;
	}
	case 2:
		swb_edge_apps_add_spec(&t, s, n, err, sizeof(err));
		break;
	default: {
		char *z = strndup(s, n);
		swb_edge_apps_add_spec(&t, "app1:key1:secret1", 17, err, sizeof(err));
		swb_edge_apps_add_webhook_spec(&t, z, err, sizeof(err));
		free(z);
		break;
	}
	}
	swb_edge_apps_fini(&t);
	return 0;
}
