/*
 * Conversations in PostgreSQL: the ones this backend owns and the copies
 * it keeps of remote-owned ones its users belong to (the owner is
 * id.domain either way), read and written with their members
 * (store_members.c).
 */
#include <string.h>

#include "backends/postgresql/pg.h"

static const char SQL_PUT[] =
    "INSERT INTO conversations (domain, id, name, creator_domain, "
    "creator_id, created_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (domain, id) DO UPDATE SET name = $3, "
    "creator_domain = $4, creator_id = $5, created_ms = $6, version = $7";
static const char SQL_GET[] =
    "SELECT name, creator_domain, creator_id, created_ms, version "
    "FROM conversations WHERE domain = $1 AND id = $2";
static const char SQL_BUMP[] =
    "UPDATE conversations SET version = version + 1 "
    "WHERE domain = $1 AND id = $2 RETURNING version";
static const char SQL_DELETE[] =
    "DELETE FROM conversations WHERE domain = $1 AND id = $2";
static const char SQL_RENAME[] =
    "UPDATE conversations SET name = $3 WHERE domain = $1 AND id = $2";
static const char SQL_OF_USER[] =
    "SELECT conv_domain, conv_id FROM members WHERE user_domain = $1 AND "
    "user_id = $2 ORDER BY conv_domain, conv_id";
static const char SQL_HAS_DOMAIN[] =
    "SELECT 1 FROM members WHERE conv_domain = $1 AND conv_id = $2 AND "
    "user_domain = $3 LIMIT 1";

static pg_params
qid(const fedrpc_store_qid *id)
{
	pg_params p = {0};

	pg_str(&p, id->domain);
	pg_str(&p, id->id);
	return p;
}

fedrpc_code
pg_conversation_put(fedrpc_store_tx *tx,
    const fedrpc_store_conversation *conv, fedrpc_status *st)
{
	pg_params p = qid(conv->id);

	pg_str(&p, conv->name ? conv->name : "");
	pg_str(&p, conv->creator->domain);
	pg_str(&p, conv->creator->id);
	pg_i64(&p, conv->created_at_unix_ms);
	pg_u64(&p, conv->version);
	if (pg_cmd(tx, SQL_PUT, &p, NULL, st) != FEDRPC_OK ||
	    pg_member_remove_all(tx, conv->id, st) != FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < conv->n_members; i++)
		if (pg_member_put(tx, conv->id, conv->members[i]->id,
		        conv->members[i]->role, st) != FEDRPC_OK)
			return st->code;
	return FEDRPC_OK;
}

static char *
dup_str(fedrpc_store_tx *tx, const char *s)
{
	char *p = pg_alloc(tx, strlen(s) + 1);

	if (p != NULL)
		strcpy(p, s);
	return p;
}

/* The conversation row, without members. */
static fedrpc_code
read_row(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    fedrpc_store_conversation **out, fedrpc_status *st)
{
	pg_params                  p = qid(id);
	PGresult                  *r;
	fedrpc_store_conversation *conv;

	*out = NULL;
	if ((r = pg_query(tx, SQL_GET, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return FEDRPC_OK;
	}
	if ((conv = pg_alloc(tx, sizeof(*conv))) == NULL)
		return pg_nomem_clear(r, st);
	fedrpc__federation__v1__conversation__init(conv);
	conv->name               = pg_get_str(tx, r, 0, 0);
	conv->creator            = pg_get_qid(tx, r, 0, 1);
	conv->created_at_unix_ms = pg_get_i64(r, 0, 3);
	conv->version            = pg_get_u64(r, 0, 4);
	PQclear(r);
	if ((conv->id = pg_alloc(tx, sizeof(*conv->id))) == NULL)
		return pg_nomem(st);
	fedrpc__federation__v1__qualified_id__init(conv->id);
	conv->id->domain = dup_str(tx, id->domain);
	conv->id->id     = dup_str(tx, id->id);
	if (conv->name == NULL || conv->creator == NULL ||
	    conv->id->domain == NULL || conv->id->id == NULL)
		return pg_nomem(st);
	*out = conv;
	return FEDRPC_OK;
}

fedrpc_code
pg_conversation_get(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    fedrpc_store_conversation **out, bool *found, fedrpc_status *st)
{
	*found = false;
	if (read_row(tx, id, out, st) != FEDRPC_OK)
		return st->code;
	if (*out == NULL)
		return FEDRPC_OK;
	if (pg_member_list(tx, *out, st) != FEDRPC_OK) {
		*out = NULL;
		return st->code;
	}
	*found = true;
	return FEDRPC_OK;
}

fedrpc_code
pg_conversation_delete(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    fedrpc_status *st)
{
	pg_params p = qid(id);

	if (pg_member_remove_all(tx, id, st) != FEDRPC_OK)
		return st->code;
	return pg_cmd(tx, SQL_DELETE, &p, NULL, st);
}

fedrpc_code
pg_conversation_bump(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    uint64_t *version, fedrpc_status *st)
{
	pg_params p = qid(id);
	PGresult *r;
	uint64_t  v;

	if ((r = pg_query(tx, SQL_BUMP, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "postgresql store: no conversation %s@%s to bump", id->id,
		    id->domain);
	}
	v = pg_get_u64(r, 0, 0);
	PQclear(r);
	if (version != NULL)
		*version = v;
	return FEDRPC_OK;
}

fedrpc_code
pg_conversation_rename(fedrpc_store_tx *tx, const fedrpc_store_qid *id,
    const char *name, fedrpc_status *st)
{
	pg_params p = qid(id);

	pg_str(&p, name ? name : "");
	return pg_cmd(tx, SQL_RENAME, &p, NULL, st);
}

fedrpc_code
pg_conversation_list_of_user(fedrpc_store_tx *tx,
    const fedrpc_store_qid *user, fedrpc_store_qid ***out, size_t *n,
    fedrpc_status *st)
{
	pg_params          p = qid(user);
	PGresult          *r;
	fedrpc_store_qid **v;
	int                rows;

	*out = NULL;
	*n   = 0;
	if ((r = pg_query(tx, SQL_OF_USER, &p, st)) == NULL)
		return st->code;
	rows = PQntuples(r);
	if ((v = pg_alloc(tx, (size_t) rows * sizeof(*v))) == NULL)
		return pg_nomem_clear(r, st);
	for (int i = 0; i < rows; i++)
		if ((v[i] = pg_get_qid(tx, r, i, 0)) == NULL)
			return pg_nomem_clear(r, st);
	PQclear(r);
	*out = v;
	*n   = (size_t) rows;
	return FEDRPC_OK;
}

fedrpc_code
pg_conversation_has_member_of(fedrpc_store_tx *tx,
    const fedrpc_store_qid *conv, const char *domain, bool *any,
    fedrpc_status *st)
{
	pg_params p = qid(conv);
	PGresult *r;

	*any = false;
	pg_str(&p, domain);
	if ((r = pg_query(tx, SQL_HAS_DOMAIN, &p, st)) == NULL)
		return st->code;
	*any = PQntuples(r) > 0;
	PQclear(r);
	return FEDRPC_OK;
}
