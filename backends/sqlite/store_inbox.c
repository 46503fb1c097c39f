/*
 * Per-client inboxes in SQLite. An event (opaque bytes here) is stored for
 * each client it is for under that client's next event id, kept in the
 * client's row, so that ids only grow and are never reused, even after
 * acknowledgement.
 */
#include <stdint.h>

#include "backends/sqlite/sq.h"

/* Every client of the user gets the event under its own next id. */
static const char SQL_ADD_USER[] =
    "INSERT INTO inbox (user_id, client, id, event) "
    "SELECT user_id, id, next_event, ?2 FROM clients WHERE user_id = ?1";
static const char SQL_BUMP_USER[] =
    "UPDATE clients SET next_event = next_event + 1 WHERE user_id = ?";
static const char SQL_ADD_CLIENT[] =
    "INSERT INTO inbox (user_id, client, id, event) "
    "SELECT user_id, id, next_event, ?3 FROM clients "
    "WHERE user_id = ?1 AND id = ?2";
static const char SQL_BUMP_CLIENT[] =
    "UPDATE clients SET next_event = next_event + 1 "
    "WHERE user_id = ? AND id = ?";
static const char SQL_FETCH[] =
    "SELECT id, event FROM inbox WHERE user_id = ? AND client = ? "
    "AND id > ? ORDER BY id LIMIT ?";
static const char SQL_ACK[] =
    "DELETE FROM inbox WHERE user_id = ? AND client = ? AND id <= ?";

/* Ids are stored as signed 64-bit numbers; larger bounds mean "all". */
static sqlite3_int64
id_bound(uint64_t v)
{
	return (sqlite3_int64) (v > INT64_MAX ? INT64_MAX : v);
}

fedrpc_code
sq_inbox_append_user(fedrpc_store_tx *tx, const char *user,
    const ProtobufCBinaryData *event, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s;

	if ((s = sq_stmt(c, SQL_ADD_USER, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_blob(s, 2, event);
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	if ((s = sq_stmt(c, SQL_BUMP_USER, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	return sq_run(c, s, st);
}

fedrpc_code
sq_inbox_append_client(fedrpc_store_tx *tx, const char *user,
    uint64_t client, const ProtobufCBinaryData *event, bool *appended,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s;

	*appended = false;
	if ((s = sq_stmt(c, SQL_ADD_CLIENT, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sq_bind_blob(s, 3, event);
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	if (sq_changes(c) == 0)
		return FEDRPC_OK; /* no such client */
	if ((s = sq_stmt(c, SQL_BUMP_CLIENT, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	*appended = true;
	return FEDRPC_OK;
}

/* SQLite runs in the process: the batch is the single append's two
 * prepared statements per entry, with no round trip to save. */
fedrpc_code
sq_inbox_append_clients(fedrpc_store_tx *tx,
    const fedrpc_store_inbox_entry *entries, size_t n, bool *appended,
    fedrpc_status *st)
{
	for (size_t i = 0; i < n; i++) {
		const fedrpc_store_inbox_entry *e = &entries[i];
		bool                            ok;

		if (sq_inbox_append_client(tx, e->user, e->client, &e->event,
		        &ok, st) != FEDRPC_OK)
			return st->code;
		if (appended != NULL)
			appended[i] = ok;
	}
	return FEDRPC_OK;
}

/* One event, from a row of SQL_FETCH. */
static bool
event_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	fedrpc_store_event *ev = elem;

	ev->id = sq_col_u64(s, 0);
	return sq_col_blob(tx, s, 1, &ev->data);
}

fedrpc_code
sq_inbox_fetch(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint64_t after, uint32_t limit, fedrpc_store_event **out, size_t *n,
    bool *more, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_FETCH, st);
	void         *v = NULL;
	fedrpc_code   rc;

	*out  = NULL;
	*n    = 0;
	*more = false;
	if (s == NULL)
		return st->code;
	if (limit == 0)
		limit = 1;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int64(s, 3, id_bound(after));
	/* One more than asked tells whether more follow. */
	sqlite3_bind_int64(s, 4, (sqlite3_int64) limit + 1);
	rc   = sq_rows(tx, s, sizeof(**out), event_at, limit, &v, n, more, st);
	*out = v;
	return rc;
}

fedrpc_code
sq_inbox_ack(fedrpc_store_tx *tx, const char *user, uint64_t client,
    uint64_t up_to, uint64_t *deleted, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_ACK, st);

	*deleted = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int64(s, 3, id_bound(up_to));
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	*deleted = (uint64_t) sq_changes(c);
	return FEDRPC_OK;
}
