/*
 * Clients in SQLite: a user's devices, each with a 64-bit id (stored as its
 * bits in a signed column), a class and the next id of its inbox. Removing
 * a client removes its prekeys and inbox too.
 */
#include <stdlib.h>

#include "backends/sqlite/sq.h"

static const char SQL_INSERT[] =
    "INSERT INTO clients (user_id, id, class, created_ms) VALUES (?, ?, ?, ?)";
static const char SQL_EXISTS[] =
    "SELECT 1 FROM clients WHERE user_id = ? AND id = ?";
static const char SQL_LIST[] =
    "SELECT id, class FROM clients WHERE user_id = ?";
static const char SQL_DELETE[] =
    "DELETE FROM clients WHERE user_id = ? AND id = ?";
static const char SQL_DELETE_PREKEYS[] =
    "DELETE FROM prekeys WHERE user_id = ? AND client = ?";
static const char SQL_DELETE_INBOX[] =
    "DELETE FROM inbox WHERE user_id = ? AND client = ?";
static const char SQL_DELETE_ALL[] = "DELETE FROM clients WHERE user_id = ?";
static const char SQL_DELETE_ALL_PREKEYS[] =
    "DELETE FROM prekeys WHERE user_id = ?";
static const char SQL_DELETE_ALL_INBOX[] =
    "DELETE FROM inbox WHERE user_id = ?";

fedrpc_code
sq_client_insert(fedrpc_store_tx *tx, const char *user, uint64_t client,
    int client_class, int64_t created_ms, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_INSERT, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int(s, 3, client_class);
	sqlite3_bind_int64(s, 4, created_ms);
	return sq_run(c, s, st);
}

fedrpc_code
sq_client_exists(fedrpc_store_tx *tx, const char *user, uint64_t client,
    bool *exists, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_EXISTS, st);
	int           rc;

	*exists = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	sqlite3_reset(s);
	*exists = rc == SQLITE_ROW;
	return FEDRPC_OK;
}

static int
client_cmp(const void *a, const void *b)
{
	const fedrpc_store_client *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static bool
client_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	fedrpc_store_client *cl = elem;

	(void) tx;
	cl->id           = sq_col_u64(s, 0);
	cl->client_class = sqlite3_column_int(s, 1);
	return true;
}

/* Ids are sorted in C: SQLite orders them as signed numbers, and ids are
 * unsigned. */
fedrpc_code
sq_client_list(fedrpc_store_tx *tx, const char *user,
    fedrpc_store_client **out, size_t *n, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_LIST, st);
	void         *v = NULL;

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	if (sq_rows(tx, s, sizeof(**out), client_at, 0, &v, n, NULL, st) !=
	    FEDRPC_OK)
		return st->code;
	if (*n > 1)
		qsort(v, *n, sizeof(fedrpc_store_client), client_cmp);
	*out = v;
	return FEDRPC_OK;
}

static fedrpc_code
run_user_client(sq_conn *c, const char *sql, const char *user,
    uint64_t client, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, sql, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	return sq_run(c, s, st);
}

fedrpc_code
sq_client_delete(fedrpc_store_tx *tx, const char *user, uint64_t client,
    bool *found, fedrpc_status *st)
{
	sq_conn *c = sq_tx_conn(tx);

	*found = false;
	if (run_user_client(c, SQL_DELETE, user, client, st) != FEDRPC_OK)
		return st->code;
	if (sq_changes(c) == 0)
		return FEDRPC_OK;
	*found = true;
	if (run_user_client(c, SQL_DELETE_PREKEYS, user, client, st) !=
	        FEDRPC_OK ||
	    run_user_client(c, SQL_DELETE_INBOX, user, client, st) !=
	        FEDRPC_OK)
		return st->code;
	return FEDRPC_OK;
}

fedrpc_code
sq_client_delete_all(fedrpc_store_tx *tx, const char *user,
    fedrpc_status *st)
{
	const char *const sqls[] = {
	    SQL_DELETE_ALL, SQL_DELETE_ALL_PREKEYS, SQL_DELETE_ALL_INBOX};
	sq_conn *c = sq_tx_conn(tx);

	for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++) {
		sqlite3_stmt *s = sq_stmt(c, sqls[i], st);

		if (s == NULL)
			return st->code;
		sq_bind_str(s, 1, user);
		if (sq_run(c, s, st) != FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}
