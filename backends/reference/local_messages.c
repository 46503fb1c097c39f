/*
 * Message sending at the conversation's owner: gather every member's
 * clients (ours from storage, others with one GetUserClients per domain,
 * all domains asked at once),
 * run the pure check of mismatch.c, then deliver the valid ciphertexts in
 * one transaction (our clients' inboxes, and one OnMessageSent per remote
 * domain queued in the outbox, delivered in order by delivery.c) and
 * report what was not delivered yet (queued_domains) or will not be
 * (failed_to_send).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/reference/mismatch.h"
#include "backends/reference/once.h"
#include "backends/reference/service.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"

typedef Fedrpc__Federation__V1__MessageSendingStatus ref_status_msg;
typedef Fedrpc__Federation__V1__MessageNotSent       ref_not_sent;

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static ref_not_sent *
not_sent_new(fedrpc_ctx *ctx, int reason)
{
	ref_not_sent *ns = fedrpc_ctx_alloc(ctx, sizeof(*ns));

	if (ns != NULL) {
		fedrpc__federation__v1__message_not_sent__init(ns);
		ns->reason = reason;
	}
	return ns;
}

/* The recipients as pairs; INVALID_ARGUMENT for a malformed or repeated
 * user (repeated pairs are caught by the check itself). */
static fedrpc_code
recipients_of(fedrpc_ctx *ctx,
    Fedrpc__Federation__V1__UserCiphertexts *const *rcpts, size_t n,
    adp_uc **out, size_t *n_out, fedrpc_status *st)
{
	size_t   total = 0, bad = n, again;
	adp_qid **users;

	if (n > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "recipients: at most %d users", ADP_MAX_LIST);
	if ((users = adp_ptrs(ctx, n)) == NULL)
		return REF_NOMEM(st);
	/* The first fault in list order is reported: a malformed user, or
	 * one that repeats an earlier (well-formed) one. */
	for (size_t i = 0; i < n && bad == n; i++) {
		if (adp_check_qid(rcpts[i]->user, "recipients", st) != FEDRPC_OK)
			bad = i;
		users[i] = rcpts[i]->user;
		total += rcpts[i]->n_clients;
	}
	if (adp_first_repeat(users, bad, &again, st) != FEDRPC_OK)
		return st->code;
	if (again < bad) {
		fedrpc_status_reset(st);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "recipients: %s@%s appears twice", users[again]->id,
		    users[again]->domain);
	}
	if (bad < n)
		return st->code;
	if ((*out = fedrpc_ctx_alloc(ctx, (total + 1) * sizeof(adp_uc))) ==
	    NULL)
		return REF_NOMEM(st);
	*n_out = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < rcpts[i]->n_clients; j++) {
			adp_uc *x    = &(*out)[(*n_out)++];
			x->domain    = rcpts[i]->user->domain;
			x->id        = rcpts[i]->user->id;
			x->client    = rcpts[i]->clients[j]->client;
			x->user_only = false;
			x->ct        = &rcpts[i]->clients[j]->ciphertext;
		}
	return FEDRPC_OK;
}

/* The GetUserClients calls of one send, all in flight at once. */
typedef struct clients_wait {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	size_t          left; /* calls not answered yet */
} clients_wait;

/* One domain's GetUserClients. */
typedef struct clients_call {
	clients_wait *w;
	const char   *domain;
	Fedrpc__Federation__V1__GetUserClientsRequest   req;
	Fedrpc__Federation__V1__GetUserClientsResponse *resp; /* owned; NULL
							     * unless OK */
	fedrpc_code code;
	char        message[FEDRPC_STATUS_MESSAGE_MAX];
} clients_call;

static void
clients_done(void *arg, const fedrpc_status *st,
    Fedrpc__Federation__V1__GetUserClientsResponse *resp)
{
	clients_call *c = arg;

	pthread_mutex_lock(&c->w->mtx);
	c->code = st->code;
	snprintf(c->message, sizeof(c->message), "%s", st->message);
	c->resp = resp;
	if (--c->w->left == 0)
		pthread_cond_signal(&c->w->cv);
	pthread_mutex_unlock(&c->w->mtx);
}

/* Starts the call of c (its members of c->domain among m); false when it
 * could not start (why in c). */
