/*
 * Conversation changes as the owner makes them and as members' backends
 * receive them: the inbox events each user gets, and what the owner owes
 * member domains, queued in the change's own transaction
 * (OnConversationCreated for a domain's first members,
 * OnConversationUpdated for domains that already had members).
 */
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/reference/once.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"

ref_member *
ref_conv_member(const ref_conversation *conv, const adp_qid *user)
{
	for (size_t i = 0; i < conv->n_members; i++)
		if (adp_qid_eq(conv->members[i]->id, user))
			return conv->members[i];
	return NULL;
}

static int
member_cmp(const void *a, const void *b)
{
	return adp_qid_cmp((*(ref_member *const *) a)->id,
	    (*(ref_member *const *) b)->id);
}

ref_member **
ref_conv_sorted(fedrpc_ctx *ctx, const ref_conversation *conv)
{
	ref_member **v = adp_ptrs(ctx, conv->n_members);

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < conv->n_members; i++)
		v[i] = conv->members[i];
	qsort(v, conv->n_members, sizeof(*v), member_cmp);
	return v;
}

ref_member *
ref_members_find(ref_member *const *sorted, size_t n, const adp_qid *user)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int    c   = adp_qid_cmp(sorted[mid]->id, user);

		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool
ref_conv_has_domain(const ref_conversation *conv, const char *domain)
{
	for (size_t i = 0; i < conv->n_members; i++)
		if (strcmp(conv->members[i]->id->domain, domain) == 0)
			return true;
	return false;
}

bool
ref_conv_has_local(ref_svc *s, const ref_conversation *conv)
{
	return ref_conv_has_domain(conv, s->domain);
}

fedrpc_code
ref_conv_get(fedrpc_store_tx *tx, const adp_qid *id, ref_conversation **out,
    fedrpc_status *st)
{
	bool found;

	*out = NULL;
	if (tx->ops->conversation_get(tx, id, out, &found, st) != FEDRPC_OK)
		return st->code;
	if (!found)
		*out = NULL;
	return FEDRPC_OK;
}

static bool
is_ours(ref_svc *s, const adp_qid *q)
{
	return strcmp(q->domain, s->domain) == 0;
}

