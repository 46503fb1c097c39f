/*
 * Conversations and messages across three SQLite backends (a.example,
 * b.example, c.example) through the generated stubs: creation and copies,
 * membership changes and their events, leaving, message sending with every
 * mismatch strategy, a domain that cannot be reached (the message queued
 * for it, or failed_to_send when there is nothing to queue),
 * on-message-sent delivering only to members, user deletion, and bad input
 * at the federation methods.
 */
#include "adapter_fixture.h"

#define EV(x) FEDRPC__LOCAL__V1__EVENT__PAYLOAD_##x
#define NOT_SENT(x) FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_##x

typedef Fedrpc__Federation__V1__Conversation conv_t;

/* Creates a conversation owned by self's domain; caller frees. */
static Fedrpc__Local__V1__CreateConversationResponse *
create(fx *f, fx_user *self, fx_user **members, size_t n, fedrpc_code want)
{
	Fedrpc__Local__V1__CreateConversationRequest r =
	    FEDRPC__LOCAL__V1__CREATE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__CreateConversationResponse *resp = NULL;
	fx_qid                                        *qs[8];
	fedrpc_status                                  st = {0};

	for (size_t i = 0; i < n; i++)
		qs[i] = &members[i]->q;
	r.self      = &self->q;
	r.name      = "team";
	r.members   = qs;
	r.n_members = n;
	cr_assert_eq(fedrpc_local_v1_conversations_create_conversation(
	                 f->d[fx_index(f, self->domain)].lch, &r, &resp, NULL,
	                 &st),
	    want, "%s", st.message);
	return resp;
}

