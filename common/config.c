/* config.c: the config file reader (see config.h) on top of inih. inih
 * does the INI syntax; this file counts lines (a reader wrapping fgets, so
 * every error names its line), rejects over-long lines, and filters
 * sections by program name. inih's multi-line values and inline comments
 * are turned off: a value is the rest of its line, so a secret may
 * contain ';' or '#'. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <ini.h>

#define SWB_CONFIG_LINE_MAX 4096

typedef struct reader {
	FILE *f;
	int line;
	bool too_long;
	const char *prog;
	swb_config_cb cb;
	void *ctx;
	char *err;
	size_t errlen;
	bool failed;
} reader;

static char *read_line(char *str, int num, void *stream)
{
	reader *r = stream;
	if (r->failed || !fgets(str, num, r->f))
		return NULL;
	r->line++;
	size_t n = strlen(str);
	if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(r->f)) {
		r->too_long = true;
		return NULL;
	}
	return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	reader *r = user;
	if (r->failed)
		return 1;
	if (section[0] && strcmp(section, r->prog) != 0)
		return 1; /* another binary's section */
	char sub[512];
	sub[0] = '\0';
	if (r->cb(r->ctx, r->line, name, value, sub, sizeof(sub)) < 0) {
		snprintf(r->err, r->errlen, "%s", sub);
		r->failed = true;
	}
	return 1;
}

int swb_config_read(const char *path, const char *prog, swb_config_cb cb, void *ctx, char *err, size_t errlen)
{
	reader r = { .prog = prog, .cb = cb, .ctx = ctx, .err = err, .errlen = errlen };
	if (!(r.f = fopen(path, "r"))) {
		snprintf(err, errlen, "cannot read config file '%s': %s", path, strerror(errno));
		return -1;
	}
	ini_allow_multiline = false;
	ini_allow_inline_comments = false;
	ini_use_stack = false;
	ini_max_line = SWB_CONFIG_LINE_MAX;
	int rc = ini_parse_stream(read_line, &r, on_key, &r);
	fclose(r.f);
	if (r.failed)
		return -1;
	if (r.too_long) {
		snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, r.line, SWB_CONFIG_LINE_MAX - 3);
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: syntax error (expected 'key = value', '[section]' or a '#' comment)",
			 path, rc);
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read config file '%s': out of memory", path);
		return -1;
	}
	return 0;
}
