/*
 * Connection sides as the service keeps them: a side that does not exist
 * reads as CANCELLED, and a change of side puts a ConnectionUpdated event
 * in every inbox of the side's user (docs/federation-api.md
 * "Connections").
 */
#include "backends/reference/service.h"

fedrpc_code
ref_side_get(fedrpc_store_tx *tx, const char *from, const adp_qid *to,
    adp_relation *rel, fedrpc_status *st)
{
	int  r;
	bool found;

	*rel = ADP_REL_CANCELLED;
	if (tx->ops->connection_get(tx, from, to, &r, &found, st) != FEDRPC_OK)
		return st->code;
	if (found)
		*rel = (adp_relation) r;
	return FEDRPC_OK;
}

static Fedrpc__Local__V1__Connection *
connection_msg(fedrpc_ctx *ctx, const char *domain, const char *from,
    const adp_qid *to, adp_relation rel, int64_t ms)
{
	Fedrpc__Local__V1__Connection *m = fedrpc_ctx_alloc(ctx, sizeof(*m));

	if (m == NULL)
		return NULL;
	fedrpc__local__v1__connection__init(m);
	if ((m->from = adp_qid_new(ctx, domain, from)) == NULL ||
	    (m->to = adp_qid_dup(ctx, to)) == NULL)
		return NULL;
	m->relation            = rel;
	m->last_update_unix_ms = ms;
	return m;
}

static fedrpc_code
updated_event(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *user,
    Fedrpc__Local__V1__Connection *m, int64_t now, fedrpc_status *st)
{
	ref_event                           *ev = ref_event_new(ctx, now);
	Fedrpc__Local__V1__ConnectionUpdated cu =
	    FEDRPC__LOCAL__V1__CONNECTION_UPDATED__INIT;

	if (ev == NULL)
		return REF_NOMEM(st);
	cu.connection          = m;
	ev->payload_case       = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED;
	ev->connection_updated = &cu;
	return ref_inbox_user(ctx, tx, user, ev, st);
}

fedrpc_code
ref_side_set(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *from, const adp_qid *to, adp_relation rel, int64_t now,
    Fedrpc__Local__V1__Connection **out, fedrpc_status *st)
{
	Fedrpc__Local__V1__Connection *m;
	int                            old;
	bool                           have;

	if (tx->ops->connection_get(tx, from, to, &old, &have, st) !=
	    FEDRPC_OK)
		return st->code;
	if ((m = connection_msg(ctx, s->domain, from, to, rel, now)) == NULL)
		return REF_NOMEM(st);
	if (out != NULL)
		*out = m;
	if (have && old == (int) rel)
		return FEDRPC_OK;
	if (tx->ops->connection_put(tx, from, to, (int) rel, now, st) !=
	    FEDRPC_OK)
		return st->code;
	return updated_event(ctx, tx, from, m, now, st);
}

fedrpc_code
ref_side_list(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *from, Fedrpc__Local__V1__Connection ***out, size_t *n,
    fedrpc_status *st)
{
	fedrpc_store_side *sides;
	size_t             n_sides;

	*out = NULL;
	*n   = 0;
	if (tx->ops->connection_list_from(tx, from, &sides, &n_sides, st) !=
	    FEDRPC_OK)
		return st->code;
	if ((*out = adp_ptrs(ctx, n_sides)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n_sides; i++)
		if (((*out)[i] = connection_msg(ctx, s->domain, from,
		         sides[i].to, (adp_relation) sides[i].relation,
		         sides[i].updated_ms)) == NULL)
			return REF_NOMEM(st);
	*n = n_sides;
	return FEDRPC_OK;
}
