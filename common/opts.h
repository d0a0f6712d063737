/* opts.h: command-line flags with SWB_* environment fallbacks, shared by
 * every binary so that --help, --version, env names and error handling are
 * the same everywhere.
 *
 * Precedence: a flag beats its environment variable, which beats the default
 * already stored in the target. A bad flag or value prints one clear line
 * and exits with status 2; --help and --version print and exit 0. */
#ifndef SWB_OPTS_H
#define SWB_OPTS_H

#include <stdbool.h>
#include <stddef.h>

enum swb_opt_type {
	SWB_OPT_STR,   /* target: const char ** */
	SWB_OPT_INT,   /* target: long *, checked against [min, max] */
	SWB_OPT_FLAG,  /* target: bool *, takes no value (env: 1/0/true/false) */
	SWB_OPT_LIST,  /* target: swb_strlist *, repeatable; env splits on ',' and whitespace */
};

typedef struct swb_strlist {
	const char **items;
	size_t n;
} swb_strlist;

typedef struct swb_opt {
	const char *name;     /* long flag without "--" */
	const char *env;      /* environment variable, or NULL */
	enum swb_opt_type type;
	const char *metavar;  /* shown in --help, e.g. "DIR" */
	const char *help;
	void *target;
	long min, max;        /* SWB_OPT_INT only */
} swb_opt;

typedef struct swb_opts_spec {
	const char *prog;     /* e.g. "swb-edge" */
	const char *usage;    /* e.g. "[options]" */
	const char *summary;  /* one paragraph shown by --help */
	const char *epilog;   /* extra text after the flag list, or NULL */
	swb_opt *opts;        /* terminated by an entry with name == NULL */
	bool positional;      /* stop at the first non-flag argument */
} swb_opts_spec;

/* Parse env then argv. Returns the index of the first positional argument
 * (argc if none). Exits on error / --help / --version as described above.
 * Strings point into argv/environ or into allocations owned for the life of
 * the process. */
int swb_opts_parse(const swb_opts_spec *spec, int argc, char **argv);
void swb_opts_usage_error(const swb_opts_spec *spec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
void swb_strlist_push(swb_strlist *l, const char *s);
/* Free what parsing allocated (list arrays, copies of list env values).
 * Call once at exit, after the last use of any parsed string. */
void swb_opts_release(const swb_opts_spec *spec);

#endif
