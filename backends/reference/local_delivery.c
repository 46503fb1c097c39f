/*
 * The local Delivery service, for operators (docs/delivery.md): the
 * queues of what this backend owes other domains, the items in them
 * (waiting, or moved aside with the reason), putting items moved aside
 * back, dropping items, and queueing a conversation's current state for
 * its member domains (a resync). Users' sent messages are local_sent.c's.
 */
#include <string.h>

#include "backends/reference/delivery.h"
#include "backends/reference/sent.h"
#include "backends/reference/service.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

typedef Fedrpc__Local__V1__Queue ref_queue_msg;
typedef Fedrpc__Local__V1__Item  ref_item_msg;

/* A request's destination domain, in any case, folded in place. */
static fedrpc_code
check_domain(char *domain, fedrpc_status *st)
{
	return adp_domain_take(domain, "domain", st);
}

/* ---- queues ---- */

static fedrpc_code
tx_list_queues(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	Fedrpc__Local__V1__ListQueuesResponse *resp = c->resp;
	fedrpc_store_queue *q;
	size_t              n;
	ref_queue_msg      *m;

	resp->n_queues = 0;
	if (tx->ops->outbox_queues(tx, &q, &n, st) != FEDRPC_OK)
		return st->code;
	if ((resp->queues = adp_ptrs(c->ctx, n)) == NULL ||
	    (m = fedrpc_ctx_alloc(c->ctx, (n + 1) * sizeof(*m))) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n; i++) {
		fedrpc__local__v1__queue__init(&m[i]);
		m[i].domain               = q[i].destination;
		m[i].pending              = q[i].pending;
		m[i].aside                = q[i].aside;
		m[i].oldest_unix_ms       = q[i].head_created_ms;
		m[i].failures             = q[i].failures;
		m[i].next_attempt_unix_ms = q[i].next_attempt_ms;
		m[i].last_error           = q[i].last_error;
		m[i].delivered_by         = q[i].lease_owner;
		m[i].lease_until_unix_ms  = q[i].lease_until_ms;
		resp->queues[resp->n_queues++] = &m[i];
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_list_queues(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListQueuesRequest *req,
    Fedrpc__Local__V1__ListQueuesResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	return ref_read(s, ctx, tx_list_queues, &c, st);
}

/* ---- items ---- */

static ref_item_msg *
item_msg(fedrpc_ctx *ctx, const fedrpc_store_outbox_item *x)
{
	ref_item_msg *m  = fedrpc_ctx_alloc(ctx, sizeof(*m));
	ref_item     *it = ref_item_decode(fedrpc_ctx_allocator(ctx), x->data);

	if (m == NULL)
		return NULL;
	fedrpc__local__v1__item__init(m);
	m->domain          = x->destination;
	m->seq             = x->seq;
	m->created_unix_ms = x->created_ms;
	m->state           = x->state == FEDRPC_STORE_OUTBOX_ASIDE
	              ? FEDRPC__LOCAL__V1__ITEM_STATE__ITEM_STATE_ASIDE
	    : x->state == FEDRPC_STORE_OUTBOX_DROPPED
	        ? FEDRPC__LOCAL__V1__ITEM_STATE__ITEM_STATE_DROPPED
	        : FEDRPC__LOCAL__V1__ITEM_STATE__ITEM_STATE_PENDING;
	m->reason        = x->reason;
	m->moved_unix_ms = x->moved_ms;
	if (it != NULL) {
		m->method       = it->method;
		m->request_id   = it->request_id;
		m->conversation = it->conversation;
		m->sender       = it->sender;
		m->message_id   = it->message_id;
		m->resync       = it->resync;
	} else {
		m->method = (char *) "";
	}
	return m;
}

static fedrpc_code
tx_list_items(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__ListItemsRequest *req  = c->req;
	Fedrpc__Local__V1__ListItemsResponse      *resp = c->resp;
	uint32_t limit = req->limit == 0 ? LIST_DEFAULT
	    : req->limit > LIST_MAX     ? LIST_MAX
				       : req->limit;
	fedrpc_store_outbox_item *x;
	size_t                    n, first = 0;
	bool                      more = false;

	resp->n_items = 0;
	resp->more    = false;
	if (req->aside) {
		if (tx->ops->outbox_list_aside(tx, req->domain, &x, &n, st) !=
		    FEDRPC_OK)
			return st->code;
		while (first < n && x[first].seq <= req->after_seq)
			first++;
		more = n - first > limit;
		if (more)
			n = first + limit;
	} else if (tx->ops->outbox_pending(tx, req->domain, req->after_seq,
	               limit, &x, &n, &more, st) != FEDRPC_OK) {
		return st->code;
	}
	if ((resp->items = adp_ptrs(c->ctx, n - first)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = first; i < n; i++)
		if ((resp->items[resp->n_items++] = item_msg(c->ctx, &x[i])) ==
		    NULL)
			return REF_NOMEM(st);
	resp->more = more;
	return FEDRPC_OK;
}

static fedrpc_code
h_list_items(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListItemsRequest *req,
    Fedrpc__Local__V1__ListItemsResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	if (check_domain(req->domain, st) != FEDRPC_OK)
		return st->code;
	return ref_read(s, ctx, tx_list_items, &c, st);
}

/* ---- retry and drop ---- */

static fedrpc_code
tx_retry(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__RetryItemsRequest *req  = c->req;
	Fedrpc__Local__V1__RetryItemsResponse      *resp = c->resp;
	fedrpc_store_outbox_item *x;
	size_t                    n;
	bool                      found;

	resp->retried = 0;
	if (req->n_seqs > 0) {
		for (size_t i = 0; i < req->n_seqs; i++) {
			if (tx->ops->outbox_retry(tx, req->domain, req->seqs[i],
			        &found, st) != FEDRPC_OK)
				return st->code;
			resp->retried += found;
		}
		return FEDRPC_OK;
	}
	if (tx->ops->outbox_list_aside(tx, req->domain, &x, &n, st) !=
	    FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < n; i++) {
		if (tx->ops->outbox_retry(tx, req->domain, x[i].seq, &found,
		        st) != FEDRPC_OK)
			return st->code;
		resp->retried += found;
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_retry_items(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__RetryItemsRequest *req,
    Fedrpc__Local__V1__RetryItemsResponse *resp, fedrpc_status *st)
{
	ref_svc    *s = impl;
	ref_call    c = {s, ctx, req, resp};
	fedrpc_code rc;

	if (check_domain(req->domain, st) != FEDRPC_OK)
		return st->code;
	if (req->n_seqs > LIST_MAX)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "seqs: at most %d", LIST_MAX);
	if ((rc = ref_write(s, ctx, tx_retry, &c, st)) != FEDRPC_OK)
		return rc;
	/* An operator's retry is tried now, pause or not. */
	if (resp->retried > 0) {
		ref_delivery_heard(s->delivery, req->domain);
		ref_delivery_kick(s->delivery, req->domain);
	}
	return FEDRPC_OK;
}

static fedrpc_code
tx_drop(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__DropItemsRequest *req  = c->req;
	Fedrpc__Local__V1__DropItemsResponse      *resp = c->resp;
	const char *why = req->reason != NULL && req->reason[0] != '\0'
	    ? req->reason
	    : "dropped by an operator";
	int64_t now = adp_now_ms();
	bool    found;

	resp->dropped = 0;
	for (size_t i = 0; i < req->n_seqs; i++) {
		if (tx->ops->outbox_drop(tx, req->domain, req->seqs[i], why, now,
		        &found, st) != FEDRPC_OK)
			return st->code;
		resp->dropped += found;
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_drop_items(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__DropItemsRequest *req,
    Fedrpc__Local__V1__DropItemsResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	if (check_domain(req->domain, st) != FEDRPC_OK)
		return st->code;
	if (req->n_seqs < 1 || req->n_seqs > LIST_MAX)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "seqs: 1 to %d items", LIST_MAX);
	if (req->reason != NULL && !adp_text_valid(req->reason, 0, 256))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "reason: up to 256 characters of UTF-8");
	return ref_write(s, ctx, tx_drop, &c, st);
}

/* ---- resync ---- */

typedef struct resync_tx {
	ref_call    c;
	ref_outs    outs;
	ref_domains doms;
} resync_tx;

static fedrpc_code
tx_resync(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	resync_tx *a = arg;
	const Fedrpc__Local__V1__ResyncConversationRequest *req = a->c.req;
	ref_conversation *conv;
	ref_domains       targets = {0};

	a->outs.n = 0;
	memset(&a->doms, 0, sizeof(a->doms));
	if (ref_conv_get(tx, req->conversation, &conv, st) != FEDRPC_OK)
		return st->code;
	if (conv == NULL)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "no conversation %s@%s", req->conversation->id,
		    req->conversation->domain);
	if (req->domain != NULL && req->domain[0] != '\0') {
		if (!ref_conv_has_domain(conv, req->domain))
			return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "conversation %s@%s has no members on %s",
			    conv->id->id, conv->id->domain, req->domain);
		ref_domains_add(a->c.ctx, &targets, req->domain);
	} else {
		for (size_t i = 0; i < conv->n_members; i++)
			ref_domains_add(a->c.ctx, &targets,
			    conv->members[i]->id->domain);
	}
	for (size_t i = 0; i < targets.n; i++) {
		bool queued;

		if (ref_resync_queue(a->c.s, a->c.ctx, tx, conv->id,
		        targets.v[i], NULL, &a->outs, &queued, st) != FEDRPC_OK)
			return st->code;
		if (queued)
			ref_domains_add(a->c.ctx, &a->doms, targets.v[i]);
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_resync_conversation(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ResyncConversationRequest *req,
    Fedrpc__Local__V1__ResyncConversationResponse *resp, fedrpc_status *st)
{
	ref_svc    *s = impl;
	resync_tx   a = {{s, ctx, req, resp}, {0}, {0}};
	fedrpc_code rc;

	if (adp_check_ours(req->conversation, s->domain, "conversation", st) !=
	    FEDRPC_OK)
		return st->code;
	if (req->domain != NULL && req->domain[0] != '\0' &&
	    check_domain(req->domain, st) != FEDRPC_OK)
		return st->code;
	if ((rc = ref_write(s, ctx, tx_resync, &a, st)) != FEDRPC_OK)
		return rc;
	ref_outbox_settle(s, ctx, &a.outs, false, NULL, NULL);
	resp->domains   = a.doms.v;
	resp->n_domains = a.doms.n;
	return FEDRPC_OK;
}

fedrpc_code
ref_register_local_delivery(fedrpc_server *srv, ref_svc *s, fedrpc_status *st)
{
	static const fedrpc_local_v1_delivery_handlers h = {
	    .list_queues         = h_list_queues,
	    .list_items          = h_list_items,
	    .retry_items         = h_retry_items,
	    .drop_items          = h_drop_items,
	    .resync_conversation = h_resync_conversation,
	    .list_sent_messages  = ref_h_list_sent_messages,
	};

	return fedrpc_local_v1_delivery_register(srv, &h, s, st);
}
