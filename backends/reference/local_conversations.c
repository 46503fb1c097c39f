/*
 * The local Conversations service on SQLite: creating conversations owned
 * here, changing their members, leaving (here or at a remote owner with
 * Conversations/LeaveConversation) and listing. Message sending is in
 * local_messages.c.
 */
#include <string.h>

#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "backends/sqlite/sq.h"

#define ROLE_ADMIN FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_ADMIN
#define ROLE_MEMBER FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER

/* Users to add: valid, distinct, not self, each connected to self. */
static fedrpc_code
check_new_members(sq_adapter *a, sq_conn *c, const adp_qid *self,
    adp_qid *const *users, size_t n, fedrpc_status *st)
{
	if (n > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "members: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < n; i++) {
		adp_relation rel;

		if (adp_check_qid(users[i], "members", st) != FEDRPC_OK)
			return st->code;
		if (adp_qid_eq(users[i], self))
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "members: must not include self");
		if (sq_conn_get(c, self->id, users[i], &rel, st) != FEDRPC_OK)
			return st->code;
		if (rel != ADP_REL_ACCEPTED)
			return fedrpc_status_set(st,
			    FEDRPC_FAILED_PRECONDITION,
			    "members: %s@%s is not connected to %s@%s",
			    users[i]->id, users[i]->domain, self->id,
			    self->domain);
	}
	(void) a;
	return adp_check_unique(users, n, "members", st);
}

static sq_member *
member_new(fedrpc_ctx *ctx, adp_qid *id, int role)
{
	sq_member *m = fedrpc_ctx_alloc(ctx, sizeof(*m));

	if (m != NULL) {
		fedrpc__federation__v1__conversation_member__init(m);
		m->id   = id;
		m->role = role;
	}
	return m;
}

static fedrpc_code
h_create_conversation(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__CreateConversationRequest *req,
    Fedrpc__Local__V1__CreateConversationResponse *resp, fedrpc_status *st)
{
	sq_adapter      *a = impl;
	sq_conversation *conv;
	sq_domains       unreachable = {0};
	sq_conn         *c;
	char             id[37];
	fedrpc_code      rc;

	if (!adp_text_valid(req->name, 0, 256))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "name: up to 256 characters of UTF-8");
	if ((conv = fedrpc_ctx_alloc(ctx, sizeof(*conv))) == NULL)
		return SQ_NOMEM(st);
	fedrpc__federation__v1__conversation__init(conv);
	adp_uuid_new(id);
	if ((conv->id = adp_qid_new(ctx, a->domain, id)) == NULL ||
	    (conv->members = adp_ptrs(ctx, req->n_members + 1)) == NULL)
		return SQ_NOMEM(st);
	conv->name               = req->name ? req->name : "";
	conv->creator            = req->self;
	conv->created_at_unix_ms = adp_now_ms();

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) !=
	        FEDRPC_OK ||
	    (rc = check_new_members(a, c, req->self, req->members,
	         req->n_members, st)) != FEDRPC_OK)
		goto out;
	conv->members[conv->n_members++] = member_new(ctx, req->self, ROLE_ADMIN);
	for (size_t i = 0; i < req->n_members; i++)
		conv->members[conv->n_members++] =
		    member_new(ctx, req->members[i], ROLE_MEMBER);
	for (size_t i = 0; i < conv->n_members; i++)
		if (conv->members[i] == NULL) {
			rc = SQ_NOMEM(st);
			goto out;
		}
	/* Members by (domain, id), as every list of users. */
	for (size_t i = 1; i < conv->n_members; i++)
		for (size_t j = i; j > 0 && adp_qid_cmp(conv->members[j - 1]->id,
		                                conv->members[j]->id) > 0;
		     j--) {
			sq_member *t         = conv->members[j];
			conv->members[j]     = conv->members[j - 1];
			conv->members[j - 1] = t;
		}
	if ((rc = sq_conv_put(c, conv, st)) == FEDRPC_OK)
		rc = sq_change_events(a, c, ctx, conv, NULL, 0, NULL, st);
