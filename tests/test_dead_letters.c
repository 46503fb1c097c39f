/*
 * Refusals do not block a queue, and do not leave a copy wrong for ever:
 * a poison item is moved aside while later items still arrive, and the
 * operator API (fedrpc.local.v1.Delivery) lists queues and items, puts
 * items back and drops them; conversation notices refused by a domain
 * (taken off the allow list, here) are repaired by the next notice (it
 * carries the conversation and its version), by an operator's retry, or
 * by a resync, and a domain whose last members left while it refused
 * drops its copy once it takes notices again.
 */
#include "adapter_fixture.h"
#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"

#define EV(x) FEDRPC__LOCAL__V1__EVENT__PAYLOAD_##x

typedef Fedrpc__Federation__V1__Conversation conv_t;

/* ann (a) owns a conversation with bob (b), cat and cid (c). */
typedef struct world {
	fx      *f;
	fx_user  ann, bob, cat, cid;
	uint64_t ann1, bob1, cat1, cid1;
	fx_qid   conv;
	char     conv_id[37];
} world;

static void
world_new(world *w)
{
	w->f    = fx_new(3);
	w->ann  = fx_register(w->f, 0, "ann");
	w->bob  = fx_register(w->f, 1, "bob");
	w->cat  = fx_register(w->f, 2, "cat");
	w->cid  = fx_register(w->f, 2, "cid");
	w->ann1 = fx_add_client(w->f, &w->ann, 0, 5);
	w->bob1 = fx_add_client(w->f, &w->bob, 0, 5);
	w->cat1 = fx_add_client(w->f, &w->cat, 0, 5);
	w->cid1 = fx_add_client(w->f, &w->cid, 0, 5);
	fx_connect(w->f, &w->ann, &w->bob);
	fx_connect(w->f, &w->ann, &w->cat);
	fx_connect(w->f, &w->ann, &w->cid);
	fx_create(w->f, &w->ann, (fx_user *const[]){&w->bob, &w->cat, &w->cid}, 3,
	    "dl", w->conv_id);
	w->conv = fx_qid_of("a.example", w->conv_id);
}

/* u's backend's copy of the conversation, "name:m1,m2,..." by member id
 * ("-" when it has none); the caller frees. */
static char *
view(world *w, fx_user *u)
{
	Fedrpc__Local__V1__ListConversationsRequest r =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConversationsResponse *l;
	fedrpc_status st = {0};
	char          buf[1024] = "-";
	size_t        k;

	r.self = &u->q;
	cr_assert_eq(fedrpc_local_v1_conversations_list_conversations(
	                 w->f->d[fx_index(w->f, u->domain)].lch, &r, &l, NULL,
	                 &st),
	    FEDRPC_OK, "%s", st.message);
	for (size_t i = 0; i < l->n_conversations; i++) {
		conv_t *c = l->conversations[i];

		if (strcmp(c->id->id, w->conv_id) != 0)
			continue;
		k = (size_t) snprintf(buf, sizeof(buf), "%s:", c->name);
		for (size_t j = 0; j < c->n_members; j++)
			k += (size_t) snprintf(buf + k, sizeof(buf) - k, "%s%.8s",
			    j ? "," : "", c->members[j]->id->id);
	}
	protobuf_c_message_free_unpacked(&l->base, NULL);
	return strdup(buf);
}

/* Whether u's backend sees what the owner sees (ann's view). */
static bool
same_view(world *w, fx_user *u)
{
	char *mine = view(w, &w->ann), *theirs = view(w, u);
	bool  same = strcmp(mine, theirs) == 0;

	free(mine);
	free(theirs);
	return same;
}

