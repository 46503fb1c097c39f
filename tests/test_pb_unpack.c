/*
 * Messages from outside that protobuf-c decodes but could not decode again
 * after we store or relay them (a field numbered 0 in a two-byte tag): the
 * decoder of requests and replies refuses them, and a remote domain can no
 * longer make a user's inbox unreadable with one (fuzz_messages and
 * fuzz_dispatch found it; see docs/fuzzing.md).
 */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <string.h>

#include "adapter_fixture.h"
#include "core/wire/pb_unpack.h"
#include "fedrpc/v1/envelope.pb-c.h"

/* QualifiedId{id:"u", domain:"b.example"}, then field 0 (tag "85 00",
 * wire type 5) with four bytes. */
static const uint8_t qid_field_zero[] = {0x0a, 1, 'u', 0x12, 9, 'b', '.', 'e',
    'x', 'a', 'm', 'p', 'l', 'e', 0x85, 0x00, 1, 2, 3, 4};

Test(pb_unpack, refuses_field_zero_at_any_depth)
{
	const ProtobufCMessageDescriptor *d =
	    &fedrpc__federation__v1__qualified_id__descriptor;
	Fedrpc__Federation__V1__UserProfile p = FEDRPC__FEDERATION__V1__USER_PROFILE__INIT;
	uint8_t buf[64];
	size_t  n = 0;

	cr_assert_null(fedrpc_pb_unpack(d, NULL, sizeof(qid_field_zero),
	    qid_field_zero));
	/* The same inside another message (UserProfile.id). */
	p.name = "x";
	n      = fedrpc__federation__v1__user_profile__pack(&p, buf);
	buf[n++] = 0x0a;
	buf[n++] = sizeof(qid_field_zero);
	memcpy(buf + n, qid_field_zero, sizeof(qid_field_zero));
	n += sizeof(qid_field_zero);
	cr_assert_null(fedrpc_pb_unpack(
	    &fedrpc__federation__v1__user_profile__descriptor, NULL, n, buf));
}

Test(pb_unpack, keeps_other_unknown_fields)
{
	/* Field 1000 (a newer schema's), varint 7: kept, and it survives a
	 * round trip. */
	static const uint8_t in[] = {0x0a, 1, 'u', 0xc0, 0x3e, 7};
	ProtobufCMessage    *m, *again;
	uint8_t              out[32];
	size_t               n;

	m = fedrpc_pb_unpack(&fedrpc__federation__v1__qualified_id__descriptor,
	    NULL, sizeof(in), in);
	cr_assert_not_null(m);
	cr_assert_eq(m->n_unknown_fields, 1);
	n     = protobuf_c_message_pack(m, out);
	again = fedrpc_pb_unpack(
	    &fedrpc__federation__v1__qualified_id__descriptor, NULL, n, out);
	cr_assert_not_null(again);
	cr_assert_eq(again->n_unknown_fields, 1);
	protobuf_c_message_free_unpacked(again, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
}

/* Sends one federation request as raw bytes (payload exactly as given)
 * and returns the reply's status code. */
static fedrpc_code
raw_call(const char *url, const char *method, const uint8_t *payload,
    size_t len)
{
	static const uint8_t id[16] = {9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8};
	Fedrpc__V1__RequestHeader h = FEDRPC__V1__REQUEST_HEADER__INIT;
	Fedrpc__V1__Request       r = FEDRPC__V1__REQUEST__INIT;
	Fedrpc__V1__Reply        *reply;
	nng_socket                s;
	nng_msg                  *msg;
	fedrpc_code               code;

	h.method          = (char *) method;
	h.origin_domain   = "b.example";
	h.target_domain   = "a.example";
	h.api_version     = 1;
	h.timeout_ms      = 10000;
	h.request_id.data = (uint8_t *) id;
	h.request_id.len  = sizeof(id);
	r.header          = &h;
	r.payload.data    = (uint8_t *) payload;
	r.payload.len     = len;
	cr_assert_eq(nng_req0_open(&s), 0);
	cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000), 0);
	cr_assert_eq(nng_dial(s, url, NULL, 0), 0);
	cr_assert_eq(nng_msg_alloc(&msg, fedrpc__v1__request__get_packed_size(&r)), 0);
	fedrpc__v1__request__pack(&r, nng_msg_body(msg));
	cr_assert_eq(nng_sendmsg(s, msg, 0), 0);
	cr_assert_eq(nng_recvmsg(s, &msg, 0), 0);
	reply = fedrpc__v1__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	cr_assert_not_null(reply);
	code = reply->status != NULL ? (fedrpc_code) reply->status->code : FEDRPC_OK;
	fedrpc__v1__reply__free_unpacked(reply, NULL);
	nng_msg_free(msg);
	nng_close(s);
	return code;
}

