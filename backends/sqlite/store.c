/*
 * The SQLite store's table (store.h): opening and closing, transactions on
 * pooled connections, and the helpers its operations share to return
 * results in the transaction's allocator.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/reference/store_text.h"
#include "backends/sqlite/sq.h"
#include "backends/sqlite/sqlite_store.h"

static const fedrpc_store_ops sqlite_ops;

sq_conn *
sq_tx_conn(fedrpc_store_tx *tx)
{
	return tx->impl;
}

void *
sq_alloc(fedrpc_store_tx *tx, size_t size)
{
	return fedrpc_store_alloc(tx, size);
}

bool
sq_grow(fedrpc_store_tx *tx, void **v, size_t n, size_t *cap, size_t size)
{
	void  *nv;
	size_t ncap;

	if (n < *cap)
		return true;
	ncap = *cap ? 2 * *cap : 16;
	if ((nv = sq_alloc(tx, ncap * size)) == NULL)
		return false;
	if (n > 0)
		memcpy(nv, *v, n * size);
	*v   = nv;
	*cap = ncap;
	return true;
}

fedrpc_code
sq_rows(fedrpc_store_tx *tx, sqlite3_stmt *s, size_t size, sq_row_fn row,
    size_t max, void **out, size_t *n, bool *more, fedrpc_status *st)
{
	void  *v   = NULL;
	size_t cap = 0;
	int    rc;

	*out = NULL;
	*n   = 0;
	if (more != NULL)
		*more = false;
	while ((rc = sq_step(sq_tx_conn(tx), s, st)) == SQLITE_ROW) {
		if (max > 0 && *n == max) {
			*more = true;
			break;
		}
		if (!sq_grow(tx, &v, *n, &cap, size) ||
		    !row(tx, s, (char *) v + *n * size)) {
			sqlite3_reset(s);
			return sq_nomem(st);
		}
		(*n)++;
	}
	if (rc < 0)
		return st->code;
	sqlite3_reset(s);
	*out = v;
	return FEDRPC_OK;
}

fedrpc_code
sq_row1(fedrpc_store_tx *tx, sqlite3_stmt *s, sq_row_fn row, void *elem,
    bool *found, fedrpc_status *st)
{
	int  rc;
	bool ok = true;

	*found = false;
	if ((rc = sq_step(sq_tx_conn(tx), s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW)
		ok = *found = row(tx, s, elem);
	sqlite3_reset(s);
	return ok ? FEDRPC_OK : sq_nomem(st);
}

fedrpc_code
sq_run_changed(sq_conn *c, sqlite3_stmt *s, bool *changed, fedrpc_status *st)
{
	*changed = false;
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	*changed = sq_changes(c) > 0;
	return FEDRPC_OK;
}

char *
sq_col_str(fedrpc_store_tx *tx, sqlite3_stmt *s, int col)
{
	const char *v   = (const char *) sqlite3_column_text(s, col);
	size_t      len = v != NULL ? strlen(v) : 0;
	char       *p   = sq_alloc(tx, len + 1);

	if (p != NULL && len > 0)
		memcpy(p, v, len);
	return p;
}

bool
sq_col_blob(fedrpc_store_tx *tx, sqlite3_stmt *s, int col,
    ProtobufCBinaryData *out)
{
	const void *blob = sqlite3_column_blob(s, col);
	int         len  = sqlite3_column_bytes(s, col);

	out->len  = (size_t) len;
	out->data = sq_alloc(tx, (size_t) len);
	if (out->data == NULL)
		return false;
	if (len > 0)
		memcpy(out->data, blob, (size_t) len);
	return true;
}

fedrpc_store_qid *
sq_col_qid(fedrpc_store_tx *tx, sqlite3_stmt *s, int col)
{
	fedrpc_store_qid *q = sq_alloc(tx, sizeof(*q));

	if (q == NULL)
		return NULL;
	fedrpc__federation__v1__qualified_id__init(q);
	q->domain = sq_col_str(tx, s, col);
	q->id     = sq_col_str(tx, s, col + 1);
	return q->domain != NULL && q->id != NULL ? q : NULL;
}

fedrpc_code
sq_nomem(fedrpc_status *st)
{
	return fedrpc_status_set(
	    st, FEDRPC_RESOURCE_EXHAUSTED, "sqlite store: out of memory");
}

static fedrpc_code
sqlite_begin(fedrpc_store *store, fedrpc_store_mode mode, fedrpc_store_tx *tx,
    fedrpc_status *st)
{
	sq_conn    *c;
	fedrpc_code rc;

	rc = sq_db_begin(store->impl, mode == FEDRPC_STORE_READ_WRITE, &c, st);
	if (rc != FEDRPC_OK)
		return rc;
	tx->ops  = &sqlite_ops;
	tx->mode = mode;
	tx->impl = c;
	return FEDRPC_OK;
}

static fedrpc_code
sqlite_commit(fedrpc_store_tx *tx, fedrpc_status *st)
{
	fedrpc_code rc = sq_db_end(tx->impl, FEDRPC_OK, st);

	tx->impl = NULL;
	return rc;
}

static void
sqlite_rollback(fedrpc_store_tx *tx)
{
	sq_db_end(tx->impl, FEDRPC_CANCELLED, NULL);
	tx->impl = NULL;
}

static void
sqlite_close(fedrpc_store *store)
{
	sq_db_close(store->impl);
	free(store);
}

fedrpc_code
fedrpc_store_sqlite_open(const char *path, fedrpc_store **out,
    fedrpc_status *st)
{
	fedrpc_store *store;
	sq_db        *db;

	*out = NULL;
	if ((store = calloc(1, sizeof(*store))) == NULL)
		return sq_nomem(st);
	if (sq_db_open(path, &db, st) != FEDRPC_OK) {
		free(store);
		return st->code;
	}
	store->ops  = &sqlite_ops;
	store->impl = db;
	*out       = store;
	return FEDRPC_OK;
}

static const fedrpc_store_ops sqlite_ops = {
	.name     = "sqlite",
	.close    = sqlite_close,
	.begin    = sqlite_begin,
	.commit   = sqlite_commit,
	.rollback = sqlite_rollback,

	.user_insert        = sq_user_insert,
	.user_get           = sq_user_get,
	.user_get_by_handle = sq_user_get_by_handle,
	.user_search        = sq_user_search,
	.user_mark_deleted  = sq_user_mark_deleted,

	.client_insert     = sq_client_insert,
	.client_exists     = sq_client_exists,
	.client_list       = sq_client_list,
	.client_delete     = sq_client_delete,
	.client_delete_all = sq_client_delete_all,

	.prekey_insert = sq_prekey_insert,
	.prekey_claim  = sq_prekey_claim,
	.prekey_count  = sq_prekey_count,

	.connection_get            = sq_connection_get,
	.connection_put            = sq_connection_put,
	.connection_delete         = sq_connection_delete,
	.connection_list_from      = sq_connection_list_from,
	.connection_list_towards   = sq_connection_list_towards,
	.connection_delete_from    = sq_connection_delete_from,
	.connection_delete_towards = sq_connection_delete_towards,

	.inbox_append_user    = sq_inbox_append_user,
	.inbox_append_client  = sq_inbox_append_client,
	.inbox_append_clients = sq_inbox_append_clients,
	.inbox_fetch          = sq_inbox_fetch,
	.inbox_ack            = sq_inbox_ack,

	.conversation_put           = sq_conversation_put,
	.conversation_bump          = sq_conversation_bump,
	.conversation_get           = sq_conversation_get,
	.conversation_delete        = sq_conversation_delete,
	.conversation_rename        = sq_conversation_rename,
	.conversation_list_of_user  = sq_conversation_list_of_user,
	.conversation_has_member_of = sq_conversation_has_member_of,
	.member_put                 = sq_member_put,
	.member_remove              = sq_member_remove,

	.outbox_append       = sq_outbox_append,
	.outbox_destinations = sq_outbox_destinations,
	.outbox_head         = sq_outbox_head,
	.outbox_remove       = sq_outbox_remove,
	.outbox_move_aside   = sq_outbox_move_aside,
	.outbox_list_aside   = sq_outbox_list_aside,
	.outbox_pending      = sq_outbox_pending,
	.outbox_get          = sq_outbox_get,
	.outbox_retry        = sq_outbox_retry,
	.outbox_drop         = sq_outbox_drop,
	.outbox_forget_before = sq_outbox_forget_before,
	.outbox_queues       = sq_outbox_queues,
	.outbox_queue        = sq_outbox_queue,
	.outbox_lease        = sq_outbox_lease,
	.outbox_release      = sq_outbox_release,
	.outbox_backoff      = sq_outbox_backoff,

	.request_record        = sq_request_record,
	.request_seen          = sq_request_seen,
	.request_get           = sq_request_get,
	.request_forget_before = sq_request_forget_before,

	.sent_insert        = sq_sent_insert,
	.sent_get           = sq_sent_get,
	.sent_update        = sq_sent_update,
	.sent_list          = sq_sent_list,
	.sent_forget_before = sq_sent_forget_before,
};
