/*
 * The federation Users service (Wire's Brig federation API): lookups and
 * searches under the asking domain's search policy, client lists, prekey
 * claims, remote connection steps and deleted-user notices.
 */
#include <string.h>

#include "fedrpc/federation/v1/users.fedrpc.h"
#include "backends/reference/once.h"
#include "backends/reference/service.h"

fedrpc_adapter_search_policy
ref_policy(ref_svc *s, const char *origin)
{
	fedrpc_adapter_search_policy p;

	if (s->env.search_policy == NULL || origin == NULL)
		return FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH;
	p = s->env.search_policy(s->env.search_policy_arg, origin);
	if (p < FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH ||
	    p > FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH)
		p = FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH;
	return p;
}

static fedrpc_code
check_list(size_t n, const char *what, size_t min, fedrpc_status *st)
{
	if (n > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: %zu entries, at most %d allowed", what, n,
		    ADP_MAX_LIST);
	if (n < min)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: at least %zu entries needed", what, min);
	return FEDRPC_OK;
}

/* Users that must be ours, without duplicates. */
static fedrpc_code
check_our_users(ref_svc *s, adp_qid *const *users, size_t n,
    const char *what, size_t min, fedrpc_status *st)
{
	if (check_list(n, what, min, st) != FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < n; i++)
		if (adp_check_ours(users[i], s->domain, what, st) != FEDRPC_OK)
			return st->code;
	return adp_check_unique(users, n, what, st);
}

static fedrpc_code
tx_get_user_by_handle(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__GetUserByHandleRequest *req  = c->req;
	Fedrpc__Federation__V1__GetUserByHandleResponse      *resp = c->resp;

	return ref_profile_by_handle(
	    c->s, c->ctx, tx, req->handle, &resp->profile, st);
}

static fedrpc_code
h_get_user_by_handle(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetUserByHandleRequest *req,
    Fedrpc__Federation__V1__GetUserByHandleResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (!fedrpc_handle_valid(req->handle))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "handle: '%.64s' is not 2 to 256 characters of [a-z0-9_.-]",
		    req->handle ? req->handle : "");
	if (ref_policy(s, fedrpc_ctx_origin_domain(ctx)) ==
	    FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH)
		return FEDRPC_OK;
	return ref_read(s, ctx, tx_get_user_by_handle, &c, st);
}

