/*
 * Decoding messages from outside. protobuf-c 1.4.1 reads a tag written in
 * more than one byte without checking its field number, so "85 00" (field
 * 0, wire type 5, in two bytes) is taken and kept as an unknown field; but
 * it packs that field back as the one-byte tag "05", which its own decoder
 * refuses. A remote domain could so hand us a message that decodes, is
 * stored (an inbox event, a conversation) or relayed, and then never
 * decodes again: one OnMessageSent made a user's inbox unreadable. Field
 * numbers start at 1 (protobuf's encoding rules), so such a message is
 * malformed and is refused where it arrives.
 */
#include <stdbool.h>

#include "core/wire/pb_unpack.h"

/* Messages nest at most this deep before we stop looking (our schemas do
 * not recurse; a schema that does is still bounded by the input size). */
#define MAX_DEPTH 64

static bool has_field_zero(const ProtobufCMessage *m, int depth);

/* The sub-messages of one message-typed field. */
static bool
field_has_zero(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
    int depth)
{
	const uint8_t *base = (const uint8_t *) m;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t                        n = *(const size_t *) (base +
		    f->quantifier_offset);
		ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *) (
		    base + f->offset);

		for (size_t i = 0; i < n; i++)
			if (v[i] != NULL && has_field_zero(v[i], depth + 1))
				return true;
		return false;
	}
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    *(const uint32_t *) (base + f->quantifier_offset) != f->id)
		return false;
	m = *(ProtobufCMessage *const *) (base + f->offset);
	return m != NULL && has_field_zero(m, depth + 1);
}

static bool
has_field_zero(const ProtobufCMessage *m, int depth)
{
	if (depth > MAX_DEPTH)
		return false;
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];

		if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    field_has_zero(m, f, depth))
			return true;
	}
	return false;
}

ProtobufCMessage *
fedrpc_pb_unpack(const ProtobufCMessageDescriptor *d,
    ProtobufCAllocator *alloc, size_t len, const uint8_t *data)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, alloc, len, data);

	if (m != NULL && has_field_zero(m, 0)) {
		protobuf_c_message_free_unpacked(m, alloc);
		return NULL;
	}
	return m;
}
