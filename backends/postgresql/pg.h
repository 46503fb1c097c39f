/*
 * Internals of the PostgreSQL store: the connection pool and prepared
 * statements (db.c), statement parameters (params.c), how PostgreSQL's
 * errors read as store results (errors.c), the schema (schema.c), the store
 * table with its transactions and result helpers (store.c), and the
 * operations, one concept per file (store_*.c), as in backends/sqlite/.
 *
 * An operation builds its parameters in a pg_params, runs one of its
 * statements (a string literal, prepared once per connection) with
 * pg_query or pg_cmd, and copies what it returns into tx->al. Adding an
 * operation is: its SQL and function in the store_*.c of its concept, its
 * declaration below, one line in store.c's table.
 */
#ifndef FEDRPC_BACKENDS_POSTGRESQL_PG_H
#define FEDRPC_BACKENDS_POSTGRESQL_PG_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <fedrpc/status.h>

#include "backends/reference/store.h"

typedef struct pg_db   pg_db;
typedef struct pg_conn pg_conn;

/* ---- db.c: pool, statements; params.c; errors.c ---- */

fedrpc_code pg_db_open(const char *conninfo, pg_db **out, fedrpc_status *st);
void        pg_db_close(pg_db *db);
/* Takes a connection (waiting for one; reconnecting a broken one) and
 * opens a transaction on it. */
fedrpc_code pg_db_begin(pg_db *db, bool write, pg_conn **out,
    fedrpc_status *st);
/* Commits (rc OK) or rolls back, and gives the connection back. Returns rc
 * or the commit's failure. */
fedrpc_code pg_db_end(pg_conn *c, fedrpc_code rc, fedrpc_status *st);

/* errors.c: libpq's message without its trailing newline, in buf. */
const char *pg_trim_message(const char *msg, char *buf, size_t size);

/* INVALID_ARGUMENT, naming the fault, when libpq cannot parse it. */
fedrpc_code fedrpc_store_postgresql_check_string(const char *conninfo,
    fedrpc_status *st);

#define PG_MAX_PARAMS 10

/* A statement's parameters: text, except bytea (binary). Strings and
 * bytes are borrowed until the statement ran; numbers are kept here, as
 * text, and found by index when it runs (so that the struct may be
 * copied, e.g. returned by a helper). */
typedef struct pg_params {
	int         n;
	const char *v[PG_MAX_PARAMS]; /* NULL: num[i] */
	int         len[PG_MAX_PARAMS];
	int         fmt[PG_MAX_PARAMS];
	char        num[PG_MAX_PARAMS][24];
} pg_params;

void pg_str(pg_params *p, const char *v);
void pg_i64(pg_params *p, int64_t v);
/* A uint64 as the bits of a bigint (client ids). */
void pg_u64(pg_params *p, uint64_t v);
void pg_blob(pg_params *p, const ProtobufCBinaryData *v);

/* Runs `sql` (a literal: prepared once per connection, keyed by its
 * address) in tx; a result of rows, or NULL with st set (pg_error). */
PGresult *pg_query(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    fedrpc_status *st);
/* Runs a statement that returns no rows; *changed (may be NULL) receives
 * the rows it changed. */
fedrpc_code pg_cmd(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    uint64_t *changed, fedrpc_status *st);

/*
 * A failed result as a store result: serialization failure or deadlock
 * is FEDRPC_STORE_CONFLICT, a unique key broken FEDRPC_STORE_DUPLICATE,
 * a connection lost or a server shutting down or starting UNAVAILABLE,
 * a read-only transaction writing FAILED_PRECONDITION, no space or
 * memory RESOURCE_EXHAUSTED, damaged data DATA_LOSS, the rest INTERNAL.
 */
fedrpc_code pg_error(PGconn *conn, const PGresult *r, const char *what,
    fedrpc_status *st);

/* The schema, as migrations (schema.c). */
extern const char *const pg_migrations[];
extern const int         pg_n_migrations;

/* ---- store.c: results in the transaction's allocator ---- */

void *pg_alloc(fedrpc_store_tx *tx, size_t size);
bool  pg_grow(fedrpc_store_tx *tx, void **v, size_t n, size_t *cap,
     size_t size);
int64_t  pg_get_i64(const PGresult *r, int row, int col);
uint64_t pg_get_u64(const PGresult *r, int row, int col);
/* A text value copied ("" for NULL); NULL when out of memory. */
char *pg_get_str(fedrpc_store_tx *tx, const PGresult *r, int row, int col);
/* A bytea value (text form) copied; false when out of memory. */
bool pg_get_blob(fedrpc_store_tx *tx, const PGresult *r, int row, int col,
    ProtobufCBinaryData *out);
/* A qualified id from two text columns; NULL when out of memory. */
fedrpc_store_qid *pg_get_qid(fedrpc_store_tx *tx, const PGresult *r, int row,
    int col);