static fedrpc_code
change(world *w, bool add, fx_user *who, fedrpc_status *st)
{
	fedrpc_code rc;
	fx_qid     *q = &who->q;

	if (add) {
		Fedrpc__Local__V1__AddMembersRequest r =
		    FEDRPC__LOCAL__V1__ADD_MEMBERS_REQUEST__INIT;
		Fedrpc__Local__V1__AddMembersResponse *resp;

		r.self         = &w->ann.q;
		r.conversation = &w->conv;
		r.members      = &q;
		r.n_members    = 1;
		rc = fedrpc_local_v1_conversations_add_members(
		    w->f->d[0].lch, &r, &resp, NULL, st);
		if (rc == FEDRPC_OK)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
	} else {
		Fedrpc__Local__V1__RemoveMembersRequest r =
		    FEDRPC__LOCAL__V1__REMOVE_MEMBERS_REQUEST__INIT;
		Fedrpc__Local__V1__RemoveMembersResponse *resp;

		r.self         = &w->ann.q;
		r.conversation = &w->conv;
		r.members      = &q;
		r.n_members    = 1;
		rc = fedrpc_local_v1_conversations_remove_members(
		    w->f->d[0].lch, &r, &resp, NULL, st);
		if (rc == FEDRPC_OK)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return rc;
}

static void
rename_to(world *w, const char *name)
{
	Fedrpc__Local__V1__RenameConversationRequest r =
	    FEDRPC__LOCAL__V1__RENAME_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__RenameConversationResponse *resp;
	fedrpc_status st = {0};

	r.self         = &w->ann.q;
	r.conversation = &w->conv;
	r.name         = (char *) name;
	cr_assert_eq(fedrpc_local_v1_conversations_rename_conversation(
	                 w->f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static bool
has_no_copy(world *w, fx_user *u)
{
	char *v    = view(w, u);
	bool  none = strcmp(v, "-") == 0;

	free(v);
	return none;
}

/* ---- the operator API ---- */

static Fedrpc__Local__V1__Queue *
queue_of(world *w, const char *domain, Fedrpc__Local__V1__ListQueuesResponse **keep)
{
	Fedrpc__Local__V1__ListQueuesRequest r =
	    FEDRPC__LOCAL__V1__LIST_QUEUES_REQUEST__INIT;
	fedrpc_status st = {0};

	cr_assert_eq(fedrpc_local_v1_delivery_list_queues(
	                 w->f->d[0].lch, &r, keep, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	for (size_t i = 0; i < (*keep)->n_queues; i++)
		if (strcmp((*keep)->queues[i]->domain, domain) == 0)
			return (*keep)->queues[i];
	return NULL;
}

static size_t
aside_count(world *w, const char *domain)
{
	Fedrpc__Local__V1__ListQueuesResponse *l;
	Fedrpc__Local__V1__Queue *q = queue_of(w, domain, &l);
	size_t                    n = q != NULL ? q->aside : 0;

	protobuf_c_message_free_unpacked(&l->base, NULL);
	return n;
}

static size_t
pending_count(world *w, const char *domain)
{
	Fedrpc__Local__V1__ListQueuesResponse *l;
	Fedrpc__Local__V1__Queue *q = queue_of(w, domain, &l);
	size_t                    n = q != NULL ? q->pending : 0;

	protobuf_c_message_free_unpacked(&l->base, NULL);
	return n;
}

static Fedrpc__Local__V1__ListItemsResponse *
items(world *w, const char *domain, bool aside)
{
	Fedrpc__Local__V1__ListItemsRequest r =
	    FEDRPC__LOCAL__V1__LIST_ITEMS_REQUEST__INIT;
	Fedrpc__Local__V1__ListItemsResponse *resp;
	fedrpc_status st = {0};

	r.domain = (char *) domain;
	r.aside  = aside;
	cr_assert_eq(fedrpc_local_v1_delivery_list_items(
	                 w->f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	return resp;
}

static uint64_t
retry_all(world *w, const char *domain)
{
	Fedrpc__Local__V1__RetryItemsRequest r =
	    FEDRPC__LOCAL__V1__RETRY_ITEMS_REQUEST__INIT;
	Fedrpc__Local__V1__RetryItemsResponse *resp;
	fedrpc_status st = {0};
	uint64_t      n;

	r.domain = (char *) domain;
	cr_assert_eq(fedrpc_local_v1_delivery_retry_items(
	                 w->f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	n = resp->retried;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return n;
}

/* An item b.example refuses for good: a connection action it does not
 * know (INVALID_ARGUMENT), appended straight into a.example's outbox. */
typedef struct poison_tx {
	fedrpc_ctx *ctx;
	fx_qid      from, to;
} poison_tx;

static fedrpc_code
tx_poison(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	poison_tx *a = arg;
	Fedrpc__Federation__V1__SendConnectionActionRequest r =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;

	r.from   = &a->from;
	r.to     = &a->to;
	r.action = 77;
	return ref_outbox_put(a->ctx, tx, "b.example",
	    fedrpc_federation_v1_users_send_connection_action_method, &r.base,
	    NULL, NULL, st);
}

static void
send_text(world *w, const char *text)
{
	Fedrpc__Local__V1__SendMessageRequest r =
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Local__V1__SendMessageResponse *resp;
	Fedrpc__Federation__V1__ClientMismatchStrategy strat =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__INIT;
	Fedrpc__Federation__V1__ClientMismatchStrategy__IgnoreAll ia =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__IGNORE_ALL__INIT;
	Fedrpc__Federation__V1__UserCiphertexts uc =
	    FEDRPC__FEDERATION__V1__USER_CIPHERTEXTS__INIT, *ucp = &uc;
	Fedrpc__Federation__V1__ClientCiphertext cc =
	    FEDRPC__FEDERATION__V1__CLIENT_CIPHERTEXT__INIT, *ccp = &cc;
	fedrpc_status st = {0};

	strat.strategy_case =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL;
	strat.ignore_all   = &ia;
	cc.client          = w->bob1;
	cc.ciphertext.data = (uint8_t *) text;
	cc.ciphertext.len  = strlen(text);
	uc.user            = &w->bob.q;
	uc.clients         = &ccp;
	uc.n_clients       = 1;
	r.self             = &w->ann.q;
	r.sender_client    = w->ann1;
	r.conversation     = &w->conv;
	r.recipients       = &ucp;
	r.n_recipients     = 1;
	r.strategy         = &strat;
	cr_assert_eq(fedrpc_local_v1_conversations_send_message(
	                 w->f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

Test(dead_letters, poison_moved_aside_later_items_arrive, .timeout = 60)
{
	world         w;
	ref_svc      *a;
	poison_tx     p;
	fedrpc_status st = {0};
	Fedrpc__Local__V1__ListItemsResponse *l;

	world_new(&w);
	a = w.f->d[0].ref;
	/* b.example is down: the poison and two messages queue behind it. */
	atomic_store(&w.f->d[1].down, true);
	p.ctx  = fedrpc_ctx_new();
	p.from = w.ann.q;
	p.to   = w.bob.q;
	cr_assert_eq(fedrpc_store_run(a->store, fedrpc_ctx_allocator(p.ctx),
	                 FEDRPC_STORE_READ_WRITE, tx_poison, &p, &st),
	    FEDRPC_OK, "%s", st.message);
	fedrpc_ctx_free(p.ctx);
	send_text(&w, "one");
	send_text(&w, "two");
	cr_assert_eq(pending_count(&w, "b.example"), 3, "%zu pending",
	    pending_count(&w, "b.example"));
	atomic_store(&w.f->d[1].down, false);
	FX_EVENTUALLY(fx_count_events(w.f, &w.bob, w.bob1,
	                  EV(MESSAGE_RECEIVED)) == 2,
	    "the messages behind the poison never arrived");
	/* Removed once their answers are written down. */
	FX_EVENTUALLY(pending_count(&w, "b.example") == 0, "still pending");
	cr_assert_eq(aside_count(&w, "b.example"), 1);
	l = items(&w, "b.example", true);
	cr_assert_eq(l->n_items, 1);
	cr_assert_str_eq(l->items[0]->method,
	    "fedrpc.federation.v1.Users/SendConnectionAction");
	cr_assert_eq(l->items[0]->state,
	    FEDRPC__LOCAL__V1__ITEM_STATE__ITEM_STATE_ASIDE);
	cr_assert(strstr(l->items[0]->reason, "INVALID_ARGUMENT") != NULL,
	    "%s", l->items[0]->reason);
	cr_assert_eq(l->items[0]->request_id.len, 16);
	cr_assert_gt(l->items[0]->moved_unix_ms, 0);

	/* Put back, it is refused again; dropped, it is gone. */
	cr_assert_eq(retry_all(&w, "b.example"), 1);
	FX_EVENTUALLY(aside_count(&w, "b.example") == 1 &&
	        pending_count(&w, "b.example") == 0,
	    "the retried poison was not refused again");
	{
		Fedrpc__Local__V1__DropItemsRequest r =
		    FEDRPC__LOCAL__V1__DROP_ITEMS_REQUEST__INIT;
		Fedrpc__Local__V1__DropItemsResponse *resp;
		uint64_t seq = l->items[0]->seq;

		r.domain = "b.example";
		r.seqs   = &seq;
		r.n_seqs = 1;
		r.reason = "poison";
		cr_assert_eq(fedrpc_local_v1_delivery_drop_items(
		                 w.f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
		cr_assert_eq(resp->dropped, 1);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		cr_assert_eq(fedrpc_local_v1_delivery_drop_items(
		                 w.f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_OK);
		cr_assert_eq(resp->dropped, 0, "dropped once");
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		r.n_seqs = 0;
		cr_assert_eq(fedrpc_local_v1_delivery_drop_items(
		                 w.f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT);
	}
	protobuf_c_message_free_unpacked(&l->base, NULL);
	cr_assert_eq(aside_count(&w, "b.example"), 0);
	cr_assert_eq(fx_count_events(w.f, &w.bob, w.bob1, EV(MESSAGE_RECEIVED)),
	    2, "nothing twice");
	{
		Fedrpc__Local__V1__ListItemsRequest r =
		    FEDRPC__LOCAL__V1__LIST_ITEMS_REQUEST__INIT;
		Fedrpc__Local__V1__ListItemsResponse *resp;

		r.domain = "Not A Domain";
		cr_assert_eq(fedrpc_local_v1_delivery_list_items(
		                 w.f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT);
	}
	fx_free(w.f);
}

Test(dead_letters, next_notice_repairs_a_refused_one, .timeout = 60)
{
	world         w;
	fedrpc_status st = {0};

	world_new(&w);
	/* c.example is taken off a.example's allow list: cid's removal is
	 * refused (moved aside, and so is the resync behind it). */
	atomic_store(&w.f->d[2].refused, true);
	cr_assert_eq(change(&w, false, &w.cid, &st), FEDRPC_OK, "%s",
	    st.message);
	FX_EVENTUALLY(aside_count(&w, "c.example") == 2,
	    "the removal and its resync are not aside");
	cr_assert_not(same_view(&w, &w.cat), "c.example missed the removal");
	/* Back on the list: the next change (a rename) carries the whole
	 * conversation, and c.example's copy is right again. */
	atomic_store(&w.f->d[2].refused, false);
	rename_to(&w, "renamed");
	FX_EVENTUALLY(same_view(&w, &w.cat), "c.example's copy not repaired");
	FX_EVENTUALLY(fx_count_events(w.f, &w.cid, w.cid1, EV(MEMBERS_LEFT)) == 1,
	    "cid never heard he was removed");
	cr_assert_eq(fx_count_events(w.f, &w.cat, w.cat1,
	                 EV(CONVERSATION_RENAMED)),
	    1);
	cr_assert(same_view(&w, &w.bob));
	/* The old items put back now are older than the copy: they change
	 * nothing. */
	cr_assert_eq(retry_all(&w, "c.example"), 2);
	FX_EVENTUALLY(pending_count(&w, "c.example") == 0, "retries left");
	cr_assert(same_view(&w, &w.cat));
	cr_assert_eq(fx_count_events(w.f, &w.cid, w.cid1, EV(MEMBERS_LEFT)), 1);
	fx_free(w.f);
}

Test(dead_letters, retry_or_resync_repairs, .timeout = 60)
{
	world         w;
	fedrpc_status st = {0};
	fx_user       cal;
	uint64_t      cal1;

	world_new(&w);
	cal  = fx_register(w.f, 2, "cal");
	cal1 = fx_add_client(w.f, &cal, 0, 1);
	fx_connect(w.f, &w.ann, &cal);
	atomic_store(&w.f->d[2].refused, true);
	cr_assert_eq(change(&w, true, &cal, &st), FEDRPC_OK, "%s", st.message);
	FX_EVENTUALLY(aside_count(&w, "c.example") == 2, "not moved aside");
	atomic_store(&w.f->d[2].refused, false);
	/* An operator puts them back: the add, then the resync. */
	cr_assert_eq(retry_all(&w, "c.example"), 2);
	FX_EVENTUALLY(same_view(&w, &w.cat), "not repaired by the retry");
	FX_EVENTUALLY(fx_count_events(w.f, &cal, cal1,
	                  EV(CONVERSATION_CREATED)) == 1,
	    "cal never heard he was added");
	FX_EVENTUALLY(pending_count(&w, "c.example") == 0 &&
	        aside_count(&w, "c.example") == 0,
	    "the retried items are not all delivered");
	/* Refused again, then a resync asked for by an operator. */
	atomic_store(&w.f->d[2].refused, true);
	cr_assert_eq(change(&w, false, &cal, &st), FEDRPC_OK);
	FX_EVENTUALLY(aside_count(&w, "c.example") == 2, "not moved aside");
	atomic_store(&w.f->d[2].refused, false);
	{
		Fedrpc__Local__V1__ResyncConversationRequest r =
		    FEDRPC__LOCAL__V1__RESYNC_CONVERSATION_REQUEST__INIT;
		Fedrpc__Local__V1__ResyncConversationResponse *resp;
		fx_qid nope = fx_qid_of("a.example",
		    "00000000-0000-4000-8000-000000000000");

		r.conversation = &w.conv;
		r.domain       = "c.example";
		cr_assert_eq(fedrpc_local_v1_delivery_resync_conversation(
		                 w.f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
		cr_assert_eq(resp->n_domains, 1);
		cr_assert_str_eq(resp->domains[0], "c.example");
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		r.domain = "";
		cr_assert_eq(fedrpc_local_v1_delivery_resync_conversation(
		                 w.f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
		cr_assert_eq(resp->n_domains, 2, "b.example and c.example");
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		r.conversation = &nope;
		cr_assert_eq(fedrpc_local_v1_delivery_resync_conversation(
		                 w.f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_NOT_FOUND);
	}
	FX_EVENTUALLY(same_view(&w, &w.cat), "not repaired by the resync");
	FX_EVENTUALLY(fx_count_events(w.f, &cal, cal1, EV(MEMBERS_LEFT)) == 1,
	    "cal never heard he was removed");
	cr_assert(same_view(&w, &w.bob));
	fx_free(w.f);
}

Test(dead_letters, departed_domain_drops_its_copy, .timeout = 60)
{
	world         w;
	fedrpc_status st = {0};

	world_new(&w);
	atomic_store(&w.f->d[2].refused, true);
	cr_assert_eq(change(&w, false, &w.cat, &st), FEDRPC_OK, "%s",
	    st.message);
	cr_assert_eq(change(&w, false, &w.cid, &st), FEDRPC_OK, "%s",
	    st.message);
	FX_EVENTUALLY(aside_count(&w, "c.example") == 4, "not moved aside");
	atomic_store(&w.f->d[2].refused, false);
	cr_assert_eq(retry_all(&w, "c.example"), 4);
	FX_EVENTUALLY(has_no_copy(&w, &w.cat) && has_no_copy(&w, &w.cid),
	    "c.example keeps a copy");
	FX_EVENTUALLY(pending_count(&w, "c.example") == 0, "still pending");
	fx_free(w.f);
}
