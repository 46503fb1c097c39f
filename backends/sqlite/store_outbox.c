/*
 * The outbox in SQLite: one row per item owed to a destination domain, in
 * append order (an AUTOINCREMENT key, so a sequence number is never given
 * twice, even after its item was removed; SQLite's single writer makes it
 * ascend in commit order too). The `aside` column holds the item's state:
 * an item moved aside keeps its row with the reason and no longer counts
 * as pending; a dropped one keeps only its row (no data) until it is
 * forgotten.
 */
#include "backends/sqlite/sq.h"

static const char SQL_APPEND[] =
    "INSERT INTO outbox (destination, item, created_ms) VALUES (?, ?, ?)";
static const char SQL_DESTINATIONS[] =
    "SELECT DISTINCT destination FROM outbox WHERE aside = 0 "
    "ORDER BY destination";
#define COLUMNS "seq, destination, item, created_ms, reason, moved_ms, aside "
static const char SQL_HEAD[] =
    "SELECT " COLUMNS
    "FROM outbox WHERE destination = ? AND aside = 0 ORDER BY seq LIMIT 1";
static const char SQL_PENDING[] =
    "SELECT " COLUMNS "FROM outbox WHERE destination = ? AND aside = 0 "
    "AND seq > ? ORDER BY seq LIMIT ?";
static const char SQL_GET[] =
    "SELECT " COLUMNS "FROM outbox WHERE destination = ? AND seq = ?";
static const char SQL_RETRY[] =
    "UPDATE outbox SET aside = 0, reason = '', moved_ms = 0 "
    "WHERE destination = ? AND seq = ? AND aside = 1";
static const char SQL_DROP[] =
    "UPDATE outbox SET aside = 2, item = x'', reason = ?3, moved_ms = ?4 "
    "WHERE destination = ?1 AND seq = ?2 AND aside IN (0, 1)";
static const char SQL_FORGET[] =
    "DELETE FROM outbox WHERE aside = 2 AND created_ms < ?";
static const char SQL_REMOVE[] =
    "DELETE FROM outbox WHERE destination = ? AND seq = ?";
static const char SQL_MOVE_ASIDE[] =
    "UPDATE outbox SET aside = 1, reason = ?3, moved_ms = ?4 "
    "WHERE destination = ?1 AND seq = ?2 AND aside = 0";
static const char SQL_LIST_ASIDE[] =
    "SELECT " COLUMNS "FROM outbox WHERE destination = ? AND aside = 1 "
    "ORDER BY seq";

fedrpc_code
sq_outbox_append(fedrpc_store_tx *tx, const char *destination,
    const ProtobufCBinaryData *item, int64_t created_ms, uint64_t *seq,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_APPEND, st);

	*seq = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sq_bind_blob(s, 2, item);
	sqlite3_bind_int64(s, 3, created_ms);
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	*seq = (uint64_t) sq_last_rowid(c);
	return FEDRPC_OK;
}

/* A destination's name, from column 0. */
static bool
name_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	return (*(char **) elem = sq_col_str(tx, s, 0)) != NULL;
}

fedrpc_code
sq_outbox_destinations(fedrpc_store_tx *tx, char ***out, size_t *n,
    fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_DESTINATIONS, st);
	void         *v = NULL;
	fedrpc_code   rc;

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	rc   = sq_rows(tx, s, sizeof(char *), name_at, 0, &v, n, NULL, st);
	*out = v;
	return rc;
}

/* The current row of a statement selecting COLUMNS. */
static bool
row_item(fedrpc_store_tx *tx, sqlite3_stmt *s, fedrpc_store_outbox_item *out)
{
	out->seq         = sq_col_u64(s, 0);
	out->destination = sq_col_str(tx, s, 1);
	out->created_ms  = sqlite3_column_int64(s, 3);
	out->reason      = sq_col_str(tx, s, 4);
	out->moved_ms    = sqlite3_column_int64(s, 5);
	out->state       = sqlite3_column_int(s, 6);
	return sq_col_blob(tx, s, 2, &out->data) && out->destination != NULL &&
	    out->reason != NULL;
}

static bool
item_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	return row_item(tx, s, elem);
}

fedrpc_code
sq_outbox_head(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_outbox_item *out, bool *found, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_HEAD, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	return sq_row1(tx, s, item_at, out, found, st);
}

fedrpc_code
sq_outbox_remove(fedrpc_store_tx *tx, const char *destination, uint64_t seq,
    bool *found, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_REMOVE, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sq_bind_u64(s, 2, seq);
	return sq_run_changed(c, s, found, st);
}

fedrpc_code
sq_outbox_move_aside(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, const char *reason, int64_t moved_ms, bool *found,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_MOVE_ASIDE, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sq_bind_u64(s, 2, seq);
	sq_bind_str(s, 3, reason != NULL ? reason : "");
	sqlite3_bind_int64(s, 4, moved_ms);
	return sq_run_changed(c, s, found, st);
}

/* Collects the rows of a bound statement selecting COLUMNS, up to max
 * (0: all); *more when a row beyond max was there. */
static fedrpc_code
collect(fedrpc_store_tx *tx, sqlite3_stmt *s, size_t max,
    fedrpc_store_outbox_item **out, size_t *n, bool *more, fedrpc_status *st)
{
	void       *v;
	fedrpc_code rc = sq_rows(tx, s, sizeof(**out), item_at, max, &v, n,
	    more, st);

	*out = v;
	return rc;
}

fedrpc_code
sq_outbox_list_aside(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_outbox_item **out, size_t *n, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_LIST_ASIDE, st);

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	return collect(tx, s, 0, out, n, NULL, st);
}

fedrpc_code
sq_outbox_pending(fedrpc_store_tx *tx, const char *destination,
    uint64_t after, uint32_t limit, fedrpc_store_outbox_item **out,
    size_t *n, bool *more, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_PENDING, st);

	*out  = NULL;
	*n    = 0;
	*more = false;
	if (s == NULL)
		return st->code;
	if (limit == 0)
		limit = 1;
	sq_bind_str(s, 1, destination);
	sq_bind_u64(s, 2, after);
	/* One more than asked for, to tell whether more follow. */
	sqlite3_bind_int64(s, 3, (sqlite3_int64) limit + 1);
	return collect(tx, s, limit, out, n, more, st);
}

fedrpc_code
sq_outbox_get(fedrpc_store_tx *tx, const char *destination, uint64_t seq,
    fedrpc_store_outbox_item *out, bool *found, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_GET, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sq_bind_u64(s, 2, seq);
	return sq_row1(tx, s, item_at, out, found, st);
}

fedrpc_code
sq_outbox_retry(fedrpc_store_tx *tx, const char *destination, uint64_t seq,
    bool *found, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_RETRY, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sq_bind_u64(s, 2, seq);
	return sq_run_changed(c, s, found, st);
}

fedrpc_code
sq_outbox_drop(fedrpc_store_tx *tx, const char *destination, uint64_t seq,
    const char *reason, int64_t dropped_ms, bool *found, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_DROP, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sq_bind_u64(s, 2, seq);
	sq_bind_str(s, 3, reason != NULL ? reason : "");
	sqlite3_bind_int64(s, 4, dropped_ms);
	return sq_run_changed(c, s, found, st);
}

fedrpc_code
sq_outbox_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
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
