/*
 * Connections through the SQLite adapter (both sides on one backend, and
 * across backends with Users/SendConnectionAction), the state table itself,
 * the per-client inbox (ids, paging, acknowledgement), and deleted-user
 * notices for connections.
 */
#include "adapter_fixture.h"
#include "backends/reference/relation.h"

#define REL(x) FEDRPC__LOCAL__V1__RELATION__RELATION_##x
#define EV(x) FEDRPC__LOCAL__V1__EVENT__PAYLOAD_##x

Test(adapter_connections, state_table)
{
	/* Rows of docs/federation-api.md, "Connections". */
	static const adp_relation want[5][5] = {
	    {REL(ACCEPTED), REL(BLOCKED), REL(PENDING), REL(ACCEPTED), REL(SENT)},
	    {REL(SENT), REL(BLOCKED), REL(BLOCKED), REL(BLOCKED), REL(BLOCKED)},
	    {REL(ACCEPTED), REL(BLOCKED), REL(PENDING), REL(PENDING),
	        REL(CANCELLED)},
	    {REL(SENT), REL(BLOCKED), REL(CANCELLED), REL(ACCEPTED), REL(SENT)},
	    {REL(SENT), REL(BLOCKED), REL(CANCELLED), REL(PENDING),
	        REL(CANCELLED)},
	};
	static const adp_relation from[5] = {REL(ACCEPTED), REL(BLOCKED),
	    REL(PENDING), REL(SENT), REL(CANCELLED)};

	for (int r = 0; r < 5; r++)
		for (int s = 0; s < 5; s++)
			cr_assert_eq(adp_relation_step(from[r], (adp_conn_step) s),
			    want[r][s], "%s step %d",
			    adp_relation_name(from[r]), s);
	/* No connection reads as cancelled. */
	cr_assert_eq(adp_relation_step(REL(UNSPECIFIED), ADP_STEP_RC),
	    REL(PENDING));
	cr_assert(adp_relation_wants(REL(ACCEPTED)));
	cr_assert(adp_relation_wants(REL(SENT)));
	cr_assert_not(adp_relation_wants(REL(BLOCKED)));
	cr_assert_not(adp_relation_wants(REL(PENDING)));
}

