/*
 * Internals of the SQLite adapter: the instance, the connection pool and
 * statement cache (db.c), the stores (store_*.c, one concept each), calls to
 * other domains (remote.c) and the handler registration of each service.
 * Store functions run inside a transaction their caller opened with
 * sq_begin(); strings they return live in the call's arena.
 */
#ifndef FEDRPC_BACKENDS_SQLITE_SQ_H
#define FEDRPC_BACKENDS_SQLITE_SQ_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include <fedrpc/adapter.h>
#include <fedrpc/channel.h>
#include <fedrpc/server.h>
#include <fedrpc/status.h>

#include "fedrpc/federation/v1/common.pb-c.h"
#include "fedrpc/federation/v1/messaging.pb-c.h"
#include "fedrpc/local/v1/connections.pb-c.h"
#include "fedrpc/local/v1/inbox.pb-c.h"
#include "fedrpc/local/v1/users.pb-c.h"
#include "backends/reference/ids.h"
#include "backends/reference/relation.h"

typedef struct sq_db   sq_db;
typedef struct sq_conn sq_conn;

typedef Fedrpc__Federation__V1__UserProfile  sq_profile;
typedef Fedrpc__Federation__V1__Prekey       sq_prekey;
typedef Fedrpc__Federation__V1__Conversation sq_conversation;
typedef Fedrpc__Local__V1__Event             sq_event;

/* One open SQLite adapter. */
typedef struct sq_adapter {
	fedrpc_adapter_env env;        /* the daemon's; domain/versions below */
	char              *domain;     /* owned copy of env.domain */
	uint32_t          *versions;   /* owned, ascending */
	size_t             n_versions;
	sq_db             *db;         /* owned */
} sq_adapter;

/* ---- db.c: pool, transactions, statements ---- */

/* Opens (creating and migrating) the database; ":memory:" works. */
fedrpc_code sq_db_open(const char *path, sq_db **out, fedrpc_status *st);
void        sq_db_close(sq_db *db);

/*
 * Takes a pooled connection and opens a transaction (BEGIN IMMEDIATE when
 * `write`, so that a writer never has to upgrade a read lock).
 */
fedrpc_code sq_begin(sq_db *db, bool write, sq_conn **out, fedrpc_status *st);
/*
 * Commits when rc is OK, else rolls back; returns the connection to the
 * pool. Returns rc, or the commit's failure.
 */
fedrpc_code sq_end(sq_db *db, sq_conn *c, fedrpc_code rc, fedrpc_status *st);
/* A cached prepared statement for `sql` (a string literal), reset. */
sqlite3_stmt *sq_stmt(sq_conn *c, const char *sql, fedrpc_status *st);
/* SQLITE_ROW, SQLITE_DONE, or -1 with st set. */
int sq_step(sq_conn *c, sqlite3_stmt *s, fedrpc_status *st);
/* Steps to SQLITE_DONE. */
fedrpc_code sq_run(sq_conn *c, sqlite3_stmt *s, fedrpc_status *st);
/* Rows changed by the last statement. */
int sq_changes(sq_conn *c);
/* A text column copied into the call's arena ("" for NULL). */
char *sq_col_str(fedrpc_ctx *ctx, sqlite3_stmt *s, int col);
/* Binds helpers (statements keep no copy: values outlive the step). */
void sq_bind_str(sqlite3_stmt *s, int i, const char *v);
void sq_bind_u64(sqlite3_stmt *s, int i, uint64_t v);
uint64_t sq_col_u64(sqlite3_stmt *s, int col);

/* The schema, as a list of migrations (schema.c). */
extern const char *const sq_migrations[];
extern const int         sq_n_migrations;

/* ---- store_users.c ---- */

typedef struct sq_user {
	char *id;
	char *handle; /* "" when deleted */
	char *name;
	bool  deleted;
} sq_user;

fedrpc_code sq_user_insert(sq_conn *c, const char *id, const char *handle,
    const char *name, int64_t now, fedrpc_status *st);
/* 1 found, 0 not, -1 error. */
int sq_user_get(sq_conn *c, fedrpc_ctx *ctx, const char *id, sq_user *out,
    fedrpc_status *st);
int sq_user_by_handle(sq_conn *c, fedrpc_ctx *ctx, const char *handle,
    sq_user *out, fedrpc_status *st);