out:
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;
	sq_change_fanout(a, ctx, NULL, conv, NULL, &unreachable);
	resp->conversation          = conv;
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

/*
 * The admin checks of AddMembers and RemoveMembers, in the caller's
 * transaction: the conversation is ours and exists, self is an admin.
 */
static fedrpc_code
check_admin(sq_adapter *a, sq_conn *c, fedrpc_ctx *ctx, const adp_qid *self,
    const adp_qid *conv_id, sq_conversation **conv, fedrpc_status *st)
{
	sq_member *me;
	int        found;

	if (sq_user_require(a, c, ctx, self, "self", st) != FEDRPC_OK ||
	    adp_check_qid(conv_id, "conversation", st) != FEDRPC_OK)
		return st->code;
	if (strcmp(conv_id->domain, a->domain) != 0)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "conversation %s@%s is owned by %s: only its owner changes "
		    "its members",
		    conv_id->id, conv_id->domain, conv_id->domain);
	if ((found = sq_conv_get(c, ctx, conv_id, conv, st)) < 0)
		return st->code;
	if (found == 0)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "no conversation %s@%s", conv_id->id, conv_id->domain);
	if ((me = sq_conv_member(*conv, self)) == NULL)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "%s is not a member of %s@%s", self->id, conv_id->id,
		    conv_id->domain);
	if (me->role != ROLE_ADMIN)
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "%s is not an admin of %s@%s", self->id, conv_id->id,
		    conv_id->domain);
	return FEDRPC_OK;
}

static fedrpc_code
h_add_members(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AddMembersRequest *req,
    Fedrpc__Local__V1__AddMembersResponse *resp, fedrpc_status *st)
{
	sq_adapter      *a = impl;
	sq_conversation *before = NULL, *after = NULL;
	sq_change        change = {.actor = req->self, .time = adp_now_ms()};
	adp_qid        **present = NULL;
	size_t           n_present = 0;
	sq_domains       unreachable = {0};
	sq_conn         *c;
	int              role = req->role ? (int) req->role : ROLE_MEMBER;
	fedrpc_code      rc;

	if (role != ROLE_ADMIN && role != ROLE_MEMBER)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "role: unknown value %d", role);
	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = check_admin(a, c, ctx, req->self, req->conversation, &before,
	         st)) != FEDRPC_OK ||
	    (rc = check_new_members(a, c, req->self, req->members,
	         req->n_members, st)) != FEDRPC_OK)
		goto out;
	if ((change.added = adp_ptrs(ctx, req->n_members)) == NULL ||
	    (present = adp_ptrs(ctx, before->n_members)) == NULL) {
		rc = SQ_NOMEM(st);
		goto out;
	}
	for (size_t i = 0; i < before->n_members; i++)
		present[n_present++] = before->members[i]->id;
	/* Members already there are left as they are. */
	for (size_t i = 0; i < req->n_members && rc == FEDRPC_OK; i++) {
		if (sq_conv_member(before, req->members[i]) != NULL)
			continue;
		if ((change.added[change.n_added] =
		            member_new(ctx, req->members[i], role)) == NULL) {
			rc = SQ_NOMEM(st);
			break;
		}
		change.n_added++;
		rc = sq_member_add(c, before->id, req->members[i], role, st);
	}
	if (rc == FEDRPC_OK && sq_conv_get(c, ctx, before->id, &after, st) < 0)
		rc = st->code;
	if (rc == FEDRPC_OK && change.n_added > 0)
		rc = sq_change_events(
		    a, c, ctx, after, present, n_present, &change, st);
out:
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;
	if (change.n_added > 0)
		sq_change_fanout(a, ctx, before, after, &change, &unreachable);
	resp->conversation          = after;
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

