/*
 * The local Conversations service: creating conversations owned here,
 * changing their members and name, leaving (here or at a remote owner
 * with Conversations/LeaveConversation) and listing. What member domains
 * must hear is queued in the change's transaction and settled after it
 * (delivery.h). Message sending is in local_messages.c.
 */
#include <string.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"

#define ROLE_ADMIN FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_ADMIN
#define ROLE_MEMBER FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER

/* Users to add: valid, distinct, not self, each connected to self. */
static fedrpc_code
check_new_members(fedrpc_store_tx *tx, const adp_qid *self,
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
		if (ref_side_get(tx, self->id, users[i], &rel, st) != FEDRPC_OK)
			return st->code;
		if (rel != ADP_REL_ACCEPTED)
			return fedrpc_status_set(st,
			    FEDRPC_FAILED_PRECONDITION,
			    "members: %s@%s is not connected to %s@%s",
			    users[i]->id, users[i]->domain, self->id,
			    self->domain);
	}
	return adp_check_unique(users, n, "members", st);
}

static ref_member *
member_new(fedrpc_ctx *ctx, adp_qid *id, int role)
{
	ref_member *m = fedrpc_ctx_alloc(ctx, sizeof(*m));

	if (m != NULL) {
		fedrpc__federation__v1__conversation_member__init(m);
		m->id   = id;
		m->role = role;
	}
	return m;
}

/* Self as admin, the others as members, by (domain, id) as every list of
 * users. */
static fedrpc_code
initial_members(fedrpc_ctx *ctx, ref_conversation *conv,
    const Fedrpc__Local__V1__CreateConversationRequest *req,
    fedrpc_status *st)
{
	conv->n_members = 0;
	conv->members[conv->n_members++] = member_new(ctx, req->self, ROLE_ADMIN);
	for (size_t i = 0; i < req->n_members; i++)
		conv->members[conv->n_members++] =
		    member_new(ctx, req->members[i], ROLE_MEMBER);
	for (size_t i = 0; i < conv->n_members; i++)
		if (conv->members[i] == NULL)
			return REF_NOMEM(st);
	for (size_t i = 1; i < conv->n_members; i++)
		for (size_t j = i; j > 0 && adp_qid_cmp(conv->members[j - 1]->id,
		                                conv->members[j]->id) > 0;
		     j--) {
			ref_member *t        = conv->members[j];
			conv->members[j]     = conv->members[j - 1];
			conv->members[j - 1] = t;
		}
	return FEDRPC_OK;
}

typedef struct create_tx {
	ref_call          c;
	ref_conversation *conv;
	ref_outs          outs;
} create_tx;

static fedrpc_code
tx_create(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	create_tx *a = arg;
	const Fedrpc__Local__V1__CreateConversationRequest *req = a->c.req;

	a->outs.n = 0;
	if (ref_user_require(a->c.s, tx, req->self, "self", st) != FEDRPC_OK ||
	    check_new_members(tx, req->self, req->members, req->n_members,
	        st) != FEDRPC_OK ||
	    initial_members(a->c.ctx, a->conv, req, st) != FEDRPC_OK ||
	    tx->ops->conversation_put(tx, a->conv, st) != FEDRPC_OK ||
	    ref_change_events(a->c.s, a->c.ctx, tx, a->conv, NULL, 0, NULL,
	        st) != FEDRPC_OK)
		return st->code;
	return ref_change_queue(
	    a->c.s, a->c.ctx, tx, NULL, a->conv, NULL, &a->outs, st);
}

