/* crypto.h: the hashes and comparisons Pusher authentication needs,
 * on top of OpenSSL, and hex digits. Hex output is lower-case and
 * NUL-terminated. */
#ifndef SWB_CRYPTO_H
#define SWB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define SWB_SHA256_HEX_LEN 64
#define SWB_MD5_HEX_LEN 32

/* out must hold SWB_SHA256_HEX_LEN + 1 bytes. Returns 0, or -1 on failure. */
int swb_hmac_sha256_hex(const char *key, size_t keylen, const void *msg, size_t msglen, char *out);
/* out must hold SWB_MD5_HEX_LEN + 1 bytes. Returns 0, or -1 on failure. */
int swb_md5_hex(const void *msg, size_t len, char *out);
/* The value of one hex digit (either case), or -1. */
int swb_hex_digit(int c);
/* Constant-time equality (time depends only on the lengths). */
bool swb_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Fill buf with random bytes from the kernel. Returns 0, or -1. */
int swb_random_bytes(void *buf, size_t n);

#endif
