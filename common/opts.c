/* opts.c: flag + environment + config file parsing (see opts.h). */
#include "opts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_OPTS 64

/* Per option (by index in the spec): where its value came from, and the
 * config file line for SWB_SRC_FILE. One spec is parsed per process. */
static enum swb_opt_source opt_src[MAX_OPTS];
static int opt_line[MAX_OPTS];
static const char *config_path; /* the file the last parse read, or NULL */

/* Strings we own for the life of the process: copies of list-valued
 * environment variables (list items point into them) and config values. */
static char **owned;
static size_t n_owned;

static char *own(char *s)
{
	char **o = s ? realloc(owned, (n_owned + 1) * sizeof(*o)) : NULL;
	if (!o) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	owned = o;
	owned[n_owned++] = s;
	return s;
}

void swb_strlist_push(swb_strlist *l, const char *s)
{
	const char **items = realloc(l->items, (l->n + 1) * sizeof(*items));
	if (!items) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	items[l->n++] = s;
	l->items = items;
}

/* Record the config-file line of the item just pushed. */
static void strlist_set_line(swb_strlist *l, int line)
{
	int *lines = realloc(l->lines, l->n * sizeof(*lines));
	if (!lines) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	lines[l->n - 1] = line;
	l->lines = lines;
}

static void strlist_forget_lines(swb_strlist *l)
{
	free(l->lines);
	l->lines = NULL;
}

void swb_strlist_free_owned(swb_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->items[i]);
	free(l->items);
	strlist_forget_lines(l);
	l->items = NULL;
	l->n = 0;
}

void swb_opts_usage_error(const swb_opts_spec *spec, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", spec->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", spec->prog);
	exit(2);
}

static void print_help(const swb_opts_spec *spec)
{
	printf("Usage: %s %s\n\n%s\n\nOptions:\n", spec->prog, spec->usage, spec->summary);
	for (const swb_opt *o = spec->opts; o->name; o++) {
		char left[80];
		if (o->type == SWB_OPT_FLAG)
			snprintf(left, sizeof(left), "--%s", o->name);
		else
			snprintf(left, sizeof(left), "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
		printf("  %-30s %s", left, o->help);
		if (o->env)
			printf(" [env %s]", o->env);
		printf("\n");
	}
	printf("  %-30s %s\n  %-30s %s\n", "--help", "show this help and exit", "--version",
	       "print the version and exit");
	if (spec->epilog)
		printf("\n%s\n", spec->epilog);
}

static const swb_opt *find_opt(const swb_opts_spec *spec, const char *name, size_t n)
{
	for (const swb_opt *o = spec->opts; o->name; o++)
		if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !*v)
		*out = false;
	else
		return false;
	return true;
}

/* Check and store value v for o (a list gets v appended). Returns 0, or
 * -1 with a message (naming `from`) in err. */
static int store_value(const swb_opt *o, const char *v, const char *from, char *err, size_t errlen)
{
	switch (o->type) {
	case SWB_OPT_STR:
	case SWB_OPT_CONFIG:
		*(const char **)o->target = v;
		break;
	case SWB_OPT_INT: {
		char *end;
		errno = 0;
		long x = strtol(v, &end, 10);
		if (errno || end == v || *end || x < o->min || x > o->max) {
			snprintf(err, errlen, "invalid value '%s' for %s: expected an integer in [%ld, %ld]", v, from,
				 o->min, o->max);
			return -1;
		}
		*(long *)o->target = x;
		break;
	}
	case SWB_OPT_FLAG:
		if (!parse_bool(v, (bool *)o->target)) {
			snprintf(err, errlen, "invalid value '%s' for %s: expected 1 or 0", v, from);
			return -1;
		}
		break;
	case SWB_OPT_LIST:
		swb_strlist_push((swb_strlist *)o->target, v);
		break;
	}
	return 0;
}

/* Record that src sets o now; a list set by a new source starts empty. */
static void take_source(const swb_opts_spec *spec, const swb_opt *o, enum swb_opt_source src, int line)
{
	size_t i = (size_t)(o - spec->opts);
	if (i >= MAX_OPTS)
		return;
	if (o->type == SWB_OPT_LIST && opt_src[i] != src) {
		((swb_strlist *)o->target)->n = 0;
		strlist_forget_lines(o->target);
	}
	opt_src[i] = src;
	opt_line[i] = line;
}

static void set_value(const swb_opts_spec *spec, const swb_opt *o, const char *v, const char *from)
{
	char err[512];
	if (store_value(o, v, from, err, sizeof(err)) < 0)
		swb_opts_usage_error(spec, "%s", err);
}

