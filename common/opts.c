/* opts.c: flag + environment parsing (see opts.h). */
#include "opts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Store value v for o; `from` names the source for error messages. */
static void set_value(const swb_opts_spec *spec, const swb_opt *o, const char *v, const char *from)
{
	switch (o->type) {
	case SWB_OPT_STR:
		*(const char **)o->target = v;
		break;
	case SWB_OPT_INT: {
		char *end;
		errno = 0;
		long x = strtol(v, &end, 10);
		if (errno || end == v || *end || x < o->min || x > o->max)
			swb_opts_usage_error(spec, "invalid value '%s' for %s: expected an integer in [%ld, %ld]",
					     v, from, o->min, o->max);
		*(long *)o->target = x;
		break;
	}
	case SWB_OPT_FLAG:
		if (!parse_bool(v, (bool *)o->target))
			swb_opts_usage_error(spec, "invalid value '%s' for %s: expected 1 or 0", v, from);
		break;
	case SWB_OPT_LIST:
		swb_strlist_push((swb_strlist *)o->target, v);
		break;
	}
}

/* Copies of list-valued environment variables; list items point into them. */
static char *env_copies[16];
static size_t n_env_copies;

static void apply_env(const swb_opts_spec *spec)
{
	for (const swb_opt *o = spec->opts; o->name; o++) {
		const char *v = o->env ? getenv(o->env) : NULL;
		if (!v || (o->type != SWB_OPT_FLAG && !*v))
			continue;
		if (o->type != SWB_OPT_LIST) {
			set_value(spec, o, v, o->env);
			continue;
		}
		char *copy = strdup(v), *save = NULL;
		if (!copy || n_env_copies == sizeof(env_copies) / sizeof(env_copies[0]))
			exit(1);
		env_copies[n_env_copies++] = copy;
		for (char *tok = strtok_r(copy, ", \t\n", &save); tok; tok = strtok_r(NULL, ", \t\n", &save))
			set_value(spec, o, tok, o->env);
	}
}

int swb_opts_parse(const swb_opts_spec *spec, int argc, char **argv)
{
	apply_env(spec);
	/* A list given by flags replaces the one from the environment. */
	bool list_reset[64] = { 0 };
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
		size_t idx = (size_t)(o - spec->opts);
		if (o->type == SWB_OPT_LIST && idx < 64 && !list_reset[idx]) {
			((swb_strlist *)o->target)->n = 0;
			list_reset[idx] = true;
		}
		char from[96];
		snprintf(from, sizeof(from), "--%s", o->name);
		set_value(spec, o, v, from);
	}
	return i;
}

void swb_opts_release(const swb_opts_spec *spec)
{
	for (const swb_opt *o = spec->opts; o->name; o++) {
		if (o->type != SWB_OPT_LIST)
			continue;
		swb_strlist *l = o->target;
		free(l->items);
		l->items = NULL;
		l->n = 0;
	}
	for (size_t i = 0; i < n_env_copies; i++)
		free(env_copies[i]);
	n_env_copies = 0;
}
