/*
 * Inbox events: a fedrpc.local.v1.Event is packed once (without its id) and
 * handed to the store as opaque bytes for each inbox it goes to (a
 * message's fan-out as one batch); reading an inbox unpacks them and sets
 * each event's id in that inbox. The page size rules of FetchInbox live
 * here too.
 */
#include "backends/reference/service.h"

#define FETCH_DEFAULT 100
#define FETCH_MAX 1000

ref_event *
ref_event_new(fedrpc_ctx *ctx, int64_t now)
{
	ref_event *ev = fedrpc_ctx_alloc(ctx, sizeof(*ev));

	if (ev != NULL) {
		fedrpc__local__v1__event__init(ev);
		ev->time_unix_ms = now;
	}
	return ev;
}

/* The event packed in the arena; false when out of memory. */
static bool
pack(fedrpc_ctx *ctx, const ref_event *ev, ProtobufCBinaryData *out)
{
	out->len  = protobuf_c_message_get_packed_size(&ev->base);
	out->data = fedrpc_ctx_alloc(ctx, out->len ? out->len : 1);
	if (out->data == NULL)
		return false;
	protobuf_c_message_pack(&ev->base, out->data);
	return true;
}

fedrpc_code
ref_inbox_user(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *user,
    const ref_event *ev, fedrpc_status *st)
{
	ProtobufCBinaryData data;

	if (!pack(ctx, ev, &data))
		return REF_NOMEM(st);
	return tx->ops->inbox_append_user(tx, user, &data, st);
}

bool
ref_inbox_batch_init(fedrpc_ctx *ctx, ref_inbox_batch *b, size_t cap)
{
	b->n   = 0;
	b->cap = cap;
	b->v   = fedrpc_ctx_alloc(ctx, (cap ? cap : 1) * sizeof(*b->v));
	return b->v != NULL;
}

fedrpc_code
ref_inbox_batch_add(fedrpc_ctx *ctx, ref_inbox_batch *b, const char *user,
    uint64_t client, const ref_event *ev, fedrpc_status *st)
{
	fedrpc_store_inbox_entry *e;

	if (b->n == b->cap)
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "inbox batch: more than the %zu entries counted", b->cap);
	e = &b->v[b->n];
	if (!pack(ctx, ev, &e->event))
		return REF_NOMEM(st);
	e->user   = user;
	e->client = client;
	b->n++;
	return FEDRPC_OK;
}

fedrpc_code
ref_inbox_batch_append(fedrpc_store_tx *tx, const ref_inbox_batch *b,
    fedrpc_status *st)
{
	if (b->n == 0)
		return FEDRPC_OK;
	return tx->ops->inbox_append_clients(tx, b->v, b->n, NULL, st);
}

fedrpc_code
ref_inbox_read(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint64_t since, uint32_t limit, ref_event ***out,
    size_t *n, bool *more, fedrpc_status *st)
{
	fedrpc_store_event *evs;
	size_t              n_evs;

	*out = NULL;
	*n   = 0;
	if (limit == 0)
		limit = FETCH_DEFAULT;
	if (limit > FETCH_MAX)
		limit = FETCH_MAX;
	if (tx->ops->inbox_fetch(tx, user, client, since, limit, &evs, &n_evs,
	        more, st) != FEDRPC_OK)
		return st->code;
	if ((*out = adp_ptrs(ctx, n_evs)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n_evs; i++) {
		ref_event *ev = (ref_event *) protobuf_c_message_unpack(
		    &fedrpc__local__v1__event__descriptor,
		    fedrpc_ctx_allocator(ctx), evs[i].data.len, evs[i].data.data);

		if (ev == NULL)
			return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
			    "inbox event %llu of %s/%llx cannot be decoded",
			    (unsigned long long) evs[i].id, user,
			    (unsigned long long) client);
		ev->id    = evs[i].id;
		(*out)[i] = ev;
	}
	*n = n_evs;
	return FEDRPC_OK;
}
