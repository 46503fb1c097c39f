/*
 * Per-client inboxes in PostgreSQL. An event (opaque bytes here) is stored
 * for each client it is for under that client's next event id, kept in
 * the client's row, so that ids only grow and are never reused, even
 * after acknowledgement. The id is taken and advanced in one statement
 * (UPDATE ... RETURNING), which locks the client's row: two appends to one
 * inbox at once cannot take one id.
 */
#include <stdint.h>

#include "backends/postgresql/pg.h"

static const char SQL_ADD_USER[] =
    "WITH ids AS (UPDATE clients SET next_event = next_event + 1 "
    "WHERE user_id = $1 RETURNING user_id, id, next_event - 1 AS event_id) "
    "INSERT INTO inbox (user_id, client, id, event) "
    "SELECT user_id, id, event_id, $2 FROM ids";
static const char SQL_ADD_CLIENT[] =
    "WITH ids AS (UPDATE clients SET next_event = next_event + 1 "
    "WHERE user_id = $1 AND id = $2 "
    "RETURNING user_id, id, next_event - 1 AS event_id) "
    "INSERT INTO inbox (user_id, client, id, event) "
    "SELECT user_id, id, event_id, $3 FROM ids";
static const char SQL_FETCH[] =
    "SELECT id, event FROM inbox WHERE user_id = $1 AND client = $2 "
    "AND id > $3 ORDER BY id LIMIT $4";
static const char SQL_ACK[] =
    "DELETE FROM inbox WHERE user_id = $1 AND client = $2 AND id <= $3";

/* Ids are kept as signed 64-bit numbers; larger bounds mean "all". */
static int64_t
id_bound(uint64_t v)
{
	return (int64_t) (v > INT64_MAX ? INT64_MAX : v);
}

fedrpc_code
pg_inbox_append_user(fedrpc_store_tx *tx, const char *user,
    const ProtobufCBinaryData *event, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, user);
	pg_blob(&p, event);
	return pg_cmd(tx, SQL_ADD_USER, &p, NULL, st);
}

fedrpc_code
pg_inbox_append_client(fedrpc_store_tx *tx, const char *user,
    uint64_t client, const ProtobufCBinaryData *event, bool *appended,
    fedrpc_status *st)
{
	pg_params p = {0};
	uint64_t  changed;

	*appended = false;
	pg_str(&p, user);
	pg_u64(&p, client);
	pg_blob(&p, event);
	if (pg_cmd(tx, SQL_ADD_CLIENT, &p, &changed, st) != FEDRPC_OK)
		return st->code;
	*appended = changed > 0;
	return FEDRPC_OK;
}

fedrpc_code
pg_inbox_fetch(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint64_t after, uint32_t limit, fedrpc_store_event **out, size_t *n,
    bool *more, fedrpc_status *st)
{
	pg_params p = {0};
	PGresult *r;
	int       rows;

	*out  = NULL;
	*n    = 0;
	*more = false;
	if (limit == 0)
		limit = 1;
	pg_str(&p, user);
	pg_u64(&p, client);
	pg_i64(&p, id_bound(after));
	/* One more than asked tells whether more follow. */
	pg_i64(&p, (int64_t) limit + 1);
	if ((r = pg_query(tx, SQL_FETCH, &p, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	if ((*out = pg_alloc(tx, limit * sizeof(**out))) == NULL)
		return pg_nomem_clear(r, st);
	for (int i = 0; i < rows; i++) {
		if (*n == limit) {
			*more = true;
			break;
		}
		(*out)[*n].id = pg_get_u64(r, i, 0);
		if (!pg_get_blob(tx, r, i, 1, &(*out)[*n].data))
			return pg_nomem_clear(r, st);
		(*n)++;
	}
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_inbox_ack(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint64_t up_to, uint64_t *deleted, fedrpc_status *st)
{
	pg_params p = {0};

	*deleted = 0;
	pg_str(&p, user);
	pg_u64(&p, client);
	pg_i64(&p, id_bound(up_to));
	return pg_cmd(tx, SQL_ACK, &p, deleted, st);
}
