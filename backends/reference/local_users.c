/*
 * The local Users service on SQLite: registering users and clients, and
 * finding users, profiles and prekeys here or, through the federation
 * client stubs, on other domains. DeleteUser lives in local_delete.c.
 */
#include <string.h>

#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "backends/sqlite/sq.h"

#define MAX_PREKEYS 100
/* Attempts at a fresh random id before giving up (collisions are ~never). */
#define ID_ATTEMPTS 8

static fedrpc_code
h_register_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__RegisterUserRequest *req,
    Fedrpc__Local__V1__RegisterUserResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	char        id[37];
	fedrpc_code rc;

	if (!adp_handle_valid(req->handle))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "handle: '%.64s' is not 2 to 256 characters of [a-z0-9_.-]",
		    req->handle ? req->handle : "");
	if (!adp_text_valid(req->name, 1, 128))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "name: 1 to 128 characters of UTF-8 required");
	adp_uuid_new(id);
	if ((resp->user = adp_qid_new(ctx, a->domain, id)) == NULL)
		return SQ_NOMEM(st);
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	rc = sq_user_insert(c, id, req->handle, req->name, adp_now_ms(), st);
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
check_prekey(const Fedrpc__Federation__V1__Prekey *pk, const char *what,
    fedrpc_status *st)
{
	if (pk->key.len == 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s %u: empty key", what, pk->id);
	return FEDRPC_OK;
}

static fedrpc_code
h_add_client(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AddClientRequest *req,
    Fedrpc__Local__V1__AddClientResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	uint64_t    id = 0;
	fedrpc_code rc;

	if (req->n_prekeys < 1 || req->n_prekeys > MAX_PREKEYS)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "prekeys: 1 to %d one-time prekeys required (got %zu)",
		    MAX_PREKEYS, req->n_prekeys);
	for (size_t i = 0; i < req->n_prekeys; i++) {
		if (req->prekeys[i]->id >= ADP_LAST_PREKEY)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "prekeys: id %u is not in 0..65534",
			    req->prekeys[i]->id);
		if (check_prekey(req->prekeys[i], "prekey", st) != FEDRPC_OK)
			return st->code;
		for (size_t j = 0; j < i; j++)
			if (req->prekeys[j]->id == req->prekeys[i]->id)
				return fedrpc_status_set(st,
				    FEDRPC_INVALID_ARGUMENT,
				    "prekeys: id %u appears twice",
				    req->prekeys[i]->id);
	}
	if (req->last_prekey == NULL ||
	    req->last_prekey->id != ADP_LAST_PREKEY)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "last_prekey: required, with id 65535");
	if (check_prekey(req->last_prekey, "last_prekey", st) != FEDRPC_OK)
		return st->code;
	if ((unsigned) req->client_class >
	    FEDRPC__FEDERATION__V1__CLIENT_CLASS__CLIENT_CLASS_LEGALHOLD)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "client_class: unknown value %d", (int) req->client_class);
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) !=
	    FEDRPC_OK)
		goto out;
	for (int i = 0; i < ID_ATTEMPTS; i++) {
		int have;

		id = adp_random_u64();
		if ((have = sq_client_exists(c, req->self->id, id, st)) < 0) {
			rc = st->code;
			goto out;
		}
		if (have == 0)
			break;
		id = 0;
	}
	if (id == 0) {
		rc = fedrpc_status_set(
		    st, FEDRPC_INTERNAL, "no free client id found");
		goto out;
	}
	if ((rc = sq_client_insert(c, req->self->id, id,
	         (int) req->client_class, adp_now_ms(), st)) != FEDRPC_OK)
		goto out;
	for (size_t i = 0; i < req->n_prekeys && rc == FEDRPC_OK; i++)
		rc = sq_prekey_insert(c, req->self->id, id,
		    req->prekeys[i]->id, &req->prekeys[i]->key, st);
	if (rc == FEDRPC_OK)
		rc = sq_prekey_insert(c, req->self->id, id, ADP_LAST_PREKEY,
		    &req->last_prekey->key, st);
	resp->client = id;
out:
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_remove_client(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__RemoveClientRequest *req,
    Fedrpc__Local__V1__RemoveClientResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	fedrpc_code rc;

	(void) resp;
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) ==
	    FEDRPC_OK)
		rc = sq_client_delete(c, req->self->id, req->client, st);
	return sq_end(a->db, c, rc, st);
}

