/*
 * The protobuf wire format, by hand, for messages known only by their
 * descriptors: varints, zigzag, fixed 32/64-bit values and length-
 * delimited records written to a growable buffer, and read back with
 * every length checked against the end of the input.
 */
#ifndef FEDRPC_RPC_WIRE_H
#define FEDRPC_RPC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	RPC_WIRE_VARINT = 0,
	RPC_WIRE_I64    = 1,
	RPC_WIRE_LEN    = 2,
	RPC_WIRE_SGROUP = 3,
	RPC_WIRE_EGROUP = 4,
	RPC_WIRE_I32    = 5,
};

typedef struct rpc_buf {
	uint8_t *data; /* owned */
	size_t   len, cap;
	bool     failed; /* an allocation failed: the bytes are incomplete */
} rpc_buf;

void rpc_buf_free(rpc_buf *b);
void rpc_buf_put(rpc_buf *b, const void *p, size_t n);
void rpc_buf_varint(rpc_buf *b, uint64_t v);
void rpc_buf_tag(rpc_buf *b, uint32_t field, int wire_type);
void rpc_buf_fixed32(rpc_buf *b, uint32_t v);
void rpc_buf_fixed64(rpc_buf *b, uint64_t v);
/* A length-delimited record: tag, length, bytes. */
void rpc_buf_record(rpc_buf *b, uint32_t field, const void *p, size_t n);

static inline uint64_t
rpc_zigzag64(int64_t v)
{
	return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}
static inline uint32_t
rpc_zigzag32(int32_t v)
{
	return ((uint32_t) v << 1) ^ (uint32_t) (v >> 31);
}
static inline int64_t
rpc_unzigzag64(uint64_t v)
{
	return (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
}

/* A reader over [p, end). Each returns false on truncated or malformed
 * input (a varint longer than 10 bytes). */
typedef struct rpc_reader {
	const uint8_t *p, *end;
} rpc_reader;

bool rpc_read_varint(rpc_reader *r, uint64_t *v);
bool rpc_read_fixed32(rpc_reader *r, uint32_t *v);
bool rpc_read_fixed64(rpc_reader *r, uint64_t *v);
/* A length prefix and the bytes it covers. */
bool rpc_read_len(rpc_reader *r, const uint8_t **data, size_t *len);
/* Skips one value of wire_type (groups with their contents). */
bool rpc_read_skip(rpc_reader *r, int wire_type, uint32_t field);

#endif
