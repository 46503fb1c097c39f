/*
 * Conversations and their members in SQLite: the ones this backend owns and
 * the copies it keeps of remote-owned ones its users belong to (the owner
 * is id.domain either way). Members are of any domain.
 */
#include <string.h>

#include "backends/sqlite/sq.h"

static const char SQL_PUT[] =
    "INSERT INTO conversations (domain, id, name, creator_domain, "
    "creator_id, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT (domain, id) DO UPDATE SET name = ?3, "
    "creator_domain = ?4, creator_id = ?5, created_ms = ?6";
static const char SQL_GET[] =
    "SELECT name, creator_domain, creator_id, created_ms FROM conversations "
    "WHERE domain = ? AND id = ?";
static const char SQL_MEMBERS[] =
    "SELECT user_domain, user_id, role FROM members "
    "WHERE conv_domain = ? AND conv_id = ? ORDER BY user_domain, user_id";
static const char SQL_DELETE[] =
    "DELETE FROM conversations WHERE domain = ? AND id = ?";
static const char SQL_DELETE_MEMBERS[] =
    "DELETE FROM members WHERE conv_domain = ? AND conv_id = ?";
static const char SQL_RENAME[] =
    "UPDATE conversations SET name = ? WHERE domain = ? AND id = ?";
static const char SQL_MEMBER_ADD[] =
    "INSERT INTO members (conv_domain, conv_id, user_domain, user_id, role) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET role = ?5";
static const char SQL_MEMBER_REMOVE[] =
    "DELETE FROM members WHERE conv_domain = ? AND conv_id = ? AND "
    "user_domain = ? AND user_id = ?";
static const char SQL_OF_USER[] =
    "SELECT conv_domain, conv_id FROM members WHERE user_domain = ? AND "
    "user_id = ? ORDER BY conv_domain, conv_id";
static const char SQL_HAS_DOMAIN[] =
    "SELECT 1 FROM members WHERE conv_domain = ? AND conv_id = ? AND "
    "user_domain = ? LIMIT 1";

static fedrpc_code
run_conv(sq_conn *c, const char *sql, const adp_qid *id, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, sql, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id->domain);
	sq_bind_str(s, 2, id->id);
	return sq_run(c, s, st);
}

fedrpc_code
sq_conv_put(sq_conn *c, const sq_conversation *conv, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_PUT, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, conv->id->domain);
	sq_bind_str(s, 2, conv->id->id);
	sq_bind_str(s, 3, conv->name ? conv->name : "");
	sq_bind_str(s, 4, conv->creator->domain);
	sq_bind_str(s, 5, conv->creator->id);
	sqlite3_bind_int64(s, 6, conv->created_at_unix_ms);
	if (sq_run(c, s, st) != FEDRPC_OK ||
	    run_conv(c, SQL_DELETE_MEMBERS, conv->id, st) != FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < conv->n_members; i++)
		if (sq_member_add(c, conv->id, conv->members[i]->id,
		        conv->members[i]->role, st) != FEDRPC_OK)
			return st->code;
	return FEDRPC_OK;
}