static fedrpc_code
h_create_conversation(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__CreateConversationRequest *req,
    Fedrpc__Local__V1__CreateConversationResponse *resp, fedrpc_status *st)
{
	ref_svc          *s = impl;
	ref_conversation *conv;
	ref_domains       unreachable = {0};
	char              id[37];
	create_tx         a;
	fedrpc_code       rc;

	if (!adp_text_valid(req->name, 0, 256))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "name: up to 256 characters of UTF-8");
	if ((conv = fedrpc_ctx_alloc(ctx, sizeof(*conv))) == NULL)
		return REF_NOMEM(st);
	fedrpc__federation__v1__conversation__init(conv);
	adp_uuid_new(id);
	if ((conv->id = adp_qid_new(ctx, s->domain, id)) == NULL ||
	    (conv->members = adp_ptrs(ctx, req->n_members + 1)) == NULL)
		return REF_NOMEM(st);
	conv->name               = req->name ? req->name : "";
	conv->creator            = req->self;
	conv->created_at_unix_ms = adp_now_ms();
	conv->version            = 1;
	a = (create_tx){{s, ctx, req, resp}, conv, {0}};
	if ((rc = ref_write(s, ctx, tx_create, &a, st)) != FEDRPC_OK)
		return rc;
	ref_outbox_settle(s, ctx, &a.outs, true, &unreachable, &unreachable);
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
check_admin(ref_svc *s, fedrpc_store_tx *tx, const adp_qid *self,
    const adp_qid *conv_id, ref_conversation **conv, fedrpc_status *st)
{
	ref_member *me;

	if (ref_user_require(s, tx, self, "self", st) != FEDRPC_OK ||
	    adp_check_qid(conv_id, "conversation", st) != FEDRPC_OK)
		return st->code;
	if (strcmp(conv_id->domain, s->domain) != 0)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "conversation %s@%s is owned by %s: only its owner changes "
		    "its members",
		    conv_id->id, conv_id->domain, conv_id->domain);
	if (ref_conv_get(tx, conv_id, conv, st) != FEDRPC_OK)
		return st->code;
	if (*conv == NULL)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "no conversation %s@%s", conv_id->id, conv_id->domain);
	if ((me = ref_conv_member(*conv, self)) == NULL)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "%s is not a member of %s@%s", self->id, conv_id->id,
		    conv_id->domain);
	if (me->role != ROLE_ADMIN)
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "%s is not an admin of %s@%s", self->id, conv_id->id,
		    conv_id->domain);
	return FEDRPC_OK;
}

typedef struct add_tx {
	ref_call          c;
	int               role;
	ref_conversation *before, *after;
	ref_change        change;
	ref_outs          outs;
} add_tx;

/* The requested members not there yet are added; the others stay as they
 * are. */
