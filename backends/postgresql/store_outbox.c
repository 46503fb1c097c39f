/*
 * The outbox in PostgreSQL: one row per item owed to a destination domain,
 * its seq from an identity column (never given twice). The state column:
 * 0 pending, 1 moved aside (kept with the reason, no longer pending), 2
 * dropped (only the row is kept, without data, until forgotten).
 *
 * Order. Delivery needs an item appended by a later transaction to have a
 * higher seq than every item of its destination another transaction can
 * already see. With concurrent writers an identity alone does not give
 * it (a seq is taken at insert, not at commit, and even SERIALIZABLE
 * allows the later seq to commit first). So an append first takes its
 * destination's transaction-level advisory lock, held until commit, and
 * only then its seq: appends to one destination are serialized, while
 * appends to different destinations do not wait for each other (two
 * destinations whose names hash alike only wait for each other). A lock
 * rather than a row both appends update: under SERIALIZABLE the second
 * writer of a row fails (CONFLICT) and runs the whole transaction again,
 * while the second taker of a lock only waits. The lock's first key,
 * "fdob", keeps these locks apart from every other advisory lock.
 */
#include "backends/postgresql/pg.h"

static const char SQL_TAIL[] =
    "SELECT pg_advisory_xact_lock(1717858146, hashtext($1))";
static const char SQL_APPEND[] =
    "INSERT INTO outbox (destination, item, created_ms) VALUES ($1, $2, $3) "
    "RETURNING seq";
static const char SQL_DESTINATIONS[] =
    "SELECT DISTINCT destination FROM outbox WHERE state = 0 "
    "ORDER BY destination";
#define COLUMNS "seq, destination, item, created_ms, reason, moved_ms, state "
static const char SQL_HEAD[] =
    "SELECT " COLUMNS "FROM outbox WHERE destination = $1 AND state = 0 "
    "ORDER BY seq LIMIT 1";
static const char SQL_PENDING[] =
    "SELECT " COLUMNS "FROM outbox WHERE destination = $1 AND state = 0 "
    "AND seq > $2 ORDER BY seq LIMIT $3";
static const char SQL_GET[] =
    "SELECT " COLUMNS "FROM outbox WHERE destination = $1 AND seq = $2";
static const char SQL_RETRY[] =
    "UPDATE outbox SET state = 0, reason = '', moved_ms = 0 "
    "WHERE destination = $1 AND seq = $2 AND state = 1";
static const char SQL_DROP[] =
    "UPDATE outbox SET state = 2, item = ''::bytea, reason = $3, "
    "moved_ms = $4 WHERE destination = $1 AND seq = $2 AND state IN (0, 1)";
static const char SQL_FORGET[] =
    "DELETE FROM outbox WHERE state = 2 AND created_ms < $1";
static const char SQL_REMOVE[] =
    "DELETE FROM outbox WHERE destination = $1 AND seq = $2";
static const char SQL_MOVE_ASIDE[] =
    "UPDATE outbox SET state = 1, reason = $3, moved_ms = $4 "
    "WHERE destination = $1 AND seq = $2 AND state = 0";
static const char SQL_LIST_ASIDE[] =
    "SELECT " COLUMNS "FROM outbox WHERE destination = $1 AND state = 1 "
    "ORDER BY seq";

static pg_params
dest_seq(const char *destination, uint64_t seq)
{
	pg_params p = {0};

	pg_str(&p, destination);
	pg_u64(&p, seq);
	return p;
}

