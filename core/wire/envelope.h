/*
 * The call envelope codec (proto/fedrpc/v1/envelope.proto): requests and
 * replies are written straight into nng messages and read in place, so a
 * payload is packed once and never copied on either side.
 */
#ifndef FEDRPC_CORE_ENVELOPE_H
#define FEDRPC_CORE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>

#include <fedrpc/metadata.h>
#include <fedrpc/status.h>

#define FEDRPC_REQUEST_ID_LEN 16

/* A request's header as the caller sends it; everything is borrowed. */
typedef struct fedrpc_request_head {
	const char            *method;        /* "pkg.Service/Method"; required */
	const char            *origin_domain; /* NULL or "": none */
	const char            *target_domain; /* NULL or "": none */
	uint32_t               api_version;
	uint64_t               timeout_ms;    /* 0: no deadline */
	const uint8_t         *request_id;    /* FEDRPC_REQUEST_ID_LEN bytes */
	const fedrpc_metadata *metadata;      /* may be NULL */
} fedrpc_request_head;

/*
 * A decoded request. Strings and the metadata entry array live in one
 * block taken from the allocator given to the decoder (`block`); metadata
 * values and the payload point into the decoded buffer, so the view is
 * valid while both live.
 */
typedef struct fedrpc_request_view {
	const char     *method;        /* NUL-terminated, never empty */
	const char     *origin_domain; /* NUL-terminated, may be "" */
	const char     *target_domain; /* NUL-terminated, may be "" */
	uint32_t        api_version;
	uint64_t        timeout_ms;    /* 0: no deadline */
	uint8_t         request_id[FEDRPC_REQUEST_ID_LEN];
	fedrpc_metadata metadata;      /* entries in `block` */
	const uint8_t  *payload;       /* into the decoded buffer */
	size_t          payload_len;
	void           *block;         /* owned by the view's allocator */
} fedrpc_request_view;

/* A reply as the server sends it; everything is borrowed. */
typedef struct fedrpc_reply_head {
	fedrpc_code            code;
	const char            *message;     /* NULL or "": none */
	const uint8_t         *details;     /* may be NULL */
	size_t                 details_len;
	const uint8_t         *request_id;  /* 16 bytes, or NULL when unknown */
	const fedrpc_metadata *metadata;    /* may be NULL */
} fedrpc_reply_head;

/* A decoded reply: every pointer is into the decoded buffer. */
typedef struct fedrpc_reply_view {
	fedrpc_code    code;          /* UNKNOWN for a code we do not know */
	const char    *message;       /* message_len bytes, not NUL-terminated */
	size_t         message_len;
	const uint8_t *details;
	size_t         details_len;
	const uint8_t *request_id;
	size_t         request_id_len;
	size_t         n_metadata;    /* entries; see fedrpc_envelope_reply_metadata */
	const uint8_t *payload;
	size_t         payload_len;
	const uint8_t *buf;           /* the whole reply, for a second pass */
	size_t         len;
} fedrpc_reply_view;

/*
 * Packs a request with `payload` (may be NULL: empty) into a new nng
 * message sized exactly. RESOURCE_EXHAUSTED when it would exceed max_size
 * (0: no limit), INVALID_ARGUMENT for a bad head.
 */
fedrpc_code fedrpc_envelope_request_encode(nng_msg **out,
    const fedrpc_request_head *head, const ProtobufCMessage *payload,
    size_t max_size, fedrpc_status *st);

/*
 * Decodes a request envelope. INVALID_ARGUMENT for malformed input, a
 * missing header or method, a request id that is not 16 bytes or a bad
 * metadata key. On success free the view with
 * fedrpc_envelope_request_view_clear() (a no-op for arena allocators).
 */
fedrpc_code fedrpc_envelope_request_decode(fedrpc_request_view *v,
    const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
    fedrpc_status *st);
void fedrpc_envelope_request_view_clear(
    fedrpc_request_view *v, ProtobufCAllocator *alloc);

/*
 * Finds the request id of a request too large or too broken to decode,
 * so that the error reply can still echo it. False when there is none.
 */
bool fedrpc_envelope_request_peek_id(
    const uint8_t *buf, size_t len, uint8_t id[FEDRPC_REQUEST_ID_LEN]);

/*
 * Packs a reply with `payload` (NULL unless head->code is OK) into a new
 * nng message. RESOURCE_EXHAUSTED when it would exceed max_size (0: none).
 */
fedrpc_code fedrpc_envelope_reply_encode(nng_msg **out,
    const fedrpc_reply_head *head, const ProtobufCMessage *payload,
    size_t max_size, fedrpc_status *st);

/* Decodes a reply envelope in place; INVALID_ARGUMENT when malformed. */
fedrpc_code fedrpc_envelope_reply_decode(fedrpc_reply_view *v,
    const uint8_t *buf, size_t len, fedrpc_status *st);

/*
 * The reply's metadata as a view: one malloc'd block (entries and
 * NUL-terminated keys) returned in *block for the caller to free();
 * values point into the reply buffer. *block is NULL when there is none.
 */
fedrpc_code fedrpc_envelope_reply_metadata(
    const fedrpc_reply_view *v, fedrpc_metadata *md, void **block);

/* True for a non-empty key of lower-case ASCII letters, digits, "-_.". */
bool fedrpc_metadata_key_valid(const char *key, size_t len);

/* Fills `id` with 16 random bytes from a per-thread generator. */
void fedrpc_request_id_new(uint8_t id[FEDRPC_REQUEST_ID_LEN]);

#endif
