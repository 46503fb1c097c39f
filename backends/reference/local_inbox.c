/*
 * The local Inbox service on SQLite: a client reads its events after an id
 * and acknowledges them to have them deleted (at-least-once delivery).
 */
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "backends/sqlite/sq.h"

/* The acting user must be ours and the client theirs. */
static fedrpc_code
require_client(sq_adapter *a, sq_conn *c, fedrpc_ctx *ctx,
    const adp_qid *self, uint64_t client, fedrpc_status *st)
{
	int have;

	if (sq_user_require(a, c, ctx, self, "self", st) != FEDRPC_OK)
		return st->code;
	if ((have = sq_client_exists(c, self->id, client, st)) < 0)
		return st->code;
	if (have == 0)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "client: %s has no client %llx", self->id,
		    (unsigned long long) client);
	return FEDRPC_OK;
}

static fedrpc_code
h_fetch_inbox(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__FetchInboxRequest *req,
    Fedrpc__Local__V1__FetchInboxResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	bool        more = false;
	fedrpc_code rc;

	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = require_client(a, c, ctx, req->self, req->client, st)) ==
	    FEDRPC_OK)
		rc = sq_inbox_fetch(c, ctx, req->self->id, req->client,
		    req->since, req->limit, &resp->events, &resp->n_events,
		    &more, st);
	resp->has_more = more;
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_ack_inbox(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AckInboxRequest *req,
    Fedrpc__Local__V1__AckInboxResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	fedrpc_code rc;

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = require_client(a, c, ctx, req->self, req->client, st)) ==
	    FEDRPC_OK)
		rc = sq_inbox_ack(c, req->self->id, req->client, req->up_to,
		    &resp->deleted, st);
	return sq_end(a->db, c, rc, st);
}

fedrpc_code
sq_register_local_inbox(fedrpc_server *srv, sq_adapter *a, fedrpc_status *st)
{
	static const fedrpc_local_v1_inbox_handlers h = {
	    .fetch_inbox = h_fetch_inbox,
	    .ack_inbox   = h_ack_inbox,
	};

	return fedrpc_local_v1_inbox_register(srv, &h, a, st);
}
