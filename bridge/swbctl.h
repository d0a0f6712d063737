/* swbctl.h: swbctl's parsed command line and its reply printers. */
#ifndef SWB_SWBCTL_H
#define SWB_SWBCTL_H

#include <stdbool.h>

#include <cjson/cJSON.h>

typedef struct ctl_cfg {
	const char *runtime_dir;
	bool json;
	long timeout_ms;
	const char *cmd;  /* the command */
	const char *arg;  /* its positional argument, or NULL */
	bool ready;       /* status --ready */
	long deadline_s, rate; /* drain */
} ctl_cfg;

/* swbctl_print.c: a human-readable form of a successful reply to cmd. */
void swbctl_print(const char *cmd, const cJSON *reply);
/* status --ready: prints "ready" / "not ready: why" (unless json); returns readiness. */
bool swbctl_print_ready(const cJSON *status, bool json);

#endif