static bool
clients_start(ref_svc *s, fedrpc_ctx *ctx, clients_call *c,
    const adp_member_clients *m, size_t n_m)
{
	fedrpc_channel  *ch;
	fedrpc_call_opts opts;
	fedrpc_status    st = {0};
	bool             ok;

	fedrpc__federation__v1__get_user_clients_request__init(&c->req);
	if ((c->req.users = adp_ptrs(ctx, n_m)) == NULL) {
		c->code = REF_NOMEM(&st);
		snprintf(c->message, sizeof(c->message), "%s", st.message);
		return false;
	}
	for (size_t i = 0; i < n_m; i++)
		if (strcmp(m[i].domain, c->domain) == 0)
			c->req.users[c->req.n_users++] =
			    adp_qid_new(ctx, m[i].domain, m[i].id);
	ref_call_opts(s, &opts);
	ok = (ch = ref_remote(s, c->domain, &st)) != NULL &&
	    fedrpc_federation_v1_users_get_user_clients_async(
	        ch, &c->req, &opts, clients_done, c, NULL, &st) == FEDRPC_OK;
	if (!ok) {
		c->code = st.code;
		snprintf(c->message, sizeof(c->message), "%s", st.message);
	}
	fedrpc_status_reset(&st);
	return ok;
}

/* What a domain answered, into its members' records; false if it could
 * not answer (they stay unconfirmed). The answer is freed. */
static bool
clients_apply(ref_svc *s, fedrpc_ctx *ctx, clients_call *c,
    adp_member_clients *m, size_t n_m)
{
	Fedrpc__Federation__V1__GetUserClientsResponse *cp = NULL;
	const char *domain = c->domain;

	if (c->code != FEDRPC_OK || c->resp == NULL) {
		FEDRPC_LOG_WARN("message check: cannot list clients on %s: %s",
		    domain, c->message);
		return false;
	}
	ref_remote_ok(s, domain);
	cp = (Fedrpc__Federation__V1__GetUserClientsResponse *) adp_clone(
	    ctx, &c->resp->base);
	protobuf_c_message_free_unpacked(&c->resp->base, NULL);
	c->resp = NULL;
	if (cp == NULL)
		return false;
	/* A member the domain does not list has no clients. */
	for (size_t i = 0; i < n_m; i++) {
		if (strcmp(m[i].domain, domain) != 0)
			continue;
		m[i].confirmed = true;
		m[i].n_clients = 0;
		for (size_t k = 0; k < cp->n_users; k++) {
			Fedrpc__Federation__V1__UserPubClients *u = cp->users[k];
			uint64_t                               *ids;

			if (u->user == NULL || strcmp(u->user->id, m[i].id) != 0 ||
			    strcmp(u->user->domain, domain) != 0)
				continue;
			ids = fedrpc_ctx_alloc(
			    ctx, (u->n_clients + 1) * sizeof(uint64_t));
			if (ids == NULL)
				return false;
			for (size_t j = 0; j < u->n_clients; j++)
				ids[j] = u->clients[j]->id;
			m[i].clients   = ids;
			m[i].n_clients = u->n_clients;
		}
	}
	return true;
}

/*
 * Step 2: every other member domain is asked for its members' clients,
 * all at once (a send waits for the slowest domain, not for the sum of
 * them); a domain that cannot answer leaves its members unconfirmed.
 */
static fedrpc_code
remote_clients(ref_svc *s, fedrpc_ctx *ctx, const ref_domains *doms,
    adp_member_clients *m, size_t n_m, fedrpc_status *st)
{
	clients_wait  w;
	clients_call *c;

	if (doms->n == 0)
		return FEDRPC_OK;
	if ((c = fedrpc_ctx_alloc(ctx, doms->n * sizeof(*c))) == NULL)
		return REF_NOMEM(st);
	memset(c, 0, doms->n * sizeof(*c));
	pthread_mutex_init(&w.mtx, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.left = doms->n;
	for (size_t d = 0; d < doms->n; d++) {
		c[d].w      = &w;
		c[d].domain = doms->v[d];
		if (!clients_start(s, ctx, &c[d], m, n_m)) {
			pthread_mutex_lock(&w.mtx);
			w.left--;
			pthread_mutex_unlock(&w.mtx);
		}
	}
	/* Each call ends by its deadline (the call options' timeout). */
	pthread_mutex_lock(&w.mtx);
	while (w.left > 0)
		pthread_cond_wait(&w.cv, &w.mtx);
	pthread_mutex_unlock(&w.mtx);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mtx);
	for (size_t d = 0; d < doms->n; d++)
		clients_apply(s, ctx, &c[d], m, n_m);
	/* Any answer not taken (out of memory mid-way) is freed. */
	for (size_t d = 0; d < doms->n; d++)
		if (c[d].resp != NULL)
			protobuf_c_message_free_unpacked(&c[d].resp->base, NULL);
	return FEDRPC_OK;
}

