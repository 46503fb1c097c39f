/*
 * Users and their handles in SQLite: registration, lookups by id and by
 * handle, search (exact handle, then prefixes of handles, names and name
 * words), deletion (the row stays so that the id reads as deleted; the
 * handle is freed).
 */
#include <string.h>

#include "backends/sqlite/sq.h"
#include "backends/reference/store_text.h"

static const char SQL_INSERT[] =
    "INSERT INTO users (id, handle, name, created_ms) VALUES (?, ?, ?, ?)";
static const char SQL_GET[] =
    "SELECT id, coalesce(handle, ''), name, deleted FROM users WHERE id = ?";
static const char SQL_BY_HANDLE[] =
    "SELECT id, coalesce(handle, ''), name, deleted FROM users "
    "WHERE handle = ? AND deleted = 0";
/* ?1 exact term, ?2 LIKE pattern for prefixes, ?3 for name words, ?4 the
 * limit. */
static const char SQL_SEARCH[] =
    "SELECT id, handle, name, deleted FROM users WHERE deleted = 0 AND ("
    " handle = ?1 OR handle LIKE ?2 ESCAPE '\\' OR"
    " lower(name) LIKE ?2 ESCAPE '\\' OR lower(name) LIKE ?3 ESCAPE '\\')"
    " ORDER BY (handle = ?1) DESC, handle LIMIT ?4";
static const char SQL_DELETE[] =
    "UPDATE users SET deleted = 1, handle = NULL, name = '' WHERE id = ?";

fedrpc_code
sq_user_insert(fedrpc_store_tx *tx, const char *id, const char *handle,
    const char *name, int64_t created_ms, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_INSERT, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id);
	sq_bind_str(s, 2, handle);
	sq_bind_str(s, 3, name);
	sqlite3_bind_int64(s, 4, created_ms);
	return sq_run(c, s, st);
}

/* The current row into out. */
static fedrpc_code
row_user(fedrpc_store_tx *tx, sqlite3_stmt *s, fedrpc_store_user *out,
    fedrpc_status *st)
{
	out->id      = sq_col_str(tx, s, 0);
	out->handle  = sq_col_str(tx, s, 1);
	out->name    = sq_col_str(tx, s, 2);
	out->deleted = sqlite3_column_int(s, 3) != 0;
	if (out->id == NULL || out->handle == NULL || out->name == NULL)
		return sq_nomem(st);
	return FEDRPC_OK;
}

/* At most one row of a bound statement; it is reset. */
static fedrpc_code
read_user(fedrpc_store_tx *tx, sqlite3_stmt *s, fedrpc_store_user *out,
    bool *found, fedrpc_status *st)
{
	int         rc = sq_step(sq_tx_conn(tx), s, st);
	fedrpc_code code;

	*found = false;
	if (rc < 0)
		return st->code;
	if (rc == SQLITE_DONE)
		return FEDRPC_OK;
	code = row_user(tx, s, out, st);
	sqlite3_reset(s);
	*found = code == FEDRPC_OK;
	return code;
}

fedrpc_code
sq_user_get(fedrpc_store_tx *tx, const char *id, fedrpc_store_user *out,
    bool *found, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_GET, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id);
	return read_user(tx, s, out, found, st);
}

fedrpc_code
sq_user_get_by_handle(fedrpc_store_tx *tx, const char *handle,
    fedrpc_store_user *out, bool *found, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_BY_HANDLE, st);

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, handle);
	return read_user(tx, s, out, found, st);
}

fedrpc_code
sq_user_search(fedrpc_store_tx *tx, const char *term, size_t limit,
    fedrpc_store_user **out, size_t *n, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	char         *lower, *pfx, *word;
	sqlite3_stmt *s;
	int           rc = SQLITE_DONE;

	*out = NULL;
	*n   = 0;
	if (term[0] == '\0' || limit == 0)
		return FEDRPC_OK;
	if ((lower = fedrpc_store_lower(tx, term)) == NULL ||
	    (pfx = fedrpc_store_like_prefix(tx, "", term)) == NULL ||
	    (word = fedrpc_store_like_prefix(tx, "% ", term)) == NULL ||
	    (*out = sq_alloc(tx, limit * sizeof(**out))) == NULL)
		return sq_nomem(st);
	if ((s = sq_stmt(c, SQL_SEARCH, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, lower);
	sq_bind_str(s, 2, pfx);
	sq_bind_str(s, 3, word);
	sqlite3_bind_int64(s, 4, (sqlite3_int64) limit);
	while (*n < limit && (rc = sq_step(c, s, st)) == SQLITE_ROW) {
		if (row_user(tx, s, &(*out)[*n], st) != FEDRPC_OK)
			return st->code;
		(*n)++;
	}
	if (rc < 0)
		return st->code;
	sqlite3_reset(s);
	return FEDRPC_OK;
}

fedrpc_code
sq_user_mark_deleted(fedrpc_store_tx *tx, const char *id, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_DELETE, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id);
	return sq_run(c, s, st);
}
