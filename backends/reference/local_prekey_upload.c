/*
 * Topping up a client's one-time prekeys (local Users/AddPrekeys), and how
 * many it has left, which FetchInbox reports: senders starting a session
 * claim one each, and a client that runs out gets only its last-resort
 * key claimed, so it must be told in time to upload more.
 */
#include "backends/reference/service.h"
#include "fedrpc/local/v1/users.fedrpc.h"

#define MAX_UPLOAD 100

static fedrpc_code
check_upload(const Fedrpc__Local__V1__AddPrekeysRequest *req,
    fedrpc_status *st)
{
	if (req->n_prekeys < 1 || req->n_prekeys > MAX_UPLOAD)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "prekeys: 1 to %d one-time prekeys required (got %zu)",
		    MAX_UPLOAD, req->n_prekeys);
	for (size_t i = 0; i < req->n_prekeys; i++) {
		if (req->prekeys[i]->id >= ADP_LAST_PREKEY)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "prekeys: id %u is not in 0..65534",
			    req->prekeys[i]->id);
		if (req->prekeys[i]->key.len == 0)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "prekey %u: empty key", req->prekeys[i]->id);
		for (size_t j = 0; j < i; j++)
			if (req->prekeys[j]->id == req->prekeys[i]->id)
				return fedrpc_status_set(st,
				    FEDRPC_INVALID_ARGUMENT,
				    "prekeys: id %u appears twice",
				    req->prekeys[i]->id);
	}
	return FEDRPC_OK;
}

fedrpc_code
ref_prekeys_left(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint32_t *left, bool *low, fedrpc_status *st)
{
	*left = 0;
	*low  = false;
	/* A store written before the count was asked of stores says
	 * nothing, rather than that the client is low. */
	if (tx->ops->prekey_count == NULL)
		return FEDRPC_OK;
	if (tx->ops->prekey_count(tx, user, client, ADP_LAST_PREKEY, left,
	        st) != FEDRPC_OK)
		return st->code;
	*low = *left < REF_PREKEYS_LOW;
	return FEDRPC_OK;
}

static fedrpc_code
tx_add_prekeys(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__AddPrekeysRequest *req  = c->req;
	Fedrpc__Local__V1__AddPrekeysResponse      *resp = c->resp;
	bool        have, low;
	fedrpc_code rc;

	if (ref_user_require(c->s, tx, req->self, "self", st) != FEDRPC_OK ||
	    tx->ops->client_exists(tx, req->self->id, req->client, &have,
	        st) != FEDRPC_OK)
		return st->code;
	if (!have)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "client: %s has no client %llx", req->self->id,
		    (unsigned long long) req->client);
	for (size_t i = 0; i < req->n_prekeys; i++) {
		rc = tx->ops->prekey_insert(tx, req->self->id, req->client,
		    req->prekeys[i]->id, &req->prekeys[i]->key, st);
		if (rc == FEDRPC_STORE_DUPLICATE)
			return fedrpc_status_set(st, FEDRPC_ALREADY_EXISTS,
			    "prekeys: client %llx still has a prekey with id %u",
			    (unsigned long long) req->client,
			    req->prekeys[i]->id);
		if (rc != FEDRPC_OK)
			return rc;
	}
	return ref_prekeys_left(
	    tx, req->self->id, req->client, &resp->prekeys_left, &low, st);
}

fedrpc_code
ref_h_add_prekeys(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AddPrekeysRequest *req,
    Fedrpc__Local__V1__AddPrekeysResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	if (check_upload(req, st) != FEDRPC_OK)
		return st->code;
	return ref_write(s, ctx, tx_add_prekeys, &c, st);
}
