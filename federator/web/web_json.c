/*
 * Protobuf messages to and from JSON for the web gateway, by walking the
 * protobuf-c descriptors, so that every local API message the page may use
 * converts without a hand-written mapping each. Field names are the
 * .proto ones; 64-bit unsigned numbers (client ids are random 64-bit
 * values, beyond a JavaScript number's 53 bits) are decimal strings;
 * bytes are base64; enums are their names. Unknown names, wrong types and
 * bad values are refused naming the field.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "federator/web/web.h"

/* ---- base64 (RFC 4648, with padding) ---- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
b64_encode(const uint8_t *p, size_t n)
{
	char  *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 |
		    p[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t) p[i] << 16 |
		    (i + 1 < n ? (uint32_t) p[i + 1] << 8 : 0);

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64, c) : NULL;

	return p != NULL ? (int) (p - b64) : -1;
}

/* Decodes s; false if it is not base64. */
static bool
b64_decode(const char *s, ProtobufCBinaryData *out)
{
	size_t   n = strlen(s), pad = 0, len;
	uint8_t *p;

	out->data = NULL;
	out->len  = 0;
	if (n % 4 != 0)
		return false;
	if (n == 0)
		return true;
	pad += s[n - 1] == '=';
	pad += s[n - 2] == '=';
	len = n / 4 * 3 - pad;
	if ((p = malloc(len + 1)) == NULL)
		return false;
	for (size_t i = 0, o = 0; i < n; i += 4) {
		int v[4];

		for (int k = 0; k < 4; k++) {
			v[k] = s[i + k] == '=' && i + 4 == n && k >= 4 - (int) pad
			    ? 0
			    : b64_value(s[i + k]);
			if (v[k] < 0) {
				free(p);
				return false;
			}
		}
		uint32_t w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 |
		    (uint32_t) v[2] << 6 | (uint32_t) v[3];

		if (o < len)
			p[o++] = (uint8_t) (w >> 16);
		if (o < len)
			p[o++] = (uint8_t) (w >> 8);
		if (o < len)
			p[o++] = (uint8_t) w;
	}
	out->data = p;
	out->len  = len;
	return true;
}

/* ---- to JSON ---- */

static json_t *
value_to_json(const ProtobufCFieldDescriptor *f, const void *v)
{
	char buf[32];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *) v);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *) v);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer((json_int_t) *(const int64_t *) v);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *) v);
		return json_string(buf);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *) v);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *) v);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *) v);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
		    f->descriptor, *(const int *) v);

		if (ev != NULL)
			return json_string(ev->name);
		return json_integer(*(const int *) v);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) v;

		return json_string(s != NULL ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = v;
		char                      *s = b64_encode(b->data, b->len);
		json_t                    *j;

		if (s == NULL)
			return NULL;
		j = json_string(s);
		free(s);
		return j;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *) v;

		return m != NULL ? web_json_from_pb(m) : json_null();
	}
	}
	return NULL;
}

static size_t
type_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

