/* Base64 (RFC 4648) as proto3 JSON uses it; see rpc_base64.h. */
#include <stdlib.h>

#include "rpc_base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
rpc_base64_encode(const uint8_t *data, size_t len)
{
	char  *out = malloc(4 * ((len + 2) / 3) + 1);
	size_t k   = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t) data[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t) data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		out[k++] = alphabet[(v >> 18) & 63];
		out[k++] = alphabet[(v >> 12) & 63];
		out[k++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[k++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[k] = '\0';
	return out;
}

static int
value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

bool
rpc_base64_decode(const char *text, size_t n, uint8_t **out, size_t *len)
{
	uint8_t *buf;
	size_t   k = 0, pad = 0;
	uint32_t acc = 0;
	int      bits = 0;

	while (n > 0 && text[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	/* with padding, the whole must be in groups of four */
	if (pad > 0 && (n + pad) % 4 != 0)
		return false;
	if (n % 4 == 1)
		return false;
	if ((buf = malloc(n * 3 / 4 + 1)) == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		int v = value_of(text[i]);

		if (v < 0) {
			free(buf);
			return false;
		}
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[k++] = (uint8_t) (acc >> bits);
		}
	}
	*out = buf;
	*len = k;
	return true;
}
