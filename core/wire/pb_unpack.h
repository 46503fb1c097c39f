/*
 * Decoding a protobuf message that another party encoded: the server's
 * requests and the channel's replies go through here instead of straight
 * to protobuf_c_message_unpack(), so that what decodes once decodes again
 * after we store or relay it (see pb_unpack.c).
 */
#ifndef FEDRPC_CORE_WIRE_PB_UNPACK_H
#define FEDRPC_CORE_WIRE_PB_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/*
 * protobuf_c_message_unpack(), also refusing (NULL) a message that holds a
 * field numbered 0 at any depth. Free the result as protobuf-c's.
 */
ProtobufCMessage *fedrpc_pb_unpack(const ProtobufCMessageDescriptor *d,
    ProtobufCAllocator *alloc, size_t len, const uint8_t *data);

#endif
