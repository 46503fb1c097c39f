/*
 * JSON -> protobuf (rpc_json.h). Walks the JSON object against the
 * message's fields in number order, as protobuf-c packs a message, so the
 * bytes match what protobuf-c makes of the same message. The JSON path of
 * the value being read is kept as it goes, for errors.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <float.h>
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

typedef struct enc {
	char           path[200];
	size_t         plen;
	int            depth;
	fedrpc_status *st;
} enc;

static fedrpc_code
fail(enc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static fedrpc_code
fail(enc *e, const char *fmt, ...)
{
	char    what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fedrpc_status_set(e->st, FEDRPC_INVALID_ARGUMENT, "$%s: %s",
	    e->path, what);
}

static size_t
push(enc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t
push(enc *e, const char *fmt, ...)
{
	size_t  old = e->plen;
	va_list ap;
	int     n;

	if (old < sizeof(e->path) - 1) {
		va_start(ap, fmt);
		n = vsnprintf(e->path + old, sizeof(e->path) - old, fmt, ap);
		va_end(ap);
		if (n > 0)
			e->plen = old + (size_t) n < sizeof(e->path)
			    ? old + (size_t) n
			    : sizeof(e->path) - 1;
	}
	return old;
}

static void
pop(enc *e, size_t old)
{
	e->plen       = old;
	e->path[old] = '\0';
}

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* A scalar, ready for the wire: its bits and whether it is the default. */
typedef struct scalar {
	uint64_t bits;
	bool     zero;
} scalar;

static bool
is_signed_type(rpc_type t)
{
	return t == T(INT32) || t == T(SINT32) || t == T(SFIXED32) ||
	    t == T(INT64) || t == T(SINT64) || t == T(SFIXED64);
}

/* An integer from a JSON number or a string of digits. */
static fedrpc_code
get_integer(enc *e, const rpc_field *f, const json_t *v, int64_t *s, uint64_t *u)
{
	bool sgn = is_signed_type(f->type);

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (!sgn && x < 0)
			return fail(e, "%s cannot be negative",
			    rpc_field_type_name(f));
		*s = (int64_t) x;
		*u = (uint64_t) x;
		return FEDRPC_OK;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		/* within the type's range before any cast (out of range is
		 * undefined behaviour) */
		if (d != floor(d) || d < -9.2233720368547758e18 ||
		    d >= (sgn ? 9.2233720368547758e18 : 1.8446744073709552e19) ||
		    (!sgn && d < 0))
			return fail(e, "%s for a %s field, which takes integers",
			    "a fraction or out-of-range number",
			    rpc_field_type_name(f));
		*s = sgn ? (int64_t) d : 0;
		*u = sgn ? (uint64_t) *s : (uint64_t) d;
		return FEDRPC_OK;
	}
	if (json_is_string(v)) {
		const char *t = json_string_value(v);
		char       *end;

		errno = 0;
		if (sgn) {
			*s = strtoll(t, &end, 10);
			*u = (uint64_t) *s;
		} else {
			if (t[0] == '-')
				return fail(e, "%s cannot be negative",
				    rpc_field_type_name(f));
			*u = strtoull(t, &end, 10);
			*s = (int64_t) *u;
		}
		/* digits only, after an optional '-': strtoll would also
		 * take spaces and '+' */
		if (!isdigit((unsigned char) t[t[0] == '-']) || *end != '\0' ||
		    errno == ERANGE)
			return fail(e, "\"%s\" is not a %s", t,
			    rpc_field_type_name(f));
		return FEDRPC_OK;
	}
	return fail(e, "expected an integer (%s), got %s",
	    rpc_field_type_name(f), json_kind(v));
}

static fedrpc_code
get_real(enc *e, const rpc_field *f, const json_t *v, double *d)
{
	if (json_is_number(v)) {
		*d = json_number_value(v);
		return FEDRPC_OK;
	}
	if (json_is_string(v)) {
		const char *t = json_string_value(v);

		if (strcmp(t, "NaN") == 0)
			*d = NAN;
		else if (strcmp(t, "Infinity") == 0)
			*d = INFINITY;
		else if (strcmp(t, "-Infinity") == 0)
			*d = -INFINITY;
		else {
			char *end;

			*d = strtod(t, &end);
			if (t[0] == '\0' || *end != '\0')
				return fail(e, "\"%s\" is not a %s", t,
				    rpc_field_type_name(f));
		}
		return FEDRPC_OK;
	}
	return fail(e, "expected a number (%s), got %s",
	    rpc_field_type_name(f), json_kind(v));
}

