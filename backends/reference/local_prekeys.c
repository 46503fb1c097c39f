/*
 * Claiming prekeys through the local Users service: for each target user
 * one prekey per client (all clients, or those listed), ours in one
 * transaction, other domains' with one ClaimPrekeyBundle per user asking
 * for all clients and one ClaimMultiPrekeyBundle for the rest. Nothing of
 * a domain that fails is reported.
 */
#include <string.h>

#include "backends/reference/service.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

typedef Fedrpc__Federation__V1__UserClientPrekeys ref_ucp;

static ref_ucp *
ucp_new(fedrpc_ctx *ctx, adp_qid *user)
{
	ref_ucp *u = fedrpc_ctx_alloc(ctx, sizeof(*u));

	if (u != NULL) {
		fedrpc__federation__v1__user_client_prekeys__init(u);
		u->user = user;
	}
	return u;
}

/* Claims for the local targets of a request, one slot per target. */
typedef struct claim_tx {
	ref_svc                                    *s;
	fedrpc_ctx                                 *ctx;
	const Fedrpc__Local__V1__ClaimPrekeysRequest *req;
	ref_ucp                                   **res;
} claim_tx;

/* One target: every client's prekey, or the listed clients'. */
static fedrpc_code
claim_target(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const Fedrpc__Federation__V1__UserClientIds *t, ref_ucp *u,
    fedrpc_status *st)
{
	if (t->n_clients == 0)
		return ref_claim_bundle(
		    ctx, tx, t->user->id, &u->clients, &u->n_clients, st);
	if ((u->clients = adp_ptrs(ctx, t->n_clients)) == NULL)
		return REF_NOMEM(st);
	for (size_t j = 0; j < t->n_clients; j++) {
		ref_client_prekey *cp =
		    ref_claim_one(ctx, tx, t->user->id, t->clients[j], st);

		if (cp == NULL)
			return st->code;
		u->clients[u->n_clients++] = cp;
	}
	return FEDRPC_OK;
}

