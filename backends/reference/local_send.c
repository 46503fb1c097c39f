/*
 * The local SendMessage: the sender's checks here, then the owner decides
 * (ref_owner_send() when we own the conversation, the owner's
 * Conversations/SendMessage otherwise, its answer passed on unchanged).
 */
#include <string.h>

#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"

static fedrpc_code
tx_check_sender(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__SendMessageRequest *req = c->req;

	if (ref_user_require(c->s, tx, req->self, "self", st) != FEDRPC_OK)
		return st->code;
	return adp_check_qid(req->conversation, "conversation", st);
}

fedrpc_code
ref_h_send_message(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__SendMessageRequest *req,
    Fedrpc__Local__V1__SendMessageResponse *resp, fedrpc_status *st)
{
	ref_svc    *s = impl;
	ref_call    c = {s, ctx, req, resp};
	fedrpc_code rc;
	Fedrpc__Federation__V1__MessageSendingStatus *sent     = NULL;
	Fedrpc__Federation__V1__MessageNotSent       *not_sent = NULL;

	if ((rc = ref_read(s, ctx, tx_check_sender, &c, st)) != FEDRPC_OK)
		return rc;
	if (req->strategy == NULL ||
	    req->strategy->strategy_case ==
	        FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY__NOT_SET)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "strategy: required");

	if (strcmp(req->conversation->domain, s->domain) == 0) {
		rc = ref_owner_send(s, ctx, req->self, req->sender_client,
		    req->conversation, req->recipients, req->n_recipients,
		    req->strategy, req->data, &sent, &not_sent, st);
	} else {
		/* The owner decides; its answer is passed on unchanged. */
		Fedrpc__Federation__V1__SendMessageRequest r =
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_REQUEST__INIT;
		Fedrpc__Federation__V1__SendMessageResponse *out, *cp;
		fedrpc_channel                              *ch;
		fedrpc_call_opts                             opts;
		const char *owner = req->conversation->domain;

		if ((ch = ref_remote(s, owner, st)) == NULL)
			return ref_remote_failed(owner, st);
		ref_call_opts(s, &opts);
		r.sender        = req->self;
		r.sender_client = req->sender_client;
		r.conversation  = req->conversation;
		r.recipients    = req->recipients;
		r.n_recipients  = req->n_recipients;
		r.strategy      = req->strategy;
		r.data          = req->data;
		if (fedrpc_federation_v1_conversations_send_message(
		        ch, &r, &out, &opts, st) != FEDRPC_OK)
			return ref_remote_failed(owner, st);
		ref_remote_ok(s, owner);
		cp = (Fedrpc__Federation__V1__SendMessageResponse *) adp_clone(
		    ctx, &out->base);
		protobuf_c_message_free_unpacked(&out->base, NULL);
		if (cp == NULL)
			return REF_NOMEM(st);
		if (cp->result_case ==
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT)
			sent = cp->sent;
		else if (cp->result_case ==
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT)
			not_sent = cp->not_sent;
		else
			return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
			    "%s answered a message with neither sent nor "
			    "not_sent",
			    owner);
		rc = FEDRPC_OK;
	}
	if (rc != FEDRPC_OK)
		return rc;
	if (sent != NULL) {
		resp->result_case = FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT;
		resp->sent        = sent;
	} else {
		resp->result_case = FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT;
		resp->not_sent    = not_sent;
	}
	return FEDRPC_OK;
}

