/* sbuf.c: growable strings and JSON string escaping. */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void swb_sbuf_init(swb_sbuf *s) { memset(s, 0, sizeof(*s)); }

void swb_sbuf_free(swb_sbuf *s)
{
	free(s->p);
	memset(s, 0, sizeof(*s));
}

static bool sbuf_reserve(swb_sbuf *s, size_t extra)
{
	if (s->oom)
		return false;
	if (s->len + extra + 1 <= s->cap)
		return true;
	size_t cap = s->cap ? s->cap : 64;
	while (cap < s->len + extra + 1)
		cap *= 2;
	char *p = realloc(s->p, cap);
	if (!p) {
		s->oom = true;
		return false;
	}
	s->p = p;
	s->cap = cap;
	return true;
}

void swb_sbuf_append(swb_sbuf *s, const void *data, size_t n)
{
	if (!sbuf_reserve(s, n))
		return;
	memcpy(s->p + s->len, data, n);
	s->len += n;
	s->p[s->len] = '\0';
}

void swb_sbuf_puts(swb_sbuf *s, const char *str) { swb_sbuf_append(s, str, strlen(str)); }

void swb_sbuf_printf(swb_sbuf *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_reserve(s, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(s->p + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

void swb_sbuf_json_str(swb_sbuf *s, const char *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	/* Worst case every byte becomes \u00XX. */
	if (!sbuf_reserve(s, n * 6 + 2))
		return;
	char *o = s->p + s->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)data[i];
		switch (c) {
		case '"': *o++ = '\\'; *o++ = '"'; break;
		case '\\': *o++ = '\\'; *o++ = '\\'; break;
		case '\n': *o++ = '\\'; *o++ = 'n'; break;
		case '\r': *o++ = '\\'; *o++ = 'r'; break;
		case '\t': *o++ = '\\'; *o++ = 't'; break;
		case '\b': *o++ = '\\'; *o++ = 'b'; break;
		case '\f': *o++ = '\\'; *o++ = 'f'; break;
		default:
			if (c < 0x20) {
				*o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';
				*o++ = hex[c >> 4]; *o++ = hex[c & 15];
			} else {
				*o++ = (char)c;
			}
		}
	}
	*o++ = '"';
	s->len = (size_t)(o - s->p);
	s->p[s->len] = '\0';
}
