/*
 * Users and their handles in SQLite: registration, lookups by id and by
 * handle, search (exact handle, then prefixes), deletion (the row stays so
 * that the id reads as deleted; the handle is freed).
 */
#include <ctype.h>
#include <string.h>

#include "backends/sqlite/sq.h"

static const char SQL_INSERT[] =
    "INSERT INTO users (id, handle, name, created_ms) VALUES (?, ?, ?, ?)";
static const char SQL_GET[] =
    "SELECT id, coalesce(handle, ''), name, deleted FROM users WHERE id = ?";
static const char SQL_BY_HANDLE[] =
    "SELECT id, coalesce(handle, ''), name, deleted FROM users "
    "WHERE handle = ? AND deleted = 0";
/* ?1 exact term, ?2 LIKE pattern for prefixes, ?3 for name words. */
static const char SQL_SEARCH_FULL[] =
    "SELECT id, handle, name, deleted FROM users WHERE deleted = 0 AND ("
    " handle = ?1 OR handle LIKE ?2 ESCAPE '\\' OR"
    " lower(name) LIKE ?2 ESCAPE '\\' OR lower(name) LIKE ?3 ESCAPE '\\')"
    " ORDER BY (handle = ?1) DESC, handle LIMIT 15";
static const char SQL_DELETE[] =
    "UPDATE users SET deleted = 1, handle = NULL, name = '' WHERE id = ?";

fedrpc_code
sq_user_insert(sq_conn *c, const char *id, const char *handle,
    const char *name, int64_t now, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_INSERT, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id);
	sq_bind_str(s, 2, handle);
	sq_bind_str(s, 3, name);
	sqlite3_bind_int64(s, 4, now);
	if (sq_run(c, s, st) != FEDRPC_OK) {
		if (st->code == FEDRPC_ALREADY_EXISTS)
			fedrpc_status_set(st, FEDRPC_ALREADY_EXISTS,
			    "handle '%s' is taken", handle);
		return st->code;
	}
	return FEDRPC_OK;
}

/* The current row into out. */
static int
row_user(fedrpc_ctx *ctx, sqlite3_stmt *s, sq_user *out, fedrpc_status *st)
{
	out->id      = sq_col_str(ctx, s, 0);
	out->handle  = sq_col_str(ctx, s, 1);
	out->name    = sq_col_str(ctx, s, 2);
	out->deleted = sqlite3_column_int(s, 3) != 0;
	if (out->id == NULL || out->handle == NULL || out->name == NULL) {
		SQ_NOMEM(st);
		return -1;
	}
	return 1;
}

/* One row: 1 found, 0 none, -1 error; the statement is reset. */
static int
read_user(sq_conn *c, fedrpc_ctx *ctx, sqlite3_stmt *s, sq_user *out,
    fedrpc_status *st)
{
	int rc = sq_step(c, s, st);

	if (rc < 0)
		return -1;
	if (rc == SQLITE_DONE)
		return 0;
	rc = row_user(ctx, s, out, st);
	sqlite3_reset(s);
	return rc;
}

int
sq_user_get(sq_conn *c, fedrpc_ctx *ctx, const char *id, sq_user *out,
    fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_GET, st);

	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, id);
	return read_user(c, ctx, s, out, st);
}

int
sq_user_by_handle(sq_conn *c, fedrpc_ctx *ctx, const char *handle,
    sq_user *out, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_BY_HANDLE, st);

	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, handle);
	return read_user(c, ctx, s, out, st);
}

sq_profile *
sq_user_profile(fedrpc_ctx *ctx, const char *domain, const sq_user *u)
{
	sq_profile *p = fedrpc_ctx_alloc(ctx, sizeof(*p));

	if (p == NULL)
		return NULL;
	fedrpc__federation__v1__user_profile__init(p);
	if ((p->id = adp_qid_new(ctx, domain, u->id)) == NULL)
		return NULL;
	p->deleted = u->deleted;
	if (!u->deleted) {
		p->name   = u->name;
		p->handle = u->handle;
	}
	return p;
}

