/*
 * Deleting a local user: one transaction removes the user from everything
 * stored here (conversations owned here, copies of remote ones, connection
 * sides, clients, prekeys, inboxes), frees the handle and queues what the
 * other backends must hear (in chunks of up to 1000 ids), so that they
 * hear it even if they are down now.
 */
#include <string.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

/* A conversation we own, as it was before and after the deletion. */
typedef struct owned_change {
	ref_conversation *before;
	ref_conversation *after;
} owned_change;

/* What the transaction found that other backends must hear of. */
typedef struct deletion {
	ref_svc      *s;
	fedrpc_ctx   *ctx;
	const adp_qid *self;
	int64_t       now;
	owned_change *owned;        /* conversations we own */
	size_t        n_owned;
	adp_qid     **remote_convs; /* copies of remote-owned ones */
	size_t        n_remote_convs;
	adp_qid     **remote_conns; /* remote users self had a side with */
	size_t        n_remote_conns;
	ref_outs      outs;         /* what other domains are owed */
} deletion;

static fedrpc_code
user_deleted_event(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *to,
    const adp_qid *deleted, int64_t now, fedrpc_status *st)
{
	ref_event                     *ev = ref_event_new(ctx, now);
	Fedrpc__Local__V1__UserDeleted ud = FEDRPC__LOCAL__V1__USER_DELETED__INIT;

	if (ev == NULL)
		return REF_NOMEM(st);
	ud.user          = (adp_qid *) deleted;
	ev->payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_USER_DELETED;
	ev->user_deleted = &ud;
	return ref_inbox_user(ctx, tx, to, ev, st);
}

/* Self leaves our copy of a remote conversation; the copy goes when no
 * user of ours is left in it. */
static fedrpc_code
leave_copy(deletion *del, fedrpc_store_tx *tx, adp_qid *conv,
    fedrpc_status *st)
{
	bool any;

	del->remote_convs[del->n_remote_convs++] = conv;
	if (tx->ops->conversation_has_member_of(
	        tx, conv, del->s->domain, &any, st) != FEDRPC_OK)
		return st->code;
	return any ? FEDRPC_OK : tx->ops->conversation_delete(tx, conv, st);
}

/* Self leaves a conversation we own: its members hear of it now, the
 * other domains after the transaction. */
static fedrpc_code
leave_owned(deletion *del, fedrpc_store_tx *tx, ref_conversation *before,
    fedrpc_status *st)
{
	ref_conversation *after;
	adp_qid          *me     = (adp_qid *) del->self;
	ref_change        change = {.actor = del->self, .time = del->now,
	           .removed = &me, .n_removed = 1};
	adp_qid         **present;

	if (tx->ops->conversation_bump(tx, before->id, NULL, st) != FEDRPC_OK ||
	    ref_conv_get(tx, before->id, &after, st) != FEDRPC_OK)
		return st->code;
	if (after == NULL)
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "conversation %s@%s vanished while deleting %s",
		    before->id->id, before->id->domain, del->self->id);
	if ((present = adp_ptrs(del->ctx, before->n_members)) == NULL)
		return REF_NOMEM(st);
	for (size_t k = 0; k < before->n_members; k++)
		present[k] = before->members[k]->id;
	if (ref_change_events(del->s, del->ctx, tx, after, present,
	        before->n_members, &change, st) != FEDRPC_OK)
		return st->code;
	del->owned[del->n_owned].before = before;
	del->owned[del->n_owned].after  = after;
	del->n_owned++;
	return FEDRPC_OK;
}

