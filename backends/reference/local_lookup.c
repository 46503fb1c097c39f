/*
 * Finding users through the local Users service: a user by handle, a
 * search, and profiles by id, here or, through the federation client
 * stubs, on other domains (whose answers are passed on as they are).
 */
#include <string.h>

#include "backends/reference/service.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

/* A local user by handle; no policy applies to our own users. */
typedef struct find_tx {
	ref_svc     *s;
	fedrpc_ctx  *ctx;
	const char  *handle;
	ref_profile *profile;
} find_tx;

static fedrpc_code
tx_find(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	find_tx *a = arg;

	return ref_profile_by_handle(
	    a->s, a->ctx, tx, a->handle, &a->profile, st);
}

static fedrpc_code
find_remote(ref_svc *s, fedrpc_ctx *ctx, const char *domain, char *handle,
    ref_profile **out, fedrpc_status *st)
{
	Fedrpc__Federation__V1__GetUserByHandleRequest r =
	    FEDRPC__FEDERATION__V1__GET_USER_BY_HANDLE_REQUEST__INIT;
	Fedrpc__Federation__V1__GetUserByHandleResponse *res = NULL;
	fedrpc_channel                                  *ch;
	fedrpc_call_opts                                 opts;

	if ((ch = ref_remote(s, domain, st)) == NULL)
		return ref_remote_failed(domain, st);
	ref_call_opts(s, &opts);
	r.handle = handle;
	if (fedrpc_federation_v1_users_get_user_by_handle(
	        ch, &r, &res, &opts, st) != FEDRPC_OK)
		return ref_remote_failed(domain, st);
	ref_remote_ok(s, domain);
	if (res->profile != NULL)
		*out = (ref_profile *) adp_clone(ctx, &res->profile->base);
	protobuf_c_message_free_unpacked(&res->base, NULL);
	return FEDRPC_OK;
}

fedrpc_code
ref_h_find_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__FindUserRequest *req,
    Fedrpc__Local__V1__FindUserResponse *resp, fedrpc_status *st)
{
	ref_svc    *s = impl;
	const char *q = req->query ? req->query : "";
	char       *handle, *at;
	const char *domain = NULL;
	find_tx     a      = {s, ctx, NULL, NULL};
	fedrpc_code rc;

	if (q[0] == '@')
		q++;
	if ((handle = fedrpc_ctx_strdup(ctx, q)) == NULL)
		return REF_NOMEM(st);
	if ((at = strchr(handle, '@')) != NULL) {
		*at    = '\0';
		domain = at + 1;
		if ((rc = adp_domain_take(at + 1, "query", st)) != FEDRPC_OK)
			return rc;
	}
	if (!fedrpc_handle_valid(handle))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "query: '%.64s' is not a valid handle", handle);
	if (domain != NULL && strcmp(domain, s->domain) != 0)
		return find_remote(s, ctx, domain, handle, &resp->profile, st);
	a.handle = handle;
	if ((rc = ref_read(s, ctx, tx_find, &a, st)) != FEDRPC_OK)
		return rc;
	resp->profile = a.profile;
	return FEDRPC_OK;
}

static fedrpc_code
tx_search(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__SearchUsersRequest *req  = c->req;
	Fedrpc__Local__V1__SearchUsersResponse      *resp = c->resp;

	return ref_user_search(c->s, c->ctx, tx, req->term ? req->term : "",
	    true, &resp->contacts, &resp->n_contacts, st);
}

static fedrpc_code
search_remote(ref_svc *s, fedrpc_ctx *ctx, const char *domain,
    const char *term, Fedrpc__Local__V1__SearchUsersResponse *resp,
    fedrpc_status *st)
{
	Fedrpc__Federation__V1__SearchUsersRequest r =
	    FEDRPC__FEDERATION__V1__SEARCH_USERS_REQUEST__INIT;
	Fedrpc__Federation__V1__SearchUsersResponse *res = NULL, *cp;
	fedrpc_channel                              *ch;
	fedrpc_call_opts                             opts;

	if ((ch = ref_remote(s, domain, st)) == NULL)
		return ref_remote_failed(domain, st);
	ref_call_opts(s, &opts);
	r.term = (char *) term;
	if (fedrpc_federation_v1_users_search_users(
	        ch, &r, &res, &opts, st) != FEDRPC_OK)
		return ref_remote_failed(domain, st);
	ref_remote_ok(s, domain);
	cp = (Fedrpc__Federation__V1__SearchUsersResponse *) adp_clone(
	    ctx, &res->base);
	protobuf_c_message_free_unpacked(&res->base, NULL);
	if (cp == NULL)
		return REF_NOMEM(st);
	resp->contacts      = cp->contacts;
	resp->n_contacts    = cp->n_contacts;
	resp->search_policy = cp->search_policy;
	return FEDRPC_OK;
}

