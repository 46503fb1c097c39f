/*
 * What the answer to a delivered item changes here, in the transaction
 * that removes the item (so that it happens exactly once), and what
 * follows an item that was moved aside. Most notices change nothing when
 * answered; a connection request does: the other side's reaction moves our
 * user's side, as it would have had the call been made while the user
 * waited, and a refusal voids the request. A conversation notice that is
 * refused is followed by the conversation's current state (a resync).
 */
#include <string.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"

typedef Fedrpc__Federation__V1__SendConnectionActionRequest  conn_req;
typedef Fedrpc__Federation__V1__SendConnectionActionResponse conn_resp;

/* Our user's side after the other backend answered their request. */
static fedrpc_code
connection_answered(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const conn_req *req, const conn_resp *resp, fedrpc_status *st)
{
	adp_relation mine, now;

	if (req->from == NULL || req->to == NULL ||
	    strcmp(req->from->domain, s->domain) != 0)
		return FEDRPC_OK;
	if (ref_side_get(tx, req->from->id, req->to, &mine, st) != FEDRPC_OK)
		return st->code;
	now = mine;
	if (resp->result ==
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_USER_NOT_FOUND) {
		/* Nobody there to connect to: the request is void. */
		if (mine == ADP_REL_SENT || mine == ADP_REL_ACCEPTED)
			now = ADP_REL_CANCELLED;
	} else if (resp->reaction ==
	    FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT) {
		now = adp_relation_step(mine, ADP_STEP_RC);
	}
	if (now == mine)
		return FEDRPC_OK;
	return ref_side_set(s, ctx, tx, req->from->id, req->to, now,
	    adp_now_ms(), NULL, st);
}

fedrpc_code
ref_item_answered(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ref_item *item, const ProtobufCMessage *resp, fedrpc_status *st)
{
	const fedrpc_method *m =
	    fedrpc_federation_v1_users_send_connection_action_method;
	conn_req *req;

	if (resp == NULL || strcmp(item->method, m->full_name) != 0)
		return FEDRPC_OK;
	if ((req = (conn_req *) protobuf_c_message_unpack(m->input,
	         fedrpc_ctx_allocator(ctx), item->request.len,
	         item->request.data)) == NULL)
		return FEDRPC_OK;
	return connection_answered(
	    s, ctx, tx, req, (const conn_resp *) resp, st);
}

static bool
is_conversation_notice(const ref_item *item)
{
	return item->conversation != NULL &&
	    (strcmp(item->method,
	         fedrpc_federation_v1_conversations_on_conversation_created_method
	             ->full_name) == 0 ||
	        strcmp(item->method,
	            fedrpc_federation_v1_conversations_on_conversation_updated_method
	                ->full_name) == 0);
}

/* A conversation notice refused: the domain's copy may now be wrong, so
 * its current state follows, at the end of the queue (it repairs the copy
 * once the domain takes notices again). */
static fedrpc_code
resync_after(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *domain, const ref_item *item, fedrpc_status *st)
{
	bool queued;

	if (ref_resync_queue(s, ctx, tx, item->conversation, domain, item, NULL,
	        &queued, st) != FEDRPC_OK)
		return st->code;
	if (queued)
		FEDRPC_LOG_INFO("conversation %s@%s: its state is queued again "
		                "for %s",
		    item->conversation->id, item->conversation->domain, domain);
	return FEDRPC_OK;
}

/* A connection request refused for good: our user's request is void. */
static fedrpc_code
connection_refused(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const conn_req *req, fedrpc_status *st)
{
	adp_relation mine;

	if (req->from == NULL || req->to == NULL ||
	    strcmp(req->from->domain, s->domain) != 0)
		return FEDRPC_OK;
	if (ref_side_get(tx, req->from->id, req->to, &mine, st) != FEDRPC_OK)
		return st->code;
	if (mine != ADP_REL_SENT)
		return FEDRPC_OK;
	return ref_side_set(s, ctx, tx, req->from->id, req->to,
	    ADP_REL_CANCELLED, adp_now_ms(), NULL, st);
}

fedrpc_code
ref_item_refused(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *domain, const ref_item *item, fedrpc_status *st)
{
	const fedrpc_method *m =
	    fedrpc_federation_v1_users_send_connection_action_method;
	conn_req *req;

	FEDRPC_LOG_WARN("delivery to %s: %s moved aside", domain, item->method);
	if (is_conversation_notice(item) && !item->resync)
		return resync_after(s, ctx, tx, domain, item, st);
	if (strcmp(item->method, m->full_name) != 0)
		return FEDRPC_OK;
	if ((req = (conn_req *) protobuf_c_message_unpack(m->input,
	         fedrpc_ctx_allocator(ctx), item->request.len,
	         item->request.data)) == NULL)
		return FEDRPC_OK;
	return connection_refused(s, ctx, tx, req, st);
}
