/*
 * Conversation members in SQLite: one row per (conversation, user), users
 * and conversations of any domain, with the member's role. Rows do not need
 * their conversation's row (a member's backend may learn of a member before
 * the conversation, or keep one after it).
 */
#include "backends/sqlite/sq.h"

static const char SQL_PUT[] =
    "INSERT INTO members (conv_domain, conv_id, user_domain, user_id, role) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET role = ?5";
static const char SQL_REMOVE[] =
    "DELETE FROM members WHERE conv_domain = ? AND conv_id = ? AND "
    "user_domain = ? AND user_id = ?";
static const char SQL_REMOVE_ALL[] =
    "DELETE FROM members WHERE conv_domain = ? AND conv_id = ?";
static const char SQL_LIST[] =
    "SELECT user_domain, user_id, role FROM members "
    "WHERE conv_domain = ? AND conv_id = ? ORDER BY user_domain, user_id";

/* A statement for one member row, its key bound. */
static sqlite3_stmt *
member_stmt(sq_conn *c, const char *sql, const fedrpc_store_qid *conv,
    const fedrpc_store_qid *user, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, sql, st);

	if (s != NULL) {
		sq_bind_str(s, 1, conv->domain);
		sq_bind_str(s, 2, conv->id);
		sq_bind_str(s, 3, user->domain);
		sq_bind_str(s, 4, user->id);
	}
	return s;
}

fedrpc_code
sq_member_put(fedrpc_store_tx *tx, const fedrpc_store_qid *conv,
    const fedrpc_store_qid *user, int role, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = member_stmt(c, SQL_PUT, conv, user, st);

	if (s == NULL)
		return st->code;
	sqlite3_bind_int(s, 5, role);
	return sq_run(c, s, st);
}

fedrpc_code
sq_member_remove(fedrpc_store_tx *tx, const fedrpc_store_qid *conv,
    const fedrpc_store_qid *user, fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = member_stmt(c, SQL_REMOVE, conv, user, st);

	return s == NULL ? st->code : sq_run(c, s, st);
}

fedrpc_code
sq_member_remove_all(fedrpc_store_tx *tx, const fedrpc_store_qid *conv,
    fedrpc_status *st)
{
	sq_conn      *c = sq_tx_conn(tx);
	sqlite3_stmt *s = sq_stmt(c, SQL_REMOVE_ALL, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, conv->domain);
	sq_bind_str(s, 2, conv->id);
	return sq_run(c, s, st);
}

/* One member from the current row. */
static Fedrpc__Federation__V1__ConversationMember *
row_member(fedrpc_store_tx *tx, sqlite3_stmt *s)
{
	Fedrpc__Federation__V1__ConversationMember *m = sq_alloc(tx, sizeof(*m));

	if (m == NULL)
		return NULL;
	fedrpc__federation__v1__conversation_member__init(m);
	m->id   = sq_col_qid(tx, s, 0);
	m->role = sqlite3_column_int(s, 2);
	return m->id != NULL ? m : NULL;
}

static bool
member_at(fedrpc_store_tx *tx, sqlite3_stmt *s, void *elem)
{
	return (*(Fedrpc__Federation__V1__ConversationMember **) elem =
	            row_member(tx, s)) != NULL;
}

fedrpc_code
sq_member_list(fedrpc_store_tx *tx, fedrpc_store_conversation *conv,
    fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(sq_tx_conn(tx), SQL_LIST, st);
	void         *v = NULL;
	size_t        n = 0;

	conv->members   = NULL;
	conv->n_members = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, conv->id->domain);
	sq_bind_str(s, 2, conv->id->id);
	if (sq_rows(tx, s, sizeof(*conv->members), member_at, 0, &v, &n, NULL,
	        st) != FEDRPC_OK)
		return st->code;
	conv->members   = v;
	conv->n_members = n;
	return FEDRPC_OK;
}