static fedrpc_code
tx_claim_local(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	claim_tx *a = arg;

	for (size_t i = 0; i < a->req->n_targets; i++) {
		const Fedrpc__Federation__V1__UserClientIds *t =
		    a->req->targets[i];

		if (strcmp(t->user->domain, a->s->domain) != 0)
			continue;
		if ((a->res[i] = ucp_new(a->ctx, t->user)) == NULL)
			return REF_NOMEM(st);
		if (claim_target(a->ctx, tx, t, a->res[i], st) != FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}

/* Local targets: claimed in one transaction. */
static fedrpc_code
claim_local(ref_svc *s, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ClaimPrekeysRequest *req, ref_ucp **res,
    fedrpc_status *st)
{
	claim_tx a = {s, ctx, req, res};

	return ref_write(s, ctx, tx_claim_local, &a, st);
}

/* Remote targets of one domain: bundles, then one multi-bundle claim. */
static fedrpc_code
claim_remote(ref_svc *s, fedrpc_ctx *ctx, const char *dom,
    const Fedrpc__Local__V1__ClaimPrekeysRequest *req, ref_ucp **res,
    ref_domains *unreachable, fedrpc_status *st)
{
	fedrpc_channel  *ch;
	fedrpc_call_opts opts;
	fedrpc_status    rst = {0};
	Fedrpc__Federation__V1__ClaimMultiPrekeyBundleRequest mr =
	    FEDRPC__FEDERATION__V1__CLAIM_MULTI_PREKEY_BUNDLE_REQUEST__INIT;

	ref_call_opts(s, &opts);
	if ((ch = ref_remote(s, dom, &rst)) == NULL)
		goto unreachable;
	if ((mr.users = adp_ptrs(ctx, req->n_targets)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < req->n_targets; i++) {
		Fedrpc__Federation__V1__UserClientIds *t = req->targets[i];
		Fedrpc__Federation__V1__ClaimPrekeyBundleRequest br =
		    FEDRPC__FEDERATION__V1__CLAIM_PREKEY_BUNDLE_REQUEST__INIT;
		Fedrpc__Federation__V1__ClaimPrekeyBundleResponse *out, *cp;

		if (strcmp(t->user->domain, dom) != 0)
			continue;
		if (t->n_clients > 0) {
			mr.users[mr.n_users++] = t;
			continue;
		}
		br.user = t->user;
		if (fedrpc_federation_v1_users_claim_prekey_bundle(
		        ch, &br, &out, &opts, &rst) != FEDRPC_OK)
			goto unreachable;
		cp = (Fedrpc__Federation__V1__ClaimPrekeyBundleResponse *)
		    adp_clone(ctx, &out->base);
		protobuf_c_message_free_unpacked(&out->base, NULL);
		if (cp == NULL || (res[i] = ucp_new(ctx, t->user)) == NULL)
			return REF_NOMEM(st);
		res[i]->clients   = cp->clients;
		res[i]->n_clients = cp->n_clients;
	}
	if (mr.n_users > 0) {
		Fedrpc__Federation__V1__ClaimMultiPrekeyBundleResponse *out, *cp;

		if (fedrpc_federation_v1_users_claim_multi_prekey_bundle(
		        ch, &mr, &out, &opts, &rst) != FEDRPC_OK)
			goto unreachable;
		cp = (Fedrpc__Federation__V1__ClaimMultiPrekeyBundleResponse *)
		    adp_clone(ctx, &out->base);
		protobuf_c_message_free_unpacked(&out->base, NULL);
		if (cp == NULL)
			return REF_NOMEM(st);
		for (size_t k = 0; k < cp->n_users; k++) {
			if (cp->users[k]->user == NULL)
				continue;
			for (size_t i = 0; i < req->n_targets; i++)
				if (req->targets[i]->n_clients > 0 &&
				    adp_qid_eq(req->targets[i]->user,
				        cp->users[k]->user))
					res[i] = cp->users[k];
		}
	}
	ref_remote_ok(s, dom);
	return FEDRPC_OK;

unreachable:
	/* Nothing of this domain is reported, even what was claimed. */
	for (size_t i = 0; i < req->n_targets; i++)
		if (strcmp(req->targets[i]->user->domain, dom) == 0)
			res[i] = NULL;
	ref_domains_add(ctx, unreachable, dom);
	fedrpc_status_reset(&rst);
	return FEDRPC_OK;
}

fedrpc_code
ref_h_claim_prekeys(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ClaimPrekeysRequest *req,
    Fedrpc__Local__V1__ClaimPrekeysResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_ucp    **res;
	adp_qid   **users;
	ref_domains  doms, unreachable = {0};
	fedrpc_code rc;

	if (req->n_targets > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "targets: at most %d", ADP_MAX_LIST);
	if ((users = adp_ptrs(ctx, req->n_targets)) == NULL ||
	    (res = adp_ptrs(ctx, req->n_targets)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < req->n_targets; i++) {
		const Fedrpc__Federation__V1__UserClientIds *t = req->targets[i];

		if (adp_check_qid(t->user, "targets", st) != FEDRPC_OK)
			return st->code;
		for (size_t j = 1; j < t->n_clients; j++)
			for (size_t k = 0; k < j; k++)
				if (t->clients[j] == t->clients[k])
					return fedrpc_status_set(st,
					    FEDRPC_INVALID_ARGUMENT,
					    "targets: client %llx of %s "
					    "appears twice",
					    (unsigned long long) t->clients[j],
					    t->user->id);
		users[i] = t->user;
	}
	if (adp_check_unique(users, req->n_targets, "targets", st) !=
	        FEDRPC_OK ||
	    ref_domains_of(ctx, users, req->n_targets, &doms, st) != FEDRPC_OK)
		return st->code;
	for (size_t d = 0; d < doms.n; d++) {
		if (strcmp(doms.v[d], s->domain) == 0)
			rc = claim_local(s, ctx, req, res, st);
		else
			rc = claim_remote(
			    s, ctx, doms.v[d], req, res, &unreachable, st);
		if (rc != FEDRPC_OK)
			return rc;
	}
	if ((resp->users = adp_ptrs(ctx, req->n_targets)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < req->n_targets; i++)
		if (res[i] != NULL)
			resp->users[resp->n_users++] = res[i];
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

