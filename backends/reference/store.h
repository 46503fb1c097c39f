/*
 * The store interface of the reference backend: everything the
 * storage-neutral M1 service (backends/reference/) asks of a database, as a
 * table of functions. A store keeps data and its uniqueness rules and knows
 * nothing of Wire's rules (who may do what, which events a change makes,
 * which key is the last-resort one): those stay in the service, so that a
 * second store is a second table, not a second copy of every handler.
 *
 * The table is shaped for PostgreSQL as much as for SQLite
 * (backends/sqlite/):
 *
 * - Every operation runs in a transaction its caller opened and names by
 *   its handle; there is no hidden connection. Several transactions may be
 *   open at once, on several threads and in several processes, writing at
 *   the same time: no store may assume a single writer.
 * - A transaction that loses to another one (a serialization failure, a
 *   deadlock, a database busy beyond the store's own wait) fails with
 *   FEDRPC_STORE_CONFLICT. Nothing it did stays; the caller rolls back and
 *   runs its whole transaction function again (fedrpc_store_run() does).
 * - Breaking a uniqueness rule (a handle or a client id already taken, a
 *   request id already recorded) is FEDRPC_STORE_DUPLICATE, so that the
 *   service can answer it as such.
 * - Any other failure is UNAVAILABLE (the database cannot be reached),
 *   RESOURCE_EXHAUSTED (full, out of memory), DATA_LOSS or INTERNAL, with a
 *   message naming the step. An operation that fails leaves the
 *   transaction usable only for rollback.
 * - Lookups report absence with *found = false, not as an error.
 * - What an operation returns (strings, arrays, messages) is allocated from
 *   the transaction's allocator (tx->al, the call's arena) and stays valid
 *   after the transaction ends. Inputs are borrowed for the call only.
 * - Orders stated below are part of the contract.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_STORE_H
#define FEDRPC_BACKENDS_REFERENCE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <fedrpc/status.h>

#include "fedrpc/federation/v1/common.pb-c.h"

/* The two results a caller must tell from a failure. */
#define FEDRPC_STORE_CONFLICT FEDRPC_ABORTED         /* retry the whole tx */
#define FEDRPC_STORE_DUPLICATE FEDRPC_ALREADY_EXISTS /* a unique key taken */

typedef struct fedrpc_store     fedrpc_store;
typedef struct fedrpc_store_ops fedrpc_store_ops;

typedef Fedrpc__Federation__V1__QualifiedId  fedrpc_store_qid;
typedef Fedrpc__Federation__V1__Conversation fedrpc_store_conversation;

typedef enum fedrpc_store_mode {
	FEDRPC_STORE_READ_ONLY,  /* may read only */
	FEDRPC_STORE_READ_WRITE, /* may write */
} fedrpc_store_mode;

/* One open store, made by the store's own open function. */
struct fedrpc_store {
	const fedrpc_store_ops *ops;
	void                   *impl; /* the store's own */
};

/*
 * One transaction. The caller sets `al` and passes the struct to begin,
 * which fills the rest; it is over after commit or rollback.
 */
typedef struct fedrpc_store_tx {
	ProtobufCAllocator     *al;   /* memory for results (the caller's) */
	const fedrpc_store_ops *ops;  /* the store's table */
	fedrpc_store_mode       mode;
	void                   *impl; /* the store's own (its connection) */
} fedrpc_store_tx;

/* A user. A deleted user keeps its id; handle and name read "". */
typedef struct fedrpc_store_user {
	char *id;     /* lower-case UUID */
	char *handle; /* "" once deleted */
	char *name;   /* "" once deleted */
	bool  deleted;
} fedrpc_store_user;

typedef struct fedrpc_store_client {
	uint64_t id;
	int      client_class; /* fedrpc.federation.v1.ClientClass */
} fedrpc_store_client;

typedef struct fedrpc_store_prekey {
	uint32_t            id;
	ProtobufCBinaryData key;
} fedrpc_store_prekey;

/* One side of a connection: what the local user `from` keeps towards `to`
 * (a user of any domain). */
typedef struct fedrpc_store_side {
	char             *from;       /* the local user's id */
	fedrpc_store_qid *to;
	int               relation;   /* fedrpc.local.v1.Relation */
	int64_t           updated_ms;
} fedrpc_store_side;

