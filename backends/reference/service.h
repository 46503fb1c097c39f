/*
 * Internals of the reference backend, the storage-neutral M1 service: the
 * open service (our domain, API versions, the daemon's callbacks, its
 * store), the helpers its handlers share (transactions, users, clients and
 * prekeys, connection sides, inbox events, conversation changes, calls to
 * other domains) and each service's registration. Handlers reach storage
 * only through the store interface (store.h), inside transaction
 * functions that may run more than once.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_SERVICE_H
#define FEDRPC_BACKENDS_REFERENCE_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <fedrpc/adapter.h>
#include <fedrpc/channel.h>
#include <fedrpc/server.h>
#include <fedrpc/status.h>

#include "backends/reference/ids.h"
#include "backends/reference/relation.h"
#include "backends/reference/store.h"
#include "fedrpc/federation/v1/common.pb-c.h"
#include "fedrpc/federation/v1/messaging.pb-c.h"
#include "fedrpc/local/v1/connections.pb-c.h"
#include "fedrpc/local/v1/conversations.pb-c.h"
#include "fedrpc/local/v1/inbox.pb-c.h"
#include "fedrpc/local/v1/users.pb-c.h"

typedef Fedrpc__Federation__V1__UserProfile        ref_profile;
typedef Fedrpc__Federation__V1__Conversation       ref_conversation;
typedef Fedrpc__Federation__V1__ConversationMember ref_member;
typedef Fedrpc__Federation__V1__ClientPrekey       ref_client_prekey;
typedef Fedrpc__Local__V1__Event                   ref_event;

struct ref_delivery;

/* One open reference backend. */
typedef struct ref_svc {
	fedrpc_adapter_env env;        /* the daemon's; domain/versions below */
	char              *domain;     /* owned copy of env.domain */
	uint32_t          *versions;   /* owned, ascending */
	size_t             n_versions;
	fedrpc_store      *store;      /* owned */
	/* env.delivery with the defaults applied; instance owned. */
	fedrpc_adapter_delivery dopts;
	struct ref_delivery    *delivery; /* owned; delivery.h */
} ref_svc;

/* ---- transactions (store_run.c does the work) ---- */

/* Runs fn in a read-only / read-write transaction, results in the call's
 * arena; a conflict with another writer runs fn again. */
fedrpc_code ref_read(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_fn fn,
    void *arg, fedrpc_status *st);
fedrpc_code ref_write(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_fn fn,
    void *arg, fedrpc_status *st);

/* What most handlers' transaction functions work on. */
typedef struct ref_call {
	ref_svc    *s;
	fedrpc_ctx *ctx;
	const void *req;
	void       *resp;
} ref_call;

/* ---- users.c ---- */

/* Whether a user of ours exists and is not deleted. */
fedrpc_code ref_user_live(fedrpc_store_tx *tx, const char *id, bool *live,
    fedrpc_status *st);
/*
 * The acting local user of a local call: INVALID_ARGUMENT when malformed
 * or of another domain, NOT_FOUND when unknown or deleted.
 */
fedrpc_code ref_user_require(ref_svc *s, fedrpc_store_tx *tx,
    const adp_qid *q, const char *what, fedrpc_status *st);
/* A profile of one of our users, in the arena; NULL when out of memory. */
ref_profile *ref_profile_of(fedrpc_ctx *ctx, const char *domain,
    const fedrpc_store_user *u);
/* The profile of the user holding `handle` (*out NULL: none). */
fedrpc_code ref_profile_by_handle(ref_svc *s, fedrpc_ctx *ctx,
    fedrpc_store_tx *tx, const char *handle, ref_profile **out,
    fedrpc_status *st);
/* Up to ADP_MAX_SEARCH profiles: `full`, exact handle then prefixes;
 * otherwise the exact handle only. */
fedrpc_code ref_user_search(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *term, bool full, ref_profile ***out, size_t *n,
    fedrpc_status *st);

/* ---- clients.c: clients and prekeys ---- */

/* A user's clients as PubClients, ascending by id. */
fedrpc_code ref_pub_clients(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *user, Fedrpc__Federation__V1__PubClient ***out, size_t *n,
    fedrpc_status *st);