fedrpc_code pg_nomem(fedrpc_status *st);
/* Clears r and returns pg_nomem. */
fedrpc_code pg_nomem_clear(PGresult *r, fedrpc_status *st);

/* ---- the operations (store_*.c), as store.h describes them ---- */

/* store_users.c */
fedrpc_code pg_user_insert(fedrpc_store_tx *tx, const char *id,
    const char *handle, const char *name, int64_t created_ms,
    fedrpc_status *st);
fedrpc_code pg_user_get(fedrpc_store_tx *tx, const char *id,
    fedrpc_store_user *out, bool *found, fedrpc_status *st);
fedrpc_code pg_user_get_by_handle(fedrpc_store_tx *tx, const char *handle,
    fedrpc_store_user *out, bool *found, fedrpc_status *st);
fedrpc_code pg_user_search(fedrpc_store_tx *tx, const char *term,
    size_t limit, fedrpc_store_user **out, size_t *n, fedrpc_status *st);
fedrpc_code pg_user_mark_deleted(fedrpc_store_tx *tx, const char *id,
    fedrpc_status *st);

/* store_clients.c */
fedrpc_code pg_client_insert(fedrpc_store_tx *tx, const char *user,
    uint64_t client, int client_class, int64_t created_ms,
    fedrpc_status *st);
fedrpc_code pg_client_exists(fedrpc_store_tx *tx, const char *user,
    uint64_t client, bool *exists, fedrpc_status *st);
fedrpc_code pg_client_list(fedrpc_store_tx *tx, const char *user,
    fedrpc_store_client **out, size_t *n, fedrpc_status *st);
fedrpc_code pg_client_delete(fedrpc_store_tx *tx, const char *user,
    uint64_t client, bool *found, fedrpc_status *st);
fedrpc_code pg_client_delete_all(fedrpc_store_tx *tx, const char *user,
    fedrpc_status *st);

/* store_prekeys.c */
fedrpc_code pg_prekey_insert(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint32_t id, const ProtobufCBinaryData *key,
    fedrpc_status *st);
fedrpc_code pg_prekey_claim(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint32_t keep_id, fedrpc_store_prekey *out,
    bool *found, fedrpc_status *st);
fedrpc_code pg_prekey_count(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint32_t except_id, uint32_t *out, fedrpc_status *st);

/* store_connections.c */
fedrpc_code pg_connection_get(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, int *relation, bool *found,
    fedrpc_status *st);
fedrpc_code pg_connection_put(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, int relation, int64_t updated_ms,
    fedrpc_status *st);
fedrpc_code pg_connection_delete(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, fedrpc_status *st);
fedrpc_code pg_connection_list_from(fedrpc_store_tx *tx, const char *from,
    fedrpc_store_side **out, size_t *n, fedrpc_status *st);
fedrpc_code pg_connection_list_towards(fedrpc_store_tx *tx,
    const fedrpc_store_qid *to, fedrpc_store_side **out, size_t *n,
    fedrpc_status *st);
fedrpc_code pg_connection_delete_from(fedrpc_store_tx *tx, const char *from,
    fedrpc_status *st);
fedrpc_code pg_connection_delete_towards(fedrpc_store_tx *tx,
    const fedrpc_store_qid *to, fedrpc_status *st);

/* store_inbox.c */
fedrpc_code pg_inbox_append_user(fedrpc_store_tx *tx, const char *user,
    const ProtobufCBinaryData *event, fedrpc_status *st);
fedrpc_code pg_inbox_append_client(fedrpc_store_tx *tx, const char *user,
    uint64_t client, const ProtobufCBinaryData *event, bool *appended,
    fedrpc_status *st);
fedrpc_code pg_inbox_append_clients(fedrpc_store_tx *tx,
    const fedrpc_store_inbox_entry *entries, size_t n, bool *appended,
    fedrpc_status *st);
fedrpc_code pg_inbox_fetch(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint64_t after, uint32_t limit,
    fedrpc_store_event **out, size_t *n, bool *more, fedrpc_status *st);
fedrpc_code pg_inbox_ack(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint64_t up_to, uint64_t *deleted, fedrpc_status *st);

/* store_conversations.c */
fedrpc_code pg_conversation_put(fedrpc_store_tx *tx,
    const fedrpc_store_conversation *conv, fedrpc_status *st);
fedrpc_code pg_conversation_get(fedrpc_store_tx *tx,
    const fedrpc_store_qid *id, fedrpc_store_conversation **out,
    bool *found, fedrpc_status *st);
fedrpc_code pg_conversation_delete(fedrpc_store_tx *tx,
    const fedrpc_store_qid *id, fedrpc_status *st);
fedrpc_code pg_conversation_bump(fedrpc_store_tx *tx,
    const fedrpc_store_qid *id, uint64_t *version, fedrpc_status *st);
