/*
 * Conversations in SQLite: the ones this backend owns and the copies it
 * keeps of remote-owned ones its users belong to (the owner is id.domain
 * either way), read and written with their members (store_members.c).
 */
#include <string.h>

#include "backends/sqlite/sq.h"

static const char SQL_PUT[] =
    "INSERT INTO conversations (domain, id, name, creator_domain, "
    "creator_id, created_ms, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
    "ON CONFLICT (domain, id) DO UPDATE SET name = ?3, "
    "creator_domain = ?4, creator_id = ?5, created_ms = ?6, version = ?7";
static const char SQL_GET[] =
    "SELECT name, creator_domain, creator_id, created_ms, version "
    "FROM conversations WHERE domain = ? AND id = ?";
static const char SQL_BUMP[] =
    "UPDATE conversations SET version = version + 1 "
    "WHERE domain = ? AND id = ? RETURNING version";
static const char SQL_DELETE[] =
    "DELETE FROM conversations WHERE domain = ? AND id = ?";
static const char SQL_RENAME[] =
    "UPDATE conversations SET name = ? WHERE domain = ? AND id = ?";
static const char SQL_OF_USER[] =
    "SELECT conv_domain, conv_id FROM members WHERE user_domain = ? AND "
    "user_id = ? ORDER BY conv_domain, conv_id";
static const char SQL_HAS_DOMAIN[] =
    "SELECT 1 FROM members WHERE conv_domain = ? AND conv_id = ? AND "
    "user_domain = ? LIMIT 1";

fedrpc_code
sq_conversation_put(fedrpc_store_tx *tx,
    const fedrpc_store_conversation *conv, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_PUT, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, conv->id->domain);
	sq_bind_str(s, 2, conv->id->id);
	sq_bind_str(s, 3, conv->name ? conv->name : "");
	sq_bind_str(s, 4, conv->creator->domain);
	sq_bind_str(s, 5, conv->creator->id);
	sqlite3_bind_int64(s, 6, conv->created_at_unix_ms);
	sq_bind_u64(s, 7, conv->version);
	if (sq_run(c, s, st) != FEDRPC_OK ||
	    sq_member_remove_all(tx, conv->id, st) != FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < conv->n_members; i++)
		if (sq_member_put(tx, conv->id, conv->members[i]->id,
		        conv->members[i]->role, st) != FEDRPC_OK)
			return st->code;
	return FEDRPC_OK;
}

/* The conversation row, without members. */
static fedrpc_code
read_row(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    fedrpc_store_conversation **out, fedrpc_status *st)
{
	sq_conn                   *c = sq_tx_conn(tx);
	sqlite3_stmt              *s = sq_stmt(c, SQL_GET, st);
	fedrpc_store_conversation *conv;
	int                        rc;

	*out = NULL;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id->domain);
	sq_bind_str(s, 2, id->id);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_DONE)
		return FEDRPC_OK;
	if ((conv = sq_alloc(tx, sizeof(*conv))) == NULL)
		goto nomem;
	fedrpc__federation__v1__conversation__init(conv);
	conv->name               = sq_col_str(tx, s, 0);
	conv->creator            = sq_col_qid(tx, s, 1);
	conv->created_at_unix_ms = sqlite3_column_int64(s, 3);
	conv->version            = sq_col_u64(s, 4);
	if ((conv->id = sq_alloc(tx, sizeof(*conv->id))) == NULL)
		goto nomem;
	fedrpc__federation__v1__qualified_id__init(conv->id);
	conv->id->domain = sq_alloc(tx, strlen(id->domain) + 1);
	conv->id->id     = sq_alloc(tx, strlen(id->id) + 1);
	if (conv->name == NULL || conv->creator == NULL ||
	    conv->id->domain == NULL || conv->id->id == NULL)
		goto nomem;
	strcpy(conv->id->domain, id->domain);
	strcpy(conv->id->id, id->id);
	sqlite3_reset(s);
	*out = conv;
	return FEDRPC_OK;

nomem:
	sqlite3_reset(s);
	return sq_nomem(st);
}

fedrpc_code
sq_conversation_get(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    fedrpc_store_conversation **out, bool *found, fedrpc_status *st)
{
	*found = false;
	if (read_row(tx, id, out, st) != FEDRPC_OK)
		return st->code;
	if (*out == NULL)
		return FEDRPC_OK;
	if (sq_member_list(tx, *out, st) != FEDRPC_OK) {
		*out = NULL;
		return st->code;
	}
	*found = true;
	return FEDRPC_OK;
}

static fedrpc_code
run_conv(fedrpc_store_tx *tx, const char *sql, const fedrpc_store_qid *id,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, sql, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id->domain);
	sq_bind_str(s, 2, id->id);
	return sq_run(c, s, st);
}

fedrpc_code
sq_conversation_delete(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    fedrpc_status *st)
{
	if (sq_member_remove_all(tx, id, st) != FEDRPC_OK)
		return st->code;
	return run_conv(tx, SQL_DELETE, id, st);
}

fedrpc_code
sq_conversation_bump(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    uint64_t *version, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_BUMP, st);
	uint64_t      v = 0;
	int           rc;

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id->domain);
	sq_bind_str(s, 2, id->id);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW)
		v = sq_col_u64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "sqlite store: no conversation %s@%s to bump", id->id,
		    id->domain);
	if (version != NULL)
		*version = v;
	return FEDRPC_OK;
}

fedrpc_code
sq_conversation_rename(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    const char *name, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_RENAME, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, name ? name : "");
	sq_bind_str(s, 2, id->domain);
	sq_bind_str(s, 3, id->id);
	return sq_run(c, s, st);
}

/* A conversation's qualified id, from column 0. */
static bool
qid_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	return (*(fedrpc_store_qid **) elem = sq_col_qid(tx, s, 0)) != NULL;
}

fedrpc_code
sq_conversation_list_of_user(fedrpc_store_tx *tx,
    const fedrpc_store_qid *user, fedrpc_store_qid ***out, size_t *n,
    fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_OF_USER, st);
	void         *v = NULL;
	fedrpc_code   rc;

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user->domain);
	sq_bind_str(s, 2, user->id);
	rc   = sq_rows(tx, s, sizeof(**out), qid_at, 0, &v, n, NULL, st);
	*out = v;
	return rc;
}

fedrpc_code
sq_conversation_has_member_of(fedrpc_store_tx *tx,
    const fedrpc_store_qid *conv, const char *domain, bool *any,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_HAS_DOMAIN, st);
	int           rc;

	*any = false;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, conv->domain);
	sq_bind_str(s, 2, conv->id);
	sq_bind_str(s, 3, domain);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	sqlite3_reset(s);
	*any = rc == SQLITE_ROW;
	return FEDRPC_OK;
}
