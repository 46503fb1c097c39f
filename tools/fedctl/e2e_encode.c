/*
 * The encodings of e2e_encode.h: a byte-string builder for key-derivation
 * info and associated data, hex for the key store, big-endian numbers.
 */
#include <stdlib.h>
#include <string.h>

#include "e2e_encode.h"

void
fedctl_e2e_buf_put(fedctl_e2e_buf *b, const void *p, size_t n)
{
	if (b->err != 0)
		return;
	if (b->len + n > b->cap) {
		size_t   cap = b->cap ? b->cap * 2 : 256;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->err = FEDCTL_E2E_ENOMEM;
			return;
		}
		b->p   = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
fedctl_e2e_buf_u16(fedctl_e2e_buf *b, uint16_t v)
{
	uint8_t x[2];

	fedctl_e2e_put_u16(x, v);
	fedctl_e2e_buf_put(b, x, 2);
}

void
fedctl_e2e_buf_u64(fedctl_e2e_buf *b, uint64_t v)
{
	uint8_t x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t) (v >> (56 - 8 * i));
	fedctl_e2e_buf_put(b, x, 8);
}

void
fedctl_e2e_buf_str(fedctl_e2e_buf *b, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (s == NULL || n == 0 || n > FEDCTL_E2E_PARTY_MAX) {
		if (b->err == 0)
			b->err = FEDCTL_E2E_EFORMAT;
		return;
	}
	fedctl_e2e_buf_u16(b, (uint16_t) n);
	fedctl_e2e_buf_put(b, s, n);
}

void
fedctl_e2e_buf_parties(fedctl_e2e_buf *b, const fedctl_e2e_context *ctx)
{
	fedctl_e2e_buf_str(b, ctx->sender);
	fedctl_e2e_buf_u64(b, ctx->sender_client);
	fedctl_e2e_buf_str(b, ctx->recipient);
	fedctl_e2e_buf_u64(b, ctx->recipient_client);
}

void
fedctl_e2e_buf_free(fedctl_e2e_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
fedctl_e2e_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i]     = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
fedctl_e2e_hex_decode(const char *s, uint8_t *out, size_t n)
{
	if (s == NULL || strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t) (hi << 4 | lo);
	}
	return true;
}

void
fedctl_e2e_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

void
fedctl_e2e_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

uint16_t
fedctl_e2e_get_u16(const uint8_t *p)
{
	return (uint16_t) (p[0] << 8 | p[1]);
}

uint32_t
fedctl_e2e_get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
	    (uint32_t) p[2] << 8 | (uint32_t) p[3];
}
