/*
 * Applied once: a federation request repeated under its request id (a
 * retry after a crash of either side) is answered as the first time and
 * changes nothing, also after the receiving backend was restarted (so not
 * thanks to the server's reply cache); a local send repeated with its
 * message id goes out once, whether this backend owns the conversation or
 * another one does, also when the sender's backend lost its record of it;
 * a refused send is not remembered.
 */
#include "adapter_fixture.h"

#define EV(x) FEDRPC__LOCAL__V1__EVENT__PAYLOAD_##x
#define SENT FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT
#define NOT_SENT FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT

/* ann and amy on a.example, bob on b.example, in ann's conversation. */
typedef struct world {
	fx      *f;
	fx_user  ann, amy, bob;
	uint64_t ann1, amy1, bob1;
	fx_qid   conv;
	char     conv_id[37];
} world;

static void
world_new(world *w)
{
	w->f    = fx_new(2);
	w->ann  = fx_register(w->f, 0, "ann");
	w->amy  = fx_register(w->f, 0, "amy");
	w->bob  = fx_register(w->f, 1, "bob");
	w->ann1 = fx_add_client(w->f, &w->ann, 0, 5);
	w->amy1 = fx_add_client(w->f, &w->amy, 0, 5);
	w->bob1 = fx_add_client(w->f, &w->bob, 0, 5);
	fx_connect(w->f, &w->ann, &w->amy);
	fx_connect(w->f, &w->ann, &w->bob);
	fx_create(w->f, &w->ann, (fx_user *const[]){&w->amy, &w->bob}, 2,
	    "once", w->conv_id);
	w->conv = fx_qid_of("a.example", w->conv_id);
}

static size_t
messages(world *w, fx_user *u, uint64_t client)
{
	return fx_count_events(w->f, u, client, EV(MESSAGE_RECEIVED));
}

/* Runs a call again while it fails with UNAVAILABLE, as a client would
 * (up to 10 s): a restarted domain is redialled a little later. */
#define RETRIED(rc, call)                                                 \
	do {                                                              \
		int tries_ = 0;                                           \
		while (((rc) = (call)) == FEDRPC_UNAVAILABLE &&           \
		       tries_++ < 1000) {                                 \
			fedrpc_status_reset(&st);                         \
			usleep(10000);                                    \
		}                                                         \
	} while (0)

/* A restart of domain i: its memory (reply cache included) is gone. */
static void
restart(world *w, int i)
{
	fx_stop_domain(w->f, i);
	fx_start_domain(w->f, i);
}

