/*
 * Connection sides in PostgreSQL: each row is the side a local user keeps
 * towards another user (of any domain), with its relation and when it last
 * changed. What a change of side means (events, the other side) is the
 * service's.
 */
#include "backends/postgresql/pg.h"

static const char SQL_GET[] =
    "SELECT relation FROM connections "
    "WHERE from_id = $1 AND to_domain = $2 AND to_id = $3";
static const char SQL_PUT[] =
    "INSERT INTO connections (from_id, to_domain, to_id, relation, "
    "updated_ms) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (from_id, to_domain, to_id) DO UPDATE SET "
    "relation = $4, updated_ms = $5";
static const char SQL_DELETE_ONE[] =
    "DELETE FROM connections "
    "WHERE from_id = $1 AND to_domain = $2 AND to_id = $3";
static const char SQL_LIST_FROM[] =
    "SELECT from_id, to_domain, to_id, relation, updated_ms FROM connections "
    "WHERE from_id = $1 ORDER BY to_domain, to_id";
static const char SQL_LIST_TOWARDS[] =
    "SELECT from_id, to_domain, to_id, relation, updated_ms FROM connections "
    "WHERE to_domain = $1 AND to_id = $2 ORDER BY from_id";
static const char SQL_DELETE_FROM[] =
    "DELETE FROM connections WHERE from_id = $1";
static const char SQL_DELETE_TOWARDS[] =
    "DELETE FROM connections WHERE to_domain = $1 AND to_id = $2";

static pg_params
side(const char *from, const fedrpc_store_qid *to)
{
	pg_params p = {0};

	pg_str(&p, from);
	pg_str(&p, to->domain);
	pg_str(&p, to->id);
	return p;
}

fedrpc_code
pg_connection_get(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, int *relation, bool *found,
    fedrpc_status *st)
{
	pg_params p = side(from, to);
	PGresult *r;

	*found = false;
	if ((r = pg_query(tx, SQL_GET, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) > 0) {
		*relation = (int) pg_get_i64(r, 0, 0);
		*found    = true;
	}
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_connection_put(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, int relation, int64_t updated_ms,
    fedrpc_status *st)
{
	pg_params p = side(from, to);

	pg_i64(&p, relation);
	pg_i64(&p, updated_ms);
	return pg_cmd(tx, SQL_PUT, &p, NULL, st);
}

fedrpc_code
pg_connection_delete(fedrpc_store_tx *tx, const char *from,
    const fedrpc_store_qid *to, fedrpc_status *st)
{
	pg_params p = side(from, to);

	return pg_cmd(tx, SQL_DELETE_ONE, &p, NULL, st);
}

static fedrpc_code
read_sides(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    fedrpc_store_side **out, size_t *n, fedrpc_status *st)
{
	PGresult          *r;
	fedrpc_store_side *v;
	int                rows;

	*out = NULL;
	*n   = 0;
	if ((r = pg_query(tx, sql, p, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	if ((v = pg_alloc(tx, (size_t) rows * sizeof(*v))) == NULL)
		return pg_nomem_clear(r, st);
	for (int i = 0; i < rows; i++) {
		v[i].from       = pg_get_str(tx, r, i, 0);
		v[i].to         = pg_get_qid(tx, r, i, 1);
		v[i].relation   = (int) pg_get_i64(r, i, 3);
		v[i].updated_ms = pg_get_i64(r, i, 4);
		if (v[i].from == NULL || v[i].to == NULL)
			return pg_nomem_clear(r, st);
	}
	PQclear(r);
	*out = v;
	*n   = (size_t) rows;
	return FEDRPC_OK;
}

fedrpc_code
pg_connection_list_from(fedrpc_store_tx *tx, const char *from,
    fedrpc_store_side **out, size_t *n, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, from);
	return read_sides(tx, SQL_LIST_FROM, &p, out, n, st);
}

fedrpc_code
pg_connection_list_towards(fedrpc_store_tx *tx, const fedrpc_store_qid *to,
    fedrpc_store_side **out, size_t *n, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, to->domain);
	pg_str(&p, to->id);
	return read_sides(tx, SQL_LIST_TOWARDS, &p, out, n, st);
}

fedrpc_code
pg_connection_delete_from(fedrpc_store_tx *tx, const char *from,
    fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, from);
	return pg_cmd(tx, SQL_DELETE_FROM, &p, NULL, st);
}

fedrpc_code
pg_connection_delete_towards(fedrpc_store_tx *tx, const fedrpc_store_qid *to,
    fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, to->domain);
	pg_str(&p, to->id);
	return pg_cmd(tx, SQL_DELETE_TOWARDS, &p, NULL, st);
}