static Fedrpc__Local__V1__ListConversationsResponse *
list(fx *f, fx_user *u)
{
	Fedrpc__Local__V1__ListConversationsRequest r =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConversationsResponse *resp;
	fedrpc_status                                 st = {0};

	r.self = &u->q;
	cr_assert_eq(fedrpc_local_v1_conversations_list_conversations(
	                 f->d[fx_index(f, u->domain)].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	return resp;
}

/* How many members u's backend records for conv (0: no copy). */
static size_t
members_seen(fx *f, fx_user *u, fx_qid *conv)
{
	Fedrpc__Local__V1__ListConversationsResponse *l = list(f, u);
	size_t                                        n = 0;

	for (size_t i = 0; i < l->n_conversations; i++)
		if (strcmp(l->conversations[i]->id->id, conv->id) == 0)
			n = l->conversations[i]->n_members;
	protobuf_c_message_free_unpacked(&l->base, NULL);
	return n;
}

static fedrpc_code
add_members(fx *f, fx_user *self, fx_qid *conv, fx_user **users, size_t n,
    int role, fedrpc_status *st)
{
	Fedrpc__Local__V1__AddMembersRequest r =
	    FEDRPC__LOCAL__V1__ADD_MEMBERS_REQUEST__INIT;
	Fedrpc__Local__V1__AddMembersResponse *resp;
	fx_qid                                *qs[8];
	fedrpc_code                            rc;

	for (size_t i = 0; i < n; i++)
		qs[i] = &users[i]->q;
	r.self         = &self->q;
	r.conversation = conv;
	r.members      = qs;
	r.n_members    = n;
	r.role         = role;
	rc = fedrpc_local_v1_conversations_add_members(
	    f->d[fx_index(f, self->domain)].lch, &r, &resp, NULL, st);
	if (rc == FEDRPC_OK)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

static fedrpc_code
remove_members(fx *f, fx_user *self, fx_qid *conv, fx_user **users, size_t n,
    size_t *unreachable, fedrpc_status *st)
{
	Fedrpc__Local__V1__RemoveMembersRequest r =
	    FEDRPC__LOCAL__V1__REMOVE_MEMBERS_REQUEST__INIT;
	Fedrpc__Local__V1__RemoveMembersResponse *resp;
	fx_qid                                   *qs[8];
	fedrpc_code                               rc;

	for (size_t i = 0; i < n; i++)
		qs[i] = &users[i]->q;
	r.self         = &self->q;
	r.conversation = conv;
	r.members      = qs;
	r.n_members    = n;
	rc = fedrpc_local_v1_conversations_remove_members(
	    f->d[fx_index(f, self->domain)].lch, &r, &resp, NULL, st);
	if (rc == FEDRPC_OK) {
		if (unreachable != NULL)
			*unreachable = resp->n_unreachable_domains;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return rc;
}

static fedrpc_code
leave(fx *f, fx_user *self, fx_qid *conv, fedrpc_status *st)
{
	Fedrpc__Local__V1__LeaveConversationRequest r =
	    FEDRPC__LOCAL__V1__LEAVE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__LeaveConversationResponse *resp;
	fedrpc_code                                   rc;

	r.self         = &self->q;
	r.conversation = conv;
	rc = fedrpc_local_v1_conversations_leave_conversation(
	    f->d[fx_index(f, self->domain)].lch, &r, &resp, NULL, st);
	if (rc == FEDRPC_OK)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

/* ---- messages ---- */

typedef struct msg {
	Fedrpc__Federation__V1__UserCiphertexts  u[8], *up[8];
	Fedrpc__Federation__V1__ClientCiphertext c[16], *cp[16];
	size_t                                   n_u, n_c;
	Fedrpc__Federation__V1__ClientMismatchStrategy           strat;
	Fedrpc__Federation__V1__ClientMismatchStrategy__ReportAll ra;
	Fedrpc__Federation__V1__ClientMismatchStrategy__IgnoreAll ia;
	Fedrpc__Federation__V1__ClientMismatchStrategy__UserList  ul;
	fx_qid                                                   *ulu[4];
} msg;

static void
msg_init(msg *m)
{
	memset(m, 0, sizeof(*m));
	fedrpc__federation__v1__client_mismatch_strategy__init(&m->strat);
	fedrpc__federation__v1__client_mismatch_strategy__report_all__init(&m->ra);
	fedrpc__federation__v1__client_mismatch_strategy__ignore_all__init(&m->ia);
	fedrpc__federation__v1__client_mismatch_strategy__user_list__init(&m->ul);
	m->strat.strategy_case =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ALL;
	m->strat.report_all = &m->ra;
}

/* Adds a ciphertext "for:<client>" for (u, client). */
static void
msg_add(msg *m, fx_user *u, uint64_t client)
{
	Fedrpc__Federation__V1__UserCiphertexts  *uc = NULL;
	Fedrpc__Federation__V1__ClientCiphertext *c  = &m->c[m->n_c];
	static char                               texts[64][32];
	static int                                next;
	char                                     *t = texts[next++ & 63];

	for (size_t i = 0; i < m->n_u; i++)
		if (m->u[i].user == &u->q)
			uc = &m->u[i];
	if (uc == NULL) {
		uc = &m->u[m->n_u];
		fedrpc__federation__v1__user_ciphertexts__init(uc);
		uc->user         = &u->q;
		uc->clients      = &m->cp[m->n_c];
		m->up[m->n_u++]  = uc;
	}
	cr_assert(uc->clients + uc->n_clients == &m->cp[m->n_c],
	    "add a user's clients together");
	fedrpc__federation__v1__client_ciphertext__init(c);
	snprintf(t, 32, "for:%llx", (unsigned long long) client);
	c->client          = client;
	c->ciphertext.data = (uint8_t *) t;
	c->ciphertext.len  = strlen(t);
	m->cp[m->n_c++]    = c;
	uc->n_clients++;
}

static void
msg_strategy(msg *m, int kind, fx_user **users, size_t n)
{
	m->strat.strategy_case = kind;
	for (size_t i = 0; i < n; i++)
		m->ulu[i] = &users[i]->q;
	m->ul.users   = m->ulu;
	m->ul.n_users = n;
	switch (kind) {
	case FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL:
		m->strat.ignore_all = &m->ia;
		break;
	case FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ONLY:
		m->strat.report_only = &m->ul;
		break;
	case FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ONLY:
		m->strat.ignore_only = &m->ul;
		break;
	default:
		m->strat.report_all = &m->ra;
	}
}

static Fedrpc__Local__V1__SendMessageResponse *
send_msg(fx *f, fx_user *self, uint64_t client, fx_qid *conv, msg *m,
    fedrpc_code want)
{
	Fedrpc__Local__V1__SendMessageRequest r =
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Local__V1__SendMessageResponse *resp = NULL;
	fedrpc_status                           st = {0};

	r.self          = &self->q;
	r.sender_client = client;
	r.conversation  = conv;
	r.recipients    = m->up;
	r.n_recipients  = m->n_u;
	r.strategy      = &m->strat;
	r.data.data     = (uint8_t *) "blob";
	r.data.len      = 4;
	cr_assert_eq(fedrpc_local_v1_conversations_send_message(
	                 f->d[fx_index(f, self->domain)].lch, &r, &resp, NULL,
	                 &st),
	    want, "%s", st.message);
	return resp;
}

/* The clients a report lists for u (0 if u is not in it). */
static size_t
listed(Fedrpc__Federation__V1__UserClientIds **l, size_t n, fx_user *u,
    uint64_t client)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i]->user->id, u->id) == 0) {
			if (client == 0)
				return 1;
			for (size_t j = 0; j < l[i]->n_clients; j++)
				if (l[i]->clients[j] == client)
					return 1;
		}
	return 0;
}

/* The ciphertexts in a client's inbox, as one string "a|b|". */
static void
messages_of(fx *f, fx_user *u, uint64_t client, char *out, size_t len)
{
	Fedrpc__Local__V1__FetchInboxResponse *in = fx_inbox(f, u, client, 0, 0);

	out[0] = '\0';
	for (size_t i = 0; i < in->n_events; i++) {
		Fedrpc__Local__V1__MessageReceived *m;

		if (in->events[i]->payload_case != EV(MESSAGE_RECEIVED))
			continue;
		m = in->events[i]->message_received;
		cr_assert_eq(m->data.len, 4);
		snprintf(out + strlen(out), len - strlen(out), "%.*s|",
		    (int) m->ciphertext.len, m->ciphertext.data);
	}
	protobuf_c_message_free_unpacked(&in->base, NULL);
}

/* A world: ann (owner side, a), amy (a), bob and bea (b), cat (c), all
 * connected to ann, each with one client (ann two). */
typedef struct world {
	fx      *f;
	fx_user  ann, amy, bob, bea, cat;
	uint64_t ann1, ann2, amy1, bob1, bea1, cat1;
	fx_qid   conv;
	char     conv_id[37];
} world;

static void
world_new(world *w)
{
	fx_user *members[4];
	Fedrpc__Local__V1__CreateConversationResponse *cr;

	w->f    = fx_new(3);
	w->ann  = fx_register(w->f, 0, "ann");
	w->amy  = fx_register(w->f, 0, "amy");
	w->bob  = fx_register(w->f, 1, "bob");
	w->bea  = fx_register(w->f, 1, "bea");
	w->cat  = fx_register(w->f, 2, "cat");
	w->ann1 = fx_add_client(w->f, &w->ann, 0, 5);
	w->ann2 = fx_add_client(w->f, &w->ann, 0, 5);
	w->amy1 = fx_add_client(w->f, &w->amy, 0, 5);
	w->bob1 = fx_add_client(w->f, &w->bob, 0, 5);
	w->bea1 = fx_add_client(w->f, &w->bea, 0, 5);
	w->cat1 = fx_add_client(w->f, &w->cat, 0, 5);
	fx_connect(w->f, &w->ann, &w->amy);
	fx_connect(w->f, &w->ann, &w->bob);
	fx_connect(w->f, &w->ann, &w->bea);
	fx_connect(w->f, &w->cat, &w->ann);
	members[0] = &w->amy;
	members[1] = &w->bob;
	members[2] = &w->cat;
	cr         = create(w->f, &w->ann, members, 3, FEDRPC_OK);
	cr_assert_eq(cr->n_unreachable_domains, 0);
	snprintf(w->conv_id, sizeof(w->conv_id), "%s", cr->conversation->id->id);
	w->conv = fx_qid_of("a.example", w->conv_id);
	protobuf_c_message_free_unpacked(&cr->base, NULL);
}

Test(adapter_conversations, create_needs_connections_and_makes_copies)
{
	fx                *f   = fx_new(2);
	fx_user            ann = fx_register(f, 0, "ann");
	fx_user            bob = fx_register(f, 1, "bob");
	fx_user            amy = fx_register(f, 0, "amy");
	uint64_t           bc  = fx_add_client(f, &bob, 0, 1);
	fx_user           *m[] = {&bob, &amy};
	Fedrpc__Local__V1__CreateConversationResponse *cr;
	conv_t            *c;
	fx_qid             id;

	create(f, &ann, m, 1, FEDRPC_FAILED_PRECONDITION);
	fx_connect(f, &ann, &bob);
	create(f, &ann, m, 2, FEDRPC_FAILED_PRECONDITION);
	fx_connect(f, &amy, &ann);
	cr = create(f, &ann, m, 2, FEDRPC_OK);
	c  = cr->conversation;
	cr_assert_str_eq(c->id->domain, "a.example");
	cr_assert_str_eq(c->creator->id, ann.id);
	cr_assert_str_eq(c->name, "team");
	cr_assert_eq(c->n_members, 3);
	for (size_t i = 1; i < 3; i++)
		cr_assert_leq(strcmp(c->members[i - 1]->id->domain,
		                  c->members[i]->id->domain),
		    0, "members sorted by domain");
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(c->members[i]->role,
		    strcmp(c->members[i]->id->id, ann.id) == 0
			? FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_ADMIN
			: FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER);
	id = fx_qid_of("a.example", fx_keep(f, c->id->id));
	protobuf_c_message_free_unpacked(&cr->base, NULL);

	/* b.example keeps a copy; bob's client heard of it. */
	cr_assert_eq(members_seen(f, &bob, &id), 3);
	cr_assert_eq(members_seen(f, &amy, &id), 3);
	cr_assert_eq(fx_count_events(f, &bob, bc, EV(CONVERSATION_CREATED)), 1);

	/* Bad input. */
	{
		fx_user *self_in[] = {&ann};
		fx_user *twice[]   = {&bob, &bob};

		create(f, &ann, self_in, 1, FEDRPC_INVALID_ARGUMENT);
		create(f, &ann, twice, 2, FEDRPC_INVALID_ARGUMENT);
	}
	fx_free(f);
}

Test(adapter_conversations, membership_changes_and_events)
{
	world         w;
	fedrpc_status st = {0};
	fx_user      *u[2];
	size_t        unreachable = 9;

	world_new(&w);
	/* Only admins change members; members must be connected. */
	u[0] = &w.bea;
	cr_assert_eq(add_members(w.f, &w.amy, &w.conv, u, 1, 0, &st),
	    FEDRPC_PERMISSION_DENIED);
	cr_assert_eq(add_members(w.f, &w.bob, &w.conv, u, 1, 0, &st),
	    FEDRPC_FAILED_PRECONDITION, "b.example does not own it");
	{
		fx_qid nope = fx_qid_of("a.example",
		    "00000000-0000-4000-8000-000000000000");

		cr_assert_eq(add_members(w.f, &w.ann, &nope, u, 1, 0, &st),
		    FEDRPC_NOT_FOUND);
	}
	/* bea joins: b.example already had bob (members_added, bob gets
	 * MembersJoined), bea gets ConversationCreated. */
	cr_assert_eq(add_members(w.f, &w.ann, &w.conv, u, 1, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(members_seen(w.f, &w.bob, &w.conv), 5);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(MEMBERS_JOINED)), 1);
	cr_assert_eq(fx_count_events(w.f, &w.bea, w.bea1,
	                 EV(CONVERSATION_CREATED)),
	    1);
	cr_assert_eq(fx_count_events(w.f, &w.cat, w.cat1, EV(MEMBERS_JOINED)), 1);
	cr_assert_eq(fx_count_events(w.f, &w.amy, w.amy1, EV(MEMBERS_JOINED)), 1);
	/* Adding again changes nothing. */
	cr_assert_eq(add_members(w.f, &w.ann, &w.conv, u, 1, 0, &st),
	    FEDRPC_OK);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(MEMBERS_JOINED)), 1);

	/* Removing cat: c.example hears, then drops its copy. */
	u[0] = &w.cat;
	cr_assert_eq(remove_members(w.f, &w.ann, &w.conv, u, 1, &unreachable,
	                 &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(unreachable, 0);
	cr_assert_eq(members_seen(w.f, &w.cat, &w.conv), 0);
	cr_assert_eq(fx_count_events(w.f, &w.cat, w.cat1, EV(MEMBERS_LEFT)), 1);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(MEMBERS_LEFT)), 1);
	cr_assert_eq(members_seen(w.f, &w.bob, &w.conv), 4);

	/* A domain that cannot be told: listed, the change stands. */
	atomic_store(&w.f->d[1].down, true);
	u[0] = &w.bea;
	cr_assert_eq(remove_members(w.f, &w.ann, &w.conv, u, 1, &unreachable,
	                 &st),
	    FEDRPC_OK);
	cr_assert_eq(unreachable, 1);
	cr_assert_eq(members_seen(w.f, &w.ann, &w.conv), 3);
	atomic_store(&w.f->d[1].down, false);
	fx_free(w.f);
}

