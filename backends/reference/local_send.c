/*
 * The local SendMessage: the sender's checks here, then the owner decides
 * (ref_owner_send() when we own the conversation, the owner's
 * Conversations/SendMessage otherwise, its answer passed on unchanged).
 * A send is applied once per (sender, message id): the id is recorded with
 * the answer in the transaction of the send's effect here, or, for a
 * remote owner, sent along (the owner applies it once by it) and recorded
 * when the owner answered. A repeat gets the first answer; a refused send
 * is not remembered, so that it may come again with what was missing.
 */
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/reference/once.h"
#include "backends/reference/sent.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"

typedef Fedrpc__Local__V1__SendMessageRequest  send_req;
typedef Fedrpc__Local__V1__SendMessageResponse send_resp;

typedef struct check_tx {
	ref_call  c;
	ref_once *once;
	bool      repeat;
} check_tx;

static fedrpc_code
tx_check_sender(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	check_tx       *a   = arg;
	const send_req *req = a->c.req;

	if (ref_user_require(a->c.s, tx, req->self, "self", st) != FEDRPC_OK ||
	    adp_check_qid(req->conversation, "conversation", st) != FEDRPC_OK)
		return st->code;
	return ref_once_check(a->once, a->c.ctx, tx,
	    (ProtobufCMessage *) a->c.resp, &a->repeat, st);
}

/* The message id: the client's, or a fresh one. */
static fedrpc_code
message_id(fedrpc_ctx *ctx, const send_req *req, ProtobufCBinaryData *out,
    fedrpc_status *st)
{
	if (req->message_id.len > REF_MESSAGE_ID_MAX)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "message_id: at most %d bytes", REF_MESSAGE_ID_MAX);
	if (req->message_id.len > 0) {
		*out = req->message_id;
		return FEDRPC_OK;
	}
	if ((out->data = fedrpc_ctx_alloc(ctx, 16)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < 16; i += 8) {
		uint64_t r = adp_random_u64();

		memcpy(out->data + i, &r, 8);
	}
	out->len = 16;
	return FEDRPC_OK;
}

/* A remote owner's answer, recorded (or the first answer, when another
 * send of the same id got there first). */
typedef struct record_tx {
	ref_call          c;
	ref_once         *once;
	const Fedrpc__Federation__V1__SendMessageResponse *answer;
	ref_owner_answer  owner;
	bool              repeat;
} record_tx;

static fedrpc_code
tx_record_remote(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	record_tx *a = arg;

	if (ref_once_check(a->once, a->c.ctx, tx, (ProtobufCMessage *) a->c.resp,
	        &a->repeat, st) != FEDRPC_OK ||
	    a->repeat)
		return st->code;
	return ref_once_record(
	    a->once, a->c.ctx, tx, &a->answer->base, NULL, &a->owner, st);
}

/* The owner could not be reached: the message waits for it here, in the
 * outbox, recorded with an answer that says so, in one transaction. */
typedef struct owner_q_tx {
	ref_call   c;
	ref_once  *once;
	const Fedrpc__Federation__V1__SendMessageRequest *r;
	const char *owner;
	ref_outs    outs;
	bool        repeat;
} owner_q_tx;

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The domains a message queued for its owner has not reached: the
 * owner's and every recipient's, sorted. */
static fedrpc_code
waiting_domains(fedrpc_ctx *ctx, const send_req *req, const char *owner,
    Fedrpc__Federation__V1__MessageSendingStatus *ms, fedrpc_status *st)
{
	ref_domains d = {0};

	ref_domains_add(ctx, &d, owner);
	for (size_t i = 0; i < req->n_recipients; i++)
		if (req->recipients[i]->user != NULL &&
		    req->recipients[i]->user->domain != NULL)
			ref_domains_add(
			    ctx, &d, req->recipients[i]->user->domain);
	if (d.n == 0 || d.v == NULL)
		return REF_NOMEM(st);
	qsort(d.v, d.n, sizeof(*d.v), by_name);
	ms->queued_domains   = d.v;
	ms->n_queued_domains = d.n;
	return FEDRPC_OK;
}

