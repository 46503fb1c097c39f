/*
 * The call envelope codec. The protobuf wire format of Request and Reply is
 * written and read here directly rather than through protobuf-c's generic
 * code: that lets the payload be packed straight into the nng message and
 * decoded where it lies, with one allocation for a request's strings.
 * tests/test_envelope.c checks both directions against protobuf-c.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/wire/envelope.h"

/* Field numbers of envelope.proto. */
enum {
	REQUEST_HEADER      = 1,
	REQUEST_PAYLOAD     = 2,
	HEADER_METHOD       = 1,
	HEADER_ORIGIN       = 2,
	HEADER_TARGET       = 3,
	HEADER_API_VERSION  = 4,
	HEADER_TIMEOUT_MS   = 5,
	HEADER_REQUEST_ID   = 6,
	HEADER_METADATA     = 7,
	ENTRY_KEY           = 1,
	ENTRY_VALUE         = 2,
	REPLY_STATUS        = 1,
	REPLY_REQUEST_ID    = 2,
	REPLY_METADATA      = 3,
	REPLY_PAYLOAD       = 4,
	STATUS_CODE         = 1,
	STATUS_MESSAGE      = 2,
	STATUS_DETAILS      = 3,
};

/* Wire types. */
enum {
	WT_VARINT = 0,
	WT_I64    = 1,
	WT_LEN    = 2,
	WT_I32    = 5,
};

#define MALFORMED_REQUEST "malformed request envelope"
#define MALFORMED_REPLY "malformed reply envelope"

/* A cursor over encoded bytes. */
typedef struct wire_reader {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* one past the last byte */
} wire_reader;

/* One field as read: a varint value or a length-delimited slice. */
typedef struct wire_field {
	uint32_t       num;  /* field number */
	int            type; /* wire type */
	uint64_t       v;    /* WT_VARINT value */
	const uint8_t *data; /* WT_LEN contents */
	size_t         len;
} wire_field;

static bool
rd_varint(wire_reader *r, uint64_t *out)
{
	uint64_t v     = 0;
	unsigned shift = 0;

	while (r->p < r->end) {
		uint8_t b = *r->p++;

		if (shift == 63 && b > 1)
			return false;
		v |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*out = v;
			return true;
		}
		if ((shift += 7) > 63)
			return false;
	}
	return false;
}