Test(adapter_conversations, leave_local_and_remote)
{
	world         w;
	fedrpc_status st = {0};
	fx_qid        nope = fx_qid_of("a.example",
	           "00000000-0000-4000-8000-000000000000");

	world_new(&w);
	/* bob leaves the conversation a.example owns. */
	cr_assert_eq(leave(w.f, &w.bob, &w.conv, &st), FEDRPC_OK, "%s",
	    st.message);
	cr_assert_eq(members_seen(w.f, &w.bob, &w.conv), 0, "copy dropped");
	cr_assert_eq(members_seen(w.f, &w.ann, &w.conv), 3);
	FX_EVENTUALLY(members_seen(w.f, &w.cat, &w.conv) == 3, "cat's copy");
	cr_assert_eq(fx_count_events(w.f, &w.ann, w.ann1, EV(MEMBERS_LEFT)), 1);
	cr_assert_eq(fx_count_events(w.f, &w.cat, w.cat1, EV(MEMBERS_LEFT)), 1);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(MEMBERS_LEFT)), 1);
	/* Again: not a member any more. */
	cr_assert_eq(leave(w.f, &w.bob, &w.conv, &st),
	    FEDRPC_FAILED_PRECONDITION, "%s", st.message);
	cr_assert_eq(leave(w.f, &w.bob, &nope, &st), FEDRPC_NOT_FOUND);
	/* amy leaves locally. */
	cr_assert_eq(leave(w.f, &w.amy, &w.conv, &st), FEDRPC_OK);
	cr_assert_eq(members_seen(w.f, &w.cat, &w.conv), 2);
	cr_assert_eq(leave(w.f, &w.amy, &w.conv, &st),
	    FEDRPC_FAILED_PRECONDITION);
	/* The owner is unreachable: UNAVAILABLE, cat stays. */
	atomic_store(&w.f->d[0].down, true);
	cr_assert_eq(leave(w.f, &w.cat, &w.conv, &st), FEDRPC_UNAVAILABLE);
	atomic_store(&w.f->d[0].down, false);
	cr_assert_eq(members_seen(w.f, &w.cat, &w.conv), 2);
	fx_free(w.f);
}