static fedrpc_code
tx_queue_for_owner(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	owner_q_tx *a    = arg;
	send_resp  *resp = a->c.resp;
	Fedrpc__Federation__V1__MessageSendingStatus *ms;
	ref_about   about = {a->r->conversation, a->r->sender,
              a->r->message_id, false};

	a->outs.n = 0;
	if (ref_once_check(a->once, a->c.ctx, tx, &resp->base, &a->repeat,
	        st) != FEDRPC_OK ||
	    a->repeat)
		return st->code;
	if ((ms = fedrpc_ctx_alloc(a->c.ctx, sizeof(*ms))) == NULL)
		return REF_NOMEM(st);
	fedrpc__federation__v1__message_sending_status__init(ms);
	ms->time_unix_ms = adp_now_ms();
	if (waiting_domains(a->c.ctx, a->c.req, a->owner, ms, st) !=
	        FEDRPC_OK ||
	    ref_outbox_put(a->c.ctx, tx, a->owner,
	        fedrpc_federation_v1_conversations_send_message_method,
	        &a->r->base, &about, &a->outs, st) != FEDRPC_OK)
		return st->code;
	resp->result_case = FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT;
	resp->sent        = ms;
	return ref_once_record(
	    a->once, a->c.ctx, tx, &resp->base, &a->outs, NULL, st);
}

static fedrpc_code
queue_for_owner(ref_svc *s, fedrpc_ctx *ctx, const send_req *req,
    send_resp *resp, ref_once *once,
    const Fedrpc__Federation__V1__SendMessageRequest *r, const char *owner,
    fedrpc_status *st)
{
	owner_q_tx  a = {{s, ctx, req, resp}, once, r, owner, {0}, false};
	fedrpc_code rc;

	FEDRPC_LOG_INFO("conversation %s@%s: its owner is unreachable (%s); "
	                "the message is queued for it",
	    req->conversation->id, owner, st->message);
	*st = (fedrpc_status){0};
	if ((rc = ref_write(s, ctx, tx_queue_for_owner, &a, st)) != FEDRPC_OK)
		return rc;
	if (a.repeat)
		resp->repeated = true;
	else
		ref_outbox_settle(s, ctx, &a.outs, false, NULL, NULL);
	return FEDRPC_OK;
}

/* Whether a failed call to the owner may be queued for it: it could not
 * be reached, or gave no answer in time (it may have applied the
 * message; it applies it once by its id). */
static bool
owner_unreachable(const fedrpc_status *st)
{
	return st->code == FEDRPC_UNAVAILABLE ||
	    st->code == FEDRPC_DEADLINE_EXCEEDED;
}

