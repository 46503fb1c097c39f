/*
 * Clients and prekeys as the service hands them out: client lists in
 * ascending id order, and prekey claims, where a client's last-resort
 * prekey (ADP_LAST_PREKEY) is handed out again and never deleted.
 */
#include "backends/reference/service.h"

fedrpc_code
ref_pub_clients(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *user,
    Fedrpc__Federation__V1__PubClient ***out, size_t *n, fedrpc_status *st)
{
	fedrpc_store_client *cl;
	size_t               n_cl;

	*out = NULL;
	*n   = 0;
	if (tx->ops->client_list(tx, user, &cl, &n_cl, st) != FEDRPC_OK)
		return st->code;
	if ((*out = adp_ptrs(ctx, n_cl)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n_cl; i++) {
		Fedrpc__Federation__V1__PubClient *pc =
		    fedrpc_ctx_alloc(ctx, sizeof(*pc));

		if (pc == NULL)
			return REF_NOMEM(st);
		fedrpc__federation__v1__pub_client__init(pc);
		pc->id           = cl[i].id;
		pc->client_class = cl[i].client_class;
		(*out)[i]        = pc;
	}
	*n = n_cl;
	return FEDRPC_OK;
}

fedrpc_code
ref_client_ids(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *user,
    uint64_t **out, size_t *n, fedrpc_status *st)
{
	fedrpc_store_client *cl;

	*out = NULL;
	*n   = 0;
	if (tx->ops->client_list(tx, user, &cl, n, st) != FEDRPC_OK)
		return st->code;
	if ((*out = fedrpc_ctx_alloc(ctx, (*n ? *n : 1) * sizeof(uint64_t))) ==
	    NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = cl[i].id;
	return FEDRPC_OK;
}

ref_client_prekey *
ref_claim_one(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *user,
    uint64_t client, fedrpc_status *st)
{
	ref_client_prekey  *cp = fedrpc_ctx_alloc(ctx, sizeof(*cp));
	fedrpc_store_prekey pk;
	bool                found;

	if (cp == NULL) {
		REF_NOMEM(st);
		return NULL;
	}
	fedrpc__federation__v1__client_prekey__init(cp);
	cp->client = client;
	if (tx->ops->prekey_claim(tx, user, client, ADP_LAST_PREKEY, &pk,
	        &found, st) != FEDRPC_OK)
		return NULL;
	if (!found)
		return cp;
	if ((cp->prekey = fedrpc_ctx_alloc(ctx, sizeof(*cp->prekey))) == NULL) {
		REF_NOMEM(st);
		return NULL;
	}
	fedrpc__federation__v1__prekey__init(cp->prekey);
	cp->prekey->id  = pk.id;
	cp->prekey->key = pk.key;
	return cp;
}

fedrpc_code
ref_claim_bundle(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *user,
    ref_client_prekey ***out, size_t *n, fedrpc_status *st)
{
	uint64_t *ids;
	size_t    nids;

	*out = NULL;
	*n   = 0;
	if (ref_client_ids(ctx, tx, user, &ids, &nids, st) != FEDRPC_OK)
		return st->code;
	if ((*out = adp_ptrs(ctx, nids)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < nids; i++) {
		ref_client_prekey *cp = ref_claim_one(ctx, tx, user, ids[i], st);

		if (cp == NULL)
			return st->code;
		if (cp->prekey != NULL)
			(*out)[(*n)++] = cp;
	}
	return FEDRPC_OK;
}
