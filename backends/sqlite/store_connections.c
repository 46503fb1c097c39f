/*
 * Connection sides in SQLite: each row is the side a local user keeps
 * towards another user (of any domain). A change of side puts a
 * ConnectionUpdated event in every inbox of the side's user.
 */
#include <string.h>

#include "backends/sqlite/sq.h"

static const char SQL_GET[] =
    "SELECT relation FROM connections "
    "WHERE from_id = ? AND to_domain = ? AND to_id = ?";
static const char SQL_PUT[] =
    "INSERT INTO connections (from_id, to_domain, to_id, relation, "
    "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (from_id, to_domain, to_id) DO UPDATE SET "
    "relation = ?4, updated_ms = ?5";
static const char SQL_LIST[] =
    "SELECT to_domain, to_id, relation, updated_ms FROM connections "
    "WHERE from_id = ? ORDER BY to_domain, to_id";
static const char SQL_TOWARDS[] =
    "SELECT from_id, relation FROM connections "
    "WHERE to_domain = ? AND to_id = ?";
static const char SQL_DELETE_TOWARDS[] =
    "DELETE FROM connections WHERE to_domain = ? AND to_id = ?";
static const char SQL_DELETE_ONE[] =
    "DELETE FROM connections "
    "WHERE from_id = ? AND to_domain = ? AND to_id = ?";
static const char SQL_DELETE_FROM[] =
    "DELETE FROM connections WHERE from_id = ?";

fedrpc_code
sq_conn_get(sq_conn *c, const char *from, const adp_qid *to,
    adp_relation *rel, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_GET, st);
	int           rc;

	*rel = ADP_REL_CANCELLED;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, from);
	sq_bind_str(s, 2, to->domain);
	sq_bind_str(s, 3, to->id);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	if (rc == SQLITE_ROW)
		*rel = (adp_relation) sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	return FEDRPC_OK;
}

static Fedrpc__Local__V1__Connection *
conn_msg(fedrpc_ctx *ctx, const char *domain, const char *from,
    const char *to_domain, const char *to_id, adp_relation rel, int64_t ms)
{
	Fedrpc__Local__V1__Connection *m = fedrpc_ctx_alloc(ctx, sizeof(*m));

	if (m == NULL)
		return NULL;
	fedrpc__local__v1__connection__init(m);
	if ((m->from = adp_qid_new(ctx, domain, from)) == NULL ||
	    (m->to = adp_qid_new(ctx, to_domain, to_id)) == NULL)
		return NULL;
	m->relation            = rel;
	m->last_update_unix_ms = ms;
	return m;
}