Test(adapter_conversations, send_spanning_three_domains)
{
	world w;
	msg   m;
	char  got[256];
	Fedrpc__Local__V1__SendMessageResponse *r;

	world_new(&w);
	/* Everyone but the sending client: sent everywhere. */
	msg_init(&m);
	msg_add(&m, &w.ann, w.ann2);
	msg_add(&m, &w.amy, w.amy1);
	msg_add(&m, &w.bob, w.bob1);
	msg_add(&m, &w.cat, w.cat1);
	r = send_msg(w.f, &w.ann, w.ann1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT);
	cr_assert_eq(r->sent->n_missing + r->sent->n_redundant +
	                 r->sent->n_deleted + r->sent->n_failed_to_send +
	                 r->sent->n_failed_to_confirm,
	    0);
	cr_assert_gt(r->sent->time_unix_ms, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	messages_of(w.f, &w.bob, w.bob1, got, sizeof(got));
	{
		char want[32];

		snprintf(want, sizeof(want), "for:%llx|",
		    (unsigned long long) w.bob1);
		cr_assert_str_eq(got, want, "bob gets only his ciphertext");
	}
	messages_of(w.f, &w.cat, w.cat1, got, sizeof(got));
	cr_assert_neq(got[0], '\0');
	messages_of(w.f, &w.amy, w.amy1, got, sizeof(got));
	cr_assert_neq(got[0], '\0');
	messages_of(w.f, &w.ann, w.ann2, got, sizeof(got));
	cr_assert_neq(got[0], '\0', "the sender's other client");
	messages_of(w.f, &w.ann, w.ann1, got, sizeof(got));
	cr_assert_eq(got[0], '\0', "not the sending client");

	/* c.example goes down: cat's client cannot be confirmed (taken on
	 * trust) nor reached, so the message is queued for c.example; the
	 * others get it at once. */
	atomic_store(&w.f->d[2].down, true);
	r = send_msg(w.f, &w.ann, w.ann1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT);
	cr_assert_eq(r->sent->n_failed_to_send, 0, "queued, not failed");
	cr_assert_eq(r->sent->n_queued_domains, 1);
	cr_assert_str_eq(r->sent->queued_domains[0], "c.example");
	cr_assert_eq(r->sent->n_failed_to_confirm, 1);
	cr_assert(listed(r->sent->failed_to_confirm, 1, &w.cat, w.cat1));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(MESSAGE_RECEIVED)),
	    2);
	cr_assert_eq(fx_count_events(w.f, &w.cat, w.cat1, EV(MESSAGE_RECEIVED)),
	    1, "not yet");
	/* ... and with no ciphertext for cat: cat listed without clients. */
	msg_init(&m);
	msg_add(&m, &w.ann, w.ann2);
	msg_add(&m, &w.amy, w.amy1);
	msg_add(&m, &w.bob, w.bob1);
	r = send_msg(w.f, &w.ann, w.ann1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT);
	cr_assert_eq(r->sent->n_failed_to_send, 1);
	cr_assert_str_eq(r->sent->failed_to_send[0]->user->id, w.cat.id);
	cr_assert_eq(r->sent->failed_to_send[0]->n_clients, 0);
	cr_assert_eq(r->sent->n_queued_domains, 0, "nothing to queue for c");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* c.example is back: the queued message arrives, once. */
	atomic_store(&w.f->d[2].down, false);
	{
		int tries = 0;

		while (fx_count_events(w.f, &w.cat, w.cat1,
		           EV(MESSAGE_RECEIVED)) < 2) {
			cr_assert_lt(tries++, 500, "the queued message never came");
			usleep(10000);
		}
	}
	cr_assert_eq(fx_count_events(w.f, &w.cat, w.cat1, EV(MESSAGE_RECEIVED)),
	    2);
	fx_free(w.f);
}