fedrpc_code
pg_outbox_append(fedrpc_store_tx *tx, const char *destination,
    const ProtobufCBinaryData *item, int64_t created_ms, uint64_t *seq,
    fedrpc_status *st)
{
	pg_params p = {0};
	PGresult *r;

	*seq = 0;
	pg_str(&p, destination);
	if ((r = pg_query(tx, SQL_TAIL, &p, st)) == NULL)
		return st->code;
	PQclear(r);
	pg_blob(&p, item);
	pg_i64(&p, created_ms);
	if ((r = pg_query(tx, SQL_APPEND, &p, st)) == NULL)
		return st->code;
	*seq = pg_get_u64(r, 0, 0);
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_outbox_destinations(fedrpc_store_tx *tx, char ***out, size_t *n,
    fedrpc_status *st)
{
	PGresult *r;
	char    **v;
	int       rows;

	*out = NULL;
	*n   = 0;
	if ((r = pg_query(tx, SQL_DESTINATIONS, NULL, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	if ((v = pg_alloc(tx, (size_t) rows * sizeof(*v))) == NULL)
		return pg_nomem_clear(r, st);
	for (int i = 0; i < rows; i++)
		if ((v[i] = pg_get_str(tx, r, i, 0)) == NULL)
			return pg_nomem_clear(r, st);
	PQclear(r);
	*out = v;
	*n   = (size_t) rows;
	return FEDRPC_OK;
}

/* Row `row` of a result selecting COLUMNS. */
static bool
row_item(fedrpc_store_tx *tx, const PGresult *r, int row,
    fedrpc_store_outbox_item *out)
{
	out->seq         = pg_get_u64(r, row, 0);
	out->destination = pg_get_str(tx, r, row, 1);
	out->created_ms  = pg_get_i64(r, row, 3);
	out->reason      = pg_get_str(tx, r, row, 4);
	out->moved_ms    = pg_get_i64(r, row, 5);
	out->state       = (int) pg_get_i64(r, row, 6);
	return pg_get_blob(tx, r, row, 2, &out->data) &&
	    out->destination != NULL && out->reason != NULL;
}

/* At most one item. */
static fedrpc_code
read_item(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    fedrpc_store_outbox_item *out, bool *found, fedrpc_status *st)
{
	PGresult *r;

	*found = false;
	if ((r = pg_query(tx, sql, p, st)) == NULL)
		return st->code;
	if (PQntuples(r) > 0 && !(*found = row_item(tx, r, 0, out)))
		return pg_nomem_clear(r, st);
	PQclear(r);
	return FEDRPC_OK;
}

/* Up to max items (0: all); *more when a row beyond max was there. */
static fedrpc_code
read_items(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    size_t max, fedrpc_store_outbox_item **out, size_t *n, bool *more,
    fedrpc_status *st)
{
	PGresult                 *r;
	fedrpc_store_outbox_item *v;
	size_t                    rows;

	*out = NULL;
	*n   = 0;
	if (more != NULL)
		*more = false;
	if ((r = pg_query(tx, sql, p, st)) == NULL)
		return st->code;
	rows = (size_t) PQntuples(r);
	if (max > 0 && rows > max) {
		*more = true;
		rows  = max;
	}
	if ((v = pg_alloc(tx, rows * sizeof(*v))) == NULL)
		return pg_nomem_clear(r, st);
	for (size_t i = 0; i < rows; i++)
		if (!row_item(tx, r, (int) i, &v[i]))
			return pg_nomem_clear(r, st);
	PQclear(r);
	*out = v;
	*n   = rows;
	return FEDRPC_OK;
}

fedrpc_code
pg_outbox_head(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_outbox_item *out, bool *found, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, destination);
	return read_item(tx, SQL_HEAD, &p, out, found, st);
}

fedrpc_code
pg_outbox_get(fedrpc_store_tx *tx, const char *destination, uint64_t seq,
    fedrpc_store_outbox_item *out, bool *found, fedrpc_status *st)
{
	pg_params p = dest_seq(destination, seq);

	return read_item(tx, SQL_GET, &p, out, found, st);
}

fedrpc_code
pg_outbox_pending(fedrpc_store_tx *tx, const char *destination,
    uint64_t after, uint32_t limit, fedrpc_store_outbox_item **out,
    size_t *n, bool *more, fedrpc_status *st)
{
	pg_params p = dest_seq(destination, after);

	*more = false;
	if (limit == 0)
		limit = 1;
	/* One more than asked for, to tell whether more follow. */
	pg_i64(&p, (int64_t) limit + 1);
	return read_items(tx, SQL_PENDING, &p, limit, out, n, more, st);
}

fedrpc_code
pg_outbox_list_aside(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_outbox_item **out, size_t *n, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, destination);
	return read_items(tx, SQL_LIST_ASIDE, &p, 0, out, n, NULL, st);
}

/* A statement changing one item; *found when it did. */
static fedrpc_code
change_item(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    bool *found, fedrpc_status *st)
{
	uint64_t changed = 0;

	*found = false;
	if (pg_cmd(tx, sql, p, &changed, st) != FEDRPC_OK)
		return st->code;
	*found = changed > 0;
	return FEDRPC_OK;
}

fedrpc_code
pg_outbox_remove(fedrpc_store_tx *tx, const char *destination, uint64_t seq,
    bool *found, fedrpc_status *st)
{
	pg_params p = dest_seq(destination, seq);

	return change_item(tx, SQL_REMOVE, &p, found, st);
}

fedrpc_code
pg_outbox_move_aside(fedrpc_store_tx *tx, const char *destination,
    uint64_t seq, const char *reason, int64_t moved_ms, bool *found,
    fedrpc_status *st)
{
	pg_params p = dest_seq(destination, seq);

	pg_str(&p, reason);
	pg_i64(&p, moved_ms);
	return change_item(tx, SQL_MOVE_ASIDE, &p, found, st);
}

fedrpc_code
pg_outbox_retry(fedrpc_store_tx *tx, const char *destination, uint64_t seq,
    bool *found, fedrpc_status *st)
{
	pg_params p = dest_seq(destination, seq);

	return change_item(tx, SQL_RETRY, &p, found, st);
}

fedrpc_code
pg_outbox_drop(fedrpc_store_tx *tx, const char *destination, uint64_t seq,
    const char *reason, int64_t dropped_ms, bool *found, fedrpc_status *st)
{
	pg_params p = dest_seq(destination, seq);

	pg_str(&p, reason);
	pg_i64(&p, dropped_ms);
	return change_item(tx, SQL_DROP, &p, found, st);
}

fedrpc_code
pg_outbox_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st)
{
	pg_params p = {0};

	*forgotten = 0;
	pg_i64(&p, before_ms);
	return pg_cmd(tx, SQL_FORGET, &p, forgotten, st);
}
