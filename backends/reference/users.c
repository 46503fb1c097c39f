/*
 * Users as the service sees them: the acting user of a local call, the
 * profiles other users and domains get (nothing but the id once deleted),
 * and search under a policy (exact handle only, or prefixes too).
 */
#include <ctype.h>
#include <string.h>

#include "backends/reference/service.h"

fedrpc_code
ref_user_live(fedrpc_store_tx *tx, const char *id, bool *live,
    fedrpc_status *st)
{
	fedrpc_store_user u;
	bool              found;

	*live = false;
	if (tx->ops->user_get(tx, id, &u, &found, st) != FEDRPC_OK)
		return st->code;
	*live = found && !u.deleted;
	return FEDRPC_OK;
}

fedrpc_code
ref_user_require(ref_svc *s, fedrpc_store_tx *tx, const adp_qid *q,
    const char *what, fedrpc_status *st)
{
	fedrpc_store_user u;
	bool              found;

	if (adp_check_ours(q, s->domain, what, st) != FEDRPC_OK)
		return st->code;
	if (tx->ops->user_get(tx, q->id, &u, &found, st) != FEDRPC_OK)
		return st->code;
	if (!found || u.deleted)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "%s: no user %s@%s%s", what, q->id, q->domain,
		    found ? " (deleted)" : "");
	return FEDRPC_OK;
}

ref_profile *
ref_profile_of(fedrpc_ctx *ctx, const char *domain, const fedrpc_store_user *u)
{
	ref_profile *p = fedrpc_ctx_alloc(ctx, sizeof(*p));

	if (p == NULL)
		return NULL;
	fedrpc__federation__v1__user_profile__init(p);
	if ((p->id = adp_qid_new(ctx, domain, u->id)) == NULL)
		return NULL;
	p->deleted = u->deleted;
	if (!u->deleted) {
		p->name   = u->name;
		p->handle = u->handle;
	}
	return p;
}

fedrpc_code
ref_profile_by_handle(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *handle, ref_profile **out, fedrpc_status *st)
{
	fedrpc_store_user u;
	bool              found;

	*out = NULL;
	if (tx->ops->user_get_by_handle(tx, handle, &u, &found, st) !=
	    FEDRPC_OK)
		return st->code;
	if (found && (*out = ref_profile_of(ctx, s->domain, &u)) == NULL)
		return REF_NOMEM(st);
	return FEDRPC_OK;
}

/* Exact handle search: a term that is no handle matches nobody. */
static fedrpc_code
search_exact(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *lower, ref_profile ***out, size_t *n, fedrpc_status *st)
{
	ref_profile *p;

	if (!fedrpc_handle_valid(lower))
		return FEDRPC_OK;
	if (ref_profile_by_handle(s, ctx, tx, lower, &p, st) != FEDRPC_OK)
		return st->code;
	if (p == NULL)
		return FEDRPC_OK;
	if ((*out = adp_ptrs(ctx, 1)) == NULL)
		return REF_NOMEM(st);
	(*out)[0] = p;
	*n        = 1;
	return FEDRPC_OK;
}

fedrpc_code
ref_user_search(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *term, bool full, ref_profile ***out, size_t *n,
    fedrpc_status *st)
{
	fedrpc_store_user *users;
	size_t             n_users, len = strlen(term);
	char              *lower;

	*out = NULL;
	*n   = 0;
	if (len == 0)
		return FEDRPC_OK;
	if ((lower = fedrpc_ctx_strdup(ctx, term)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < len; i++)
		lower[i] = (char) tolower((unsigned char) lower[i]);
	if (!full)
		return search_exact(s, ctx, tx, lower, out, n, st);
	if (tx->ops->user_search(tx, lower, ADP_MAX_SEARCH, &users, &n_users,
	        st) != FEDRPC_OK)
		return st->code;
	if ((*out = adp_ptrs(ctx, n_users)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n_users; i++)
		if (((*out)[i] = ref_profile_of(ctx, s->domain, &users[i])) ==
		    NULL)
			return REF_NOMEM(st);
	*n = n_users;
	return FEDRPC_OK;
}