Test(adapter_conversations, mismatch_strategies_from_remote_sender)
{
	world w;
	msg   m;
	Fedrpc__Local__V1__SendMessageResponse *r;
	fx_user *only_cat[] = {&w.cat}, *only_amy[] = {&w.amy};
	fx_user  stranger;

	world_new(&w);
	stranger = fx_register(w.f, 1, "stranger");
	only_cat[0] = &w.cat;
	only_amy[0] = &w.amy;

	/* bob on b.example sends to a.example's conversation, leaving out
	 * amy; a stranger's client is redundant, a made-up client of cat
	 * is deleted, his own sending client is redundant. */
	msg_init(&m);
	msg_add(&m, &w.ann, w.ann1);
	msg_add(&m, &w.ann, w.ann2);
	msg_add(&m, &w.bob, w.bob1);
	msg_add(&m, &w.cat, w.cat1);
	msg_add(&m, &w.cat, 0xdead);
	msg_add(&m, &stranger, 42);

	r = send_msg(w.f, &w.bob, w.bob1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT);
	cr_assert_eq(r->not_sent->reason, NOT_SENT(CLIENT_MISSING));
	cr_assert_eq(r->not_sent->status->n_missing, 1);
	cr_assert(listed(r->not_sent->status->missing, 1, &w.amy, w.amy1));
	cr_assert_eq(r->not_sent->status->n_redundant, 2);
	cr_assert(listed(r->not_sent->status->redundant, 2, &w.bob, w.bob1));
	cr_assert(listed(r->not_sent->status->redundant, 2, &stranger, 42));
	cr_assert_eq(r->not_sent->status->n_deleted, 1);
	cr_assert(listed(r->not_sent->status->deleted, 1, &w.cat, 0xdead));
	cr_assert_eq(r->not_sent->status->n_failed_to_send, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(fx_count_events(w.f, &w.ann, w.ann2, EV(MESSAGE_RECEIVED)),
	    0, "nothing is delivered when refused");

	msg_strategy(&m,
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ONLY,
	    only_cat, 1);
	r = send_msg(w.f, &w.bob, w.bob1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT);
	cr_assert_eq(r->sent->n_missing, 0);
	cr_assert_eq(r->sent->n_redundant, 2);
	cr_assert_eq(r->sent->n_deleted, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(fx_count_events(w.f, &w.ann, w.ann2, EV(MESSAGE_RECEIVED)),
	    1);

	msg_strategy(&m,
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ONLY,
	    only_amy, 1);
	r = send_msg(w.f, &w.bob, w.bob1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	msg_strategy(&m,
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ONLY,
	    only_amy, 1);
	r = send_msg(w.f, &w.bob, w.bob1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	msg_strategy(&m,
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ONLY,
	    only_cat, 1);
	r = send_msg(w.f, &w.bob, w.bob1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	msg_strategy(&m,
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL,
	    NULL, 0);
	r = send_msg(w.f, &w.bob, w.bob1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Three messages were sent; cat's client gets each (through the
	 * owner's outbox). */
	FX_EVENTUALLY(fx_count_events(w.f, &w.cat, w.cat1,
	                  EV(MESSAGE_RECEIVED)) == 3,
	    "cat got %zu messages",
	    fx_count_events(w.f, &w.cat, w.cat1, EV(MESSAGE_RECEIVED)));

	/* Unknown sending client; a non-member; an unset strategy; the
	 * owner unreachable. */
	msg_strategy(&m, 0, NULL, 0);
	send_msg(w.f, &w.bob, w.bob1, &w.conv, &m, FEDRPC_INVALID_ARGUMENT);
	msg_strategy(&m,
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL,
	    NULL, 0);
	{
		/* A recipient listed twice, last after the others. */
		msg twice = m;

		twice.up[twice.n_u++] = twice.up[1];
		send_msg(w.f, &w.bob, w.bob1, &w.conv, &twice,
		    FEDRPC_INVALID_ARGUMENT);
	}
	r = send_msg(w.f, &w.bob, 0x1234, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->not_sent->reason, NOT_SENT(UNKNOWN_CLIENT));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = send_msg(w.f, &stranger, 42, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->not_sent->reason, NOT_SENT(CONVERSATION_NOT_FOUND));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* The owner unreachable: the message waits for it on b.example and
	 * is reported queued; once the owner is back, it reaches cat. */
	atomic_store(&w.f->d[0].down, true);
	r = send_msg(w.f, &w.bob, w.bob1, &w.conv, &m, FEDRPC_OK);
	cr_assert_eq(r->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT);
	cr_assert_geq(r->sent->n_queued_domains, 1);
	cr_assert_str_eq(r->sent->queued_domains[0], "a.example");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	atomic_store(&w.f->d[0].down, false);
	FX_EVENTUALLY(fx_count_events(w.f, &w.cat, w.cat1,
	                  EV(MESSAGE_RECEIVED)) == 4,
	    "cat got %zu messages",
	    fx_count_events(w.f, &w.cat, w.cat1, EV(MESSAGE_RECEIVED)));
	fx_free(w.f);
}

Test(adapter_conversations, on_message_sent_only_to_local_members)
{
	world         w;
	fedrpc_status st = {0};
	fx_user       other;
	uint64_t      oc;
	Fedrpc__Federation__V1__OnMessageSentRequest r =
	    FEDRPC__FEDERATION__V1__ON_MESSAGE_SENT_REQUEST__INIT;
	Fedrpc__Federation__V1__OnMessageSentResponse *resp;
	msg m;

	world_new(&w);
	other = fx_register(w.f, 1, "other");
	oc    = fx_add_client(w.f, &other, 0, 1);
	msg_init(&m);
	msg_add(&m, &w.bob, w.bob1);
	msg_add(&m, &w.bob, 777); /* a client bob does not have */
	msg_add(&m, &other, oc);  /* not a member */
	r.time_unix_ms  = 1;
	r.conversation  = &w.conv;
	r.sender        = &w.ann.q;
	r.sender_client = w.ann1;
	r.recipients    = m.up;
	r.n_recipients  = m.n_u;
	cr_assert_eq(fedrpc_federation_v1_conversations_on_message_sent(
	                 fx_chan(w.f, 0, 1, &st), &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(MESSAGE_RECEIVED)),
	    1);
	cr_assert_eq(fx_count_events(w.f, &other, oc, EV(MESSAGE_RECEIVED)), 0);

	/* Only the owner may send it; recipients must be the callee's. */
	cr_assert_eq(fedrpc_federation_v1_conversations_on_message_sent(
	                 fx_chan(w.f, 2, 1, &st), &r, &resp, NULL, &st),
	    FEDRPC_PERMISSION_DENIED);
	msg_add(&m, &w.cat, w.cat1);
	r.n_recipients = m.n_u;
	cr_assert_eq(fedrpc_federation_v1_conversations_on_message_sent(
	                 fx_chan(w.f, 0, 1, &st), &r, &resp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	fx_free(w.f);
}

Test(adapter_conversations, federation_bad_input_and_get_conversations)
{
	world         w;
	fedrpc_status st = {0};
	fx_qid        cconv = fx_qid_of("c.example", "00000000-0000-4000-8000-000000000001");

	world_new(&w);
	{
		/* Claiming a conversation for a domain that is not the
		 * caller's: refused. */
		Fedrpc__Federation__V1__OnConversationCreatedRequest r =
		    FEDRPC__FEDERATION__V1__ON_CONVERSATION_CREATED_REQUEST__INIT;
		Fedrpc__Federation__V1__OnConversationCreatedResponse *resp;
		conv_t c = FEDRPC__FEDERATION__V1__CONVERSATION__INIT;

		c.id           = &cconv;
		c.creator      = &w.cat.q;
		r.conversation = &c;
		cr_assert_eq(fedrpc_federation_v1_conversations_on_conversation_created(
		                 fx_chan(w.f, 0, 1, &st), &r, &resp, NULL, &st),
		    FEDRPC_PERMISSION_DENIED);
		r.conversation = NULL;
		cr_assert_eq(fedrpc_federation_v1_conversations_on_conversation_created(
		                 fx_chan(w.f, 2, 1, &st), &r, &resp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT);
	}
	{
		Fedrpc__Federation__V1__OnConversationUpdatedRequest r =
		    FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__INIT;
		Fedrpc__Federation__V1__OnConversationUpdatedResponse *resp;

		r.conversation = &w.conv;
		r.actor        = &w.ann.q;
		cr_assert_eq(fedrpc_federation_v1_conversations_on_conversation_updated(
		                 fx_chan(w.f, 0, 1, &st), &r, &resp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT, "no action");
	}
	{
		Fedrpc__Federation__V1__SendMessageRequest r =
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_REQUEST__INIT;
		Fedrpc__Federation__V1__SendMessageResponse *resp;
		Fedrpc__Federation__V1__ClientMismatchStrategy s =
		    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__INIT;
		Fedrpc__Federation__V1__ClientMismatchStrategy__IgnoreAll ia =
		    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__IGNORE_ALL__INIT;

		s.strategy_case =
		    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL;
		s.ignore_all   = &ia;
		r.sender       = &w.cat.q; /* not of b.example, the caller */
		r.conversation = &w.conv;
		r.strategy     = &s;
		cr_assert_eq(fedrpc_federation_v1_conversations_send_message(
		                 fx_chan(w.f, 1, 0, &st), &r, &resp, NULL, &st),
		    FEDRPC_PERMISSION_DENIED);
		r.sender       = &w.bob.q;
		r.conversation = &cconv; /* not a.example's */
		cr_assert_eq(fedrpc_federation_v1_conversations_send_message(
		                 fx_chan(w.f, 1, 0, &st), &r, &resp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT);
		r.conversation = &w.conv;
		r.strategy     = NULL;
		cr_assert_eq(fedrpc_federation_v1_conversations_send_message(
		                 fx_chan(w.f, 1, 0, &st), &r, &resp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT);
	}
	{
		Fedrpc__Federation__V1__GetConversationsRequest r =
		    FEDRPC__FEDERATION__V1__GET_CONVERSATIONS_REQUEST__INIT;
		Fedrpc__Federation__V1__GetConversationsResponse *resp;
		fx_qid *ids[] = {&w.conv};

		r.user            = &w.bea.q; /* not a member */
		r.conversations   = ids;
		r.n_conversations = 1;
		cr_assert_eq(fedrpc_federation_v1_conversations_get_conversations(
		                 fx_chan(w.f, 1, 0, &st), &r, &resp, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
		cr_assert_eq(resp->n_conversations, 0);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		r.user = &w.bob.q;
		cr_assert_eq(fedrpc_federation_v1_conversations_get_conversations(
		                 fx_chan(w.f, 1, 0, &st), &r, &resp, NULL, &st),
		    FEDRPC_OK);
		cr_assert_eq(resp->n_conversations, 1);
		cr_assert_eq(resp->conversations[0]->n_members, 4);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		ids[0] = &cconv;
		cr_assert_eq(fedrpc_federation_v1_conversations_get_conversations(
		                 fx_chan(w.f, 1, 0, &st), &r, &resp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT);
	}
	{
		Fedrpc__Federation__V1__LeaveConversationRequest r =
		    FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_REQUEST__INIT;
		Fedrpc__Federation__V1__LeaveConversationResponse *resp;

		r.conversation = &w.conv;
		r.leaver       = &w.cat.q;
		cr_assert_eq(fedrpc_federation_v1_conversations_leave_conversation(
		                 fx_chan(w.f, 1, 0, &st), &r, &resp, NULL, &st),
		    FEDRPC_PERMISSION_DENIED, "b.example cannot make cat leave");
		r.leaver = &w.bea.q;
		cr_assert_eq(fedrpc_federation_v1_conversations_leave_conversation(
		                 fx_chan(w.f, 1, 0, &st), &r, &resp, NULL, &st),
		    FEDRPC_OK);
		cr_assert_eq(resp->result,
		    FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_NOT_A_MEMBER);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	fx_free(w.f);
}

Test(adapter_conversations, delete_user_everywhere)
{
	world         w;
	fedrpc_status st = {0};
	Fedrpc__Local__V1__DeleteUserRequest r =
	    FEDRPC__LOCAL__V1__DELETE_USER_REQUEST__INIT;
	Fedrpc__Local__V1__DeleteUserResponse *resp;

	world_new(&w);
	/* bob (b.example) is deleted: a.example's conversation loses him,
	 * ann (connected) hears, his handle is free again. */
	r.self = &w.bob.q;
	cr_assert_eq(fedrpc_local_v1_users_delete_user(
	                 w.f->d[1].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->n_unreachable_domains, 0);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cr_assert_eq(members_seen(w.f, &w.ann, &w.conv), 3);
	FX_EVENTUALLY(members_seen(w.f, &w.cat, &w.conv) == 3, "cat's copy");
	cr_assert_eq(fx_count_events(w.f, &w.ann, w.ann1, EV(USER_DELETED)), 1);
	cr_assert_eq(fx_count_events(w.f, &w.ann, w.ann1, EV(MEMBERS_LEFT)), 1);
	cr_assert_eq(fx_try_register(w.f, 1, "bob", "Bob 2", NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_local_v1_users_delete_user(
	                 w.f->d[1].lch, &r, &resp, NULL, &st),
	    FEDRPC_NOT_FOUND);
	{
		Fedrpc__Federation__V1__GetUsersByIdsRequest g =
		    FEDRPC__FEDERATION__V1__GET_USERS_BY_IDS_REQUEST__INIT;
		Fedrpc__Federation__V1__GetUsersByIdsResponse *gr;
		fx_qid *ids[] = {&w.bob.q};

		g.users   = ids;
		g.n_users = 1;
		cr_assert_eq(fedrpc_federation_v1_users_get_users_by_ids(
		                 fx_chan(w.f, 0, 1, &st), &g, &gr, NULL, &st),
		    FEDRPC_OK);
		cr_assert_eq(gr->n_profiles, 1);
		cr_assert(gr->profiles[0]->deleted);
		cr_assert_str_eq(gr->profiles[0]->handle, "");
		protobuf_c_message_free_unpacked(&gr->base, NULL);
	}

	/* ann, the owner's user, is deleted with c.example down. */
	atomic_store(&w.f->d[2].down, true);
	r.self = &w.ann.q;
	cr_assert_eq(fedrpc_local_v1_users_delete_user(
	                 w.f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->n_unreachable_domains, 1);
	cr_assert_str_eq(resp->unreachable_domains[0], "c.example");
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	atomic_store(&w.f->d[2].down, false);
	cr_assert_eq(members_seen(w.f, &w.amy, &w.conv), 2);
	cr_assert_eq(fx_count_events(w.f, &w.amy, w.amy1, EV(USER_DELETED)), 1);
	/* c.example is back: its copy catches up. */
	FX_EVENTUALLY(members_seen(w.f, &w.cat, &w.conv) == 2,
	    "cat sees %zu members", members_seen(w.f, &w.cat, &w.conv));
	FX_EVENTUALLY(fx_count_events(w.f, &w.cat, w.cat1, EV(USER_DELETED)) == 1,
	    "cat hears ann was deleted");
	fx_free(w.f);
}

static fedrpc_code
rename_conv(fx *f, fx_user *self, fx_qid *conv, const char *name,
    size_t *unreachable, fedrpc_status *st)
{
	Fedrpc__Local__V1__RenameConversationRequest r =
	    FEDRPC__LOCAL__V1__RENAME_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__RenameConversationResponse *resp;
	fedrpc_code                                    rc;

	r.self         = &self->q;
	r.conversation = conv;
	r.name         = (char *) name;
	rc = fedrpc_local_v1_conversations_rename_conversation(
	    f->d[fx_index(f, self->domain)].lch, &r, &resp, NULL, st);
	if (rc == FEDRPC_OK) {
		cr_assert_str_eq(resp->conversation->name, name);
		if (unreachable != NULL)
			*unreachable = resp->n_unreachable_domains;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return rc;
}

/* The name u's backend has for conv ("" when it has no copy). */
static char *
name_seen(fx *f, fx_user *u, fx_qid *conv, char *buf, size_t len)
{
	Fedrpc__Local__V1__ListConversationsResponse *l = list(f, u);

	buf[0] = '\0';
	for (size_t i = 0; i < l->n_conversations; i++)
		if (strcmp(l->conversations[i]->id->id, conv->id) == 0)
			snprintf(buf, len, "%s", l->conversations[i]->name);
	protobuf_c_message_free_unpacked(&l->base, NULL);
	return buf;
}

Test(adapter_conversations, rename_reaches_every_member_domain)
{
	world         w;
	fedrpc_status st = {0};
	size_t        unreachable = 9;
	char          buf[64];

	world_new(&w);
	cr_assert_eq(rename_conv(w.f, &w.amy, &w.conv, "x", NULL, &st),
	    FEDRPC_PERMISSION_DENIED, "only admins rename");
	cr_assert_eq(rename_conv(w.f, &w.bob, &w.conv, "x", NULL, &st),
	    FEDRPC_FAILED_PRECONDITION, "only the owner renames");
	cr_assert_eq(rename_conv(w.f, &w.ann, &w.conv, "squad", &unreachable,
	                 &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(unreachable, 0);
	cr_assert_str_eq(name_seen(w.f, &w.bob, &w.conv, buf, sizeof(buf)),
	    "squad");
	cr_assert_str_eq(name_seen(w.f, &w.cat, &w.conv, buf, sizeof(buf)),
	    "squad");
	cr_assert_eq(fx_count_events(w.f, &w.amy, w.amy1,
	                 EV(CONVERSATION_RENAMED)),
	    1);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1,
	                 EV(CONVERSATION_RENAMED)),
	    1);
	/* The same name again changes nothing. */
	cr_assert_eq(rename_conv(w.f, &w.ann, &w.conv, "squad", NULL, &st),
	    FEDRPC_OK);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1,
	                 EV(CONVERSATION_RENAMED)),
	    1);
	/* c.example down: queued for it, and applied when it is back. */
	atomic_store(&w.f->d[2].down, true);
	cr_assert_eq(rename_conv(w.f, &w.ann, &w.conv, "crew", &unreachable,
	                 &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(unreachable, 1);
	cr_assert_str_eq(name_seen(w.f, &w.cat, &w.conv, buf, sizeof(buf)),
	    "squad");
	atomic_store(&w.f->d[2].down, false);
	FX_EVENTUALLY(strcmp(name_seen(w.f, &w.cat, &w.conv, buf, sizeof(buf)),
	                  "crew") == 0,
	    "cat's copy is named %s", buf);
	cr_assert_eq(rename_conv(w.f, &w.ann, &w.conv, "\x01", NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	fx_free(w.f);
}

Test(adapter_conversations, removed_client_announced_to_co_members)
{
	world         w;
	fedrpc_status st = {0};
	Fedrpc__Local__V1__RemoveClientRequest r =
	    FEDRPC__LOCAL__V1__REMOVE_CLIENT_REQUEST__INIT;
	Fedrpc__Local__V1__RemoveClientResponse *resp;
	uint64_t      bob2;

	world_new(&w);
	bob2 = fx_add_client(w.f, &w.bob, 10, 1);
	atomic_store(&w.f->d[2].down, true);
	r.self   = &w.bob.q;
	r.client = bob2;
	cr_assert_eq(fedrpc_local_v1_users_remove_client(
	                 w.f->d[1].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->n_unreachable_domains, 1);
	cr_assert_str_eq(resp->unreachable_domains[0], "c.example");
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	/* a.example's members hear at once, c.example's when it is back; bea
	 * (bob's domain, not in the conversation) and bob himself do not. */
	cr_assert_eq(fx_count_events(w.f, &w.ann, w.ann1, EV(CLIENT_REMOVED)),
	    1);
	cr_assert_eq(fx_count_events(w.f, &w.amy, w.amy1, EV(CLIENT_REMOVED)),
	    1);
	cr_assert_eq(fx_count_events(w.f, &w.bea, w.bea1, EV(CLIENT_REMOVED)),
	    0);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(CLIENT_REMOVED)),
	    0);
	atomic_store(&w.f->d[2].down, false);
	FX_EVENTUALLY(fx_count_events(w.f, &w.cat, w.cat1, EV(CLIENT_REMOVED)) ==
	        1,
	    "cat never heard");
	{
		Fedrpc__Local__V1__FetchInboxResponse *in =
		    fx_inbox(w.f, &w.ann, w.ann1, 0, 1000);
		bool found = false;

		for (size_t i = 0; i < in->n_events; i++)
			if (in->events[i]->payload_case == EV(CLIENT_REMOVED)) {
				cr_assert_str_eq(
				    in->events[i]->client_removed->user->id,
				    w.bob.id);
				cr_assert_eq(in->events[i]->client_removed->client,
				    bob2);
				found = true;
			}
		protobuf_c_message_free_unpacked(&in->base, NULL);
		cr_assert(found);
	}
	/* Only the user's own backend may say so. */
	{
		Fedrpc__Federation__V1__OnClientRemovedRequest cr =
		    FEDRPC__FEDERATION__V1__ON_CLIENT_REMOVED_REQUEST__INIT;
		Fedrpc__Federation__V1__OnClientRemovedResponse *cresp;

		cr.user   = &w.bob.q;
		cr.client = 5;
		cr_assert_eq(fedrpc_federation_v1_conversations_on_client_removed(
		                 fx_chan(w.f, 2, 0, &st), &cr, &cresp, NULL, &st),
		    FEDRPC_PERMISSION_DENIED);
	}
	fx_free(w.f);
}
