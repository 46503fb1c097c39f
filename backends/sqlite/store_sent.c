/*
 * Messages local users sent, in SQLite: (sender, message id) is unique, so
 * that a send retried with the same id is recognised; rows are listed
 * newest first by their AUTOINCREMENT seq and forgotten by age.
 */
#include "backends/sqlite/sq.h"

#define COLUMNS "seq, sender, message_id, conv_domain, conv_id, sent_ms, record "
static const char SQL_INSERT[] =
    "INSERT INTO sent_messages (sender, message_id, conv_domain, conv_id, "
    "sent_ms, record) VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_GET[] =
    "SELECT " COLUMNS "FROM sent_messages WHERE sender = ? AND message_id = ?";
static const char SQL_UPDATE[] =
    "UPDATE sent_messages SET record = ? WHERE sender = ? AND message_id = ?";
static const char SQL_LIST[] =
    "SELECT " COLUMNS "FROM sent_messages WHERE sender = ?1 AND seq < ?2 "
    "ORDER BY seq DESC LIMIT ?3";
static const char SQL_LIST_CONV[] =
    "SELECT " COLUMNS "FROM sent_messages WHERE sender = ?1 AND seq < ?2 "
    "AND conv_domain = ?4 AND conv_id = ?5 ORDER BY seq DESC LIMIT ?3";
static const char SQL_FORGET[] = "DELETE FROM sent_messages WHERE sent_ms < ?";

static bool
row_sent(fedrpc_store_tx *tx, sqlite3_stmt *s, fedrpc_store_sent *out)
{
	out->seq          = sq_col_u64(s, 0);
	out->sender       = sq_col_str(tx, s, 1);
	out->conversation = sq_col_qid(tx, s, 3);
	out->sent_ms      = sqlite3_column_int64(s, 5);
	return out->sender != NULL && out->conversation != NULL &&
	    sq_col_blob(tx, s, 2, &out->message_id) &&
	    sq_col_blob(tx, s, 6, &out->record);
}

static bool
sent_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	return row_sent(tx, s, elem);
}

fedrpc_code
sq_sent_insert(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id,
    const fedrpc_store_qid *conversation, int64_t sent_ms,
    const ProtobufCBinaryData *record, uint64_t *seq, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_INSERT, st);

	if (seq != NULL)
		*seq = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, sender);
	sq_bind_blob(s, 2, message_id);
	sq_bind_str(s, 3, conversation->domain);
	sq_bind_str(s, 4, conversation->id);
	sqlite3_bind_int64(s, 5, sent_ms);
	sq_bind_blob(s, 6, record);
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	if (seq != NULL)
		*seq = (uint64_t) sq_last_rowid(c);
	return FEDRPC_OK;
}

fedrpc_code
sq_sent_get(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id, fedrpc_store_sent *out,
    bool *found, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_GET, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, sender);
	sq_bind_blob(s, 2, message_id);
	return sq_row1(tx, s, sent_at, out, found, st);
}

fedrpc_code
sq_sent_update(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id, const ProtobufCBinaryData *record,
    bool *found, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_UPDATE, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_blob(s, 1, record);
	sq_bind_str(s, 2, sender);
	sq_bind_blob(s, 3, message_id);
	return sq_run_changed(c, s, found, st);
}

fedrpc_code
sq_sent_list(fedrpc_store_tx *tx, const char *sender,
    const fedrpc_store_qid *conversation, uint64_t before, uint32_t limit,
    fedrpc_store_sent **out, size_t *n, bool *more, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(
	    c, conversation != NULL ? SQL_LIST_CONV : SQL_LIST, st);
	void         *v = NULL;
	fedrpc_code   rc;

	*out  = NULL;
	*n    = 0;
	*more = false;
	if (s == NULL)
		return st->code;
	if (limit == 0)
		limit = 1;
	sq_bind_str(s, 1, sender);
	sqlite3_bind_int64(s, 2, before == 0 || before > INT64_MAX
		? INT64_MAX
		: (sqlite3_int64) before);
	sqlite3_bind_int64(s, 3, (sqlite3_int64) limit + 1);
	if (conversation != NULL) {
		sq_bind_str(s, 4, conversation->domain);
		sq_bind_str(s, 5, conversation->id);
	}
	rc   = sq_rows(tx, s, sizeof(**out), sent_at, limit, &v, n, more, st);
	*out = v;
	return rc;
}

fedrpc_code
sq_sent_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
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