static Fedrpc__Local__V1__ListConnectionsResponse *
list(fx *f, fx_user *u)
{
	Fedrpc__Local__V1__ListConnectionsRequest r =
	    FEDRPC__LOCAL__V1__LIST_CONNECTIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConnectionsResponse *resp;
	fedrpc_status                               st = {0};

	r.self = &u->q;
	cr_assert_eq(fedrpc_local_v1_connections_list_connections(
	                 f->d[fx_index(f, u->domain)].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	return resp;
}

/* The relation u keeps towards other, or UNSPECIFIED. */
static int
relation(fx *f, fx_user *u, fx_user *other)
{
	Fedrpc__Local__V1__ListConnectionsResponse *l = list(f, u);
	int                                         rel = REL(UNSPECIFIED);

	for (size_t i = 0; i < l->n_connections; i++)
		if (strcmp(l->connections[i]->to->id, other->id) == 0 &&
		    strcmp(l->connections[i]->to->domain, other->domain) == 0)
			rel = l->connections[i]->relation;
	protobuf_c_message_free_unpacked(&l->base, NULL);
	return rel;
}

static void
block(fx *f, fx_user *self, fx_user *to)
{
	Fedrpc__Local__V1__BlockRequest r = FEDRPC__LOCAL__V1__BLOCK_REQUEST__INIT;
	Fedrpc__Local__V1__BlockResponse *resp;
	fedrpc_status                     st = {0};

	r.self = &self->q;
	r.to   = &to->q;
	cr_assert_eq(fedrpc_local_v1_connections_block(
	                 f->d[fx_index(f, self->domain)].lch, &r, &resp, NULL,
	                 &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->connection->relation, REL(BLOCKED));
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void
connections_flow(int n_domains)
{
	fx           *f   = fx_new(n_domains);
	int           bd  = n_domains - 1;
	fx_user       ann = fx_register(f, 0, "ann");
	fx_user       bob = fx_register(f, bd, "bob");
	fx_user       cat = fx_register(f, bd, "cat");
	uint64_t      ac  = fx_add_client(f, &ann, 0, 1);
	uint64_t      bc  = fx_add_client(f, &bob, 0, 1);
	fedrpc_status st  = {0};
	Fedrpc__Local__V1__Relation rel;

	/* Accept needs something pending. */
	cr_assert_eq(fx_try_connect(f, &bob, &ann, true, &rel, &st),
	    FEDRPC_FAILED_PRECONDITION);
	cr_assert_eq(fx_try_connect(f, &ann, &ann, false, &rel, &st),
	    FEDRPC_INVALID_ARGUMENT);

	cr_assert_eq(fx_try_connect(f, &ann, &bob, false, &rel, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(rel, REL(SENT));
	cr_assert_eq(relation(f, &bob, &ann), REL(PENDING));
	/* The request shows in bob's inbox as pending, ann's as sent. */
	{
		Fedrpc__Local__V1__FetchInboxResponse *in =
		    fx_inbox(f, &bob, bc, 0, 0);

		cr_assert_eq(in->n_events, 1);
		cr_assert_eq(in->events[0]->payload_case, EV(CONNECTION_UPDATED));
		cr_assert_eq(in->events[0]->connection_updated->connection
		                 ->relation,
		    REL(PENDING));
		cr_assert_str_eq(in->events[0]
		                     ->connection_updated->connection->to->id,
		    ann.id);
		protobuf_c_message_free_unpacked(&in->base, NULL);
	}
	cr_assert_eq(fx_count_events(f, &ann, ac, EV(CONNECTION_UPDATED)), 1);

	/* Connecting again changes nothing. */
	cr_assert_eq(fx_try_connect(f, &ann, &bob, false, &rel, &st),
	    FEDRPC_OK);
	cr_assert_eq(rel, REL(SENT));
	cr_assert_eq(fx_count_events(f, &ann, ac, EV(CONNECTION_UPDATED)), 1);

	cr_assert_eq(fx_try_connect(f, &bob, &ann, true, &rel, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(rel, REL(ACCEPTED));
	cr_assert_eq(relation(f, &ann, &bob), REL(ACCEPTED));
	cr_assert_eq(fx_count_events(f, &ann, ac, EV(CONNECTION_UPDATED)), 2);
	cr_assert_eq(fx_count_events(f, &bob, bc, EV(CONNECTION_UPDATED)), 2);

	/* A blocked target gives no reaction, and is not revealed. */
	block(f, &cat, &ann);
	cr_assert_eq(fx_try_connect(f, &ann, &cat, false, &rel, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(rel, REL(SENT));
	cr_assert_eq(relation(f, &cat, &ann), REL(BLOCKED));
	/* cat unblocks by connecting: both accepted. */
	cr_assert_eq(fx_try_connect(f, &cat, &ann, false, &rel, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(rel, REL(ACCEPTED));
	cr_assert_eq(relation(f, &ann, &cat), REL(ACCEPTED));

	/* Listing is sorted by the other user's (domain, id). */
	{
		Fedrpc__Local__V1__ListConnectionsResponse *l = list(f, &ann);

		cr_assert_eq(l->n_connections, 2);
		cr_assert_lt(strcmp(l->connections[0]->to->id,
		                 l->connections[1]->to->id),
		    0);
		cr_assert_str_eq(l->connections[0]->from->id, ann.id);
		protobuf_c_message_free_unpacked(&l->base, NULL);
	}

	/* An unknown target. */
	{
		fx_user ghost = bob;

		memcpy(ghost.id, "00000000-0000-4000-8000-000000000000", 37);
		fx_user_fix(f, &ghost);
		cr_assert_eq(fx_try_connect(f, &ann, &ghost, false, &rel, &st),
		    FEDRPC_NOT_FOUND, "%s", st.message);
	}
	fx_free(f);
}

Test(adapter_connections, same_backend)
{
	connections_flow(1);
}

Test(adapter_connections, across_backends)
{
	connections_flow(2);
}

/* A request to a domain that is down is queued: our side says SENT at
 * once, the other side hears when its domain is back, and its answer
 * moves our side on. */
Test(adapter_connections, unreachable_is_queued)
{
	fx           *f   = fx_new(2);
	fx_user       ann = fx_register(f, 0, "ann");
	fx_user       bob = fx_register(f, 1, "bob");
	fedrpc_status st  = {0};
	Fedrpc__Local__V1__Relation rel;
	int           tries = 0;

	atomic_store(&f->d[1].down, true);
	cr_assert_eq(fx_try_connect(f, &ann, &bob, false, &rel, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(rel, REL(SENT));
	cr_assert_eq(relation(f, &ann, &bob), REL(SENT));
	atomic_store(&f->d[1].down, false);
	while (relation(f, &bob, &ann) != REL(PENDING)) {
		cr_assert_lt(tries++, 500, "the request never arrived");
		usleep(10000);
	}
	/* bob accepts while a.example is down: ann hears when it is back. */
	atomic_store(&f->d[0].down, true);
	cr_assert_eq(fx_try_connect(f, &bob, &ann, true, &rel, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(rel, REL(ACCEPTED));
	cr_assert_eq(relation(f, &ann, &bob), REL(SENT));
	atomic_store(&f->d[0].down, false);
	for (tries = 0; relation(f, &ann, &bob) != REL(ACCEPTED);) {
		cr_assert_lt(tries++, 500, "the acceptance never arrived");
		usleep(10000);
	}
	fx_free(f);
}

static fedrpc_code
send_action(fx *f, int from, fx_qid *who, fx_qid *to, int action,
    Fedrpc__Federation__V1__SendConnectionActionResponse **resp,
    fedrpc_status *st)
{
	Fedrpc__Federation__V1__SendConnectionActionRequest r =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;
	fedrpc_channel *ch = fx_chan(f, from, 0, st);

	r.from   = who;
	r.to     = to;
	r.action = action;
	return fedrpc_federation_v1_users_send_connection_action(
	    ch, &r, resp, NULL, st);
}

Test(adapter_connections, federation_send_connection_action)
{
	fx           *f   = fx_new(2);
	fx_user       ann = fx_register(f, 0, "ann");
	fx_user       bob = fx_register(f, 1, "bob");
	fx_qid        spoof = fx_qid_of("c.example", bob.id);
	fx_qid        relay = fx_qid_of("b.example", ann.id);
	fx_qid        nouser = fx_qid_of("a.example",
	           "00000000-0000-4000-8000-000000000000");
	fedrpc_status st = {0};
	Fedrpc__Federation__V1__SendConnectionActionResponse *resp;
	int connect = FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT;
	int rescind = FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_RESCIND;

	cr_assert_eq(send_action(f, 1, &spoof, &ann.q, connect, &resp, &st),
	    FEDRPC_PERMISSION_DENIED, "from must be of the origin");
	cr_assert_eq(send_action(f, 1, &bob.q, &relay, connect, &resp, &st),
	    FEDRPC_INVALID_ARGUMENT, "to must be ours");
	cr_assert_eq(send_action(f, 1, &bob.q, &ann.q, 0, &resp, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_eq(send_action(f, 1, &bob.q, &nouser, connect, &resp, &st),
	    FEDRPC_OK);
	cr_assert_eq(resp->result,
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_USER_NOT_FOUND);
	protobuf_c_message_free_unpacked(&resp->base, NULL);

	cr_assert_eq(send_action(f, 1, &bob.q, &ann.q, connect, &resp, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->result,
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_OK);
	cr_assert_eq(resp->reaction, 0, "pending: no reaction");
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cr_assert_eq(relation(f, &ann, &bob), REL(PENDING));
	cr_assert_eq(send_action(f, 1, &bob.q, &ann.q, rescind, &resp, &st),
	    FEDRPC_OK);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cr_assert_eq(relation(f, &ann, &bob), REL(CANCELLED));
	fx_free(f);
}

Test(adapter_connections, user_deleted_connections_notice)
{
	fx           *f   = fx_new(2);
	fx_user       ann = fx_register(f, 0, "ann");
	fx_user       amy = fx_register(f, 0, "amy");
	fx_user       bob = fx_register(f, 1, "bob");
	uint64_t      ac  = fx_add_client(f, &ann, 0, 1);
	uint64_t      mc  = fx_add_client(f, &amy, 0, 1);
	fedrpc_status st  = {0};
	Fedrpc__Federation__V1__OnUserDeletedConnectionsRequest r =
	    FEDRPC__FEDERATION__V1__ON_USER_DELETED_CONNECTIONS_REQUEST__INIT;
	Fedrpc__Federation__V1__OnUserDeletedConnectionsResponse *resp;
	fx_qid *conns[] = {&ann.q, &amy.q};
	Fedrpc__Local__V1__Relation rel;

	fx_connect(f, &bob, &ann);
	cr_assert_eq(fx_try_connect(f, &bob, &amy, false, &rel, &st),
	    FEDRPC_OK);
	r.user          = &bob.q;
	r.connections   = conns;
	r.n_connections = 0;
	cr_assert_eq(fedrpc_federation_v1_users_on_user_deleted_connections(
	                 fx_chan(f, 1, 0, &st), &r, &resp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT, "1 to 1000 entries");
	r.n_connections = 2;
	r.user          = &ann.q;
	cr_assert_eq(fedrpc_federation_v1_users_on_user_deleted_connections(
	                 fx_chan(f, 1, 0, &st), &r, &resp, NULL, &st),
	    FEDRPC_PERMISSION_DENIED);
	r.user = &bob.q;
	cr_assert_eq(fedrpc_federation_v1_users_on_user_deleted_connections(
	                 fx_chan(f, 1, 0, &st), &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	/* Only the accepted side hears of it; both sides are gone. */
	cr_assert_eq(fx_count_events(f, &ann, ac, EV(USER_DELETED)), 1);
	cr_assert_eq(fx_count_events(f, &amy, mc, EV(USER_DELETED)), 0);
	cr_assert_eq(relation(f, &ann, &bob), REL(UNSPECIFIED));
	cr_assert_eq(relation(f, &amy, &bob), REL(UNSPECIFIED));
	fx_free(f);
}

Test(adapter_connections, inbox_ids_paging_ack)
{
	fx           *f   = fx_new(1);
	fx_user       ann = fx_register(f, 0, "ann");
	fx_user       others[5];
	uint64_t      c1  = fx_add_client(f, &ann, 0, 1);
	uint64_t      c2;
	fedrpc_status st  = {0};
	Fedrpc__Local__V1__FetchInboxResponse *in;
	Fedrpc__Local__V1__AckInboxRequest     ar =
	    FEDRPC__LOCAL__V1__ACK_INBOX_REQUEST__INIT;
	Fedrpc__Local__V1__AckInboxResponse *aresp;
	uint64_t                             last;
	char                                 h[16];

	for (int i = 0; i < 5; i++) {
		Fedrpc__Local__V1__Relation rel;

		snprintf(h, sizeof(h), "other%d", i);
		others[i] = fx_register(f, 0, h);
		cr_assert_eq(fx_try_connect(f, &others[i], &ann, false, &rel,
		                 &st),
		    FEDRPC_OK);
	}
	/* A client added later starts with an empty inbox. */
	c2 = fx_add_client(f, &ann, 0, 1);
	in = fx_inbox(f, &ann, c2, 0, 0);
	cr_assert_eq(in->n_events, 0);
	protobuf_c_message_free_unpacked(&in->base, NULL);

	in = fx_inbox(f, &ann, c1, 0, 2);
	cr_assert_eq(in->n_events, 2);
	cr_assert(in->has_more);
	cr_assert_gt(in->events[0]->id, 0);
	cr_assert_gt(in->events[1]->id, in->events[0]->id);
	cr_assert_gt(in->events[0]->time_unix_ms, 0);
	last = in->events[1]->id;
	protobuf_c_message_free_unpacked(&in->base, NULL);
	in = fx_inbox(f, &ann, c1, last, 10);
	cr_assert_eq(in->n_events, 3);
	cr_assert_not(in->has_more);
	protobuf_c_message_free_unpacked(&in->base, NULL);

	ar.self   = &ann.q;
	ar.client = c1;
	ar.up_to  = last;
	cr_assert_eq(fedrpc_local_v1_inbox_ack_inbox(
	                 f->d[0].lch, &ar, &aresp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(aresp->deleted, 2);
	protobuf_c_message_free_unpacked(&aresp->base, NULL);
	in = fx_inbox(f, &ann, c1, 0, 0);
	cr_assert_eq(in->n_events, 3, "acknowledged events are gone");
	cr_assert_gt(in->events[0]->id, last);
	protobuf_c_message_free_unpacked(&in->base, NULL);

	/* Acknowledge all, then a new event: ids are never reused. */
	ar.up_to = UINT64_MAX;
	cr_assert_eq(fedrpc_local_v1_inbox_ack_inbox(
	                 f->d[0].lch, &ar, &aresp, NULL, &st),
	    FEDRPC_OK);
	cr_assert_eq(aresp->deleted, 3);
	protobuf_c_message_free_unpacked(&aresp->base, NULL);
	block(f, &ann, &others[0]);
	in = fx_inbox(f, &ann, c1, 0, 0);
	cr_assert_eq(in->n_events, 1);
	cr_assert_eq(in->events[0]->id, 6);
	protobuf_c_message_free_unpacked(&in->base, NULL);

	/* Another user's client, or an unknown one. */
	ar.self   = &others[1].q;
	ar.client = c1;
	cr_assert_eq(fedrpc_local_v1_inbox_ack_inbox(
	                 f->d[0].lch, &ar, &aresp, NULL, &st),
	    FEDRPC_NOT_FOUND);
	fx_free(f);
}