static fedrpc_code
add_new_members(add_tx *a, fedrpc_store_tx *tx, fedrpc_status *st)
{
	const Fedrpc__Local__V1__AddMembersRequest *req = a->c.req;

	a->change.n_added = 0;
	if ((a->change.added = adp_ptrs(a->c.ctx, req->n_members)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < req->n_members; i++) {
		ref_member *m;

		if (ref_conv_member(a->before, req->members[i]) != NULL)
			continue;
		if ((m = member_new(a->c.ctx, req->members[i], a->role)) == NULL)
			return REF_NOMEM(st);
		a->change.added[a->change.n_added++] = m;
		if (tx->ops->member_put(tx, a->before->id, req->members[i],
		        a->role, st) != FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}

static fedrpc_code
tx_add_members(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	add_tx  *a = arg;
	const Fedrpc__Local__V1__AddMembersRequest *req = a->c.req;
	adp_qid **present;

	a->change.n_added = 0;
	a->after          = NULL;
	a->outs.n         = 0;
	if (check_admin(a->c.s, tx, req->self, req->conversation, &a->before,
	        st) != FEDRPC_OK ||
	    check_new_members(tx, req->self, req->members, req->n_members,
	        st) != FEDRPC_OK ||
	    add_new_members(a, tx, st) != FEDRPC_OK ||
	    (a->change.n_added > 0 &&
	        tx->ops->conversation_bump(tx, a->before->id, NULL, st) !=
	            FEDRPC_OK) ||
	    ref_conv_get(tx, a->before->id, &a->after, st) != FEDRPC_OK)
		return st->code;
	if (a->change.n_added == 0)
		return FEDRPC_OK;
	if ((present = adp_ptrs(a->c.ctx, a->before->n_members)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < a->before->n_members; i++)
		present[i] = a->before->members[i]->id;
	if (ref_change_events(a->c.s, a->c.ctx, tx, a->after, present,
	        a->before->n_members, &a->change, st) != FEDRPC_OK)
		return st->code;
	return ref_change_queue(a->c.s, a->c.ctx, tx, a->before, a->after,
	    &a->change, &a->outs, st);
}

static fedrpc_code
h_add_members(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AddMembersRequest *req,
    Fedrpc__Local__V1__AddMembersResponse *resp, fedrpc_status *st)
{
	ref_svc    *s = impl;
	add_tx      a = {{s, ctx, req, resp},
	          req->role ? (int) req->role : ROLE_MEMBER, NULL, NULL,
	          {.actor = req->self, .time = adp_now_ms()}, {0}};
	ref_domains unreachable = {0};
	fedrpc_code rc;

	if (a.role != ROLE_ADMIN && a.role != ROLE_MEMBER)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "role: unknown value %d", a.role);
	if ((rc = ref_write(s, ctx, tx_add_members, &a, st)) != FEDRPC_OK)
		return rc;
	ref_outbox_settle(s, ctx, &a.outs, true, &unreachable, &unreachable);
	resp->conversation          = a.after;
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

typedef struct rename_tx {
	ref_call          c;
	ref_conversation *before, *after;
	ref_change        change;
	ref_outs          outs;
} rename_tx;

static fedrpc_code
tx_rename(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	rename_tx *a = arg;
	const Fedrpc__Local__V1__RenameConversationRequest *req = a->c.req;
	adp_qid  **present;

	a->after  = NULL;
	a->outs.n = 0;
	if (check_admin(a->c.s, tx, req->self, req->conversation, &a->before,
	        st) != FEDRPC_OK)
		return st->code;
	if (strcmp(a->before->name, a->change.rename) == 0) {
		a->after = a->before;
		return FEDRPC_OK;
	}
	if (tx->ops->conversation_rename(tx, a->before->id, a->change.rename,
	        st) != FEDRPC_OK ||
	    tx->ops->conversation_bump(tx, a->before->id, NULL, st) !=
	        FEDRPC_OK ||
	    ref_conv_get(tx, a->before->id, &a->after, st) != FEDRPC_OK)
		return st->code;
	if ((present = adp_ptrs(a->c.ctx, a->before->n_members)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < a->before->n_members; i++)
		present[i] = a->before->members[i]->id;
	if (ref_change_events(a->c.s, a->c.ctx, tx, a->after, present,
	        a->before->n_members, &a->change, st) != FEDRPC_OK)
		return st->code;
	return ref_change_queue(a->c.s, a->c.ctx, tx, a->before, a->after,
	    &a->change, &a->outs, st);
}

static fedrpc_code
h_rename_conversation(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__RenameConversationRequest *req,
    Fedrpc__Local__V1__RenameConversationResponse *resp, fedrpc_status *st)
{
	ref_svc    *s           = impl;
	ref_domains unreachable = {0};
	rename_tx   a           = {{s, ctx, req, resp}, NULL, NULL,
	                {.actor = req->self, .time = adp_now_ms(),
	                    .rename = req->name ? req->name : ""},
	                {0}};
	fedrpc_code rc;

	if (!adp_text_valid(a.change.rename, 0, 256))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "name: up to 256 characters of UTF-8");
	if ((rc = ref_write(s, ctx, tx_rename, &a, st)) != FEDRPC_OK)
		return rc;
	ref_outbox_settle(s, ctx, &a.outs, true, &unreachable, &unreachable);
	resp->conversation          = a.after;
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

static fedrpc_code
tx_check_admin(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__RemoveMembersRequest *req = c->req;
	ref_conversation *conv;

	return check_admin(c->s, tx, req->self, req->conversation, &conv, st);
}

static fedrpc_code
h_remove_members(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__RemoveMembersRequest *req,
    Fedrpc__Local__V1__RemoveMembersResponse *resp, fedrpc_status *st)
{
	ref_svc    *s           = impl;
	ref_call    c           = {s, ctx, req, resp};
	ref_domains unreachable = {0};
	fedrpc_code rc;

	if (req->n_members > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "members: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_members; i++)
		if (adp_check_qid(req->members[i], "members", st) != FEDRPC_OK)
			return st->code;
	if (adp_check_unique(req->members, req->n_members, "members", st) !=
	    FEDRPC_OK)
		return st->code;
	if ((rc = ref_read(s, ctx, tx_check_admin, &c, st)) != FEDRPC_OK ||
	    (rc = ref_owner_remove(s, ctx, req->conversation, req->self,
	         req->members, req->n_members, true, NULL, NULL,
	         &resp->conversation,
	         &unreachable, st)) != FEDRPC_OK)
		return rc;
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return FEDRPC_OK;
}

/* Drops self from our copy of a remote conversation (and the copy when no
 * user of ours is left in it). */
static fedrpc_code
tx_leave_copy(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__LeaveConversationRequest *req = c->req;
	bool any;

	if (tx->ops->member_remove(tx, req->conversation, req->self, st) !=
	        FEDRPC_OK ||
	    tx->ops->conversation_has_member_of(
	        tx, req->conversation, c->s->domain, &any, st) != FEDRPC_OK)
		return st->code;
	return any ? FEDRPC_OK
		   : tx->ops->conversation_delete(tx, req->conversation, st);
}

/* Self exists, the id is valid and, for a conversation we own, self is
 * a member of it. */
static fedrpc_code
tx_check_leave(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__LeaveConversationRequest *req = c->req;
	const adp_qid    *cid = req->conversation;
	ref_conversation *conv;

	if (ref_user_require(c->s, tx, req->self, "self", st) != FEDRPC_OK ||
	    adp_check_qid(cid, "conversation", st) != FEDRPC_OK)
		return st->code;
	if (strcmp(cid->domain, c->s->domain) != 0)
		return FEDRPC_OK;
	if (ref_conv_get(tx, cid, &conv, st) != FEDRPC_OK)
		return st->code;
	if (conv == NULL)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "no conversation %s@%s", cid->id, cid->domain);
	if (ref_conv_member(conv, req->self) == NULL)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "%s is not a member of %s@%s", req->self->id, cid->id,
		    cid->domain);
	return FEDRPC_OK;
}

/* The owner's answer to our LeaveConversation, as a local status. */
static fedrpc_code
leave_result(ref_call *c, int result, fedrpc_status *st)
{
	const Fedrpc__Local__V1__LeaveConversationRequest *req = c->req;
	const adp_qid *cid = req->conversation;

	switch (result) {
	case FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_LEFT:
		return ref_write(c->s, c->ctx, tx_leave_copy, c, st);
	case FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_CONVERSATION_NOT_FOUND:
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "%s has no conversation %s", cid->domain, cid->id);
	case FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_NOT_A_MEMBER:
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "%s is not a member of %s@%s", req->self->id, cid->id,
		    cid->domain);
	case FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_REMOVAL_NOT_ALLOWED:
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "%s does not allow leaving %s", cid->domain, cid->id);
	default:
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "%s answered leave with result %d", cid->domain, result);
	}
}

