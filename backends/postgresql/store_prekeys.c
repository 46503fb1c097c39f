/*
 * Prekeys in PostgreSQL. Claiming reads the lowest id and deletes it in the
 * same serializable transaction, so that two claims never both get one
 * key (the second fails to commit, CONFLICT, and runs again); a key whose
 * id the caller names as kept (the last-resort one) stays.
 */
#include "backends/postgresql/pg.h"

static const char SQL_INSERT[] =
    "INSERT INTO prekeys (user_id, client, id, key) VALUES ($1, $2, $3, $4)";
static const char SQL_PICK[] =
    "SELECT id, key FROM prekeys WHERE user_id = $1 AND client = $2 "
    "ORDER BY id LIMIT 1";
static const char SQL_DELETE[] =
    "DELETE FROM prekeys WHERE user_id = $1 AND client = $2 AND id = $3";
static const char SQL_COUNT[] =
    "SELECT COUNT(*) FROM prekeys WHERE user_id = $1 AND client = $2 "
    "AND id <> $3";

fedrpc_code
pg_prekey_insert(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint32_t id, const ProtobufCBinaryData *key, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, user);
	pg_u64(&p, client);
	pg_i64(&p, id);
	pg_blob(&p, key);
	return pg_cmd(tx, SQL_INSERT, &p, NULL, st);
}

fedrpc_code
pg_prekey_claim(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint32_t keep_id, fedrpc_store_prekey *out, bool *found,
    fedrpc_status *st)
{
	pg_params p = {0};
	PGresult *r;

	*found = false;
	pg_str(&p, user);
	pg_u64(&p, client);
	if ((r = pg_query(tx, SQL_PICK, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return FEDRPC_OK;
	}
	out->id = (uint32_t) pg_get_i64(r, 0, 0);
	if (!pg_get_blob(tx, r, 0, 1, &out->key))
		return pg_nomem_clear(r, st);
	PQclear(r);
	*found = true;
	if (out->id == keep_id)
		return FEDRPC_OK;
	pg_i64(&p, out->id);
	return pg_cmd(tx, SQL_DELETE, &p, NULL, st);
}

fedrpc_code
pg_prekey_count(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint32_t except_id, uint32_t *out, fedrpc_status *st)
{
	pg_params p = {0};
	PGresult *r;

	*out = 0;
	pg_str(&p, user);
	pg_u64(&p, client);
	pg_i64(&p, except_id);
	if ((r = pg_query(tx, SQL_COUNT, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) == 1)
		*out = (uint32_t) pg_get_i64(r, 0, 0);
	PQclear(r);
	return FEDRPC_OK;
}
