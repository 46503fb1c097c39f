/*
 * Deleting a local user: one transaction removes the user from everything
 * stored here (conversations owned here, copies of remote ones, connection
 * sides, clients, prekeys, inboxes) and frees the handle; then the other
 * backends are told, best effort, in chunks of up to 1000.
 */
#include <string.h>

#include <fedrpc/log.h>

#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "backends/sqlite/sq.h"

/* A conversation we own, as it was before and after the deletion. */
typedef struct owned_change {
	sq_conversation *before;
	sq_conversation *after;
} owned_change;

/* What the transaction found that other backends must hear of. */
typedef struct deletion {
	owned_change *owned;       /* conversations we own */
	size_t        n_owned;
	adp_qid     **remote_convs; /* copies of remote-owned ones */
	size_t        n_remote_convs;
	adp_qid     **remote_conns; /* remote users self had a side with */
	size_t        n_remote_conns;
} deletion;

static fedrpc_code
user_deleted_event(sq_conn *c, fedrpc_ctx *ctx, const char *to,
    const adp_qid *deleted, int64_t now, fedrpc_status *st)
{
	sq_event                      *ev = sq_event_new(ctx, now);
	Fedrpc__Local__V1__UserDeleted ud = FEDRPC__LOCAL__V1__USER_DELETED__INIT;

	if (ev == NULL)
		return SQ_NOMEM(st);
	ud.user          = (adp_qid *) deleted;
	ev->payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_USER_DELETED;
	ev->user_deleted = &ud;
	return sq_inbox_user_event(c, to, ev, st);
}

static fedrpc_code
delete_locally(sq_adapter *a, sq_conn *c, fedrpc_ctx *ctx,
    const adp_qid *self, deletion *del, fedrpc_status *st)
{
	adp_qid     **convs, **to;
	adp_relation *rels;
	char        **from;
	size_t        n_convs, n_to, n_from;
	int64_t       now = adp_now_ms();

	/* Conversations. */
	if (sq_conv_of_user(c, ctx, self, &convs, &n_convs, st) != FEDRPC_OK)
		return st->code;
	if ((del->owned = fedrpc_ctx_alloc(
	         ctx, (n_convs + 1) * sizeof(owned_change))) == NULL ||
	    (del->remote_convs = adp_ptrs(ctx, n_convs)) == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < n_convs; i++) {
		sq_conversation *before, *after;
		sq_change        change = {.actor = self, .time = now};
		adp_qid         *me     = (adp_qid *) self;
		adp_qid        **present;
		int              left;

		if ((left = sq_conv_get(c, ctx, convs[i], &before, st)) < 0)
			return st->code;
		if (sq_member_remove(c, convs[i], self, st) != FEDRPC_OK)
			return st->code;
		if (left == 0)
			continue; /* a member row without its conversation */
		if (strcmp(convs[i]->domain, a->domain) != 0) {
			del->remote_convs[del->n_remote_convs++] = convs[i];
			if ((left = sq_conv_has_domain_member(
			         c, convs[i], a->domain, st)) < 0)
				return st->code;
			if (left == 0 &&
			    sq_conv_delete(c, convs[i], st) != FEDRPC_OK)
				return st->code;
			continue;
		}
		if (sq_conv_get(c, ctx, convs[i], &after, st) < 0)
			return st->code;
		if ((present = adp_ptrs(ctx, before->n_members)) == NULL)
			return SQ_NOMEM(st);
		for (size_t k = 0; k < before->n_members; k++)
			present[k] = before->members[k]->id;
		change.removed   = &me;
		change.n_removed = 1;
		if (sq_change_events(a, c, ctx, after, present,
		        before->n_members, &change, st) != FEDRPC_OK)
			return st->code;
		del->owned[del->n_owned].before = before;
		del->owned[del->n_owned].after  = after;
		del->n_owned++;
	}

	/* Connections: sides of ours towards self, then self's own. */
	if (sq_conn_drop_towards(c, ctx, self, &from, &rels, &n_from, st) !=
	    FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < n_from; i++)
		if (rels[i] == ADP_REL_ACCEPTED &&
		    user_deleted_event(c, ctx, from[i], self, now, st) !=
		        FEDRPC_OK)
			return st->code;
	if (sq_conn_drop_from(c, ctx, self->id, &to, &rels, &n_to, st) !=
	    FEDRPC_OK)
		return st->code;
	if ((del->remote_conns = adp_ptrs(ctx, n_to)) == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < n_to; i++)
		if (strcmp(to[i]->domain, a->domain) != 0)
			del->remote_conns[del->n_remote_conns++] = to[i];

	/* The account itself. */
	if (sq_client_delete_all(c, self->id, st) != FEDRPC_OK)
		return st->code;
	return sq_user_mark_deleted(c, self->id, st);
}

