/* opts.h: command-line flags with SWB_* environment fallbacks, shared by
 * every binary so that --help, --version, env names and error handling are
 * the same everywhere.
 *
 * Precedence: a flag beats its environment variable, which beats the
 * config file (an SWB_OPT_CONFIG entry: --config FILE / SWB_CONFIG, keys
 * are the long flag names, see config.h), which beats the default already
 * stored in the target. A repeatable flag given by a higher source replaces
 * the whole list of a lower one. A bad flag or value prints one clear line
 * (naming the file and line for the config file) and exits with status 2;
 * --help and --version print and exit 0. */
#ifndef SWB_OPTS_H
#define SWB_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum swb_opt_type {
	SWB_OPT_STR,   /* target: const char ** */
	SWB_OPT_INT,   /* target: long *, checked against [min, max] */
	SWB_OPT_FLAG,  /* target: bool *, takes no value (env: 1/0/true/false) */
	SWB_OPT_LIST,  /* target: swb_strlist *, repeatable; env splits on ',' and whitespace */
	SWB_OPT_CONFIG, /* target: const char **: the config file, read before env and flags */
};

/* Where an option's value came from. */
enum swb_opt_source { SWB_SRC_DEFAULT = 0, SWB_SRC_FILE, SWB_SRC_ENV, SWB_SRC_FLAG };

typedef struct swb_strlist {
	const char **items;
	size_t n;
	int *lines;           /* config-file line of each item when the list came from the file, else NULL */
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
/* Where the value of the option with this target came from; *where gets
 * "--flag", "SWB_X", "FILE:LINE" or "default" (static storage). */
enum swb_opt_source swb_opts_source(const swb_opts_spec *spec, const void *target, const char **where);
/* Where item i of a list option came from: "FILE:LINE" for a config-file
 * item, else as swb_opts_source (static storage). A list that is not an
 * option's target (swb_opts_reread_list's) names the config file. */
const char *swb_opts_item_source(const swb_opts_spec *spec, const swb_strlist *l, size_t i);
/* Print the effective configuration as config-file lines with their
 * source, for --check-config. Values of options whose metavar names a
 * SECRET are shown with what follows the last ':' masked. */
void swb_opts_dump(const swb_opts_spec *spec, FILE *out);
/* Read the config file the last parse used (if any) again and collect
 * the values of one repeatable key (for a reload); 0 or -1 (err set). */
int swb_opts_reread_list(const swb_opts_spec *spec, const char *name, swb_strlist *out, char *err, size_t errlen);
/* Free a list whose items are owned (swb_opts_reread_list's). */
void swb_strlist_free_owned(swb_strlist *l);
/* Free what parsing allocated (list arrays, copies of list env values).
 * Call once at exit, after the last use of any parsed string. */
void swb_opts_release(const swb_opts_spec *spec);

#endif
