/*
 * Fuzz target: the call envelope codec (core/envelope.c), which reads
 * every request a server receives and every reply a channel receives
 * before anything else looks at them. The input is decoded both as a
 * request and as a reply. What decodes must also hold together: a request
 * is encoded again from its view and decodes to the same header, the
 * request id that error replies echo is the one the decoder found, and a
 * reply's metadata view matches what the decoder counted.
 */
#include <stdlib.h>
#include <string.h>

#include "core/wire/envelope.h"
#include "fuzz_util.h"

static void
same_metadata(const fedrpc_metadata *a, const fedrpc_metadata *b)
{
	FZ_CHECK(a->n == b->n);
	for (size_t i = 0; i < a->n; i++) {
		const fedrpc_metadata_entry *x = &a->entries[i], *y = &b->entries[i];

		FZ_CHECK(strcmp(x->key, y->key) == 0);
		FZ_CHECK(x->value_len == y->value_len);
		FZ_CHECK(x->value_len == 0 ||
		    memcmp(x->value, y->value, x->value_len) == 0);
	}
}

/* Every decoded metadata key is valid and can be looked up. */
static void
check_metadata(const fedrpc_metadata *md)
{
	for (size_t i = 0; i < md->n; i++) {
		const fedrpc_metadata_entry *e = &md->entries[i];
		size_t                       len;

		FZ_CHECK(fedrpc_metadata_key_valid(e->key, strlen(e->key)));
		FZ_CHECK(fedrpc_metadata_get(md, e->key, &len) != NULL);
	}
}