fedrpc_code
ref_h_search_users(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__SearchUsersRequest *req,
    Fedrpc__Local__V1__SearchUsersResponse *resp, fedrpc_status *st)
{
	ref_svc    *s      = impl;
	const char *domain = req->domain ? req->domain : "";
	const char *term   = req->term ? req->term : "";
	ref_call    c      = {s, ctx, req, resp};

	/* The call's own memory: folded in place when it is a domain. */
	if (domain[0] != '\0' &&
	    adp_domain_take(req->domain, "domain", st) != FEDRPC_OK)
		return st->code;
	if (strlen(term) > 256)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "term: at most 256 bytes");
	if (domain[0] == '\0' || strcmp(domain, s->domain) == 0) {
		resp->search_policy =
		    FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH;
		return ref_read(s, ctx, tx_search, &c, st);
	}
	return search_remote(s, ctx, domain, term, resp, st);
}

/* Profiles being gathered: one slot per requested user (NULL: none). */
typedef struct profiles {
	ref_svc      *s;
	fedrpc_ctx   *ctx;
	adp_qid     **users;
	size_t        n_users;
	ref_profile **found;
} profiles;

static fedrpc_code
tx_local_profiles(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	profiles *p = arg;

	for (size_t i = 0; i < p->n_users; i++) {
		fedrpc_store_user u;
		bool              found;

		if (strcmp(p->users[i]->domain, p->s->domain) != 0)
			continue;
		p->found[i] = NULL;
		if (tx->ops->user_get(tx, p->users[i]->id, &u, &found, st) !=
		    FEDRPC_OK)
			return st->code;
		if (found &&
		    (p->found[i] = ref_profile_of(p->ctx, p->s->domain, &u)) ==
		        NULL)
			return REF_NOMEM(st);
	}
	return FEDRPC_OK;
}

/* One GetUsersByIds to `dom`; a domain that cannot answer is unreachable. */
static fedrpc_code
remote_profiles(profiles *p, const char *dom, ref_domains *unreachable,
    fedrpc_status *st)
{
	Fedrpc__Federation__V1__GetUsersByIdsRequest r =
	    FEDRPC__FEDERATION__V1__GET_USERS_BY_IDS_REQUEST__INIT;
	Fedrpc__Federation__V1__GetUsersByIdsResponse *res, *cp;
	fedrpc_channel  *ch;
	fedrpc_call_opts opts;
	fedrpc_status    rst = {0};

	if ((r.users = adp_ptrs(p->ctx, p->n_users)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < p->n_users; i++)
		if (strcmp(p->users[i]->domain, dom) == 0)
			r.users[r.n_users++] = p->users[i];
	ref_call_opts(p->s, &opts);
	if ((ch = ref_remote(p->s, dom, &rst)) == NULL ||
	    fedrpc_federation_v1_users_get_users_by_ids(
	        ch, &r, &res, &opts, &rst) != FEDRPC_OK) {
		ref_domains_add(p->ctx, unreachable, dom);
		fedrpc_status_reset(&rst);
		return FEDRPC_OK;
	}
	ref_remote_ok(p->s, dom);
	cp = (Fedrpc__Federation__V1__GetUsersByIdsResponse *) adp_clone(
	    p->ctx, &res->base);
	protobuf_c_message_free_unpacked(&res->base, NULL);
	if (cp == NULL)
		return REF_NOMEM(st);
	for (size_t k = 0; k < cp->n_profiles; k++) {
		if (cp->profiles[k]->id == NULL)
			continue;
		for (size_t i = 0; i < p->n_users; i++)
			if (adp_qid_eq(p->users[i], cp->profiles[k]->id))
				p->found[i] = cp->profiles[k];
	}
	return FEDRPC_OK;
}

fedrpc_code
ref_h_get_profiles(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__GetProfilesRequest *req,
    Fedrpc__Local__V1__GetProfilesResponse *resp, fedrpc_status *st)
{
	ref_svc    *s = impl;
	profiles    p = {s, ctx, req->users, req->n_users, NULL};
	ref_domains doms, unreachable = {0};
	fedrpc_code rc;

	if (req->n_users > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "users: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_users; i++)
		if (adp_check_qid(req->users[i], "users", st) != FEDRPC_OK)
			return st->code;
	if (adp_check_unique(req->users, req->n_users, "users", st) !=
	    FEDRPC_OK)
		return st->code;
	if ((p.found = adp_ptrs(ctx, req->n_users)) == NULL ||
	    ref_domains_of(ctx, req->users, req->n_users, &doms, st) !=
	        FEDRPC_OK)
		return REF_NOMEM(st);
	for (size_t d = 0; d < doms.n; d++) {
		if (strcmp(doms.v[d], s->domain) == 0)
			rc = ref_read(s, ctx, tx_local_profiles, &p, st);
		else
			rc = remote_profiles(&p, doms.v[d], &unreachable, st);
		if (rc != FEDRPC_OK)
			return rc;
	}
	if ((resp->profiles = adp_ptrs(ctx, req->n_users)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < req->n_users; i++)
		if (p.found[i] != NULL)
			resp->profiles[resp->n_profiles++] = p.found[i];
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}
