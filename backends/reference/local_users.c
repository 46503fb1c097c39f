/*
 * The local Users service: registering users and clients (a removed client
 * is announced to whoever shares a conversation with its user). Finding
 * users and profiles is in local_lookup.c, claiming prekeys in
 * local_prekeys.c, DeleteUser in local_delete.c; the service's table is
 * here.
 */
#include <string.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

#define MAX_PREKEYS 100
/* Attempts at a fresh random id before giving up (collisions are ~never). */
#define ID_ATTEMPTS 8

typedef struct register_tx {
	const char *id, *handle, *name;
} register_tx;

static fedrpc_code
tx_register_user(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	register_tx *a  = arg;
	fedrpc_code  rc = tx->ops->user_insert(
            tx, a->id, a->handle, a->name, adp_now_ms(), st);

	if (rc == FEDRPC_STORE_DUPLICATE)
		return fedrpc_status_set(st, FEDRPC_ALREADY_EXISTS,
		    "handle '%s' is taken", a->handle);
	return rc;
}

static fedrpc_code
h_register_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__RegisterUserRequest *req,
    Fedrpc__Local__V1__RegisterUserResponse *resp, fedrpc_status *st)
{
	ref_svc    *s = impl;
	char        id[37];
	register_tx a = {id, req->handle, req->name};

	if (!fedrpc_handle_valid(req->handle))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "handle: '%.64s' is not 2 to 256 characters of [a-z0-9_.-]",
		    req->handle ? req->handle : "");
	if (!adp_text_valid(req->name, 1, 128))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "name: 1 to 128 characters of UTF-8 required");
	adp_uuid_new(id);
	if ((resp->user = adp_qid_new(ctx, s->domain, id)) == NULL)
		return REF_NOMEM(st);
	return ref_write(s, ctx, tx_register_user, &a, st);
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

/* The one-time prekeys, the last-resort one and the class of a new client. */
static fedrpc_code
check_new_client(const Fedrpc__Local__V1__AddClientRequest *req,
    fedrpc_status *st)
{
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
	return FEDRPC_OK;
}

/* A random client id the user does not have yet (0: none found). */
static fedrpc_code
fresh_client_id(fedrpc_store_tx *tx, const char *user, uint64_t *id,
    fedrpc_status *st)
{
	for (int i = 0; i < ID_ATTEMPTS; i++) {
		bool have;

		*id = adp_random_u64();
		if (tx->ops->client_exists(tx, user, *id, &have, st) !=
		    FEDRPC_OK)
			return st->code;
		if (!have)
			return FEDRPC_OK;
	}
	return fedrpc_status_set(st, FEDRPC_INTERNAL, "no free client id found");
}

static fedrpc_code
tx_add_client(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__AddClientRequest *req  = c->req;
	Fedrpc__Local__V1__AddClientResponse      *resp = c->resp;
	const char *user;
	uint64_t    id;

	resp->client = 0;
	if (ref_user_require(c->s, tx, req->self, "self", st) != FEDRPC_OK)
		return st->code;
	user = req->self->id;
	if (fresh_client_id(tx, user, &id, st) != FEDRPC_OK ||
	    tx->ops->client_insert(tx, user, id, (int) req->client_class,
	        adp_now_ms(), st) != FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < req->n_prekeys; i++)
		if (tx->ops->prekey_insert(tx, user, id, req->prekeys[i]->id,
		        &req->prekeys[i]->key, st) != FEDRPC_OK)
			return st->code;
	if (tx->ops->prekey_insert(tx, user, id, ADP_LAST_PREKEY,
	        &req->last_prekey->key, st) != FEDRPC_OK)
		return st->code;
	resp->client = id;
	return FEDRPC_OK;
}

static fedrpc_code
h_add_client(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AddClientRequest *req,
    Fedrpc__Local__V1__AddClientResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	if (check_new_client(req, st) != FEDRPC_OK)
		return st->code;
	return ref_write(s, ctx, tx_add_client, &c, st);
}

typedef struct remove_client_tx {
	ref_call c;
	ref_outs outs;
} remove_client_tx;

/* Who shares a conversation with self hears of the removed client: the
 * other users of ours at once, other domains through the outbox. */
