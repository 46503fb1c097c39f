/*
 * The federation Conversations service (Wire's Galley federation API): as
 * a member's backend it keeps copies of remote conversations up to date
 * from the owner's notifications and delivers messages to its members'
 * clients; as the owner it answers GetConversations, leaves, message sends
 * and deleted users.
 */
#include <string.h>

#include <fedrpc/log.h>

#include "backends/reference/once.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"

#define ROLE_MEMBER FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER

/* A conversation the caller says it owns: PERMISSION_DENIED otherwise. */
static fedrpc_code
check_theirs(const adp_qid *conv, fedrpc_ctx *ctx, fedrpc_status *st)
{
	return adp_check_origin(conv, ctx, "conversation", st);
}

static bool
is_ours(ref_svc *s, const adp_qid *q)
{
	return strcmp(q->domain, s->domain) == 0;
}

/* Whether a member may be in our copy: any remote user, and our users
 * that exist (and are not deleted). */
static fedrpc_code
member_admitted(ref_svc *s, fedrpc_store_tx *tx, const adp_qid *u,
    bool *ok, fedrpc_status *st)
{
	*ok = true;
	if (!is_ours(s, u))
		return FEDRPC_OK;
	return ref_user_live(tx, u->id, ok, st);
}

/* The ids of a conversation's members, for ref_change_events. */
static adp_qid **
member_ids(fedrpc_ctx *ctx, const ref_conversation *conv)
{
	adp_qid **v = adp_ptrs(ctx, conv->n_members);

	for (size_t i = 0; v != NULL && i < conv->n_members; i++)
		v[i] = conv->members[i]->id;
	return v;
}

/* The owner's description as our copy: every member but our users who do
 * not exist (or no longer). */
static fedrpc_code
copy_of(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ref_conversation *conv, ref_conversation **out, fedrpc_status *st)
{
	ref_conversation *copy = fedrpc_ctx_alloc(ctx, sizeof(*copy));

	if (copy == NULL)
		return REF_NOMEM(st);
	*copy = *conv;
	if ((copy->members = adp_ptrs(ctx, conv->n_members)) == NULL)
		return REF_NOMEM(st);
	copy->n_members = 0;
	for (size_t i = 0; i < conv->n_members; i++) {
		ref_member *mb = conv->members[i];
		bool        ok;

		if (member_admitted(s, tx, mb->id, &ok, st) != FEDRPC_OK)
			return st->code;
		if (!ok) {
			FEDRPC_LOG_INFO("conversation %s@%s: no user %s here",
			    conv->id->id, conv->id->domain, mb->id->id);
			continue;
		}
		copy->members[copy->n_members++] = mb;
	}
	*out = copy;
	return FEDRPC_OK;
}

/* Our users in `a` who are not in `b`. */
static fedrpc_code
ours_missing_from(ref_svc *s, fedrpc_ctx *ctx, const ref_conversation *a,
    const ref_conversation *b, ref_change *into, bool added,
    fedrpc_status *st)
{
	if (added) {
		if ((into->added = adp_ptrs(ctx, a->n_members)) == NULL)
			return REF_NOMEM(st);
	} else if ((into->removed = adp_ptrs(ctx, a->n_members)) == NULL) {
		return REF_NOMEM(st);
	}
	for (size_t i = 0; i < a->n_members; i++) {
		ref_member *mb = a->members[i];

		if (!is_ours(s, mb->id) ||
		    (b != NULL && ref_conv_member(b, mb->id) != NULL))
			continue;
		if (added)
			into->added[into->n_added++] = mb;
		else
			into->removed[into->n_removed++] = mb->id;
	}
	return FEDRPC_OK;
}

/*
 * Our copy becomes the owner's description `conv` (old: the copy as it
 * was, or NULL). Whatever differs is told to our users as if it had
 * happened now: users of ours new to the copy get ConversationCreated,
 * those no longer in it MembersLeft, and a changed name (unless the
 * caller told it already) ConversationRenamed. With no user of ours left
 * the copy goes.
 */