/* A user's client ids, ascending. */
fedrpc_code ref_client_ids(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *user, uint64_t **out, size_t *n, fedrpc_status *st);
/* A ClientPrekey for a client, a prekey claimed now (or left NULL: no
 * such client, no prekey). NULL with st set on failure. */
ref_client_prekey *ref_claim_one(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *user, uint64_t client, fedrpc_status *st);
/* One prekey for every client of user that has one. */
fedrpc_code ref_claim_bundle(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *user, ref_client_prekey ***out, size_t *n,
    fedrpc_status *st);

/* ---- sides.c: connection sides ---- */

/* The relation of from's side towards to (CANCELLED when none). */
fedrpc_code ref_side_get(fedrpc_store_tx *tx, const char *from,
    const adp_qid *to, adp_relation *rel, fedrpc_status *st);
/*
 * Stores from's side and, when it changed, puts a ConnectionUpdated event
 * in every inbox of from. *out (may be NULL) receives the side.
 */
fedrpc_code ref_side_set(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *from, const adp_qid *to, adp_relation rel, int64_t now,
    Fedrpc__Local__V1__Connection **out, fedrpc_status *st);
/* The sides `from` keeps, as Connections, by (to domain, to id). */
fedrpc_code ref_side_list(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *from, Fedrpc__Local__V1__Connection ***out, size_t *n,
    fedrpc_status *st);

/* ---- events.c: inbox events ---- */

ref_event *ref_event_new(fedrpc_ctx *ctx, int64_t now);
/* Adds an event (its id is set per inbox) for every client of user. */
fedrpc_code ref_inbox_user(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *user, const ref_event *ev, fedrpc_status *st);
/*
 * Events for many clients (a message's fan-out), gathered in the call's
 * arena and appended by one store call, in the order added; a client that
 * is gone is skipped. Made afresh in each run of a transaction function.
 */
typedef struct ref_inbox_batch {
	fedrpc_store_inbox_entry *v;   /* in the arena */
	size_t                    n;   /* entries added */
	size_t                    cap; /* room for */
} ref_inbox_batch;
/* Room for up to cap entries; false when out of memory. */
bool ref_inbox_batch_init(fedrpc_ctx *ctx, ref_inbox_batch *b, size_t cap);
/* Packs ev for user's client; INTERNAL beyond cap. */
fedrpc_code ref_inbox_batch_add(fedrpc_ctx *ctx, ref_inbox_batch *b,
    const char *user, uint64_t client, const ref_event *ev,
    fedrpc_status *st);
/* Appends every entry added, in one store call (none: no call). */
fedrpc_code ref_inbox_batch_append(fedrpc_store_tx *tx,
    const ref_inbox_batch *b, fedrpc_status *st);
/* A client's events after `since` (limit 0: 100, at most 1000). */
fedrpc_code ref_inbox_read(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *user, uint64_t client, uint64_t since, uint32_t limit,
    ref_event ***out, size_t *n, bool *more, fedrpc_status *st);

/* A set of domain names in the arena (for unreachable_domains). */
typedef struct ref_domains {
	char **v;
	size_t n;
	size_t cap;
} ref_domains;

/* ---- conv_change.c: membership changes, their events and fan-out ---- */

/* One change of a conversation: exactly one of the three is set. */
typedef struct ref_change {
	const adp_qid *actor;      /* who made it */
	int64_t        time;       /* owner's clock */
	ref_member   **added;      /* members added, with roles */
	size_t         n_added;
	adp_qid      **removed;    /* users removed or leaving */
	size_t         n_removed;
	const char    *rename;     /* a new name (receiver side only) */
} ref_change;

/* The member entry for user, or NULL. */
ref_member *ref_conv_member(const ref_conversation *conv, const adp_qid *user);
/* The members sorted by id, in the call's memory, for many lookups with
 * ref_members_find() (NULL when out of memory). */
ref_member **ref_conv_sorted(fedrpc_ctx *ctx, const ref_conversation *conv);
/* The entry for user among n sorted members, or NULL. */
ref_member *ref_members_find(
    ref_member *const *sorted, size_t n, const adp_qid *user);