/* Up to ADP_MAX_SEARCH users: exact handle, then (full) prefix matches. */
fedrpc_code sq_user_search(sq_conn *c, fedrpc_ctx *ctx, const char *domain,
    const char *term, bool full, sq_profile ***out, size_t *n,
    fedrpc_status *st);
fedrpc_code sq_user_mark_deleted(sq_conn *c, const char *id,
    fedrpc_status *st);
/* A profile in the arena. */
sq_profile *sq_user_profile(fedrpc_ctx *ctx, const char *domain,
    const sq_user *u);
/*
 * The acting local user of a local call: INVALID_ARGUMENT when malformed
 * or of another domain, NOT_FOUND when unknown or deleted.
 */
fedrpc_code sq_user_require(sq_adapter *a, sq_conn *c, fedrpc_ctx *ctx,
    const adp_qid *q, const char *what, fedrpc_status *st);

/* ---- store_clients.c ---- */

fedrpc_code sq_client_insert(sq_conn *c, const char *user, uint64_t client,
    int client_class, int64_t now, fedrpc_status *st);
fedrpc_code sq_prekey_insert(sq_conn *c, const char *user, uint64_t client,
    uint32_t id, const ProtobufCBinaryData *key, fedrpc_status *st);
/* 1 exists, 0 not, -1 error. */
int sq_client_exists(sq_conn *c, const char *user, uint64_t client,
    fedrpc_status *st);
/* A user's clients, ascending by id. */
fedrpc_code sq_client_list(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    Fedrpc__Federation__V1__PubClient ***out, size_t *n, fedrpc_status *st);
fedrpc_code sq_client_ids(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    uint64_t **out, size_t *n, fedrpc_status *st);
/* Removes a client with its prekeys and inbox; NOT_FOUND if none. */
fedrpc_code sq_client_delete(sq_conn *c, const char *user, uint64_t client,
    fedrpc_status *st);
fedrpc_code sq_client_delete_all(sq_conn *c, const char *user,
    fedrpc_status *st);
/*
 * Claims the lowest one-time prekey (deleting it), else the last-resort
 * one. 1 claimed, 0 none (no such client or no prekey), -1 error.
 */
int sq_prekey_claim(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    uint64_t client, sq_prekey **out, fedrpc_status *st);

typedef Fedrpc__Federation__V1__ClientPrekey sq_client_prekey;
/* A ClientPrekey for a client, its prekey claimed now (or left NULL). */
sq_client_prekey *sq_claim_one(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    uint64_t client, fedrpc_status *st);
/* One prekey for every client of user that has one. */
fedrpc_code sq_claim_bundle(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    sq_client_prekey ***out, size_t *n, fedrpc_status *st);

/* ---- store_connections.c ---- */

/* The relation of from's side towards to (CANCELLED when none). */
fedrpc_code sq_conn_get(sq_conn *c, const char *from, const adp_qid *to,
    adp_relation *rel, fedrpc_status *st);
/*
 * Stores from's side and, when it changed, puts a ConnectionUpdated event
 * in every inbox of from. *out (may be NULL) receives the side.
 */
fedrpc_code sq_conn_set(sq_conn *c, fedrpc_ctx *ctx, const char *domain,
    const char *from, const adp_qid *to, adp_relation rel, int64_t now,
    Fedrpc__Local__V1__Connection **out, fedrpc_status *st);
fedrpc_code sq_conn_list(sq_conn *c, fedrpc_ctx *ctx, const char *domain,
    const char *from, Fedrpc__Local__V1__Connection ***out, size_t *n,
    fedrpc_status *st);
/* Every side any local user keeps towards `to`, and deletes them. */
fedrpc_code sq_conn_drop_towards(sq_conn *c, fedrpc_ctx *ctx,
    const adp_qid *to, char ***from, adp_relation **rels, size_t *n,
    fedrpc_status *st);
/* Deletes one side. */
fedrpc_code sq_conn_delete(sq_conn *c, const char *from, const adp_qid *to,
    fedrpc_status *st);
/* The sides `from` keeps (other users, any domain), and deletes them. */
fedrpc_code sq_conn_drop_from(sq_conn *c, fedrpc_ctx *ctx, const char *from,
    adp_qid ***to, adp_relation **rels, size_t *n, fedrpc_status *st);