static fedrpc_code
adopt(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ref_conversation *old, const ref_conversation *conv,
    const adp_qid *actor, bool tell_rename, fedrpc_status *st)
{
	ref_conversation *copy  = NULL;
	ref_change        added = {.actor = actor, .time = adp_now_ms()};
	ref_change        gone  = added, renamed = added;
	adp_qid         **present;

	if (copy_of(s, ctx, tx, conv, &copy, st) != FEDRPC_OK ||
	    ours_missing_from(s, ctx, copy, old, &added, true, st) != FEDRPC_OK)
		return st->code;
	if (old != NULL) {
		if (ours_missing_from(s, ctx, old, copy, &gone, false, st) !=
		        FEDRPC_OK ||
		    (present = member_ids(ctx, old)) == NULL)
			return st->code != FEDRPC_OK ? st->code : REF_NOMEM(st);
		if (gone.n_removed > 0 &&
		    ref_change_events(s, ctx, tx, copy, present, old->n_members,
		        &gone, st) != FEDRPC_OK)
			return st->code;
	}
	if (!ref_conv_has_local(s, copy))
		return old != NULL ? tx->ops->conversation_delete(tx, copy->id, st)
				   : FEDRPC_OK;
	if (tx->ops->conversation_put(tx, copy, st) != FEDRPC_OK)
		return st->code;
	if (added.n_added > 0 &&
	    ref_change_events(s, ctx, tx, copy, NULL, 0, &added, st) != FEDRPC_OK)
		return st->code;
	if (old != NULL && tell_rename && strcmp(old->name, copy->name) != 0) {
		renamed.rename = copy->name;
		if ((present = member_ids(ctx, copy)) == NULL)
			return REF_NOMEM(st);
		return ref_change_events(
		    s, ctx, tx, copy, present, copy->n_members, &renamed, st);
	}
	return FEDRPC_OK;
}

/* Whether the owner's description is older than (or as old as) our
 * copy: then it changes nothing. Version 0 is an owner that keeps none. */
static bool
stale(const ref_conversation *copy, const ref_conversation *conv)
{
	return copy != NULL && conv->version != 0 &&
	    copy->version >= conv->version;
}

static fedrpc_code
tx_conversation_created(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call                *c    = arg;
	const ref_conversation *conv =
	    ((const Fedrpc__Federation__V1__OnConversationCreatedRequest *) c->req)
	        ->conversation;
	ref_conversation *old;

	if (ref_conv_get(tx, conv->id, &old, st) != FEDRPC_OK)
		return st->code;
	if (stale(old, conv)) {
		FEDRPC_LOG_INFO("conversation %s@%s: version %llu is not newer "
		                "than ours (%llu); ignored",
		    conv->id->id, conv->id->domain,
		    (unsigned long long) conv->version,
		    (unsigned long long) old->version);
		return FEDRPC_OK;
	}
	return adopt(c->s, c->ctx, tx, old, conv, conv->creator, true, st);
}

static fedrpc_code
h_on_conversation_created(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnConversationCreatedRequest *req,
    Fedrpc__Federation__V1__OnConversationCreatedResponse *resp,
    fedrpc_status *st)
{
	ref_svc          *s    = impl;
	ref_conversation *conv = req->conversation;
	ref_call          a    = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (conv == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "conversation: required");
	if (check_theirs(conv->id, ctx, st) != FEDRPC_OK ||
	    adp_check_origin(conv->creator, ctx, "creator", st) != FEDRPC_OK)
		return st->code;
	if (!adp_text_valid(conv->name, 0, 256))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "name: up to 256 characters of UTF-8");
	for (size_t i = 0; i < conv->n_members; i++)
		if (adp_check_qid(conv->members[i]->id, "members", st) !=
		    FEDRPC_OK)
			return st->code;
	return ref_write_once(s, ctx, &resp->base, tx_conversation_created, &a, st);
}