static fedrpc_code
get_enum(enc *e, const rpc_field *f, const json_t *v, scalar *out)
{
	int32_t n;

	if (json_is_string(v)) {
		if (!rpc_enum_value_number(f->enumt, json_string_value(v), &n))
			return fail(e, "\"%s\" is not a value of %s",
			    json_string_value(v), f->enumt->full_name);
	} else if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (x < INT32_MIN || x > INT32_MAX)
			return fail(e, "%lld is out of range for %s",
			    (long long) x, f->enumt->full_name);
		n = (int32_t) x;
	} else {
		return fail(e, "expected a value name of %s, got %s",
		    f->enumt->full_name, json_kind(v));
	}
	out->bits = (uint64_t) (int64_t) n;
	out->zero = n == 0;
	return FEDRPC_OK;
}

/* A numeric or bool scalar's bits as they go on the wire. */
static fedrpc_code
get_scalar(enc *e, const rpc_field *f, const json_t *v, scalar *out)
{
	int64_t  s = 0;
	uint64_t u = 0;
	double   d;
	float    fl;

	switch (f->type) {
	case T(BOOL):
		if (!json_is_boolean(v))
			return fail(e, "expected true or false, got %s",
			    json_kind(v));
		out->bits = json_is_true(v);
		out->zero = !out->bits;
		return FEDRPC_OK;
	case T(ENUM): return get_enum(e, f, v, out);
	case T(DOUBLE):
		if (get_real(e, f, v, &d) != FEDRPC_OK)
			return e->st->code;
		memcpy(&out->bits, &d, 8);
		out->zero = d == 0;
		return FEDRPC_OK;
	case T(FLOAT):
		if (get_real(e, f, v, &d) != FEDRPC_OK)
			return e->st->code;
		if (isfinite(d) && (d > FLT_MAX || d < -FLT_MAX))
			return fail(e, "%g is out of range for a float", d);
		fl = (float) d;
		{
			uint32_t b32;

			memcpy(&b32, &fl, 4);
			out->bits = b32;
		}
		out->zero = fl == 0;
		return FEDRPC_OK;
	default: break;
	}
	if (get_integer(e, f, v, &s, &u) != FEDRPC_OK)
		return e->st->code;
	switch (f->type) {
	case T(INT32):
	case T(SFIXED32):
	case T(SINT32):
		if (s < INT32_MIN || s > INT32_MAX)
			return fail(e, "%" PRId64 " is out of range for %s", s,
			    rpc_field_type_name(f));
		out->bits = f->type == T(SINT32) ? rpc_zigzag32((int32_t) s)
		    : f->type == T(SFIXED32)     ? (uint32_t) (int32_t) s
						 : (uint64_t) s;
		break;
	case T(UINT32):
	case T(FIXED32):
		if (u > UINT32_MAX)
			return fail(e, "%" PRIu64 " is out of range for %s", u,
			    rpc_field_type_name(f));
		out->bits = u;
		break;
	case T(SINT64): out->bits = rpc_zigzag64(s); break;
	case T(INT64):
	case T(SFIXED64): out->bits = (uint64_t) s; break;
	default: out->bits = u; break;
	}
	out->zero = u == 0;
	return FEDRPC_OK;
}

static int
wire_type_of(rpc_type t)
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
	default: return RPC_WIRE_VARINT;
	}
}

static void
put_bits(rpc_buf *b, rpc_type t, uint64_t bits)
{
	switch (wire_type_of(t)) {
	case RPC_WIRE_I64: rpc_buf_fixed64(b, bits); break;
	case RPC_WIRE_I32: rpc_buf_fixed32(b, (uint32_t) bits); break;
	default: rpc_buf_varint(b, bits); break;
	}
}

static fedrpc_code encode_message(
    enc *e, const rpc_message *m, const json_t *obj, rpc_buf *out);

/* The message value of field f into a record of its own. */
static fedrpc_code
put_message(enc *e, const rpc_field *f, const json_t *v, rpc_buf *b)
{
	rpc_buf     inner = {0};
	fedrpc_code rc;

	if (f->message->wrapper && !json_is_object(v)) {
		json_t *boxed = json_pack("{sO}", "value", (json_t *) v);

		rc = boxed ? encode_message(e, f->message, boxed, &inner)
			   : fail(e, "out of memory");
		json_decref(boxed);
	} else {
		rc = encode_message(e, f->message, v, &inner);
	}
	if (rc == FEDRPC_OK)
		rpc_buf_record(b, f->number, inner.data, inner.len);
	rpc_buf_free(&inner);
	return rc;
}

/* One value of f (an element, for a repeated field). `force`: write a
 * default value too (presence, or an element). */