static fedrpc_code
tx_get_users_by_ids(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__GetUsersByIdsRequest *req  = c->req;
	Fedrpc__Federation__V1__GetUsersByIdsResponse      *resp = c->resp;

	resp->n_profiles = 0;
	for (size_t i = 0; i < req->n_users; i++) {
		fedrpc_store_user u;
		bool              found;

		if (tx->ops->user_get(tx, req->users[i]->id, &u, &found, st) !=
		    FEDRPC_OK)
			return st->code;
		if (!found)
			continue;
		if ((resp->profiles[resp->n_profiles] =
		            ref_profile_of(c->ctx, c->s->domain, &u)) == NULL)
			return REF_NOMEM(st);
		resp->n_profiles++;
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_get_users_by_ids(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetUsersByIdsRequest *req,
    Fedrpc__Federation__V1__GetUsersByIdsResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (check_our_users(s, req->users, req->n_users, "users", 0, st) !=
	    FEDRPC_OK)
		return st->code;
	if ((resp->profiles = adp_ptrs(ctx, req->n_users)) == NULL)
		return REF_NOMEM(st);
	return ref_read(s, ctx, tx_get_users_by_ids, &c, st);
}

/* Searches under the policy in `full`. */
typedef struct search_tx {
	ref_call c;
	bool     full;
} search_tx;

static fedrpc_code
tx_search_users(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	search_tx *a = arg;
	const Fedrpc__Federation__V1__SearchUsersRequest *req  = a->c.req;
	Fedrpc__Federation__V1__SearchUsersResponse      *resp = a->c.resp;

	return ref_user_search(a->c.s, a->c.ctx, tx, req->term, a->full,
	    &resp->contacts, &resp->n_contacts, st);
}

static fedrpc_code
h_search_users(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__SearchUsersRequest *req,
    Fedrpc__Federation__V1__SearchUsersResponse *resp, fedrpc_status *st)
{
	ref_svc                     *s = impl;
	search_tx                    a = {{s, ctx, req, resp}, false};
	fedrpc_adapter_search_policy p;

	REF_FED_CHECK(s, ctx, st);
	if (req->term == NULL || strlen(req->term) > 256)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "term: at most 256 bytes");
	p                   = ref_policy(s, fedrpc_ctx_origin_domain(ctx));
	resp->search_policy = p;
	if (p == FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH)
		return FEDRPC_OK;
	a.full =
	    p == FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH;
	return ref_read(s, ctx, tx_search_users, &a, st);
}

static fedrpc_code
tx_get_user_clients(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__GetUserClientsRequest *req  = c->req;
	Fedrpc__Federation__V1__GetUserClientsResponse      *resp = c->resp;

	resp->n_users = 0;
	for (size_t i = 0; i < req->n_users; i++) {
		Fedrpc__Federation__V1__UserPubClients *upc;
		fedrpc_store_user                       u;
		bool                                    found;

		if (tx->ops->user_get(tx, req->users[i]->id, &u, &found, st) !=
		    FEDRPC_OK)
			return st->code;
		if (!found)
			continue;
		if ((upc = fedrpc_ctx_alloc(c->ctx, sizeof(*upc))) == NULL)
			return REF_NOMEM(st);
		fedrpc__federation__v1__user_pub_clients__init(upc);
		upc->user = req->users[i];
		if (ref_pub_clients(c->ctx, tx, u.id, &upc->clients,
		        &upc->n_clients, st) != FEDRPC_OK)
			return st->code;
		resp->users[resp->n_users++] = upc;
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_get_user_clients(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetUserClientsRequest *req,
    Fedrpc__Federation__V1__GetUserClientsResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (check_our_users(s, req->users, req->n_users, "users", 0, st) !=
	    FEDRPC_OK)
		return st->code;
	if ((resp->users = adp_ptrs(ctx, req->n_users)) == NULL)
		return REF_NOMEM(st);
	return ref_read(s, ctx, tx_get_user_clients, &c, st);
}

static fedrpc_code
tx_claim_prekey(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__ClaimPrekeyRequest *req  = c->req;
	Fedrpc__Federation__V1__ClaimPrekeyResponse      *resp = c->resp;
	ref_client_prekey                                *cp;

	resp->prekey = NULL;
	if ((cp = ref_claim_one(c->ctx, tx, req->user->id, req->client, st)) ==
	    NULL)
		return st->code;
	if (cp->prekey != NULL)
		resp->prekey = cp;
	return FEDRPC_OK;
}

static fedrpc_code
h_claim_prekey(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__ClaimPrekeyRequest *req,
    Fedrpc__Federation__V1__ClaimPrekeyResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_ours(req->user, s->domain, "user", st) != FEDRPC_OK)
		return st->code;
	return ref_write(s, ctx, tx_claim_prekey, &c, st);
}

static fedrpc_code
tx_claim_prekey_bundle(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__ClaimPrekeyBundleRequest *req  = c->req;
	Fedrpc__Federation__V1__ClaimPrekeyBundleResponse      *resp = c->resp;

	return ref_claim_bundle(c->ctx, tx, req->user->id, &resp->clients,
	    &resp->n_clients, st);
}

static fedrpc_code
h_claim_prekey_bundle(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__ClaimPrekeyBundleRequest *req,
    Fedrpc__Federation__V1__ClaimPrekeyBundleResponse *resp,
    fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_ours(req->user, s->domain, "user", st) != FEDRPC_OK)
		return st->code;
	resp->user = req->user;
	return ref_write(s, ctx, tx_claim_prekey_bundle, &c, st);
}

static fedrpc_code
check_client_list(const Fedrpc__Federation__V1__UserClientIds *u,
    fedrpc_status *st)
{
	if (u->n_clients > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "clients of %s: at most %d", u->user->id, ADP_MAX_LIST);
	for (size_t j = 1; j < u->n_clients; j++)
		for (size_t k = 0; k < j; k++)
			if (u->clients[j] == u->clients[k])
				return fedrpc_status_set(st,
				    FEDRPC_INVALID_ARGUMENT,
				    "clients of %s: %llx appears twice",
				    u->user->id,
				    (unsigned long long) u->clients[j]);
	return FEDRPC_OK;
}

/* One prekey for each listed client of each user. */
static fedrpc_code
tx_claim_multi(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__ClaimMultiPrekeyBundleRequest *req = c->req;
	Fedrpc__Federation__V1__ClaimMultiPrekeyBundleResponse *resp = c->resp;

	resp->n_users = 0;
	for (size_t i = 0; i < req->n_users; i++) {
		const Fedrpc__Federation__V1__UserClientIds *u = req->users[i];
		Fedrpc__Federation__V1__UserClientPrekeys   *out;

		if ((out = fedrpc_ctx_alloc(c->ctx, sizeof(*out))) == NULL)
			return REF_NOMEM(st);
		fedrpc__federation__v1__user_client_prekeys__init(out);
		if ((out->clients = adp_ptrs(c->ctx, u->n_clients)) == NULL)
			return REF_NOMEM(st);
		out->user = u->user;
		for (size_t j = 0; j < u->n_clients; j++) {
			ref_client_prekey *cp = ref_claim_one(
			    c->ctx, tx, u->user->id, u->clients[j], st);

			if (cp == NULL)
				return st->code;
			out->clients[out->n_clients++] = cp;
		}
		resp->users[resp->n_users++] = out;
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_claim_multi_prekey_bundle(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__ClaimMultiPrekeyBundleRequest *req,
    Fedrpc__Federation__V1__ClaimMultiPrekeyBundleResponse *resp,
    fedrpc_status *st)
{
	ref_svc  *s = impl;
	ref_call  c = {s, ctx, req, resp};
	adp_qid **users;

	REF_FED_CHECK(s, ctx, st);
	if (check_list(req->n_users, "users", 0, st) != FEDRPC_OK)
		return st->code;
	if ((users = adp_ptrs(ctx, req->n_users)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < req->n_users; i++) {
		if (adp_check_ours(req->users[i]->user, s->domain, "users",
		        st) != FEDRPC_OK ||
		    check_client_list(req->users[i], st) != FEDRPC_OK)
			return st->code;
		users[i] = req->users[i]->user;
	}
	if (adp_check_unique(users, req->n_users, "users", st) != FEDRPC_OK)
		return st->code;
	if ((resp->users = adp_ptrs(ctx, req->n_users)) == NULL)
		return REF_NOMEM(st);
	return ref_write(s, ctx, tx_claim_multi, &c, st);
}

/* A remote user's connection step towards one of ours. */
typedef struct action_tx {
	ref_call      c;
	adp_conn_step step;
} action_tx;

static fedrpc_code
tx_connection_action(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	action_tx *a = arg;
	const Fedrpc__Federation__V1__SendConnectionActionRequest *req = a->c.req;
	Fedrpc__Federation__V1__SendConnectionActionResponse *resp = a->c.resp;
	adp_relation old, now_rel;
	bool         live;

	resp->result   = FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_USER_NOT_FOUND;
	resp->reaction = FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_UNSPECIFIED;
	if (ref_user_live(tx, req->to->id, &live, st) != FEDRPC_OK)
		return st->code;
	if (!live)
		return FEDRPC_OK;
	if (ref_side_get(tx, req->to->id, req->from, &old, st) != FEDRPC_OK)
		return st->code;
	now_rel = adp_relation_step(old, a->step);
	if (ref_side_set(a->c.s, a->c.ctx, tx, req->to->id, req->from, now_rel,
	        adp_now_ms(), NULL, st) != FEDRPC_OK)
		return st->code;
	resp->result = FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_OK;
	if (adp_relation_wants(now_rel))
		resp->reaction = FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT;
	return FEDRPC_OK;
}

static fedrpc_code
h_send_connection_action(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__SendConnectionActionRequest *req,
    Fedrpc__Federation__V1__SendConnectionActionResponse *resp,
    fedrpc_status *st)
{
	ref_svc  *s = impl;
	action_tx a = {{s, ctx, req, resp}, ADP_STEP_RC};

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_origin(req->from, ctx, "from", st) != FEDRPC_OK ||
	    adp_check_ours(req->to, s->domain, "to", st) != FEDRPC_OK)
		return st->code;
	switch (req->action) {
	case FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT:
		a.step = ADP_STEP_RC;
		break;
	case FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_RESCIND:
		a.step = ADP_STEP_RR;
		break;
	default:
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "action: CONNECT or RESCIND required");
	}
	return ref_write_once(s, ctx, &resp->base, tx_connection_action, &a, st);
}

/* Our users connected to a deleted remote user hear of it; the sides go. */
static fedrpc_code
tx_user_deleted_connections(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__OnUserDeletedConnectionsRequest *req =
	    c->req;
	int64_t now = adp_now_ms();

	for (size_t i = 0; i < req->n_connections; i++) {
		const char  *local = req->connections[i]->id;
		adp_relation rel;

		if (ref_side_get(tx, local, req->user, &rel, st) != FEDRPC_OK)
			return st->code;
		if (rel == ADP_REL_ACCEPTED) {
			ref_event                     *ev = ref_event_new(c->ctx, now);
			Fedrpc__Local__V1__UserDeleted ud =
			    FEDRPC__LOCAL__V1__USER_DELETED__INIT;

			if (ev == NULL)
				return REF_NOMEM(st);
			ud.user          = req->user;
			ev->payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_USER_DELETED;
			ev->user_deleted = &ud;
			if (ref_inbox_user(c->ctx, tx, local, ev, st) != FEDRPC_OK)
				return st->code;
		}
		if (tx->ops->connection_delete(tx, local, req->user, st) !=
		    FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_on_user_deleted_connections(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnUserDeletedConnectionsRequest *req,
    Fedrpc__Federation__V1__OnUserDeletedConnectionsResponse *resp,
    fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_origin(req->user, ctx, "user", st) != FEDRPC_OK ||
	    check_our_users(s, req->connections, req->n_connections,
	        "connections", 1, st) != FEDRPC_OK)
		return st->code;
	return ref_write_once(s, ctx, &resp->base, tx_user_deleted_connections, &c, st);
}

fedrpc_code
ref_register_fed_users(fedrpc_server *srv, ref_svc *s, fedrpc_status *st)
{
	static const fedrpc_federation_v1_users_handlers h = {
	    .get_user_by_handle          = h_get_user_by_handle,
	    .get_users_by_ids            = h_get_users_by_ids,
	    .search_users                = h_search_users,
	    .get_user_clients            = h_get_user_clients,
	    .claim_prekey                = h_claim_prekey,
	    .claim_prekey_bundle         = h_claim_prekey_bundle,
	    .claim_multi_prekey_bundle   = h_claim_multi_prekey_bundle,
	    .send_connection_action      = h_send_connection_action,
	    .on_user_deleted_connections = h_on_user_deleted_connections,
	};

	return fedrpc_federation_v1_users_register(srv, &h, s, st);
}
