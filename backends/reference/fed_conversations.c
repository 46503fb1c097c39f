/*
 * The federation Conversations service (Wire's Galley federation API) on
 * SQLite: as a member's backend it keeps copies of remote conversations up
 * to date from the owner's notifications and delivers messages to its
 * members' clients; as the owner it answers GetConversations, leaves,
 * message sends and deleted users.
 */
#include <string.h>

#include <fedrpc/log.h>

#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "backends/sqlite/sq.h"

#define ROLE_MEMBER FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER

/* A conversation the caller says it owns: PERMISSION_DENIED otherwise. */
static fedrpc_code
check_theirs(const adp_qid *conv, fedrpc_ctx *ctx, fedrpc_status *st)
{
	return adp_check_origin(conv, ctx, "conversation", st);
}

static bool
is_ours(sq_adapter *a, const adp_qid *q)
{
	return strcmp(q->domain, a->domain) == 0;
}

/* Whether one of our users exists (and is not deleted). */
static int
local_user_exists(sq_conn *c, fedrpc_ctx *ctx, const adp_qid *u,
    fedrpc_status *st)
{
	sq_user user;
	int     found = sq_user_get(c, ctx, u->id, &user, st);

	return found <= 0 ? found : !user.deleted;
}

static fedrpc_code
h_on_conversation_created(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnConversationCreatedRequest *req,
    Fedrpc__Federation__V1__OnConversationCreatedResponse *resp,
    fedrpc_status *st)
{
	sq_adapter      *a    = impl;
	sq_conversation *conv = req->conversation, *old = NULL, *copy;
	sq_change        change = {0};
	sq_conn         *c;
	int              found;
	fedrpc_code      rc;

	(void) resp;
	SQ_FED_CHECK(a, ctx, st);
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

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((found = sq_conv_get(c, ctx, conv->id, &old, st)) < 0) {
		rc = st->code;
		goto out;
	}
	/* The copy keeps every member; our users who do not exist (or no
	 * longer) are left out, and without any user of ours, no copy. */
	if ((copy = fedrpc_ctx_alloc(ctx, sizeof(*copy))) == NULL ||
	    (change.added = adp_ptrs(ctx, conv->n_members)) == NULL) {
		rc = SQ_NOMEM(st);
		goto out;
	}
	*copy = *conv;
	if ((copy->members = adp_ptrs(ctx, conv->n_members)) == NULL) {
		rc = SQ_NOMEM(st);
		goto out;
	}
	copy->n_members = 0;
	for (size_t i = 0; i < conv->n_members && rc == FEDRPC_OK; i++) {
		sq_member *mb = conv->members[i];
		int        ok = 1;

		if (is_ours(a, mb->id) &&
		    (ok = local_user_exists(c, ctx, mb->id, st)) < 0) {
			rc = st->code;
			break;
		}
		if (!ok) {
			FEDRPC_LOG_INFO("conversation %s@%s: no user %s here",
			    conv->id->id, conv->id->domain, mb->id->id);
			continue;
		}
		copy->members[copy->n_members++] = mb;
		/* Only users new to our copy hear of it (idempotent). */
		if (is_ours(a, mb->id) &&
		    (old == NULL || sq_conv_member(old, mb->id) == NULL))
			change.added[change.n_added++] = mb;
	}
	if (rc != FEDRPC_OK)
		goto out;
	if (!sq_conv_has_local(a, copy)) {
		if (old != NULL)
			rc = sq_conv_delete(c, conv->id, st);
		goto out;
	}
	if ((rc = sq_conv_put(c, copy, st)) != FEDRPC_OK)
		goto out;
	change.actor = conv->creator;
	change.time  = adp_now_ms();
	if (change.n_added > 0)
		rc = sq_change_events(a, c, ctx, copy, NULL, 0, &change, st);
out:
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_get_conversations(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetConversationsRequest *req,
    Fedrpc__Federation__V1__GetConversationsResponse *resp,
    fedrpc_status *st)
{
	sq_adapter *a = impl;
	sq_conn    *c;
	fedrpc_code rc;

	SQ_FED_CHECK(a, ctx, st);
	if (adp_check_origin(req->user, ctx, "user", st) != FEDRPC_OK)
		return st->code;
	if (req->n_conversations > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "conversations: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_conversations; i++)
		if (adp_check_ours(req->conversations[i], a->domain,
		        "conversations", st) != FEDRPC_OK)
			return st->code;
	if ((resp->conversations = adp_ptrs(ctx, req->n_conversations)) ==
	    NULL)
		return SQ_NOMEM(st);
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	for (size_t i = 0; i < req->n_conversations; i++) {
		sq_conversation *conv;
		int found = sq_conv_get(c, ctx, req->conversations[i], &conv, st);

		if (found < 0) {
			rc = st->code;
			break;
		}
		if (found > 0 && sq_conv_member(conv, req->user) != NULL)
			resp->conversations[resp->n_conversations++] = conv;
	}
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_on_conversation_updated(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnConversationUpdatedRequest *req,
    Fedrpc__Federation__V1__OnConversationUpdatedResponse *resp,
    fedrpc_status *st)
{
	sq_adapter      *a = impl;
	sq_conversation *conv, *after;
	sq_change        change = {0};
	sq_conn         *c;
	int              found;
	fedrpc_code      rc;

	(void) resp;
	SQ_FED_CHECK(a, ctx, st);
	if (check_theirs(req->conversation, ctx, st) != FEDRPC_OK ||
	    adp_check_qid(req->actor, "actor", st) != FEDRPC_OK)
		return st->code;
	if (req->n_already_present_users > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "already_present_users: at most %d", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_already_present_users; i++)
		if (adp_check_ours(req->already_present_users[i], a->domain,
		        "already_present_users", st) != FEDRPC_OK)
			return st->code;
	change.actor = req->actor;
	change.time  = req->time_unix_ms;
	switch (req->action_case) {
	case FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_ADDED:
		if (req->members_added == NULL ||
		    req->members_added->n_members == 0)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "members_added: no members");
		change.added   = req->members_added->members;
		change.n_added = req->members_added->n_members;
		for (size_t i = 0; i < change.n_added; i++)
			if (adp_check_qid(change.added[i]->id, "members_added",
			        st) != FEDRPC_OK)
				return st->code;
		break;
	case FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_REMOVED:
		if (req->members_removed == NULL ||
		    req->members_removed->n_users == 0)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "members_removed: no users");
		change.removed   = req->members_removed->users;
		change.n_removed = req->members_removed->n_users;
		for (size_t i = 0; i < change.n_removed; i++)
			if (adp_check_qid(change.removed[i], "members_removed",
			        st) != FEDRPC_OK)
				return st->code;
		break;
	case FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_RENAMED:
		if (req->renamed == NULL ||
		    !adp_text_valid(req->renamed->name, 0, 256))
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "renamed: up to 256 characters of UTF-8");
		change.rename = req->renamed->name;
		break;
	default:
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "action: members_added, members_removed or renamed "
		    "required");
	}

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((found = sq_conv_get(c, ctx, req->conversation, &conv, st)) < 0) {
		rc = st->code;
		goto out;
	}
	if (found == 0) {
		/* A missed creation: ignored, GetConversations can refresh. */
		FEDRPC_LOG_INFO("conversation %s@%s is not known here; update "
		                "ignored",
		    req->conversation->id, req->conversation->domain);
		goto out;
	}
	for (size_t i = 0; i < change.n_added && rc == FEDRPC_OK; i++) {
		sq_member *mb = change.added[i];
		int        ok = 1;

		if (is_ours(a, mb->id) &&
		    (ok = local_user_exists(c, ctx, mb->id, st)) < 0)
			rc = st->code;
		else if (ok)
			rc = sq_member_add(c, conv->id, mb->id,
			    mb->role ? (int) mb->role : ROLE_MEMBER, st);
	}
	for (size_t i = 0; i < change.n_removed && rc == FEDRPC_OK; i++)
		rc = sq_member_remove(c, conv->id, change.removed[i], st);
	if (rc == FEDRPC_OK && change.rename != NULL)
		rc = sq_conv_set_name(c, conv->id, change.rename, st);
	if (rc != FEDRPC_OK)
		goto out;
	if (sq_conv_get(c, ctx, conv->id, &after, st) < 0) {
		rc = st->code;
		goto out;
	}
	if ((rc = sq_change_events(a, c, ctx, after,
	         req->already_present_users, req->n_already_present_users,
	         &change, st)) != FEDRPC_OK)
		goto out;
	if (!sq_conv_has_local(a, after))
		rc = sq_conv_delete(c, conv->id, st);
