/*
 * Decodes protoc-c's (pb_c_file) file options from FileOptions' unknown
 * fields: extension 1019, a ProtobufCFileOptions message of which we need
 * no_generate (1, bool) and c_package (6, string).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pbc_options.h"

#define PB_C_FILE_EXTENSION 1019
#define FIELD_NO_GENERATE   1
#define FIELD_C_PACKAGE     6

/* A read position in wire-format bytes. */
typedef struct wire {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* one past the last byte */
} wire;

static int
wire_varint(wire *w, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (w->p == w->end)
			return -1;
		*v |= (uint64_t) (*w->p & 0x7f) << shift;
		if ((*w->p++ & 0x80) == 0)
			return 0;
	}
	return -1;
}

/* Skips the value of a field of the given wire type. */
static int
wire_skip(wire *w, unsigned type)
{
	uint64_t v;

	switch (type) {
	case PROTOBUF_C_WIRE_TYPE_VARINT:
		return wire_varint(w, &v);
	case PROTOBUF_C_WIRE_TYPE_64BIT:
		v = 8;
		break;
	case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
		if (wire_varint(w, &v) != 0)
			return -1;
		break;
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		v = 4;
		break;
	default:
		return -1;
	}
	if (v > (uint64_t) (w->end - w->p))
		return -1;
	w->p += v;
	return 0;
}

/* Reads the fields of one ProtobufCFileOptions message; a later value of
 * a field replaces an earlier one, as protobuf's merge rules say. */
static int
parse_file_options(wire w, pbc_file_options *out)
{
	while (w.p < w.end) {
		uint64_t key, v;
		unsigned type;

		if (wire_varint(&w, &key) != 0)
			return -1;
		type = (unsigned) (key & 7);
		if ((key >> 3) == FIELD_NO_GENERATE &&
		    type == PROTOBUF_C_WIRE_TYPE_VARINT) {
			if (wire_varint(&w, &v) != 0)
				return -1;
			out->no_generate = v != 0;
		} else if ((key >> 3) == FIELD_C_PACKAGE &&
		    type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			if (wire_varint(&w, &v) != 0 ||
			    v > (uint64_t) (w.end - w.p))
				return -1;
			free(out->c_package);
			if ((out->c_package = strndup(
			         (const char *) w.p, (size_t) v)) == NULL)
				return -1;
			w.p += v;
		} else if (wire_skip(&w, type) != 0) {
			return -1;
		}
	}
	return 0;
}

int
pbc_file_options_get(
    const Google__Protobuf__FileOptions *opts, pbc_file_options *out)
{
	memset(out, 0, sizeof(*out));
	if (opts == NULL)
		return 0;
	for (unsigned i = 0; i < opts->base.n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u =
		    &opts->base.unknown_fields[i];
		wire     w = {u->data, u->data + u->len};
		uint64_t len;

		if (u->tag != PB_C_FILE_EXTENSION)
			continue;
		/* protobuf-c keeps the length prefix in an unknown field */
		if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
		    wire_varint(&w, &len) != 0 ||
		    len != (uint64_t) (w.end - w.p) ||
		    parse_file_options(w, out) != 0) {
			pbc_file_options_free(out);
			return -1;
		}
	}
	return 0;
}

void
pbc_file_options_free(pbc_file_options *o)
{
	free(o->c_package);
	memset(o, 0, sizeof(*o));
}
