/*
 * Clients in PostgreSQL: a user's devices, each with a 64-bit id (kept as
 * the bits of a bigint), a class and the next id of its inbox. Removing a
 * client removes its prekeys and inbox too.
 */
#include <stdlib.h>

#include "backends/postgresql/pg.h"

static const char SQL_INSERT[] =
    "INSERT INTO clients (user_id, id, class, created_ms) "
    "VALUES ($1, $2, $3, $4)";
static const char SQL_EXISTS[] =
    "SELECT 1 FROM clients WHERE user_id = $1 AND id = $2";
static const char SQL_LIST[] =
    "SELECT id, class FROM clients WHERE user_id = $1";
static const char SQL_DELETE[] =
    "DELETE FROM clients WHERE user_id = $1 AND id = $2";
static const char SQL_DELETE_PREKEYS[] =
    "DELETE FROM prekeys WHERE user_id = $1 AND client = $2";
static const char SQL_DELETE_INBOX[] =
    "DELETE FROM inbox WHERE user_id = $1 AND client = $2";
static const char SQL_DELETE_ALL[] = "DELETE FROM clients WHERE user_id = $1";
static const char SQL_DELETE_ALL_PREKEYS[] =
    "DELETE FROM prekeys WHERE user_id = $1";
static const char SQL_DELETE_ALL_INBOX[] =
    "DELETE FROM inbox WHERE user_id = $1";

static pg_params
user_client(const char *user, uint64_t client)
{
	pg_params p = {0};

	pg_str(&p, user);
	pg_u64(&p, client);
	return p;
}

fedrpc_code
pg_client_insert(fedrpc_store_tx *tx, const char *user, uint64_t client,
    int client_class, int64_t created_ms, fedrpc_status *st)
{
	pg_params p = user_client(user, client);

	pg_i64(&p, client_class);
	pg_i64(&p, created_ms);
	return pg_cmd(tx, SQL_INSERT, &p, NULL, st);
}

fedrpc_code
pg_client_exists(fedrpc_store_tx *tx, const char *user, uint64_t client,
    bool *exists, fedrpc_status *st)
{
	pg_params p = user_client(user, client);
	PGresult *r;

	*exists = false;
	if ((r = pg_query(tx, SQL_EXISTS, &p, st)) == NULL)
		return st->code;
	*exists = PQntuples(r) > 0;
	PQclear(r);
	return FEDRPC_OK;
}

static int
client_cmp(const void *a, const void *b)
{
	const fedrpc_store_client *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Ids are sorted in C: the database orders them as signed numbers, and
 * ids are unsigned. */
fedrpc_code
pg_client_list(fedrpc_store_tx *tx, const char *user,
    fedrpc_store_client **out, size_t *n, fedrpc_status *st)
{
	pg_params            p = {0};
	PGresult            *r;
	fedrpc_store_client *v;
	int                  rows;

	*out = NULL;
	*n   = 0;
	pg_str(&p, user);
	if ((r = pg_query(tx, SQL_LIST, &p, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	if ((v = pg_alloc(tx, (size_t) rows * sizeof(*v))) == NULL)
		return pg_nomem_clear(r, st);
	for (int i = 0; i < rows; i++) {
		v[i].id           = pg_get_u64(r, i, 0);
		v[i].client_class = (int) pg_get_i64(r, i, 1);
	}
	PQclear(r);
	if (rows > 1)
		qsort(v, (size_t) rows, sizeof(*v), client_cmp);
	*out = v;
	*n   = (size_t) rows;
	return FEDRPC_OK;
}

fedrpc_code
pg_client_delete(fedrpc_store_tx *tx, const char *user, uint64_t client,
    bool *found, fedrpc_status *st)
{
	pg_params p = user_client(user, client);
	uint64_t  changed;

	*found = false;
	if (pg_cmd(tx, SQL_DELETE, &p, &changed, st) != FEDRPC_OK)
		return st->code;
	if (changed == 0)
		return FEDRPC_OK;
	*found = true;
	if (pg_cmd(tx, SQL_DELETE_PREKEYS, &p, NULL, st) != FEDRPC_OK ||
	    pg_cmd(tx, SQL_DELETE_INBOX, &p, NULL, st) != FEDRPC_OK)
		return st->code;
	return FEDRPC_OK;
}

fedrpc_code
pg_client_delete_all(fedrpc_store_tx *tx, const char *user,
    fedrpc_status *st)
{
	const char *const sqls[] = {
	    SQL_DELETE_ALL, SQL_DELETE_ALL_PREKEYS, SQL_DELETE_ALL_INBOX};
	pg_params p = {0};

	pg_str(&p, user);
	for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++)
		if (pg_cmd(tx, sqls[i], &p, NULL, st) != FEDRPC_OK)
			return st->code;
	return FEDRPC_OK;
}