/* 1: a field was read; 0: end of input; -1: malformed. */
static int
rd_field(wire_reader *r, wire_field *f)
{
	uint64_t tag, len;

	if (r->p == r->end)
		return 0;
	if (!rd_varint(r, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return -1;
	f->num  = (uint32_t) (tag >> 3);
	f->type = (int) (tag & 7);
	switch (f->type) {
	case WT_VARINT:
		return rd_varint(r, &f->v) ? 1 : -1;
	case WT_I64:
		if (r->end - r->p < 8)
			return -1;
		r->p += 8;
		return 1;
	case WT_I32:
		if (r->end - r->p < 4)
			return -1;
		r->p += 4;
		return 1;
	case WT_LEN:
		if (!rd_varint(r, &len) || len > (uint64_t) (r->end - r->p))
			return -1;
		f->data = r->p;
		f->len  = (size_t) len;
		r->p += len;
		return 1;
	default: /* groups are not used by proto3 */
		return -1;
	}
}

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

/* Size of a length-delimited field with a one-byte tag (fields 1-15). */
static size_t
len_field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

static uint8_t *
put_len_header(uint8_t *p, uint32_t num, size_t len)
{
	*p++ = (uint8_t) ((num << 3) | WT_LEN);
	return put_varint(p, len);
}

static uint8_t *
put_bytes(uint8_t *p, uint32_t num, const void *data, size_t len)
{
	p = put_len_header(p, num, len);
	if (len > 0)
		memcpy(p, data, len);
	return p + len;
}

static uint8_t *
put_uint(uint8_t *p, uint32_t num, uint64_t v)
{
	*p++ = (uint8_t) ((num << 3) | WT_VARINT);
	return put_varint(p, v);
}

static size_t
opt_strlen(const char *s)
{
	return s == NULL ? 0 : strlen(s);
}

/* A string field, omitted when empty as proto3 does. */
static size_t
str_field_size(size_t len)
{
	return len == 0 ? 0 : len_field_size(len);
}

bool
fedrpc_metadata_key_valid(const char *key, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* Encoded size of one MetadataEntry's contents. */
static size_t
entry_size(const fedrpc_metadata_entry *e, size_t klen)
{
	return str_field_size(klen) + str_field_size(e->value_len);
}

/* Size of a repeated MetadataEntry field; checks the keys. */
static fedrpc_code
metadata_size(const fedrpc_metadata *md, size_t *out, fedrpc_status *st)
{
	size_t n = 0;

	if (md != NULL) {
		for (size_t i = 0; i < md->n; i++) {
			const fedrpc_metadata_entry *e = &md->entries[i];
			size_t klen = opt_strlen(e->key);

			if (!fedrpc_metadata_key_valid(e->key, klen))
				return fedrpc_status_set(st,
				    FEDRPC_INVALID_ARGUMENT,
				    "metadata key \"%s\" is not lower-case "
				    "ASCII",
				    e->key == NULL ? "" : e->key);
			if (e->value_len > 0 && e->value == NULL)
				return fedrpc_status_set(st,
				    FEDRPC_INVALID_ARGUMENT,
				    "metadata value of \"%s\" is NULL", e->key);
			n += len_field_size(entry_size(e, klen));
		}
	}
	*out = n;
	return FEDRPC_OK;
}

static uint8_t *
put_metadata(uint8_t *p, uint32_t num, const fedrpc_metadata *md)
{
	if (md == NULL)
		return p;
	for (size_t i = 0; i < md->n; i++) {
		const fedrpc_metadata_entry *e = &md->entries[i];
		size_t klen = strlen(e->key);

		p = put_len_header(p, num, entry_size(e, klen));
		p = put_bytes(p, ENTRY_KEY, e->key, klen);
		if (e->value_len > 0)
			p = put_bytes(p, ENTRY_VALUE, e->value, e->value_len);
	}
	return p;
}

/* Packs the payload message into place; true when it wrote `size` bytes. */
static bool
put_payload(uint8_t **pp, uint32_t num, const ProtobufCMessage *payload,
    size_t size)
{
	uint8_t *p = *pp;

	if (size == 0)
		return true;
	p = put_len_header(p, num, size);
	if (protobuf_c_message_pack(payload, p) != size)
		return false;
	*pp = p + size;
	return true;
}

static fedrpc_code
too_large(fedrpc_status *st, const char *what, size_t size, size_t max)
{
	return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
	    "%s of %zu bytes exceeds the limit of %zu bytes", what, size, max);
}

fedrpc_code
fedrpc_envelope_request_encode(nng_msg **out, const fedrpc_request_head *h,
    const ProtobufCMessage *payload, size_t max_size, fedrpc_status *st)
{
	size_t   mlen, olen, tlen, md_size, hdr, psize, total;
	nng_msg *msg;
	uint8_t *p, *start;
	int      rv;

	*out = NULL;
	mlen = opt_strlen(h->method);
	if (mlen == 0)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "request has no method");
	if (h->request_id == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "request has no request id");
	if (metadata_size(h->metadata, &md_size, st) != FEDRPC_OK)
		return st->code;
	olen = opt_strlen(h->origin_domain);
	tlen = opt_strlen(h->target_domain);

	hdr = str_field_size(mlen) + str_field_size(olen) +
	    str_field_size(tlen) + len_field_size(FEDRPC_REQUEST_ID_LEN) +
	    md_size;
	if (h->api_version != 0)
		hdr += 1 + varint_size(h->api_version);
	if (h->timeout_ms != 0)
		hdr += 1 + varint_size(h->timeout_ms);
	psize = payload == NULL ? 0 : protobuf_c_message_get_packed_size(payload);
	total = len_field_size(hdr) + str_field_size(psize);
	if (max_size != 0 && total > max_size)
		return too_large(st, "request", total, max_size);

	if ((rv = nng_msg_alloc(&msg, total)) != 0)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "cannot allocate a request of %zu bytes: %s", total,
		    nng_strerror(rv));
	p = start = nng_msg_body(msg);
	p = put_len_header(p, REQUEST_HEADER, hdr);
	p = put_bytes(p, HEADER_METHOD, h->method, mlen);
	if (olen > 0)
		p = put_bytes(p, HEADER_ORIGIN, h->origin_domain, olen);
	if (tlen > 0)
		p = put_bytes(p, HEADER_TARGET, h->target_domain, tlen);
	if (h->api_version != 0)
		p = put_uint(p, HEADER_API_VERSION, h->api_version);
	if (h->timeout_ms != 0)
		p = put_uint(p, HEADER_TIMEOUT_MS, h->timeout_ms);
	p = put_bytes(p, HEADER_REQUEST_ID, h->request_id, FEDRPC_REQUEST_ID_LEN);
	p = put_metadata(p, HEADER_METADATA, h->metadata);
	if (!put_payload(&p, REQUEST_PAYLOAD, payload, psize) ||
	    (size_t) (p - start) != total) {
		nng_msg_free(msg);
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "request payload packed to an unexpected size");
	}
	*out = msg;
	return FEDRPC_OK;
}

