/* bench_ws.c: WebSocket client framing for swb-bench (see bench_ws.h). */
#include "bench_ws.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

int swb_ws_parse(const uint8_t *buf, size_t n, uint64_t max_payload, swb_ws_frame *f, const char **err)
{
	if (n < 2)
		return 0;
	uint8_t b0 = buf[0], b1 = buf[1];
	if (b0 & 0x70) {
		*err = "reserved bits set";
		return -1;
	}
	int op = b0 & 0x0f;
	bool control = op & 0x8;
	if (op != SWB_WS_CONT && op != SWB_WS_TEXT && op != SWB_WS_BINARY && op != SWB_WS_CLOSE && op != SWB_WS_PING &&
	    op != SWB_WS_PONG) {
		*err = "unknown opcode";
		return -1;
	}
	if (b1 & 0x80) {
		*err = "masked frame from the server";
		return -1;
	}
	bool fin = b0 & 0x80;
	uint64_t len = b1 & 0x7f;
	size_t hdr = 2;
	if (control && (!fin || len > 125)) {
		*err = "fragmented or oversized control frame";
		return -1;
	}
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)buf[2] << 8 | buf[3];
		hdr = 4;
		if (len < 126) {
			*err = "non-minimal 16-bit length";
			return -1;
		}
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | buf[2 + i];
		hdr = 10;
		if (len >> 63) {
			*err = "64-bit length with the top bit set";
			return -1;
		}
		if (len <= 0xffff) {
			*err = "non-minimal 64-bit length";
			return -1;
		}
	}
	if (len > max_payload) {
		*err = "frame larger than the limit";
		return -1;
	}
	if (n - hdr < len)
		return 0;
	f->fin = fin;
	f->opcode = op;
	f->payload = buf + hdr;
	f->len = len;
	f->frame_len = hdr + (size_t)len;
	return 1;
}

void swb_ws_asm_init(swb_ws_asm *a)
{
	memset(a, 0, sizeof(*a));
}

void swb_ws_asm_free(swb_ws_asm *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

int swb_ws_asm_feed(swb_ws_asm *a, const swb_ws_frame *f, size_t max_msg, const uint8_t **msg, size_t *len, int *opcode,
		    const char **err)
{
	if (f->opcode == SWB_WS_CONT) {
		if (!a->opcode) {
			*err = "continuation frame without a message";
			return -1;
		}
	} else {
		if (a->opcode) {
			*err = "new message before the previous one ended";
			return -1;
		}
		if (f->fin) { /* the common case: no copy */
			*msg = f->payload;
			*len = (size_t)f->len;
			*opcode = f->opcode;
			return 1;
		}
		a->opcode = f->opcode;
		a->len = 0;
	}
	if (f->len > max_msg || a->len + f->len > max_msg) {
		*err = "fragmented message larger than the limit";
		return -1;
	}
	if (a->len + f->len > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		while (cap < a->len + f->len)
			cap *= 2;
		uint8_t *p = realloc(a->buf, cap);
		if (!p) {
			*err = "out of memory";
			return -1;
		}
		a->buf = p;
		a->cap = cap;
	}
	if (f->len)
		memcpy(a->buf + a->len, f->payload, (size_t)f->len);
	a->len += (size_t)f->len;
	if (!f->fin)
		return 0;
	*msg = a->buf;
	*len = a->len;
	*opcode = a->opcode;
	a->opcode = 0;
	return 1;
}

size_t swb_ws_build(uint8_t *out, size_t cap, int opcode, const void *payload, size_t len, uint32_t mask)
{
	size_t hdr = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
	if (cap < hdr + 4 + len)
		return 0;
	out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	}
	uint8_t m[4] = { (uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8), (uint8_t)mask };
	memcpy(out + hdr, m, 4);
	const uint8_t *p = payload;
	uint8_t *o = out + hdr + 4;
	for (size_t i = 0; i < len; i++)
		o[i] = p[i] ^ m[i & 3];
	return hdr + 4 + len;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = B64[v >> 18 & 63];
		out[o++] = B64[v >> 12 & 63];
		out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? B64[v & 63] : '=';
	}
	out[o] = '\0';
}

void swb_ws_key(const uint8_t rnd[16], char key[25])
{
	b64(rnd, 16, key);
}

void swb_ws_accept(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char in[128];
	size_t kl = strlen(key);
	if (kl > sizeof(in) - sizeof(guid))
		kl = sizeof(in) - sizeof(guid);
	memcpy(in, key, kl);
	memcpy(in + kl, guid, sizeof(guid) - 1);
	uint8_t d[SHA_DIGEST_LENGTH];
	SHA1((const unsigned char *)in, kl + sizeof(guid) - 1, d);
	b64(d, sizeof(d), out);
}

long swb_http_head(const char *buf, size_t n, int *status)
{
	*status = 0;
	const char *end = NULL;
	for (size_t i = 3; i < n; i++) {
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
			end = buf + i + 1;
			break;
		}
	}
	if (!end)
		return n > 8192 ? -1 : 0;
	if (end - buf > 8192)
		return -1;
	if (n >= 12 && !memcmp(buf, "HTTP/1.", 7) && buf[8] == ' ') {
		int s = 0, i;
		for (i = 9; i < 12 && buf[i] >= '0' && buf[i] <= '9'; i++)
			s = s * 10 + (buf[i] - '0');
		if (i == 12)
			*status = s;
	}
	return end - buf;
}

const char *swb_http_header(const char *head, size_t head_len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', head_len), *end = head + head_len;
	while (p && p + 1 < end) {
		const char *line = p + 1;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
			const char *v = line + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		p = eol;
	}
	return NULL;
}
