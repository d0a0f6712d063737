/* bench_ws.h: the client half of RFC 6455 that swb-bench needs, without
 * any I/O: parse server frames (never masked; 7/16/64-bit lengths; hostile
 * lengths refused), reassemble fragmented messages, build masked client
 * frames, and the upgrade request / Sec-WebSocket-Accept check. */
#ifndef SWB_BENCH_WS_H
#define SWB_BENCH_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	SWB_WS_CONT = 0x0,
	SWB_WS_TEXT = 0x1,
	SWB_WS_BINARY = 0x2,
	SWB_WS_CLOSE = 0x8,
	SWB_WS_PING = 0x9,
	SWB_WS_PONG = 0xA,
};

typedef struct swb_ws_frame {
	bool fin;
	int opcode;
	const uint8_t *payload; /* points into the parsed buffer */
	uint64_t len;           /* payload length */
	size_t frame_len;       /* header + payload bytes consumed */
} swb_ws_frame;

/* Parse one frame from buf[0..n). Returns 1 and fills *f when a whole frame
 * is there, 0 when more bytes are needed, -1 on a protocol violation (*err
 * says which): reserved bits, masked server frame, unknown opcode, control
 * frame fragmented or > 125 bytes, 64-bit length with the top bit set,
 * non-minimal length encoding, payload above max_payload. */
int swb_ws_parse(const uint8_t *buf, size_t n, uint64_t max_payload, swb_ws_frame *f, const char **err);

/* Reassembly of fragmented data messages. Control frames pass through the
 * caller, not here. */
typedef struct swb_ws_asm {
	uint8_t *buf;
	size_t len, cap;
	int opcode; /* of the message being assembled, 0 when none */
} swb_ws_asm;

void swb_ws_asm_init(swb_ws_asm *a);
void swb_ws_asm_free(swb_ws_asm *a);
/* Feed a data frame (TEXT, BINARY or CONT). Returns 1 when a message is
 * complete: *msg / *len / *opcode describe it (valid until the next call;
 * for an unfragmented frame they point at the frame's payload), 0 when more
 * fragments are needed, -1 on a violation (CONT without a start, a new
 * message before the last one ended, message above max_msg, no memory). */
int swb_ws_asm_feed(swb_ws_asm *a, const swb_ws_frame *f, size_t max_msg, const uint8_t **msg, size_t *len, int *opcode,
		    const char **err);

/* Build one masked client frame (FIN set). Returns its length, or 0 when it
 * does not fit in cap (cap >= len + 14 always fits). */
size_t swb_ws_build(uint8_t *out, size_t cap, int opcode, const void *payload, size_t len, uint32_t mask);

/* A fresh base64 Sec-WebSocket-Key (24 chars + NUL) from 16 random bytes. */
void swb_ws_key(const uint8_t rnd[16], char key[25]);
/* The Sec-WebSocket-Accept a server must answer for key (28 chars + NUL). */
void swb_ws_accept(const char *key, char out[29]);

/* Look at an HTTP response head in buf[0..n). Returns the head's length
 * (through the blank line) when complete, 0 when more is needed, -1 when
 * it is too long (> 8 KiB). *status gets the status code (0 if unparsable);
 * header values are found with swb_http_header(). */
long swb_http_head(const char *buf, size_t n, int *status);
/* Value of header name (case-insensitive) in a complete head; NULL if
 * absent. *vlen gets its length (trailing spaces trimmed). */
const char *swb_http_header(const char *head, size_t head_len, const char *name, size_t *vlen);

#endif
