/*
 * Received request ids in SQLite: (origin, id) is the primary key, so that
 * recording one twice breaks it (FEDRPC_STORE_DUPLICATE) and a retried
 * request is recognised, with the answer it was given; old ids are
 * forgotten by the time they arrived.
 */
#include "backends/sqlite/sq.h"

static const char SQL_RECORD[] =
    "INSERT INTO received_requests (origin, id, received_ms, result) "
    "VALUES (?, ?, ?, ?)";
static const char SQL_SEEN[] =
    "SELECT 1 FROM received_requests WHERE origin = ? AND id = ?";
static const char SQL_GET[] =
    "SELECT result FROM received_requests WHERE origin = ? AND id = ?";
static const char SQL_FORGET[] =
    "DELETE FROM received_requests WHERE received_ms < ?";

fedrpc_code
sq_request_record(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, int64_t received_ms,
    const ProtobufCBinaryData *result, fedrpc_status *st)
{
	sq_conn            *c    = sq_tx_conn(tx);
	sqlite3_stmt       *s    = sq_stmt(c, SQL_RECORD, st);
	ProtobufCBinaryData none = {0, NULL};

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, origin);
	sq_bind_blob(s, 2, id);
	sqlite3_bind_int64(s, 3, received_ms);
	sq_bind_blob(s, 4, result != NULL ? result : &none);
	return sq_run(c, s, st);
}

fedrpc_code
sq_request_get(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, ProtobufCBinaryData *result, bool *found,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_GET, st);
	int           rc;
	bool          ok = true;

	*found       = false;
	result->len  = 0;
	result->data = NULL;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, origin);
	sq_bind_blob(s, 2, id);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW) {
		*found = true;
		ok     = sq_col_blob(tx, s, 0, result);
	}
	sqlite3_reset(s);
	return ok ? FEDRPC_OK : sq_nomem(st);
}

fedrpc_code
sq_request_seen(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, bool *seen, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_SEEN, st);
	int           rc;

	*seen = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, origin);
	sq_bind_blob(s, 2, id);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	sqlite3_reset(s);
	*seen = rc == SQLITE_ROW;
	return FEDRPC_OK;
}

fedrpc_code
sq_request_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_FORGET, st);

	*forgotten = 0;
	if (s == NULL)
		return st->code;
	sqlite3_bind_int64(s, 1, before_ms);
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	*forgotten = (uint64_t) sq_changes(c);
	return FEDRPC_OK;
}