/* Checks one MetadataEntry; adds its key length to *keys. */
static bool
check_entry(const uint8_t *data, size_t len, size_t *keys)
{
	wire_reader r = {data, data + len};
	wire_field  f;
	int         rc;
	size_t      klen = 0;
	const uint8_t *key = NULL;

	while ((rc = rd_field(&r, &f)) > 0) {
		if (f.num == ENTRY_KEY || f.num == ENTRY_VALUE) {
			if (f.type != WT_LEN)
				return false;
			if (f.num == ENTRY_KEY) {
				key  = f.data;
				klen = f.len;
			}
		}
	}
	if (rc < 0 || !fedrpc_metadata_key_valid((const char *) key, klen))
		return false;
	*keys += klen + 1;
	return true;
}

/* Fills one entry; keys are copied NUL-terminated to *strs. */
static void
fill_entry(const uint8_t *data, size_t len, fedrpc_metadata_entry *e,
    char **strs)
{
	wire_reader r = {data, data + len};
	wire_field  f;
	const uint8_t *key = NULL;
	size_t         klen = 0;

	e->value     = NULL;
	e->value_len = 0;
	while (rd_field(&r, &f) > 0) {
		if (f.num == ENTRY_KEY) {
			key  = f.data;
			klen = f.len;
		} else if (f.num == ENTRY_VALUE) {
			e->value     = f.data;
			e->value_len = f.len;
		}
	}
	memcpy(*strs, key, klen);
	(*strs)[klen] = '\0';
	e->key        = *strs;
	*strs += klen + 1;
}

static const char *
copy_str(char **strs, const uint8_t *data, size_t len)
{
	char *s = *strs;

	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	*strs += len + 1;
	return s;
}

/* A string field must not hide a NUL from C code reading it. */
static bool
str_ok(const wire_field *f)
{
	return f->type == WT_LEN && memchr(f->data, '\0', f->len) == NULL;
}

