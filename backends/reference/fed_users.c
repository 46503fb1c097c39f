/*
 * The federation Users service (Wire's Brig federation API) on SQLite:
 * lookups and searches under the asking domain's search policy, client
 * lists, prekey claims, remote connection steps and deleted-user notices.
 */
#include <string.h>

#include "fedrpc/federation/v1/users.fedrpc.h"
#include "backends/sqlite/sq.h"

fedrpc_adapter_search_policy
sq_policy(sq_adapter *a, const char *origin)
{
	fedrpc_adapter_search_policy p;

	if (a->env.search_policy == NULL || origin == NULL)
		return FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH;
	p = a->env.search_policy(a->env.search_policy_arg, origin);
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
check_our_users(sq_adapter *a, adp_qid *const *users, size_t n,
    const char *what, size_t min, fedrpc_status *st)
{
	if (check_list(n, what, min, st) != FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < n; i++)
		if (adp_check_ours(users[i], a->domain, what, st) != FEDRPC_OK)
			return st->code;
	return adp_check_unique(users, n, what, st);
}

static fedrpc_code
h_get_user_by_handle(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetUserByHandleRequest *req,
    Fedrpc__Federation__V1__GetUserByHandleResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	sq_user     u;
	int         found;
	fedrpc_code rc;

	SQ_FED_CHECK(a, ctx, st);
	if (!adp_handle_valid(req->handle))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "handle: '%.64s' is not 2 to 256 characters of [a-z0-9_.-]",
		    req->handle ? req->handle : "");
	if (sq_policy(a, fedrpc_ctx_origin_domain(ctx)) ==
	    FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH)
		return FEDRPC_OK;
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	found = sq_user_by_handle(c, ctx, req->handle, &u, st);
	rc    = found < 0 ? st->code : FEDRPC_OK;
	if (found > 0 &&
	    (resp->profile = sq_user_profile(ctx, a->domain, &u)) == NULL)
		rc = SQ_NOMEM(st);
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_get_users_by_ids(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetUsersByIdsRequest *req,
    Fedrpc__Federation__V1__GetUsersByIdsResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	fedrpc_code rc;

	SQ_FED_CHECK(a, ctx, st);
	if (check_our_users(a, req->users, req->n_users, "users", 0, st) !=
	    FEDRPC_OK)
		return st->code;
	if ((resp->profiles = adp_ptrs(ctx, req->n_users)) == NULL)
		return SQ_NOMEM(st);
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	for (size_t i = 0; i < req->n_users && rc == FEDRPC_OK; i++) {
		sq_user u;
		int     found = sq_user_get(c, ctx, req->users[i]->id, &u, st);

		if (found < 0)
			rc = st->code;
		else if (found > 0 &&
		    (resp->profiles[resp->n_profiles++] =
		            sq_user_profile(ctx, a->domain, &u)) == NULL)
			rc = SQ_NOMEM(st);
	}
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_search_users(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__SearchUsersRequest *req,
    Fedrpc__Federation__V1__SearchUsersResponse *resp, fedrpc_status *st)
{
	sq_adapter                  *a = impl;
	sq_conn                     *c;
	fedrpc_code                  rc;
	fedrpc_adapter_search_policy p;

	SQ_FED_CHECK(a, ctx, st);
	if (req->term == NULL || strlen(req->term) > 256)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "term: at most 256 bytes");
	p                   = sq_policy(a, fedrpc_ctx_origin_domain(ctx));
	resp->search_policy = p;
	if (p == FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH)
		return FEDRPC_OK;
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	rc = sq_user_search(c, ctx, a->domain, req->term,
	    p == FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH,
	    &resp->contacts, &resp->n_contacts, st);
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_get_user_clients(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetUserClientsRequest *req,
    Fedrpc__Federation__V1__GetUserClientsResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	fedrpc_code rc;

	SQ_FED_CHECK(a, ctx, st);
	if (check_our_users(a, req->users, req->n_users, "users", 0, st) !=
	    FEDRPC_OK)
		return st->code;
	if ((resp->users = adp_ptrs(ctx, req->n_users)) == NULL)
		return SQ_NOMEM(st);
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	for (size_t i = 0; i < req->n_users && rc == FEDRPC_OK; i++) {
		Fedrpc__Federation__V1__UserPubClients *upc;
		sq_user                                 u;
		int found = sq_user_get(c, ctx, req->users[i]->id, &u, st);

		if (found < 0) {
			rc = st->code;
			break;
		}
		if (found == 0)
			continue;
		if ((upc = fedrpc_ctx_alloc(ctx, sizeof(*upc))) == NULL) {
			rc = SQ_NOMEM(st);
			break;
		}
		fedrpc__federation__v1__user_pub_clients__init(upc);
		upc->user = req->users[i];
		rc = sq_client_list(c, ctx, u.id, &upc->clients,
		    &upc->n_clients, st);
		resp->users[resp->n_users++] = upc;
	}
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_claim_prekey(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__ClaimPrekeyRequest *req,
    Fedrpc__Federation__V1__ClaimPrekeyResponse *resp, fedrpc_status *st)
{
	sq_adapter       *a = impl;
	sq_conn          *c;
	sq_client_prekey *cp;
	fedrpc_code       rc;

	SQ_FED_CHECK(a, ctx, st);
	if (adp_check_ours(req->user, a->domain, "user", st) != FEDRPC_OK)
		return st->code;
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((cp = sq_claim_one(c, ctx, req->user->id, req->client, st)) == NULL)
		rc = st->code;
	else if (cp->prekey != NULL)
		resp->prekey = cp;
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_claim_prekey_bundle(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__ClaimPrekeyBundleRequest *req,
    Fedrpc__Federation__V1__ClaimPrekeyBundleResponse *resp,
    fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	fedrpc_code rc;

	SQ_FED_CHECK(a, ctx, st);
	if (adp_check_ours(req->user, a->domain, "user", st) != FEDRPC_OK)
		return st->code;
	resp->user = req->user;
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	rc = sq_claim_bundle(
	    c, ctx, req->user->id, &resp->clients, &resp->n_clients, st);
	return sq_end(a->db, c, rc, st);
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

static fedrpc_code
h_claim_multi_prekey_bundle(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__ClaimMultiPrekeyBundleRequest *req,
    Fedrpc__Federation__V1__ClaimMultiPrekeyBundleResponse *resp,
    fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	adp_qid   **users;
	fedrpc_code rc;

	SQ_FED_CHECK(a, ctx, st);
	if (check_list(req->n_users, "users", 0, st) != FEDRPC_OK)
		return st->code;
	if ((users = adp_ptrs(ctx, req->n_users)) == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < req->n_users; i++) {
		if (adp_check_ours(req->users[i]->user, a->domain, "users",
		        st) != FEDRPC_OK ||
		    check_client_list(req->users[i], st) != FEDRPC_OK)
			return st->code;
		users[i] = req->users[i]->user;
	}
	if (adp_check_unique(users, req->n_users, "users", st) != FEDRPC_OK)
		return st->code;
	if ((resp->users = adp_ptrs(ctx, req->n_users)) == NULL)
		return SQ_NOMEM(st);
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	for (size_t i = 0; i < req->n_users && rc == FEDRPC_OK; i++) {
		const Fedrpc__Federation__V1__UserClientIds *u = req->users[i];
		Fedrpc__Federation__V1__UserClientPrekeys   *out;

		if ((out = fedrpc_ctx_alloc(ctx, sizeof(*out))) == NULL) {
			rc = SQ_NOMEM(st);
			break;
		}
		fedrpc__federation__v1__user_client_prekeys__init(out);
		if ((out->clients = adp_ptrs(ctx, u->n_clients)) == NULL) {
			rc = SQ_NOMEM(st);
			break;
		}
		out->user = u->user;
		for (size_t j = 0; j < u->n_clients; j++) {
			sq_client_prekey *cp =
			    sq_claim_one(c, ctx, u->user->id, u->clients[j], st);

			if (cp == NULL) {
				rc = st->code;
				break;
			}
			out->clients[out->n_clients++] = cp;
		}
		resp->users[resp->n_users++] = out;
	}
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_send_connection_action(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__SendConnectionActionRequest *req,
    Fedrpc__Federation__V1__SendConnectionActionResponse *resp,
    fedrpc_status *st)
{
	sq_adapter   *a = impl;
	sq_conn      *c;
	sq_user       u;
	adp_relation  old, now_rel;
	adp_conn_step step;
	int           found;
	fedrpc_code   rc;

	SQ_FED_CHECK(a, ctx, st);
	if (adp_check_origin(req->from, ctx, "from", st) != FEDRPC_OK ||
	    adp_check_ours(req->to, a->domain, "to", st) != FEDRPC_OK)
		return st->code;
	switch (req->action) {
	case FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT:
		step = ADP_STEP_RC;
		break;
	case FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_RESCIND:
		step = ADP_STEP_RR;
		break;
	default:
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "action: CONNECT or RESCIND required");
	}
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((found = sq_user_get(c, ctx, req->to->id, &u, st)) < 0) {
		rc = st->code;
		goto out;
	}
	if (found == 0 || u.deleted) {
		resp->result = FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_USER_NOT_FOUND;
		goto out;
	}
	if ((rc = sq_conn_get(c, u.id, req->from, &old, st)) != FEDRPC_OK)
		goto out;
	now_rel = adp_relation_step(old, step);
	if ((rc = sq_conn_set(c, ctx, a->domain, u.id, req->from, now_rel,
	         adp_now_ms(), NULL, st)) != FEDRPC_OK)
		goto out;
	resp->result = FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_RESPONSE__RESULT__RESULT_OK;
	resp->reaction =
	    adp_relation_wants(now_rel)
		? FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT
		: FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_UNSPECIFIED;
out:
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_on_user_deleted_connections(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnUserDeletedConnectionsRequest *req,
    Fedrpc__Federation__V1__OnUserDeletedConnectionsResponse *resp,
    fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	int64_t     now = adp_now_ms();
	fedrpc_code rc;

	(void) resp;
	SQ_FED_CHECK(a, ctx, st);
	if (adp_check_origin(req->user, ctx, "user", st) != FEDRPC_OK ||
	    check_our_users(a, req->connections, req->n_connections,
	        "connections", 1, st) != FEDRPC_OK)
		return st->code;
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	for (size_t i = 0; i < req->n_connections && rc == FEDRPC_OK; i++) {
		const char  *local = req->connections[i]->id;
		adp_relation rel;

		if ((rc = sq_conn_get(c, local, req->user, &rel, st)) !=
		    FEDRPC_OK)
			break;
		if (rel == ADP_REL_ACCEPTED) {
			sq_event                      *ev = sq_event_new(ctx, now);
			Fedrpc__Local__V1__UserDeleted ud =
			    FEDRPC__LOCAL__V1__USER_DELETED__INIT;

			if (ev == NULL) {
				rc = SQ_NOMEM(st);
				break;
			}
			ud.user           = req->user;
			ev->payload_case  = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_USER_DELETED;
			ev->user_deleted  = &ud;
			if ((rc = sq_inbox_user_event(c, local, ev, st)) !=
			    FEDRPC_OK)
				break;
		}
		rc = sq_conn_delete(c, local, req->user, st);
	}
	return sq_end(a->db, c, rc, st);
}

fedrpc_code
sq_register_fed_users(fedrpc_server *srv, sq_adapter *a, fedrpc_status *st)
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

	return fedrpc_federation_v1_users_register(srv, &h, a, st);
}
