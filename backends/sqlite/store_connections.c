/*
 * Connection sides in SQLite: each row is the side a local user keeps
 * towards another user (of any domain), with its relation and when it last
 * changed. What a change of side means (events, the other side) is the
 * service's.
 */
#include "backends/sqlite/sq.h"

static const char SQL_GET[] =
    "SELECT relation FROM connections "
    "WHERE from_id = ? AND to_domain = ? AND to_id = ?";
static const char SQL_PUT[] =
    "INSERT INTO connections (from_id, to_domain, to_id, relation, "
    "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (from_id, to_domain, to_id) DO UPDATE SET "
    "relation = ?4, updated_ms = ?5";
static const char SQL_DELETE_ONE[] =
    "DELETE FROM connections "
    "WHERE from_id = ? AND to_domain = ? AND to_id = ?";
static const char SQL_LIST_FROM[] =
    "SELECT from_id, to_domain, to_id, relation, updated_ms FROM connections "
    "WHERE from_id = ? ORDER BY to_domain, to_id";
static const char SQL_LIST_TOWARDS[] =
    "SELECT from_id, to_domain, to_id, relation, updated_ms FROM connections "
    "WHERE to_domain = ? AND to_id = ? ORDER BY from_id";
static const char SQL_DELETE_FROM[] =
    "DELETE FROM connections WHERE from_id = ?";
static const char SQL_DELETE_TOWARDS[] =
    "DELETE FROM connections WHERE to_domain = ? AND to_id = ?";

/* A statement for one side, its key bound. */
static sqlite3_stmt *
side_stmt(sq_conn *c, const char *sql, const char *from,
    const fedrpc_store_qid *to, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, sql, st);

	if (s != NULL) {
		sq_bind_str(s, 1, from);
		sq_bind_str(s, 2, to->domain);
		sq_bind_str(s, 3, to->id);
	}
	return s;
}

fedrpc_code
sq_connection_get(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, int *relation, bool *found,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = side_stmt(c, SQL_GET, from, to, st);
	int           rc;

	*found = false;
	if (s == NULL)
		return st->code;
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW) {
		*relation = sqlite3_column_int(s, 0);
		*found    = true;
	}
	sqlite3_reset(s);
	return FEDRPC_OK;
}

fedrpc_code
sq_connection_put(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, int relation, int64_t updated_ms,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = side_stmt(c, SQL_PUT, from, to, st);

	if (s == NULL)
		return st->code;
	sqlite3_bind_int(s, 4, relation);
	sqlite3_bind_int64(s, 5, updated_ms);
	return sq_run(c, s, st);
}

fedrpc_code
sq_connection_delete(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = side_stmt(c, SQL_DELETE_ONE, from, to, st);

	return s == NULL ? st->code : sq_run(c, s, st);
}

/* One side of a connection, from a row of SQL_LIST_*. */
static bool
side_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	fedrpc_store_side *side = elem;

	side->from       = sq_col_str(tx, s, 0);
	side->to         = sq_col_qid(tx, s, 1);
	side->relation   = sqlite3_column_int(s, 3);
	side->updated_ms = sqlite3_column_int64(s, 4);
	return side->from != NULL && side->to != NULL;
}

/* The rows of a bound SQL_LIST_* statement. */
static fedrpc_code
read_sides(fedrpc_store_tx *tx, sqlite3_stmt *s, fedrpc_store_side **out,
    size_t *n, fedrpc_status *st)
{
	void       *v;
	fedrpc_code rc = sq_rows(tx, s, sizeof(**out), side_at, 0, &v, n, NULL,
	    st);

	*out = v;
	return rc;
}

fedrpc_code
sq_connection_list_from(fedrpc_store_tx *tx, const char *from,
    fedrpc_store_side **out, size_t *n, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_LIST_FROM, st);

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, from);
	return read_sides(tx, s, out, n, st);
}

fedrpc_code
sq_connection_list_towards(fedrpc_store_tx *tx, const fedrpc_store_qid *to,
    fedrpc_store_side **out, size_t *n, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_LIST_TOWARDS, st);

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, to->domain);
	sq_bind_str(s, 2, to->id);
	return read_sides(tx, s, out, n, st);
}

fedrpc_code
sq_connection_delete_from(fedrpc_store_tx *tx, const char *from,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_DELETE_FROM, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, from);
	return sq_run(c, s, st);
}

fedrpc_code
sq_connection_delete_towards(fedrpc_store_tx *tx, const fedrpc_store_qid *to,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_DELETE_TOWARDS, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, to->domain);
	sq_bind_str(s, 2, to->id);
	return sq_run(c, s, st);
}