static fedrpc_code
put_value(enc *e, const rpc_field *f, const json_t *v, bool force, rpc_buf *b)
{
	scalar s;

	if (f->type == T(MESSAGE))
		return put_message(e, f, v, b);
	if (f->type == T(GROUP))
		return fail(e, "groups are not supported");
	if (f->type == T(STRING)) {
		if (!json_is_string(v))
			return fail(e, "expected a string, got %s", json_kind(v));
		if (force || json_string_length(v) > 0)
			rpc_buf_record(b, f->number, json_string_value(v),
			    json_string_length(v));
		return FEDRPC_OK;
	}
	if (f->type == T(BYTES)) {
		uint8_t *data;
		size_t   len;

		if (!json_is_string(v))
			return fail(e, "expected base64 text, got %s",
			    json_kind(v));
		if (!rpc_base64_decode(json_string_value(v),
		        json_string_length(v), &data, &len))
			return fail(e, "not base64: \"%.40s\"",
			    json_string_value(v));
		if (force || len > 0)
			rpc_buf_record(b, f->number, data, len);
		free(data);
		return FEDRPC_OK;
	}
	if (get_scalar(e, f, v, &s) != FEDRPC_OK)
		return e->st->code;
	if (force || !s.zero) {
		rpc_buf_tag(b, f->number, wire_type_of(f->type));
		put_bits(b, f->type, s.bits);
	}
	return FEDRPC_OK;
}

static fedrpc_code
put_packed(enc *e, const rpc_field *f, const json_t *arr, rpc_buf *b)
{
	rpc_buf inner = {0};
	size_t  i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		size_t old = push(e, "[%zu]", i);
		scalar s;

		if (get_scalar(e, f, v, &s) != FEDRPC_OK) {
			rpc_buf_free(&inner);
			return e->st->code;
		}
		pop(e, old);
		put_bits(&inner, f->type, s.bits);
	}
	if (json_array_size(arr) > 0)
		rpc_buf_record(b, f->number, inner.data, inner.len);
	rpc_buf_free(&inner);
	return FEDRPC_OK;
}

/* A map key, given as a JSON object key, as the entry's key field. */
static fedrpc_code
put_map_key(enc *e, const rpc_field *kf, const char *key, rpc_buf *b)
{
	json_t     *v;
	fedrpc_code rc;

	if (kf->type == T(STRING))
		v = json_string(key);
	else if (kf->type == T(BOOL) && strcmp(key, "true") == 0)
		v = json_true();
	else if (kf->type == T(BOOL) && strcmp(key, "false") == 0)
		v = json_false();
	else if (kf->type == T(BOOL))
		return fail(e, "map key \"%s\" is not true or false", key);
	else
		v = json_string(key); /* integers: parsed as strings */
	if (v == NULL)
		return fail(e, "map key is not valid UTF-8");
	rc = put_value(e, kf, v, false, b);
	json_decref(v);
	return rc;
}

static fedrpc_code
put_map(enc *e, const rpc_field *f, const json_t *obj, rpc_buf *b)
{
	const rpc_field *kf = rpc_message_field_by_number(f->message, 1);
	const rpc_field *vf = rpc_message_field_by_number(f->message, 2);
	const char      *key;
	json_t          *v;

	if (!json_is_object(obj))
		return fail(e, "expected an object (a map), got %s",
		    json_kind(obj));
	if (kf == NULL || vf == NULL)
		return fail(e, "map entry %s lacks its key or value",
		    f->message->full_name);
	json_object_foreach((json_t *) obj, key, v) {
		rpc_buf     entry = {0};
		size_t      old   = push(e, "[\"%s\"]", key);
		fedrpc_code rc    = put_map_key(e, kf, key, &entry);

		if (rc == FEDRPC_OK && !json_is_null(v))
			rc = put_value(e, vf, v, false, &entry);
		if (rc == FEDRPC_OK)
			rpc_buf_record(b, f->number, entry.data, entry.len);
		rpc_buf_free(&entry);
		if (rc != FEDRPC_OK)
			return rc;
		pop(e, old);
	}
	return FEDRPC_OK;
}

static fedrpc_code
put_field(enc *e, const rpc_field *f, const json_t *v, rpc_buf *b)
{
	size_t  i;
	json_t *el;

	if (f->repeated && f->message != NULL && f->message->map_entry)
		return put_map(e, f, v, b);
	if (!f->repeated)
		return put_value(e, f, v, f->presence, b);
	if (!json_is_array(v))
		return fail(e, "expected an array (repeated %s), got %s",
		    rpc_field_type_name(f), json_kind(v));
	if (f->packed)
		return put_packed(e, f, v, b);
	json_array_foreach(v, i, el) {
		size_t old = push(e, "[%zu]", i);

		if (json_is_null(el))
			return fail(e, "null in a repeated field");
		if (put_value(e, f, el, true, b) != FEDRPC_OK)
			return e->st->code;
		pop(e, old);
	}
	return FEDRPC_OK;
}