fedrpc_code
ref_change_events(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ref_conversation *after, adp_qid *const *present, size_t n_present,
    const ref_change *change, fedrpc_status *st)
{
	int64_t                                now = change ? change->time
							    : adp_now_ms();
	Fedrpc__Local__V1__ConversationCreated cc =
	    FEDRPC__LOCAL__V1__CONVERSATION_CREATED__INIT;
	ref_event *created = ref_event_new(ctx, now);

	if (created == NULL)
		return REF_NOMEM(st);
	cc.conversation       = (ref_conversation *) after;
	created->payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED;
	created->conversation_created = &cc;

	if (change == NULL) {
		for (size_t i = 0; i < after->n_members; i++)
			if (is_ours(s, after->members[i]->id) &&
			    ref_inbox_user(ctx, tx, after->members[i]->id->id,
			        created, st) != FEDRPC_OK)
				return st->code;
		return FEDRPC_OK;
	}

	{
		ref_event *ev = ref_event_new(ctx, now);
		Fedrpc__Local__V1__MembersJoined mj =
		    FEDRPC__LOCAL__V1__MEMBERS_JOINED__INIT;
		Fedrpc__Local__V1__MembersLeft ml =
		    FEDRPC__LOCAL__V1__MEMBERS_LEFT__INIT;
		Fedrpc__Local__V1__ConversationRenamed cr =
		    FEDRPC__LOCAL__V1__CONVERSATION_RENAMED__INIT;

		if (ev == NULL)
			return REF_NOMEM(st);
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
			if (is_ours(s, present[i]) &&
			    ref_inbox_user(ctx, tx, present[i]->id, ev, st) !=
			        FEDRPC_OK)
				return st->code;
	}
	for (size_t i = 0; i < change->n_added; i++) {
		const adp_qid *u = change->added[i]->id;

		if (is_ours(s, u) &&
		    ref_inbox_user(ctx, tx, u->id, created, st) != FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}

/* The members of conv on domain, as an arena array of ids. */
static adp_qid **
members_on(fedrpc_ctx *ctx, const ref_conversation *conv, const char *domain,
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

/* OnConversationCreated for a domain: the conversation as it is now. */
static fedrpc_code
queue_created(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *domain,
    const ref_conversation *conv, ref_outs *outs, fedrpc_status *st)
{
	Fedrpc__Federation__V1__OnConversationCreatedRequest r =
	    FEDRPC__FEDERATION__V1__ON_CONVERSATION_CREATED_REQUEST__INIT;
	ref_about about = {.conversation = conv->id};

	r.conversation = (ref_conversation *) conv;
	return ref_outbox_put(ctx, tx, domain,
	    fedrpc_federation_v1_conversations_on_conversation_created_method,
	    &r.base, &about, outs, st);
}

/* The conversation as `domain` may see it: with its members while it has
 * some, else without (it only needs to learn that its users are out). */
static ref_conversation *
seen_by(fedrpc_ctx *ctx, const ref_conversation *conv, const char *domain)
{
	ref_conversation *v;

	if (ref_conv_has_domain(conv, domain))
		return (ref_conversation *) conv;
	if ((v = fedrpc_ctx_alloc(ctx, sizeof(*v))) == NULL)
		return NULL;
	*v           = *conv;
	v->members   = NULL;
	v->n_members = 0;
	return v;
}

/* OnConversationUpdated for a domain that had members: the change, and
 * the conversation after it. */
static fedrpc_code
queue_updated(fedrpc_ctx *ctx, fedrpc_store_tx *tx, const char *domain,
    const ref_conversation *before, const ref_conversation *after,
    const ref_change *change, adp_qid **present, size_t n_present,
    ref_outs *outs, fedrpc_status *st)
{
	Fedrpc__Federation__V1__OnConversationUpdatedRequest r =
	    FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__INIT;
	Fedrpc__Federation__V1__MembersAdded   ma =
	    FEDRPC__FEDERATION__V1__MEMBERS_ADDED__INIT;
	Fedrpc__Federation__V1__MembersRemoved mr =
	    FEDRPC__FEDERATION__V1__MEMBERS_REMOVED__INIT;
	Fedrpc__Federation__V1__ConversationRenamed cr =
	    FEDRPC__FEDERATION__V1__CONVERSATION_RENAMED__INIT;
	ref_about about = {.conversation = before->id};

	r.time_unix_ms            = change->time;
	r.actor                   = (adp_qid *) change->actor;
	r.conversation            = before->id;
	r.already_present_users   = present;
	r.n_already_present_users = n_present;
	if ((r.after = seen_by(ctx, after, domain)) == NULL)
		return REF_NOMEM(st);
	if (change->n_added > 0) {
		ma.members       = change->added;
		ma.n_members     = change->n_added;
		r.action_case    = FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_ADDED;
		r.members_added  = &ma;
	} else if (change->n_removed > 0) {
		mr.users          = change->removed;
		mr.n_users        = change->n_removed;
		r.action_case     = FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_MEMBERS_REMOVED;
		r.members_removed = &mr;
	} else {
		cr.name       = (char *) (change->rename ? change->rename : "");
		r.action_case = FEDRPC__FEDERATION__V1__ON_CONVERSATION_UPDATED_REQUEST__ACTION_RENAMED;
		r.renamed     = &cr;
	}
	return ref_outbox_put(ctx, tx, domain,
	    fedrpc_federation_v1_conversations_on_conversation_updated_method,
	    &r.base, &about, outs, st);
}

fedrpc_code
ref_change_queue(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ref_conversation *before, const ref_conversation *after,
    const ref_change *change, ref_outs *outs, fedrpc_status *st)
{
	ref_domains doms = {0};

	/* Every remote domain with members before or after the change. */
	if (before != NULL)
		for (size_t i = 0; i < before->n_members; i++)
			ref_domains_add(ctx, &doms, before->members[i]->id->domain);
	for (size_t i = 0; i < after->n_members; i++)
		ref_domains_add(ctx, &doms, after->members[i]->id->domain);
	for (size_t d = 0; d < doms.n; d++) {
		const char *dom       = doms.v[d];
		adp_qid   **present   = NULL;
		size_t      n_present = 0;
		fedrpc_code rc;

		if (strcmp(dom, s->domain) == 0)
			continue;
		if (before != NULL &&
		    (present = members_on(ctx, before, dom, &n_present)) == NULL)
			return REF_NOMEM(st);
		/* Creation, or a domain whose first members were added:
		 * the full conversation; a domain with members: the change. */
		if (before != NULL && n_present == 0 &&
		    (change == NULL || change->n_added == 0 ||
		        !ref_conv_has_domain(after, dom)))
			continue;
		rc = n_present == 0
		    ? queue_created(ctx, tx, dom, after, outs, st)
		    : queue_updated(ctx, tx, dom, before, after, change,
		          present, n_present, outs, st);
		if (rc != FEDRPC_OK)
			return rc;
	}
	return FEDRPC_OK;
}

/* The owner's removal of users, as one transaction. */
typedef struct remove_tx {
	ref_svc          *s;
	fedrpc_ctx       *ctx;
	const adp_qid    *conv;
	adp_qid         **users;
	size_t            n;
	ref_conversation *before, *after;
	ref_change        change;
	ref_outs          outs;
	const ref_once   *once;   /* the request applied once; may be NULL */
	const ProtobufCMessage *answer; /* what it is answered */
} remove_tx;

static fedrpc_code
owner_remove(fedrpc_store_tx *tx, remove_tx *a, fedrpc_status *st)
{
	adp_qid **present;

	a->after            = NULL;
	a->change.n_removed = 0;
	if (ref_conv_get(tx, a->conv, &a->before, st) != FEDRPC_OK)
		return st->code;
	if (a->before == NULL)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "no conversation %s@%s", a->conv->id, a->conv->domain);
	if ((a->change.removed = adp_ptrs(a->ctx, a->n)) == NULL ||
	    (present = adp_ptrs(a->ctx, a->before->n_members)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < a->n; i++)
		if (ref_conv_member(a->before, a->users[i]) != NULL)
			a->change.removed[a->change.n_removed++] = a->users[i];
	if (a->change.n_removed == 0) {
		a->after = a->before;
		return FEDRPC_OK;
	}
	for (size_t i = 0; i < a->before->n_members; i++)
		present[i] = a->before->members[i]->id;
	for (size_t i = 0; i < a->change.n_removed; i++)
		if (tx->ops->member_remove(tx, a->conv, a->change.removed[i],
		        st) != FEDRPC_OK)
			return st->code;
	if (tx->ops->conversation_bump(tx, a->conv, NULL, st) != FEDRPC_OK ||
	    ref_conv_get(tx, a->conv, &a->after, st) != FEDRPC_OK)
		return st->code;
	if (a->after == NULL)
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "conversation %s@%s vanished while removing members",
		    a->conv->id, a->conv->domain);
	if (ref_change_events(a->s, a->ctx, tx, a->after, present,
	        a->before->n_members, &a->change, st) != FEDRPC_OK)
		return st->code;
	return ref_change_queue(a->s, a->ctx, tx, a->before, a->after,
	    &a->change, &a->outs, st);
}

static fedrpc_code
tx_owner_remove(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	remove_tx  *a = arg;
	bool        repeat;
	fedrpc_code rc;

	a->outs.n = 0;
	if (ref_once_check(a->once, a->ctx, tx, NULL, &repeat, st) != FEDRPC_OK)
		return st->code;
	if (repeat) {
		a->change.n_removed = 0;
		return ref_conv_get(tx, a->conv, &a->after, st);
	}
	if ((rc = owner_remove(tx, a, st)) != FEDRPC_OK)
		return rc;
	return ref_once_record(a->once, a->ctx, tx, a->answer, NULL, NULL, st);
}

fedrpc_code
ref_owner_remove(ref_svc *s, fedrpc_ctx *ctx, const adp_qid *conv,
    const adp_qid *actor, adp_qid **users, size_t n, bool wait,
    const ref_once *once, const ProtobufCMessage *answer,
    ref_conversation **after, ref_domains *unreachable, fedrpc_status *st)
{
	remove_tx   a = {.s = s, .ctx = ctx, .conv = conv, .users = users,
	      .n = n, .change = {.actor = actor, .time = adp_now_ms()},
	      .once = once, .answer = answer};
	fedrpc_code rc;

	if ((rc = ref_write(s, ctx, tx_owner_remove, &a, st)) != FEDRPC_OK)
		return rc;
	ref_outbox_settle(s, ctx, &a.outs, wait, unreachable, unreachable);
	if (after != NULL)
		*after = a.after;
	return FEDRPC_OK;
}
