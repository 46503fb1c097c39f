/*
 * The local Connections service: connect, accept and block, following the
 * state table of docs/federation-api.md. For a remote user the remote step
 * travels as Users/SendConnectionAction, and our side is stored only once
 * the other backend applied it.
 */
#include <string.h>

#include "backends/reference/service.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/connections.fedrpc.h"

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

/* A connect or accept step of self towards to. */
typedef struct connect_tx {
	ref_svc                        *s;
	fedrpc_ctx                     *ctx;
	const adp_qid                  *self, *to;
	bool                            accept; /* only what is pending */
	bool                            react;  /* the other side connected */
	Fedrpc__Local__V1__Connection **out;
} connect_tx;

/* Accepting needs something pending. */
static fedrpc_code
check_pending(const connect_tx *a, adp_relation mine, fedrpc_status *st)
{
	if (!a->accept || mine == ADP_REL_PENDING)
		return FEDRPC_OK;
	return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
	    "nothing pending from %s@%s (the connection is %s)", a->to->id,
	    a->to->domain, adp_relation_name(mine));
}

/* Both sides on this backend, in one transaction. */
static fedrpc_code
tx_connect_local(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	connect_tx  *a = arg;
	adp_relation mine, theirs;
	bool         live;
	int64_t      now = adp_now_ms();

	if (ref_user_require(a->s, tx, a->self, "self", st) != FEDRPC_OK ||
	    ref_user_live(tx, a->to->id, &live, st) != FEDRPC_OK)
		return st->code;
	if (!live)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "to: no user %s@%s", a->to->id, a->to->domain);
	if (ref_side_get(tx, a->self->id, a->to, &mine, st) != FEDRPC_OK ||
	    ref_side_get(tx, a->to->id, a->self, &theirs, st) != FEDRPC_OK ||
	    check_pending(a, mine, st) != FEDRPC_OK)
		return st->code;
	mine   = adp_relation_step(mine, ADP_STEP_LC);
	theirs = adp_relation_step(theirs, ADP_STEP_RC);
	if (adp_relation_wants(theirs))
		mine = adp_relation_step(mine, ADP_STEP_RC);
	if (ref_side_set(a->s, a->ctx, tx, a->to->id, a->self, theirs, now,
	        NULL, st) != FEDRPC_OK)
		return st->code;
	return ref_side_set(
	    a->s, a->ctx, tx, a->self->id, a->to, mine, now, a->out, st);
}

/* Before a remote step: self exists and, to accept, something pends. */
static fedrpc_code
tx_connect_check(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	connect_tx  *a = arg;
	adp_relation mine;

	if (ref_user_require(a->s, tx, a->self, "self", st) != FEDRPC_OK ||
	    ref_side_get(tx, a->self->id, a->to, &mine, st) != FEDRPC_OK)
		return st->code;
	return check_pending(a, mine, st);
}

/* After the remote step: it is applied to our side as it is now. */
static fedrpc_code
tx_connect_apply(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	connect_tx  *a = arg;
	adp_relation mine;

	if (ref_side_get(tx, a->self->id, a->to, &mine, st) != FEDRPC_OK)
		return st->code;
	mine = adp_relation_step(mine, ADP_STEP_LC);
	if (a->react)
		mine = adp_relation_step(mine, ADP_STEP_RC);
	return ref_side_set(a->s, a->ctx, tx, a->self->id, a->to, mine,
	    adp_now_ms(), a->out, st);
}

/* Users/SendConnectionAction to the other user's domain; *react when the
 * other side connected too. */