static fedrpc_code
h_remove_members(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__RemoveMembersRequest *req,
    Fedrpc__Local__V1__RemoveMembersResponse *resp, fedrpc_status *st)
{
	sq_adapter      *a = impl;
	sq_conversation *conv;
	sq_domains       unreachable = {0};
	sq_conn         *c;
	fedrpc_code      rc;

	if (req->n_members > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "members: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_members; i++)
		if (adp_check_qid(req->members[i], "members", st) != FEDRPC_OK)
			return st->code;
	if (adp_check_unique(req->members, req->n_members, "members", st) !=
	    FEDRPC_OK)
		return st->code;
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	rc = check_admin(a, c, ctx, req->self, req->conversation, &conv, st);
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_owner_remove(a, ctx, req->conversation, req->self,
	         req->members, req->n_members, &resp->conversation,
	         &unreachable, st)) != FEDRPC_OK)
		return rc;
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

/* Drops self from our copy of a remote conversation (and the copy when no
 * user of ours is left in it). */
static fedrpc_code
leave_copy(sq_adapter *a, fedrpc_ctx *ctx, const adp_qid *self,
    const adp_qid *conv_id, fedrpc_status *st)
{
	sq_conn    *c;
	int         left;
	fedrpc_code rc;

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_member_remove(c, conv_id, self, st)) == FEDRPC_OK) {
		if ((left = sq_conv_has_domain_member(c, conv_id, a->domain,
		         st)) < 0)
			rc = st->code;
		else if (left == 0)
			rc = sq_conv_delete(c, conv_id, st);
	}
	(void) ctx;
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_leave_conversation(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__LeaveConversationRequest *req,
    Fedrpc__Local__V1__LeaveConversationResponse *resp, fedrpc_status *st)
{
	sq_adapter      *a = impl;
	sq_conversation *conv;
	sq_domains       unreachable = {0};
	sq_conn         *c;
	int              found;
	fedrpc_code      rc;
	const adp_qid   *cid = req->conversation;

	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) ==
	        FEDRPC_OK &&
	    (rc = adp_check_qid(cid, "conversation", st)) == FEDRPC_OK &&
	    strcmp(cid->domain, a->domain) == 0) {
		if ((found = sq_conv_get(c, ctx, cid, &conv, st)) < 0)
			rc = st->code;
		else if (found == 0)
			rc = fedrpc_status_set(st, FEDRPC_NOT_FOUND,
			    "no conversation %s@%s", cid->id, cid->domain);
		else if (sq_conv_member(conv, req->self) == NULL)
			rc = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "%s is not a member of %s@%s", req->self->id,
			    cid->id, cid->domain);
	}
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;

	if (strcmp(cid->domain, a->domain) == 0) {
		adp_qid *me = req->self;

		rc = sq_owner_remove(
		    a, ctx, cid, req->self, &me, 1, NULL, &unreachable, st);
		resp->unreachable_domains   = unreachable.v;
		resp->n_unreachable_domains = unreachable.n;
		return rc;
	}
	{
		Fedrpc__Federation__V1__LeaveConversationRequest r =
		    FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_REQUEST__INIT;
		Fedrpc__Federation__V1__LeaveConversationResponse *out;
		fedrpc_channel                                    *ch;
		fedrpc_call_opts                                   opts;
		int                                                result;

		if ((ch = sq_remote(a, cid->domain, st)) == NULL)
			return sq_remote_failed(cid->domain, st);
		sq_call_opts(a, &opts);
		r.conversation = (adp_qid *) cid;
		r.leaver       = req->self;
		if (fedrpc_federation_v1_conversations_leave_conversation(
		        ch, &r, &out, &opts, st) != FEDRPC_OK)
			return sq_remote_failed(cid->domain, st);
		result = out->result;
		protobuf_c_message_free_unpacked(&out->base, NULL);
		switch (result) {
		case FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_LEFT:
			return leave_copy(a, ctx, req->self, cid, st);
		case FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_CONVERSATION_NOT_FOUND:
			return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
			    "%s has no conversation %s", cid->domain, cid->id);
		case FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_NOT_A_MEMBER:
			return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "%s is not a member of %s@%s", req->self->id,
			    cid->id, cid->domain);
		case FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_REMOVAL_NOT_ALLOWED:
			return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "%s does not allow leaving %s", cid->domain,
			    cid->id);
		default:
			return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
			    "%s answered leave with result %d", cid->domain,
			    result);
		}
	}
}