/* A local user by handle; no policy applies to our own users. */
static fedrpc_code
find_local(sq_adapter *a, fedrpc_ctx *ctx, const char *handle,
    sq_profile **out, fedrpc_status *st)
{
	sq_conn    *c;
	sq_user     u;
	int         found;
	fedrpc_code rc;

	*out = NULL;
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	found = sq_user_by_handle(c, ctx, handle, &u, st);
	rc    = found < 0 ? st->code : FEDRPC_OK;
	if (found > 0 && (*out = sq_user_profile(ctx, a->domain, &u)) == NULL)
		rc = SQ_NOMEM(st);
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_find_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__FindUserRequest *req,
    Fedrpc__Local__V1__FindUserResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	const char *q = req->query ? req->query : "";
	char       *handle, *at;
	const char *domain = NULL;

	if (q[0] == '@')
		q++;
	if ((handle = fedrpc_ctx_strdup(ctx, q)) == NULL)
		return SQ_NOMEM(st);
	if ((at = strchr(handle, '@')) != NULL) {
		*at    = '\0';
		domain = at + 1;
		if (!adp_domain_valid(domain))
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "query: '%.64s' is not a lower-case domain",
			    domain);
	}
	if (!adp_handle_valid(handle))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "query: '%.64s' is not a valid handle", handle);
	if (domain == NULL || strcmp(domain, a->domain) == 0)
		return find_local(a, ctx, handle, &resp->profile, st);
	{
		Fedrpc__Federation__V1__GetUserByHandleRequest r =
		    FEDRPC__FEDERATION__V1__GET_USER_BY_HANDLE_REQUEST__INIT;
		Fedrpc__Federation__V1__GetUserByHandleResponse *out = NULL;
		fedrpc_channel                                  *ch;
		fedrpc_call_opts                                 opts;

		if ((ch = sq_remote(a, domain, st)) == NULL)
			return sq_remote_failed(domain, st);
		sq_call_opts(a, &opts);
		r.handle = handle;
		if (fedrpc_federation_v1_users_get_user_by_handle(
		        ch, &r, &out, &opts, st) != FEDRPC_OK)
			return sq_remote_failed(domain, st);
		if (out->profile != NULL)
			resp->profile =
			    (sq_profile *) adp_clone(ctx, &out->profile->base);
		protobuf_c_message_free_unpacked(&out->base, NULL);
		return FEDRPC_OK;
	}
}

static fedrpc_code
h_search_users(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__SearchUsersRequest *req,
    Fedrpc__Local__V1__SearchUsersResponse *resp, fedrpc_status *st)
{
	sq_adapter *a      = impl;
	const char *domain = req->domain ? req->domain : "";
	const char *term   = req->term ? req->term : "";

	if (strlen(term) > 256)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "term: at most 256 bytes");
	if (domain[0] == '\0' || strcmp(domain, a->domain) == 0) {
		sq_conn    *c;
		fedrpc_code rc;

		resp->search_policy =
		    FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH;
		if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
			return rc;
		rc = sq_user_search(c, ctx, a->domain, term, true,
		    &resp->contacts, &resp->n_contacts, st);
		return sq_end(a->db, c, rc, st);
	}
	if (!adp_domain_valid(domain))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "domain: '%.64s' is not a lower-case domain", domain);
	{
		Fedrpc__Federation__V1__SearchUsersRequest r =
		    FEDRPC__FEDERATION__V1__SEARCH_USERS_REQUEST__INIT;
		Fedrpc__Federation__V1__SearchUsersResponse *out = NULL, *cp;
		fedrpc_channel                              *ch;
		fedrpc_call_opts                             opts;

		if ((ch = sq_remote(a, domain, st)) == NULL)
			return sq_remote_failed(domain, st);
		sq_call_opts(a, &opts);
		r.term = (char *) term;
		if (fedrpc_federation_v1_users_search_users(
		        ch, &r, &out, &opts, st) != FEDRPC_OK)
			return sq_remote_failed(domain, st);
		cp = (Fedrpc__Federation__V1__SearchUsersResponse *) adp_clone(
		    ctx, &out->base);
		protobuf_c_message_free_unpacked(&out->base, NULL);
		if (cp == NULL)
			return SQ_NOMEM(st);
		resp->contacts      = cp->contacts;
		resp->n_contacts    = cp->n_contacts;
		resp->search_policy = cp->search_policy;
		return FEDRPC_OK;
	}
}

