/*
 * Per-client inboxes in PostgreSQL. An event (opaque bytes here) is stored
 * for each client it is for under that client's next event id, kept in
 * the client's row, so that ids only grow and are never reused, even
 * after acknowledgement. The id is taken and advanced in one statement
 * (UPDATE ... RETURNING), which locks the client's row: two appends to one
 * inbox at once cannot take one id.
 *
 * A batch (inbox_append_clients) is one statement per BATCH_MAX entries:
 * the entries go as three binary arrays, and each client named takes as
 * many ids as it has entries, in one step, after its row is found by its
 * key and locked in a fixed order (by user, client), so that two batches
 * over the same clients wait for each other instead of deadlocking.
 */
#include <stdint.h>
#include <string.h>

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
/*
 * $1, $2, $3: the entries' users, clients and events, in order (ord). k
 * numbers a client's entries in that order, cnt counts them, and base is
 * the first id they take. Each client's row is looked up by its key and
 * locked in the order of n (by user, client); the rows returned are the
 * entries appended.
 */
static const char SQL_ADD_CLIENTS[] =
    "WITH e AS (SELECT u, c, ev, ord, "
    "row_number() OVER (PARTITION BY u, c ORDER BY ord) AS k "
    "FROM unnest($1::text[], $2::bigint[], $3::bytea[]) "
    "WITH ORDINALITY AS t(u, c, ev, ord)), "
    "n AS (SELECT u, c, count(*) AS cnt FROM e GROUP BY u, c "
    "ORDER BY u COLLATE \"C\", c), "
    "locked AS (SELECT l.user_id, l.id, n.cnt FROM n CROSS JOIN LATERAL "
    "(SELECT user_id, id FROM clients WHERE user_id = n.u AND id = n.c "
    "FOR UPDATE) l), "
    "ids AS (UPDATE clients cl SET next_event = cl.next_event + l.cnt "
    "FROM locked l WHERE cl.user_id = l.user_id AND cl.id = l.id "
    "RETURNING cl.user_id, cl.id, cl.next_event - l.cnt AS base), "
    "ins AS (INSERT INTO inbox (user_id, client, id, event) "
    "SELECT e.u, e.c, ids.base + e.k - 1, e.ev "
    "FROM e JOIN ids ON ids.user_id = e.u AND ids.id = e.c) "
    "SELECT e.ord FROM e JOIN ids ON ids.user_id = e.u AND ids.id = e.c";
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

/* A statement takes at most BATCH_MAX entries, and more than one only
 * while their events total BATCH_BYTES at most: its parameters stay a
 * few megabytes (and within libpq's int lengths). */
#define BATCH_MAX 1000
#define BATCH_BYTES (8u << 20)

/* Element types of the arrays (PostgreSQL's pg_type oids). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

/* The columns of a batch, one array each. */
typedef enum batch_column {
	COLUMN_USER,
	COLUMN_CLIENT,
	COLUMN_EVENT,
} batch_column;

static uint8_t *
put_u32(uint8_t *w, uint32_t v)
{
	w[0] = (uint8_t) (v >> 24);
	w[1] = (uint8_t) (v >> 16);
	w[2] = (uint8_t) (v >> 8);
	w[3] = (uint8_t) v;
	return w + 4;
}

/* An entry's value in a column, in PostgreSQL's binary form. */
static const uint8_t *
column_value(const fedrpc_store_inbox_entry *e, batch_column col,
    uint8_t num[8], size_t *len)
{
	switch (col) {
	case COLUMN_USER:
		*len = strlen(e->user);
		return (const uint8_t *) e->user;
	case COLUMN_CLIENT:
		put_u32(put_u32(num, (uint32_t) (e->client >> 32)),
		    (uint32_t) e->client);
		*len = 8;
		return num;
	case COLUMN_EVENT:
		*len = e->event.len;
		return e->event.data;
	}
	*len = 0;
	return num;
}

/*
 * One column of n entries as a one-dimensional binary array (array_recv's
 * format: dimensions, a no-nulls flag, the element type, the length and
 * lower bound, then each element's length and bytes), in tx->al.
 */
static bool
column_array(fedrpc_store_tx *tx, const fedrpc_store_inbox_entry *entries,
    size_t n, batch_column col, uint32_t oid, ProtobufCBinaryData *out)
{
	uint8_t  num[8];
	size_t   size = 5 * 4, len;
	uint8_t *w;

	for (size_t i = 0; i < n; i++) {
		column_value(&entries[i], col, num, &len);
		size += 4 + len;
	}
	if ((out->data = pg_alloc(tx, size)) == NULL)
		return false;
	out->len = size;
	w        = put_u32(out->data, 1); /* dimensions */
	w        = put_u32(w, 0);         /* no NULL elements */
	w        = put_u32(w, oid);
	w        = put_u32(w, (uint32_t) n);
	w        = put_u32(w, 1);         /* lower bound */
	for (size_t i = 0; i < n; i++) {
		const uint8_t *v = column_value(&entries[i], col, num, &len);

		w = put_u32(w, (uint32_t) len);
		if (len > 0)
			memcpy(w, v, len);
		w += len;
	}
	return true;
}

/* Up to BATCH_MAX entries in one statement. */
static fedrpc_code
append_chunk(fedrpc_store_tx *tx, const fedrpc_store_inbox_entry *entries,
    size_t n, bool *appended, fedrpc_status *st)
{
	ProtobufCBinaryData users, clients, events;
	pg_params           p = {0};
	PGresult           *r;
	int                 rows;

	if (!column_array(tx, entries, n, COLUMN_USER, OID_TEXT, &users) ||
	    !column_array(tx, entries, n, COLUMN_CLIENT, OID_INT8, &clients) ||
	    !column_array(tx, entries, n, COLUMN_EVENT, OID_BYTEA, &events))
		return pg_nomem(st);
	pg_blob(&p, &users);
	pg_blob(&p, &clients);
	pg_blob(&p, &events);
	if ((r = pg_query(tx, SQL_ADD_CLIENTS, &p, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	for (int i = 0; i < rows && appended != NULL; i++) {
		int64_t ord = pg_get_i64(r, i, 0);

		if (ord >= 1 && (uint64_t) ord <= n)
			appended[ord - 1] = true;
	}
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_inbox_append_clients(fedrpc_store_tx *tx,
    const fedrpc_store_inbox_entry *entries, size_t n, bool *appended,
    fedrpc_status *st)
{
	if (appended != NULL)
		for (size_t i = 0; i < n; i++)
			appended[i] = false;
	for (size_t at = 0, k; at < n; at += k) {
		size_t bytes = entries[at].event.len;

		for (k = 1; at + k < n && k < BATCH_MAX; k++) {
			bytes += entries[at + k].event.len;
			if (bytes > BATCH_BYTES)
				break;
		}
		if (append_chunk(tx, entries + at, k,
		        appended != NULL ? appended + at : NULL, st) !=
		    FEDRPC_OK)
			return st->code;
	}
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
