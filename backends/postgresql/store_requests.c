/*
 * Received request ids in PostgreSQL: (origin, id) is the primary key, so
 * that recording one twice breaks it (FEDRPC_STORE_DUPLICATE) and a
 * retried request is recognised, with the answer it was given -- by every
 * instance sharing the database, since the key is checked by the
 * database, not in memory. Old ids are forgotten by the time they arrived.
 */
#include "backends/postgresql/pg.h"

static const char SQL_RECORD[] =
    "INSERT INTO received_requests (origin, id, received_ms, result) "
    "VALUES ($1, $2, $3, $4)";
static const char SQL_SEEN[] =
    "SELECT 1 FROM received_requests WHERE origin = $1 AND id = $2";
static const char SQL_GET[] =
    "SELECT result FROM received_requests WHERE origin = $1 AND id = $2";
static const char SQL_FORGET[] =
    "DELETE FROM received_requests WHERE received_ms < $1";

static pg_params
key(const char *origin, const ProtobufCBinaryData *id)
{
	pg_params p = {0};

	pg_str(&p, origin);
	pg_blob(&p, id);
	return p;
}

fedrpc_code
pg_request_record(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, int64_t received_ms,
    const ProtobufCBinaryData *result, fedrpc_status *st)
{
	static const ProtobufCBinaryData none = {0, NULL};
	pg_params                        p    = key(origin, id);

	pg_i64(&p, received_ms);
	pg_blob(&p, result != NULL ? result : &none);
	return pg_cmd(tx, SQL_RECORD, &p, NULL, st);
}

fedrpc_code
pg_request_get(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, ProtobufCBinaryData *result, bool *found,
    fedrpc_status *st)
{
	pg_params p = key(origin, id);
	PGresult *r;

	*found       = false;
	result->len  = 0;
	result->data = NULL;
	if ((r = pg_query(tx, SQL_GET, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) > 0) {
		*found = true;
		if (!pg_get_blob(tx, r, 0, 0, result))
			return pg_nomem_clear(r, st);
	}
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_request_seen(fedrpc_store_tx *tx, const char *origin,
    const ProtobufCBinaryData *id, bool *seen, fedrpc_status *st)
{
	pg_params p = key(origin, id);
	PGresult *r;

	*seen = false;
	if ((r = pg_query(tx, SQL_SEEN, &p, st)) == NULL)
		return st->code;
	*seen = PQntuples(r) > 0;
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_request_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st)
{
	pg_params p = {0};

	*forgotten = 0;
	pg_i64(&p, before_ms);
	return pg_cmd(tx, SQL_FORGET, &p, forgotten, st);
}
