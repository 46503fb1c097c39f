/*
 * What became of the messages a local user sent, per destination domain:
 * each message's record (once.c) lists where its notices went, and the
 * outbox tells each one's fate: gone from it is delivered, still waiting
 * is queued (with its queue's next attempt and last error), moved aside
 * or dropped with the reason. For a conversation owned elsewhere the
 * record holds what the owner answered.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "backends/reference/sent.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"

#define LIST_DEFAULT 20
#define LIST_MAX 200

typedef Fedrpc__Local__V1__MessageDelivery ref_delivery_msg;

#define STATE(x) FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_##x

/* One destination's state. */
static fedrpc_code
delivery_of(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const Fedrpc__Reference__V1__SentDestination *d, ref_delivery_msg *m,
    fedrpc_status *st)
{
	fedrpc_store_outbox_item item;
	fedrpc_store_queue       q;
	bool                     found;

	(void) ctx;
	fedrpc__local__v1__message_delivery__init(m);
	m->domain = d->domain;
	if (d->queued_at_owner) {
		m->state = STATE(QUEUED_AT_OWNER);
		m->via   = d->via;
		return FEDRPC_OK;
	}
	if (d->refused != NULL && d->refused[0] != '\0') {
		m->state  = STATE(MOVED_ASIDE);
		m->reason = d->refused;
		return FEDRPC_OK;
	}
	m->state = STATE(DELIVERED);
	if (d->seq == 0)
		return FEDRPC_OK;
	if (tx->ops->outbox_get(tx, d->domain, d->seq, &item, &found, st) !=
	    FEDRPC_OK)
		return st->code;
	if (!found)
		return FEDRPC_OK;
	switch (item.state) {
	case FEDRPC_STORE_OUTBOX_PENDING:
		m->state = STATE(QUEUED);
		if (tx->ops->outbox_queue(tx, d->domain, &q, &found, st) !=
		    FEDRPC_OK)
			return st->code;
		if (found) {
			m->next_attempt_unix_ms = q.next_attempt_ms;
			m->failures             = q.failures;
			m->last_error           = q.last_error;
		}
		return FEDRPC_OK;
	case FEDRPC_STORE_OUTBOX_ASIDE:
		m->state = STATE(MOVED_ASIDE);
		break;
	default:
		m->state = STATE(DROPPED);
		break;
	}
	m->reason        = item.reason;
	m->since_unix_ms = item.moved_ms;
	return FEDRPC_OK;
}

static int
by_domain(const void *a, const void *b)
{
	return strcmp((*(ref_delivery_msg *const *) a)->domain,
	    (*(ref_delivery_msg *const *) b)->domain);
}

fedrpc_code
ref_sent_deliveries(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    ProtobufCBinaryData record, ref_delivery_msg ***out, size_t *n,
    fedrpc_status *st)
{
	Fedrpc__Reference__V1__SentRecord *rec;
	ref_delivery_msg                  *m;

	*out = NULL;
	*n   = 0;
	if ((rec = fedrpc__reference__v1__sent_record__unpack(
	         fedrpc_ctx_allocator(ctx), record.len, record.data)) == NULL)
		return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
		    "the record of a message sent does not decode");
	if ((*out = adp_ptrs(ctx, rec->n_destinations)) == NULL ||
	    (m = fedrpc_ctx_alloc(ctx, (rec->n_destinations + 1) * sizeof(*m))) ==
	        NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < rec->n_destinations; i++) {
		if (delivery_of(ctx, tx, rec->destinations[i], &m[i], st) !=
		    FEDRPC_OK)
			return st->code;
		(*out)[(*n)++] = &m[i];
	}
	qsort(*out, *n, sizeof(**out), by_domain);
	return FEDRPC_OK;
}

typedef struct now_tx {
	fedrpc_ctx         *ctx;
	const char         *sender;
	ProtobufCBinaryData message_id;
	ref_delivery_msg  **out;
	size_t              n;
} now_tx;

static fedrpc_code
tx_now(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	now_tx           *a = arg;
	fedrpc_store_sent sent;
	bool              found;

	a->n = 0;
	if (tx->ops->sent_get(tx, a->sender, &a->message_id, &sent, &found,
	        st) != FEDRPC_OK ||
	    !found)
		return st->code;
	return ref_sent_deliveries(a->ctx, tx, sent.record, &a->out, &a->n, st);
}

void
ref_sent_now(ref_svc *s, fedrpc_ctx *ctx, const char *sender,
    ProtobufCBinaryData message_id,
    Fedrpc__Local__V1__SendMessageResponse *resp)
{
	now_tx        a  = {ctx, sender, message_id, NULL, 0};
	fedrpc_status st = {0};

	/* Only a message sent has a record; a refused one has none. */
	if (resp->result_case !=
	        FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT ||
	    ref_read(s, ctx, tx_now, &a, &st) != FEDRPC_OK)
		return;
	resp->deliveries   = a.out;
	resp->n_deliveries = a.n;
}

/* ---- Delivery/ListSentMessages ---- */

static fedrpc_code
tx_list_sent(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__ListSentMessagesRequest *req  = c->req;
	Fedrpc__Local__V1__ListSentMessagesResponse      *resp = c->resp;
	uint32_t limit = req->limit == 0 ? LIST_DEFAULT
	    : req->limit > LIST_MAX     ? LIST_MAX
				       : req->limit;
	fedrpc_store_sent *rows, one;
	size_t             n;
	bool               more = false, found;

	resp->n_messages = 0;
	if (ref_user_require(c->s, tx, req->self, "self", st) != FEDRPC_OK)
		return st->code;
	if (req->message_id.len > 0) {
		if (tx->ops->sent_get(tx, req->self->id, &req->message_id, &one,
		        &found, st) != FEDRPC_OK)
			return st->code;
		rows = &one;
		n    = found ? 1 : 0;
	} else if (tx->ops->sent_list(tx, req->self->id, req->conversation,
	               req->before, limit, &rows, &n, &more, st) != FEDRPC_OK) {
		return st->code;
	}
	if ((resp->messages = adp_ptrs(c->ctx, n)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n; i++) {
		Fedrpc__Local__V1__SentMessage *m =
		    fedrpc_ctx_alloc(c->ctx, sizeof(*m));

		if (m == NULL)
			return REF_NOMEM(st);
		fedrpc__local__v1__sent_message__init(m);
		m->message_id   = rows[i].message_id;
		m->conversation = rows[i].conversation;
		m->sent_unix_ms = rows[i].sent_ms;
		m->seq          = rows[i].seq;
		if (ref_sent_deliveries(c->ctx, tx, rows[i].record,
		        &m->deliveries, &m->n_deliveries, st) != FEDRPC_OK)
			return st->code;
		resp->messages[resp->n_messages++] = m;
	}
	resp->more = more;
	return FEDRPC_OK;
}

fedrpc_code
ref_h_list_sent_messages(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListSentMessagesRequest *req,
    Fedrpc__Local__V1__ListSentMessagesResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	if (req->conversation != NULL &&
	    adp_check_qid(req->conversation, "conversation", st) != FEDRPC_OK)
		return st->code;
	if (req->message_id.len > REF_MESSAGE_ID_MAX)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "message_id: at most %d bytes", REF_MESSAGE_ID_MAX);
	return ref_read(s, ctx, tx_list_sent, &c, st);
}
