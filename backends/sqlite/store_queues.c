/*
 * Per-destination delivery state in SQLite: each queue's counts (from the
 * outbox table) with its back-off and lease (one delivery_state row per
 * destination, made on first use). The lease is one conditional upsert, so
 * that two instances asking at once cannot both be granted it: SQLite runs
 * one writer at a time.
 */
#include "backends/sqlite/sq.h"

#define STATE_COLUMNS                                                     \
	"coalesce(d.failures, 0), coalesce(d.next_attempt_ms, 0), "       \
	"coalesce(d.last_error, ''), coalesce(d.lease_owner, ''), "       \
	"coalesce(d.lease_until_ms, 0) "
#define HEAD_OF(dest)                                                     \
	"(SELECT seq FROM outbox WHERE destination = " dest               \
	" AND aside = 0 ORDER BY seq LIMIT 1), "                          \
	"(SELECT created_ms FROM outbox WHERE destination = " dest        \
	" AND aside = 0 ORDER BY seq LIMIT 1), "

static const char SQL_QUEUES[] =
    "SELECT o.destination, sum(o.aside = 0), sum(o.aside = 1), "
    HEAD_OF("o.destination") STATE_COLUMNS
    "FROM outbox o LEFT JOIN delivery_state d "
    "ON d.destination = o.destination WHERE o.aside IN (0, 1) "
    "GROUP BY o.destination ORDER BY o.destination";
static const char SQL_QUEUE[] =
    "SELECT ?1, "
    "(SELECT count(*) FROM outbox WHERE destination = ?1 AND aside = 0), "
    "(SELECT count(*) FROM outbox WHERE destination = ?1 AND aside = 1), "
    HEAD_OF("?1") STATE_COLUMNS ", d.destination IS NOT NULL "
    "FROM (SELECT 1) LEFT JOIN delivery_state d ON d.destination = ?1";
static const char SQL_LEASE[] =
    "INSERT INTO delivery_state (destination, lease_owner, lease_until_ms) "
    "VALUES (?1, ?2, ?4) ON CONFLICT (destination) DO UPDATE SET "
    "lease_owner = ?2, lease_until_ms = ?4 WHERE lease_owner = '' OR "
    "lease_owner = ?2 OR lease_until_ms < ?3";
static const char SQL_LEASE_HOLDER[] =
    "SELECT lease_until_ms FROM delivery_state WHERE destination = ?";
static const char SQL_RELEASE[] =
    "UPDATE delivery_state SET lease_owner = '', lease_until_ms = 0 "
    "WHERE destination = ? AND lease_owner = ?";
static const char SQL_BACKOFF[] =
    "INSERT INTO delivery_state (destination, failures, next_attempt_ms, "
    "last_error) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (destination) DO "
    "UPDATE SET failures = ?2, next_attempt_ms = ?3, last_error = ?4";

/* The current row of SQL_QUEUES or SQL_QUEUE. */
static bool
row_queue(fedrpc_store_tx *tx, sqlite3_stmt *s, fedrpc_store_queue *q)
{
	q->destination     = sq_col_str(tx, s, 0);
	q->pending         = sq_col_u64(s, 1);
	q->aside           = sq_col_u64(s, 2);
	q->head_seq        = sq_col_u64(s, 3);
	q->head_created_ms = sqlite3_column_int64(s, 4);
	q->failures        = (uint32_t) sqlite3_column_int64(s, 5);
	q->next_attempt_ms = sqlite3_column_int64(s, 6);
	q->last_error      = sq_col_str(tx, s, 7);
	q->lease_owner     = sq_col_str(tx, s, 8);
	q->lease_until_ms  = sqlite3_column_int64(s, 9);
	return q->destination != NULL && q->last_error != NULL &&
	    q->lease_owner != NULL;
}

static bool
queue_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	return row_queue(tx, s, elem);
}

fedrpc_code
sq_outbox_queues(fedrpc_store_tx *tx, fedrpc_store_queue **out, size_t *n,
    fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_QUEUES, st);
	void         *v = NULL;
	fedrpc_code   rc;

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	rc   = sq_rows(tx, s, sizeof(**out), queue_at, 0, &v, n, NULL, st);
	*out = v;
	return rc;
}

fedrpc_code
sq_outbox_queue(fedrpc_store_tx *tx, const char *destination,
    fedrpc_store_queue *out, bool *found, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_QUEUE, st);
	int           rc;
	bool          ok = true;

	*found = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW) {
		ok     = row_queue(tx, s, out);
		*found = ok && (out->pending > 0 || out->aside > 0 ||
		                   sqlite3_column_int(s, 10) != 0);
	}
	sqlite3_reset(s);
	return ok ? FEDRPC_OK : sq_nomem(st);
}

fedrpc_code
sq_outbox_lease(fedrpc_store_tx *tx, const char *destination,
    const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
    int64_t *holder_until_ms, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_LEASE, st);
	int           rc;

	*held = false;
	if (holder_until_ms != NULL)
		*holder_until_ms = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sq_bind_str(s, 2, owner);
	sqlite3_bind_int64(s, 3, now_ms);
	sqlite3_bind_int64(s, 4, until_ms);
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	if ((*held = sq_changes(c) > 0) || holder_until_ms == NULL)
		return FEDRPC_OK;
	if ((s = sq_stmt(c, SQL_LEASE_HOLDER, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW)
		*holder_until_ms = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return FEDRPC_OK;
}

fedrpc_code
sq_outbox_release(fedrpc_store_tx *tx, const char *destination,
    const char *owner, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_RELEASE, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sq_bind_str(s, 2, owner);
	return sq_run(c, s, st);
}

fedrpc_code
sq_outbox_backoff(fedrpc_store_tx *tx, const char *destination,
    uint32_t failures, int64_t next_attempt_ms, const char *last_error,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_BACKOFF, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, destination);
	sqlite3_bind_int64(s, 2, failures);
	sqlite3_bind_int64(s, 3, next_attempt_ms);
	sq_bind_str(s, 4, last_error != NULL ? last_error : "");
	return sq_run(c, s, st);
}