fedrpc_code
fedrpc_envelope_request_decode(fedrpc_request_view *v, const uint8_t *buf,
    size_t len, ProtobufCAllocator *alloc, fedrpc_status *st)
{
	wire_reader    r = {buf, buf + len};
	wire_field     f, method = {0}, origin = {0}, target = {0}, rid = {0};
	const uint8_t *hdr = NULL;
	size_t         hdr_len = 0, n_md = 0, keys = 0, size;
	bool           have_rid = false;
	int            rc;
	char          *strs;

	memset(v, 0, sizeof(*v));
	while ((rc = rd_field(&r, &f)) > 0) {
		if (f.num == REQUEST_HEADER || f.num == REQUEST_PAYLOAD) {
			if (f.type != WT_LEN)
				goto malformed;
			if (f.num == REQUEST_HEADER) {
				hdr     = f.data;
				hdr_len = f.len;
			} else {
				v->payload     = f.data;
				v->payload_len = f.len;
			}
		}
	}
	if (rc < 0)
		goto malformed;
	if (hdr == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "request has no header");

	r.p   = hdr;
	r.end = hdr + hdr_len;
	while ((rc = rd_field(&r, &f)) > 0) {
		switch (f.num) {
		case HEADER_METHOD:
		case HEADER_ORIGIN:
		case HEADER_TARGET:
			if (!str_ok(&f))
				goto malformed;
			*(f.num == HEADER_METHOD   ? &method
			    : f.num == HEADER_ORIGIN ? &origin
						     : &target) = f;
			break;
		case HEADER_API_VERSION:
		case HEADER_TIMEOUT_MS:
			if (f.type != WT_VARINT)
				goto malformed;
			if (f.num == HEADER_API_VERSION)
				v->api_version = (uint32_t) f.v;
			else
				v->timeout_ms = f.v;
			break;
		case HEADER_REQUEST_ID:
			if (f.type != WT_LEN)
				goto malformed;
			rid      = f;
			have_rid = true;
			break;
		case HEADER_METADATA:
			if (f.type != WT_LEN || !check_entry(f.data, f.len, &keys))
				goto malformed;
			n_md++;
			break;
		default:
			break;
		}
	}
	if (rc < 0)
		goto malformed;
	if (method.len == 0)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "request has no method");
	if (!have_rid || rid.len != FEDRPC_REQUEST_ID_LEN)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "request_id must be %d bytes, not %zu",
		    FEDRPC_REQUEST_ID_LEN, have_rid ? rid.len : (size_t) 0);
	memcpy(v->request_id, rid.data, FEDRPC_REQUEST_ID_LEN);

	/* One block: the entry array (aligned first), then the strings. */
	size = n_md * sizeof(fedrpc_metadata_entry) + keys + method.len +
	    origin.len + target.len + 3;
	v->block = alloc != NULL ? alloc->alloc(alloc->allocator_data, size)
				 : malloc(size);
	if (v->block == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory decoding a request");
	strs = (char *) v->block + n_md * sizeof(fedrpc_metadata_entry);
	v->method        = copy_str(&strs, method.data, method.len);
	v->origin_domain = copy_str(&strs, origin.data, origin.len);
	v->target_domain = copy_str(&strs, target.data, target.len);
	if (n_md > 0) {
		fedrpc_metadata_entry *e = v->block;

		v->metadata.entries = e;
		r.p   = hdr;
		r.end = hdr + hdr_len;
		while (rd_field(&r, &f) > 0)
			if (f.num == HEADER_METADATA)
				fill_entry(f.data, f.len, e++, &strs);
		v->metadata.n = n_md;
	}
	return FEDRPC_OK;

malformed:
	memset(v, 0, sizeof(*v));
	return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT, MALFORMED_REQUEST);
}

void
fedrpc_envelope_request_view_clear(
    fedrpc_request_view *v, ProtobufCAllocator *alloc)
{
	if (v->block != NULL) {
		if (alloc != NULL)
			alloc->free(alloc->allocator_data, v->block);
		else
			free(v->block);
	}
	memset(v, 0, sizeof(*v));
}

