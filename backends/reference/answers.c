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
#include "fedrpc/reference/v1/outbox.pb-c.h"

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

/* Why an owner refused a message, in words. */
static const char *
refusal(const Fedrpc__Federation__V1__MessageNotSent *ns)
{
	switch (ns != NULL ? ns->reason : 0) {
	case FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_CONVERSATION_NOT_FOUND:
		return "the owner refused it: no such conversation, or the "
		       "sender is not a member";
	case FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_UNKNOWN_CLIENT:
		return "the owner refused it: the sending client is unknown";
	case FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_CLIENT_MISSING:
		return "the owner refused it: clients were missing (send it "
		       "again)";
	default:
		return "the owner refused it";
	}
}

/*
 * A message that waited here for its conversation's owner reached it: its
 * record now says what the owner did, the domains the owner queued it for
 * (queued at owner) or why it refused it, as if the owner had answered
 * the send.
 */
static fedrpc_code
owner_answered(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ref_item *item, const Fedrpc__Federation__V1__SendMessageResponse *r,
    fedrpc_status *st)
{
	Fedrpc__Reference__V1__SentRecord      *rec;
	Fedrpc__Reference__V1__SentDestination **v, *d;
	const char        *owner = item->conversation->domain;
	fedrpc_store_sent  sent;
	ProtobufCBinaryData data;
	size_t             n_q = 0, n;
	bool               found;

	if (item->sender == NULL || item->message_id.len == 0 ||
	    strcmp(item->sender->domain, s->domain) != 0)
		return FEDRPC_OK;
	if (tx->ops->sent_get(tx, item->sender->id, &item->message_id, &sent,
	        &found, st) != FEDRPC_OK ||
	    !found)
		return st->code;
	if ((rec = fedrpc__reference__v1__sent_record__unpack(
	         fedrpc_ctx_allocator(ctx), sent.record.len,
	         sent.record.data)) == NULL)
		return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
		    "the record of a message sent by %s does not decode",
		    item->sender->id);
	if (r->result_case ==
	        FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT &&
	    r->sent != NULL)
		n_q = r->sent->n_queued_domains;
	n = rec->n_destinations + n_q;
	if ((v = adp_ptrs(ctx, n)) == NULL ||
	    (d = fedrpc_ctx_alloc(ctx, (n_q + 1) * sizeof(*d))) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < rec->n_destinations; i++) {
		v[i] = rec->destinations[i];
		if (strcmp(v[i]->domain, owner) == 0 &&
		    r->result_case ==
		        FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT)
			v[i]->refused = (char *) refusal(r->not_sent);
	}
	for (size_t i = 0; i < n_q; i++) {
		fedrpc__reference__v1__sent_destination__init(&d[i]);
		d[i].domain          = r->sent->queued_domains[i];
		d[i].queued_at_owner = true;
		d[i].via             = (char *) owner;
		v[rec->n_destinations + i] = &d[i];
	}
	rec->destinations   = v;
	rec->n_destinations = n;
	data.len            = protobuf_c_message_get_packed_size(&rec->base);
	if ((data.data = fedrpc_ctx_alloc(ctx, data.len + 1)) == NULL)
		return REF_NOMEM(st);
	protobuf_c_message_pack(&rec->base, data.data);
	return tx->ops->sent_update(tx, item->sender->id, &item->message_id,
	    &data, &found, st);
}

fedrpc_code
ref_item_answered(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ref_item *item, const ProtobufCMessage *resp, fedrpc_status *st)
{
	const fedrpc_method *m =
	    fedrpc_federation_v1_users_send_connection_action_method;
	conn_req *req;

	if (resp != NULL && item->conversation != NULL &&
	    strcmp(item->method,
	        fedrpc_federation_v1_conversations_send_message_method
	            ->full_name) == 0)
		return owner_answered(s, ctx, tx, item,
		    (const Fedrpc__Federation__V1__SendMessageResponse *) resp,
		    st);
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