/* An inbox entry: its id in the client's inbox and the opaque event. */
typedef struct fedrpc_store_event {
	uint64_t            id;
	ProtobufCBinaryData data;
} fedrpc_store_event;

/* One entry of inbox_append_clients: an event for one client's inbox
 * (borrowed for the call). */
typedef struct fedrpc_store_inbox_entry {
	const char         *user;   /* the client's user */
	uint64_t            client;
	ProtobufCBinaryData event;
} fedrpc_store_inbox_entry;

/* Where an outbox item is. */
typedef enum fedrpc_store_outbox_state {
	FEDRPC_STORE_OUTBOX_PENDING = 0, /* waiting to be delivered */
	FEDRPC_STORE_OUTBOX_ASIDE   = 1, /* moved aside: refused or expired */
	FEDRPC_STORE_OUTBOX_DROPPED = 2, /* dropped by an operator: data gone */
} fedrpc_store_outbox_state;

/* An outbox item: what is owed to a destination domain, opaque. */
typedef struct fedrpc_store_outbox_item {
	uint64_t            seq;         /* ascending in append order */
	char               *destination; /* a domain */
	ProtobufCBinaryData data;        /* empty once dropped */
	int64_t             created_ms;
	char               *reason;      /* aside or dropped: why; else "" */
	int64_t             moved_ms;    /* aside or dropped: when; else 0 */
	int                 state;       /* fedrpc_store_outbox_state */
} fedrpc_store_outbox_item;

/*
 * A destination's queue as its delivery keeps it: counts, and the state
 * that is per destination, not per item (the back-off after failed
 * attempts, and the lease that lets one of several federator instances
 * sharing the store deliver it, in order).
 */
typedef struct fedrpc_store_queue {
	char    *destination;
	uint64_t pending;         /* items waiting */
	uint64_t aside;           /* items moved aside */
	uint64_t head_seq;        /* the oldest pending item; 0: none */
	int64_t  head_created_ms; /* its creation; 0: none */
	uint32_t failures;        /* attempts failed in a row */
	int64_t  next_attempt_ms; /* not before (Unix ms); 0: at once */
	char    *last_error;      /* of the last failed attempt; else "" */
	char    *lease_owner;     /* who delivers it; "" : nobody */
	int64_t  lease_until_ms;  /* the lease ends (Unix ms) */
} fedrpc_store_queue;

/* A message a local user sent: the local API's idempotency key and what
 * the service keeps about its delivery (opaque here). */
typedef struct fedrpc_store_sent {
	uint64_t            seq;          /* ascending in insert order */
	char               *sender;       /* a local user's id */
	ProtobufCBinaryData message_id;   /* the sender's client chose it */
	fedrpc_store_qid   *conversation;
	int64_t             sent_ms;
	ProtobufCBinaryData record;       /* the service's */
} fedrpc_store_sent;

struct fedrpc_store_ops {
	const char *name; /* "sqlite", ... */
	/* Closes the store; no transaction may be open. */
	void (*close)(fedrpc_store *store);

	/* ---- transactions ---- */

	/*
	 * Opens a transaction; may wait for a connection. A READ_ONLY one
	 * sees one consistent snapshot; a READ_WRITE one is serializable
	 * with every other writer (or ends in CONFLICT).
	 */
	fedrpc_code (*begin)(fedrpc_store *store, fedrpc_store_mode mode,
	    fedrpc_store_tx *tx, fedrpc_status *st);
	/* Makes every change durable, or fails (CONFLICT included) with
	 * nothing kept. The transaction is over either way. */
	fedrpc_code (*commit)(fedrpc_store_tx *tx, fedrpc_status *st);
	/* Forgets every change; the transaction is over. */
	void (*rollback)(fedrpc_store_tx *tx);

	/* ---- users ---- */