static fedrpc_code
tx_get_conversations(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__GetConversationsRequest *req  = c->req;
	Fedrpc__Federation__V1__GetConversationsResponse      *resp = c->resp;

	resp->n_conversations = 0;
	for (size_t i = 0; i < req->n_conversations; i++) {
		ref_conversation *conv;

		if (ref_conv_get(tx, req->conversations[i], &conv, st) !=
		    FEDRPC_OK)
			return st->code;
		if (conv != NULL && ref_conv_member(conv, req->user) != NULL)
			resp->conversations[resp->n_conversations++] = conv;
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_get_conversations(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetConversationsRequest *req,
    Fedrpc__Federation__V1__GetConversationsResponse *resp,
    fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_origin(req->user, ctx, "user", st) != FEDRPC_OK)
		return st->code;
	if (req->n_conversations > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "conversations: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_conversations; i++)
		if (adp_check_ours(req->conversations[i], s->domain,
		        "conversations", st) != FEDRPC_OK)
			return st->code;
	if ((resp->conversations = adp_ptrs(ctx, req->n_conversations)) ==
	    NULL)
		return REF_NOMEM(st);
	return ref_read(s, ctx, tx_get_conversations, &c, st);
}

/* The owner's change, from the request (checked). */
static fedrpc_code
update_change(const Fedrpc__Federation__V1__OnConversationUpdatedRequest *req,
    ref_change *change, fedrpc_status *st)
{
	change->actor = req->actor;
	change->time  = req->time_unix_ms;
	switch (req->action_case) {
	case FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_ADDED:
		if (req->members_added == NULL ||
		    req->members_added->n_members == 0)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "members_added: no members");
		change->added   = req->members_added->members;
		change->n_added = req->members_added->n_members;
		for (size_t i = 0; i < change->n_added; i++)
			if (adp_check_qid(change->added[i]->id, "members_added",
			        st) != FEDRPC_OK)
				return st->code;
		return FEDRPC_OK;
	case FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_REMOVED:
		if (req->members_removed == NULL ||
		    req->members_removed->n_users == 0)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "members_removed: no users");
		change->removed   = req->members_removed->users;
		change->n_removed = req->members_removed->n_users;
		for (size_t i = 0; i < change->n_removed; i++)
			if (adp_check_qid(change->removed[i], "members_removed",
			        st) != FEDRPC_OK)
				return st->code;
		return FEDRPC_OK;
	case FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_RENAMED:
		if (req->renamed == NULL ||
		    !adp_text_valid(req->renamed->name, 0, 256))
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "renamed: up to 256 characters of UTF-8");
		change->rename = req->renamed->name;
		return FEDRPC_OK;
	default:
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "action: members_added, members_removed or renamed "
		    "required");
	}
}

typedef struct updated_tx {
	ref_call   c;
	ref_change change;
} updated_tx;

/* The change applied to our copy. */
static fedrpc_code
apply_change(ref_svc *s, fedrpc_store_tx *tx, const adp_qid *conv,
    const ref_change *change, fedrpc_status *st)
{
	for (size_t i = 0; i < change->n_added; i++) {
		ref_member *mb = change->added[i];
		bool        ok;

		if (member_admitted(s, tx, mb->id, &ok, st) != FEDRPC_OK)
			return st->code;
		if (ok && tx->ops->member_put(tx, conv, mb->id,
		              mb->role ? (int) mb->role : ROLE_MEMBER, st) !=
		              FEDRPC_OK)
			return st->code;
	}
	for (size_t i = 0; i < change->n_removed; i++)
		if (tx->ops->member_remove(tx, conv, change->removed[i], st) !=
		    FEDRPC_OK)
			return st->code;
	if (change->rename != NULL &&
	    tx->ops->conversation_rename(tx, conv, change->rename, st) !=
	        FEDRPC_OK)
		return st->code;
	return FEDRPC_OK;
}

static fedrpc_code
tx_conversation_updated(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	updated_tx *a = arg;
	const Fedrpc__Federation__V1__OnConversationUpdatedRequest *req =
	    a->c.req;
	const ref_conversation *snap = req->after;
	ref_conversation       *conv, *after;

	if (ref_conv_get(tx, req->conversation, &conv, st) != FEDRPC_OK)
		return st->code;
	if (conv == NULL) {
		/* A missed creation: the description after the change makes
		 * the copy; without one, ignored. */
		if (snap != NULL)
			return adopt(a->c.s, a->c.ctx, tx, NULL, snap, req->actor,
			    false, st);
		FEDRPC_LOG_INFO("conversation %s@%s is not known here; update "
		                "ignored",
		    req->conversation->id, req->conversation->domain);
		return FEDRPC_OK;
	}
	if (snap != NULL && stale(conv, snap)) {
		FEDRPC_LOG_INFO("conversation %s@%s: update to version %llu is "
		                "not newer than ours (%llu); ignored",
		    conv->id->id, conv->id->domain,
		    (unsigned long long) snap->version,
		    (unsigned long long) conv->version);
		return FEDRPC_OK;
	}
	if (apply_change(a->c.s, tx, conv->id, &a->change, st) != FEDRPC_OK ||
	    ref_conv_get(tx, conv->id, &after, st) != FEDRPC_OK)
		return st->code;
	if (after == NULL)
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "conversation %s@%s vanished during its update", conv->id->id,
		    conv->id->domain);
	if (ref_change_events(a->c.s, a->c.ctx, tx, after,
	        req->already_present_users, req->n_already_present_users,
	        &a->change, st) != FEDRPC_OK)
		return st->code;
	/* What else differs from the owner's view was missed (a notice
	 * moved aside): repaired and told now. */
	if (snap != NULL)
		return adopt(a->c.s, a->c.ctx, tx, after, snap, req->actor,
		    a->change.rename == NULL, st);
	if (!ref_conv_has_local(a->c.s, after))
		return tx->ops->conversation_delete(tx, conv->id, st);
	return FEDRPC_OK;
}

