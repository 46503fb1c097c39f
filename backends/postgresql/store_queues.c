/*
 * Per-destination delivery state in PostgreSQL: each queue's counts (from
 * the outbox table) with its back-off and lease (one delivery_state row
 * per destination, made on first use).
 *
 * The lease is a row, taken by one conditional upsert: the row lock
 * makes two instances asking at once wait for each other, and the second
 * sees the first's lease (or fails to serialize, CONFLICT, and asks
 * again), so at most one holds it. A row rather than an advisory lock or
 * FOR UPDATE SKIP LOCKED: the lease must outlive the transaction that took
 * it (an instance calls the destination with no transaction open), be
 * given up by time when its holder dies without a word, and be readable
 * by operators (fedctl queue list) -- a lock lives only as long as its
 * connection or transaction, and the pool's connections come and go.
 */
#include "backends/postgresql/pg.h"

#define STATE_COLUMNS                                                     \
	"coalesce(d.failures, 0), coalesce(d.next_attempt_ms, 0), "       \
	"coalesce(d.last_error, ''), coalesce(d.lease_owner, ''), "       \
	"coalesce(d.lease_until_ms, 0) "
#define HEAD_OF(dest)                                                     \
	"(SELECT seq FROM outbox WHERE destination = " dest               \
	" AND state = 0 ORDER BY seq LIMIT 1), "                          \
	"(SELECT created_ms FROM outbox WHERE destination = " dest        \
	" AND state = 0 ORDER BY seq LIMIT 1), "

static const char SQL_QUEUES[] =
    "SELECT o.destination, count(*) FILTER (WHERE o.state = 0), "
    "count(*) FILTER (WHERE o.state = 1), "
    HEAD_OF("o.destination") STATE_COLUMNS
    "FROM outbox o LEFT JOIN delivery_state d "
    "ON d.destination = o.destination WHERE o.state IN (0, 1) "
    "GROUP BY o.destination, d.destination ORDER BY o.destination";
static const char SQL_QUEUE[] =
    "SELECT $1::text, "
    "(SELECT count(*) FROM outbox WHERE destination = $1 AND state = 0), "
    "(SELECT count(*) FROM outbox WHERE destination = $1 AND state = 1), "
    HEAD_OF("$1") STATE_COLUMNS ", d.destination IS NOT NULL "
    "FROM (SELECT 1) one LEFT JOIN delivery_state d ON d.destination = $1";
static const char SQL_LEASE[] =
    "INSERT INTO delivery_state (destination, lease_owner, lease_until_ms) "
    "VALUES ($1, $2, $4) ON CONFLICT (destination) DO UPDATE SET "
    "lease_owner = $2, lease_until_ms = $4 WHERE "
    "delivery_state.lease_owner = '' OR delivery_state.lease_owner = $2 OR "
    "delivery_state.lease_until_ms < $3";
static const char SQL_LEASE_HOLDER[] =
    "SELECT lease_until_ms FROM delivery_state WHERE destination = $1";
static const char SQL_RELEASE[] =
    "UPDATE delivery_state SET lease_owner = '', lease_until_ms = 0 "
    "WHERE destination = $1 AND lease_owner = $2";
static const char SQL_BACKOFF[] =
    "INSERT INTO delivery_state (destination, failures, next_attempt_ms, "
    "last_error) VALUES ($1, $2, $3, $4) ON CONFLICT (destination) DO "
    "UPDATE SET failures = $2, next_attempt_ms = $3, last_error = $4";

/* Row `row` of SQL_QUEUES or SQL_QUEUE. */
static bool
row_queue(fedrpc_store_tx *tx, const PGresult *r, int row,
    fedrpc_store_queue *q)
{
	q->destination     = pg_get_str(tx, r, row, 0);
	q->pending         = pg_get_u64(r, row, 1);
	q->aside           = pg_get_u64(r, row, 2);
	q->head_seq        = pg_get_u64(r, row, 3);
	q->head_created_ms = pg_get_i64(r, row, 4);
	q->failures        = (uint32_t) pg_get_i64(r, row, 5);
	q->next_attempt_ms = pg_get_i64(r, row, 6);
	q->last_error      = pg_get_str(tx, r, row, 7);
	q->lease_owner     = pg_get_str(tx, r, row, 8);
	q->lease_until_ms  = pg_get_i64(r, row, 9);
	return q->destination != NULL && q->last_error != NULL &&
	    q->lease_owner != NULL;
}

fedrpc_code
pg_outbox_queues(fedrpc_store_tx *tx, fedrpc_store_queue **out, size_t *n,
    fedrpc_status *st)
{
	PGresult           *r;
	fedrpc_store_queue *v;
	int                 rows;

	*out = NULL;
	*n   = 0;
	if ((r = pg_query(tx, SQL_QUEUES, NULL, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	if ((v = pg_alloc(tx, (size_t) rows * sizeof(*v))) == NULL)
		return pg_nomem_clear(r, st);
	for (int i = 0; i < rows; i++)
		if (!row_queue(tx, r, i, &v[i]))
			return pg_nomem_clear(r, st);
	PQclear(r);
	*out = v;
	*n   = (size_t) rows;
	return FEDRPC_OK;
}

fedrpc_code
pg_outbox_queue(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_queue *out, bool *found, fedrpc_status *st)
{
	pg_params p = {0};
	PGresult *r;

	*found = false;
	pg_str(&p, destination);
	if ((r = pg_query(tx, SQL_QUEUE, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) > 0) {
		if (!row_queue(tx, r, 0, out))
			return pg_nomem_clear(r, st);
		*found = out->pending > 0 || out->aside > 0 ||
		    PQgetvalue(r, 0, 10)[0] == 't';
	}
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_outbox_lease(fedrpc_store_tx *tx, const char *destination,
    const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
    int64_t *holder_until_ms, fedrpc_status *st)
{
	pg_params p = {0}, q = {0};
	uint64_t  changed = 0;
	PGresult *r;

	*held = false;
	if (holder_until_ms != NULL)
		*holder_until_ms = 0;
	pg_str(&p, destination);
	pg_str(&p, owner);
	pg_i64(&p, now_ms);
	pg_i64(&p, until_ms);
	if (pg_cmd(tx, SQL_LEASE, &p, &changed, st) != FEDRPC_OK)
		return st->code;
	if ((*held = changed > 0) || holder_until_ms == NULL)
		return FEDRPC_OK;
	pg_str(&q, destination);
	if ((r = pg_query(tx, SQL_LEASE_HOLDER, &q, st)) == NULL)
		return st->code;
	if (PQntuples(r) > 0)
		*holder_until_ms = pg_get_i64(r, 0, 0);
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_outbox_release(fedrpc_store_tx *tx, const char *destination,
    const char *owner, fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, destination);
	pg_str(&p, owner);
	return pg_cmd(tx, SQL_RELEASE, &p, NULL, st);
}

fedrpc_code
pg_outbox_backoff(fedrpc_store_tx *tx, const char *destination,
    uint32_t failures, int64_t next_attempt_ms, const char *last_error,
    fedrpc_status *st)
{
	pg_params p = {0};

	pg_str(&p, destination);
	pg_i64(&p, failures);
	pg_i64(&p, next_attempt_ms);
	pg_str(&p, last_error);
	return pg_cmd(tx, SQL_BACKOFF, &p, NULL, st);
}
