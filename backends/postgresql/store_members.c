/*
 * Conversation members in PostgreSQL: one row per (conversation, user),
 * users and conversations of any domain, with the member's role. Rows do
 * not need their conversation's row (a member's backend may learn of a
 * member before the conversation, or keep one after it).
 */
#include "backends/postgresql/pg.h"

static const char SQL_PUT[] =
    "INSERT INTO members (conv_domain, conv_id, user_domain, user_id, role) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
    "(conv_domain, conv_id, user_domain, user_id) DO UPDATE SET role = $5";
static const char SQL_REMOVE[] =
    "DELETE FROM members WHERE conv_domain = $1 AND conv_id = $2 AND "
    "user_domain = $3 AND user_id = $4";
static const char SQL_REMOVE_ALL[] =
    "DELETE FROM members WHERE conv_domain = $1 AND conv_id = $2";
static const char SQL_LIST[] =
    "SELECT user_domain, user_id, role FROM members "
    "WHERE conv_domain = $1 AND conv_id = $2 ORDER BY user_domain, user_id";

static pg_params
member(const fedrpc_store_qid *conv, const fedrpc_store_qid *user)
{
	pg_params p = {0};

	pg_str(&p, conv->domain);
	pg_str(&p, conv->id);
	if (user != NULL) {
		pg_str(&p, user->domain);
		pg_str(&p, user->id);
	}
	return p;
}

fedrpc_code
pg_member_put(fedrpc_store_tx *tx, const fedrpc_store_qid *conv,
    const fedrpc_store_qid *user, int role, fedrpc_status *st)
{
	pg_params p = member(conv, user);

	pg_i64(&p, role);
	return pg_cmd(tx, SQL_PUT, &p, NULL, st);
}

fedrpc_code
pg_member_remove(fedrpc_store_tx *tx, const fedrpc_store_qid *conv,
    const fedrpc_store_qid *user, fedrpc_status *st)
{
	pg_params p = member(conv, user);

	return pg_cmd(tx, SQL_REMOVE, &p, NULL, st);
}

fedrpc_code
pg_member_remove_all(fedrpc_store_tx *tx, const fedrpc_store_qid *conv,
    fedrpc_status *st)
{
	pg_params p = member(conv, NULL);

	return pg_cmd(tx, SQL_REMOVE_ALL, &p, NULL, st);
}

fedrpc_code
pg_member_list(fedrpc_store_tx *tx, fedrpc_store_conversation *conv,
    fedrpc_status *st)
{
	pg_params                                    p = member(conv->id, NULL);
	PGresult                                    *r;
	Fedrpc__Federation__V1__ConversationMember **v;
	int                                          rows;

	conv->members   = NULL;
	conv->n_members = 0;
	if ((r = pg_query(tx, SQL_LIST, &p, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	if ((v = pg_alloc(tx, (size_t) rows * sizeof(*v))) == NULL)
		return pg_nomem_clear(r, st);
	for (int i = 0; i < rows; i++) {
		Fedrpc__Federation__V1__ConversationMember *m =
		    pg_alloc(tx, sizeof(*m));

		if (m == NULL)
			return pg_nomem_clear(r, st);
		fedrpc__federation__v1__conversation_member__init(m);
		m->id   = pg_get_qid(tx, r, i, 0);
		m->role = (int) pg_get_i64(r, i, 2);
		if (m->id == NULL)
			return pg_nomem_clear(r, st);
		v[i] = m;
	}
	PQclear(r);
	conv->members   = v;
	conv->n_members = (size_t) rows;
	return FEDRPC_OK;
}