static fedrpc_code
h_on_conversation_updated(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnConversationUpdatedRequest *req,
    Fedrpc__Federation__V1__OnConversationUpdatedResponse *resp,
    fedrpc_status *st)
{
	ref_svc   *s = impl;
	updated_tx a = {{s, ctx, req, resp}, {0}};

	REF_FED_CHECK(s, ctx, st);
	if (check_theirs(req->conversation, ctx, st) != FEDRPC_OK ||
	    adp_check_qid(req->actor, "actor", st) != FEDRPC_OK)
		return st->code;
	if (req->n_already_present_users > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "already_present_users: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_already_present_users; i++)
		if (adp_check_ours(req->already_present_users[i], s->domain,
		        "already_present_users", st) != FEDRPC_OK)
			return st->code;
	if (update_change(req, &a.change, st) != FEDRPC_OK)
		return st->code;
	if (req->after != NULL) {
		const ref_conversation *c = req->after;

		if (c->id == NULL || !adp_qid_eq(c->id, req->conversation) ||
		    adp_check_origin(c->creator, ctx, "after.creator", st) !=
		        FEDRPC_OK ||
		    !adp_text_valid(c->name, 0, 256))
			return st->code != FEDRPC_OK
			    ? st->code
			    : fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			          "after: not the conversation updated");
		for (size_t i = 0; i < c->n_members; i++)
			if (adp_check_qid(c->members[i]->id, "after.members",
			        st) != FEDRPC_OK)
				return st->code;
	}
	return ref_write_once(s, ctx, &resp->base, tx_conversation_updated, &a, st);
}

/* A conversation read in a transaction of its own. */
typedef struct conv_tx {
	const adp_qid    *id;
	ref_conversation *conv; /* NULL: none */
} conv_tx;

static fedrpc_code
tx_conv(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	conv_tx *a = arg;

	return ref_conv_get(tx, a->id, &a->conv, st);
}

static fedrpc_code
h_leave_conversation(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__LeaveConversationRequest *req,
    Fedrpc__Federation__V1__LeaveConversationResponse *resp,
    fedrpc_status *st)
{
	ref_svc    *s           = impl;
	ref_domains unreachable = {0};
	adp_qid    *leaver      = req->leaver;
	conv_tx     a           = {req->conversation, NULL};
	ref_once    once;
	bool        repeat;
	fedrpc_code rc;

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_ours(req->conversation, s->domain, "conversation", st) !=
	        FEDRPC_OK ||
	    adp_check_origin(req->leaver, ctx, "leaver", st) != FEDRPC_OK)
		return st->code;
	/* A leave applied before is answered as it was then. */
	ref_once_fed(&once, ctx);
	if ((rc = ref_once_lookup(s, ctx, &once, &resp->base, &repeat, st)) !=
	        FEDRPC_OK ||
	    repeat)
		return rc;
	if ((rc = ref_read(s, ctx, tx_conv, &a, st)) != FEDRPC_OK)
		return rc;
	if (a.conv == NULL) {
		resp->result = FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_CONVERSATION_NOT_FOUND;
		return FEDRPC_OK;
	}
	if (ref_conv_member(a.conv, leaver) == NULL) {
		resp->result = FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_NOT_A_MEMBER;
		return FEDRPC_OK;
	}
	resp->result = FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_LEFT;
	return ref_owner_remove(s, ctx, req->conversation, leaver, &leaver, 1,
	    true, &once, &resp->base, NULL, &unreachable, st);
}