static void apply_env(const swb_opts_spec *spec)
{
	for (const swb_opt *o = spec->opts; o->name; o++) {
		const char *v = o->env ? getenv(o->env) : NULL;
		if (!v || (o->type != SWB_OPT_FLAG && !*v))
			continue;
		take_source(spec, o, SWB_SRC_ENV, 0);
		if (o->type != SWB_OPT_LIST) {
			set_value(spec, o, v, o->env);
			continue;
		}
		char *copy = own(strdup(v)), *save = NULL;
		for (char *tok = strtok_r(copy, ", \t\n", &save); tok; tok = strtok_r(NULL, ", \t\n", &save))
			set_value(spec, o, tok, o->env);
	}
}

/* ---- the config file ---- */

typedef struct file_ctx {
	const swb_opts_spec *spec;
	const char *path;
	const char *only;     /* reread: collect just this key into list */
	swb_strlist *list;
} file_ctx;

static int on_file_key(void *ctx, int line, const char *key, const char *value, char *err, size_t errlen)
{
	file_ctx *f = ctx;
	const swb_opt *o = find_opt(f->spec, key, strlen(key));
	if (!o) {
		snprintf(err, errlen, "%s:%d: unknown key '%s' (keys are the long flag names of %s --help)", f->path,
			 line, key, f->spec->prog);
		return -1;
	}
	if (o->type == SWB_OPT_CONFIG) {
		snprintf(err, errlen, "%s:%d: key '%s' cannot be used inside a config file", f->path, line, key);
		return -1;
	}
	if (f->only) {
		char *v = strcmp(key, f->only) ? NULL : strdup(value);
		if (v) {
			swb_strlist_push(f->list, v);
			strlist_set_line(f->list, line);
		}
		return 0;
	}
	char from[600];
	snprintf(from, sizeof(from), "key '%s' at %s:%d", key, f->path, line);
	take_source(f->spec, o, SWB_SRC_FILE, line);
	if (store_value(o, own(strdup(value)), from, err, errlen) < 0)
		return -1;
	if (o->type == SWB_OPT_LIST)
		strlist_set_line(o->target, line);
	return 0;
}

/* The config file named by the SWB_OPT_CONFIG option's flag or env. */
static const char *find_config(const swb_opts_spec *spec, int argc, char **argv)
{
	const swb_opt *c = NULL;
	for (const swb_opt *o = spec->opts; o->name; o++)
		if (o->type == SWB_OPT_CONFIG)
			c = o;
	if (!c)
		return NULL;
	const char *path = c->env ? getenv(c->env) : NULL;
	if (path && *path)
		take_source(spec, c, SWB_SRC_ENV, 0);
	size_t n = strlen(c->name);
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) || strncmp(a + 2, c->name, n))
			continue;
		if (a[2 + n] == '=')
			path = a + 3 + n;
		else if (!a[2 + n] && i + 1 < argc)
			path = argv[++i];
		else
			continue; /* the main pass reports it */
		take_source(spec, c, SWB_SRC_FLAG, 0);
	}
	if (path && *path)
		*(const char **)c->target = path;
	return path && *path ? path : NULL;
}

static void apply_file(const swb_opts_spec *spec, const char *path)
{
	char err[1024];
	file_ctx f = { .spec = spec, .path = path };
	config_path = path;
	if (swb_config_read(path, spec->prog, on_file_key, &f, err, sizeof(err)) < 0)
		swb_opts_usage_error(spec, "%s", err);
}

int swb_opts_reread_list(const swb_opts_spec *spec, const char *name, swb_strlist *out, char *err, size_t errlen)
{
	if (!config_path)
		return 0;
	file_ctx f = { .spec = spec, .path = config_path, .only = name, .list = out };
	return swb_config_read(config_path, spec->prog, on_file_key, &f, err, errlen);
}

/* ---- argv ---- */