static fedrpc_code
tell_client_removed(remove_client_tx *a, fedrpc_store_tx *tx,
    fedrpc_status *st)
{
	const Fedrpc__Local__V1__RemoveClientRequest *req = a->c.req;
	fedrpc_ctx *ctx = a->c.ctx;
	Fedrpc__Federation__V1__OnClientRemovedRequest r =
	    FEDRPC__FEDERATION__V1__ON_CLIENT_REMOVED_REQUEST__INIT;
	Fedrpc__Local__V1__ClientRemoved cr = FEDRPC__LOCAL__V1__CLIENT_REMOVED__INIT;
	ref_event  *ev = ref_event_new(ctx, adp_now_ms());
	ref_domains doms = {0}, users = {0};
	adp_qid   **convs;
	size_t      n;

	if (ev == NULL)
		return REF_NOMEM(st);
	cr.user            = req->self;
	cr.client          = req->client;
	ev->payload_case   = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CLIENT_REMOVED;
	ev->client_removed = &cr;
	if (tx->ops->conversation_list_of_user(tx, req->self, &convs, &n, st) !=
	    FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < n; i++) {
		ref_conversation *conv;

		if (ref_conv_get(tx, convs[i], &conv, st) != FEDRPC_OK)
			return st->code;
		for (size_t k = 0; conv != NULL && k < conv->n_members; k++) {
			const adp_qid *m = conv->members[k]->id;

			if (strcmp(m->domain, a->c.s->domain) != 0)
				ref_domains_add(ctx, &doms, m->domain);
			else if (strcmp(m->id, req->self->id) != 0)
				ref_domains_add(ctx, &users, m->id);
		}
	}
	for (size_t i = 0; i < users.n; i++)
		if (ref_inbox_user(ctx, tx, users.v[i], ev, st) != FEDRPC_OK)
			return st->code;
	r.user   = req->self;
	r.client = req->client;
	for (size_t i = 0; i < doms.n; i++)
		if (ref_outbox_put(ctx, tx, doms.v[i],
		        fedrpc_federation_v1_conversations_on_client_removed_method,
		        &r.base, NULL, &a->outs, st) != FEDRPC_OK)
			return st->code;
	return FEDRPC_OK;
}

static fedrpc_code
tx_remove_client(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	remove_client_tx *a = arg;
	const Fedrpc__Local__V1__RemoveClientRequest *req = a->c.req;
	bool found;

	a->outs.n = 0;
	if (ref_user_require(a->c.s, tx, req->self, "self", st) != FEDRPC_OK ||
	    tx->ops->client_delete(tx, req->self->id, req->client, &found,
	        st) != FEDRPC_OK)
		return st->code;
	if (!found)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "user %s has no client %llx", req->self->id,
		    (unsigned long long) req->client);
	return tell_client_removed(a, tx, st);
}

static fedrpc_code
h_remove_client(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__RemoveClientRequest *req,
    Fedrpc__Local__V1__RemoveClientResponse *resp, fedrpc_status *st)
{
	ref_svc         *s           = impl;
	remove_client_tx a           = {{s, ctx, req, resp}, {0}};
	ref_domains      unreachable = {0};
	fedrpc_code      rc;

	if ((rc = ref_write(s, ctx, tx_remove_client, &a, st)) != FEDRPC_OK)
		return rc;
	ref_outbox_settle(s, ctx, &a.outs, true, &unreachable, &unreachable);
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

fedrpc_code
ref_register_local_users(fedrpc_server *srv, ref_svc *s, fedrpc_status *st)
{
	static const fedrpc_local_v1_users_handlers h = {
	    .register_user = h_register_user,
	    .delete_user   = ref_h_delete_user,
	    .add_client    = h_add_client,
	    .remove_client = h_remove_client,
	    .find_user     = ref_h_find_user,
	    .search_users  = ref_h_search_users,
	    .get_profiles  = ref_h_get_profiles,
	    .claim_prekeys = ref_h_claim_prekeys,
	    .add_prekeys   = ref_h_add_prekeys,
	};

	return fedrpc_local_v1_users_register(srv, &h, s, st);
}