static fedrpc_code
delete_memberships(deletion *del, fedrpc_store_tx *tx, fedrpc_status *st)
{
	adp_qid **convs;
	size_t    n_convs;

	if (tx->ops->conversation_list_of_user(
	        tx, del->self, &convs, &n_convs, st) != FEDRPC_OK)
		return st->code;
	if ((del->owned = fedrpc_ctx_alloc(
	         del->ctx, (n_convs + 1) * sizeof(owned_change))) == NULL ||
	    (del->remote_convs = adp_ptrs(del->ctx, n_convs)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n_convs; i++) {
		ref_conversation *before;
		fedrpc_code       rc;

		if (ref_conv_get(tx, convs[i], &before, st) != FEDRPC_OK ||
		    tx->ops->member_remove(tx, convs[i], del->self, st) !=
		        FEDRPC_OK)
			return st->code;
		if (before == NULL)
			continue; /* a member row without its conversation */
		if (strcmp(convs[i]->domain, del->s->domain) != 0)
			rc = leave_copy(del, tx, convs[i], st);
		else
			rc = leave_owned(del, tx, before, st);
		if (rc != FEDRPC_OK)
			return rc;
	}
	return FEDRPC_OK;
}

/* Sides of ours towards self (connected users hear of it), then self's
 * own (remote users' domains are told later). */
static fedrpc_code
delete_sides(deletion *del, fedrpc_store_tx *tx, fedrpc_status *st)
{
	fedrpc_store_side *towards, *from;
	size_t             n_towards, n_from;

	if (tx->ops->connection_list_towards(
	        tx, del->self, &towards, &n_towards, st) != FEDRPC_OK ||
	    tx->ops->connection_delete_towards(tx, del->self, st) != FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < n_towards; i++)
		if (towards[i].relation == ADP_REL_ACCEPTED &&
		    user_deleted_event(del->ctx, tx, towards[i].from, del->self,
		        del->now, st) != FEDRPC_OK)
			return st->code;
	if (tx->ops->connection_list_from(
	        tx, del->self->id, &from, &n_from, st) != FEDRPC_OK ||
	    tx->ops->connection_delete_from(tx, del->self->id, st) !=
	        FEDRPC_OK)
		return st->code;
	if ((del->remote_conns = adp_ptrs(del->ctx, n_from)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n_from; i++)
		if (strcmp(from[i].to->domain, del->s->domain) != 0)
			del->remote_conns[del->n_remote_conns++] = from[i].to;
	return FEDRPC_OK;
}

/* Queues, for each domain of `ids` (grouped), calls of up to 1000 ids. */
static fedrpc_code
queue_chunks(deletion *del, fedrpc_store_tx *tx, adp_qid **ids, size_t n,
    bool conversations, fedrpc_status *st)
{
	ref_domains doms = {0};
	adp_qid   **chunk;

	if (n == 0)
		return FEDRPC_OK;
	if ((chunk = adp_ptrs(del->ctx, n)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n; i++)
		ref_domains_add(del->ctx, &doms, ids[i]->domain);
	for (size_t d = 0; d < doms.n; d++) {
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (strcmp(ids[i]->domain, doms.v[d]) == 0)
				chunk[k++] = ids[i];
		for (size_t off = 0; off < k; off += ADP_MAX_LIST) {
			size_t len = k - off < ADP_MAX_LIST ? k - off : ADP_MAX_LIST;
			fedrpc_code rc;

			if (conversations) {
				Fedrpc__Federation__V1__OnUserDeletedConversationsRequest r =
				    FEDRPC__FEDERATION__V1__ON_USER_DELETED_CONVERSATIONS_REQUEST__INIT;

				r.user            = (adp_qid *) del->self;
				r.conversations   = chunk + off;
				r.n_conversations = len;
				rc = ref_outbox_put(del->ctx, tx, doms.v[d],
				    fedrpc_federation_v1_conversations_on_user_deleted_conversations_method,
				    &r.base, NULL, &del->outs, st);
			} else {
				Fedrpc__Federation__V1__OnUserDeletedConnectionsRequest r =
				    FEDRPC__FEDERATION__V1__ON_USER_DELETED_CONNECTIONS_REQUEST__INIT;

				r.user          = (adp_qid *) del->self;
				r.connections   = chunk + off;
				r.n_connections = len;
				rc = ref_outbox_put(del->ctx, tx, doms.v[d],
				    fedrpc_federation_v1_users_on_user_deleted_connections_method,
				    &r.base, NULL, &del->outs, st);
			}
			if (rc != FEDRPC_OK)
				return rc;
		}
	}
	return FEDRPC_OK;
}

/* What the other domains are owed for the deletion, in its transaction. */
static fedrpc_code
queue_deletion(deletion *del, fedrpc_store_tx *tx, fedrpc_status *st)
{
	for (size_t i = 0; i < del->n_owned; i++) {
		adp_qid   *me     = (adp_qid *) del->self;
		ref_change change = {.actor = del->self, .time = del->now,
		    .removed = &me, .n_removed = 1};

		if (ref_change_queue(del->s, del->ctx, tx, del->owned[i].before,
		        del->owned[i].after, &change, &del->outs, st) !=
		    FEDRPC_OK)
			return st->code;
	}
	if (queue_chunks(del, tx, del->remote_convs, del->n_remote_convs, true,
	        st) != FEDRPC_OK)
		return st->code;
	return queue_chunks(
	    del, tx, del->remote_conns, del->n_remote_conns, false, st);
}

/* Everything stored here about self, in one transaction. */
static fedrpc_code
tx_delete_user(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	deletion *del = arg;

	del->now            = adp_now_ms();
	del->n_owned        = 0;
	del->n_remote_convs = 0;
	del->n_remote_conns = 0;
	del->outs.n         = 0;
	if (ref_user_require(del->s, tx, del->self, "self", st) != FEDRPC_OK ||
	    delete_memberships(del, tx, st) != FEDRPC_OK ||
	    delete_sides(del, tx, st) != FEDRPC_OK ||
	    tx->ops->client_delete_all(tx, del->self->id, st) != FEDRPC_OK ||
	    tx->ops->user_mark_deleted(tx, del->self->id, st) != FEDRPC_OK)
		return st->code;
	return queue_deletion(del, tx, st);
}

fedrpc_code
ref_h_delete_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__DeleteUserRequest *req,
    Fedrpc__Local__V1__DeleteUserResponse *resp, fedrpc_status *st)
{
	ref_svc    *s           = impl;
	deletion    del         = {.s = s, .ctx = ctx, .self = req->self};
	ref_domains unreachable = {0};
	fedrpc_code rc;

	if ((rc = ref_write(s, ctx, tx_delete_user, &del, st)) != FEDRPC_OK)
		return rc;
	ref_outbox_settle(s, ctx, &del.outs, true, &unreachable, &unreachable);
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}
