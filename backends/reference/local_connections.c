/*
 * The local Connections service on SQLite: connect, accept and block,
 * following the state table of docs/federation-api.md. For a remote user the
 * remote step travels as Users/SendConnectionAction, and our side is stored
 * only once the other backend applied it.
 */
#include <string.h>

#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/connections.fedrpc.h"
#include "backends/sqlite/sq.h"

/* The checks every step starts with. */
static fedrpc_code
check_pair(const adp_qid *self, const adp_qid *to, fedrpc_status *st)
{
	if (adp_check_qid(to, "to", st) != FEDRPC_OK)
		return st->code;
	if (self != NULL && adp_qid_eq(self, to))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "to: a user cannot connect to themself");
	return FEDRPC_OK;
}

/* Both sides on this backend, in one transaction. */
static fedrpc_code
connect_local(sq_adapter *a, fedrpc_ctx *ctx, const adp_qid *self,
    const adp_qid *to, bool accept, Fedrpc__Local__V1__Connection **out,
    fedrpc_status *st)
{
	sq_conn     *c;
	sq_user      u;
	adp_relation mine, theirs;
	int          found;
	int64_t      now = adp_now_ms();
	fedrpc_code  rc;

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, self, "self", st)) != FEDRPC_OK)
		goto out;
	if ((found = sq_user_get(c, ctx, to->id, &u, st)) < 0) {
		rc = st->code;
		goto out;
	}
	if (found == 0 || u.deleted) {
		rc = fedrpc_status_set(st, FEDRPC_NOT_FOUND, "to: no user %s@%s",
		    to->id, to->domain);
		goto out;
	}
	if ((rc = sq_conn_get(c, self->id, to, &mine, st)) != FEDRPC_OK ||
	    (rc = sq_conn_get(c, to->id, self, &theirs, st)) != FEDRPC_OK)
		goto out;
	if (accept && mine != ADP_REL_PENDING) {
		rc = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "nothing pending from %s@%s (the connection is %s)", to->id,
		    to->domain, adp_relation_name(mine));
		goto out;
	}
	mine   = adp_relation_step(mine, ADP_STEP_LC);
	theirs = adp_relation_step(theirs, ADP_STEP_RC);
	if (adp_relation_wants(theirs))
		mine = adp_relation_step(mine, ADP_STEP_RC);
	if ((rc = sq_conn_set(c, ctx, a->domain, to->id, self, theirs, now,
	         NULL, st)) != FEDRPC_OK)
		goto out;
	rc = sq_conn_set(c, ctx, a->domain, self->id, to, mine, now, out, st);
out:
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
connect_remote(sq_adapter *a, fedrpc_ctx *ctx, const adp_qid *self,
    const adp_qid *to, bool accept, Fedrpc__Local__V1__Connection **out,
    fedrpc_status *st)
{
	Fedrpc__Federation__V1__SendConnectionActionRequest r =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;
	Fedrpc__Federation__V1__SendConnectionActionResponse *res = NULL;
	fedrpc_channel                                       *ch;
	fedrpc_call_opts                                      opts;
	sq_conn                                              *c;
	adp_relation                                          mine;
	bool                                                  react;
	int                                                   result;
	fedrpc_code                                           rc;

	/* Check first, without holding the database during the call. */
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, self, "self", st)) == FEDRPC_OK &&
	    (rc = sq_conn_get(c, self->id, to, &mine, st)) == FEDRPC_OK &&
	    accept && mine != ADP_REL_PENDING)
		rc = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "nothing pending from %s@%s (the connection is %s)", to->id,
		    to->domain, adp_relation_name(mine));
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;

	if ((ch = sq_remote(a, to->domain, st)) == NULL)
		return sq_remote_failed(to->domain, st);
	sq_call_opts(a, &opts);
	r.from   = (adp_qid *) self;
	r.to     = (adp_qid *) to;
	r.action = FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT;
	if (fedrpc_federation_v1_users_send_connection_action(
	        ch, &r, &res, &opts, st) != FEDRPC_OK)
		return sq_remote_failed(to->domain, st);
	result = res->result;
	react  = res->reaction ==
	    FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT;
	protobuf_c_message_free_unpacked(&res->base, NULL);
	if (result ==
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_USER_NOT_FOUND)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "to: no user %s@%s", to->id, to->domain);
	if (result !=
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_OK)
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "%s answered the connection request with result %d",
		    to->domain, result);

	/* The step is applied to the side as it is now. */
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_conn_get(c, self->id, to, &mine, st)) == FEDRPC_OK) {
		mine = adp_relation_step(mine, ADP_STEP_LC);
		if (react)
			mine = adp_relation_step(mine, ADP_STEP_RC);
		rc = sq_conn_set(c, ctx, a->domain, self->id, to, mine,
		    adp_now_ms(), out, st);
	}
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
do_connect(sq_adapter *a, fedrpc_ctx *ctx, const adp_qid *self,
    const adp_qid *to, bool accept, Fedrpc__Local__V1__Connection **out,
    fedrpc_status *st)
{
	if (adp_check_ours(self, a->domain, "self", st) != FEDRPC_OK ||
	    check_pair(self, to, st) != FEDRPC_OK)
		return st->code;
	if (strcmp(to->domain, a->domain) == 0)
		return connect_local(a, ctx, self, to, accept, out, st);
	return connect_remote(a, ctx, self, to, accept, out, st);
}

static fedrpc_code
h_connect(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ConnectRequest *req,
    Fedrpc__Local__V1__ConnectResponse *resp, fedrpc_status *st)
{
	return do_connect(
	    impl, ctx, req->self, req->to, false, &resp->connection, st);
}

static fedrpc_code
h_accept(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AcceptRequest *req,
    Fedrpc__Local__V1__AcceptResponse *resp, fedrpc_status *st)
{
	return do_connect(
	    impl, ctx, req->self, req->to, true, &resp->connection, st);
}

static fedrpc_code
h_block(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__BlockRequest *req,
    Fedrpc__Local__V1__BlockResponse *resp, fedrpc_status *st)
{
	sq_adapter  *a = impl;
	sq_conn     *c;
	adp_relation rel;
	fedrpc_code  rc;

	if (adp_check_ours(req->self, a->domain, "self", st) != FEDRPC_OK ||
	    check_pair(req->self, req->to, st) != FEDRPC_OK)
		return st->code;
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) ==
	        FEDRPC_OK &&
	    (rc = sq_conn_get(c, req->self->id, req->to, &rel, st)) ==
	        FEDRPC_OK)
		rc = sq_conn_set(c, ctx, a->domain, req->self->id, req->to,
		    adp_relation_step(rel, ADP_STEP_LB), adp_now_ms(),
		    &resp->connection, st);
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_list_connections(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListConnectionsRequest *req,
    Fedrpc__Local__V1__ListConnectionsResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	fedrpc_code rc;

	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) ==
	    FEDRPC_OK)
		rc = sq_conn_list(c, ctx, a->domain, req->self->id,
		    &resp->connections, &resp->n_connections, st);
	return sq_end(a->db, c, rc, st);
}

fedrpc_code
sq_register_local_connections(
    fedrpc_server *srv, sq_adapter *a, fedrpc_status *st)
{
	static const fedrpc_local_v1_connections_handlers h = {
	    .connect          = h_connect,
	    .accept           = h_accept,
	    .block            = h_block,
	    .list_connections = h_list_connections,
	};

	return fedrpc_local_v1_connections_register(srv, &h, a, st);
}
