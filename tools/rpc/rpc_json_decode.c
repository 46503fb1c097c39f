/*
 * protobuf -> JSON (rpc_json.h). One pass over the record stream fills a
 * slot per field (last value wins for singular fields, repeated ones
 * append, packed or not); the records of a singular message field are
 * concatenated and decoded once, which is protobuf's merge. The object is
 * then built in field-number order, leaving out defaults of fields
 * without presence, as proto3 JSON does.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_base64.h"
#include "rpc_json.h"
#include "rpc_wire.h"

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define MAX_DEPTH 64

typedef struct dec {
	char           path[200];
	size_t         plen;
	int            depth;
	fedrpc_status *st;
} dec;

static fedrpc_code
fail(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static fedrpc_code
fail(dec *d, const char *fmt, ...)
{
	char    what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fedrpc_status_set(d->st, FEDRPC_INVALID_ARGUMENT, "$%s: %s",
	    d->path, what);
}

static size_t
push(dec *d, const char *name)
{
	size_t old = d->plen;
	int    n   = snprintf(d->path + old, sizeof(d->path) - old, ".%s", name);

	if (n > 0)
		d->plen = old + (size_t) n < sizeof(d->path) ? old + (size_t) n
							     : sizeof(d->path) - 1;
	return old;
}

static void
pop(dec *d, size_t old)
{
	d->plen      = old;
	d->path[old] = '\0';
}

static int
expected_wire(rpc_type t)
{
	switch (t) {
	case T(DOUBLE):
	case T(FIXED64):
	case T(SFIXED64): return RPC_WIRE_I64;
	case T(FLOAT):
	case T(FIXED32):
	case T(SFIXED32): return RPC_WIRE_I32;
	case T(STRING):
	case T(BYTES):
	case T(MESSAGE): return RPC_WIRE_LEN;
	case T(GROUP): return RPC_WIRE_SGROUP;
	default: return RPC_WIRE_VARINT;
	}
}

static json_t *
json_u64(uint64_t v)
{
	char t[24];

	snprintf(t, sizeof(t), "%" PRIu64, v);
	return json_string(t);
}

static json_t *
json_i64(int64_t v)
{
	char t[24];

	snprintf(t, sizeof(t), "%" PRId64, v);
	return json_string(t);
}

static json_t *
json_double(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

/* A numeric scalar's JSON from its wire bits; *zero: it is the default. */
static json_t *
scalar_json(const rpc_field *f, uint64_t bits, bool *zero)
{
	*zero = bits == 0;
	switch (f->type) {
	case T(DOUBLE): {
		double v;

		memcpy(&v, &bits, 8);
		*zero = v == 0;
		return json_double(v);
	}
	case T(FLOAT): {
		uint32_t b32 = (uint32_t) bits;
		float    v;

		memcpy(&v, &b32, 4);
		*zero = v == 0;
		return json_double(v);
	}
	case T(INT64):
	case T(SFIXED64): return json_i64((int64_t) bits);
	case T(SINT64): return json_i64(rpc_unzigzag64(bits));
	case T(UINT64):
	case T(FIXED64): return json_u64(bits);
	case T(INT32): *zero = (int32_t) bits == 0; return json_integer((int32_t) bits);
	case T(SFIXED32): return json_integer((int32_t) (uint32_t) bits);
	case T(SINT32): return json_integer((int32_t) rpc_unzigzag64((uint32_t) bits));
	case T(UINT32): *zero = (uint32_t) bits == 0; return json_integer((uint32_t) bits);
	case T(FIXED32): return json_integer((uint32_t) bits);
	case T(BOOL): return json_boolean(bits != 0);
	case T(ENUM): {
		const char *name = rpc_enum_value_name(f->enumt, (int32_t) bits);

		*zero = (int32_t) bits == 0;
		return name ? json_string(name) : json_integer((int32_t) bits);
	}
	default: return NULL;
	}
}

static bool
read_bits(rpc_reader *r, int wire, uint64_t *bits)
{
	uint32_t b32;

	switch (wire) {
	case RPC_WIRE_I64: return rpc_read_fixed64(r, bits);
	case RPC_WIRE_I32:
		if (!rpc_read_fixed32(r, &b32))
			return false;
		*bits = b32;
		return true;
	default: return rpc_read_varint(r, bits);
	}
}

static fedrpc_code decode_message(dec *d, const rpc_message *m,
    const uint8_t *data, size_t len, json_t **out);

/* What has been read of one field so far. */
typedef struct slot {
	json_t *v;     /* the value (an array for repeated, an object for maps) */
	bool    zero;  /* a singular value is its type's default */
	bool    set;   /* a singular message field was seen */
	rpc_buf msg;   /* its records, concatenated */
} slot;