/* OnMessageSent from a.example to bob, under request id `rid`. */
static void
on_message_sent(world *w, const uint8_t *rid)
{
	Fedrpc__Federation__V1__OnMessageSentRequest r =
	    FEDRPC__FEDERATION__V1__ON_MESSAGE_SENT_REQUEST__INIT;
	Fedrpc__Federation__V1__OnMessageSentResponse *resp;
	Fedrpc__Federation__V1__UserCiphertexts        uc =
	    FEDRPC__FEDERATION__V1__USER_CIPHERTEXTS__INIT, *ucp = &uc;
	Fedrpc__Federation__V1__ClientCiphertext cc =
	    FEDRPC__FEDERATION__V1__CLIENT_CIPHERTEXT__INIT, *ccp = &cc;
	fedrpc_call_opts o  = {.request_id = rid};
	fedrpc_status    st = {0};
	fedrpc_code      rc;

	cc.client          = w->bob1;
	cc.ciphertext.data = (uint8_t *) "x";
	cc.ciphertext.len  = 1;
	uc.user            = &w->bob.q;
	uc.clients         = &ccp;
	uc.n_clients       = 1;
	r.time_unix_ms     = 1;
	r.conversation     = &w->conv;
	r.sender           = &w->ann.q;
	r.sender_client    = w->ann1;
	r.recipients       = &ucp;
	r.n_recipients     = 1;
	RETRIED(rc, fedrpc_federation_v1_conversations_on_message_sent(
	                fx_chan(w->f, 0, 1, &st), &r, &resp, &o, &st));
	cr_assert_eq(rc, FEDRPC_OK, "%s", st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

Test(exactly_once, notice_repeated_after_restart_applies_once,
    .timeout = 60)
{
	world         w;
	const uint8_t id1[16] = {1, 2, 3}, id2[16] = {1, 2, 4};

	world_new(&w);
	on_message_sent(&w, id1);
	cr_assert_eq(messages(&w, &w.bob, w.bob1), 1);
	on_message_sent(&w, id1);
	cr_assert_eq(messages(&w, &w.bob, w.bob1), 1, "a retry applies once");
	restart(&w, 1);
	on_message_sent(&w, id1);
	cr_assert_eq(messages(&w, &w.bob, w.bob1), 1,
	    "also after b.example restarted");
	on_message_sent(&w, id2);
	cr_assert_eq(messages(&w, &w.bob, w.bob1), 2, "another id is another");
	fx_free(w.f);
}

/* A connection request from made-up carl of a.example to bob. */
static Fedrpc__Federation__V1__SendConnectionActionResponse *
connect_to_bob(world *w, const uint8_t *rid, int action)
{
	Fedrpc__Federation__V1__SendConnectionActionRequest r =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;
	Fedrpc__Federation__V1__SendConnectionActionResponse *resp;
	fx_qid           carl = fx_qid_of("a.example",
	              "00000000-0000-4000-8000-0000000ca71e");
	fedrpc_call_opts o  = {.request_id = rid};
	fedrpc_status    st = {0};
	fedrpc_code      rc;

	r.from   = &carl;
	r.to     = &w->bob.q;
	r.action = action;
	RETRIED(rc, fedrpc_federation_v1_users_send_connection_action(
	                fx_chan(w->f, 0, 1, &st), &r, &resp, &o, &st));
	cr_assert_eq(rc, FEDRPC_OK, "%s", st.message);
	return resp;
}

#define CONNECT FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT
#define RESCIND FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_RESCIND

Test(exactly_once, repeated_request_gets_the_first_answer, .timeout = 60)
{
	world         w;
	const uint8_t c1[16] = {9, 1}, r1[16] = {9, 2};
	Fedrpc__Federation__V1__SendConnectionActionResponse *resp;
	size_t        events;

	world_new(&w);
	resp = connect_to_bob(&w, c1, CONNECT);
	cr_assert_eq(resp->result,
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_OK);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	events = fx_count_events(w.f, &w.bob, w.bob1, EV(CONNECTION_UPDATED));
	/* Rescinded, then the connect comes again (a late retry): it is not
	 * applied again, and answered as it was. */
	resp = connect_to_bob(&w, r1, RESCIND);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	restart(&w, 1);
	resp = connect_to_bob(&w, c1, CONNECT);
	cr_assert_eq(resp->result,
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_OK);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(CONNECTION_UPDATED)),
	    events + 1, "only the rescind moved bob's side");
	fx_free(w.f);
}

/* ---- local sends ---- */

typedef struct sendspec {
	Fedrpc__Federation__V1__UserCiphertexts  u[3], *up[3];
	Fedrpc__Federation__V1__ClientCiphertext c[3], *cp[3];
	Fedrpc__Federation__V1__ClientMismatchStrategy           strat;
	Fedrpc__Federation__V1__ClientMismatchStrategy__ReportAll ra;
	size_t n;
} sendspec;

static void
spec_add(sendspec *m, fx_user *u, uint64_t client)
{
	size_t i = m->n++;

	fedrpc__federation__v1__user_ciphertexts__init(&m->u[i]);
	fedrpc__federation__v1__client_ciphertext__init(&m->c[i]);
	m->c[i].client          = client;
	m->c[i].ciphertext.data = (uint8_t *) "ct";
	m->c[i].ciphertext.len  = 2;
	m->cp[i]                = &m->c[i];
	m->u[i].user            = &u->q;
	m->u[i].clients         = &m->cp[i];
	m->u[i].n_clients       = 1;
	m->up[i]                = &m->u[i];
}