	/* DUPLICATE when the id or the handle is taken. */
	fedrpc_code (*user_insert)(fedrpc_store_tx *tx, const char *id,
	    const char *handle, const char *name, int64_t created_ms,
	    fedrpc_status *st);
	/* Deleted users too. */
	fedrpc_code (*user_get)(fedrpc_store_tx *tx, const char *id,
	    fedrpc_store_user *out, bool *found, fedrpc_status *st);
	/* The user holding `handle` (never a deleted one). */
	fedrpc_code (*user_get_by_handle)(fedrpc_store_tx *tx,
	    const char *handle, fedrpc_store_user *out, bool *found,
	    fedrpc_status *st);
	/*
	 * Up to `limit` users, none deleted, whose handle is `term` or
	 * starts with it, or whose name or a word of it (after a space)
	 * starts with it, ASCII letters compared without case; the exact
	 * handle first, then by handle. An empty term finds nobody.
	 */
	fedrpc_code (*user_search)(fedrpc_store_tx *tx, const char *term,
	    size_t limit, fedrpc_store_user **out, size_t *n,
	    fedrpc_status *st);
	/* Marks a user deleted: the handle is free again, the name gone. */
	fedrpc_code (*user_mark_deleted)(fedrpc_store_tx *tx, const char *id,
	    fedrpc_status *st);

	/* ---- clients ---- */

	/* DUPLICATE when the user has a client with this id. */
	fedrpc_code (*client_insert)(fedrpc_store_tx *tx, const char *user,
	    uint64_t client, int client_class, int64_t created_ms,
	    fedrpc_status *st);
	fedrpc_code (*client_exists)(fedrpc_store_tx *tx, const char *user,
	    uint64_t client, bool *exists, fedrpc_status *st);
	/* A user's clients, ascending by id (as unsigned numbers). */
	fedrpc_code (*client_list)(fedrpc_store_tx *tx, const char *user,
	    fedrpc_store_client **out, size_t *n, fedrpc_status *st);
	/* Removes a client with its prekeys and inbox. */
	fedrpc_code (*client_delete)(fedrpc_store_tx *tx, const char *user,
	    uint64_t client, bool *found, fedrpc_status *st);
	/* Removes every client of a user, with prekeys and inboxes. */
	fedrpc_code (*client_delete_all)(fedrpc_store_tx *tx, const char *user,
	    fedrpc_status *st);

	/* ---- prekeys ---- */

	/* DUPLICATE when the client has a prekey with this id. */
	fedrpc_code (*prekey_insert)(fedrpc_store_tx *tx, const char *user,
	    uint64_t client, uint32_t id, const ProtobufCBinaryData *key,
	    fedrpc_status *st);
	/*
	 * Takes the client's prekey with the lowest id and deletes it,
	 * unless its id is `keep_id` (a key handed out again and again).
	 * Two transactions never both take the same deleted key.
	 */
	fedrpc_code (*prekey_claim)(fedrpc_store_tx *tx, const char *user,
	    uint64_t client, uint32_t keep_id, fedrpc_store_prekey *out,
	    bool *found, fedrpc_status *st);
	/* How many prekeys the client has, the one with id `except_id`
	 * (the last-resort one) not counted. May be NULL: clients are then
	 * not told when they run low. */
	fedrpc_code (*prekey_count)(fedrpc_store_tx *tx, const char *user,
	    uint64_t client, uint32_t except_id, uint32_t *out,
	    fedrpc_status *st);

	/* ---- connections (sides kept by local users) ---- */