static void
slot_set(slot *s, json_t *v, bool zero)
{
	json_decref(s->v);
	s->v    = v;
	s->zero = zero;
}

static fedrpc_code
append(dec *d, slot *s, json_t *v)
{
	if (v == NULL)
		return fail(d, "out of memory or text that is not UTF-8");
	if (s->v == NULL && (s->v = json_array()) == NULL) {
		json_decref(v);
		return fail(d, "out of memory");
	}
	json_array_append_new(s->v, v);
	return FEDRPC_OK;
}

/* A string or bytes value as JSON. */
static json_t *
len_json(const rpc_field *f, const uint8_t *p, size_t n)
{
	char   *b64;
	json_t *v;

	if (f->type == T(STRING))
		return json_stringn((const char *) p, n);
	if ((b64 = rpc_base64_encode(p, n)) == NULL)
		return NULL;
	v = json_string(b64);
	free(b64);
	return v;
}

/* A map entry's key as a JSON object key. */
static char *
map_key(const json_t *k)
{
	char *s = NULL;

	if (json_is_string(k))
		return strdup(json_string_value(k));
	if (json_is_integer(k) &&
	    asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(k)) < 0)
		return NULL;
	if (json_is_boolean(k))
		return strdup(json_is_true(k) ? "true" : "false");
	return s;
}

/* The JSON of a field's default, for a map value left out. */
static json_t *
default_json(const rpc_field *f)
{
	bool zero;

	switch (f->type) {
	case T(MESSAGE): return json_object();
	case T(STRING):
	case T(BYTES): return json_string("");
	default: return scalar_json(f, 0, &zero);
	}
}

static fedrpc_code
map_entry(dec *d, const rpc_field *f, slot *s, const uint8_t *p, size_t n)
{
	const rpc_field *kf = rpc_message_field_by_number(f->message, 1);
	const rpc_field *vf = rpc_message_field_by_number(f->message, 2);
	json_t          *entry, *val;
	char            *key;

	if (kf == NULL || vf == NULL)
		return fail(d, "map entry %s lacks its key or value",
		    f->message->full_name);
	if (decode_message(d, f->message, p, n, &entry) != FEDRPC_OK)
		return d->st->code;
	{
		/* a key left out is its type's default ("0", "false", "") */
		json_t *k  = json_object_get(entry, kf->json_name);
		json_t *dk = k ? json_incref(k) : default_json(kf);

		key = dk ? map_key(dk) : NULL;
		json_decref(dk);
	}
	val = json_object_get(entry, vf->json_name);
	val = val ? json_incref(val) : default_json(vf);
	if (s->v == NULL)
		s->v = json_object();
	if (key == NULL || val == NULL || s->v == NULL) {
		free(key);
		json_decref(val);
		json_decref(entry);
		return fail(d, "out of memory");
	}
	json_object_set_new(s->v, key, val);
	free(key);
	json_decref(entry);
	return FEDRPC_OK;
}

/* A length-delimited record of f. */
static fedrpc_code
read_len_field(dec *d, const rpc_field *f, slot *s, const uint8_t *p, size_t n)
{
	json_t *v;

	if (f->type == T(MESSAGE)) {
		if (f->repeated && f->message->map_entry)
			return map_entry(d, f, s, p, n);
		if (!f->repeated) {
			s->set = true;
			rpc_buf_put(&s->msg, p, n);
			return s->msg.failed ? fail(d, "out of memory") : FEDRPC_OK;
		}
		if (decode_message(d, f->message, p, n, &v) != FEDRPC_OK)
			return d->st->code;
		return append(d, s, v);
	}
	if (f->type == T(STRING) || f->type == T(BYTES)) {
		if ((v = len_json(f, p, n)) == NULL)
			return fail(d, "%s", f->type == T(STRING)
			                   ? "a string that is not UTF-8"
			                   : "out of memory");
		if (f->repeated)
			return append(d, s, v);
		slot_set(s, v, n == 0);
		return FEDRPC_OK;
	}
	/* packed scalars */
	if (!f->repeated)
		return fail(d, "a length-delimited record for the %s field",
		    rpc_field_type_name(f));
	{
		rpc_reader r = {p, p + n};

		while (r.p < r.end) {
			uint64_t bits;
			bool     zero;

			if (!read_bits(&r, expected_wire(f->type), &bits))
				return fail(d, "packed values cut short");
			v = scalar_json(f, bits, &zero);
			if (append(d, s, v) != FEDRPC_OK)
				return d->st->code;
		}
	}
	return FEDRPC_OK;
}

