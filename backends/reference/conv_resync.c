/*
 * A conversation's current state sent again to one member domain, so that
 * a copy left wrong by a notice that was moved aside is repaired (the
 * receiver adopts any description newer than its copy: fed_conversations.c).
 * A domain that still has members gets OnConversationCreated with the
 * conversation as it is; one that has none any more gets the removal of
 * the users the refused notice named.
 */
#include <string.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"

typedef Fedrpc__Federation__V1__OnConversationCreatedRequest created_req;
typedef Fedrpc__Federation__V1__OnConversationUpdatedRequest updated_req;

static void
add_on(fedrpc_ctx *ctx, adp_qid **v, size_t *n, size_t cap, adp_qid *u,
    const char *domain)
{
	if (u == NULL || strcmp(u->domain, domain) != 0 || *n == cap)
		return;
	for (size_t i = 0; i < *n; i++)
		if (adp_qid_eq(v[i], u))
			return;
	(void) ctx;
	v[(*n)++] = u;
}

/* The users of `domain` a conversation notice names. */
static adp_qid **
users_named(fedrpc_ctx *ctx, const ref_item *cause, const char *domain,
    size_t *n)
{
	ProtobufCAllocator *al = fedrpc_ctx_allocator(ctx);
	adp_qid           **v  = adp_ptrs(ctx, ADP_MAX_LIST);

	*n = 0;
	if (v == NULL || cause == NULL)
		return v;
	if (strcmp(cause->method,
	        fedrpc_federation_v1_conversations_on_conversation_created_method
	            ->full_name) == 0) {
		created_req *r = fedrpc__federation__v1__on_conversation_created_request__unpack(
		    al, cause->request.len, cause->request.data);

		for (size_t i = 0; r != NULL && r->conversation != NULL &&
		     i < r->conversation->n_members;
		     i++)
			add_on(ctx, v, n, ADP_MAX_LIST,
			    r->conversation->members[i]->id, domain);
	} else {
		updated_req *r = fedrpc__federation__v1__on_conversation_updated_request__unpack(
		    al, cause->request.len, cause->request.data);

		if (r == NULL)
			return v;
		for (size_t i = 0; i < r->n_already_present_users; i++)
			add_on(ctx, v, n, ADP_MAX_LIST,
			    r->already_present_users[i], domain);
		/* members_added and members_removed share a oneof. */
		if (r->action_case ==
		    FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_ADDED)
			for (size_t i = 0; i < r->members_added->n_members; i++)
				add_on(ctx, v, n, ADP_MAX_LIST,
				    r->members_added->members[i]->id, domain);
		if (r->action_case ==
		    FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_REMOVED)
			for (size_t i = 0; i < r->members_removed->n_users; i++)
				add_on(ctx, v, n, ADP_MAX_LIST,
				    r->members_removed->users[i], domain);
	}
	return v;
}

/* The users of a domain no longer members are told they are out. */
static fedrpc_code
queue_departure(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ref_conversation *conv, const char *domain, adp_qid **users,
    size_t n, ref_outs *outs, fedrpc_status *st)
{
	updated_req r = FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__INIT;
	Fedrpc__Federation__V1__MembersRemoved mr =
	    FEDRPC__FEDERATION__V1__MEMBERS_REMOVED__INIT;
	ref_conversation after = *conv;
	ref_about        about = {.conversation = conv->id, .resync = true};

	after.members         = NULL;
	after.n_members       = 0;
	mr.users              = users;
	mr.n_users            = n;
	r.time_unix_ms        = adp_now_ms();
	r.actor               = conv->creator;
	r.conversation        = conv->id;
	r.already_present_users   = users;
	r.n_already_present_users = n;
	r.action_case         = FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_REMOVED;
	r.members_removed     = &mr;
	r.after               = &after;
	return ref_outbox_put(ctx, tx, domain,
	    fedrpc_federation_v1_conversations_on_conversation_updated_method,
	    &r.base, &about, outs, st);
}

fedrpc_code
ref_resync_queue(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const adp_qid *conv_id, const char *domain, const ref_item *cause,
    ref_outs *outs, bool *queued, fedrpc_status *st)
{
	ref_conversation *conv;
	adp_qid         **users;
	size_t            n;

	*queued = false;
	if (strcmp(conv_id->domain, s->domain) != 0 ||
	    strcmp(domain, s->domain) == 0)
		return FEDRPC_OK;
	if (ref_conv_get(tx, conv_id, &conv, st) != FEDRPC_OK)
		return st->code;
	if (conv == NULL)
		return FEDRPC_OK; /* deleted: nothing to describe */
	if (ref_conv_has_domain(conv, domain)) {
		created_req r     = FEDRPC__FEDERATION__V1__ON_CONVERSATION_CREATED_REQUEST__INIT;
		ref_about   about = {.conversation = conv->id, .resync = true};

		r.conversation = conv;
		*queued        = true;
		return ref_outbox_put(ctx, tx, domain,
		    fedrpc_federation_v1_conversations_on_conversation_created_method,
		    &r.base, &about, outs, st);
	}
	if ((users = users_named(ctx, cause, domain, &n)) == NULL)
		return REF_NOMEM(st);
	if (n == 0)
		return FEDRPC_OK;
	*queued = true;
	return queue_departure(ctx, tx, conv, domain, users, n, outs, st);
}
