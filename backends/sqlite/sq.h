/*
 * Internals of the SQLite store: the connection pool, statement cache and
 * error mapping (db.c), the schema (schema.c), the store table with its
 * transactions (store.c) and the operations, one concept per file
 * (store_*.c). Every operation runs on the pooled connection of the
 * transaction it is given and allocates what it returns from tx->al.
 */
#ifndef FEDRPC_BACKENDS_SQLITE_SQ_H
#define FEDRPC_BACKENDS_SQLITE_SQ_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include <fedrpc/status.h>

#include "backends/reference/store.h"

typedef struct sq_db   sq_db;
typedef struct sq_conn sq_conn;

/* ---- db.c: pool, statements, errors ---- */

/* Opens (creating and migrating) the database; ":memory:" works. */
fedrpc_code sq_db_open(const char *path, sq_db **out, fedrpc_status *st);
void        sq_db_close(sq_db *db);
/* Takes a connection from the pool (waiting for one) and opens a
 * transaction on it; a read-only one refuses statements that write. */
fedrpc_code sq_db_begin(sq_db *db, bool write, sq_conn **out,
    fedrpc_status *st);
/* Commits (rc OK) or rolls back, and gives the connection back. Returns rc
 * or the commit's failure. */
fedrpc_code sq_db_end(sq_conn *c, fedrpc_code rc, fedrpc_status *st);

/* A cached prepared statement for `sql` (a string literal), reset. */
sqlite3_stmt *sq_stmt(sq_conn *c, const char *sql, fedrpc_status *st);
/* SQLITE_ROW, SQLITE_DONE, or -1 with st set (see sq_error). */
int sq_step(sq_conn *c, sqlite3_stmt *s, fedrpc_status *st);
/* Steps to SQLITE_DONE and resets. */
fedrpc_code sq_run(sq_conn *c, sqlite3_stmt *s, fedrpc_status *st);
/* Rows changed by the last statement. */
int sq_changes(sq_conn *c);
/* The rowid the last INSERT gave. */
int64_t sq_last_rowid(sq_conn *c);
/*
 * A SQLite result code as a store result: busy or locked is
 * FEDRPC_STORE_CONFLICT, a unique or primary key broken is
 * FEDRPC_STORE_DUPLICATE, full or out of memory RESOURCE_EXHAUSTED, a
 * damaged file DATA_LOSS, the rest INTERNAL.
 */
fedrpc_code sq_error(sqlite3 *db, int rc, const char *what,
    fedrpc_status *st);

/* Binds (statements keep no copy: values outlive the step). */
void sq_bind_str(sqlite3_stmt *s, int i, const char *v);
void sq_bind_u64(sqlite3_stmt *s, int i, uint64_t v);
void sq_bind_blob(sqlite3_stmt *s, int i, const ProtobufCBinaryData *v);
uint64_t sq_col_u64(sqlite3_stmt *s, int col);

/* The schema, as a list of migrations (schema.c). */
extern const char *const sq_migrations[];
extern const int         sq_n_migrations;

/* ---- store.c: results in the transaction's allocator ---- */

/* The connection of a transaction. */
sq_conn *sq_tx_conn(fedrpc_store_tx *tx);
/* Zeroed memory from tx->al; NULL when out of memory. */
void *sq_alloc(fedrpc_store_tx *tx, size_t size);
/* Makes room for one more of n elements of `size` in *v (capacity *cap);
 * false when out of memory. */
bool sq_grow(fedrpc_store_tx *tx, void **v, size_t n, size_t *cap,
    size_t size);
/* Fills `elem` from the current row of s; false when out of memory. */
typedef bool (*sq_row_fn)(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem);
/*
 * The rows of a bound statement, each made by row() into an element of
 * `size` bytes of one array in tx's allocator: *out (NULL for none) and
 * *n. With max > 0 at most max rows, and *more says whether another
 * followed (more may be NULL when max is 0). Resets s.
 */
fedrpc_code sq_rows(fedrpc_store_tx *tx, sqlite3_stmt *s, size_t size,
    sq_row_fn row, size_t max, void **out, size_t *n, bool *more,
    fedrpc_status *st);
/* The first row of a bound statement into elem by row(); *found says
 * whether there was one. Resets s. */
fedrpc_code sq_row1(fedrpc_store_tx *tx, sqlite3_stmt *s, sq_row_fn row,
    void *elem, bool *found, fedrpc_status *st);
/* sq_run; *changed says whether the statement changed a row. */
fedrpc_code sq_run_changed(sq_conn *c, sqlite3_stmt *s, bool *changed,
    fedrpc_status *st);
/* A text column copied ("" for NULL); NULL when out of memory. */
char *sq_col_str(fedrpc_store_tx *tx, sqlite3_stmt *s, int col);
/* A blob column copied; false when out of memory. */
bool sq_col_blob(fedrpc_store_tx *tx, sqlite3_stmt *s, int col,
    ProtobufCBinaryData *out);