int swb_opts_parse(const swb_opts_spec *spec, int argc, char **argv)
{
	memset(opt_src, 0, sizeof(opt_src));
	config_path = NULL;
	const char *path = find_config(spec, argc, argv);
	if (path)
		apply_file(spec, path);
	apply_env(spec);
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (spec->positional)
				break;
			swb_opts_usage_error(spec, "unexpected argument '%s'", a);
		}
		if (!strcmp(a, "--help")) {
			print_help(spec);
			exit(0);
		}
		if (!strcmp(a, "--version")) {
			printf("%s %s\n", spec->prog, SWB_VERSION);
			exit(0);
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		const swb_opt *o = find_opt(spec, name, n);
		if (!o)
			swb_opts_usage_error(spec, "unknown option '--%.*s'", (int)n, name);
		const char *v;
		if (o->type == SWB_OPT_FLAG) {
			v = eq ? eq + 1 : "1";
		} else if (eq) {
			v = eq + 1;
		} else {
			if (i + 1 >= argc)
				swb_opts_usage_error(spec, "option '--%s' needs a value", o->name);
			v = argv[++i];
		}
		take_source(spec, o, SWB_SRC_FLAG, 0);
		char from[96];
		snprintf(from, sizeof(from), "--%s", o->name);
		set_value(spec, o, v, from);
	}
	return i;
}

/* ---- reporting ---- */

enum swb_opt_source swb_opts_source(const swb_opts_spec *spec, const void *target, const char **where)
{
	static char buf[4200];
	for (const swb_opt *o = spec->opts; o->name; o++) {
		size_t i = (size_t)(o - spec->opts);
		if (o->target != target || i >= MAX_OPTS)
			continue;
		switch (opt_src[i]) {
		case SWB_SRC_FLAG:
			snprintf(buf, sizeof(buf), "--%s", o->name);
			break;
		case SWB_SRC_ENV:
			snprintf(buf, sizeof(buf), "%s", o->env ? o->env : "env");
			break;
		case SWB_SRC_FILE:
			snprintf(buf, sizeof(buf), "%s:%d", config_path ? config_path : "config", opt_line[i]);
			break;
		default:
			snprintf(buf, sizeof(buf), "default");
		}
		if (where)
			*where = buf;
		return opt_src[i];
	}
	if (where)
		*where = "default";
	return SWB_SRC_DEFAULT;
}

/* For a metavar like "ID:KEY:SECRET": where the secret starts in v (after
 * as many ':' as precede SECRET in the metavar), or NULL. */
static const char *secret_part(const swb_opt *o, const char *v)
{
	const char *sec = o->metavar ? strstr(o->metavar, "SECRET") : NULL;
	if (!sec)
		return NULL;
	for (const char *m = o->metavar; m < sec && v; m++)
		if (*m == ':' && (v = strchr(v, ':')))
			v++;
	return v;
}

const char *swb_opts_item_source(const swb_opts_spec *spec, const swb_strlist *l, size_t i)
{
	static char buf[4200];
	const char *where;
	if (l->lines && i < l->n) {
		snprintf(buf, sizeof(buf), "%s:%d", config_path ? config_path : "config", l->lines[i]);
		return buf;
	}
	swb_opts_source(spec, l, &where);
	return where;
}

static void dump_value(const swb_opt *o, const char *v, const char *where, FILE *out)
{
	const char *secret = secret_part(o, v);
	if (secret)
		fprintf(out, "%s = %.*s***", o->name, (int)(secret - v), v);
	else
		fprintf(out, "%s = %s", o->name, v);
	fprintf(out, "    # %s\n", where);
}

void swb_opts_dump(const swb_opts_spec *spec, FILE *out)
{
	fprintf(out, "# %s effective configuration (flag > env > config file > default)\n", spec->prog);
	for (const swb_opt *o = spec->opts; o->name; o++) {
		const char *where;
		swb_opts_source(spec, o->target, &where);
		char num[32];
		switch (o->type) {
		case SWB_OPT_STR:
		case SWB_OPT_CONFIG: {
			const char *v = *(const char **)o->target;
			if (v || o->type == SWB_OPT_STR)
				dump_value(o, v ? v : "", where, out);
			break;
		}
		case SWB_OPT_INT:
			snprintf(num, sizeof(num), "%ld", *(long *)o->target);
			dump_value(o, num, where, out);
			break;
		case SWB_OPT_FLAG:
			dump_value(o, *(bool *)o->target ? "true" : "false", where, out);
			break;
		case SWB_OPT_LIST: {
			const swb_strlist *l = o->target;
			for (size_t i = 0; i < l->n; i++)
				dump_value(o, l->items[i], swb_opts_item_source(spec, l, i), out);
			break;
		}
		}
	}
}

void swb_opts_release(const swb_opts_spec *spec)
{
	for (const swb_opt *o = spec->opts; o->name; o++) {
		if (o->type != SWB_OPT_LIST)
			continue;
		swb_strlist *l = o->target;
		free(l->items);
		strlist_forget_lines(l);
		l->items = NULL;
		l->n = 0;
	}
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
	owned = NULL;
	n_owned = 0;
}