static fedrpc_code
read_field(dec *d, const rpc_message *m, const rpc_field *f, slot *slots,
    rpc_reader *r, int wire)
{
	slot          *s = &slots[f - m->fields];
	const uint8_t *p;
	size_t         n;
	uint64_t       bits;
	bool           zero;
	json_t        *v;

	if (f->type == T(GROUP))
		return fail(d, "groups are not supported");
	/* a member of a oneof replaces the others */
	for (size_t i = 0; f->oneof >= 0 && i < m->n_fields; i++)
		if (&m->fields[i] != f && m->fields[i].oneof == f->oneof) {
			slot_set(&slots[i], NULL, false);
			slots[i].set = false;
			slots[i].msg.len = 0;
		}
	if (wire == RPC_WIRE_LEN) {
		if (!rpc_read_len(r, &p, &n))
			return fail(d, "a record cut short");
		return read_len_field(d, f, s, p, n);
	}
	if (wire != expected_wire(f->type))
		return fail(d, "wire type %d for the %s field (wire type %d)",
		    wire, rpc_field_type_name(f), expected_wire(f->type));
	if (!read_bits(r, wire, &bits))
		return fail(d, "a value cut short");
	v = scalar_json(f, bits, &zero);
	if (f->repeated)
		return append(d, s, v);
	slot_set(s, v, zero);
	return v != NULL ? FEDRPC_OK : fail(d, "out of memory");
}

static fedrpc_code
read_all(dec *d, const rpc_message *m, slot *slots, const uint8_t *data,
    size_t len)
{
	rpc_reader r = {data, data};

	if (len == 0)
		return FEDRPC_OK; /* an empty message (data may be NULL) */
	r.end = data + len;
	while (r.p < r.end) {
		uint64_t         tag;
		uint32_t         num;
		int              wire;
		const rpc_field *f;
		size_t           old;
		fedrpc_code      rc;

		if (!rpc_read_varint(&r, &tag) || (tag >> 3) == 0 ||
		    (tag >> 3) > 536870911u)
			return fail(d, "a malformed field tag");
		num  = (uint32_t) (tag >> 3);
		wire = (int) (tag & 7);
		if ((f = rpc_message_field_by_number(m, num)) == NULL) {
			if (!rpc_read_skip(&r, wire, num))
				return fail(d, "unknown field %u cut short", num);
			continue;
		}
		old = push(d, f->json_name);
		rc  = read_field(d, m, f, slots, &r, wire);
		if (rc != FEDRPC_OK)
			return rc;
		pop(d, old);
	}
	return FEDRPC_OK;
}

/* The object from the slots, in field order; consumes the slots' values. */
static fedrpc_code
build(dec *d, const rpc_message *m, slot *slots, json_t **out)
{
	json_t *obj = json_object();

	if (obj == NULL)
		return fail(d, "out of memory");
	for (size_t i = 0; i < m->n_fields; i++) {
		const rpc_field *f = &m->fields[i];
		slot            *s = &slots[i];

		if (s->set) {
			size_t old = push(d, f->json_name);
			json_t *v;

			if (decode_message(d, f->message, s->msg.data, s->msg.len,
			        &v) != FEDRPC_OK) {
				json_decref(obj);
				return d->st->code;
			}
			pop(d, old);
			slot_set(s, v, false);
		}
		if (s->v == NULL || (!f->repeated && !f->presence && s->zero))
			continue;
		json_object_set(obj, f->json_name, s->v);
	}
	*out = obj;
	return FEDRPC_OK;
}

static fedrpc_code
decode_message(dec *d, const rpc_message *m, const uint8_t *data, size_t len,
    json_t **out)
{
	slot       *slots;
	fedrpc_code rc;

	*out = NULL;
	if (d->depth >= MAX_DEPTH)
		return fail(d, "nested deeper than %d messages", MAX_DEPTH);
	if ((slots = calloc(m->n_fields + 1, sizeof(*slots))) == NULL)
		return fail(d, "out of memory");
	d->depth++;
	rc = read_all(d, m, slots, data, len);
	if (rc == FEDRPC_OK)
		rc = build(d, m, slots, out);
	d->depth--;
	for (size_t i = 0; i < m->n_fields; i++) {
		json_decref(slots[i].v);
		rpc_buf_free(&slots[i].msg);
	}
	free(slots);
	/* a wrapper is its bare value */
	if (rc == FEDRPC_OK && m->wrapper) {
		const rpc_field *vf = rpc_message_field_by_number(m, 1);
		json_t          *v  = vf ? json_object_get(*out, vf->json_name) : NULL;

		v = v ? json_incref(v) : vf ? default_json(vf) : json_null();
		json_decref(*out);
		*out = v;
	}
	return rc;
}

fedrpc_code
rpc_pb_to_json(const rpc_message *m, const uint8_t *data, size_t len,
    json_t **out, fedrpc_status *st)
{
	dec d = {.st = st};

	return decode_message(&d, m, data, len, out);
}