/* A qualified id from two text columns; NULL when out of memory. */
fedrpc_store_qid *sq_col_qid(fedrpc_store_tx *tx, sqlite3_stmt *s, int col);
fedrpc_code sq_nomem(fedrpc_status *st);

/* ---- the operations (store_*.c), as store.h describes them ---- */

/* store_users.c */
fedrpc_code sq_user_insert(fedrpc_store_tx *tx, const char *id,
    const char *handle, const char *name, int64_t created_ms,
    fedrpc_status *st);
fedrpc_code sq_user_get(fedrpc_store_tx *tx, const char *id,
    fedrpc_store_user *out, bool *found, fedrpc_status *st);
fedrpc_code sq_user_get_by_handle(fedrpc_store_tx *tx, const char *handle,
    fedrpc_store_user *out, bool *found, fedrpc_status *st);
fedrpc_code sq_user_search(fedrpc_store_tx *tx, const char *term,
    size_t limit, fedrpc_store_user **out, size_t *n, fedrpc_status *st);
fedrpc_code sq_user_mark_deleted(fedrpc_store_tx *tx, const char *id,
    fedrpc_status *st);

/* store_clients.c */
fedrpc_code sq_client_insert(fedrpc_store_tx *tx, const char *user,
    uint64_t client, int client_class, int64_t created_ms,
    fedrpc_status *st);
fedrpc_code sq_client_exists(fedrpc_store_tx *tx, const char *user,
    uint64_t client, bool *exists, fedrpc_status *st);
fedrpc_code sq_client_list(fedrpc_store_tx *tx, const char *user,
    fedrpc_store_client **out, size_t *n, fedrpc_status *st);
fedrpc_code sq_client_delete(fedrpc_store_tx *tx, const char *user,
    uint64_t client, bool *found, fedrpc_status *st);
fedrpc_code sq_client_delete_all(fedrpc_store_tx *tx, const char *user,
    fedrpc_status *st);

/* store_prekeys.c */
fedrpc_code sq_prekey_insert(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint32_t id, const ProtobufCBinaryData *key,
    fedrpc_status *st);
fedrpc_code sq_prekey_claim(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint32_t keep_id, fedrpc_store_prekey *out,
    bool *found, fedrpc_status *st);
fedrpc_code sq_prekey_count(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint32_t except_id, uint32_t *out, fedrpc_status *st);

/* store_connections.c */
fedrpc_code sq_connection_get(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, int *relation, bool *found,
    fedrpc_status *st);
fedrpc_code sq_connection_put(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, int relation, int64_t updated_ms,
    fedrpc_status *st);
fedrpc_code sq_connection_delete(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, fedrpc_status *st);
fedrpc_code sq_connection_list_from(fedrpc_store_tx *tx, const char *from,
    fedrpc_store_side **out, size_t *n, fedrpc_status *st);
fedrpc_code sq_connection_list_towards(fedrpc_store_tx *tx,
    const fedrpc_store_qid *to, fedrpc_store_side **out, size_t *n,
    fedrpc_status *st);
fedrpc_code sq_connection_delete_from(fedrpc_store_tx *tx, const char *from,
    fedrpc_status *st);
fedrpc_code sq_connection_delete_towards(fedrpc_store_tx *tx,
    const fedrpc_store_qid *to, fedrpc_status *st);

/* store_inbox.c */
fedrpc_code sq_inbox_append_user(fedrpc_store_tx *tx, const char *user,
    const ProtobufCBinaryData *event, fedrpc_status *st);
fedrpc_code sq_inbox_append_client(fedrpc_store_tx *tx, const char *user,
    uint64_t client, const ProtobufCBinaryData *event, bool *appended,
    fedrpc_status *st);
fedrpc_code sq_inbox_append_clients(fedrpc_store_tx *tx,
    const fedrpc_store_inbox_entry *entries, size_t n, bool *appended,
    fedrpc_status *st);
fedrpc_code sq_inbox_fetch(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint64_t after, uint32_t limit,
    fedrpc_store_event **out, size_t *n, bool *more, fedrpc_status *st);
fedrpc_code sq_inbox_ack(fedrpc_store_tx *tx, const char *user,
    uint64_t client, uint64_t up_to, uint64_t *deleted, fedrpc_status *st);

/* store_conversations.c */
fedrpc_code sq_conversation_put(fedrpc_store_tx *tx,
    const fedrpc_store_conversation *conv, fedrpc_status *st);
fedrpc_code sq_conversation_get(fedrpc_store_tx *tx,
    const fedrpc_store_qid *id, fedrpc_store_conversation **out,
    bool *found, fedrpc_status *st);
fedrpc_code sq_conversation_delete(fedrpc_store_tx *tx,
    const fedrpc_store_qid *id, fedrpc_status *st);
fedrpc_code sq_conversation_bump(fedrpc_store_tx *tx,
    const fedrpc_store_qid *id, uint64_t *version, fedrpc_status *st);