/* The term lower-cased with LIKE's wildcards escaped, then "%". */
static char *
like_prefix(fedrpc_ctx *ctx, const char *lead, const char *term)
{
	size_t n = strlen(term), k = 0, ll = strlen(lead);
	char  *p = fedrpc_ctx_alloc(ctx, ll + 2 * n + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, lead, ll);
	k = ll;
	for (size_t i = 0; i < n; i++) {
		char ch = (char) tolower((unsigned char) term[i]);

		if (ch == '%' || ch == '_' || ch == '\\')
			p[k++] = '\\';
		p[k++] = ch;
	}
	p[k++] = '%';
	p[k]   = '\0';
	return p;
}

fedrpc_code
sq_user_search(sq_conn *c, fedrpc_ctx *ctx, const char *domain,
    const char *term, bool full, sq_profile ***out, size_t *n,
    fedrpc_status *st)
{
	char         *lower, *pfx, *word;
	sq_user       u;
	sqlite3_stmt *s;
	size_t        len = strlen(term);
	int           rc;

	*out = NULL;
	*n   = 0;
	if (len == 0)
		return FEDRPC_OK;
	if ((lower = fedrpc_ctx_strdup(ctx, term)) == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < len; i++)
		lower[i] = (char) tolower((unsigned char) lower[i]);
	if (!full) {
		/* Exact handle only; a term that is no handle matches none. */
		if (!adp_handle_valid(lower))
			return FEDRPC_OK;
		if ((rc = sq_user_by_handle(c, ctx, lower, &u, st)) < 0)
			return st->code;
		if (rc == 0)
			return FEDRPC_OK;
		if ((*out = adp_ptrs(ctx, 1)) == NULL ||
		    ((*out)[0] = sq_user_profile(ctx, domain, &u)) == NULL)
			return SQ_NOMEM(st);
		*n = 1;
		return FEDRPC_OK;
	}
	if ((pfx = like_prefix(ctx, "", lower)) == NULL ||
	    (word = like_prefix(ctx, "% ", lower)) == NULL ||
	    (*out = adp_ptrs(ctx, ADP_MAX_SEARCH)) == NULL)
		return SQ_NOMEM(st);
	if ((s = sq_stmt(c, SQL_SEARCH_FULL, st)) == NULL)
		return st->code;
	sq_bind_str(s, 1, lower);
	sq_bind_str(s, 2, pfx);
	sq_bind_str(s, 3, word);
	while (*n < ADP_MAX_SEARCH && (rc = sq_step(c, s, st)) == SQLITE_ROW) {
		if (row_user(ctx, s, &u, st) < 0)
			return st->code;
		if (((*out)[*n] = sq_user_profile(ctx, domain, &u)) == NULL)
			return SQ_NOMEM(st);
		(*n)++;
	}
	sqlite3_reset(s);
	if (rc < 0)
		return st->code;
	return FEDRPC_OK;
}

fedrpc_code
sq_user_mark_deleted(sq_conn *c, const char *id, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_DELETE, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, id);
	return sq_run(c, s, st);
}

fedrpc_code
sq_user_require(sq_adapter *a, sq_conn *c, fedrpc_ctx *ctx, const adp_qid *q,
    const char *what, fedrpc_status *st)
{
	sq_user     u;
	int         rc;
	fedrpc_code code;

	if ((code = adp_check_ours(q, a->domain, what, st)) != FEDRPC_OK)
		return code;
	if ((rc = sq_user_get(c, ctx, q->id, &u, st)) < 0)
		return st->code;
	if (rc == 0 || u.deleted)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "%s: no user %s@%s%s", what, q->id, q->domain,
		    rc == 0 ? "" : " (deleted)");
	return FEDRPC_OK;
}