/* The distinct domains of a list of ids, in first-seen order. */
static fedrpc_code
domains_of(fedrpc_ctx *ctx, adp_qid *const *ids, size_t n, sq_domains *out,
    fedrpc_status *st)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		sq_domains_add(ctx, out, ids[i]->domain);
		if (!sq_domains_has(out, ids[i]->domain))
			return SQ_NOMEM(st);
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_get_profiles(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__GetProfilesRequest *req,
    Fedrpc__Local__V1__GetProfilesResponse *resp, fedrpc_status *st)
{
	sq_adapter  *a = impl;
	sq_profile **found; /* per request entry, NULL: not found */
	sq_domains   doms, unreachable = {0};
	fedrpc_code  rc;

	if (req->n_users > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "users: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_users; i++)
		if (adp_check_qid(req->users[i], "users", st) != FEDRPC_OK)
			return st->code;
	if (adp_check_unique(req->users, req->n_users, "users", st) !=
	    FEDRPC_OK)
		return st->code;
	if ((found = adp_ptrs(ctx, req->n_users)) == NULL ||
	    domains_of(ctx, req->users, req->n_users, &doms, st) != FEDRPC_OK)
		return SQ_NOMEM(st);
	for (size_t d = 0; d < doms.n; d++) {
		const char *dom = doms.v[d];

		if (strcmp(dom, a->domain) == 0) {
			sq_conn *c;

			if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
				return rc;
			for (size_t i = 0; i < req->n_users && rc == FEDRPC_OK;
			     i++) {
				sq_user u;
				int     f;

				if (strcmp(req->users[i]->domain, dom) != 0)
					continue;
				f = sq_user_get(c, ctx, req->users[i]->id, &u, st);
				if (f < 0)
					rc = st->code;
				else if (f > 0 &&
				    (found[i] = sq_user_profile(
				         ctx, a->domain, &u)) == NULL)
					rc = SQ_NOMEM(st);
			}
			if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
				return rc;
			continue;
		}
		{
			Fedrpc__Federation__V1__GetUsersByIdsRequest r =
			    FEDRPC__FEDERATION__V1__GET_USERS_BY_IDS_REQUEST__INIT;
			Fedrpc__Federation__V1__GetUsersByIdsResponse *out, *cp;
			fedrpc_channel  *ch;
			fedrpc_call_opts opts;
			fedrpc_status    rst = {0};

			if ((r.users = adp_ptrs(ctx, req->n_users)) == NULL)
				return SQ_NOMEM(st);
			for (size_t i = 0; i < req->n_users; i++)
				if (strcmp(req->users[i]->domain, dom) == 0)
					r.users[r.n_users++] = req->users[i];
			sq_call_opts(a, &opts);
			if ((ch = sq_remote(a, dom, &rst)) == NULL ||
			    fedrpc_federation_v1_users_get_users_by_ids(
			        ch, &r, &out, &opts, &rst) != FEDRPC_OK) {
				sq_domains_add(ctx, &unreachable, dom);
				fedrpc_status_reset(&rst);
				continue;
			}
			cp = (Fedrpc__Federation__V1__GetUsersByIdsResponse *)
			    adp_clone(ctx, &out->base);
			protobuf_c_message_free_unpacked(&out->base, NULL);
			if (cp == NULL)
				return SQ_NOMEM(st);
			for (size_t k = 0; k < cp->n_profiles; k++) {
				sq_profile *p = cp->profiles[k];

				if (p->id == NULL)
					continue;
				for (size_t i = 0; i < req->n_users; i++)
					if (adp_qid_eq(req->users[i], p->id))
						found[i] = p;
			}
		}
	}
	if ((resp->profiles = adp_ptrs(ctx, req->n_users)) == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < req->n_users; i++)
		if (found[i] != NULL)
			resp->profiles[resp->n_profiles++] = found[i];
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

typedef Fedrpc__Federation__V1__UserClientPrekeys sq_ucp;

static sq_ucp *
ucp_new(fedrpc_ctx *ctx, adp_qid *user)
{
	sq_ucp *u = fedrpc_ctx_alloc(ctx, sizeof(*u));

	if (u != NULL) {
		fedrpc__federation__v1__user_client_prekeys__init(u);
		u->user = user;
	}
	return u;
}

/* Local targets: claimed in one transaction. */
static fedrpc_code
claim_local(sq_adapter *a, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ClaimPrekeysRequest *req, sq_ucp **res,
    fedrpc_status *st)
{
	sq_conn    *c;
	fedrpc_code rc;

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	for (size_t i = 0; i < req->n_targets && rc == FEDRPC_OK; i++) {
		const Fedrpc__Federation__V1__UserClientIds *t = req->targets[i];
		sq_ucp                                      *u;

		if (strcmp(t->user->domain, a->domain) != 0)
			continue;
		if ((u = res[i] = ucp_new(ctx, t->user)) == NULL) {
			rc = SQ_NOMEM(st);
			break;
		}
		if (t->n_clients == 0) {
			rc = sq_claim_bundle(c, ctx, t->user->id, &u->clients,
			    &u->n_clients, st);
			continue;
		}
		if ((u->clients = adp_ptrs(ctx, t->n_clients)) == NULL) {
			rc = SQ_NOMEM(st);
			break;
		}
		for (size_t j = 0; j < t->n_clients; j++) {
			sq_client_prekey *cp =
			    sq_claim_one(c, ctx, t->user->id, t->clients[j], st);

			if (cp == NULL) {
				rc = st->code;
				break;
			}
			u->clients[u->n_clients++] = cp;
		}
	}
	return sq_end(a->db, c, rc, st);
}

/* Remote targets of one domain: bundles, then one multi-bundle claim. */
static fedrpc_code
claim_remote(sq_adapter *a, fedrpc_ctx *ctx, const char *dom,
    const Fedrpc__Local__V1__ClaimPrekeysRequest *req, sq_ucp **res,
    sq_domains *unreachable, fedrpc_status *st)
{
	fedrpc_channel  *ch;
	fedrpc_call_opts opts;
	fedrpc_status    rst = {0};
	Fedrpc__Federation__V1__ClaimMultiPrekeyBundleRequest mr =
	    FEDRPC__FEDERATION__V1__CLAIM_MULTI_PREKEY_BUNDLE_REQUEST__INIT;

	sq_call_opts(a, &opts);
	if ((ch = sq_remote(a, dom, &rst)) == NULL)
		goto unreachable;
	if ((mr.users = adp_ptrs(ctx, req->n_targets)) == NULL)
		return SQ_NOMEM(st);
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
			return SQ_NOMEM(st);
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
			return SQ_NOMEM(st);
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
	return FEDRPC_OK;

unreachable:
	/* Nothing of this domain is reported, even what was claimed. */
	for (size_t i = 0; i < req->n_targets; i++)
		if (strcmp(req->targets[i]->user->domain, dom) == 0)
			res[i] = NULL;
	sq_domains_add(ctx, unreachable, dom);
	fedrpc_status_reset(&rst);
	return FEDRPC_OK;
}

static fedrpc_code
h_claim_prekeys(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ClaimPrekeysRequest *req,
    Fedrpc__Local__V1__ClaimPrekeysResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_ucp    **res;
	adp_qid   **users;
	sq_domains  doms, unreachable = {0};
	fedrpc_code rc;

	if (req->n_targets > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "targets: at most %d", ADP_MAX_LIST);
	if ((users = adp_ptrs(ctx, req->n_targets)) == NULL ||
	    (res = adp_ptrs(ctx, req->n_targets)) == NULL)
		return SQ_NOMEM(st);
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
	    domains_of(ctx, users, req->n_targets, &doms, st) != FEDRPC_OK)
		return st->code;
	for (size_t d = 0; d < doms.n; d++) {
		if (strcmp(doms.v[d], a->domain) == 0)
			rc = claim_local(a, ctx, req, res, st);
		else
			rc = claim_remote(
			    a, ctx, doms.v[d], req, res, &unreachable, st);
		if (rc != FEDRPC_OK)
			return rc;
	}
	if ((resp->users = adp_ptrs(ctx, req->n_targets)) == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < req->n_targets; i++)
		if (res[i] != NULL)
			resp->users[resp->n_users++] = res[i];
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

fedrpc_code
sq_register_local_users(fedrpc_server *srv, sq_adapter *a, fedrpc_status *st)
{
	static const fedrpc_local_v1_users_handlers h = {
	    .register_user = h_register_user,
	    .delete_user   = SQ_DELETE_USER_HANDLER,
	    .add_client    = h_add_client,
	    .remove_client = h_remove_client,
	    .find_user     = h_find_user,
	    .search_users  = h_search_users,
	    .get_profiles  = h_get_profiles,
	    .claim_prekeys = h_claim_prekeys,
	};

	return fedrpc_local_v1_users_register(srv, &h, a, st);
}