out:
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_leave_conversation(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__LeaveConversationRequest *req,
    Fedrpc__Federation__V1__LeaveConversationResponse *resp,
    fedrpc_status *st)
{
	sq_adapter      *a = impl;
	sq_conversation *conv;
	sq_domains       unreachable = {0};
	sq_conn         *c;
	adp_qid         *leaver = req->leaver;
	int              found;
	fedrpc_code      rc;

	SQ_FED_CHECK(a, ctx, st);
	if (adp_check_ours(req->conversation, a->domain, "conversation", st) !=
	        FEDRPC_OK ||
	    adp_check_origin(req->leaver, ctx, "leaver", st) != FEDRPC_OK)
		return st->code;
	if ((rc = sq_begin(a->db, false, &c, st)) != FEDRPC_OK)
		return rc;
	found = sq_conv_get(c, ctx, req->conversation, &conv, st);
	rc    = found < 0 ? st->code : FEDRPC_OK;
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;
	if (found == 0) {
		resp->result = FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_CONVERSATION_NOT_FOUND;
		return FEDRPC_OK;
	}
	if (sq_conv_member(conv, leaver) == NULL) {
		resp->result = FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_NOT_A_MEMBER;
		return FEDRPC_OK;
	}
	if ((rc = sq_owner_remove(a, ctx, req->conversation, leaver, &leaver,
	         1, NULL, &unreachable, st)) != FEDRPC_OK)
		return rc;
	resp->result = FEDRPC__FEDERATION__V1__LEAVE_CONVERSATION_RESPONSE__RESULT__RESULT_LEFT;
	return FEDRPC_OK;
}