/* "id, domain": for an unknown field's error. */
static void
field_names(const rpc_message *m, char *out, size_t n)
{
	size_t k = 0;

	out[0] = '\0';
	for (size_t i = 0; i < m->n_fields && k < n; i++) {
		int w = snprintf(out + k, n - k, "%s%s", i ? ", " : "",
		    m->fields[i].json_name);

		if (w < 0)
			break;
		k += (size_t) w;
	}
}

static fedrpc_code
encode_message(enc *e, const rpc_message *m, const json_t *obj, rpc_buf *out)
{
	const json_t **vals;
	const char    *key;
	json_t        *v;
	fedrpc_code    rc = FEDRPC_OK;

	if (!json_is_object(obj))
		return fail(e, "expected an object (%s), got %s", m->full_name,
		    json_kind(obj));
	if (e->depth >= MAX_DEPTH)
		return fail(e, "nested deeper than %d messages", MAX_DEPTH);
	if ((vals = calloc(m->n_fields + 1, sizeof(*vals))) == NULL)
		return fail(e, "out of memory");
	e->depth++;
	json_object_foreach((json_t *) obj, key, v) {
		const rpc_field *f   = rpc_message_field(m, key);
		size_t           old = push(e, ".%s", key);
		size_t           i;

		if (f == NULL) {
			char names[120];

			field_names(m, names, sizeof(names));
			rc = fail(e, "unknown field \"%s\" in %s (its fields: %s)",
			    key, m->full_name, names[0] ? names : "none");
			goto out;
		}
		i = (size_t) (f - m->fields);
		if (vals[i] != NULL) {
			rc = fail(e, "field %s given twice (as %s and %s)",
			    f->name, f->name, f->json_name);
			goto out;
		}
		pop(e, old);
		if (json_is_null(v))
			continue; /* null: the field is not set */
		vals[i] = v;
	}
	/* at most one member of each oneof */
	for (size_t i = 0; i < m->n_fields; i++)
		for (size_t j = i + 1; vals[i] && j < m->n_fields; j++)
			if (vals[j] != NULL && m->fields[i].oneof >= 0 &&
			    m->fields[i].oneof == m->fields[j].oneof) {
				rc = fail(e, "%s and %s are members of one oneof "
				             "(set one of them)",
				    m->fields[i].json_name, m->fields[j].json_name);
				goto out;
			}
	for (size_t i = 0; i < m->n_fields && rc == FEDRPC_OK; i++) {
		size_t old;

		if (vals[i] == NULL)
			continue;
		old = push(e, ".%s", m->fields[i].json_name);
		rc  = put_field(e, &m->fields[i], vals[i], out);
		if (rc == FEDRPC_OK)
			pop(e, old);
	}
out:
	e->depth--;
	free(vals);
	if (rc == FEDRPC_OK && out->failed)
		rc = fail(e, "out of memory");
	return rc;
}

fedrpc_code
rpc_json_to_pb(const rpc_message *m, const json_t *in, uint8_t **out,
    size_t *len, fedrpc_status *st)
{
	enc         e = {.st = st};
	rpc_buf     b = {0};
	fedrpc_code rc;

	*out = NULL;
	*len = 0;
	if (m->wrapper && !json_is_object(in)) {
		json_t *boxed = json_pack("{sO}", "value", (json_t *) in);

		rc = boxed ? encode_message(&e, m, boxed, &b) : fail(&e, "out of memory");
		json_decref(boxed);
	} else {
		rc = encode_message(&e, m, in, &b);
	}
	if (rc != FEDRPC_OK) {
		rpc_buf_free(&b);
		return rc;
	}
	*out = b.data ? b.data : malloc(1);
	*len = b.len;
	if (*out == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
	return FEDRPC_OK;
}

fedrpc_code
rpc_json_text_to_pb(const rpc_message *m, const char *text, size_t text_len,
    uint8_t **out, size_t *len, fedrpc_status *st)
{
	json_error_t err;
	json_t      *in;
	fedrpc_code  rc;

	*out = NULL;
	*len = 0;
	in   = json_loadb(text, text_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	      &err);
	if (in == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "not JSON: line %d column %d: %s", err.line, err.column,
		    err.text);
	rc = rpc_json_to_pb(m, in, out, len, st);
	json_decref(in);
	return rc;
}
