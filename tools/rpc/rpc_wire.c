/*
 * The protobuf wire format's primitives (rpc_wire.h), little-endian as
 * the format defines, whatever the host's order.
 */
#include <stdlib.h>
#include <string.h>

#include "rpc_wire.h"

void
rpc_buf_free(rpc_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
rpc_buf_put(rpc_buf *b, const void *p, size_t n)
{
	if (b->failed || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t   cap = b->cap ? b->cap : 64;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		if ((d = realloc(b->data, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap  = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
rpc_buf_varint(rpc_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t  n = 0;

	do {
		tmp[n] = (uint8_t) (v & 0x7f);
		v >>= 7;
		if (v != 0)
			tmp[n] |= 0x80;
		n++;
	} while (v != 0);
	rpc_buf_put(b, tmp, n);
}

void
rpc_buf_tag(rpc_buf *b, uint32_t field, int wire_type)
{
	rpc_buf_varint(b, ((uint64_t) field << 3) | (uint64_t) wire_type);
}

void
rpc_buf_fixed32(rpc_buf *b, uint32_t v)
{
	uint8_t tmp[4];

	for (int i = 0; i < 4; i++)
		tmp[i] = (uint8_t) (v >> (8 * i));
	rpc_buf_put(b, tmp, 4);
}

void
rpc_buf_fixed64(rpc_buf *b, uint64_t v)
{
	uint8_t tmp[8];

	for (int i = 0; i < 8; i++)
		tmp[i] = (uint8_t) (v >> (8 * i));
	rpc_buf_put(b, tmp, 8);
}

void
rpc_buf_record(rpc_buf *b, uint32_t field, const void *p, size_t n)
{
	rpc_buf_tag(b, field, RPC_WIRE_LEN);
	rpc_buf_varint(b, n);
	rpc_buf_put(b, p, n);
}

bool
rpc_read_varint(rpc_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < 10; i++) {
		if (r->p >= r->end)
			return false;
		x |= (uint64_t) (*r->p & 0x7f) << (7 * i);
		if ((*r->p++ & 0x80) == 0) {
			*v = x;
			return true;
		}
	}
	return false;
}

bool
rpc_read_fixed32(rpc_reader *r, uint32_t *v)
{
	uint32_t x = 0;

	if (r->end - r->p < 4)
		return false;
	for (int i = 0; i < 4; i++)
		x |= (uint32_t) r->p[i] << (8 * i);
	r->p += 4;
	*v = x;
	return true;
}

bool
rpc_read_fixed64(rpc_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	if (r->end - r->p < 8)
		return false;
	for (int i = 0; i < 8; i++)
		x |= (uint64_t) r->p[i] << (8 * i);
	r->p += 8;
	*v = x;
	return true;
}

bool
rpc_read_len(rpc_reader *r, const uint8_t **data, size_t *len)
{
	uint64_t n;

	if (!rpc_read_varint(r, &n) || n > (uint64_t) (r->end - r->p))
		return false;
	*data = r->p;
	*len  = (size_t) n;
	r->p += n;
	return true;
}

/* Groups nest; hostile input must not exhaust the stack. */
#define MAX_GROUP_DEPTH 64

static bool
skip(rpc_reader *r, int wire_type, uint32_t field, int depth)
{
	uint64_t       v;
	uint32_t       v32;
	const uint8_t *d;
	size_t         n;

	switch (wire_type) {
	case RPC_WIRE_VARINT: return rpc_read_varint(r, &v);
	case RPC_WIRE_I64: return rpc_read_fixed64(r, &v);
	case RPC_WIRE_I32: return rpc_read_fixed32(r, &v32);
	case RPC_WIRE_LEN: return rpc_read_len(r, &d, &n);
	case RPC_WIRE_SGROUP:
		/* until the matching end-group tag */
		for (;;) {
			uint64_t tag;

			if (!rpc_read_varint(r, &tag))
				return false;
			if ((tag & 7) == RPC_WIRE_EGROUP)
				return (tag >> 3) == field;
			if (depth >= MAX_GROUP_DEPTH ||
			    !skip(r, (int) (tag & 7), (uint32_t) (tag >> 3),
			        depth + 1))
				return false;
		}
	default: return false;
	}
}

bool
rpc_read_skip(rpc_reader *r, int wire_type, uint32_t field)
{
	return skip(r, wire_type, field, 0);
}