static fedrpc_code
h_send_message(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__SendMessageRequest *req,
    Fedrpc__Federation__V1__SendMessageResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;
	fedrpc_code rc;
	Fedrpc__Federation__V1__MessageSendingStatus *sent;
	Fedrpc__Federation__V1__MessageNotSent       *not_sent;

	SQ_FED_CHECK(a, ctx, st);
	if (adp_check_origin(req->sender, ctx, "sender", st) != FEDRPC_OK ||
	    adp_check_ours(req->conversation, a->domain, "conversation", st) !=
	        FEDRPC_OK)
		return st->code;
	rc = sq_owner_send(a, ctx, req->sender, req->sender_client,
	    req->conversation, req->recipients, req->n_recipients,
	    req->strategy, req->data, &sent, &not_sent, st);
	if (rc != FEDRPC_OK)
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

static fedrpc_code
h_on_message_sent(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnMessageSentRequest *req,
    Fedrpc__Federation__V1__OnMessageSentResponse *resp, fedrpc_status *st)
{
	sq_adapter      *a = impl;
	sq_conversation *conv;
	sq_conn         *c;
	int              found;
	fedrpc_code      rc;

	(void) resp;
	SQ_FED_CHECK(a, ctx, st);
	if (check_theirs(req->conversation, ctx, st) != FEDRPC_OK ||
	    adp_check_qid(req->sender, "sender", st) != FEDRPC_OK)
		return st->code;
	if (req->n_recipients > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "recipients: at most %d users", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_recipients; i++)
		if (adp_check_ours(req->recipients[i]->user, a->domain,
		        "recipients", st) != FEDRPC_OK)
			return st->code;

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((found = sq_conv_get(c, ctx, req->conversation, &conv, st)) < 0) {
		rc = st->code;
		goto out;
	}
	if (found == 0) {
		FEDRPC_LOG_INFO("message for unknown conversation %s@%s dropped",
		    req->conversation->id, req->conversation->domain);
		goto out;
	}
	for (size_t i = 0; i < req->n_recipients && rc == FEDRPC_OK; i++) {
		const Fedrpc__Federation__V1__UserCiphertexts *u =
		    req->recipients[i];

		/* Only members of our copy; the rest is dropped. */
		if (sq_conv_member(conv, u->user) == NULL) {
			FEDRPC_LOG_INFO("message in %s@%s for non-member %s "
			                "dropped",
			    conv->id->id, conv->id->domain, u->user->id);
			continue;
		}
		for (size_t j = 0; j < u->n_clients && rc == FEDRPC_OK; j++) {
			sq_event *ev = sq_event_new(ctx, req->time_unix_ms);
			Fedrpc__Local__V1__MessageReceived mr =
			    FEDRPC__LOCAL__V1__MESSAGE_RECEIVED__INIT;

			if (ev == NULL) {
				rc = SQ_NOMEM(st);
				break;
			}
			mr.conversation      = req->conversation;
			mr.sender            = req->sender;
			mr.sender_client     = req->sender_client;
			mr.ciphertext        = u->clients[j]->ciphertext;
			mr.data              = req->data;
			ev->payload_case     = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED;
			ev->message_received = &mr;
			rc = sq_inbox_client_event(
			    c, u->user->id, u->clients[j]->client, ev, st);
		}
	}
out:
	return sq_end(a->db, c, rc, st);
}

static fedrpc_code
h_on_user_deleted_conversations(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__OnUserDeletedConversationsRequest *req,
    Fedrpc__Federation__V1__OnUserDeletedConversationsResponse *resp,
    fedrpc_status *st)
{
	sq_adapter *a    = impl;
	adp_qid    *user = req->user;
	sq_domains  unreachable = {0};

	(void) resp;
	SQ_FED_CHECK(a, ctx, st);
	if (adp_check_origin(req->user, ctx, "user", st) != FEDRPC_OK)
		return st->code;
	if (req->n_conversations < 1 || req->n_conversations > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "conversations: 1 to %d entries", ADP_MAX_LIST);
	for (size_t i = 0; i < req->n_conversations; i++)
		if (adp_check_ours(req->conversations[i], a->domain,
		        "conversations", st) != FEDRPC_OK)
			return st->code;
	for (size_t i = 0; i < req->n_conversations; i++) {
		fedrpc_code rc = sq_owner_remove(a, ctx, req->conversations[i],
		    user, &user, 1, NULL, &unreachable, st);

		if (rc == FEDRPC_NOT_FOUND) {
			fedrpc_status_reset(st);
			continue;
		}
		if (rc != FEDRPC_OK)
			return rc;
	}
	return FEDRPC_OK;
}

fedrpc_code
sq_register_fed_conversations(
    fedrpc_server *srv, sq_adapter *a, fedrpc_status *st)
{
	static const fedrpc_federation_v1_conversations_handlers h = {
	    .on_conversation_created       = h_on_conversation_created,
	    .get_conversations             = h_get_conversations,
	    .on_conversation_updated       = h_on_conversation_updated,
	    .leave_conversation            = h_leave_conversation,
	    .send_message                  = h_send_message,
	    .on_message_sent               = h_on_message_sent,
	    .on_user_deleted_conversations = h_on_user_deleted_conversations,
	};

	return fedrpc_federation_v1_conversations_register(srv, &h, a, st);
}