fedrpc_code sq_conversation_rename(fedrpc_store_tx *tx,
    const fedrpc_store_qid *id, const char *name, fedrpc_status *st);
fedrpc_code sq_conversation_list_of_user(fedrpc_store_tx *tx,
    const fedrpc_store_qid *user, fedrpc_store_qid ***out, size_t *n,
    fedrpc_status *st);
fedrpc_code sq_conversation_has_member_of(fedrpc_store_tx *tx,
    const fedrpc_store_qid *conv, const char *domain, bool *any,
    fedrpc_status *st);

/* store_members.c */
fedrpc_code sq_member_put(fedrpc_store_tx *tx, const fedrpc_store_qid *conv,
    const fedrpc_store_qid *user, int role, fedrpc_status *st);
fedrpc_code sq_member_remove(fedrpc_store_tx *tx,
    const fedrpc_store_qid *conv, const fedrpc_store_qid *user,
    fedrpc_status *st);
/* Deletes every member row of a conversation. */
fedrpc_code sq_member_remove_all(fedrpc_store_tx *tx,
    const fedrpc_store_qid *conv, fedrpc_status *st);
/* The members, by (domain, id), into conv->members. */
fedrpc_code sq_member_list(fedrpc_store_tx *tx,
    fedrpc_store_conversation *conv, fedrpc_status *st);

/* store_outbox.c */
fedrpc_code sq_outbox_append(fedrpc_store_tx *tx, const char *destination,
    const ProtobufCBinaryData *item, int64_t created_ms, uint64_t *seq,
    fedrpc_status *st);
fedrpc_code sq_outbox_destinations(fedrpc_store_tx *tx, char ***out,
    size_t *n, fedrpc_status *st);
fedrpc_code sq_outbox_head(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_outbox_item *out, bool *found, fedrpc_status *st);
fedrpc_code sq_outbox_remove(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, bool *found, fedrpc_status *st);
fedrpc_code sq_outbox_move_aside(fedrpc_store_tx *tx,
    const char *destination, uint64_t seq, const char *reason,
    int64_t moved_ms, bool *found, fedrpc_status *st);
fedrpc_code sq_outbox_list_aside(fedrpc_store_tx *tx,
    const char *destination, fedrpc_store_outbox_item **out, size_t *n,
    fedrpc_status *st);
fedrpc_code sq_outbox_pending(fedrpc_store_tx *tx, const char *destination,
    uint64_t after, uint32_t limit, fedrpc_store_outbox_item **out,
    size_t *n, bool *more, fedrpc_status *st);
fedrpc_code sq_outbox_get(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, fedrpc_store_outbox_item *out, bool *found,
    fedrpc_status *st);
fedrpc_code sq_outbox_retry(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, bool *found, fedrpc_status *st);
fedrpc_code sq_outbox_drop(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, const char *reason, int64_t dropped_ms, bool *found,
    fedrpc_status *st);
fedrpc_code sq_outbox_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st);

/* store_queues.c */
fedrpc_code sq_outbox_queues(fedrpc_store_tx *tx, fedrpc_store_queue **out,
    size_t *n, fedrpc_status *st);
fedrpc_code sq_outbox_queue(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_queue *out, bool *found, fedrpc_status *st);
fedrpc_code sq_outbox_lease(fedrpc_store_tx *tx, const char *destination,
    const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
    int64_t *holder_until_ms, fedrpc_status *st);
fedrpc_code sq_outbox_release(fedrpc_store_tx *tx, const char *destination,
    const char *owner, fedrpc_status *st);
fedrpc_code sq_outbox_backoff(fedrpc_store_tx *tx, const char *destination,
    uint32_t failures, int64_t next_attempt_ms, const char *last_error,
    fedrpc_status *st);

/* store_requests.c */
fedrpc_code sq_request_record(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, int64_t received_ms,
    const ProtobufCBinaryData *result, fedrpc_status *st);
fedrpc_code sq_request_get(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, ProtobufCBinaryData *result, bool *found,
    fedrpc_status *st);
fedrpc_code sq_request_seen(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, bool *seen, fedrpc_status *st);
fedrpc_code sq_request_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st);

/* store_sent.c */
fedrpc_code sq_sent_insert(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id,
    const fedrpc_store_qid *conversation, int64_t sent_ms,
    const ProtobufCBinaryData *record, uint64_t *seq, fedrpc_status *st);
fedrpc_code sq_sent_get(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id, fedrpc_store_sent *out,
    bool *found, fedrpc_status *st);
fedrpc_code sq_sent_update(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id, const ProtobufCBinaryData *record,
    bool *found, fedrpc_status *st);
fedrpc_code sq_sent_list(fedrpc_store_tx *tx, const char *sender,
    const fedrpc_store_qid *conversation, uint64_t before, uint32_t limit,
    fedrpc_store_sent **out, size_t *n, bool *more, fedrpc_status *st);
fedrpc_code sq_sent_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st);

#endif
