/* ops.c: operator commands on a running edge: reload of the app table
 * (SIGHUP, or ReloadCmd from the bridge) and the log level (LogLevelCmd).
 *
 * A reload builds a complete new table from the same sources as at start
 * (--app / SWB_APPS, the config file's `app` lines read again, the apps
 * file read again, --webhook) and only then swaps it in, so a bad file
 * changes nothing: the error is logged and kept in reload_error (sent in
 * EdgeStats). Apps that stay keep their connections and take the new
 * secret, key and settings; connections of a removed or now disabled app
 * are closed with 4003. Owns nothing beyond a call. */
#include <stdio.h>
#include <string.h>

#include "edge.h"
#include "log.h"
#include "opts.h"

/* The --app / --webhook list as it should be now: the config file's lines
 * read again when the list came from there, else the one parsed at start.
 * *fresh holds what must be freed. */
static int current_list(const swb_edge_app_sources *src, const swb_strlist *start, const char *key,
			swb_strlist *fresh, const swb_strlist **out, char *err, size_t errlen)
{
	*out = start;
	if (!src->spec || swb_opts_source(src->spec, start, NULL) != SWB_SRC_FILE)
		return 0;
	if (swb_opts_reread_list(src->spec, key, fresh, err, errlen) < 0)
		return -1;
	*out = fresh;
	return 0;
}

/* err = "what went wrong (KIND from SOURCE)" for item i of list l. */
static void item_error(const swb_edge_app_sources *src, const swb_strlist *l, size_t i, const char *kind,
		       const char *what, char *err, size_t errlen)
{
	int n = snprintf(err, errlen, "%s (%s from %s)", what, kind,
			 src->spec ? swb_opts_item_source(src->spec, l, i) : "the command line");
	(void)n; /* a long message is cut: it only goes to the log and EdgeStats */
}

static int build_table(swb_edge *e, swb_edge_apps *t, char *err, size_t errlen)
{
	const swb_edge_app_sources *src = &e->app_src;
	swb_strlist apps_fresh = { 0 }, hooks_fresh = { 0 };
	const swb_strlist *apps, *hooks;
	char sub[160];
	int rc = -1;
	if (current_list(src, src->apps, "app", &apps_fresh, &apps, err, errlen) < 0 ||
	    current_list(src, src->hooks, "webhook", &hooks_fresh, &hooks, err, errlen) < 0)
		goto out;
	for (size_t i = 0; apps && i < apps->n; i++)
		if (swb_edge_apps_add_spec(t, apps->items[i], strlen(apps->items[i]), sub, sizeof(sub)) < 0) {
			item_error(src, apps, i, "app", sub, err, errlen);
			goto out;
		}
	if (src->apps_file && swb_edge_apps_load_file(t, src->apps_file, err, errlen) < 0)
		goto out;
	if (t->n == 0) {
		snprintf(err, errlen, "no apps configured");
		goto out;
	}
	for (size_t i = 0; hooks && i < hooks->n; i++)
		if (swb_edge_apps_add_webhook_spec(t, hooks->items[i], sub, sizeof(sub)) < 0) {
			item_error(src, hooks, i, "webhook", sub, err, errlen);
			goto out;
		}
	rc = 0;
out:
	swb_strlist_free_owned(&apps_fresh);
	swb_strlist_free_owned(&hooks_fresh);
	return rc;
}

/* Close the connections of apps that are gone or disabled now. */
static uint32_t close_dropped(swb_edge *e)
{
	uint32_t n = 0;
	swb_edge_conn *c, *tmp;
	HASH_ITER(hh, e->by_sid, c, tmp) {
		if (!c->app || c->close_code || c->app->enabled)
			continue;
		swb_edge_pusher_goaway(e, c, 4003, c->app->removed ? "Application removed" : "Application is disabled");
		n++;
	}
	return n;
}

int swb_edge_reload(swb_edge *e, const char *why)
{
	swb_edge_apps fresh;
	char err[sizeof(e->reload_error)];
	swb_edge_apps_init(&fresh);
	if (build_table(e, &fresh, err, sizeof(err)) < 0) {
		swb_edge_apps_fini(&fresh);
		snprintf(e->reload_error, sizeof(e->reload_error), "%s", err);
		e->st.reload_failures++;
		swb_err("reload (%s) failed, keeping the current %zu app(s): %s", why, e->apps.n, err);
		return -1;
	}
	swb_edge_webhooks_flush(e); /* batches are per hook index */
	size_t before = e->apps.n, removed = swb_edge_apps_replace(&e->apps, &fresh);
	swb_edge_apps_fini(&fresh);
	uint32_t closed = close_dropped(e);
	e->config_generation++;
	e->reload_error[0] = '\0';
	swb_info("reloaded (%s): %zu app(s) (was %zu, %zu removed), %u connection(s) closed with 4003, generation %u",
		 why, e->apps.n, before, removed, closed, e->config_generation);
	swb_edge_link_hello(e); /* the bridge routes webhooks by our app list */
	return 0;
}

int swb_edge_set_log_level(swb_edge *e, const char *level)
{
	int lv = level ? swb_log_level_parse(level) : -1;
	if (lv < 0) {
		swb_warn("log level '%s' from the bridge is unknown: ignored", level ? level : "");
		return -1;
	}
	swb_log_set_level(lv);
	swb_edge_server_log_level(e);
	swb_info("log level set to %s", level);
	return 0;
}
