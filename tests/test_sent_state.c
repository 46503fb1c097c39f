/*
 * What became of a message, as its sender sees it: the answer to a send
 * and Delivery/ListSentMessages give each other domain's state (delivered;
 * queued with the failures and the next attempt; moved aside or dropped
 * with the reason; queued at the owner for a conversation owned
 * elsewhere), and it follows what delivery does afterwards.
 */
#include "adapter_fixture.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"

#define STATE(x) FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_##x
#define MSG FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED

typedef Fedrpc__Local__V1__MessageDelivery md_t;

/* ann (a) owns a conversation with bob (b) and cat (c). */
typedef struct world {
	fx      *f;
	fx_user  ann, bob, cat;
	uint64_t ann1, bob1, cat1;
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
	w->ann1 = fx_add_client(w->f, &w->ann, 0, 5);
	w->bob1 = fx_add_client(w->f, &w->bob, 0, 5);
	w->cat1 = fx_add_client(w->f, &w->cat, 0, 5);
	fx_connect(w->f, &w->ann, &w->bob);
	fx_connect(w->f, &w->ann, &w->cat);
	fx_create(w->f, &w->ann, (fx_user *const[]){&w->bob, &w->cat}, 2,
	    "state", w->conv_id);
	w->conv = fx_qid_of("a.example", w->conv_id);
}

/* A message from self to everyone else, with message id mid; the caller
 * frees. Clients of a domain that is down are taken on trust. */
static Fedrpc__Local__V1__SendMessageResponse *
send_as(world *w, fx_user *self, uint64_t client, const char *mid)
{
	Fedrpc__Local__V1__SendMessageRequest r =
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Local__V1__SendMessageResponse *resp;
	Fedrpc__Federation__V1__ClientMismatchStrategy strat =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__INIT;
	Fedrpc__Federation__V1__ClientMismatchStrategy__IgnoreAll ia =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__IGNORE_ALL__INIT;
	Fedrpc__Federation__V1__UserCiphertexts uc[3], *ucp[3];
	Fedrpc__Federation__V1__ClientCiphertext cc[3], *ccp[3];
	fx_user      *all[3]     = {&w->ann, &w->bob, &w->cat};
	uint64_t      clients[3] = {w->ann1, w->bob1, w->cat1};
	size_t        n          = 0;
	fedrpc_status st         = {0};

	for (size_t i = 0; i < 3; i++) {
		if (all[i] == self)
			continue;
		fedrpc__federation__v1__user_ciphertexts__init(&uc[n]);
		fedrpc__federation__v1__client_ciphertext__init(&cc[n]);
		cc[n].client          = clients[i];
		cc[n].ciphertext.data = (uint8_t *) "ct";
		cc[n].ciphertext.len  = 2;
		ccp[n]                = &cc[n];
		uc[n].user            = &all[i]->q;
		uc[n].clients         = &ccp[n];
		uc[n].n_clients       = 1;
		ucp[n]                = &uc[n];
		n++;
	}
	strat.strategy_case =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL;
	strat.ignore_all     = &ia;
	r.self               = &self->q;
	r.sender_client      = client;
	r.conversation       = &w->conv;
	r.recipients         = ucp;
	r.n_recipients       = n;
	r.strategy           = &strat;
	r.message_id.data    = (uint8_t *) mid;
	r.message_id.len     = strlen(mid);
	cr_assert_eq(fedrpc_local_v1_conversations_send_message(
	                 w->f->d[fx_index(w->f, self->domain)].lch, &r, &resp,
	                 NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->result_case,
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT);
	return resp;
}

static const md_t *
for_domain(md_t *const *v, size_t n, const char *domain)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i]->domain, domain) == 0)
			return v[i];
	return NULL;
}