fedrpc_code pg_conversation_rename(fedrpc_store_tx *tx,
    const fedrpc_store_qid *id, const char *name, fedrpc_status *st);
fedrpc_code pg_conversation_list_of_user(fedrpc_store_tx *tx,
    const fedrpc_store_qid *user, fedrpc_store_qid ***out, size_t *n,
    fedrpc_status *st);
fedrpc_code pg_conversation_has_member_of(fedrpc_store_tx *tx,
    const fedrpc_store_qid *conv, const char *domain, bool *any,
    fedrpc_status *st);

/* store_members.c */
fedrpc_code pg_member_put(fedrpc_store_tx *tx, const fedrpc_store_qid *conv,
    const fedrpc_store_qid *user, int role, fedrpc_status *st);
fedrpc_code pg_member_remove(fedrpc_store_tx *tx,
    const fedrpc_store_qid *conv, const fedrpc_store_qid *user,
    fedrpc_status *st);
fedrpc_code pg_member_remove_all(fedrpc_store_tx *tx,
    const fedrpc_store_qid *conv, fedrpc_status *st);
fedrpc_code pg_member_list(fedrpc_store_tx *tx,
    fedrpc_store_conversation *conv, fedrpc_status *st);

/* store_outbox.c */
fedrpc_code pg_outbox_append(fedrpc_store_tx *tx, const char *destination,
    const ProtobufCBinaryData *item, int64_t created_ms, uint64_t *seq,
    fedrpc_status *st);
fedrpc_code pg_outbox_destinations(fedrpc_store_tx *tx, char ***out,
    size_t *n, fedrpc_status *st);
fedrpc_code pg_outbox_head(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_outbox_item *out, bool *found, fedrpc_status *st);
fedrpc_code pg_outbox_remove(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, bool *found, fedrpc_status *st);
fedrpc_code pg_outbox_move_aside(fedrpc_store_tx *tx,
    const char *destination, uint64_t seq, const char *reason,
    int64_t moved_ms, bool *found, fedrpc_status *st);
fedrpc_code pg_outbox_list_aside(fedrpc_store_tx *tx,
    const char *destination, fedrpc_store_outbox_item **out, size_t *n,
    fedrpc_status *st);
fedrpc_code pg_outbox_pending(fedrpc_store_tx *tx, const char *destination,
    uint64_t after, uint32_t limit, fedrpc_store_outbox_item **out,
    size_t *n, bool *more, fedrpc_status *st);
fedrpc_code pg_outbox_get(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, fedrpc_store_outbox_item *out, bool *found,
    fedrpc_status *st);
fedrpc_code pg_outbox_retry(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, bool *found, fedrpc_status *st);
fedrpc_code pg_outbox_drop(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, const char *reason, int64_t dropped_ms, bool *found,
    fedrpc_status *st);
fedrpc_code pg_outbox_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st);

/* store_queues.c */
fedrpc_code pg_outbox_queues(fedrpc_store_tx *tx, fedrpc_store_queue **out,
    size_t *n, fedrpc_status *st);
fedrpc_code pg_outbox_queue(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_queue *out, bool *found, fedrpc_status *st);
fedrpc_code pg_outbox_lease(fedrpc_store_tx *tx, const char *destination,
    const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
    int64_t *holder_until_ms, fedrpc_status *st);
fedrpc_code pg_outbox_release(fedrpc_store_tx *tx, const char *destination,
    const char *owner, fedrpc_status *st);
fedrpc_code pg_outbox_backoff(fedrpc_store_tx *tx, const char *destination,
    uint32_t failures, int64_t next_attempt_ms, const char *last_error,
    fedrpc_status *st);

/* store_requests.c */
fedrpc_code pg_request_record(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, int64_t received_ms,
    const ProtobufCBinaryData *result, fedrpc_status *st);
fedrpc_code pg_request_get(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, ProtobufCBinaryData *result, bool *found,
    fedrpc_status *st);
fedrpc_code pg_request_seen(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, bool *seen, fedrpc_status *st);
fedrpc_code pg_request_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st);

/* store_sent.c */
fedrpc_code pg_sent_insert(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id,
    const fedrpc_store_qid *conversation, int64_t sent_ms,
    const ProtobufCBinaryData *record, uint64_t *seq, fedrpc_status *st);
fedrpc_code pg_sent_get(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id, fedrpc_store_sent *out,
    bool *found, fedrpc_status *st);
fedrpc_code pg_sent_update(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id, const ProtobufCBinaryData *record,
    bool *found, fedrpc_status *st);
fedrpc_code pg_sent_list(fedrpc_store_tx *tx, const char *sender,
    const fedrpc_store_qid *conversation, uint64_t before, uint32_t limit,
    fedrpc_store_sent **out, size_t *n, bool *more, fedrpc_status *st);
fedrpc_code pg_sent_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st);

#endif
