/* fuzz_app.h: the one app ("app1:key1:secret1") the edge fuzz targets
 * sign and check against, built once per fuzzer process. */
#ifndef SWB_FUZZ_APP_H
#define SWB_FUZZ_APP_H

#include <stdlib.h>

#include "apps.h"

static const swb_edge_app *fuzz_app(void)
{
	static swb_edge_apps apps;
	static const swb_edge_app *app;
	if (!app) {
		char err[128];
		swb_edge_apps_init(&apps);
		if (swb_edge_apps_add_spec(&apps, "app1:key1:secret1", 17, err, sizeof(err)) < 0)
			abort();
		app = swb_edge_apps_by_id(&apps, "app1", 4);
	}
	return app;
}

#endif