/* Whether any member is of `domain`. */
bool ref_conv_has_domain(const ref_conversation *conv, const char *domain);
/* Whether any member is a user of this backend. */
bool ref_conv_has_local(ref_svc *s, const ref_conversation *conv);
/* The conversation, with members (*out NULL: none). */
fedrpc_code ref_conv_get(fedrpc_store_tx *tx, const adp_qid *id,
    ref_conversation **out, fedrpc_status *st);

/*
 * Inbox events for a change, in the caller's transaction: `present` (users
 * of any domain; only ours get events) get MembersJoined / MembersLeft /
 * ConversationRenamed, and our users among change->added get
 * ConversationCreated with `after`. With change NULL (creation), every
 * local member of `after` gets ConversationCreated.
 */
fedrpc_code ref_change_events(ref_svc *s, fedrpc_ctx *ctx,
    fedrpc_store_tx *tx, const ref_conversation *after,
    adp_qid *const *present, size_t n_present, const ref_change *change,
    fedrpc_status *st);

/*
 * What the owner owes the other member domains for a change, queued in
 * the caller's transaction (delivery.h): `before` NULL is a creation.
 * outs receives the items.
 */
struct ref_outs;
struct ref_once;
fedrpc_code ref_change_queue(ref_svc *s, fedrpc_ctx *ctx,
    fedrpc_store_tx *tx, const ref_conversation *before,
    const ref_conversation *after, const ref_change *change,
    struct ref_outs *outs, fedrpc_status *st);

/*
 * The owner removes users from a conversation it owns: one transaction
 * (members, events for the members before, notices queued for member
 * domains), then the notices settle (waiting for their first attempt with
 * `wait`). NOT_FOUND when there is no such conversation; users not
 * members are skipped. With `once` the request is applied once, `answer`
 * kept as its answer. *after (may be NULL) receives the conversation
 * after the change; domains not told yet go into `unreachable`.
 */
fedrpc_code ref_owner_remove(ref_svc *s, fedrpc_ctx *ctx,
    const adp_qid *conv, const adp_qid *actor, adp_qid **users, size_t n,
    bool wait, const struct ref_once *once, const ProtobufCMessage *answer,
    ref_conversation **after, ref_domains *unreachable, fedrpc_status *st);

/* ---- remote.c: calls to other domains ---- */

/* The channel for a domain, or NULL with st set. */
fedrpc_channel *ref_remote(ref_svc *s, const char *domain, fedrpc_status *st);
/* A call to `domain` went through: delivery to it need not pause. */
void ref_remote_ok(ref_svc *s, const char *domain);
/* Options for a call to another domain (its timeout). */
void ref_call_opts(ref_svc *s, fedrpc_call_opts *opts);
/*
 * Turns a failed call to `domain` into the status a local call answers:
 * PERMISSION_DENIED and INVALID_ARGUMENT stay, anything else is
 * UNAVAILABLE; the message names the domain.
 */
fedrpc_code ref_remote_failed(const char *domain, fedrpc_status *st);

void ref_domains_add(fedrpc_ctx *ctx, ref_domains *d, const char *domain);
bool ref_domains_has(const ref_domains *d, const char *domain);

/* ---- local Users handlers kept in files of their own ---- */

/* local_delete.c */
fedrpc_code ref_h_delete_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__DeleteUserRequest *req,
    Fedrpc__Local__V1__DeleteUserResponse *resp, fedrpc_status *st);
/* local_lookup.c */
fedrpc_code ref_h_find_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__FindUserRequest *req,
    Fedrpc__Local__V1__FindUserResponse *resp, fedrpc_status *st);
fedrpc_code ref_h_search_users(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__SearchUsersRequest *req,
    Fedrpc__Local__V1__SearchUsersResponse *resp, fedrpc_status *st);
fedrpc_code ref_h_get_profiles(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__GetProfilesRequest *req,
    Fedrpc__Local__V1__GetProfilesResponse *resp, fedrpc_status *st);
/* local_prekeys.c */
fedrpc_code ref_h_claim_prekeys(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ClaimPrekeysRequest *req,
    Fedrpc__Local__V1__ClaimPrekeysResponse *resp, fedrpc_status *st);
