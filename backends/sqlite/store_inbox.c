/*
 * Per-client inboxes in SQLite. An event is packed once and stored for each
 * client it is for under that client's next event id (kept in the client's
 * row, so ids only grow and are never reused, even after acknowledgement).
 */
#include <stdlib.h>
#include <string.h>

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

#define FETCH_DEFAULT 100
#define FETCH_MAX 1000

sq_event *
sq_event_new(fedrpc_ctx *ctx, int64_t now)
{
	sq_event *ev = fedrpc_ctx_alloc(ctx, sizeof(*ev));

	if (ev != NULL) {
		fedrpc__local__v1__event__init(ev);
		ev->time_unix_ms = now;
	}
	return ev;
}

/* Packs an event into a malloc'd buffer. */
static uint8_t *
pack_event(const sq_event *ev, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(&ev->base);
	if ((buf = malloc(*len ? *len : 1)) != NULL)
		protobuf_c_message_pack(&ev->base, buf);
	return buf;
}

fedrpc_code
sq_inbox_user_event(
    sq_conn *c, const char *user, const sq_event *ev, fedrpc_status *st)
{
	sqlite3_stmt *s;
	uint8_t      *buf;
	size_t        len;
	fedrpc_code   rc = FEDRPC_OK;

	if ((buf = pack_event(ev, &len)) == NULL)
		return SQ_NOMEM(st);
	if ((s = sq_stmt(c, SQL_ADD_USER, st)) == NULL) {
		rc = st->code;
		goto out;
	}
	sq_bind_str(s, 1, user);
	sqlite3_bind_blob(s, 2, buf, (int) len, SQLITE_STATIC);
	if ((rc = sq_run(c, s, st)) != FEDRPC_OK)
		goto out;
	if ((s = sq_stmt(c, SQL_BUMP_USER, st)) == NULL) {
		rc = st->code;
		goto out;
	}
	sq_bind_str(s, 1, user);
	rc = sq_run(c, s, st);
out:
	free(buf);
	return rc;
}

fedrpc_code
sq_inbox_client_event(sq_conn *c, const char *user, uint64_t client,
    const sq_event *ev, fedrpc_status *st)
{
	sqlite3_stmt *s;
	uint8_t      *buf;
	size_t        len;
	fedrpc_code   rc = FEDRPC_OK;

	if ((buf = pack_event(ev, &len)) == NULL)
		return SQ_NOMEM(st);
	if ((s = sq_stmt(c, SQL_ADD_CLIENT, st)) == NULL) {
		rc = st->code;
		goto out;
	}
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_blob(s, 3, buf, (int) len, SQLITE_STATIC);
	if ((rc = sq_run(c, s, st)) != FEDRPC_OK || sq_changes(c) == 0)
		goto out;
	if ((s = sq_stmt(c, SQL_BUMP_CLIENT, st)) == NULL) {
		rc = st->code;
		goto out;
	}
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	rc = sq_run(c, s, st);
out:
	free(buf);
	return rc;
}

fedrpc_code
sq_inbox_fetch(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    uint64_t client, uint64_t since, uint32_t limit, sq_event ***out,
    size_t *n, bool *more, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_FETCH, st);
	int           rc;

	*out  = NULL;
	*n    = 0;
	*more = false;
	if (s == NULL)
		return st->code;
	if (limit == 0)
		limit = FETCH_DEFAULT;
	if (limit > FETCH_MAX)
		limit = FETCH_MAX;
	if ((*out = adp_ptrs(ctx, limit)) == NULL)
		return SQ_NOMEM(st);
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int64(s, 3, (sqlite3_int64) (since > INT64_MAX ? INT64_MAX
								   : since));
	/* One more than asked tells whether more follow. */
	sqlite3_bind_int64(s, 4, (sqlite3_int64) limit + 1);
	while ((rc = sq_step(c, s, st)) == SQLITE_ROW) {
		sq_event *ev;

		if (*n == limit) {
			*more = true;
			break;
		}
		ev = (sq_event *) protobuf_c_message_unpack(
		    &fedrpc__local__v1__event__descriptor,
		    fedrpc_ctx_allocator(ctx),
		    (size_t) sqlite3_column_bytes(s, 1),
		    sqlite3_column_blob(s, 1));
		if (ev == NULL)
			return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
			    "inbox event %lld of %s/%llx cannot be decoded",
			    (long long) sqlite3_column_int64(s, 0), user,
			    (unsigned long long) client);
		ev->id        = sq_col_u64(s, 0);
		(*out)[(*n)++] = ev;
	}
	if (rc < 0)
		return st->code;
	sqlite3_reset(s);
	return FEDRPC_OK;
}

fedrpc_code
sq_inbox_ack(sq_conn *c, const char *user, uint64_t client, uint64_t up_to,
    uint64_t *deleted, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_ACK, st);

	*deleted = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int64(s, 3, (sqlite3_int64) (up_to > INT64_MAX ? INT64_MAX
								    : up_to));
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	*deleted = (uint64_t) sq_changes(c);
	return FEDRPC_OK;
}
