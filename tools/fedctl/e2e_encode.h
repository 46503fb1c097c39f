/*
 * The byte encodings fedctl's end-to-end encryption shares: the strings
 * bound into key derivations and associated data (length-prefixed names
 * and big-endian numbers, so that no two contexts encode alike), and hex
 * for keys in the key store. Used by both message formats (e2e.c,
 * e2e_session.c) and by the key store, so that they cannot drift apart.
 */
#ifndef FEDCTL_E2E_ENCODE_H
#define FEDCTL_E2E_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2e.h"

/* A growing byte string; the first error sticks, so callers check once. */
typedef struct fedctl_e2e_buf {
	uint8_t *p; /* owned */
	size_t   len;
	size_t   cap;
	int      err; /* FEDCTL_E2E_ENOMEM or FEDCTL_E2E_EFORMAT; 0: fine */
} fedctl_e2e_buf;

void fedctl_e2e_buf_put(fedctl_e2e_buf *b, const void *p, size_t n);
void fedctl_e2e_buf_u16(fedctl_e2e_buf *b, uint16_t v);
void fedctl_e2e_buf_u64(fedctl_e2e_buf *b, uint64_t v);

/* A 16-bit length and the bytes; an empty, missing or longer than
 * FEDCTL_E2E_PARTY_MAX string is EFORMAT. */
void fedctl_e2e_buf_str(fedctl_e2e_buf *b, const char *s);

/* Sender, sender client, recipient, recipient client, in that order. */
void fedctl_e2e_buf_parties(fedctl_e2e_buf *b, const fedctl_e2e_context *ctx);

void fedctl_e2e_buf_free(fedctl_e2e_buf *b);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void fedctl_e2e_hex_encode(const uint8_t *p, size_t n, char *out);

/* Exactly 2n hex digits into n bytes; false otherwise. */
bool fedctl_e2e_hex_decode(const char *s, uint8_t *out, size_t n);

/* Big-endian numbers in and out of raw bytes. */
void     fedctl_e2e_put_u16(uint8_t *p, uint16_t v);
void     fedctl_e2e_put_u32(uint8_t *p, uint32_t v);
uint16_t fedctl_e2e_get_u16(const uint8_t *p);
uint32_t fedctl_e2e_get_u32(const uint8_t *p);

#endif
