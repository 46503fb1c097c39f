/*
 * The local Inbox service: a client reads its events after an id and
 * acknowledges them to have them deleted (at-least-once delivery); the
 * read also says how many one-time prekeys the client has left.
 */
#include "backends/reference/service.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"

/* The acting user must be ours and the client theirs. */
static fedrpc_code
require_client(ref_svc *s, fedrpc_store_tx *tx, const adp_qid *self,
    uint64_t client, fedrpc_status *st)
{
	bool have;

	if (ref_user_require(s, tx, self, "self", st) != FEDRPC_OK ||
	    tx->ops->client_exists(tx, self->id, client, &have, st) !=
	        FEDRPC_OK)
		return st->code;
	if (!have)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "client: %s has no client %llx", self->id,
		    (unsigned long long) client);
	return FEDRPC_OK;
}

static fedrpc_code
tx_fetch(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__FetchInboxRequest *req  = c->req;
	Fedrpc__Local__V1__FetchInboxResponse      *resp = c->resp;
	bool                                        more = false, low;

	resp->has_more = false;
	if (require_client(c->s, tx, req->self, req->client, st) != FEDRPC_OK ||
	    ref_inbox_read(c->ctx, tx, req->self->id, req->client, req->since,
	        req->limit, &resp->events, &resp->n_events, &more, st) !=
	        FEDRPC_OK)
		return st->code;
	resp->has_more = more;
	if (ref_prekeys_left(tx, req->self->id, req->client,
	        &resp->prekeys_left, &low, st) != FEDRPC_OK)
		return st->code;
	resp->prekeys_low = low;
	return FEDRPC_OK;
}

static fedrpc_code
h_fetch_inbox(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__FetchInboxRequest *req,
    Fedrpc__Local__V1__FetchInboxResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	return ref_read(s, ctx, tx_fetch, &c, st);
}

static fedrpc_code
tx_ack(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__AckInboxRequest *req  = c->req;
	Fedrpc__Local__V1__AckInboxResponse      *resp = c->resp;

	resp->deleted = 0;
	if (require_client(c->s, tx, req->self, req->client, st) != FEDRPC_OK)
		return st->code;
	return tx->ops->inbox_ack(tx, req->self->id, req->client, req->up_to,
	    &resp->deleted, st);
}

static fedrpc_code
h_ack_inbox(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AckInboxRequest *req,
    Fedrpc__Local__V1__AckInboxResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	return ref_write(s, ctx, tx_ack, &c, st);
}

fedrpc_code
ref_register_local_inbox(fedrpc_server *srv, ref_svc *s, fedrpc_status *st)
{
	static const fedrpc_local_v1_inbox_handlers h = {
	    .fetch_inbox = h_fetch_inbox,
	    .ack_inbox   = h_ack_inbox,
	};

	return fedrpc_local_v1_inbox_register(srv, &h, s, st);
}
