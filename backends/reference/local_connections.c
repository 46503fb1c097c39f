/*
 * The local Connections service: connect, accept and block, following the
 * state table of docs/federation-api.md. For a remote user our side moves
 * at once and the remote step is queued as Users/SendConnectionAction in
 * the same transaction; the other backend's answer moves our side again
 * when delivered (answers.c): to ACCEPTED when the other side connected
 * too, back to CANCELLED when there is no such user or the request is
 * refused. The call waits a little for that answer (delivery.h).
 */
#include <string.h>

#include "backends/reference/delivery.h"
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
	Fedrpc__Local__V1__Connection **out;
	ref_outs                        outs;   /* the remote step */
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

/* A remote step: our side moves, the other backend's step is queued. */
static fedrpc_code
tx_connect_remote(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	connect_tx  *a = arg;
	adp_relation mine;
	Fedrpc__Federation__V1__SendConnectionActionRequest r =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;

	a->outs.n = 0;
	if (ref_user_require(a->s, tx, a->self, "self", st) != FEDRPC_OK ||
	    ref_side_get(tx, a->self->id, a->to, &mine, st) != FEDRPC_OK ||
	    check_pending(a, mine, st) != FEDRPC_OK ||
	    ref_side_set(a->s, a->ctx, tx, a->self->id, a->to,
	        adp_relation_step(mine, ADP_STEP_LC), adp_now_ms(), a->out,
	        st) != FEDRPC_OK)
		return st->code;
	r.from   = (adp_qid *) a->self;
	r.to     = (adp_qid *) a->to;
	r.action = FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT;
	return ref_outbox_put(a->ctx, tx, a->to->domain,
	    fedrpc_federation_v1_users_send_connection_action_method, &r.base,
	    NULL, &a->outs, st);
}

/* After the remote step settled: our side as the answer left it. */
typedef struct settled_tx {
	connect_tx              *a;
	fedrpc_store_outbox_item item;
	bool                     queued; /* the step is still in the outbox */
} settled_tx;

static fedrpc_code
tx_connect_settled(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	settled_tx  *b = arg;
	connect_tx  *a = b->a;
	adp_relation mine;

	if (tx->ops->outbox_get(tx, a->outs.v[0].domain, a->outs.v[0].seq,
	        &b->item, &b->queued, st) != FEDRPC_OK ||
	    ref_side_get(tx, a->self->id, a->to, &mine, st) != FEDRPC_OK)
		return st->code;
	if (a->out != NULL && *a->out != NULL)
		(*a->out)->relation = mine;
	return FEDRPC_OK;
}

static fedrpc_code
connect_remote(connect_tx *a, fedrpc_status *st)
{
	settled_tx  b = {a};
	fedrpc_code rc;

	if ((rc = ref_write(a->s, a->ctx, tx_connect_remote, a, st)) !=
	    FEDRPC_OK)
		return rc;
	ref_outbox_settle(a->s, a->ctx, &a->outs, true, NULL, NULL);
	if ((rc = ref_read(a->s, a->ctx, tx_connect_settled, &b, st)) !=
	    FEDRPC_OK)
		return rc;
	/* Still queued: the side stands as it is (SENT, ...). */
	if (b.queued && b.item.state == FEDRPC_STORE_OUTBOX_PENDING)
		return FEDRPC_OK;
	if (b.queued)
		return fedrpc_status_set(st,
		    strncmp(b.item.reason, "INVALID_ARGUMENT", 16) == 0
			? FEDRPC_INVALID_ARGUMENT
			: FEDRPC_PERMISSION_DENIED,
		    "%s refused the connection request: %s", a->to->domain,
		    b.item.reason);
	if (a->out != NULL && *a->out != NULL &&
	    (*a->out)->relation == ADP_REL_CANCELLED)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "to: no user %s@%s", a->to->id, a->to->domain);
	return FEDRPC_OK;
}

static fedrpc_code
do_connect(ref_svc *s, fedrpc_ctx *ctx, const adp_qid *self,
    const adp_qid *to, bool accept, Fedrpc__Local__V1__Connection **out,
    fedrpc_status *st)
{
	connect_tx a = {s, ctx, self, to, accept, out, {0}};

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
