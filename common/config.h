/* config.h: reading a Switchboard config file (INI via inih, Debian's
 * libinih). One "key = value" per line, keys are long flag names without
 * "--", '#' or ';' starts a comment line, a key may repeat (repeatable
 * flags), and "[PROG]" sections (e.g. [swb-edge]) hold keys for one binary
 * only. The caller gets every key that applies to it with its line. */
#ifndef SWB_CONFIG_H
#define SWB_CONFIG_H

#include <stddef.h>

/* One key of the file. Return 0 to go on, or -1 after writing a message
 * into err (the read stops and returns -1). */
typedef int (*swb_config_cb)(void *ctx, int line, const char *key, const char *value, char *err,
			     size_t errlen);

/* Read path, calling cb for keys outside sections and in section [prog];
 * keys of other sections are skipped. Returns 0, or -1 with a message
 * naming the file and line in err. */
int swb_config_read(const char *path, const char *prog, swb_config_cb cb, void *ctx, char *err, size_t errlen);

#endif