/* One message delivered: our valid recipients' inboxes, and what each
 * other domain with valid recipients is owed, in one transaction. */
typedef struct deliver_tx {
	ref_svc           *s;
	fedrpc_ctx        *ctx;
	const adp_uc_set  *valid;
	const adp_qid     *conv;
	const ref_message *m;
	int64_t            now;
	ref_status_msg    *status; /* the answer, kept with the send */
	ref_outs           outs;
	bool               repeat; /* the send was applied before: */
	Fedrpc__Federation__V1__SendMessageResponse stored; /* its answer */
} deliver_tx;

static fedrpc_code
deliver_local(deliver_tx *a, fedrpc_store_tx *tx, fedrpc_status *st)
{
	ref_inbox_batch batch;

	if (!ref_inbox_batch_init(a->ctx, &batch, a->valid->n))
		return REF_NOMEM(st);
	for (size_t i = 0; i < a->valid->n; i++) {
		const adp_uc                      *x = &a->valid->v[i];
		ref_event                         *ev;
		Fedrpc__Local__V1__MessageReceived mr =
		    FEDRPC__LOCAL__V1__MESSAGE_RECEIVED__INIT;

		if (strcmp(x->domain, a->s->domain) != 0)
			continue;
		if ((ev = ref_event_new(a->ctx, a->now)) == NULL)
			return REF_NOMEM(st);
		mr.conversation      = (adp_qid *) a->conv;
		mr.sender            = (adp_qid *) a->m->sender;
		mr.sender_client     = a->m->sender_client;
		if (x->ct != NULL)
			mr.ciphertext = *x->ct;
		mr.data              = a->m->data;
		mr.message_id        = a->m->message_id;
		ev->payload_case     = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED;
		ev->message_received = &mr;
		if (ref_inbox_batch_add(a->ctx, &batch, x->id, x->client, ev,
		        st) != FEDRPC_OK)
			return st->code;
	}
	return ref_inbox_batch_append(tx, &batch, st);
}