/* self sends to w's conversation with message id mid (may be NULL). */
static Fedrpc__Local__V1__SendMessageResponse *
send_as(world *w, fx_user *self, uint64_t client, const char *mid,
    sendspec *m, fedrpc_code want)
{
	Fedrpc__Local__V1__SendMessageRequest r =
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Local__V1__SendMessageResponse *resp = NULL;
	fedrpc_status                           st   = {0};
	fedrpc_code                             rc;

	fedrpc__federation__v1__client_mismatch_strategy__init(&m->strat);
	fedrpc__federation__v1__client_mismatch_strategy__report_all__init(&m->ra);
	m->strat.strategy_case =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ALL;
	m->strat.report_all = &m->ra;
	r.self              = &self->q;
	r.sender_client     = client;
	r.conversation      = &w->conv;
	r.recipients        = m->up;
	r.n_recipients      = m->n;
	r.strategy          = &m->strat;
	if (mid != NULL) {
		r.message_id.data = (uint8_t *) mid;
		r.message_id.len  = strlen(mid);
	}
	RETRIED(rc, fedrpc_local_v1_conversations_send_message(
	                w->f->d[fx_index(w->f, self->domain)].lch, &r, &resp,
	                NULL, &st));
	cr_assert_eq(rc, want, "%s", st.message);
	return resp;
}

/* The message id of u's last message ("" when it has none). */
static void
last_message_id(world *w, fx_user *u, uint64_t client, char *out, size_t n)
{
	Fedrpc__Local__V1__FetchInboxResponse *in = fx_inbox(w->f, u, client, 0, 0);

	out[0] = '\0';
	for (size_t i = 0; i < in->n_events; i++)
		if (in->events[i]->payload_case == EV(MESSAGE_RECEIVED))
			snprintf(out, n, "%.*s",
			    (int) in->events[i]->message_received->message_id.len,
			    (const char *) in->events[i]
			        ->message_received->message_id.data);
	protobuf_c_message_free_unpacked(&in->base, NULL);
}