/* The owner decides; its answer is passed on unchanged. */
static fedrpc_code
send_remote(ref_svc *s, fedrpc_ctx *ctx, const send_req *req,
    send_resp *resp, ref_once *once, fedrpc_status *st)
{
	Fedrpc__Federation__V1__SendMessageRequest r =
	    FEDRPC__FEDERATION__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Federation__V1__SendMessageResponse *out, *cp;
	fedrpc_channel                              *ch;
	fedrpc_call_opts                             opts;
	const char *owner = req->conversation->domain;
	uint8_t     rid[16];
	record_tx   rec   = {{s, ctx, req, resp}, once, NULL, {owner, NULL, 0},
	          false};
	fedrpc_code rc;

	ref_call_opts(s, &opts);
	r.sender        = req->self;
	r.sender_client = req->sender_client;
	r.conversation  = req->conversation;
	r.recipients    = req->recipients;
	r.n_recipients  = req->n_recipients;
	r.strategy      = req->strategy;
	r.data          = req->data;
	r.message_id    = once->id;
	{
		ProtobufCBinaryData packed;

		packed.len  = protobuf_c_message_get_packed_size(&r.base);
		packed.data = fedrpc_ctx_alloc(ctx, packed.len + 1);
		if (packed.data == NULL)
			return REF_NOMEM(st);
		protobuf_c_message_pack(&r.base, packed.data);
		ref_once_request_id(req->self->id, once->id, packed, rid);
	}
	opts.request_id = rid;
	if ((ch = ref_remote(s, owner, st)) == NULL ||
	    fedrpc_federation_v1_conversations_send_message(
	        ch, &r, &out, &opts, st) != FEDRPC_OK)
		return owner_unreachable(st)
		    ? queue_for_owner(s, ctx, req, resp, once, &r, owner, st)
		    : ref_remote_failed(owner, st);
	ref_remote_ok(s, owner);
	cp = (Fedrpc__Federation__V1__SendMessageResponse *) adp_clone(
	    ctx, &out->base);
	protobuf_c_message_free_unpacked(&out->base, NULL);
	if (cp == NULL)
		return REF_NOMEM(st);
	if (cp->result_case ==
	        FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT) {
		rec.owner.queued   = cp->sent->queued_domains;
		rec.owner.n_queued = cp->sent->n_queued_domains;
	} else if (cp->result_case !=
	    FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT) {
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "%s answered a message with neither sent nor not_sent",
		    owner);
	}
	/* Only a message sent is remembered: a refused one may come again
	 * with the clients that were missing. */
	rec.answer = cp;
	if (cp->result_case ==
	        FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT &&
	    (rc = ref_write(s, ctx, tx_record_remote, &rec, st)) != FEDRPC_OK)
		return rc;
	if (rec.repeat) {
		resp->repeated = true;
		return FEDRPC_OK;
	}
	resp->result_case = (Fedrpc__Local__V1__SendMessageResponse__ResultCase)
	    cp->result_case;
	if (cp->result_case ==
	    FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT)
		resp->sent = cp->sent;
	else
		resp->not_sent = cp->not_sent;
	return FEDRPC_OK;
}

/* We own the conversation. */
static fedrpc_code
send_here(ref_svc *s, fedrpc_ctx *ctx, const send_req *req, send_resp *resp,
    ref_once *once, fedrpc_status *st)
{
	Fedrpc__Federation__V1__MessageSendingStatus *sent     = NULL;
	Fedrpc__Federation__V1__MessageNotSent       *not_sent = NULL;
	ref_message m = {req->self, req->sender_client, req->conversation,
	    req->recipients, req->n_recipients, req->strategy, req->data,
	    once->id, once};
	bool        repeated;
	fedrpc_code rc;

	if ((rc = ref_owner_send(s, ctx, &m, &sent, &not_sent, &repeated,
	         st)) != FEDRPC_OK)
		return rc;
	resp->repeated = repeated;
	if (sent != NULL) {
		resp->result_case = FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT;
		resp->sent        = sent;
	} else {
		resp->result_case = FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT;
		resp->not_sent    = not_sent;
	}
	return FEDRPC_OK;
}

fedrpc_code
ref_h_send_message(void *impl, fedrpc_ctx *ctx, const send_req *req,
    send_resp *resp, fedrpc_status *st)
{
	ref_svc            *s = impl;
	ref_once            once;
	ProtobufCBinaryData mid;
	check_tx            c = {{s, ctx, req, resp}, &once, false};
	fedrpc_code         rc;

	if (message_id(ctx, req, &mid, st) != FEDRPC_OK)
		return st->code;
	ref_once_send(&once, req->self != NULL ? req->self->id : "", mid,
	    req->conversation);
	if ((rc = ref_read(s, ctx, tx_check_sender, &c, st)) != FEDRPC_OK)
		return rc;
	if (c.repeat) {
		resp->message_id = mid;
		resp->repeated   = true;
		ref_sent_now(s, ctx, req->self->id, mid, resp);
		return FEDRPC_OK;
	}
	if (req->strategy == NULL ||
	    req->strategy->strategy_case ==
	        FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY__NOT_SET)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "strategy: required");
	rc = strcmp(req->conversation->domain, s->domain) == 0
	    ? send_here(s, ctx, req, resp, &once, st)
	    : send_remote(s, ctx, req, resp, &once, st);
	resp->message_id = mid;
	if (rc == FEDRPC_OK)
		ref_sent_now(s, ctx, req->self->id, mid, resp);
	return rc;
}
