/*
 * The call envelope codec: our hand-written wire code must agree with
 * protobuf-c in both directions, and refuse malformed input clearly.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/metadata.h>

#include "core/wire/envelope.h"
#include "fedrpc/testing/v1/echo.pb-c.h"
#include "fedrpc/v1/envelope.pb-c.h"

static const uint8_t ID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
    14, 15, 16};

static nng_msg *
encode_echo(const char *method, const fedrpc_metadata *md, size_t max,
    fedrpc_status *st)
{
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	fedrpc_request_head h = {
	    .method        = method,
	    .origin_domain = "a.example",
	    .target_domain = "b.example",
	    .api_version   = 3,
	    .timeout_ms    = 1500,
	    .request_id    = ID,
	    .metadata      = md,
	};
	nng_msg *m = NULL;

	req.payload.data = (uint8_t *) "hello";
	req.payload.len  = 5;
	req.sleep_ms     = 7;
	fedrpc_envelope_request_encode(&m, &h, &req.base, max, st);
	return m;
}

Test(envelope, request_round_trip_through_protobuf_c)
{
	static const fedrpc_metadata_entry e[] = {
	    {"x-echo", (const uint8_t *) "v1", 2},
	    {"empty", NULL, 0},
	    {"x-echo", (const uint8_t *) "v2", 2},
	};
	fedrpc_metadata     md = {3, e};
	fedrpc_status       st = {0};
	nng_msg            *m  = encode_echo("p.S/M", &md, 0, &st);
	Fedrpc__V1__Request *r;
	Fedrpc__Testing__V1__EchoRequest *er;

	cr_assert_not_null(m, "%s", st.message);
	r = fedrpc__v1__request__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	cr_assert_not_null(r);
	cr_assert_str_eq(r->header->method, "p.S/M");
	cr_assert_str_eq(r->header->origin_domain, "a.example");
	cr_assert_str_eq(r->header->target_domain, "b.example");
	cr_assert_eq(r->header->api_version, 3);
	cr_assert_eq(r->header->timeout_ms, 1500);
	cr_assert_eq(r->header->request_id.len, 16);
	cr_assert_arr_eq(r->header->request_id.data, ID, 16);
	cr_assert_eq(r->header->n_metadata, 3);
	cr_assert_str_eq(r->header->metadata[2]->key, "x-echo");
	cr_assert_eq(r->header->metadata[1]->value.len, 0);
	er = fedrpc__testing__v1__echo_request__unpack(
	    NULL, r->payload.len, r->payload.data);
	cr_assert_not_null(er);
	cr_assert_eq(er->payload.len, 5);
	cr_assert_eq(er->sleep_ms, 7);
	fedrpc__testing__v1__echo_request__free_unpacked(er, NULL);
	fedrpc__v1__request__free_unpacked(r, NULL);
	nng_msg_free(m);
}

Test(envelope, request_decode_of_protobuf_c_output)
{
	Fedrpc__V1__MetadataEntry e1 = FEDRPC__V1__METADATA_ENTRY__INIT;
	Fedrpc__V1__MetadataEntry e2 = FEDRPC__V1__METADATA_ENTRY__INIT;
	Fedrpc__V1__MetadataEntry *es[] = {&e1, &e2};
	Fedrpc__V1__RequestHeader h = FEDRPC__V1__REQUEST_HEADER__INIT;
	Fedrpc__V1__Request       r = FEDRPC__V1__REQUEST__INIT;
	fedrpc_request_view       v;
	fedrpc_status             st = {0};
	uint8_t                   buf[512];
	size_t                    len, vlen = 0;
	const uint8_t            *val;

	e1.key         = "k1";
	e1.value.data  = (uint8_t *) "abc";
	e1.value.len   = 3;
	e2.key         = "k2";
	h.method       = "x.Y/Z";
	h.origin_domain = "o.example";
	h.timeout_ms   = 99;
	h.request_id.data = (uint8_t *) ID;
	h.request_id.len  = 16;
	h.n_metadata   = 2;
	h.metadata     = es;
	r.header       = &h;
	r.payload.data = (uint8_t *) "\x0a\x01z";
	r.payload.len  = 3;
	len = fedrpc__v1__request__pack(&r, buf);

	cr_assert_eq(fedrpc_envelope_request_decode(&v, buf, len, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(v.method, "x.Y/Z");
	cr_assert_str_eq(v.origin_domain, "o.example");
	cr_assert_str_eq(v.target_domain, "");
	cr_assert_eq(v.timeout_ms, 99);
	cr_assert_arr_eq(v.request_id, ID, 16);
	cr_assert_eq(v.payload_len, 3);
	cr_assert_eq(v.metadata.n, 2);
	val = fedrpc_metadata_get(&v.metadata, "k1", &vlen);
	cr_assert_not_null(val);
	cr_assert_eq(vlen, 3);
	cr_assert_arr_eq(val, "abc", 3);
	val = fedrpc_metadata_get(&v.metadata, "k2", &vlen);
	cr_assert_not_null(val, "an empty value is present");
	cr_assert_eq(vlen, 0);
	cr_assert_null(fedrpc_metadata_get(&v.metadata, "k3", NULL));
	fedrpc_envelope_request_view_clear(&v, NULL);
}

static fedrpc_code
decode_bytes(const uint8_t *buf, size_t len, fedrpc_status *st)
{
	fedrpc_request_view v;
	fedrpc_code         c = fedrpc_envelope_request_decode(&v, buf, len, NULL, st);

	if (c == FEDRPC_OK)
		fedrpc_envelope_request_view_clear(&v, NULL);
	return c;
}

Test(envelope, truncated_requests_never_decode)
{
	fedrpc_status st = {0};
	nng_msg      *m  = encode_echo("p.S/M", NULL, 0, &st);
	size_t        len = nng_msg_len(m);

	cr_assert_eq(decode_bytes(nng_msg_body(m), len, &st), FEDRPC_OK);
	/* Every strict prefix is malformed or lacks something, except
	 * the one that ends right after the header: a request with no
	 * payload, which is valid. */
	for (size_t n = 0; n < len; n++) {
		fedrpc_status       s2 = {0};
		fedrpc_request_view v;

		if (fedrpc_envelope_request_decode(
		        &v, nng_msg_body(m), n, NULL, &s2) == FEDRPC_OK) {
			cr_assert_eq(v.payload_len, 0, "prefix of %zu", n);
			cr_assert_eq(n, len - 11, "prefix of %zu", n);
			fedrpc_envelope_request_view_clear(&v, NULL);
			continue;
		}
		cr_assert_eq(s2.code, FEDRPC_INVALID_ARGUMENT);
	}
	nng_msg_free(m);
}