/* ---- store_inbox.c ---- */

/* Adds an event (its id is set per inbox) for every client of user. */
fedrpc_code sq_inbox_user_event(sq_conn *c, const char *user,
    const sq_event *ev, fedrpc_status *st);
/* Adds an event for one client; a client that is gone is skipped. */
fedrpc_code sq_inbox_client_event(sq_conn *c, const char *user,
    uint64_t client, const sq_event *ev, fedrpc_status *st);
fedrpc_code sq_inbox_fetch(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    uint64_t client, uint64_t since, uint32_t limit, sq_event ***out,
    size_t *n, bool *more, fedrpc_status *st);
fedrpc_code sq_inbox_ack(sq_conn *c, const char *user, uint64_t client,
    uint64_t up_to, uint64_t *deleted, fedrpc_status *st);

/* ---- store_conversations.c ---- */

/* A conversation row with its members (any domain), members sorted. */
fedrpc_code sq_conv_put(sq_conn *c, const sq_conversation *conv,
    fedrpc_status *st);
/* 1 found (into *out, in the arena), 0 not, -1 error. */
int sq_conv_get(sq_conn *c, fedrpc_ctx *ctx, const adp_qid *id,
    sq_conversation **out, fedrpc_status *st);
fedrpc_code sq_conv_delete(sq_conn *c, const adp_qid *id, fedrpc_status *st);
fedrpc_code sq_conv_set_name(sq_conn *c, const adp_qid *id,
    const char *name, fedrpc_status *st);
fedrpc_code sq_member_add(sq_conn *c, const adp_qid *conv,
    const adp_qid *user, int role, fedrpc_status *st);
fedrpc_code sq_member_remove(sq_conn *c, const adp_qid *conv,
    const adp_qid *user, fedrpc_status *st);
/* The conversations a user is a member of, sorted by (domain, id). */
fedrpc_code sq_conv_of_user(sq_conn *c, fedrpc_ctx *ctx, const adp_qid *user,
    adp_qid ***out, size_t *n, fedrpc_status *st);
/* Whether any member of the conversation is of `domain`. */
int sq_conv_has_domain_member(sq_conn *c, const adp_qid *conv,
    const char *domain, fedrpc_status *st);

/* A set of domain names in the arena (for unreachable_domains). */
typedef struct sq_domains {
	char **v;
	size_t n;
	size_t cap;
} sq_domains;

/* ---- conv_change.c: membership changes, their events and fan-out ---- */

typedef Fedrpc__Federation__V1__ConversationMember sq_member;

/* One change of a conversation: exactly one of the three is set. */
typedef struct sq_change {
	const adp_qid *actor;      /* who made it */
	int64_t        time;       /* owner's clock */
	sq_member    **added;      /* members added, with roles */
	size_t         n_added;
	adp_qid      **removed;    /* users removed or leaving */
	size_t         n_removed;
	const char    *rename;     /* a new name (receiver side only) */
} sq_change;

/* The member entry for user, or NULL. */
sq_member *sq_conv_member(const sq_conversation *conv, const adp_qid *user);
/* Whether any member is of `domain`. */
bool sq_conv_has_domain(const sq_conversation *conv, const char *domain);
/* Whether any member is a user of this backend. */
bool sq_conv_has_local(sq_adapter *a, const sq_conversation *conv);

/*
 * Inbox events for a change, in the caller's transaction: `present` (users
 * of any domain; only ours get events) get MembersJoined / MembersLeft /
 * ConversationRenamed, and our users among change->added get
 * ConversationCreated with `after`. With change NULL (creation), every
 * local member of `after` gets ConversationCreated.
 */
fedrpc_code sq_change_events(sq_adapter *a, sq_conn *c, fedrpc_ctx *ctx,
    const sq_conversation *after, adp_qid *const *present, size_t n_present,
    const sq_change *change, fedrpc_status *st);

/*
 * The owner tells the other member domains about a change (no transaction
 * held): `before` NULL is a creation. Domains that cannot be told go into
 * `unreachable`.
 */
void sq_change_fanout(sq_adapter *a, fedrpc_ctx *ctx,
    const sq_conversation *before, const sq_conversation *after,
    const sq_change *change, sq_domains *unreachable);