bool
fedrpc_envelope_request_peek_id(
    const uint8_t *buf, size_t len, uint8_t id[FEDRPC_REQUEST_ID_LEN])
{
	wire_reader r = {buf, buf + len}, h;
	wire_field  f;
	bool        found = false;

	/* Stops at the first damage: whatever was found before it counts. */
	while (rd_field(&r, &f) > 0) {
		if (f.num != REQUEST_HEADER || f.type != WT_LEN)
			continue;
		h.p   = f.data;
		h.end = f.data + f.len;
		while (rd_field(&h, &f) > 0) {
			if (f.num == HEADER_REQUEST_ID && f.type == WT_LEN &&
			    f.len == FEDRPC_REQUEST_ID_LEN) {
				memcpy(id, f.data, FEDRPC_REQUEST_ID_LEN);
				found = true;
			}
		}
	}
	return found;
}

fedrpc_code
fedrpc_envelope_reply_encode(nng_msg **out, const fedrpc_reply_head *h,
    const ProtobufCMessage *payload, size_t max_size, fedrpc_status *st)
{
	size_t   msg_len, status, md_size, psize, total;
	nng_msg *m;
	uint8_t *p, *start;
	int      rv;

	*out = NULL;
	if (metadata_size(h->metadata, &md_size, st) != FEDRPC_OK)
		return st->code;
	msg_len = opt_strlen(h->message);
	status  = str_field_size(msg_len) + str_field_size(h->details_len);
	if (h->code != FEDRPC_OK)
		status += 1 + varint_size((uint64_t) h->code);
	psize = (payload == NULL || h->code != FEDRPC_OK)
	    ? 0
	    : protobuf_c_message_get_packed_size(payload);
	total = len_field_size(status) + md_size + str_field_size(psize) +
	    (h->request_id != NULL ? len_field_size(FEDRPC_REQUEST_ID_LEN) : 0);
	if (max_size != 0 && total > max_size)
		return too_large(st, "reply", total, max_size);

	if ((rv = nng_msg_alloc(&m, total)) != 0)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "cannot allocate a reply of %zu bytes: %s", total,
		    nng_strerror(rv));
	p = start = nng_msg_body(m);
	p = put_len_header(p, REPLY_STATUS, status);
	if (h->code != FEDRPC_OK)
		p = put_uint(p, STATUS_CODE, (uint64_t) h->code);
	if (msg_len > 0)
		p = put_bytes(p, STATUS_MESSAGE, h->message, msg_len);
	if (h->details_len > 0)
		p = put_bytes(p, STATUS_DETAILS, h->details, h->details_len);
	if (h->request_id != NULL)
		p = put_bytes(
		    p, REPLY_REQUEST_ID, h->request_id, FEDRPC_REQUEST_ID_LEN);
	p = put_metadata(p, REPLY_METADATA, h->metadata);
	if (!put_payload(&p, REPLY_PAYLOAD, payload, psize) ||
	    (size_t) (p - start) != total) {
		nng_msg_free(m);
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "reply payload packed to an unexpected size");
	}
	*out = m;
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_envelope_reply_decode(fedrpc_reply_view *v, const uint8_t *buf,
    size_t len, fedrpc_status *st)
{
	wire_reader r = {buf, buf + len}, s;
	wire_field  f;
	int         rc;
	size_t      keys = 0;
	uint64_t    code = 0;

	memset(v, 0, sizeof(*v));
	v->buf = buf;
	v->len = len;
	while ((rc = rd_field(&r, &f)) > 0) {
		switch (f.num) {
		case REPLY_STATUS:
			if (f.type != WT_LEN)
				goto malformed;
			s.p   = f.data;
			s.end = f.data + f.len;
			while ((rc = rd_field(&s, &f)) > 0) {
				if (f.num == STATUS_CODE) {
					if (f.type != WT_VARINT)
						goto malformed;
					code = f.v;
				} else if (f.num == STATUS_MESSAGE) {
					if (f.type != WT_LEN)
						goto malformed;
					v->message     = (const char *) f.data;
					v->message_len = f.len;
				} else if (f.num == STATUS_DETAILS) {
					if (f.type != WT_LEN)
						goto malformed;
					v->details     = f.data;
					v->details_len = f.len;
				}
			}
			if (rc < 0)
				goto malformed;
			break;
		case REPLY_REQUEST_ID:
		case REPLY_PAYLOAD:
			if (f.type != WT_LEN)
				goto malformed;
			if (f.num == REPLY_REQUEST_ID) {
				v->request_id     = f.data;
				v->request_id_len = f.len;
			} else {
				v->payload     = f.data;
				v->payload_len = f.len;
			}
			break;
		case REPLY_METADATA:
			if (f.type != WT_LEN || !check_entry(f.data, f.len, &keys))
				goto malformed;
			v->n_metadata++;
			break;
		default:
			break;
		}
	}
	if (rc < 0)
		goto malformed;
	/* An enum is an int32 on the wire; anything we do not know is
	 * UNKNOWN, as gRPC does. */
	v->code = code <= FEDRPC_UNAUTHENTICATED ? (fedrpc_code) code
						 : FEDRPC_UNKNOWN;
	return FEDRPC_OK;

malformed:
	memset(v, 0, sizeof(*v));
	return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT, MALFORMED_REPLY);
}