/* local_prekey_upload.c: below this many one-time prekeys a client is
 * told it is low. */
#define REF_PREKEYS_LOW 10
fedrpc_code ref_h_add_prekeys(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AddPrekeysRequest *req,
    Fedrpc__Local__V1__AddPrekeysResponse *resp, fedrpc_status *st);
/* The client's one-time prekeys, and whether that is low. */
fedrpc_code ref_prekeys_left(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint32_t *left, bool *low, fedrpc_status *st);
/* The distinct domains of a list of ids, in first-seen order. */
fedrpc_code ref_domains_of(fedrpc_ctx *ctx, adp_qid *const *ids, size_t n,
    ref_domains *out, fedrpc_status *st);

/* local_send.c: the local SendMessage handler */
fedrpc_code ref_h_send_message(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__SendMessageRequest *req,
    Fedrpc__Local__V1__SendMessageResponse *resp, fedrpc_status *st);

/* ---- local_messages.c: the owner's message check and delivery ---- */

/*
 * Checks and delivers a message to a conversation this backend owns
 * (docs/federation-api.md "Sending a message"); exactly one of *sent and
 * *not_sent is set on OK.
 */
/* The longest message id a client may choose. */
#define REF_MESSAGE_ID_MAX 64

/* One message to send, as the owner gets it. */
typedef struct ref_message {
	const adp_qid      *sender;
	uint64_t            sender_client;
	const adp_qid      *conv;
	Fedrpc__Federation__V1__UserCiphertexts *const *rcpts;
	size_t              n_rcpts;
	const Fedrpc__Federation__V1__ClientMismatchStrategy *strategy;
	ProtobufCBinaryData data;
	ProtobufCBinaryData message_id; /* the sender's client's; may be empty */
	/* The send applied once: a local send, or the federation request
	 * carrying it (may be NULL). */
	const struct ref_once *once;
} ref_message;

/* On OK, exactly one of sent and not_sent is set; repeated says that the
 * send was applied before (its first answer is given again). */
fedrpc_code ref_owner_send(ref_svc *s, fedrpc_ctx *ctx, const ref_message *m,
    Fedrpc__Federation__V1__MessageSendingStatus **sent,
    Fedrpc__Federation__V1__MessageNotSent **not_sent, bool *repeated,
    fedrpc_status *st);

/* ---- registration of each service ---- */

fedrpc_code ref_register_fed_users(fedrpc_server *srv, ref_svc *s,
    fedrpc_status *st);
fedrpc_code ref_register_fed_conversations(fedrpc_server *srv, ref_svc *s,
    fedrpc_status *st);
fedrpc_code ref_register_fed_version(fedrpc_server *srv, ref_svc *s,
    fedrpc_status *st);
fedrpc_code ref_register_local_users(fedrpc_server *srv, ref_svc *s,
    fedrpc_status *st);
fedrpc_code ref_register_local_connections(fedrpc_server *srv, ref_svc *s,
    fedrpc_status *st);
fedrpc_code ref_register_local_conversations(fedrpc_server *srv,
    ref_svc *s, fedrpc_status *st);
fedrpc_code ref_register_local_inbox(fedrpc_server *srv, ref_svc *s,
    fedrpc_status *st);
fedrpc_code ref_register_local_delivery(fedrpc_server *srv, ref_svc *s,
    fedrpc_status *st);

/* The policy we hold for users of `origin` searching ours. */
fedrpc_adapter_search_policy ref_policy(ref_svc *s, const char *origin);

/* A federation handler's first step: the callee's version rule. */
#define REF_FED_CHECK(s, ctx, st)                                         \
	do {                                                              \
		fedrpc_code vrc_ = adp_check_version((ctx), (s)->versions, \
		    (s)->n_versions, (s)->domain, (st));                  \
		if (vrc_ != FEDRPC_OK)                                    \
			return vrc_;                                      \
	} while (0)

/* Out of memory in a handler. */
#define REF_NOMEM(st)                                                     \
	fedrpc_status_set((st), FEDRPC_RESOURCE_EXHAUSTED, "out of memory")

#endif