static void
request_roundtrip(const fedrpc_request_view *v)
{
	fedrpc_request_head h = {
	    .method        = v->method,
	    .origin_domain = v->origin_domain,
	    .target_domain = v->target_domain,
	    .api_version   = v->api_version,
	    .timeout_ms    = v->timeout_ms,
	    .request_id    = v->request_id,
	    .metadata      = &v->metadata,
	};
	fedrpc_request_view w;
	fedrpc_status       st = {0};
	nng_msg            *m;

	FZ_CHECK(fedrpc_envelope_request_encode(&m, &h, NULL, 0, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_envelope_request_decode(&w, nng_msg_body(m), nng_msg_len(m),
	          NULL, &st) == FEDRPC_OK);
	FZ_CHECK(strcmp(w.method, v->method) == 0);
	FZ_CHECK(strcmp(w.origin_domain, v->origin_domain) == 0);
	FZ_CHECK(strcmp(w.target_domain, v->target_domain) == 0);
	FZ_CHECK(w.api_version == v->api_version);
	FZ_CHECK(w.timeout_ms == v->timeout_ms);
	FZ_CHECK(memcmp(w.request_id, v->request_id, FEDRPC_REQUEST_ID_LEN) == 0);
	FZ_CHECK(w.payload_len == 0);
	same_metadata(&w.metadata, &v->metadata);
	fedrpc_envelope_request_view_clear(&w, NULL);
	nng_msg_free(m);
}

static void
fuzz_request(const uint8_t *data, size_t size)
{
	fedrpc_request_view v;
	fedrpc_status       st = {0};
	uint8_t             id[FEDRPC_REQUEST_ID_LEN];
	bool                peeked = fedrpc_envelope_request_peek_id(data, size, id);

	if (fedrpc_envelope_request_decode(&v, data, size, NULL, &st) !=
	    FEDRPC_OK) {
		FZ_CHECK(st.code == FEDRPC_INVALID_ARGUMENT);
		return;
	}
	FZ_CHECK(v.method[0] != '\0');
	FZ_CHECK(v.payload_len == 0 ||
	    (v.payload >= data && v.payload + v.payload_len <= data + size));
	/* The id an error reply would echo is the one the call carried. */
	FZ_CHECK(peeked);
	FZ_CHECK(memcmp(id, v.request_id, FEDRPC_REQUEST_ID_LEN) == 0);
	check_metadata(&v.metadata);
	request_roundtrip(&v);
	fedrpc_envelope_request_view_clear(&v, NULL);
}

static void
reply_roundtrip(const fedrpc_reply_view *v, const fedrpc_metadata *md)
{
	char             *message = NULL;
	fedrpc_reply_head h = {
	    .code        = v->code,
	    .details     = v->details,
	    .details_len = v->details_len,
	    .request_id  = v->request_id_len == FEDRPC_REQUEST_ID_LEN
	         ? v->request_id
	         : NULL,
	    .metadata    = md,
	};
	fedrpc_reply_view w;
	fedrpc_metadata   wmd;
	void             *block;
	fedrpc_status     st = {0};
	nng_msg          *m;

	/* A message with a NUL cannot go back through the C string API. */
	if (v->message_len > 0 && memchr(v->message, '\0', v->message_len) == NULL)
		message = fz_strndup((const uint8_t *) v->message, v->message_len);
	h.message = message;
	FZ_CHECK(fedrpc_envelope_reply_encode(&m, &h, NULL, 0, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_envelope_reply_decode(&w, nng_msg_body(m), nng_msg_len(m),
	          &st) == FEDRPC_OK);
	FZ_CHECK(w.code == v->code);
	if (message != NULL)
		FZ_CHECK(w.message_len == v->message_len &&
		    memcmp(w.message, v->message, v->message_len) == 0);
	FZ_CHECK(w.details_len == v->details_len);
	FZ_CHECK(w.n_metadata == md->n);
	FZ_CHECK(fedrpc_envelope_reply_metadata(&w, &wmd, &block) == FEDRPC_OK);
	same_metadata(&wmd, md);
	free(block);
	free(message);
	nng_msg_free(m);
}

static void
fuzz_reply(const uint8_t *data, size_t size)
{
	fedrpc_reply_view v;
	fedrpc_metadata   md;
	void             *block;
	fedrpc_status     st = {0};

	if (fedrpc_envelope_reply_decode(&v, data, size, &st) != FEDRPC_OK) {
		FZ_CHECK(st.code == FEDRPC_INVALID_ARGUMENT);
		return;
	}
	FZ_CHECK(v.code >= FEDRPC_OK && v.code <= FEDRPC_UNAUTHENTICATED);
	FZ_CHECK(v.payload_len == 0 ||
	    (v.payload >= data && v.payload + v.payload_len <= data + size));
	FZ_CHECK(fedrpc_envelope_reply_metadata(&v, &md, &block) == FEDRPC_OK);
	FZ_CHECK(md.n == v.n_metadata);
	check_metadata(&md);
	reply_roundtrip(&v, &md);
	free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request(data, size);
	fuzz_reply(data, size);
	return 0;
}

/* ---- seeds ---- */

static void
seed_msg(const char *name, nng_msg *m)
{
	fz_seed(name, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
}

static void
write_seeds(void)
{
	static const uint8_t id[FEDRPC_REQUEST_ID_LEN] = {1, 2, 3, 4, 5, 6, 7,
	    8, 9, 10, 11, 12, 13, 14, 15, 16};
	fedrpc_metadata_entry e[2] = {
	    {.key = "trace-id", .value = (const uint8_t *) "abc", .value_len = 3},
	    {.key = "x.empty"},
	};
	fedrpc_metadata   md = {2, e};
	fedrpc_request_head rq = {
	    .method        = "fedrpc.federation.v1.Users/GetUserByHandle",
	    .origin_domain = "b.example",
	    .target_domain = "a.example",
	    .api_version   = 1,
	    .timeout_ms    = 5000,
	    .request_id    = id,
	    .metadata      = &md,
	};
	fedrpc_reply_head ok = {.code = FEDRPC_OK, .request_id = id, .metadata = &md};
	fedrpc_reply_head err = {
	    .code        = FEDRPC_NOT_FOUND,
	    .message     = "no user with handle alice",
	    .details     = (const uint8_t *) "\x08\x01",
	    .details_len = 2,
	    .request_id  = id,
	};
	nng_msg *m;

	if (fedrpc_envelope_request_encode(&m, &rq, NULL, 0, NULL) == FEDRPC_OK)
		seed_msg("request", m);
	rq.metadata = NULL;
	rq.origin_domain = rq.target_domain = NULL;
	if (fedrpc_envelope_request_encode(&m, &rq, NULL, 0, NULL) == FEDRPC_OK)
		seed_msg("request-bare", m);
	if (fedrpc_envelope_reply_encode(&m, &ok, NULL, 0, NULL) == FEDRPC_OK)
		seed_msg("reply-ok", m);
	if (fedrpc_envelope_reply_encode(&m, &err, NULL, 0, NULL) == FEDRPC_OK)
		seed_msg("reply-error", m);
	/* A request with a payload field and an unknown field after it. */
	{
		static const uint8_t tail[] = {0x12, 0x03, 0x0a, 0x01, 'x', 0x48, 0x07};

		rq.metadata = &md;
		if (fedrpc_envelope_request_encode(&m, &rq, NULL, 0, NULL) == FEDRPC_OK &&
		    nng_msg_append(m, tail, sizeof(tail)) == 0)
			seed_msg("request-payload", m);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	if (fz_seeds_dir() != NULL) {
		write_seeds();
		exit(0);
	}
	return 0;
}
