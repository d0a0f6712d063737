/* frames.c: server -> client frame encoding and UTF-8 checks (frames.h).
 * Every function returns a new buffer holding one reference, owned by the
 * caller. */
#include "frames.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

swb_buf *swb_edge_frame_from_sbuf(size_t headroom, const swb_sbuf *s)
{
	if (s->oom || !s->p)
		return NULL;
	swb_buf *b = swb_buf_new(headroom, s->len);
	if (!b)
		return NULL;
	memcpy(swb_buf_payload(b), s->p, s->len);
	b->len = s->len;
	return b;
}

swb_buf *swb_edge_frame_event(size_t headroom, const char *event, size_t elen, const char *channel,
			      size_t clen, const char *data, size_t dlen, const char *user_id, size_t ulen)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_sbuf_puts(&s, "{\"event\":");
	swb_sbuf_json_str(&s, event, elen);
	if (channel) {
		swb_sbuf_puts(&s, ",\"channel\":");
		swb_sbuf_json_str(&s, channel, clen);
	}
	swb_sbuf_puts(&s, ",\"data\":");
	swb_sbuf_json_str(&s, data ? data : "", data ? dlen : 0);
	if (user_id) {
		swb_sbuf_puts(&s, ",\"user_id\":");
		swb_sbuf_json_str(&s, user_id, ulen);
	}
	swb_sbuf_puts(&s, "}");
	swb_buf *b = swb_edge_frame_from_sbuf(headroom, &s);
	swb_sbuf_free(&s);
	return b;
}

swb_buf *swb_edge_frame_error(size_t headroom, const char *msg, int code)
{
	swb_sbuf s;
	swb_sbuf_init(&s);
	swb_sbuf_puts(&s, "{\"event\":\"pusher:error\",\"data\":{\"message\":");
	swb_sbuf_json_str(&s, msg, strlen(msg));
	if (code < 0)
		swb_sbuf_puts(&s, ",\"code\":null}}");
	else
		swb_sbuf_printf(&s, ",\"code\":%d}}", code);
	swb_buf *b = swb_edge_frame_from_sbuf(headroom, &s);
	swb_sbuf_free(&s);
	return b;
}

swb_buf *swb_edge_frame_established(size_t headroom, const char *socket_id, long activity_timeout)
{
	char inner[128];
	int n = snprintf(inner, sizeof(inner), "{\"socket_id\":\"%s\",\"activity_timeout\":%ld}", socket_id,
			 activity_timeout);
	if (n < 0 || (size_t)n >= sizeof(inner))
		return NULL;
	static const char ev[] = "pusher:connection_established";
	return swb_edge_frame_event(headroom, ev, sizeof(ev) - 1, NULL, 0, inner, (size_t)n, NULL, 0);
}

/* Length of the UTF-8 sequence starting at p[i], or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t i)
{
	unsigned char c = p[i];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t cp, min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4; cp = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n - i < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((p[i + k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool swb_edge_utf8_valid(const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i = 0;
	while (i < n) {
		size_t l = utf8_seq(p, n, i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}