/* One OnMessageSent per remote domain with valid recipients. */
static fedrpc_code
queue_remote(deliver_tx *a, fedrpc_store_tx *tx, fedrpc_status *st)
{
	ref_domains doms  = {0};
	ref_about   about = {.conversation = a->conv, .sender = a->m->sender,
	      .message_id = a->m->message_id};

	for (size_t i = 0; i < a->valid->n; i++)
		if (strcmp(a->valid->v[i].domain, a->s->domain) != 0)
			ref_domains_add(a->ctx, &doms, a->valid->v[i].domain);
	for (size_t d = 0; d < doms.n; d++) {
		Fedrpc__Federation__V1__OnMessageSentRequest r =
		    FEDRPC__FEDERATION__V1__ON_MESSAGE_SENT_REQUEST__INIT;

		r.time_unix_ms  = a->now;
		r.conversation  = (adp_qid *) a->conv;
		r.sender        = (adp_qid *) a->m->sender;
		r.sender_client = a->m->sender_client;
		r.data          = a->m->data;
		r.message_id    = a->m->message_id;
		r.recipients    = adp_uc_ciphertexts(a->valid, doms.v[d],
                    fedrpc_ctx_allocator(a->ctx), &r.n_recipients);
		if (r.n_recipients == SIZE_MAX)
			return REF_NOMEM(st);
		if (ref_outbox_put(a->ctx, tx, doms.v[d],
		        fedrpc_federation_v1_conversations_on_message_sent_method,
		        &r.base, &about, &a->outs, st) != FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}

static fedrpc_code
tx_deliver(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	deliver_tx *a = arg;
	Fedrpc__Federation__V1__SendMessageResponse answer =
	    FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__INIT;

	a->outs.n = 0;
	fedrpc__federation__v1__send_message_response__init(&a->stored);
	if (ref_once_check(a->m->once, a->ctx, tx, &a->stored.base, &a->repeat,
	        st) != FEDRPC_OK ||
	    a->repeat)
		return st->code;
	if (deliver_local(a, tx, st) != FEDRPC_OK ||
	    queue_remote(a, tx, st) != FEDRPC_OK)
		return st->code;
	answer.result_case = FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT;
	answer.sent        = a->status;
	return ref_once_record(
	    a->m->once, a->ctx, tx, &answer.base, &a->outs, NULL, st);
}

/* The valid pairs of domains that refused the message for good. */
static fedrpc_code
refused_pairs(fedrpc_ctx *ctx, const adp_uc_set *valid,
    const ref_domains *refused, adp_uc_set *out, fedrpc_status *st)
{
	out->n = 0;
	if ((out->v = fedrpc_ctx_alloc(ctx, (valid->n + 1) * sizeof(adp_uc))) ==
	    NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < valid->n; i++)
		if (ref_domains_has(refused, valid->v[i].domain))
			out->v[out->n++] = valid->v[i];
	return FEDRPC_OK;
}

/* Fills a status's three mismatch lists. */
static fedrpc_code
report(fedrpc_ctx *ctx, ref_status_msg *s, const adp_check_result *res,
    bool with_missing, fedrpc_status *st)
{
	ProtobufCAllocator *al = fedrpc_ctx_allocator(ctx);

	if (with_missing)
		s->missing = adp_uc_report(&res->missing, al, &s->n_missing);
	s->redundant = adp_uc_report(&res->redundant, al, &s->n_redundant);
	s->deleted   = adp_uc_report(&res->deleted, al, &s->n_deleted);
	if (s->n_missing == SIZE_MAX || s->n_redundant == SIZE_MAX ||
	    s->n_deleted == SIZE_MAX)
		return REF_NOMEM(st);
	return FEDRPC_OK;
}

/* The strategy of a request as the check's input. */
static fedrpc_code
strategy_of(fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__ClientMismatchStrategy *strategy,
    adp_check_input *in, fedrpc_status *st)
{
	const Fedrpc__Federation__V1__ClientMismatchStrategy__UserList *ul;
	adp_uc *su;
	size_t  n_su;

	switch (strategy != NULL ? strategy->strategy_case : 0) {
	case FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ALL:
		in->strategy = ADP_REPORT_ALL;
		return FEDRPC_OK;
	case FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL:
		in->strategy = ADP_IGNORE_ALL;
		return FEDRPC_OK;
	case FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ONLY:
		in->strategy = ADP_REPORT_ONLY;
		ul           = strategy->report_only;
		break;
	case FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ONLY:
		in->strategy = ADP_IGNORE_ONLY;
		ul           = strategy->ignore_only;
		break;
	default:
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "strategy: required");
	}
	n_su = ul != NULL ? ul->n_users : 0;
	if (n_su > ADP_MAX_LIST)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "strategy: at most %d users", ADP_MAX_LIST);
	if ((su = fedrpc_ctx_alloc(ctx, (n_su + 1) * sizeof(*su))) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < n_su; i++) {
		if (adp_check_qid(ul->users[i], "strategy", st) != FEDRPC_OK)
			return st->code;
		su[i].domain = ul->users[i]->domain;
		su[i].id     = ul->users[i]->id;
	}
	in->strategy_users   = su;
	in->n_strategy_users = n_su;
	return FEDRPC_OK;
}

/* Step 1 and our members' clients, read in one transaction. */
typedef struct members_tx {
	ref_svc            *s;
	fedrpc_ctx         *ctx;
	const adp_qid      *conv_id, *sender;
	ref_conversation   *conv;    /* NULL: no such conversation */
	bool                member;  /* the sender is a member */
	adp_member_clients *m;       /* one per member */
	ref_domains         doms;    /* the other member domains */
} members_tx;