	fedrpc_code (*connection_get)(fedrpc_store_tx *tx, const char *from,
	    const fedrpc_store_qid *to, int *relation, bool *found,
	    fedrpc_status *st);
	/* Stores the side, replacing the one there was. */
	fedrpc_code (*connection_put)(fedrpc_store_tx *tx, const char *from,
	    const fedrpc_store_qid *to, int relation, int64_t updated_ms,
	    fedrpc_status *st);
	fedrpc_code (*connection_delete)(fedrpc_store_tx *tx, const char *from,
	    const fedrpc_store_qid *to, fedrpc_status *st);
	/* The sides `from` keeps, by (to domain, to id). */
	fedrpc_code (*connection_list_from)(fedrpc_store_tx *tx,
	    const char *from, fedrpc_store_side **out, size_t *n,
	    fedrpc_status *st);
	/* The sides any local user keeps towards `to`, by `from`. */
	fedrpc_code (*connection_list_towards)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *to, fedrpc_store_side **out, size_t *n,
	    fedrpc_status *st);
	fedrpc_code (*connection_delete_from)(fedrpc_store_tx *tx,
	    const char *from, fedrpc_status *st);
	fedrpc_code (*connection_delete_towards)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *to, fedrpc_status *st);

	/* ---- inboxes (per client; event ids start at 1, only grow and
	 * are never reused, acknowledged or not) ---- */

	/* Adds the event to the inbox of every client of `user`. */
	fedrpc_code (*inbox_append_user)(fedrpc_store_tx *tx, const char *user,
	    const ProtobufCBinaryData *event, fedrpc_status *st);
	/* Adds it to one client's inbox; *appended false when no such
	 * client exists (nothing is stored). */
	fedrpc_code (*inbox_append_client)(fedrpc_store_tx *tx,
	    const char *user, uint64_t client, const ProtobufCBinaryData *event,
	    bool *appended, fedrpc_status *st);
	/* Adds each entry's event to its client's inbox, as n calls of
	 * inbox_append_client in the order given would: an inbox's ids
	 * grow in that order, and a client named twice gets two events.
	 * appended[i] (may be NULL; else n of them) is false when entry i's
	 * client does not exist (nothing is stored for it). One call for a
	 * whole fan-out: a store with a server behind it makes it one round
	 * trip (or a few for large n), not n. */
	fedrpc_code (*inbox_append_clients)(fedrpc_store_tx *tx,
	    const fedrpc_store_inbox_entry *entries, size_t n, bool *appended,
	    fedrpc_status *st);
	/* Up to `limit` (at least 1) events with ids above `after`,
	 * ascending; *more when others follow. */
	fedrpc_code (*inbox_fetch)(fedrpc_store_tx *tx, const char *user,
	    uint64_t client, uint64_t after, uint32_t limit,
	    fedrpc_store_event **out, size_t *n, bool *more, fedrpc_status *st);
	/* Deletes the events up to and including `up_to`. */
	fedrpc_code (*inbox_ack)(fedrpc_store_tx *tx, const char *user,
	    uint64_t client, uint64_t up_to, uint64_t *deleted,
	    fedrpc_status *st);

	/* ---- conversations and members (of any domain; the owner is
	 * id->domain). Member rows do not need their conversation. ---- */

	/* Stores the conversation (its version too), replacing its row and
	 * member list. */
	fedrpc_code (*conversation_put)(fedrpc_store_tx *tx,
	    const fedrpc_store_conversation *conv, fedrpc_status *st);
	/* Adds one to the conversation's version; *version (may be NULL)
	 * receives the new one; NOT_FOUND when there is no such
	 * conversation. */
	fedrpc_code (*conversation_bump)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *id, uint64_t *version, fedrpc_status *st);
	/* With its members and version, by (domain, id). */
	fedrpc_code (*conversation_get)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *id, fedrpc_store_conversation **out,
	    bool *found, fedrpc_status *st);
	/* Deletes the conversation and its members. */
	fedrpc_code (*conversation_delete)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *id, fedrpc_status *st);
	fedrpc_code (*conversation_rename)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *id, const char *name, fedrpc_status *st);
	/* The conversations `user` is a member of, by (domain, id). */
	fedrpc_code (*conversation_list_of_user)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *user, fedrpc_store_qid ***out, size_t *n,
	    fedrpc_status *st);
	/* Whether any member of the conversation is of `domain`. */
	fedrpc_code (*conversation_has_member_of)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *conv, const char *domain, bool *any,
	    fedrpc_status *st);
	/* Adds a member, or changes the role of one. */
	fedrpc_code (*member_put)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *conv, const fedrpc_store_qid *user,
	    int role, fedrpc_status *st);
	fedrpc_code (*member_remove)(fedrpc_store_tx *tx,
	    const fedrpc_store_qid *conv, const fedrpc_store_qid *user,
	    fedrpc_status *st);

	/* ---- outbox: what is owed to other domains, appended in the
	 * transaction of the change that owes it, delivered in order per
	 * destination, removed once answered ----
	 *
	 * Sequence numbers ascend in commit order per destination: an item
	 * a later transaction appends gets a higher seq than every item of
	 * that destination another transaction can already see (SQLite's
	 * single writer gives it; a store with concurrent writers takes a
	 * lock per destination at append). Delivery relies on it for order.
	 */

	fedrpc_code (*outbox_append)(fedrpc_store_tx *tx,
	    const char *destination, const ProtobufCBinaryData *item,
	    int64_t created_ms, uint64_t *seq, fedrpc_status *st);
	/* The destinations with pending items, sorted. */
	fedrpc_code (*outbox_destinations)(fedrpc_store_tx *tx, char ***out,
	    size_t *n, fedrpc_status *st);
	/* The oldest pending item of a destination. */
	fedrpc_code (*outbox_head)(fedrpc_store_tx *tx, const char *destination,
	    fedrpc_store_outbox_item *out, bool *found, fedrpc_status *st);
	/* Up to `limit` (at least 1) pending items of a destination with seq
	 * above `after`, by seq; *more when others follow. */
	fedrpc_code (*outbox_pending)(fedrpc_store_tx *tx,
	    const char *destination, uint64_t after, uint32_t limit,
	    fedrpc_store_outbox_item **out, size_t *n, bool *more,
	    fedrpc_status *st);
	/* One item in any state. */
	fedrpc_code (*outbox_get)(fedrpc_store_tx *tx, const char *destination,
	    uint64_t seq, fedrpc_store_outbox_item *out, bool *found,
	    fedrpc_status *st);
	/* Removes an item, pending or moved aside. */
	fedrpc_code (*outbox_remove)(fedrpc_store_tx *tx,
	    const char *destination, uint64_t seq, bool *found,
	    fedrpc_status *st);
	/* Moves a pending item aside (a permanent refusal), so that the
	 * next one becomes the head; *found false when no such item is
	 * pending. */
	fedrpc_code (*outbox_move_aside)(fedrpc_store_tx *tx,
	    const char *destination, uint64_t seq, const char *reason,
	    int64_t moved_ms, bool *found, fedrpc_status *st);
	/* The items moved aside for a destination, by seq. */
	fedrpc_code (*outbox_list_aside)(fedrpc_store_tx *tx,
	    const char *destination, fedrpc_store_outbox_item **out, size_t *n,
	    fedrpc_status *st);
	/* Makes an item moved aside pending again, at its old place (its
	 * seq); reason and moved_ms are cleared. *found false unless it was
	 * aside. */
	fedrpc_code (*outbox_retry)(fedrpc_store_tx *tx,
	    const char *destination, uint64_t seq, bool *found,
	    fedrpc_status *st);
	/* Drops a pending or aside item: it is never delivered, its data is
	 * forgotten, and it stays as DROPPED (with the reason) so that what
	 * became of it can still be told. *found false unless it was
	 * pending or aside. */
	fedrpc_code (*outbox_drop)(fedrpc_store_tx *tx,
	    const char *destination, uint64_t seq, const char *reason,
	    int64_t dropped_ms, bool *found, fedrpc_status *st);
	/* Forgets dropped items created before `before_ms`. */
	fedrpc_code (*outbox_forget_before)(fedrpc_store_tx *tx,
	    int64_t before_ms, uint64_t *forgotten, fedrpc_status *st);
	/* Every destination with pending or aside items, by destination,
	 * with its per-destination state. */
	fedrpc_code (*outbox_queues)(fedrpc_store_tx *tx,
	    fedrpc_store_queue **out, size_t *n, fedrpc_status *st);
	/* One destination's queue (*found false: no items and no state). */
	fedrpc_code (*outbox_queue)(fedrpc_store_tx *tx,
	    const char *destination, fedrpc_store_queue *out, bool *found,
	    fedrpc_status *st);
	/*
	 * Takes or renews the lease on delivering a destination's queue: it
	 * is granted (*held true, until `until_ms`) when nobody holds it,
	 * when the holder's lease ended before `now_ms`, or when `owner`
	 * holds it already. Otherwise *held is false and *holder_until_ms
	 * (may be NULL) receives the end of the other holder's lease.
	 */
	fedrpc_code (*outbox_lease)(fedrpc_store_tx *tx,
	    const char *destination, const char *owner, int64_t now_ms,
	    int64_t until_ms, bool *held, int64_t *holder_until_ms,
	    fedrpc_status *st);
	/* Gives the lease up when `owner` holds it. */
	fedrpc_code (*outbox_release)(fedrpc_store_tx *tx,
	    const char *destination, const char *owner, fedrpc_status *st);
	/* Records the back-off after an attempt: failures in a row (0: the
	 * last attempt went through), the next attempt and the last error. */
	fedrpc_code (*outbox_backoff)(fedrpc_store_tx *tx,
	    const char *destination, uint32_t failures,
	    int64_t next_attempt_ms, const char *last_error,
	    fedrpc_status *st);

	/* ---- received request ids: recorded in the transaction of the
	 * request's effect, so that a retried request applies once ---- */

	/* DUPLICATE when (origin, id) is recorded already. `result` (may be
	 * NULL: none) is kept with it: the answer a repeat gets. */
	fedrpc_code (*request_record)(fedrpc_store_tx *tx, const char *origin,
	    const ProtobufCBinaryData *id, int64_t received_ms,
	    const ProtobufCBinaryData *result, fedrpc_status *st);
	fedrpc_code (*request_seen)(fedrpc_store_tx *tx, const char *origin,
	    const ProtobufCBinaryData *id, bool *seen, fedrpc_status *st);
	/* The result recorded with (origin, id) (empty: none). */
	fedrpc_code (*request_get)(fedrpc_store_tx *tx, const char *origin,
	    const ProtobufCBinaryData *id, ProtobufCBinaryData *result,
	    bool *found, fedrpc_status *st);
	/* Forgets the ids received before `before_ms`. */
	fedrpc_code (*request_forget_before)(fedrpc_store_tx *tx,
	    int64_t before_ms, uint64_t *forgotten, fedrpc_status *st);

	/* ---- messages sent by local users ---- */

	/* DUPLICATE when the sender has a message with this id. `*seq` (may
	 * be NULL) receives its seq. */
	fedrpc_code (*sent_insert)(fedrpc_store_tx *tx, const char *sender,
	    const ProtobufCBinaryData *message_id,
	    const fedrpc_store_qid *conversation, int64_t sent_ms,
	    const ProtobufCBinaryData *record, uint64_t *seq,
	    fedrpc_status *st);
	fedrpc_code (*sent_get)(fedrpc_store_tx *tx, const char *sender,
	    const ProtobufCBinaryData *message_id, fedrpc_store_sent *out,
	    bool *found, fedrpc_status *st);
	/* Replaces a sent message's record; *found false when none. */
	fedrpc_code (*sent_update)(fedrpc_store_tx *tx, const char *sender,
	    const ProtobufCBinaryData *message_id,
	    const ProtobufCBinaryData *record, bool *found, fedrpc_status *st);
	/* Up to `limit` (at least 1) of a sender's messages with seq below
	 * `before` (0: the newest), newest first; with `conversation` set,
	 * only those sent in it. *more when older ones follow. */
	fedrpc_code (*sent_list)(fedrpc_store_tx *tx, const char *sender,
	    const fedrpc_store_qid *conversation, uint64_t before,
	    uint32_t limit, fedrpc_store_sent **out, size_t *n, bool *more,
	    fedrpc_status *st);
	/* Forgets the messages sent before `before_ms`. */
	fedrpc_code (*sent_forget_before)(fedrpc_store_tx *tx,
	    int64_t before_ms, uint64_t *forgotten, fedrpc_status *st);
};

