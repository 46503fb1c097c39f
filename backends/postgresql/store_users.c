/*
 * Users and their handles in PostgreSQL: registration, lookups by id and
 * by handle, search (exact handle, then prefixes of handles, names and
 * name words), deletion (the row stays so that the id reads as deleted;
 * the handle is freed).
 */
#include <string.h>

#include "backends/postgresql/pg.h"
#include "backends/reference/store_text.h"

static const char SQL_INSERT[] =
    "INSERT INTO users (id, handle, name, created_ms) "
    "VALUES ($1, $2, $3, $4)";
static const char SQL_GET[] =
    "SELECT id, coalesce(handle, ''), name, deleted FROM users WHERE id = $1";
static const char SQL_BY_HANDLE[] =
    "SELECT id, coalesce(handle, ''), name, deleted FROM users "
    "WHERE handle = $1 AND NOT deleted";
/* $1 exact term, $2 LIKE pattern for prefixes, $3 for name words, $4 the
 * limit. */
static const char SQL_SEARCH[] =
    "SELECT id, handle, name, deleted FROM users WHERE NOT deleted AND ("
    " handle = $1 OR handle LIKE $2 ESCAPE '\\' OR"
    " lower(name) LIKE $2 ESCAPE '\\' OR lower(name) LIKE $3 ESCAPE '\\')"
    " ORDER BY (handle = $1) DESC, handle LIMIT $4";
static const char SQL_DELETE[] =
    "UPDATE users SET deleted = true, handle = NULL, name = '' WHERE id = $1";

fedrpc_code
pg_user_insert(fedrpc_store_tx *tx, const char *id, const char *handle,
    const char *name, int64_t created_ms, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, id);
	pg_str(&p, handle);
	pg_str(&p, name);
	pg_i64(&p, created_ms);
	return pg_cmd(tx, SQL_INSERT, &p, NULL, st);
}

static bool
row_user(fedrpc_store_tx *tx, const PGresult *r, int row,
    fedrpc_store_user *out)
{
	out->id      = pg_get_str(tx, r, row, 0);
	out->handle  = pg_get_str(tx, r, row, 1);
	out->name    = pg_get_str(tx, r, row, 2);
	out->deleted = PQgetvalue(r, row, 3)[0] == 't';
	return out->id != NULL && out->handle != NULL && out->name != NULL;
}

static fedrpc_code
read_user(fedrpc_store_tx *tx, const char *sql, const char *key,
    fedrpc_store_user *out, bool *found, fedrpc_status *st)
{
	pg_params p = {0};
	PGresult *r;

	*found = false;
	pg_str(&p, key);
	if ((r = pg_query(tx, sql, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) > 0 && !(*found = row_user(tx, r, 0, out)))
		return pg_nomem_clear(r, st);
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_user_get(fedrpc_store_tx *tx, const char *id, fedrpc_store_user *out,
    bool *found, fedrpc_status *st)
{
	return read_user(tx, SQL_GET, id, out, found, st);
}

fedrpc_code
pg_user_get_by_handle(fedrpc_store_tx *tx, const char *handle,
    fedrpc_store_user *out, bool *found, fedrpc_status *st)
{
	return read_user(tx, SQL_BY_HANDLE, handle, out, found, st);
}

fedrpc_code
pg_user_search(fedrpc_store_tx *tx, const char *term, size_t limit,
    fedrpc_store_user **out, size_t *n, fedrpc_status *st)
{
	pg_params p = {0};
	char     *lower, *pfx, *word;
	PGresult *r;
	int       rows;

	*out = NULL;
	*n   = 0;
	if (term[0] == '\0' || limit == 0)
		return FEDRPC_OK;
	if ((lower = fedrpc_store_lower(tx, term)) == NULL ||
	    (pfx = fedrpc_store_like_prefix(tx, "", term)) == NULL ||
	    (word = fedrpc_store_like_prefix(tx, "% ", term)) == NULL ||
	    (*out = pg_alloc(tx, limit * sizeof(**out))) == NULL)
		return pg_nomem(st);
	pg_str(&p, lower);
	pg_str(&p, pfx);
	pg_str(&p, word);
	pg_i64(&p, (int64_t) limit);
	if ((r = pg_query(tx, SQL_SEARCH, &p, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	for (int i = 0; i < rows && *n < limit; i++, (*n)++)
		if (!row_user(tx, r, i, &(*out)[*n]))
			return pg_nomem_clear(r, st);
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_user_mark_deleted(fedrpc_store_tx *tx, const char *id, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, id);
	return pg_cmd(tx, SQL_DELETE, &p, NULL, st);
}
