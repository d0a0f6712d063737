/* apps.c: parsing and lookup of the app table (see apps.h). The table owns
 * every app entry and its strings; swb_edge_apps_fini frees them. */
#include "apps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

void swb_edge_apps_init(swb_edge_apps *t) { memset(t, 0, sizeof(*t)); }

void swb_edge_apps_fini(swb_edge_apps *t)
{
	swb_edge_app *a, *tmp;
	HASH_ITER(hh_id, t->by_id, a, tmp) {
		HASH_DELETE(hh_id, t->by_id, a);
		HASH_DELETE(hh_key, t->by_key, a);
		free(a->id);
		free(a->key);
		free(a->secret);
		free(a);
	}
	t->n = 0;
}

const swb_edge_app *swb_edge_apps_by_id(const swb_edge_apps *t, const char *id, size_t n)
{
	swb_edge_app *a = NULL;
	HASH_FIND(hh_id, t->by_id, id, n, a);
	return a;
}

const swb_edge_app *swb_edge_apps_by_key(const swb_edge_apps *t, const char *key, size_t n)
{
	swb_edge_app *a = NULL;
	HASH_FIND(hh_key, t->by_key, key, n, a);
	return a;
}

static swb_edge_app *app_new(const char *id, size_t idn, const char *key, size_t keyn,
			     const char *sec, size_t secn)
{
	swb_edge_app *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->id = strndup(id, idn);
	a->key = strndup(key, keyn);
	a->secret = strndup(sec, secn);
	if (!a->id || !a->key || !a->secret) {
		free(a->id);
		free(a->key);
		free(a->secret);
		free(a);
		return NULL;
	}
	a->id_len = idn;
	a->key_len = keyn;
	a->secret_len = secn;
	return a;
}

int swb_edge_apps_add_spec(swb_edge_apps *t, const char *spec, size_t n, char *err, size_t errlen)
{
	const char *c1 = memchr(spec, ':', n);
	const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - spec)) : NULL;
	if (!c2) {
		snprintf(err, errlen, "invalid app '%.*s': expected ID:KEY:SECRET", (int)(n > 80 ? 80 : n), spec);
		return -1;
	}
	size_t idn = (size_t)(c1 - spec), keyn = (size_t)(c2 - c1 - 1), secn = n - (size_t)(c2 + 1 - spec);
	if (!swb_app_token_valid(spec, idn)) {
		snprintf(err, errlen, "invalid app id '%.*s': use 1-64 of A-Z a-z 0-9 _ - .", (int)(idn > 80 ? 80 : idn), spec);
		return -1;
	}
	if (!swb_app_token_valid(c1 + 1, keyn)) {
		snprintf(err, errlen, "invalid app key for app '%.*s': use 1-64 of A-Z a-z 0-9 _ - .", (int)idn, spec);
		return -1;
	}
	if (secn == 0 || memchr(c2 + 1, '\0', secn)) {
		snprintf(err, errlen, "empty or invalid secret for app '%.*s'", (int)idn, spec);
		return -1;
	}
	if (swb_edge_apps_by_id(t, spec, idn)) {
		snprintf(err, errlen, "duplicate app id '%.*s'", (int)idn, spec);
		return -1;
	}
	if (swb_edge_apps_by_key(t, c1 + 1, keyn)) {
		snprintf(err, errlen, "duplicate app key '%.*s'", (int)keyn, c1 + 1);
		return -1;
	}
	swb_edge_app *a = app_new(spec, idn, c1 + 1, keyn, c2 + 1, secn);
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	HASH_ADD_KEYPTR(hh_id, t->by_id, a->id, a->id_len, a);
	HASH_ADD_KEYPTR(hh_key, t->by_key, a->key, a->key_len, a);
	t->n++;
	return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int swb_edge_apps_load_file(swb_edge_apps *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open apps file '%s': %s", path, strerror(errno));
		return -1;
	}
	char line[1024];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		char *s = line;
		while (n && is_space(s[n - 1]))
			n--;
		while (n && is_space(*s)) {
			s++;
			n--;
		}
		if (n == 0 || *s == '#')
			continue;
		char sub[512];
		if (swb_edge_apps_add_spec(t, s, n, sub, sizeof(sub)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}