static fedrpc_code
h_send_message(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__SendMessageRequest *req,
    Fedrpc__Federation__V1__SendMessageResponse *resp, fedrpc_status *st)
{
	ref_svc    *s = impl;
	fedrpc_code rc;
	ref_once    once;
	ref_message m;
	bool        repeat;
	Fedrpc__Federation__V1__MessageSendingStatus *sent;
	Fedrpc__Federation__V1__MessageNotSent       *not_sent;

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_origin(req->sender, ctx, "sender", st) != FEDRPC_OK ||
	    adp_check_ours(req->conversation, s->domain, "conversation", st) !=
	        FEDRPC_OK)
		return st->code;
	/* A message is sent once by its id; one without an id once by the
	 * request's. Only a message sent is remembered: a refused one may
	 * come again with what was missing. */
	if (req->message_id.len > 0)
		ref_once_message(&once, ctx, req->sender, req->message_id);
	else
		ref_once_fed(&once, ctx);
	if ((rc = ref_once_lookup(s, ctx, &once, &resp->base, &repeat, st)) !=
	        FEDRPC_OK ||
	    repeat)
		return rc;
	m = (ref_message){req->sender, req->sender_client, req->conversation,
	    req->recipients, req->n_recipients, req->strategy, req->data,
	    req->message_id, &once};
	if ((rc = ref_owner_send(s, ctx, &m, &sent, &not_sent, &repeat, st)) !=
	    FEDRPC_OK)
		return rc;
	/* sent and not_sent share the oneof's storage. */
	if (sent != NULL) {
		resp->result_case = FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT;
		resp->sent        = sent;
	} else {
		resp->result_case = FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT;
		resp->not_sent    = not_sent;
	}
	return FEDRPC_OK;
}

/* One recipient's clients get the message (in the batch), if they are in
 * our copy (its members sorted: a message may have hundreds of recipients
 * here). */