json_t *
web_json_from_pb(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t                           *o = json_object();

	for (unsigned i = 0; o != NULL && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *) m + f->offset;
		json_t     *v;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t      n   = *(const size_t *) ((const char *) m +
                                                    f->quantifier_offset);
			const char *arr = *(char *const *) base;

			v = json_array();
			for (size_t k = 0; v != NULL && k < n; k++)
				if (json_array_append_new(v,
				        value_to_json(f, arr + k * type_size(f))) != 0) {
					json_decref(v);
					v = NULL;
				}
		} else {
			if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    *(const uint32_t *) ((const char *) m +
			        f->quantifier_offset) != f->id)
				continue;
			v = value_to_json(f, base);
		}
		if (v == NULL || json_object_set_new(o, f->name, v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ---- from JSON ---- */

static bool
fail(char *why, size_t n, const char *path, const char *what)
{
	snprintf(why, n, "field %s: %s", path, what);
	return false;
}

static bool
json_u64(const json_t *j, uint64_t *out)
{
	char *end;

	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*out = (uint64_t) json_integer_value(j);
		return true;
	}
	if (!json_is_string(j) || json_string_value(j)[0] == '\0' ||
	    json_string_value(j)[0] == '-')
		return false;
	*out = strtoull(json_string_value(j), &end, 10);
	return *end == '\0';
}

static bool
value_from_json(const ProtobufCFieldDescriptor *f, const json_t *j,
    void *slot, const char *path, char *why, size_t n)
{
	uint64_t u;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
		    json_integer_value(j) > INT32_MAX)
			return fail(why, n, path, "must be a 32-bit integer");
		*(int32_t *) slot = (int32_t) json_integer_value(j);
		return true;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!json_is_integer(j) || json_integer_value(j) < 0 ||
		    json_integer_value(j) > UINT32_MAX)
			return fail(why, n, path,
			    "must be an unsigned 32-bit integer");
		*(uint32_t *) slot = (uint32_t) json_integer_value(j);
		return true;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!json_is_integer(j))
			return fail(why, n, path, "must be an integer");
		*(int64_t *) slot = json_integer_value(j);
		return true;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (!json_u64(j, &u))
			return fail(why, n, path,
			    "must be an unsigned integer in a decimal string");
		*(uint64_t *) slot = u;
		return true;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!json_is_number(j))
			return fail(why, n, path, "must be a number");
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *) slot = (float) json_number_value(j);
		else
			*(double *) slot = json_number_value(j);
		return true;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j))
			return fail(why, n, path, "must be true or false");
		*(protobuf_c_boolean *) slot = json_is_true(j);
		return true;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = json_is_string(j)
		    ? protobuf_c_enum_descriptor_get_value_by_name(
		          f->descriptor, json_string_value(j))
		    : NULL;

		if (ev == NULL)
			return fail(why, n, path, "is not a known name");
		*(int *) slot = ev->value;
		return true;
	}
	case PROTOBUF_C_TYPE_STRING:
		if (!json_is_string(j))
			return fail(why, n, path, "must be a string");
		if ((*(char **) slot = strdup(json_string_value(j))) == NULL)
			return fail(why, n, path, "out of memory");
		return true;
	case PROTOBUF_C_TYPE_BYTES:
		if (!json_is_string(j) ||
		    !b64_decode(json_string_value(j), slot))
			return fail(why, n, path, "must be base64");
		return true;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (json_is_null(j))
			return true;
		*(ProtobufCMessage **) slot =
		    web_json_to_pb(f->descriptor, j, why, n);
		return *(ProtobufCMessage **) slot != NULL;
	}
	return fail(why, n, path, "has an unsupported type");
}

static bool
field_from_json(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
    const json_t *j, char *why, size_t n)
{
	char *slot = (char *) m + f->offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t *count = (size_t *) ((char *) m + f->quantifier_offset);
		size_t  len   = json_array_size(j), sz = type_size(f);
		char   *arr;

		if (!json_is_array(j))
			return fail(why, n, f->name, "must be an array");
		if (len > 10000)
			return fail(why, n, f->name, "has too many entries");
		if (len == 0)
			return true;
		if ((arr = calloc(len, sz)) == NULL)
			return fail(why, n, f->name, "out of memory");
		*(char **) slot = arr;
		for (size_t k = 0; k < len; k++) {
			if (!value_from_json(f, json_array_get(j, k), arr + k * sz,
			        f->name, why, n))
				return false;
			*count = k + 1;
		}
		return true;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *) ((char *) m + f->quantifier_offset) = f->id;
	return value_from_json(f, j, slot, f->name, why, n);
}

ProtobufCMessage *
web_json_to_pb(const ProtobufCMessageDescriptor *desc, const json_t *j,
    char *why, size_t why_len)
{
	ProtobufCMessage *m;
	const char       *key;
	json_t           *v;

	if (!json_is_object(j)) {
		snprintf(why, why_len, "%s must be a JSON object", desc->name);
		return NULL;
	}
	if ((m = calloc(1, desc->sizeof_message)) == NULL) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	desc->message_init(m);
	json_object_foreach ((json_t *) j, key, v) {
		const ProtobufCFieldDescriptor *f =
		    protobuf_c_message_descriptor_get_field_by_name(desc, key);

		if (f == NULL) {
			snprintf(why, why_len, "%s has no field '%s'", desc->name,
			    key);
			protobuf_c_message_free_unpacked(m, NULL);
			return NULL;
		}
		if (!field_from_json(m, f, v, why, why_len)) {
			protobuf_c_message_free_unpacked(m, NULL);
			return NULL;
		}
	}
	return m;
}