fedrpc_code
fedrpc_envelope_reply_metadata(
    const fedrpc_reply_view *v, fedrpc_metadata *md, void **block)
{
	wire_reader            r = {v->buf, v->buf + v->len};
	wire_field             f;
	size_t                 keys = 0;
	fedrpc_metadata_entry *e;
	char                  *strs;

	md->n       = 0;
	md->entries = NULL;
	*block      = NULL;
	if (v->n_metadata == 0)
		return FEDRPC_OK;
	while (rd_field(&r, &f) > 0)
		if (f.num == REPLY_METADATA)
			(void) check_entry(f.data, f.len, &keys);
	e = malloc(v->n_metadata * sizeof(*e) + keys);
	if (e == NULL)
		return FEDRPC_RESOURCE_EXHAUSTED;
	strs = (char *) (e + v->n_metadata);
	r.p  = v->buf;
	while (rd_field(&r, &f) > 0)
		if (f.num == REPLY_METADATA)
			fill_entry(f.data, f.len, &e[md->n++], &strs);
	md->entries = e;
	*block      = e;
	return FEDRPC_OK;
}

/*
 * Request ids: xoshiro256** per thread, seeded from getrandom(). Ids need
 * to be unique, not secret: the server only trusts them after admission.
 */
typedef struct rng_state {
	uint64_t s[4];   /* generator state */
	int      seeded; /* 0 until seeded on this thread */
} rng_state;

static __thread rng_state rng;

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(void)
{
	uint64_t *s = rng.s;
	uint64_t  r = rotl(s[1] * 5, 7) * 9;
	uint64_t  t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static void
rng_seed(void)
{
	size_t got = 0;

	while (got < sizeof(rng.s)) {
		ssize_t n = getrandom((uint8_t *) rng.s + got,
		    sizeof(rng.s) - got, 0);

		if (n <= 0)
			break;
		got += (size_t) n;
	}
	if (got < sizeof(rng.s)) {
		/* No getrandom: mix the clock and the thread's address. */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		rng.s[0] ^= (uint64_t) ts.tv_nsec * 0x9e3779b97f4a7c15ull;
		rng.s[1] ^= (uint64_t) ts.tv_sec;
		rng.s[2] ^= (uint64_t) (uintptr_t) &rng;
	}
	if ((rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3]) == 0)
		rng.s[0] = 1;
	rng.seeded = 1;
}

void
fedrpc_request_id_new(uint8_t id[FEDRPC_REQUEST_ID_LEN])
{
	uint64_t a, b;

	if (!rng.seeded)
		rng_seed();
	a = rng_next();
	b = rng_next();
	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}