static fedrpc_code
tx_members(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	members_tx *a = arg;

	memset(&a->doms, 0, sizeof(a->doms));
	a->member = false;
	if (ref_conv_get(tx, a->conv_id, &a->conv, st) != FEDRPC_OK)
		return st->code;
	if (a->conv == NULL ||
	    !(a->member = ref_conv_member(a->conv, a->sender) != NULL))
		return FEDRPC_OK;
	if ((a->m = fedrpc_ctx_alloc(
	         a->ctx, a->conv->n_members * sizeof(*a->m) + 1)) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < a->conv->n_members; i++) {
		const adp_qid      *u = a->conv->members[i]->id;
		adp_member_clients *m = &a->m[i];
		uint64_t           *ids;
		size_t              n;

		memset(m, 0, sizeof(*m));
		m->domain = u->domain;
		m->id     = u->id;
		if (strcmp(u->domain, a->s->domain) != 0) {
			ref_domains_add(a->ctx, &a->doms, u->domain);
			continue;
		}
		m->confirmed = true;
		if (ref_client_ids(a->ctx, tx, u->id, &ids, &n, st) !=
		    FEDRPC_OK)
			return st->code;
		m->clients   = ids;
		m->n_clients = n;
	}
	return FEDRPC_OK;
}

/* Step 6: refused; nothing is delivered. */
static fedrpc_code
refuse(fedrpc_ctx *ctx, const adp_check_result *res, int64_t now,
    ref_not_sent **not_sent, fedrpc_status *st)
{
	ref_status_msg *ms = fedrpc_ctx_alloc(ctx, sizeof(*ms));

	if (ms == NULL ||
	    (*not_sent = not_sent_new(ctx,
	         FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_CLIENT_MISSING)) ==
	        NULL)
		return REF_NOMEM(st);
	fedrpc__federation__v1__message_sending_status__init(ms);
	ms->time_unix_ms    = now;
	(*not_sent)->status = ms;
	return report(ctx, ms, res, true, st);
}

/* The status of a message about to be delivered: all but what delivery
 * will tell (queued_domains, refusals added to failed_to_send). */
static fedrpc_code
sending_status(fedrpc_ctx *ctx, const adp_check_result *res, int64_t now,
    ref_status_msg **out, fedrpc_status *st)
{
	ref_status_msg     *ms = fedrpc_ctx_alloc(ctx, sizeof(*ms));
	ProtobufCAllocator *al = fedrpc_ctx_allocator(ctx);

	if (ms == NULL)
		return REF_NOMEM(st);
	fedrpc__federation__v1__message_sending_status__init(ms);
	ms->time_unix_ms = now;
	if (report(ctx, ms, res, false, st) != FEDRPC_OK)
		return st->code;
	ms->failed_to_send = adp_uc_report(
	    &res->unconfirmed_absent, al, &ms->n_failed_to_send);
	ms->failed_to_confirm = adp_uc_report(
	    &res->failed_to_confirm, al, &ms->n_failed_to_confirm);
	if (ms->n_failed_to_send == SIZE_MAX ||
	    ms->n_failed_to_confirm == SIZE_MAX)
		return REF_NOMEM(st);
	*out = ms;
	return FEDRPC_OK;
}

/* What delivery told: domains still queued, and the recipients of the
 * ones that refused the message for good. */
static fedrpc_code
add_outcome(fedrpc_ctx *ctx, const adp_check_result *res, ref_status_msg *ms,
    ref_domains *queued, const ref_domains *refused, fedrpc_status *st)
{
	ProtobufCAllocator *al = fedrpc_ctx_allocator(ctx);
	adp_uc_set          failed, all_failed;

	ms->queued_domains   = queued->v;
	ms->n_queued_domains = queued->n;
	if (queued->n > 1)
		qsort(ms->queued_domains, queued->n, sizeof(char *), str_cmp);
	if (refused->n == 0)
		return FEDRPC_OK;
	if (refused_pairs(ctx, &res->valid, refused, &failed, st) != FEDRPC_OK)
		return st->code;
	if (adp_uc_union(&res->unconfirmed_absent, &failed, al, &all_failed) !=
	    FEDRPC_OK)
		return REF_NOMEM(st);
	ms->failed_to_send = adp_uc_report(&all_failed, al, &ms->n_failed_to_send);
	return ms->n_failed_to_send == SIZE_MAX ? REF_NOMEM(st) : FEDRPC_OK;
}

