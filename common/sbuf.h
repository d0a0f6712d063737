/* sbuf.h: a growable byte string for building JSON replies and frames.
 * The owner calls swb_sbuf_free(); on allocation failure the sbuf sets
 * `oom` and ignores further appends, so callers check once at the end. */
#ifndef SWB_SBUF_H
#define SWB_SBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct swb_sbuf {
	char *p;
	size_t len, cap;
	bool oom;
} swb_sbuf;

void swb_sbuf_init(swb_sbuf *s);
void swb_sbuf_free(swb_sbuf *s);
void swb_sbuf_append(swb_sbuf *s, const void *data, size_t n);
void swb_sbuf_puts(swb_sbuf *s, const char *str);
void swb_sbuf_printf(swb_sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append data as a JSON string literal, quotes included. Bytes >= 0x80 are
 * copied as they are (callers pass valid UTF-8). */
void swb_sbuf_json_str(swb_sbuf *s, const char *data, size_t n);

#endif