static fedrpc_code
deliver_to(ref_call *c, ref_inbox_batch *batch, const ref_conversation *conv,
    ref_member *const *sorted,
    const Fedrpc__Federation__V1__UserCiphertexts *u, fedrpc_status *st)
{
	const Fedrpc__Federation__V1__OnMessageSentRequest *req = c->req;

	/* Only members of our copy; the rest is dropped. */
	if (ref_members_find(sorted, conv->n_members, u->user) == NULL) {
		FEDRPC_LOG_INFO("message in %s@%s for non-member %s dropped",
		    conv->id->id, conv->id->domain, u->user->id);
		return FEDRPC_OK;
	}
	for (size_t j = 0; j < u->n_clients; j++) {
		ref_event *ev = ref_event_new(c->ctx, req->time_unix_ms);
		Fedrpc__Local__V1__MessageReceived mr =
		    FEDRPC__LOCAL__V1__MESSAGE_RECEIVED__INIT;

		if (ev == NULL)
			return REF_NOMEM(st);
		mr.conversation      = req->conversation;
		mr.sender            = req->sender;
		mr.sender_client     = req->sender_client;
		mr.ciphertext        = u->clients[j]->ciphertext;
		mr.data              = req->data;
		mr.message_id        = req->message_id;
		ev->payload_case     = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED;
		ev->message_received = &mr;
		if (ref_inbox_batch_add(c->ctx, batch, u->user->id,
		        u->clients[j]->client, ev, st) != FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}

static fedrpc_code
tx_message_sent(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__OnMessageSentRequest *req = c->req;
	ref_conversation *conv;
	ref_member      **sorted;
	ref_inbox_batch   batch;
	size_t            n_events = 0;

	if (ref_conv_get(tx, req->conversation, &conv, st) != FEDRPC_OK)
		return st->code;
	if (conv == NULL) {
		FEDRPC_LOG_INFO("message for unknown conversation %s@%s dropped",
		    req->conversation->id, req->conversation->domain);
		return FEDRPC_OK;
	}
	for (size_t i = 0; i < req->n_recipients; i++)
		n_events += req->recipients[i]->n_clients;
	if ((sorted = ref_conv_sorted(c->ctx, conv)) == NULL ||
	    !ref_inbox_batch_init(c->ctx, &batch, n_events))
		return REF_NOMEM(st);
	for (size_t i = 0; i < req->n_recipients; i++)
		if (deliver_to(c, &batch, conv, sorted, req->recipients[i],
		        st) != FEDRPC_OK)
			return st->code;
	return ref_inbox_batch_append(tx, &batch, st);
}

static fedrpc_code
h_on_message_sent(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnMessageSentRequest *req,
    Fedrpc__Federation__V1__OnMessageSentResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (check_theirs(req->conversation, ctx, st) != FEDRPC_OK ||
	    adp_check_qid(req->sender, "sender", st) != FEDRPC_OK)
		return st->code;
	if (req->n_recipients > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "recipients: at most %d users", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_recipients; i++)
		if (adp_check_ours(req->recipients[i]->user, s->domain,
		        "recipients", st) != FEDRPC_OK)
			return st->code;
	return ref_write_once(s, ctx, &resp->base, tx_message_sent, &c, st);
}

static fedrpc_code
h_on_user_deleted_conversations(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnUserDeletedConversationsRequest *req,
    Fedrpc__Federation__V1__OnUserDeletedConversationsResponse *resp,
    fedrpc_status *st)
{
	ref_svc    *s           = impl;
	adp_qid    *user        = req->user;
	ref_domains unreachable = {0};
	ref_once    once;
	bool        repeat;
	fedrpc_code rc;

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_origin(req->user, ctx, "user", st) != FEDRPC_OK)
		return st->code;
	if (req->n_conversations < 1 || req->n_conversations > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "conversations: 1 to %d entries", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_conversations; i++)
		if (adp_check_ours(req->conversations[i], s->domain,
		        "conversations", st) != FEDRPC_OK)
			return st->code;
	ref_once_fed(&once, ctx);
	if ((rc = ref_once_lookup(s, ctx, &once, &resp->base, &repeat, st)) !=
	        FEDRPC_OK ||
	    repeat)
		return rc;
	/* Each removal is idempotent (a user no longer a member is
	 * skipped), so a repeat cut short by a crash only finishes them. */
	for (size_t i = 0; i < req->n_conversations; i++) {
		rc = ref_owner_remove(s, ctx, req->conversations[i], user, &user,
		    1, true, NULL, NULL, NULL, &unreachable, st);
		if (rc == FEDRPC_NOT_FOUND) {
			fedrpc_status_reset(st);
			continue;
		}
		if (rc != FEDRPC_OK)
			return rc;
	}
	return ref_write_once(s, ctx, &resp->base, NULL, NULL, st);
}

/* Our users who share a conversation with the user hear of the removed
 * client, once each. */
static fedrpc_code
tx_client_removed(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_call *c = arg;
	const Fedrpc__Federation__V1__OnClientRemovedRequest *req = c->req;
	Fedrpc__Local__V1__ClientRemoved cr = FEDRPC__LOCAL__V1__CLIENT_REMOVED__INIT;
	ref_event  *ev = ref_event_new(c->ctx, adp_now_ms());
	ref_domains told = {0}; /* user ids, as a set of strings */
	adp_qid   **convs;
	size_t      n;

	if (ev == NULL)
		return REF_NOMEM(st);
	cr.user            = req->user;
	cr.client          = req->client;
	ev->payload_case   = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CLIENT_REMOVED;
	ev->client_removed = &cr;
	if (tx->ops->conversation_list_of_user(tx, req->user, &convs, &n, st) !=
	    FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < n; i++) {
		ref_conversation *conv;

		if (ref_conv_get(tx, convs[i], &conv, st) != FEDRPC_OK)
			return st->code;
		for (size_t k = 0; conv != NULL && k < conv->n_members; k++) {
			const adp_qid *m = conv->members[k]->id;

			if (!is_ours(c->s, m) || ref_domains_has(&told, m->id))
				continue;
			ref_domains_add(c->ctx, &told, m->id);
			if (!ref_domains_has(&told, m->id))
				return REF_NOMEM(st);
			if (ref_inbox_user(c->ctx, tx, m->id, ev, st) != FEDRPC_OK)
				return st->code;
		}
	}
	return FEDRPC_OK;
}

static fedrpc_code
h_on_client_removed(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnClientRemovedRequest *req,
    Fedrpc__Federation__V1__OnClientRemovedResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;
	ref_call c = {s, ctx, req, resp};

	REF_FED_CHECK(s, ctx, st);
	if (adp_check_origin(req->user, ctx, "user", st) != FEDRPC_OK)
		return st->code;
	if (req->client == 0)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "client: required");
	return ref_write_once(s, ctx, &resp->base, tx_client_removed, &c, st);
}

fedrpc_code
ref_register_fed_conversations(
    fedrpc_server *srv, ref_svc *s, fedrpc_status *st)
{
	static const fedrpc_federation_v1_conversations_handlers h = {
	    .on_conversation_created       = h_on_conversation_created,
	    .get_conversations             = h_get_conversations,
	    .on_conversation_updated       = h_on_conversation_updated,
	    .leave_conversation            = h_leave_conversation,
	    .send_message                  = h_send_message,
	    .on_message_sent               = h_on_message_sent,
	    .on_user_deleted_conversations = h_on_user_deleted_conversations,
	    .on_client_removed             = h_on_client_removed,
	};

	return fedrpc_federation_v1_conversations_register(srv, &h, s, st);
}
