/*
 * Prekeys in SQLite. Claiming takes the lowest id and deletes it in the same
 * write transaction, so that two claims never get the same key; a key whose
 * id the caller names as kept (the last-resort one) stays. Counting tells
 * a client when to upload more.
 */
#include "backends/sqlite/sq.h"

static const char SQL_INSERT[] =
    "INSERT INTO prekeys (user_id, client, id, key) VALUES (?, ?, ?, ?)";
static const char SQL_PICK[] =
    "SELECT id, key FROM prekeys WHERE user_id = ? AND client = ? "
    "ORDER BY id LIMIT 1";
static const char SQL_COUNT[] =
    "SELECT COUNT(*) FROM prekeys WHERE user_id = ? AND client = ? "
    "AND id != ?";
static const char SQL_DELETE[] =
    "DELETE FROM prekeys WHERE user_id = ? AND client = ? AND id = ?";

fedrpc_code
sq_prekey_insert(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint32_t id, const ProtobufCBinaryData *key, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_INSERT, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int64(s, 3, id);
	sq_bind_blob(s, 4, key);
	return sq_run(c, s, st);
}

/* The lowest prekey of a client into out. */
static fedrpc_code
pick(fedrpc_store_tx *tx, const char *user, uint64_t client,
    fedrpc_store_prekey *out, bool *found, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_PICK, st);
	int           rc;

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW) {
		out->id = (uint32_t) sqlite3_column_int64(s, 0);
		if (!sq_col_blob(tx, s, 1, &out->key)) {
			sqlite3_reset(s);
			return sq_nomem(st);
		}
		*found = true;
	}
	sqlite3_reset(s);
	return FEDRPC_OK;
}

fedrpc_code
sq_prekey_claim(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint32_t keep_id, fedrpc_store_prekey *out, bool *found,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s;

	*found = false;
	if (pick(tx, user, client, out, found, st) != FEDRPC_OK)
		return st->code;
	if (!*found || out->id == keep_id)
		return FEDRPC_OK;
	if ((s = sq_stmt(c, SQL_DELETE, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int64(s, 3, out->id);
	return sq_run(c, s, st);
}

fedrpc_code
sq_prekey_count(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint32_t except_id, uint32_t *out, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_COUNT, st);
	int           rc;

	*out = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int64(s, 3, except_id);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW)
		*out = (uint32_t) sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return FEDRPC_OK;
}
