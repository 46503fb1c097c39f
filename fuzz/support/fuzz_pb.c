/*
 * Generic protobuf-c message handling for the fuzz targets (fuzz_pb.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_pb.h"
#include "fuzz_util.h"

/* ---- arena ---- */

static void *
arena_pb_alloc(void *data, size_t size)
{
	return fz_arena_alloc(data, size);
}

static void
arena_pb_free(void *data, void *p)
{
	(void) data;
	(void) p; /* freed with the arena */
}

void
fz_arena_init(fz_arena *a)
{
	memset(a, 0, sizeof(*a));
	a->pb.alloc          = arena_pb_alloc;
	a->pb.free           = arena_pb_free;
	a->pb.allocator_data = a;
}

void *
fz_arena_alloc(fz_arena *a, size_t size)
{
	void *p;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		void **b   = realloc(a->blocks, cap * sizeof(*b));

		FZ_CHECK(b != NULL);
		a->blocks = b;
		a->cap    = cap;
	}
	p = calloc(1, size ? size : 1);
	FZ_CHECK(p != NULL);
	a->blocks[a->n++] = p;
	return p;
}

char *
fz_arena_strdup(fz_arena *a, const char *s)
{
	size_t n = strlen(s);
	char  *c = fz_arena_alloc(a, n + 1);

	memcpy(c, s, n + 1);
	return c;
}

void
fz_arena_free(fz_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
	fz_arena_init(a);
}

/* ---- walking ---- */

/* Whether a non-repeated field is present (proto3: messages and oneof
 * members; plain scalars are always there). */
static bool
present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const uint8_t *base = (const uint8_t *) m;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *) (base + f->quantifier_offset) == f->id;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING)
		return *(const protobuf_c_boolean *) (base + f->quantifier_offset);
	return true;
}

static void
visit(void *slot, const ProtobufCFieldDescriptor *f, const fz_pb_visitor *v)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		if (*(char **) slot != NULL && v->str != NULL)
			v->str(v->arg, f, (char **) slot);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (v->u64 != NULL)
			v->u64(v->arg, f, (uint64_t *) slot);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (*(ProtobufCMessage **) slot != NULL)
			fz_pb_walk(*(ProtobufCMessage **) slot, v);
		break;
	default:
		break;
	}
}

/* Bytes one element of a repeated field of this type takes. */
static size_t
elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

void
fz_pb_walk(ProtobufCMessage *m, const fz_pb_visitor *v)
{
	const ProtobufCMessageDescriptor *d    = m->descriptor;
	uint8_t                          *base = (uint8_t *) m;

	if (v->msg != NULL)
		v->msg(v->arg, m);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t   n   = *(size_t *) (base + f->quantifier_offset);
			uint8_t *arr = *(uint8_t **) (base + f->offset);

			for (size_t k = 0; k < n; k++)
				visit(arr + k * elem_size(f), f, v);
		} else if (present(m, f)) {
			visit(base + f->offset, f, v);
		}
	}
}

/* ---- filling ---- */

static const char *
plausible_string(const char *field)
{
	static const struct {
		const char *name, *value;
	} known[] = {
	    {"domain", "a.example"},
	    {"handle", "alice"},
	    {"name", "Alice"},
	    {"id", "6b1c2d3e-4f50-4a1b-8c2d-3e4f5a6b7c8d"},
	    {"term", "alice"},
	    {"query", "alice@a.example"},
	    {"method", "fedrpc.federation.v1.Version/Get"},
	    {"origin_domain", "b.example"},
	    {"target_domain", "a.example"},
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(field, known[i].name) == 0)
			return known[i].value;
	return "x";
}

static void fill_value(void *slot, const ProtobufCFieldDescriptor *f,
    int depth, fz_arena *a);

static void
fill_scalar(void *slot, const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *) slot = 1;
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		*(double *) slot = 1.5;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		*(float *) slot = 1.5f;
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *) slot = 1;
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;

		*(int *) slot = e->n_values > 1 ? e->values[1].value
		                                : e->values[0].value;
		break;
	}
	default:
		*(uint32_t *) slot = 1;
		break;
	}
}

static void
fill_value(void *slot, const ProtobufCFieldDescriptor *f, int depth,
    fz_arena *a)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		*(char **) slot = fz_arena_strdup(a, plausible_string(f->name));
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *b = slot;

		b->len  = 32;
		b->data = fz_arena_alloc(a, 32);
		memset(b->data, 0x11, 32);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		*(ProtobufCMessage **) slot =
		    fz_pb_fill(f->descriptor, depth - 1, a);
		break;
	default:
		fill_scalar(slot, f);
		break;
	}
}

ProtobufCMessage *
fz_pb_fill(const ProtobufCMessageDescriptor *d, int depth, fz_arena *a)
{
	ProtobufCMessage *m;
	uint8_t          *base;

	if (depth <= 0)
		return NULL;
	m    = fz_arena_alloc(a, d->sizeof_message);
	base = (uint8_t *) m;
	d->message_init(m);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth <= 1)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			void *arr = fz_arena_alloc(a, elem_size(f));

			fill_value(arr, f, depth, a);
			*(size_t *) (base + f->quantifier_offset) = 1;
			*(void **) (base + f->offset)             = arr;
		} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *which = (uint32_t *) (base + f->quantifier_offset);

			if (*which != 0)
				continue;
			*which = f->id;
			fill_value(base + f->offset, f, depth, a);
		} else {
			fill_value(base + f->offset, f, depth, a);
			if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
			    f->quantifier_offset != 0 &&
			    f->type != PROTOBUF_C_TYPE_MESSAGE &&
			    f->type != PROTOBUF_C_TYPE_STRING)
				*(protobuf_c_boolean *) (base +
				    f->quantifier_offset) = 1;
		}
	}
	return m;
}