Test(exactly_once, local_send_with_an_id_goes_out_once, .timeout = 60)
{
	world    w;
	sendspec m = {0};
	char     got[80];
	Fedrpc__Local__V1__SendMessageResponse *r;

	world_new(&w);
	spec_add(&m, &w.amy, w.amy1);
	spec_add(&m, &w.bob, w.bob1);
	r = send_as(&w, &w.ann, w.ann1, "m-1", &m, FEDRPC_OK);
	cr_assert_eq(r->result_case, SENT);
	cr_assert_not(r->repeated);
	cr_assert_eq(r->message_id.len, 3);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* The client retries (its answer was lost), also after a restart. */
	r = send_as(&w, &w.ann, w.ann1, "m-1", &m, FEDRPC_OK);
	cr_assert_eq(r->result_case, SENT, "the first answer again");
	cr_assert(r->repeated);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	restart(&w, 0);
	r = send_as(&w, &w.ann, w.ann1, "m-1", &m, FEDRPC_OK);
	cr_assert(r->repeated);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(messages(&w, &w.amy, w.amy1), 1);
	cr_assert_eq(messages(&w, &w.bob, w.bob1), 1);
	/* The id reaches every recipient. */
	last_message_id(&w, &w.amy, w.amy1, got, sizeof(got));
	cr_assert_str_eq(got, "m-1");
	last_message_id(&w, &w.bob, w.bob1, got, sizeof(got));
	cr_assert_str_eq(got, "m-1");
	/* Without an id each send is another message, with an id of its
	 * own; ids are the sender's own (amy may use ann's). */
	r = send_as(&w, &w.ann, w.ann1, NULL, &m, FEDRPC_OK);
	cr_assert_eq(r->message_id.len, 16);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	{
		sendspec m2 = {0};

		spec_add(&m2, &w.ann, w.ann1);
		spec_add(&m2, &w.bob, w.bob1);
		r = send_as(&w, &w.amy, w.amy1, "m-1", &m2, FEDRPC_OK);
		cr_assert_not(r->repeated);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	cr_assert_eq(messages(&w, &w.bob, w.bob1), 3);
	{
		char big[80];

		memset(big, 'x', 65);
		big[65] = '\0';
		send_as(&w, &w.ann, w.ann1, big, &m, FEDRPC_INVALID_ARGUMENT);
	}
	fx_free(w.f);
}

Test(exactly_once, send_to_a_remote_owner_goes_out_once, .timeout = 60)
{
	world    w;
	sendspec m = {0};
	Fedrpc__Local__V1__SendMessageResponse *r;

	world_new(&w);
	spec_add(&m, &w.ann, w.ann1);
	spec_add(&m, &w.amy, w.amy1);
	r = send_as(&w, &w.bob, w.bob1, "b-1", &m, FEDRPC_OK);
	cr_assert_eq(r->result_case, SENT);
	cr_assert_not(r->repeated);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = send_as(&w, &w.bob, w.bob1, "b-1", &m, FEDRPC_OK);
	cr_assert(r->repeated);
	cr_assert_eq(r->result_case, SENT);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(messages(&w, &w.ann, w.ann1), 1);

	/* b.example lost its record (it crashed after a.example applied the
	 * message and before it wrote that down): the retry reaches the
	 * owner again, which applies it once. Made here by asking the owner
	 * directly, as b.example's first attempt would have. */
	{
		Fedrpc__Federation__V1__SendMessageRequest fr =
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_REQUEST__INIT;
		Fedrpc__Federation__V1__SendMessageResponse *out;
		fedrpc_status st = {0};

		fr.sender          = &w.bob.q;
		fr.sender_client   = w.bob1;
		fr.conversation    = &w.conv;
		fr.recipients      = m.up;
		fr.n_recipients    = m.n;
		fr.strategy        = &m.strat;
		fr.message_id.data = (uint8_t *) "b-2";
		fr.message_id.len  = 3;
		cr_assert_eq(fedrpc_federation_v1_conversations_send_message(
		                 fx_chan(w.f, 1, 0, &st), &fr, &out, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
		protobuf_c_message_free_unpacked(&out->base, NULL);
	}
	cr_assert_eq(messages(&w, &w.ann, w.ann1), 2);
	restart(&w, 0);
	r = send_as(&w, &w.bob, w.bob1, "b-2", &m, FEDRPC_OK);
	cr_assert_eq(r->result_case, SENT);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(messages(&w, &w.ann, w.ann1), 2, "the owner applied it once");
	cr_assert_eq(messages(&w, &w.amy, w.amy1), 2);
	fx_free(w.f);
}

Test(exactly_once, refused_send_is_not_remembered, .timeout = 60)
{
	world    w;
	sendspec some = {0}, all = {0};
	Fedrpc__Local__V1__SendMessageResponse *r;

	world_new(&w);
	/* amy's client is missing: refused, nothing sent. */
	spec_add(&some, &w.bob, w.bob1);
	r = send_as(&w, &w.ann, w.ann1, "r-1", &some, FEDRPC_OK);
	cr_assert_eq(r->result_case, NOT_SENT);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* The same message again, complete: sent, once. */
	spec_add(&all, &w.amy, w.amy1);
	spec_add(&all, &w.bob, w.bob1);
	r = send_as(&w, &w.ann, w.ann1, "r-1", &all, FEDRPC_OK);
	cr_assert_eq(r->result_case, SENT);
	cr_assert_not(r->repeated);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(messages(&w, &w.bob, w.bob1), 1);
	/* From a remote sender too. */
	{
		sendspec rsome = {0}, rall = {0};

		spec_add(&rsome, &w.ann, w.ann1);
		r = send_as(&w, &w.bob, w.bob1, "r-2", &rsome, FEDRPC_OK);
		cr_assert_eq(r->result_case, NOT_SENT);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		spec_add(&rall, &w.ann, w.ann1);
		spec_add(&rall, &w.amy, w.amy1);
		r = send_as(&w, &w.bob, w.bob1, "r-2", &rall, FEDRPC_OK);
		cr_assert_eq(r->result_case, SENT);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	cr_assert_eq(messages(&w, &w.amy, w.amy1), 2);
	fx_free(w.f);
}