static fedrpc_code
send_connect(connect_tx *a, fedrpc_status *st)
{
	Fedrpc__Federation__V1__SendConnectionActionRequest r =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;
	Fedrpc__Federation__V1__SendConnectionActionResponse *res = NULL;
	fedrpc_channel                                       *ch;
	fedrpc_call_opts                                      opts;
	const char                                           *dom = a->to->domain;
	int                                                   result;

	if ((ch = ref_remote(a->s, dom, st)) == NULL)
		return ref_remote_failed(dom, st);
	ref_call_opts(a->s, &opts);
	r.from   = (adp_qid *) a->self;
	r.to     = (adp_qid *) a->to;
	r.action = FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT;
	if (fedrpc_federation_v1_users_send_connection_action(
	        ch, &r, &res, &opts, st) != FEDRPC_OK)
		return ref_remote_failed(dom, st);
	result   = res->result;
	a->react = res->reaction ==
	    FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT;
	protobuf_c_message_free_unpacked(&res->base, NULL);
	if (result ==
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_USER_NOT_FOUND)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "to: no user %s@%s", a->to->id, dom);
	if (result !=
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_OK)
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "%s answered the connection request with result %d", dom,
		    result);
	return FEDRPC_OK;
}

/* Check first, without holding the database during the call. */
static fedrpc_code
connect_remote(connect_tx *a, fedrpc_status *st)
{
	fedrpc_code rc;

	if ((rc = ref_read(a->s, a->ctx, tx_connect_check, a, st)) !=
	        FEDRPC_OK ||
	    (rc = send_connect(a, st)) != FEDRPC_OK)
		return rc;
	return ref_write(a->s, a->ctx, tx_connect_apply, a, st);
}

static fedrpc_code
do_connect(ref_svc *s, fedrpc_ctx *ctx, const adp_qid *self,
    const adp_qid *to, bool accept, Fedrpc__Local__V1__Connection **out,
    fedrpc_status *st)
{
	connect_tx a = {s, ctx, self, to, accept, false, out};

	if (adp_check_ours(self, s->domain, "self", st) != FEDRPC_OK ||
	    check_pair(self, to, st) != FEDRPC_OK)
		return st->code;
	if (strcmp(to->domain, s->domain) == 0)
		return ref_write(s, ctx, tx_connect_local, &a, st);
	return connect_remote(&a, st);
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
tx_block(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__BlockRequest *req  = c->req;
	Fedrpc__Local__V1__BlockResponse      *resp = c->resp;
	adp_relation                           rel;

	if (ref_user_require(c->s, tx, req->self, "self", st) != FEDRPC_OK ||
	    ref_side_get(tx, req->self->id, req->to, &rel, st) != FEDRPC_OK)
		return st->code;
	return ref_side_set(c->s, c->ctx, tx, req->self->id, req->to,
	    adp_relation_step(rel, ADP_STEP_LB), adp_now_ms(),
	    &resp->connection, st);
}

static fedrpc_code
h_block(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__BlockRequest *req,
    Fedrpc__Local__V1__BlockResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	if (adp_check_ours(req->self, s->domain, "self", st) != FEDRPC_OK ||
	    check_pair(req->self, req->to, st) != FEDRPC_OK)
		return st->code;
	return ref_write(s, ctx, tx_block, &c, st);
}

static fedrpc_code
tx_list_connections(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__ListConnectionsRequest *req  = c->req;
	Fedrpc__Local__V1__ListConnectionsResponse      *resp = c->resp;

	if (ref_user_require(c->s, tx, req->self, "self", st) != FEDRPC_OK)
		return st->code;
	return ref_side_list(c->s, c->ctx, tx, req->self->id,
	    &resp->connections, &resp->n_connections, st);
}

static fedrpc_code
h_list_connections(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListConnectionsRequest *req,
    Fedrpc__Local__V1__ListConnectionsResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	return ref_read(s, ctx, tx_list_connections, &c, st);
}

fedrpc_code
ref_register_local_connections(
    fedrpc_server *srv, ref_svc *s, fedrpc_status *st)
{
	static const fedrpc_local_v1_connections_handlers h = {
	    .connect          = h_connect,
	    .accept           = h_accept,
	    .block            = h_block,
	    .list_connections = h_list_connections,
	};

	return fedrpc_local_v1_connections_register(srv, &h, s, st);
}
