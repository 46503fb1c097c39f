/*
 * The PostgreSQL store's table (store.h): opening and closing,
 * transactions on pooled connections (db.c), and the helpers its
 * operations share to return results in the transaction's allocator.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/reference/store_text.h"
#include "backends/postgresql/pg.h"
#include "backends/postgresql/postgresql_store.h"

static const fedrpc_store_ops postgresql_ops;

void *
pg_alloc(fedrpc_store_tx *tx, size_t size)
{
	return fedrpc_store_alloc(tx, size);
}

bool
pg_grow(fedrpc_store_tx *tx, void **v, size_t n, size_t *cap, size_t size)
{
	void  *nv;
	size_t ncap;

	if (n < *cap)
		return true;
	ncap = *cap ? 2 * *cap : 16;
	if ((nv = pg_alloc(tx, ncap * size)) == NULL)
		return false;
	if (n > 0)
		memcpy(nv, *v, n * size);
	*v   = nv;
	*cap = ncap;
	return true;
}

int64_t
pg_get_i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col)
	    ? 0
	    : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

uint64_t
pg_get_u64(const PGresult *r, int row, int col)
{
	return (uint64_t) pg_get_i64(r, row, col);
}

char *
pg_get_str(fedrpc_store_tx *tx, const PGresult *r, int row, int col)
{
	const char *v   = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
	size_t      len = strlen(v);
	char       *p   = pg_alloc(tx, len + 1);

	if (p != NULL && len > 0)
		memcpy(p, v, len);
	return p;
}

bool
pg_get_blob(fedrpc_store_tx *tx, const PGresult *r, int row, int col,
    ProtobufCBinaryData *out)
{
	unsigned char *raw;
	size_t         len = 0;

	out->len  = 0;
	out->data = NULL;
	if (PQgetisnull(r, row, col))
		return (out->data = pg_alloc(tx, 1)) != NULL;
	raw = PQunescapeBytea(
	    (const unsigned char *) PQgetvalue(r, row, col), &len);
	if (raw == NULL)
		return false;
	out->data = pg_alloc(tx, len);
	if (out->data != NULL && len > 0)
		memcpy(out->data, raw, len);
	out->len = out->data != NULL ? len : 0;
	PQfreemem(raw);
	return out->data != NULL;
}

fedrpc_store_qid *
pg_get_qid(fedrpc_store_tx *tx, const PGresult *r, int row, int col)
{
	fedrpc_store_qid *q = pg_alloc(tx, sizeof(*q));

	if (q == NULL)
		return NULL;
	fedrpc__federation__v1__qualified_id__init(q);
	q->domain = pg_get_str(tx, r, row, col);
	q->id     = pg_get_str(tx, r, row, col + 1);
	return q->domain != NULL && q->id != NULL ? q : NULL;
}

fedrpc_code
pg_nomem(fedrpc_status *st)
{
	return fedrpc_status_set(
	    st, FEDRPC_RESOURCE_EXHAUSTED, "postgresql store: out of memory");
}

fedrpc_code
pg_nomem_clear(PGresult *r, fedrpc_status *st)
{
	PQclear(r);
	return pg_nomem(st);
}

static fedrpc_code
postgresql_begin(fedrpc_store *store, fedrpc_store_mode mode,
    fedrpc_store_tx *tx, fedrpc_status *st)
{
	pg_conn    *c;
	fedrpc_code rc;

	rc = pg_db_begin(store->impl, mode == FEDRPC_STORE_READ_WRITE, &c, st);
	if (rc != FEDRPC_OK)
		return rc;
	tx->ops  = &postgresql_ops;
	tx->mode = mode;
	tx->impl = c;
	return FEDRPC_OK;
}

static fedrpc_code
postgresql_commit(fedrpc_store_tx *tx, fedrpc_status *st)
{
	fedrpc_code rc = pg_db_end(tx->impl, FEDRPC_OK, st);

	tx->impl = NULL;
	return rc;
}

static void
postgresql_rollback(fedrpc_store_tx *tx)
{
	fedrpc_status ignored = {0};

	pg_db_end(tx->impl, FEDRPC_CANCELLED, &ignored);
	tx->impl = NULL;
}

static void
postgresql_close(fedrpc_store *store)
{
	pg_db_close(store->impl);
	free(store);
}

fedrpc_code
fedrpc_store_postgresql_open(const char *conninfo, fedrpc_store **out,
    fedrpc_status *st)
{
	fedrpc_store *store;
	pg_db        *db;

	*out = NULL;
	if ((store = calloc(1, sizeof(*store))) == NULL)
		return pg_nomem(st);
	if (pg_db_open(conninfo, &db, st) != FEDRPC_OK) {
		free(store);
		return st->code;
	}
	store->ops  = &postgresql_ops;
	store->impl = db;
	*out        = store;
	return FEDRPC_OK;
}

static const fedrpc_store_ops postgresql_ops = {
	.name     = "postgresql",
	.close    = postgresql_close,
	.begin    = postgresql_begin,
	.commit   = postgresql_commit,
	.rollback = postgresql_rollback,

	.user_insert        = pg_user_insert,
	.user_get           = pg_user_get,
	.user_get_by_handle = pg_user_get_by_handle,
	.user_search        = pg_user_search,
	.user_mark_deleted  = pg_user_mark_deleted,

	.client_insert     = pg_client_insert,
	.client_exists     = pg_client_exists,
	.client_list       = pg_client_list,
	.client_delete     = pg_client_delete,
	.client_delete_all = pg_client_delete_all,

	.prekey_insert = pg_prekey_insert,
	.prekey_claim  = pg_prekey_claim,
	.prekey_count  = pg_prekey_count,

	.connection_get            = pg_connection_get,
	.connection_put            = pg_connection_put,
	.connection_delete         = pg_connection_delete,
	.connection_list_from      = pg_connection_list_from,
	.connection_list_towards   = pg_connection_list_towards,
	.connection_delete_from    = pg_connection_delete_from,
	.connection_delete_towards = pg_connection_delete_towards,

	.inbox_append_user    = pg_inbox_append_user,
	.inbox_append_client  = pg_inbox_append_client,
	.inbox_append_clients = pg_inbox_append_clients,
	.inbox_fetch          = pg_inbox_fetch,
	.inbox_ack            = pg_inbox_ack,

	.conversation_put           = pg_conversation_put,
	.conversation_bump          = pg_conversation_bump,
	.conversation_get           = pg_conversation_get,
	.conversation_delete        = pg_conversation_delete,
	.conversation_rename        = pg_conversation_rename,
	.conversation_list_of_user  = pg_conversation_list_of_user,
	.conversation_has_member_of = pg_conversation_has_member_of,
	.member_put                 = pg_member_put,
	.member_remove              = pg_member_remove,

	.outbox_append       = pg_outbox_append,
	.outbox_destinations = pg_outbox_destinations,
	.outbox_head         = pg_outbox_head,
	.outbox_remove       = pg_outbox_remove,
	.outbox_move_aside   = pg_outbox_move_aside,
	.outbox_list_aside   = pg_outbox_list_aside,
	.outbox_pending      = pg_outbox_pending,
	.outbox_get          = pg_outbox_get,
	.outbox_retry        = pg_outbox_retry,
	.outbox_drop         = pg_outbox_drop,
	.outbox_forget_before = pg_outbox_forget_before,
	.outbox_queues       = pg_outbox_queues,
	.outbox_queue        = pg_outbox_queue,
	.outbox_lease        = pg_outbox_lease,
	.outbox_release      = pg_outbox_release,
	.outbox_backoff      = pg_outbox_backoff,

	.request_record        = pg_request_record,
	.request_seen          = pg_request_seen,
	.request_get           = pg_request_get,
	.request_forget_before = pg_request_forget_before,

	.sent_insert        = pg_sent_insert,
	.sent_get           = pg_sent_get,
	.sent_update        = pg_sent_update,
	.sent_list          = pg_sent_list,
	.sent_forget_before = pg_sent_forget_before,
};