/*
 * How a store is opened: `config` is the store's own text (a file path for
 * SQLite, a connection string for PostgreSQL). The store creates or
 * migrates its schema.
 */
typedef fedrpc_code (*fedrpc_store_open_fn)(
    const char *config, fedrpc_store **out, fedrpc_status *st);

/* Closes a store; NULL is fine. */
void fedrpc_store_close(fedrpc_store *store);

/*
 * A transaction function: the whole of one transaction's work. It may run
 * more than once (after a CONFLICT), so it sets every output afresh on
 * each run and makes no call to another domain.
 */
typedef fedrpc_code (*fedrpc_store_fn)(
    fedrpc_store_tx *tx, void *arg, fedrpc_status *st);

/* How many times fedrpc_store_run() tries a transaction in all: enough
 * that writers of several instances racing on the same rows (two claims of
 * one client's prekeys, say) all get through, with pauses of at most
 * about a second in all. */
#define FEDRPC_STORE_ATTEMPTS 10

/*
 * Runs fn in a transaction: begin, fn, then commit when fn returned OK and
 * rollback otherwise. A CONFLICT (from begin, fn or commit) rolls back and
 * runs fn again after a short jittered pause that grows with each attempt,
 * up to FEDRPC_STORE_ATTEMPTS in all; then UNAVAILABLE. Returns fn's code
 * (or the commit's failure).
 */
fedrpc_code fedrpc_store_run(fedrpc_store *store, ProtobufCAllocator *al,
    fedrpc_store_mode mode, fedrpc_store_fn fn, void *arg,
    fedrpc_status *st);

#endif
