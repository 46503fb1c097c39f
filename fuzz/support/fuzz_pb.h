/*
 * Protobuf messages in the fuzz targets, generically through protobuf-c's
 * descriptors: an arena for decoded messages whose fields a target edits,
 * a walk over every string and uint64 a message holds (to substitute or
 * collect ids), and a filler that sets every field, for seed inputs of
 * messages no one wrote a seed for.
 */
#ifndef FEDRPC_FUZZ_PB_H
#define FEDRPC_FUZZ_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* A protobuf-c allocator whose blocks are all freed at once. */
typedef struct fz_arena {
	ProtobufCAllocator pb;     /* hand &a->pb to protobuf-c */
	void             **blocks; /* owned */
	size_t             n, cap;
} fz_arena;

void  fz_arena_init(fz_arena *a);
void *fz_arena_alloc(fz_arena *a, size_t size);
char *fz_arena_strdup(fz_arena *a, const char *s);
void  fz_arena_free(fz_arena *a);

/*
 * Calls msg for the message and every message nested in it (before its
 * fields), str for every string field present (repeated elements
 * included) and u64 for every uint64/fixed64 field; each may replace the
 * value in place (strings with arena memory). Any may be NULL.
 */
typedef struct fz_pb_visitor {
	void (*msg)(void *arg, ProtobufCMessage *m);
	void (*str)(void *arg, const ProtobufCFieldDescriptor *f, char **s);
	void (*u64)(void *arg, const ProtobufCFieldDescriptor *f, uint64_t *v);
	void *arg;
} fz_pb_visitor;

void fz_pb_walk(ProtobufCMessage *m, const fz_pb_visitor *v);

/*
 * A message of type d with every field set to a plausible value (names
 * such as "domain" and "handle" get ones a backend accepts), nested
 * messages to `depth` levels, one element per repeated field, the first
 * field of each oneof. Allocated in the arena.
 */
ProtobufCMessage *fz_pb_fill(
    const ProtobufCMessageDescriptor *d, int depth, fz_arena *a);

/* Packs m into a malloc'd buffer. */
uint8_t *fz_pb_pack(const ProtobufCMessage *m, size_t *len);

#endif

/*
 * Rewrites an encoded message of type d field by field, guided by d:
 * strings (at any depth) go through str, uint64/fixed64 values (packed or
 * not) through u64, and everything else (tags, lengths, unknown fields,
 * overlong encodings) is copied byte for byte, so that an input keeps the
 * exact encoding the fuzzer chose. str returns a replacement or NULL to
 * keep the string. NULL when the input is not a well-formed encoding (the
 * caller then sends it unchanged); else a malloc'd buffer.
 */
typedef struct fz_pb_rewriter {
	const char *(*str)(void *arg, const uint8_t *s, size_t len);
	bool (*u64)(void *arg, uint64_t *v); /* true: replaced */
	void *arg;
} fz_pb_rewriter;

uint8_t *fz_pb_rewrite(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t n, const fz_pb_rewriter *rw, size_t *len);