uint8_t *
fz_pb_pack(const ProtobufCMessage *m, size_t *len)
{
	size_t   n   = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1);

	FZ_CHECK(buf != NULL);
	FZ_CHECK(protobuf_c_message_pack(m, buf) == n);
	*len = n;
	return buf;
}

/* ---- rewriting an encoding in place of its strings and numbers ---- */

typedef struct wbuf {
	uint8_t *p;
	size_t   len, cap;
} wbuf;

static void
wb_put(wbuf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t   cap = b->cap ? b->cap : 256;
		uint8_t *q;

		while (cap < b->len + n)
			cap *= 2;
		q = realloc(b->p, cap);
		FZ_CHECK(q != NULL);
		b->p   = q;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
wb_varint(wbuf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t  n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t) v;
	wb_put(b, tmp, n);
}

/* Reads a varint; its bytes are [*start, *p). */
static bool
rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		uint8_t c = *(*p)++;

		*v |= (uint64_t) (c & 0x7f) << shift;
		if ((c & 0x80) == 0)
			return true;
		shift += 7;
	}
	return false;
}

static const ProtobufCFieldDescriptor *
field_of(const ProtobufCMessageDescriptor *d, uint64_t num)
{
	for (unsigned i = 0; i < d->n_fields; i++)
		if (d->fields[i].id == num)
			return &d->fields[i];
	return NULL;
}

static bool is_u64(const ProtobufCFieldDescriptor *f)
{
	return f != NULL && (f->type == PROTOBUF_C_TYPE_UINT64 ||
	                        f->type == PROTOBUF_C_TYPE_FIXED64);
}

static bool rewrite(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    const uint8_t *end, const fz_pb_rewriter *rw, wbuf *out, int depth);

/* A length-delimited field's contents, rewritten when d says how. */
static bool
rewrite_len(const ProtobufCFieldDescriptor *f, const uint8_t *lenp,
    const uint8_t *body, size_t n, const fz_pb_rewriter *rw, wbuf *out,
    int depth)
{
	wbuf        sub = {0};
	const char *rep;
	bool        ok = true;

	if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING && rw->str != NULL &&
	    (rep = rw->str(rw->arg, body, n)) != NULL) {
		wb_varint(out, strlen(rep));
		wb_put(out, rep, strlen(rep));
		return true;
	}
	if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE)
		ok = rewrite(f->descriptor, body, body + n, rw, &sub, depth + 1);
	else if (is_u64(f) && f->type == PROTOBUF_C_TYPE_UINT64) {
		/* packed */
		const uint8_t *q = body;
		uint64_t       v;

		while (ok && q < body + n) {
			const uint8_t *s = q;

			if (!rd_varint(&q, body + n, &v))
				ok = false;
			else if (rw->u64 != NULL && rw->u64(rw->arg, &v))
				wb_varint(&sub, v);
			else
				wb_put(&sub, s, (size_t) (q - s));
		}
	} else {
		wb_put(out, lenp, (size_t) (body - lenp));
		wb_put(out, body, n);
		return true;
	}
	if (ok) {
		if (sub.len == n && (n == 0 || memcmp(sub.p, body, n) == 0))
			wb_put(out, lenp, (size_t) (body - lenp));
		else
			wb_varint(out, sub.len);
		wb_put(out, sub.p, sub.len);
	}
	free(sub.p);
	return ok;
}

static bool
rewrite(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    const uint8_t *end, const fz_pb_rewriter *rw, wbuf *out, int depth)
{
	if (depth > 64)
		return false;
	while (p < end) {
		const uint8_t                  *tagp = p, *vp;
		const ProtobufCFieldDescriptor *f;
		uint64_t                        tag, v;

		if (!rd_varint(&p, end, &tag))
			return false;
		f = field_of(d, tag >> 3);
		wb_put(out, tagp, (size_t) (p - tagp));
		vp = p;
		switch (tag & 7) {
		case 0:
			if (!rd_varint(&p, end, &v))
				return false;
			if (is_u64(f) && rw->u64 != NULL && rw->u64(rw->arg, &v))
				wb_varint(out, v);
			else
				wb_put(out, vp, (size_t) (p - vp));
			break;
		case 1:
			if (end - p < 8)
				return false;
			memcpy(&v, p, 8);
			if (is_u64(f) && rw->u64 != NULL && rw->u64(rw->arg, &v))
				wb_put(out, &v, 8);
			else
				wb_put(out, p, 8);
			p += 8;
			break;
		case 2:
			if (!rd_varint(&p, end, &v) || v > (uint64_t) (end - p) ||
			    !rewrite_len(f, vp, p, (size_t) v, rw, out, depth))
				return false;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return false;
			wb_put(out, p, 4);
			p += 4;
			break;
		default:
			return false;
		}
	}
	return true;
}

uint8_t *
fz_pb_rewrite(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t n, const fz_pb_rewriter *rw, size_t *len)
{
	wbuf out = {0};

	if (!rewrite(d, p, p + n, rw, &out, 0)) {
		free(out.p);
		return NULL;
	}
	wb_put(&out, "", 0);
	if (out.p == NULL)
		wb_put(&out, "\0", 1), out.len = 0;
	*len = out.len;
	return out.p;
}