/* Steps 7 and 8: delivery, then what was not delivered yet, and what
 * will not be. A send applied before gets its first answer. */
static fedrpc_code
deliver(ref_svc *s, fedrpc_ctx *ctx, const adp_check_result *res,
    const adp_qid *conv, const ref_message *m, int64_t now,
    ref_status_msg **sent, ref_not_sent **not_sent, bool *repeated,
    fedrpc_status *st)
{
	deliver_tx  a = {s, ctx, &res->valid, conv, m, now, NULL, {0}, false,
	     FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__INIT};
	ref_domains queued = {0}, refused = {0};
	fedrpc_code rc;

	if (sending_status(ctx, res, now, &a.status, st) != FEDRPC_OK)
		return st->code;
	if ((rc = ref_write(s, ctx, tx_deliver, &a, st)) != FEDRPC_OK)
		return rc;
	if (a.repeat) {
		*repeated = true;
		if (a.stored.result_case ==
		    FEDRPC__FEDERATION__V1__SEND_MESSAGE_RESPONSE__RESULT_NOT_SENT)
			*not_sent = a.stored.not_sent;
		else
			*sent = a.stored.sent != NULL ? a.stored.sent : a.status;
		return FEDRPC_OK;
	}
	ref_outbox_settle(s, ctx, &a.outs, true, &queued, &refused);
	if (add_outcome(ctx, res, a.status, &queued, &refused, st) != FEDRPC_OK)
		return st->code;
	*sent = a.status;
	return FEDRPC_OK;
}

fedrpc_code
ref_owner_send(ref_svc *s, fedrpc_ctx *ctx, const ref_message *m,
    ref_status_msg **sent, ref_not_sent **not_sent, bool *repeated,
    fedrpc_status *st)
{
	adp_check_input  in = {0};
	adp_check_result res;
	adp_uc          *r;
	size_t           n_r = 0;
	members_tx       a   = {.s = s, .ctx = ctx, .conv_id = m->conv,
	            .sender = m->sender};
	int64_t          now = adp_now_ms();
	fedrpc_code      rc;

	*sent     = NULL;
	*not_sent = NULL;
	*repeated = false;
	if (m->message_id.len > REF_MESSAGE_ID_MAX)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "message_id: at most %d bytes", REF_MESSAGE_ID_MAX);
	if (strategy_of(ctx, m->strategy, &in, st) != FEDRPC_OK ||
	    recipients_of(ctx, m->rcpts, m->n_rcpts, &r, &n_r, st) != FEDRPC_OK)
		return st->code;
	if ((rc = ref_read(s, ctx, tx_members, &a, st)) != FEDRPC_OK)
		return rc;
	if (!a.member) {
		*not_sent = not_sent_new(ctx,
		    FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_CONVERSATION_NOT_FOUND);
		return *not_sent ? FEDRPC_OK : REF_NOMEM(st);
	}

	/* Step 2: one GetUserClients per other member domain. */
	if ((rc = remote_clients(s, ctx, &a.doms, a.m, a.conv->n_members,
	         st)) != FEDRPC_OK)
		return rc;

	/* Steps 3 to 5. */
	in.sender.domain = m->sender->domain;
	in.sender.id     = m->sender->id;
	in.sender.client = m->sender_client;
	in.members       = a.m;
	in.n_members     = a.conv->n_members;
	in.recipients    = r;
	in.n_recipients  = n_r;
	if (adp_check_message(&in, fedrpc_ctx_allocator(ctx), &res, st) !=
	    FEDRPC_OK)
		return st->code;
	if (res.unknown_sender_client) {
		*not_sent = not_sent_new(ctx,
		    FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_UNKNOWN_CLIENT);
		return *not_sent ? FEDRPC_OK : REF_NOMEM(st);
	}
	if (!res.send)
		return refuse(ctx, &res, now, not_sent, st);
	return deliver(s, ctx, &res, a.conv->id, m, now, sent, not_sent,
	    repeated, st);
}