static fedrpc_code
h_list_conversations(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListConversationsRequest *req,
    Fedrpc__Local__V1__ListConversationsResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	adp_qid   **ids;
	size_t      n;
	fedrpc_code rc;

	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) !=
	        FEDRPC_OK ||
	    (rc = sq_conv_of_user(c, ctx, req->self, &ids, &n, st)) !=
	        FEDRPC_OK)
		goto out;
	if ((resp->conversations = adp_ptrs(ctx, n)) == NULL) {
		rc = SQ_NOMEM(st);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sq_conversation *conv;
		int              found = sq_conv_get(c, ctx, ids[i], &conv, st);

		if (found < 0) {
			rc = st->code;
			break;
		}
		if (found > 0)
			resp->conversations[resp->n_conversations++] = conv;
	}
out:
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_send_message(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__SendMessageRequest *req,
    Fedrpc__Local__V1__SendMessageResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	fedrpc_code rc;
	Fedrpc__Federation__V1__MessageSendingStatus *sent     = NULL;
	Fedrpc__Federation__V1__MessageNotSent       *not_sent = NULL;

	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	if ((rc = sq_user_require(a, c, ctx, req->self, "self", st)) ==
	    FEDRPC_OK)
		rc = adp_check_qid(req->conversation, "conversation", st);
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;
	if (req->strategy == NULL ||
	    req->strategy->strategy_case ==
	        FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY__NOT_SET)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "strategy: required");

	if (strcmp(req->conversation->domain, a->domain) == 0) {
		rc = sq_owner_send(a, ctx, req->self, req->sender_client,
		    req->conversation, req->recipients, req->n_recipients,
		    req->strategy, req->data, &sent, &not_sent, st);
	} else {
		/* The owner decides; its answer is passed on unchanged. */
		Fedrpc__Federation__V1__SendMessageRequest r =
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_REQUEST__INIT;
		Fedrpc__Federation__V1__SendMessageResponse *out, *cp;
		fedrpc_channel                              *ch;
		fedrpc_call_opts                             opts;
		const char *owner = req->conversation->domain;

		if ((ch = sq_remote(a, owner, st)) == NULL)
			return sq_remote_failed(owner, st);
		sq_call_opts(a, &opts);
		r.sender        = req->self;
		r.sender_client = req->sender_client;
		r.conversation  = req->conversation;
		r.recipients    = req->recipients;
		r.n_recipients  = req->n_recipients;
		r.strategy      = req->strategy;
		r.data          = req->data;
		if (fedrpc_federation_v1_conversations_send_message(
		        ch, &r, &out, &opts, st) != FEDRPC_OK)
			return sq_remote_failed(owner, st);
		cp = (Fedrpc__Federation__V1__SendMessageResponse *) adp_clone(
		    ctx, &out->base);
		protobuf_c_message_free_unpacked(&out->base, NULL);
		if (cp == NULL)
			return SQ_NOMEM(st);
		if (cp->result_case ==
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT)
			sent = cp->sent;
		else if (cp->result_case ==
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT)
			not_sent = cp->not_sent;
		else
			return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
			    "%s answered a message with neither sent nor "
			    "not_sent",
			    owner);
		rc = FEDRPC_OK;
	}
	if (rc != FEDRPC_OK)
		return rc;
	if (sent != NULL) {
		resp->result_case = FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT;
		resp->sent        = sent;
	} else {
		resp->result_case = FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT;
		resp->not_sent    = not_sent;
	}
	return FEDRPC_OK;
}

fedrpc_code
sq_register_local_conversations(
    fedrpc_server *srv, sq_adapter *a, fedrpc_status *st)
{
	static const fedrpc_local_v1_conversations_handlers h = {
	    .create_conversation = h_create_conversation,
	    .add_members         = h_add_members,
	    .remove_members      = h_remove_members,
	    .leave_conversation  = h_leave_conversation,
	    .list_conversations  = h_list_conversations,
	    .send_message        = h_send_message,
	};

	return fedrpc_local_v1_conversations_register(srv, &h, a, st);
}
