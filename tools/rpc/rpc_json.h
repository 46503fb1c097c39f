/*
 * JSON <-> protobuf for messages known by their descriptors (rpc_pool.h),
 * by the proto3 JSON mapping: fields under their lowerCamel JSON names
 * (the schema's own names are accepted too), enums as value names (numbers
 * accepted), bytes as base64, 64-bit integers as strings (numbers
 * accepted), maps as objects, google.protobuf wrappers as bare values,
 * default values of fields without presence left out. The encoder writes
 * what protobuf-c writes for the same message, byte for byte: fields in
 * number order, proto3 repeated scalars packed, defaults of fields without
 * presence omitted. Errors name the JSON path of the field ("$.users[0].id").
 */
#ifndef FEDRPC_RPC_JSON_H
#define FEDRPC_RPC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <fedrpc/status.h>

#include "rpc_pool.h"

/*
 * Encodes JSON as message m: *out (malloc'd, *len bytes) on FEDRPC_OK,
 * else INVALID_ARGUMENT naming the field path: an unknown field, a value
 * of the wrong type or out of range, an unknown enum name, bad base64,
 * two members of one oneof.
 */
fedrpc_code rpc_json_to_pb(const rpc_message *m, const json_t *in,
    uint8_t **out, size_t *len, fedrpc_status *st);

/* The same from JSON text (duplicate keys are refused); a syntax error
 * names its line and column. */
fedrpc_code rpc_json_text_to_pb(const rpc_message *m, const char *text,
    size_t text_len, uint8_t **out, size_t *len, fedrpc_status *st);

/*
 * Decodes the serialized message m into *out (a new JSON value, usually
 * an object; a wrapper's bare value). Unknown fields are skipped;
 * malformed input is INVALID_ARGUMENT naming the field path.
 */
fedrpc_code rpc_pb_to_json(const rpc_message *m, const uint8_t *data,
    size_t len, json_t **out, fedrpc_status *st);

#endif