/* Leaving a conversation another domain owns: its owner decides. */
static fedrpc_code
leave_remote(ref_call *c, fedrpc_status *st)
{
	const Fedrpc__Local__V1__LeaveConversationRequest *req = c->req;
	const adp_qid *cid = req->conversation;
	Fedrpc__Federation__V1__LeaveConversationRequest r =
	    FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Federation__V1__LeaveConversationResponse *out;
	fedrpc_channel                                    *ch;
	fedrpc_call_opts                                   opts;
	int                                                result;

	if ((ch = ref_remote(c->s, cid->domain, st)) == NULL)
		return ref_remote_failed(cid->domain, st);
	ref_call_opts(c->s, &opts);
	r.conversation = (adp_qid *) cid;
	r.leaver       = req->self;
	if (fedrpc_federation_v1_conversations_leave_conversation(
	        ch, &r, &out, &opts, st) != FEDRPC_OK)
		return ref_remote_failed(cid->domain, st);
	ref_remote_ok(c->s, cid->domain);
	result = out->result;
	protobuf_c_message_free_unpacked(&out->base, NULL);
	return leave_result(c, result, st);
}

static fedrpc_code
h_leave_conversation(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__LeaveConversationRequest *req,
    Fedrpc__Local__V1__LeaveConversationResponse *resp, fedrpc_status *st)
{
	ref_svc    *s           = impl;
	ref_call    c           = {s, ctx, req, resp};
	ref_domains unreachable = {0};
	adp_qid    *me          = req->self;
	fedrpc_code rc;

	if ((rc = ref_read(s, ctx, tx_check_leave, &c, st)) != FEDRPC_OK)
		return rc;
	if (strcmp(req->conversation->domain, s->domain) != 0)
		return leave_remote(&c, st);
	rc = ref_owner_remove(s, ctx, req->conversation, req->self, &me, 1,
	    true, NULL, NULL, NULL, &unreachable, st);
	resp->unreachable_domains   = unreachable.v;
	resp->n_unreachable_domains = unreachable.n;
	return rc;
}

static fedrpc_code
tx_list(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Local__V1__ListConversationsRequest *req  = c->req;
	Fedrpc__Local__V1__ListConversationsResponse      *resp = c->resp;
	adp_qid **ids;
	size_t    n;

	resp->n_conversations = 0;
	if (ref_user_require(c->s, tx, req->self, "self", st) != FEDRPC_OK ||
	    tx->ops->conversation_list_of_user(tx, req->self, &ids, &n, st) !=
	        FEDRPC_OK)
		return st->code;
	if ((resp->conversations = adp_ptrs(c->ctx, n)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n; i++) {
		ref_conversation *conv;

		if (ref_conv_get(tx, ids[i], &conv, st) != FEDRPC_OK)
			return st->code;
		if (conv != NULL)
			resp->conversations[resp->n_conversations++] = conv;
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_list_conversations(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListConversationsRequest *req,
    Fedrpc__Local__V1__ListConversationsResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	return ref_read(s, ctx, tx_list, &c, st);
}

fedrpc_code
ref_register_local_conversations(
    fedrpc_server *srv, ref_svc *s, fedrpc_status *st)
{
	static const fedrpc_local_v1_conversations_handlers h = {
	    .create_conversation = h_create_conversation,
	    .add_members         = h_add_members,
	    .remove_members      = h_remove_members,
	    .rename_conversation = h_rename_conversation,
	    .leave_conversation  = h_leave_conversation,
	    .list_conversations  = h_list_conversations,
	    .send_message        = ref_h_send_message,
	};

	return fedrpc_local_v1_conversations_register(srv, &h, s, st);
}
