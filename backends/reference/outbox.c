/*
 * What a local change owes other domains, as outbox items: one call (its
 * method, encoded request and a request id that stays the same on every
 * attempt) appended in the change's own transaction, so that the change
 * and what it owes are made durable together or not at all. After the
 * commit the caller settles its items: delivery is woken and given a
 * short while, so that a call answers with what actually arrived.
 */
#include <string.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"

#define REQUEST_ID_LEN 16

static fedrpc_code
outs_add(fedrpc_ctx *ctx, ref_outs *outs, const char *domain, uint64_t seq,
    fedrpc_status *st)
{
	if (outs->n == outs->cap) {
		size_t   cap = outs->cap ? 2 * outs->cap : 8;
		ref_out *v   = fedrpc_ctx_alloc(ctx, cap * sizeof(*v));

		if (v == NULL)
			return REF_NOMEM(st);
		if (outs->n > 0)
			memcpy(v, outs->v, outs->n * sizeof(*v));
		outs->v   = v;
		outs->cap = cap;
	}
	if ((outs->v[outs->n].domain = fedrpc_ctx_strdup(ctx, domain)) == NULL)
		return REF_NOMEM(st);
	outs->v[outs->n++].seq = seq;
	return FEDRPC_OK;
}

/* A message packed into the call's arena. */
static bool
pack_into(fedrpc_ctx *ctx, const ProtobufCMessage *m, ProtobufCBinaryData *out)
{
	size_t len = protobuf_c_message_get_packed_size(m);

	if ((out->data = fedrpc_ctx_alloc(ctx, len + 1)) == NULL)
		return false;
	out->len = protobuf_c_message_pack(m, out->data);
	return true;
}

fedrpc_code
ref_outbox_put(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *domain,
    const fedrpc_method *m, const ProtobufCMessage *req,
    const ref_about *about, ref_outs *outs, fedrpc_status *st)
{
	ref_item            it = FEDRPC__REFERENCE__V1__OUTBOX_ITEM__INIT;
	uint8_t            *rid = fedrpc_ctx_alloc(ctx, REQUEST_ID_LEN);
	ProtobufCBinaryData data;
	uint64_t            seq;

	if (rid == NULL || !pack_into(ctx, req, &it.request))
		return REF_NOMEM(st);
	for (size_t i = 0; i < REQUEST_ID_LEN; i += 8) {
		uint64_t r = adp_random_u64();

		memcpy(rid + i, &r, 8);
	}
	it.method     = (char *) m->full_name;
	it.request_id = (ProtobufCBinaryData){REQUEST_ID_LEN, rid};
	if (about != NULL) {
		it.conversation = (adp_qid *) about->conversation;
		it.sender       = (adp_qid *) about->sender;
		it.message_id   = about->message_id;
		it.resync       = about->resync;
	}
	if (!pack_into(ctx, &it.base, &data))
		return REF_NOMEM(st);
	if (tx->ops->outbox_append(tx, domain, &data, adp_now_ms(), &seq, st) !=
	    FEDRPC_OK)
		return st->code;
	return outs != NULL ? outs_add(ctx, outs, domain, seq, st) : FEDRPC_OK;
}

ref_item *
ref_item_decode(ProtobufCAllocator *al, ProtobufCBinaryData data)
{
	ref_item *it = fedrpc__reference__v1__outbox_item__unpack(
	    al, data.len, data.data);

	if (it != NULL && (it->method == NULL ||
	                      it->request_id.len != REQUEST_ID_LEN))
		return NULL;
	return it;
}

const fedrpc_method *
ref_method_find(const char *full_name)
{
	static const fedrpc_service *const services[] = {
	    &fedrpc_federation_v1_conversations_service,
	    &fedrpc_federation_v1_users_service,
	};

	if (full_name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		for (size_t k = 0; k < services[i]->n_methods; k++)
			if (strcmp(services[i]->methods[k].full_name,
			        full_name) == 0)
				return &services[i]->methods[k];
	return NULL;
}

/* What became of each item: still pending, refused, or delivered. */
typedef struct settle_tx {
	const ref_outs *outs;
	int            *state; /* per item: -1 delivered, else the store's */
} settle_tx;

static fedrpc_code
tx_left(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	settle_tx *a = arg;

	for (size_t i = 0; i < a->outs->n; i++) {
		fedrpc_store_outbox_item item;
		bool                     found;

		if (tx->ops->outbox_get(tx, a->outs->v[i].domain,
		        a->outs->v[i].seq, &item, &found, st) != FEDRPC_OK)
			return st->code;
		a->state[i] = found ? item.state : -1;
	}
	return FEDRPC_OK;
}

void
ref_outbox_settle(ref_svc *s, fedrpc_ctx *ctx, const ref_outs *outs,
    bool wait, ref_domains *queued, ref_domains *refused)
{
	settle_tx     a  = {outs, NULL};
	fedrpc_status st = {0};

	if (outs == NULL || outs->n == 0)
		return;
	ref_delivery_kick_outs(s->delivery, outs);
	if (wait && s->dopts.wait_ms != UINT32_MAX)
		ref_delivery_wait(s->delivery, outs, s->dopts.wait_ms);
	if (queued == NULL && refused == NULL)
		return;
	if ((a.state = fedrpc_ctx_alloc(ctx, outs->n * sizeof(int))) == NULL ||
	    ref_read(s, ctx, tx_left, &a, &st) != FEDRPC_OK) {
		FEDRPC_LOG_WARN("cannot tell which notices were delivered: %s",
		    st.message);
		for (size_t i = 0; i < outs->n && queued != NULL; i++)
			ref_domains_add(ctx, queued, outs->v[i].domain);
		return;
	}
	for (size_t i = 0; i < outs->n; i++) {
		ref_domains *into = a.state[i] == FEDRPC_STORE_OUTBOX_PENDING
		    ? queued
		    : a.state[i] >= 0 ? refused : NULL;

		if (into != NULL)
			ref_domains_add(ctx, into, outs->v[i].domain);
	}
}