/*
 * The owner removes users from a conversation it owns: one transaction
 * (members, events for the members before), then the fan-out. NOT_FOUND
 * when there is no such conversation; users not members are skipped.
 * *after (may be NULL) receives the conversation after the change.
 */
fedrpc_code sq_owner_remove(sq_adapter *a, fedrpc_ctx *ctx,
    const adp_qid *conv, const adp_qid *actor, adp_qid **users, size_t n,
    sq_conversation **after, sq_domains *unreachable, fedrpc_status *st);

/* ---- remote.c: calls to other domains ---- */

/* The channel for a domain, or NULL with st set. */
fedrpc_channel *sq_remote(sq_adapter *a, const char *domain,
    fedrpc_status *st);
/* Options for a call to another domain (its timeout). */
void sq_call_opts(sq_adapter *a, fedrpc_call_opts *opts);
/*
 * Turns a failed call to `domain` into the status a local call answers:
 * PERMISSION_DENIED and INVALID_ARGUMENT stay, anything else is
 * UNAVAILABLE; the message names the domain.
 */
fedrpc_code sq_remote_failed(const char *domain, fedrpc_status *st);

void sq_domains_add(fedrpc_ctx *ctx, sq_domains *d, const char *domain);
bool sq_domains_has(const sq_domains *d, const char *domain);

/* ---- event builders (events.c) ---- */

sq_event *sq_event_new(fedrpc_ctx *ctx, int64_t now);

/* The local DeleteUser handler (local_delete.c). */
fedrpc_code sq_h_delete_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__DeleteUserRequest *req,
    Fedrpc__Local__V1__DeleteUserResponse *resp, fedrpc_status *st);
#define SQ_DELETE_USER_HANDLER sq_h_delete_user

/* ---- local_messages.c: the owner's message check and delivery ---- */

/*
 * Checks and delivers a message to a conversation this backend owns
 * (docs/federation-api.md "Sending a message"); exactly one of *sent and
 * *not_sent is set on OK.
 */
fedrpc_code sq_owner_send(sq_adapter *a, fedrpc_ctx *ctx,
    const adp_qid *sender, uint64_t sender_client, const adp_qid *conv,
    Fedrpc__Federation__V1__UserCiphertexts *const *rcpts, size_t n_rcpts,
    const Fedrpc__Federation__V1__ClientMismatchStrategy *strategy,
    ProtobufCBinaryData data, Fedrpc__Federation__V1__MessageSendingStatus **sent,
    Fedrpc__Federation__V1__MessageNotSent **not_sent, fedrpc_status *st);

/* ---- registration of each service ---- */

fedrpc_code sq_register_fed_users(fedrpc_server *srv, sq_adapter *a,
    fedrpc_status *st);
fedrpc_code sq_register_fed_conversations(fedrpc_server *srv, sq_adapter *a,
    fedrpc_status *st);
fedrpc_code sq_register_fed_version(fedrpc_server *srv, sq_adapter *a,
    fedrpc_status *st);
fedrpc_code sq_register_local_users(fedrpc_server *srv, sq_adapter *a,
    fedrpc_status *st);
fedrpc_code sq_register_local_connections(fedrpc_server *srv,
    sq_adapter *a, fedrpc_status *st);
fedrpc_code sq_register_local_conversations(fedrpc_server *srv,
    sq_adapter *a, fedrpc_status *st);
fedrpc_code sq_register_local_inbox(fedrpc_server *srv, sq_adapter *a,
    fedrpc_status *st);

/* The policy we hold for users of `origin` searching ours. */
fedrpc_adapter_search_policy sq_policy(sq_adapter *a, const char *origin);

/* A federation handler's first step: the callee's version rule. */
#define SQ_FED_CHECK(a, ctx, st)                                          \
	do {                                                              \
		fedrpc_code vrc_ = adp_check_version((ctx), (a)->versions, \
		    (a)->n_versions, (a)->domain, (st));                  \
		if (vrc_ != FEDRPC_OK)                                    \
			return vrc_;                                      \
	} while (0)

/* Out of memory in a handler. */
#define SQ_NOMEM(st)                                                      \
	fedrpc_status_set((st), FEDRPC_RESOURCE_EXHAUSTED, "out of memory")

#endif