/*
 * b.example has a conversation with alice of a.example and sends a
 * message into it whose conversation id carries field 0. Before the fix
 * a.example stored it, and every fetch of alice's inbox then failed with
 * DATA_LOSS ("inbox event N cannot be decoded").
 */
Test(pb_unpack, remote_cannot_poison_an_inbox)
{
	fx     *f     = fx_new(2);
	fx_user alice = fx_register(f, 0, "alice"), bob = fx_register(f, 1, "bob");
	uint64_t client = fx_add_client(f, &alice, 1, 2);
	Fedrpc__Local__V1__CreateConversationRequest cc =
	    FEDRPC__LOCAL__V1__CREATE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__CreateConversationResponse *ccr;
	Fedrpc__Federation__V1__OnMessageSentRequest om =
	    FEDRPC__FEDERATION__V1__ON_MESSAGE_SENT_REQUEST__INIT;
	Fedrpc__Federation__V1__UserCiphertexts uc =
	    FEDRPC__FEDERATION__V1__USER_CIPHERTEXTS__INIT, *ucs[1] = {&uc};
	Fedrpc__Federation__V1__ClientCiphertext ct =
	    FEDRPC__FEDERATION__V1__CLIENT_CIPHERTEXT__INIT, *cts[1] = {&ct};
	Fedrpc__Federation__V1__QualifiedId conv;
	Fedrpc__Local__V1__FetchInboxResponse *in;
	fx_qid       *members[1];
	fedrpc_status st = {0};
	uint8_t       payload[512], qid[256];
	size_t        n, qn;

	fx_connect(f, &bob, &alice);
	members[0]   = &alice.q;
	cc.self      = &bob.q;
	cc.name      = "Tea";
	cc.n_members = 1;
	cc.members   = members;
	cr_assert_eq(fedrpc_local_v1_conversations_create_conversation(
	                 f->d[1].lch, &cc, &ccr, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	conv = fx_qid_of(fx_keep(f, ccr->conversation->id->domain),
	    fx_keep(f, ccr->conversation->id->id));
	protobuf_c_message_free_unpacked(&ccr->base, NULL);
	cr_assert_eq(fx_count_events(f, &alice, client,
	                 FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED),
	    1, "alice hears of the conversation");

	/* OnMessageSent with every field but the conversation packed by
	 * protobuf-c, then the conversation id (field 2) with field 0. */
	ct.client          = client;
	ct.ciphertext.data = (uint8_t *) "sealed";
	ct.ciphertext.len  = 6;
	uc.user            = &alice.q;
	uc.n_clients       = 1;
	uc.clients         = cts;
	om.time_unix_ms    = 1700000000000;
	om.sender          = &bob.q;
	om.sender_client   = 5;
	om.n_recipients    = 1;
	om.recipients      = ucs;
	n  = fedrpc__federation__v1__on_message_sent_request__pack(&om, payload);
	qn = fedrpc__federation__v1__qualified_id__pack(&conv, qid);
	memcpy(qid + qn, "\x85\x00\x01\x02\x03\x04", 6);
	qn += 6;
	payload[n++] = 0x12;
	payload[n++] = (uint8_t) qn;
	memcpy(payload + n, qid, qn);
	n += qn;
	cr_assert_eq(raw_call(f->d[0].fed_url,
	                 "fedrpc.federation.v1.Conversations/OnMessageSent",
	                 payload, n),
	    FEDRPC_INVALID_ARGUMENT, "a message with field 0 is refused");

	/* The inbox still reads, and holds no message. */
	in = fx_inbox(f, &alice, client, 0, 100);
	cr_assert_gt(in->n_events, 0);
	for (size_t i = 0; i < in->n_events; i++)
		cr_assert_neq(in->events[i]->payload_case,
		    FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED);
	protobuf_c_message_free_unpacked(&in->base, NULL);
	fx_free(f);
}