int
sq_conv_get(sq_conn *c, fedrpc_ctx *ctx, const adp_qid *id,
    sq_conversation **out, fedrpc_status *st)
{
	sqlite3_stmt    *s = sq_stmt(c, SQL_GET, st);
	sq_conversation *conv;
	size_t           cap = 0;
	int              rc;

	*out = NULL;
	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, id->domain);
	sq_bind_str(s, 2, id->id);
	if ((rc = sq_step(c, s, st)) < 0)
		return -1;
	if (rc == SQLITE_DONE)
		return 0;
	if ((conv = fedrpc_ctx_alloc(ctx, sizeof(*conv))) == NULL)
		goto nomem;
	fedrpc__federation__v1__conversation__init(conv);
	conv->id                 = adp_qid_dup(ctx, id);
	conv->name               = sq_col_str(ctx, s, 0);
	conv->creator            = adp_qid_new(ctx,
            (const char *) sqlite3_column_text(s, 1),
            (const char *) sqlite3_column_text(s, 2));
	conv->created_at_unix_ms = sqlite3_column_int64(s, 3);
	sqlite3_reset(s);
	if (conv->id == NULL || conv->name == NULL || conv->creator == NULL)
		goto nomem;
	if ((s = sq_stmt(c, SQL_MEMBERS, st)) == NULL)
		return -1;
	sq_bind_str(s, 1, id->domain);
	sq_bind_str(s, 2, id->id);
	while ((rc = sq_step(c, s, st)) == SQLITE_ROW) {
		Fedrpc__Federation__V1__ConversationMember *m;

		if (conv->n_members == cap) {
			Fedrpc__Federation__V1__ConversationMember **nv;

			cap = cap ? 2 * cap : 16;
			if ((nv = adp_ptrs(ctx, cap)) == NULL)
				goto nomem;
			if (conv->n_members > 0)
				memcpy(nv, conv->members,
				    conv->n_members * sizeof(*nv));
			conv->members = nv;
		}
		if ((m = fedrpc_ctx_alloc(ctx, sizeof(*m))) == NULL)
			goto nomem;
		fedrpc__federation__v1__conversation_member__init(m);
		m->id   = adp_qid_new(ctx, (const char *) sqlite3_column_text(s, 0),
                    (const char *) sqlite3_column_text(s, 1));
		m->role = sqlite3_column_int(s, 2);
		if (m->id == NULL)
			goto nomem;
		conv->members[conv->n_members++] = m;
	}
	if (rc < 0)
		return -1;
	sqlite3_reset(s);
	*out = conv;
	return 1;

nomem:
	SQ_NOMEM(st);
	return -1;
}

fedrpc_code
sq_conv_delete(sq_conn *c, const adp_qid *id, fedrpc_status *st)
{
	if (run_conv(c, SQL_DELETE_MEMBERS, id, st) != FEDRPC_OK)
		return st->code;
	return run_conv(c, SQL_DELETE, id, st);
}

fedrpc_code
sq_conv_set_name(
    sq_conn *c, const adp_qid *id, const char *name, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_RENAME, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, name ? name : "");
	sq_bind_str(s, 2, id->domain);
	sq_bind_str(s, 3, id->id);
	return sq_run(c, s, st);
}

fedrpc_code
sq_member_add(sq_conn *c, const adp_qid *conv, const adp_qid *user, int role,
    fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_MEMBER_ADD, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, conv->domain);
	sq_bind_str(s, 2, conv->id);
	sq_bind_str(s, 3, user->domain);
	sq_bind_str(s, 4, user->id);
	sqlite3_bind_int(s, 5, role);
	return sq_run(c, s, st);
}

fedrpc_code
sq_member_remove(sq_conn *c, const adp_qid *conv, const adp_qid *user,
    fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_MEMBER_REMOVE, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, conv->domain);
	sq_bind_str(s, 2, conv->id);
	sq_bind_str(s, 3, user->domain);
	sq_bind_str(s, 4, user->id);
	return sq_run(c, s, st);
}

fedrpc_code
sq_conv_of_user(sq_conn *c, fedrpc_ctx *ctx, const adp_qid *user,
    adp_qid ***out, size_t *n, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_OF_USER, st);
	size_t        cap = 0;
	int           rc;

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user->domain);
	sq_bind_str(s, 2, user->id);
	while ((rc = sq_step(c, s, st)) == SQLITE_ROW) {
		if (*n == cap) {
			adp_qid **nv;

			cap = cap ? 2 * cap : 16;
			if ((nv = adp_ptrs(ctx, cap)) == NULL)
				return SQ_NOMEM(st);
			if (*n > 0)
				memcpy(nv, *out, *n * sizeof(*nv));
			*out = nv;
		}
		if (((*out)[*n] = adp_qid_new(ctx,
		         (const char *) sqlite3_column_text(s, 0),
		         (const char *) sqlite3_column_text(s, 1))) == NULL)
			return SQ_NOMEM(st);
		(*n)++;
	}
	if (rc < 0)
		return st->code;
	sqlite3_reset(s);
	return FEDRPC_OK;
}

int
sq_conv_has_domain_member(
    sq_conn *c, const adp_qid *conv, const char *domain, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_HAS_DOMAIN, st);
	int           rc;

	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, conv->domain);
	sq_bind_str(s, 2, conv->id);
	sq_bind_str(s, 3, domain);
	if ((rc = sq_step(c, s, st)) < 0)
		return -1;
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : 0;
}
