/*
 * Conversation changes as the owner makes them and as members' backends
 * receive them: the inbox events each user gets, and the owner's fan-out to
 * member domains (OnConversationCreated for a domain's first members,
 * OnConversationUpdated for domains that already had members).
 */
#include <string.h>

#include <fedrpc/log.h>

#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "backends/sqlite/sq.h"

sq_member *
sq_conv_member(const sq_conversation *conv, const adp_qid *user)
{
	for (size_t i = 0; i < conv->n_members; i++)
		if (adp_qid_eq(conv->members[i]->id, user))
			return conv->members[i];
	return NULL;
}

bool
sq_conv_has_domain(const sq_conversation *conv, const char *domain)
{
	for (size_t i = 0; i < conv->n_members; i++)
		if (strcmp(conv->members[i]->id->domain, domain) == 0)
			return true;
	return false;
}

bool
sq_conv_has_local(sq_adapter *a, const sq_conversation *conv)
{
	return sq_conv_has_domain(conv, a->domain);
}

static bool
is_ours(sq_adapter *a, const adp_qid *q)
{
	return strcmp(q->domain, a->domain) == 0;
}

fedrpc_code
sq_change_events(sq_adapter *a, sq_conn *c, fedrpc_ctx *ctx,
    const sq_conversation *after, adp_qid *const *present, size_t n_present,
    const sq_change *change, fedrpc_status *st)
{
	int64_t                                now = change ? change->time
							    : adp_now_ms();
	Fedrpc__Local__V1__ConversationCreated cc =
	    FEDRPC__LOCAL__V1__CONVERSATION_CREATED__INIT;
	sq_event *created = sq_event_new(ctx, now);

	if (created == NULL)
		return SQ_NOMEM(st);
	cc.conversation       = (sq_conversation *) after;
	created->payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED;
	created->conversation_created = &cc;

	if (change == NULL) {
		for (size_t i = 0; i < after->n_members; i++)
			if (is_ours(a, after->members[i]->id) &&
			    sq_inbox_user_event(c, after->members[i]->id->id,
			        created, st) != FEDRPC_OK)
				return st->code;
		return FEDRPC_OK;
	}

	{
		sq_event *ev = sq_event_new(ctx, now);
		Fedrpc__Local__V1__MembersJoined mj =
		    FEDRPC__LOCAL__V1__MEMBERS_JOINED__INIT;
		Fedrpc__Local__V1__MembersLeft ml =
		    FEDRPC__LOCAL__V1__MEMBERS_LEFT__INIT;
		Fedrpc__Local__V1__ConversationRenamed cr =
		    FEDRPC__LOCAL__V1__CONVERSATION_RENAMED__INIT;

		if (ev == NULL)
			return SQ_NOMEM(st);
		if (change->n_added > 0) {
			mj.conversation      = after->id;
			mj.actor             = (adp_qid *) change->actor;
			mj.members           = change->added;
			mj.n_members         = change->n_added;
			ev->payload_case     = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_JOINED;
			ev->members_joined   = &mj;
		} else if (change->n_removed > 0) {
			ml.conversation      = after->id;
			ml.actor             = (adp_qid *) change->actor;
			ml.users             = change->removed;
			ml.n_users           = change->n_removed;
			ev->payload_case     = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_LEFT;
			ev->members_left     = &ml;
		} else {
			cr.conversation      = after->id;
			cr.actor             = (adp_qid *) change->actor;
			cr.name              = (char *) (change->rename ? change->rename : "");
			ev->payload_case     = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_RENAMED;
			ev->conversation_renamed = &cr;
		}
		for (size_t i = 0; i < n_present; i++)
			if (is_ours(a, present[i]) &&
			    sq_inbox_user_event(c, present[i]->id, ev, st) !=
			        FEDRPC_OK)
				return st->code;
	}
	for (size_t i = 0; i < change->n_added; i++) {
		const adp_qid *u = change->added[i]->id;

		if (is_ours(a, u) &&
		    sq_inbox_user_event(c, u->id, created, st) != FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}

/* The members of conv on domain, as an arena array of ids. */
static adp_qid **
members_on(fedrpc_ctx *ctx, const sq_conversation *conv, const char *domain,
    size_t *n)
{
	adp_qid **v = adp_ptrs(ctx, conv->n_members);

	*n = 0;
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < conv->n_members; i++)
		if (strcmp(conv->members[i]->id->domain, domain) == 0)
			v[(*n)++] = conv->members[i]->id;
	return v;
}

static void
send_created(sq_adapter *a, fedrpc_channel *ch, const char *domain,
    const sq_conversation *conv, sq_domains *unreachable, fedrpc_ctx *ctx)
{
	Fedrpc__Federation__V1__OnConversationCreatedRequest r =
	    FEDRPC__FEDERATION__V1__ON_CONVERSATION_CREATED_REQUEST__INIT;
	Fedrpc__Federation__V1__OnConversationCreatedResponse *resp;
	fedrpc_call_opts                                       opts;
	fedrpc_status                                          st = {0};

	sq_call_opts(a, &opts);
	r.conversation = (sq_conversation *) conv;
	if (fedrpc_federation_v1_conversations_on_conversation_created(
	        ch, &r, &resp, &opts, &st) != FEDRPC_OK) {
		FEDRPC_LOG_WARN("conversation %s@%s: cannot tell %s it was "
		                "created: %s",
		    conv->id->id, conv->id->domain, domain, st.message);
		sq_domains_add(ctx, unreachable, domain);
		fedrpc_status_reset(&st);
		return;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void
send_updated(sq_adapter *a, fedrpc_channel *ch, const char *domain,
    const sq_conversation *before, const sq_change *change,
    adp_qid **present, size_t n_present, sq_domains *unreachable,
    fedrpc_ctx *ctx)
{
	Fedrpc__Federation__V1__OnConversationUpdatedRequest r =
	    FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__INIT;
	Fedrpc__Federation__V1__OnConversationUpdatedResponse *resp;
	Fedrpc__Federation__V1__MembersAdded   ma =
	    FEDRPC__FEDERATION__V1__MEMBERS_ADDED__INIT;
	Fedrpc__Federation__V1__MembersRemoved mr =
	    FEDRPC__FEDERATION__V1__MEMBERS_REMOVED__INIT;
	fedrpc_call_opts opts;
	fedrpc_status    st = {0};

	sq_call_opts(a, &opts);
	r.time_unix_ms            = change->time;
	r.actor                   = (adp_qid *) change->actor;
	r.conversation            = before->id;
	r.already_present_users   = present;
	r.n_already_present_users = n_present;
	if (change->n_added > 0) {
		ma.members       = change->added;
		ma.n_members     = change->n_added;
		r.action_case    = FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_ADDED;
		r.members_added  = &ma;
	} else {
		mr.users          = change->removed;
		mr.n_users        = change->n_removed;
		r.action_case     = FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_REMOVED;
		r.members_removed = &mr;
	}
	if (fedrpc_federation_v1_conversations_on_conversation_updated(
	        ch, &r, &resp, &opts, &st) != FEDRPC_OK) {
		FEDRPC_LOG_WARN("conversation %s@%s: cannot tell %s of a "
		                "change: %s",
		    before->id->id, before->id->domain, domain, st.message);
		sq_domains_add(ctx, unreachable, domain);
		fedrpc_status_reset(&st);
		return;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

void
sq_change_fanout(sq_adapter *a, fedrpc_ctx *ctx,
    const sq_conversation *before, const sq_conversation *after,
    const sq_change *change, sq_domains *unreachable)
{
	sq_domains doms = {0};

	/* Every remote domain with members before or after the change. */
	if (before != NULL)
		for (size_t i = 0; i < before->n_members; i++)
			sq_domains_add(ctx, &doms, before->members[i]->id->domain);
	for (size_t i = 0; i < after->n_members; i++)
		sq_domains_add(ctx, &doms, after->members[i]->id->domain);
	for (size_t d = 0; d < doms.n; d++) {
		const char     *dom = doms.v[d];
		adp_qid       **present = NULL;
		size_t          n_present = 0;
		fedrpc_channel *ch;
		fedrpc_status   st = {0};

		if (strcmp(dom, a->domain) == 0)
			continue;
		if (before != NULL &&
		    (present = members_on(ctx, before, dom, &n_present)) == NULL)
			continue;
		/* Creation, or a domain whose first members were added:
		 * the full conversation; a domain with members: the change. */
		if (before != NULL && n_present == 0 &&
		    (change == NULL || change->n_added == 0 ||
		        !sq_conv_has_domain(after, dom)))
			continue;
		if ((ch = sq_remote(a, dom, &st)) == NULL) {
			FEDRPC_LOG_WARN("conversation %s@%s: %s is unreachable: "
			                "%s",
			    after->id->id, after->id->domain, dom, st.message);
			sq_domains_add(ctx, unreachable, dom);
			fedrpc_status_reset(&st);
			continue;
		}
		if (n_present == 0)
			send_created(a, ch, dom, after, unreachable, ctx);
		else
			send_updated(a, ch, dom, before, change, present,
			    n_present, unreachable, ctx);
	}
}

fedrpc_code
sq_owner_remove(sq_adapter *a, fedrpc_ctx *ctx, const adp_qid *conv,
    const adp_qid *actor, adp_qid **users, size_t n, sq_conversation **after,
    sq_domains *unreachable, fedrpc_status *st)
{
	sq_conversation *before = NULL, *now = NULL;
	sq_change        change = {.actor = actor, .time = adp_now_ms()};
	adp_qid        **present;
	size_t           n_present = 0;
	sq_conn         *c;
	int              found;
	fedrpc_code      rc;

	if ((rc = sq_begin(a->db, true, &c, st)) != FEDRPC_OK)
		return rc;
	if ((found = sq_conv_get(c, ctx, conv, &before, st)) <= 0) {
		rc = found < 0 ? st->code
			       : fedrpc_status_set(st, FEDRPC_NOT_FOUND,
				     "no conversation %s@%s", conv->id,
				     conv->domain);
		goto out;
	}
	if ((change.removed = adp_ptrs(ctx, n)) == NULL ||
	    (present = adp_ptrs(ctx, before->n_members)) == NULL) {
		rc = SQ_NOMEM(st);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (sq_conv_member(before, users[i]) != NULL)
			change.removed[change.n_removed++] = users[i];
	if (change.n_removed > 0) {
		for (size_t i = 0; i < before->n_members; i++)
			present[n_present++] = before->members[i]->id;
		for (size_t i = 0; i < change.n_removed && rc == FEDRPC_OK; i++)
			rc = sq_member_remove(c, conv, change.removed[i], st);
		if (rc == FEDRPC_OK &&
		    sq_conv_get(c, ctx, conv, &now, st) < 0)
			rc = st->code;
		if (rc == FEDRPC_OK)
			rc = sq_change_events(
			    a, c, ctx, now, present, n_present, &change, st);
	} else {
		now = before;
	}
out:
	if ((rc = sq_end(a->db, c, rc, st)) != FEDRPC_OK)
		return rc;
	if (change.n_removed > 0)
		sq_change_fanout(a, ctx, before, now, &change, unreachable);
	if (after != NULL)
		*after = now;
	return FEDRPC_OK;
}