Test(envelope, garbage_is_malformed)
{
	fedrpc_status st = {0};
	uint8_t       junk[256];

	srand(7);
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t) (rand() % (int) sizeof(junk));

		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t) rand();
		/* Must not crash; random bytes almost never make a valid
		 * request, and when they do the view is sane. */
		(void) decode_bytes(junk, n, &st);
	}
	memset(junk, 0xff, sizeof(junk));
	cr_assert_eq(decode_bytes(junk, sizeof(junk), &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "malformed request envelope");
	/* A length running past the end. */
	cr_assert_eq(decode_bytes((const uint8_t *) "\x0a\x10\x0a", 3, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "malformed request envelope");
	/* A group wire type. */
	cr_assert_eq(decode_bytes((const uint8_t *) "\x0b\x0c", 2, &st),
	    FEDRPC_INVALID_ARGUMENT);
	/* A varint longer than ten bytes. */
	cr_assert_eq(decode_bytes((const uint8_t *)
	                 "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
	                 12, &st),
	    FEDRPC_INVALID_ARGUMENT);
	/* The header with the wrong wire type. */
	cr_assert_eq(decode_bytes((const uint8_t *) "\x08\x01", 2, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "malformed request envelope");
}

Test(envelope, missing_parts_are_named)
{
	Fedrpc__V1__RequestHeader h = FEDRPC__V1__REQUEST_HEADER__INIT;
	Fedrpc__V1__Request       r = FEDRPC__V1__REQUEST__INIT;
	fedrpc_status             st = {0};
	uint8_t                   buf[256] = {0};
	size_t                    len;

	/* No header at all (an empty message is a valid proto3 Request). */
	cr_assert_eq(decode_bytes(buf, 0, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "request has no header");

	r.header = &h;
	h.request_id.data = (uint8_t *) ID;
	h.request_id.len  = 16;
	len = fedrpc__v1__request__pack(&r, buf);
	cr_assert_eq(decode_bytes(buf, len, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "request has no method");

	h.method         = "a.B/C";
	h.request_id.len = 15;
	len = fedrpc__v1__request__pack(&r, buf);
	cr_assert_eq(decode_bytes(buf, len, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "request_id must be 16 bytes, not 15");

	h.request_id.len = 0;
	len = fedrpc__v1__request__pack(&r, buf);
	cr_assert_eq(decode_bytes(buf, len, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "request_id must be 16 bytes, not 0");
}

Test(envelope, bad_metadata_keys_and_embedded_nul)
{
	Fedrpc__V1__MetadataEntry e  = FEDRPC__V1__METADATA_ENTRY__INIT;
	Fedrpc__V1__MetadataEntry *es[] = {&e};
	Fedrpc__V1__RequestHeader h  = FEDRPC__V1__REQUEST_HEADER__INIT;
	Fedrpc__V1__Request       r  = FEDRPC__V1__REQUEST__INIT;
	static const fedrpc_metadata_entry bad[] = {{"Upper", NULL, 0}};
	fedrpc_metadata           md = {1, bad};
	fedrpc_status             st = {0};
	uint8_t                   buf[256];
	size_t                    len;

	cr_assert_null(encode_echo("p.S/M", &md, 0, &st));
	cr_assert_eq(st.code, FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "Upper") != NULL, "%s", st.message);

	r.header          = &h;
	h.method          = "a.B/C";
	h.request_id.data = (uint8_t *) ID;
	h.request_id.len  = 16;
	h.n_metadata      = 1;
	h.metadata        = es;
	e.key             = "Bad Key";
	len = fedrpc__v1__request__pack(&r, buf);
	cr_assert_eq(decode_bytes(buf, len, &st), FEDRPC_INVALID_ARGUMENT);

	/* A method name hiding a NUL. */
	memcpy(buf, "\x0a\x19\x0a\x05" "a\0B/C" "\x32\x10", 10);
	memcpy(buf + 10, ID, 16);
	cr_assert_eq(decode_bytes(buf, 26, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "malformed request envelope");
}

Test(envelope, oversized_request_is_refused_before_sending)
{
	fedrpc_status st = {0};
	nng_msg      *m  = encode_echo("p.S/M", NULL, 0, &st);
	size_t        len = nng_msg_len(m);

	nng_msg_free(m);
	cr_assert_not_null(m = encode_echo("p.S/M", NULL, len, &st));
	nng_msg_free(m);
	cr_assert_null(encode_echo("p.S/M", NULL, len - 1, &st));
	cr_assert_eq(st.code, FEDRPC_RESOURCE_EXHAUSTED);
	cr_assert(strstr(st.message, "exceeds the limit") != NULL);
}

Test(envelope, peek_id_of_a_broken_request)
{
	fedrpc_status st = {0};
	nng_msg      *m  = encode_echo("p.S/M", NULL, 0, &st);
	uint8_t       id[16];

	cr_assert(fedrpc_envelope_request_peek_id(
	    nng_msg_body(m), nng_msg_len(m), id));
	cr_assert_arr_eq(id, ID, 16);
	cr_assert_not(fedrpc_envelope_request_peek_id(
	    (const uint8_t *) "\xff\xff", 2, id));
	nng_msg_free(m);
}

Test(envelope, reply_round_trip)
{
	Fedrpc__Testing__V1__EchoResponse resp =
	    FEDRPC__TESTING__V1__ECHO_RESPONSE__INIT;
	static const fedrpc_metadata_entry e[] = {
	    {"x-reply", (const uint8_t *) "r", 1}};
	fedrpc_metadata   md = {1, e};
	fedrpc_reply_head h  = {
             .code = FEDRPC_OK, .request_id = ID, .metadata = &md};
	fedrpc_reply_view v;
	fedrpc_metadata   got;
	fedrpc_status     st = {0};
	nng_msg          *m;
	void             *block;
	Fedrpc__V1__Reply *r;
	size_t            n;

	resp.origin_domain = "a.example";
	cr_assert_eq(fedrpc_envelope_reply_encode(&m, &h, &resp.base, 0, &st),
	    FEDRPC_OK);
	r = fedrpc__v1__reply__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	cr_assert_not_null(r);
	cr_assert_eq(r->status->code, 0);
	cr_assert_eq(r->n_metadata, 1);
	cr_assert_eq(r->request_id.len, 16);
	cr_assert_gt(r->payload.len, 0);
	fedrpc__v1__reply__free_unpacked(r, NULL);

	cr_assert_eq(fedrpc_envelope_reply_decode(
	                 &v, nng_msg_body(m), nng_msg_len(m), &st),
	    FEDRPC_OK);
	cr_assert_eq(v.code, FEDRPC_OK);
	cr_assert_eq(v.request_id_len, 16);
	cr_assert_eq(v.n_metadata, 1);
	cr_assert_eq(fedrpc_envelope_reply_metadata(&v, &got, &block),
	    FEDRPC_OK);
	cr_assert_eq(got.n, 1);
	cr_assert_str_eq(got.entries[0].key, "x-reply");
	cr_assert_not_null(fedrpc_metadata_get(&got, "x-reply", &n));
	cr_assert_eq(n, 1);
	free(block);
	nng_msg_free(m);

	/* An error reply carries no payload even when given one. */
	h.code    = FEDRPC_NOT_FOUND;
	h.message = "no such user";
	h.details = (const uint8_t *) "\x01\x02";
	h.details_len = 2;
	cr_assert_eq(fedrpc_envelope_reply_encode(&m, &h, &resp.base, 0, &st),
	    FEDRPC_OK);
	cr_assert_eq(fedrpc_envelope_reply_decode(
	                 &v, nng_msg_body(m), nng_msg_len(m), &st),
	    FEDRPC_OK);
	cr_assert_eq(v.code, FEDRPC_NOT_FOUND);
	cr_assert_eq(v.message_len, strlen("no such user"));
	cr_assert_eq(v.details_len, 2);
	cr_assert_eq(v.payload_len, 0);
	nng_msg_free(m);

	/* Too large for the limit. */
	cr_assert_eq(fedrpc_envelope_reply_encode(&m, &h, NULL, 8, &st),
	    FEDRPC_RESOURCE_EXHAUSTED);
}

Test(envelope, reply_of_protobuf_c_and_unknown_codes)
{
	Fedrpc__V1__Status s = FEDRPC__V1__STATUS__INIT;
	Fedrpc__V1__Reply  r = FEDRPC__V1__REPLY__INIT;
	fedrpc_reply_view  v;
	fedrpc_status      st = {0};
	uint8_t            buf[128];
	size_t             len;

	s.code    = 99;
	s.message = "odd";
	r.status  = &s;
	len = fedrpc__v1__reply__pack(&r, buf);
	cr_assert_eq(fedrpc_envelope_reply_decode(&v, buf, len, &st), FEDRPC_OK);
	cr_assert_eq(v.code, FEDRPC_UNKNOWN);

	/* No status at all: OK, as proto3 says. */
	cr_assert_eq(fedrpc_envelope_reply_decode(&v, buf, 0, &st), FEDRPC_OK);
	cr_assert_eq(v.code, FEDRPC_OK);

	cr_assert_eq(fedrpc_envelope_reply_decode(
	                 &v, (const uint8_t *) "\x0a\x05\x08", 3, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "malformed reply envelope");
}

Test(envelope, request_ids_differ)
{
	uint8_t a[16], b[16];

	fedrpc_request_id_new(a);
	fedrpc_request_id_new(b);
	cr_assert(memcmp(a, b, 16) != 0);
}