/* Tells each domain of `ids` (grouped) with calls of up to 1000 ids. */
static void
notify_chunks(sq_adapter *a, fedrpc_ctx *ctx, const adp_qid *self,
    adp_qid **ids, size_t n, bool conversations, sq_domains *unreachable)
{
	sq_domains doms = {0};
	adp_qid  **chunk;

	if (n == 0 || (chunk = adp_ptrs(ctx, n)) == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		sq_domains_add(ctx, &doms, ids[i]->domain);
	for (size_t d = 0; d < doms.n; d++) {
		size_t          k = 0;
		fedrpc_channel *ch;
		fedrpc_call_opts opts;
		fedrpc_status    st = {0};

		for (size_t i = 0; i < n; i++)
			if (strcmp(ids[i]->domain, doms.v[d]) == 0)
				chunk[k++] = ids[i];
		sq_call_opts(a, &opts);
		if ((ch = sq_remote(a, doms.v[d], &st)) == NULL)
			goto failed;
		for (size_t off = 0; off < k; off += ADP_MAX_LIST) {
			size_t len = k - off < ADP_MAX_LIST ? k - off : ADP_MAX_LIST;

			if (conversations) {
				Fedrpc__Federation__V1__OnUserDeletedConversationsRequest r =
				    FEDRPC__FEDERATION__V1__ON_USER_DELETED_CONVERSATIONS_REQUEST__INIT;
				Fedrpc__Federation__V1__OnUserDeletedConversationsResponse *out;

				r.user            = (adp_qid *) self;
				r.conversations   = chunk + off;
				r.n_conversations = len;
				if (fedrpc_federation_v1_conversations_on_user_deleted_conversations(
				        ch, &r, &out, &opts, &st) != FEDRPC_OK)
					goto failed;
				protobuf_c_message_free_unpacked(&out->base, NULL);
			} else {
				Fedrpc__Federation__V1__OnUserDeletedConnectionsRequest r =
				    FEDRPC__FEDERATION__V1__ON_USER_DELETED_CONNECTIONS_REQUEST__INIT;
				Fedrpc__Federation__V1__OnUserDeletedConnectionsResponse *out;

				r.user          = (adp_qid *) self;
				r.connections   = chunk + off;
				r.n_connections = len;
				if (fedrpc_federation_v1_users_on_user_deleted_connections(
				        ch, &r, &out, &opts, &st) != FEDRPC_OK)
					goto failed;
				protobuf_c_message_free_unpacked(&out->base, NULL);
			}
		}
		continue;
	failed:
		FEDRPC_LOG_WARN("deleting %s: cannot tell %s: %s", self->id,
		    doms.v[d], st.message);
		sq_domains_add(ctx, unreachable, doms.v[d]);
		fedrpc_status_reset(&st);
	}
}

fedrpc_code
sq_h_delete_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__DeleteUserRequest *req,
    Fedrpc__Local__V1__DeleteUserResponse *resp, fedrpc_status *st)
{
	sq_adapter *a   = impl;
	deletion    del = {0};
	sq_domains  unreachable = {0};
	sq_conn    *c;
	fedrpc_code rc;

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) ==
	    FEDRPC_OK)
		rc = delete_locally(a, c, ctx, req->self, &del, st);
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;

	for (size_t i = 0; i < del.n_owned; i++) {
		adp_qid  *me     = req->self;
		sq_change change = {.actor = req->self,
		    .time                  = adp_now_ms(),
		    .removed               = &me,
		    .n_removed             = 1};

		sq_change_fanout(a, ctx, del.owned[i].before, del.owned[i].after,
		    &change, &unreachable);
	}
	notify_chunks(a, ctx, req->self, del.remote_convs, del.n_remote_convs,
	    true, &unreachable);
	notify_chunks(a, ctx, req->self, del.remote_conns, del.n_remote_conns,
	    false, &unreachable);
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}