static Fedrpc__Local__V1__ListSentMessagesResponse *
sent_list(world *w, fx_user *self, const char *mid, fx_qid *conv,
    uint64_t before, uint32_t limit)
{
	Fedrpc__Local__V1__ListSentMessagesRequest r =
	    FEDRPC__LOCAL__V1__LIST_SENT_MESSAGES_REQUEST__INIT;
	Fedrpc__Local__V1__ListSentMessagesResponse *resp;
	fedrpc_status st = {0};

	r.self         = &self->q;
	r.conversation = conv;
	r.before       = before;
	r.limit        = limit;
	if (mid != NULL) {
		r.message_id.data = (uint8_t *) mid;
		r.message_id.len  = strlen(mid);
	}
	cr_assert_eq(fedrpc_local_v1_delivery_list_sent_messages(
	                 w->f->d[fx_index(w->f, self->domain)].lch, &r, &resp,
	                 NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	return resp;
}

/* The state for `domain` of self's message mid, as listed now. */
static int
state_of(world *w, fx_user *self, const char *mid, const char *domain)
{
	Fedrpc__Local__V1__ListSentMessagesResponse *l =
	    sent_list(w, self, mid, NULL, 0, 0);
	const md_t *d = l->n_messages == 1
	    ? for_domain(l->messages[0]->deliveries,
	          l->messages[0]->n_deliveries, domain)
	    : NULL;
	int state = d != NULL ? (int) d->state : -1;

	protobuf_c_message_free_unpacked(&l->base, NULL);
	return state;
}

Test(sent_state, queued_then_delivered, .timeout = 60)
{
	world       w;
	const md_t *d;
	Fedrpc__Local__V1__SendMessageResponse      *r;
	Fedrpc__Local__V1__ListSentMessagesResponse *l;

	world_new(&w);
	atomic_store(&w.f->d[2].down, true);
	r = send_as(&w, &w.ann, w.ann1, "m1");
	cr_assert_eq(r->n_deliveries, 2, "one per other domain");
	cr_assert_str_eq(r->deliveries[0]->domain, "b.example", "by domain");
	cr_assert_eq(r->deliveries[0]->state, STATE(DELIVERED));
	d = r->deliveries[1];
	cr_assert_str_eq(d->domain, "c.example");
	cr_assert_eq(d->state, STATE(QUEUED));
	cr_assert_geq(d->failures, 1, "it was tried once");
	cr_assert_gt(d->next_attempt_unix_ms, 0);
	cr_assert(strstr(d->last_error, "UNAVAILABLE") != NULL, "%s",
	    d->last_error);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Listed the same, and delivered once c.example is back. */
	l = sent_list(&w, &w.ann, NULL, NULL, 0, 0);
	cr_assert_eq(l->n_messages, 1);
	cr_assert_eq(l->messages[0]->message_id.len, 2);
	cr_assert_str_eq(l->messages[0]->conversation->id, w.conv_id);
	cr_assert_gt(l->messages[0]->sent_unix_ms, 0);
	cr_assert_eq(for_domain(l->messages[0]->deliveries,
	                 l->messages[0]->n_deliveries, "c.example")
	                 ->state,
	    STATE(QUEUED));
	protobuf_c_message_free_unpacked(&l->base, NULL);
	atomic_store(&w.f->d[2].down, false);
	FX_EVENTUALLY(state_of(&w, &w.ann, "m1", "c.example") ==
	        STATE(DELIVERED),
	    "still %d", state_of(&w, &w.ann, "m1", "c.example"));
	fx_free(w.f);
}

Test(sent_state, refused_and_dropped_say_why, .timeout = 60)
{
	world    w;
	uint64_t seq;
	Fedrpc__Local__V1__SendMessageResponse      *r;
	Fedrpc__Local__V1__ListSentMessagesResponse *l;
	Fedrpc__Local__V1__ListItemsRequest          lr =
	    FEDRPC__LOCAL__V1__LIST_ITEMS_REQUEST__INIT;
	Fedrpc__Local__V1__ListItemsResponse        *items;
	fedrpc_status st = {0};

	world_new(&w);
	atomic_store(&w.f->d[2].refused, true);
	r = send_as(&w, &w.ann, w.ann1, "m1");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	FX_EVENTUALLY(state_of(&w, &w.ann, "m1", "c.example") ==
	        STATE(MOVED_ASIDE),
	    "not moved aside");
	l = sent_list(&w, &w.ann, "m1", NULL, 0, 0);
	{
		const md_t *d = for_domain(l->messages[0]->deliveries,
		    l->messages[0]->n_deliveries, "c.example");

		cr_assert(strstr(d->reason, "PERMISSION_DENIED") != NULL, "%s",
		    d->reason);
		cr_assert_gt(d->since_unix_ms, 0);
	}
	protobuf_c_message_free_unpacked(&l->base, NULL);
	/* An operator drops it: dropped, with the operator's reason. */
	lr.domain = "c.example";
	lr.aside  = true;
	cr_assert_eq(fedrpc_local_v1_delivery_list_items(
	                 w.f->d[0].lch, &lr, &items, NULL, &st),
	    FEDRPC_OK);
	cr_assert_eq(items->n_items, 1);
	cr_assert_eq(items->items[0]->message_id.len, 2);
	cr_assert_eq(memcmp(items->items[0]->message_id.data, "m1", 2), 0);
	seq = items->items[0]->seq;
	protobuf_c_message_free_unpacked(&items->base, NULL);
	{
		Fedrpc__Local__V1__DropItemsRequest dr =
		    FEDRPC__LOCAL__V1__DROP_ITEMS_REQUEST__INIT;
		Fedrpc__Local__V1__DropItemsResponse *resp;

		dr.domain = "c.example";
		dr.seqs   = &seq;
		dr.n_seqs = 1;
		dr.reason = "c.example left the federation";
		cr_assert_eq(fedrpc_local_v1_delivery_drop_items(
		                 w.f->d[0].lch, &dr, &resp, NULL, &st),
		    FEDRPC_OK);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	cr_assert_eq(state_of(&w, &w.ann, "m1", "c.example"), STATE(DROPPED));
	l = sent_list(&w, &w.ann, "m1", NULL, 0, 0);
	cr_assert_str_eq(for_domain(l->messages[0]->deliveries,
	                     l->messages[0]->n_deliveries, "c.example")
	                     ->reason,
	    "c.example left the federation");
	protobuf_c_message_free_unpacked(&l->base, NULL);
	cr_assert_eq(state_of(&w, &w.ann, "m1", "b.example"), STATE(DELIVERED));
	atomic_store(&w.f->d[2].refused, false);
	fx_free(w.f);
}

Test(sent_state, owner_elsewhere_queued_at_owner, .timeout = 60)
{
	world       w;
	const md_t *d;
	Fedrpc__Local__V1__SendMessageResponse *r;

	world_new(&w);
	atomic_store(&w.f->d[2].down, true);
	r = send_as(&w, &w.bob, w.bob1, "b1");
	cr_assert_eq(r->n_deliveries, 2);
	d = for_domain(r->deliveries, r->n_deliveries, "a.example");
	cr_assert_eq(d->state, STATE(DELIVERED), "the owner took it");
	d = for_domain(r->deliveries, r->n_deliveries, "c.example");
	cr_assert_eq(d->state, STATE(QUEUED_AT_OWNER));
	cr_assert_str_eq(d->via, "a.example");
	cr_assert_eq(r->sent->n_queued_domains, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(state_of(&w, &w.bob, "b1", "c.example"),
	    STATE(QUEUED_AT_OWNER));
	atomic_store(&w.f->d[2].down, false);
	fx_free(w.f);
}

/* The owner (a.example) is down when bob sends: the message waits for it
 * on b.example, is reported queued for every domain it has not reached,
 * reaches the owner when it is back and from there everyone, once. */
Test(sent_state, owner_down_queued_for_the_owner, .timeout = 60)
{
	world       w;
	const md_t *d;
	Fedrpc__Local__V1__SendMessageResponse *r;

	world_new(&w);
	atomic_store(&w.f->d[0].down, true);
	r = send_as(&w, &w.bob, w.bob1, "b1");
	cr_assert_not(r->repeated);
	cr_assert_eq(r->sent->n_queued_domains, 2, "the owner's and cat's");
	cr_assert_str_eq(r->sent->queued_domains[0], "a.example");
	cr_assert_str_eq(r->sent->queued_domains[1], "c.example");
	cr_assert_eq(r->n_deliveries, 1);
	d = r->deliveries[0];
	cr_assert_str_eq(d->domain, "a.example");
	cr_assert_eq(d->state, STATE(QUEUED));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Sent again with its id: the same answer, nothing more queued. */
	r = send_as(&w, &w.bob, w.bob1, "b1");
	cr_assert(r->repeated);
	cr_assert_eq(r->sent->n_queued_domains, 2);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(fx_count_events(w.f, &w.ann, w.ann1, MSG), 0);
	atomic_store(&w.f->d[0].down, false);
	FX_EVENTUALLY(state_of(&w, &w.bob, "b1", "a.example") ==
	        STATE(DELIVERED),
	    "still %d", state_of(&w, &w.bob, "b1", "a.example"));
	FX_EVENTUALLY(fx_count_events(w.f, &w.cat, w.cat1, MSG) == 1,
	    "cat has %zu events", fx_count_events(w.f, &w.cat, w.cat1, MSG));
	cr_assert_eq(fx_count_events(w.f, &w.ann, w.ann1, MSG), 1);
	fx_free(w.f);
}

/* The owner refuses a message that waited for it (bob is not a member of
 * ann's other conversation): its state says so, with the reason. */
Test(sent_state, owner_refuses_what_waited_for_it, .timeout = 60)
{
	Fedrpc__Local__V1__SendMessageResponse      *r;
	Fedrpc__Local__V1__ListSentMessagesResponse *l;
	world                                        w;
	const md_t                                  *d;

	world_new(&w);
	fx_create(w.f, &w.ann, (fx_user *const[]){&w.cat}, 1, "without bob",
	    w.conv_id);
	w.conv = fx_qid_of("a.example", w.conv_id);
	atomic_store(&w.f->d[0].down, true);
	r = send_as(&w, &w.bob, w.bob1, "b2");
	cr_assert_eq(r->deliveries[0]->state, STATE(QUEUED));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	atomic_store(&w.f->d[0].down, false);
	FX_EVENTUALLY(state_of(&w, &w.bob, "b2", "a.example") ==
	        STATE(MOVED_ASIDE),
	    "still %d", state_of(&w, &w.bob, "b2", "a.example"));
	l = sent_list(&w, &w.bob, "b2", NULL, 0, 0);
	d = for_domain(l->messages[0]->deliveries, l->messages[0]->n_deliveries,
	    "a.example");
	cr_assert(strstr(d->reason, "not a member") != NULL, "%s", d->reason);
	protobuf_c_message_free_unpacked(&l->base, NULL);
	cr_assert_eq(fx_count_events(w.f, &w.cat, w.cat1, MSG), 0);
	fx_free(w.f);
}

Test(sent_state, listed_newest_first_in_pages, .timeout = 60)
{
	world    w;
	char     mid[8];
	uint64_t before;
	Fedrpc__Local__V1__ListSentMessagesResponse *l;

	world_new(&w);
	for (int i = 0; i < 5; i++) {
		Fedrpc__Local__V1__SendMessageResponse *r;

		snprintf(mid, sizeof(mid), "p%d", i);
		r = send_as(&w, &w.ann, w.ann1, mid);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	l = sent_list(&w, &w.ann, NULL, NULL, 0, 2);
	cr_assert_eq(l->n_messages, 2);
	cr_assert(l->more);
	cr_assert_eq(memcmp(l->messages[0]->message_id.data, "p4", 2), 0);
	cr_assert_eq(memcmp(l->messages[1]->message_id.data, "p3", 2), 0);
	before = l->messages[1]->seq;
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = sent_list(&w, &w.ann, NULL, &w.conv, before, 10);
	cr_assert_eq(l->n_messages, 3);
	cr_assert_not(l->more);
	cr_assert_eq(memcmp(l->messages[2]->message_id.data, "p0", 2), 0);
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = sent_list(&w, &w.bob, NULL, NULL, 0, 0);
	cr_assert_eq(l->n_messages, 0, "bob sent nothing");
	protobuf_c_message_free_unpacked(&l->base, NULL);
	fx_free(w.f);
}