fedrpc_code
sq_conn_set(sq_conn *c, fedrpc_ctx *ctx, const char *domain, const char *from,
    const adp_qid *to, adp_relation rel, int64_t now,
    Fedrpc__Local__V1__Connection **out, fedrpc_status *st)
{
	adp_relation                    old;
	sqlite3_stmt                   *s;
	Fedrpc__Local__V1__Connection  *m;
	int                             have = 0;
	int                             rc;

	if ((s = sq_stmt(c, SQL_GET, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, from);
	sq_bind_str(s, 2, to->domain);
	sq_bind_str(s, 3, to->id);
	if ((rc = sq_step(c, s, st)) < 0)
		return st->code;
	have = rc == SQLITE_ROW;
	old  = have ? (adp_relation) sqlite3_column_int(s, 0)
		    : ADP_REL_CANCELLED;
	sqlite3_reset(s);
	if ((m = conn_msg(ctx, domain, from, to->domain, to->id, rel, now)) ==
	    NULL)
		return SQ_NOMEM(st);
	if (out != NULL)
		*out = m;
	if (have && old == rel)
		return FEDRPC_OK;
	if ((s = sq_stmt(c, SQL_PUT, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, from);
	sq_bind_str(s, 2, to->domain);
	sq_bind_str(s, 3, to->id);
	sqlite3_bind_int(s, 4, (int) rel);
	sqlite3_bind_int64(s, 5, now);
	if (sq_run(c, s, st) != FEDRPC_OK)
		return st->code;
	{
		sq_event                            *ev = sq_event_new(ctx, now);
		Fedrpc__Local__V1__ConnectionUpdated cu =
		    FEDRPC__LOCAL__V1__CONNECTION_UPDATED__INIT;

		if (ev == NULL)
			return SQ_NOMEM(st);
		cu.connection          = m;
		ev->payload_case       = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED;
		ev->connection_updated = &cu;
		return sq_inbox_user_event(c, from, ev, st);
	}
}

fedrpc_code
sq_conn_list(sq_conn *c, fedrpc_ctx *ctx, const char *domain,
    const char *from, Fedrpc__Local__V1__Connection ***out, size_t *n,
    fedrpc_status *st)
{
	sqlite3_stmt                   *s = sq_stmt(c, SQL_LIST, st);
	Fedrpc__Local__V1__Connection **v = NULL;
	size_t                          cap = 0;
	int                             rc;

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, from);
	while ((rc = sq_step(c, s, st)) == SQLITE_ROW) {
		if (*n == cap) {
			Fedrpc__Local__V1__Connection **nv;

			cap = cap ? 2 * cap : 16;
			if ((nv = adp_ptrs(ctx, cap)) == NULL)
				return SQ_NOMEM(st);
			if (*n > 0)
				memcpy(nv, v, *n * sizeof(*v));
			v = nv;
		}
		v[*n] = conn_msg(ctx, domain, from,
		    (const char *) sqlite3_column_text(s, 0),
		    (const char *) sqlite3_column_text(s, 1),
		    (adp_relation) sqlite3_column_int(s, 2),
		    sqlite3_column_int64(s, 3));
		if (v[*n] == NULL)
			return SQ_NOMEM(st);
		(*n)++;
	}
	if (rc < 0)
		return st->code;
	sqlite3_reset(s);
	*out = v;
	return FEDRPC_OK;
}

fedrpc_code
sq_conn_drop_towards(sq_conn *c, fedrpc_ctx *ctx, const adp_qid *to,
    char ***from, adp_relation **rels, size_t *n, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_TOWARDS, st);
	size_t        cap = 0;
	int           rc;

	*from = NULL;
	*rels = NULL;
	*n    = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, to->domain);
	sq_bind_str(s, 2, to->id);
	while ((rc = sq_step(c, s, st)) == SQLITE_ROW) {
		if (*n == cap) {
			char        **nf;
			adp_relation *nr;

			cap = cap ? 2 * cap : 16;
			if ((nf = adp_ptrs(ctx, cap)) == NULL ||
			    (nr = fedrpc_ctx_alloc(ctx, cap * sizeof(*nr))) ==
			        NULL)
				return SQ_NOMEM(st);
			if (*n > 0) {
				memcpy(nf, *from, *n * sizeof(*nf));
				memcpy(nr, *rels, *n * sizeof(*nr));
			}
			*from = nf;
			*rels = nr;
		}
		if (((*from)[*n] = sq_col_str(ctx, s, 0)) == NULL)
			return SQ_NOMEM(st);
		(*rels)[*n] = (adp_relation) sqlite3_column_int(s, 1);
		(*n)++;
	}
	if (rc < 0)
		return st->code;
	sqlite3_reset(s);
	if ((s = sq_stmt(c, SQL_DELETE_TOWARDS, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, to->domain);
	sq_bind_str(s, 2, to->id);
	return sq_run(c, s, st);
}

fedrpc_code
sq_conn_delete(
    sq_conn *c, const char *from, const adp_qid *to, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_DELETE_ONE, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, from);
	sq_bind_str(s, 2, to->domain);
	sq_bind_str(s, 3, to->id);
	return sq_run(c, s, st);
}

fedrpc_code
sq_conn_drop_from(sq_conn *c, fedrpc_ctx *ctx, const char *from,
    adp_qid ***to, adp_relation **rels, size_t *n, fedrpc_status *st)
{
	Fedrpc__Local__V1__Connection **list;
	sqlite3_stmt                   *s;

	*to   = NULL;
	*rels = NULL;
	if (sq_conn_list(c, ctx, "-", from, &list, n, st) != FEDRPC_OK)
		return st->code;
	if ((*to = adp_ptrs(ctx, *n)) == NULL ||
	    (*rels = fedrpc_ctx_alloc(ctx, (*n + 1) * sizeof(**rels))) == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < *n; i++) {
		(*to)[i]   = list[i]->to;
		(*rels)[i] = list[i]->relation;
	}
	if ((s = sq_stmt(c, SQL_DELETE_FROM, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, from);
	return sq_run(c, s, st);
}
