/*
 * Clients and prekeys in SQLite. Claiming a prekey takes the lowest one-time
 * prekey and deletes it in the same (write) transaction, so two claims never
 * get the same one; the last-resort prekey (65535) is never deleted.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/sqlite/sq.h"

static const char SQL_INSERT[] =
    "INSERT INTO clients (user_id, id, class, created_ms) VALUES (?, ?, ?, ?)";
static const char SQL_PREKEY_INSERT[] =
    "INSERT INTO prekeys (user_id, client, id, key) VALUES (?, ?, ?, ?)";
static const char SQL_EXISTS[] =
    "SELECT 1 FROM clients WHERE user_id = ? AND id = ?";
static const char SQL_LIST[] =
    "SELECT id, class FROM clients WHERE user_id = ?";
static const char SQL_DELETE[] =
    "DELETE FROM clients WHERE user_id = ? AND id = ?";
static const char SQL_DELETE_PREKEYS[] =
    "DELETE FROM prekeys WHERE user_id = ? AND client = ?";
static const char SQL_DELETE_INBOX[] =
    "DELETE FROM inbox WHERE user_id = ? AND client = ?";
static const char SQL_DELETE_ALL[] = "DELETE FROM clients WHERE user_id = ?";
static const char SQL_DELETE_ALL_PREKEYS[] =
    "DELETE FROM prekeys WHERE user_id = ?";
static const char SQL_DELETE_ALL_INBOX[] =
    "DELETE FROM inbox WHERE user_id = ?";
/* The lowest one-time prekey, else the last-resort one. */
static const char SQL_PREKEY_PICK[] =
    "SELECT id, key FROM prekeys WHERE user_id = ? AND client = ? "
    "ORDER BY id LIMIT 1";
static const char SQL_PREKEY_DELETE[] =
    "DELETE FROM prekeys WHERE user_id = ? AND client = ? AND id = ?";

fedrpc_code
sq_client_insert(sq_conn *c, const char *user, uint64_t client,
    int client_class, int64_t now, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_INSERT, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int(s, 3, client_class);
	sqlite3_bind_int64(s, 4, now);
	return sq_run(c, s, st);
}

fedrpc_code
sq_prekey_insert(sq_conn *c, const char *user, uint64_t client, uint32_t id,
    const ProtobufCBinaryData *key, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_PREKEY_INSERT, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	sqlite3_bind_int(s, 3, (int) id);
	sqlite3_bind_blob(s, 4, key->data, (int) key->len, SQLITE_STATIC);
	return sq_run(c, s, st);
}

int
sq_client_exists(
    sq_conn *c, const char *user, uint64_t client, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_EXISTS, st);
	int           rc;

	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	if ((rc = sq_step(c, s, st)) < 0)
		return -1;
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : 0;
}

static int
pub_cmp(const void *a, const void *b)
{
	const Fedrpc__Federation__V1__PubClient *x =
	    *(Fedrpc__Federation__V1__PubClient *const *) a;
	const Fedrpc__Federation__V1__PubClient *y =
	    *(Fedrpc__Federation__V1__PubClient *const *) b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Rows of SQL_LIST into growing arena arrays. Ids are sorted in C: SQLite
 * orders them as signed numbers, and ids are unsigned.
 */
fedrpc_code
sq_client_list(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    Fedrpc__Federation__V1__PubClient ***out, size_t *n, fedrpc_status *st)
{
	sqlite3_stmt                       *s = sq_stmt(c, SQL_LIST, st);
	Fedrpc__Federation__V1__PubClient **v = NULL;
	size_t                              cap = 0;
	int                                 rc;

	*out = NULL;
	*n   = 0;
	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	while ((rc = sq_step(c, s, st)) == SQLITE_ROW) {
		Fedrpc__Federation__V1__PubClient *pc;

		if (*n == cap) {
			Fedrpc__Federation__V1__PubClient **nv;

			cap = cap ? 2 * cap : 8;
			if ((nv = adp_ptrs(ctx, cap)) == NULL)
				return SQ_NOMEM(st);
			if (*n > 0)
				memcpy(nv, v, *n * sizeof(*v));
			v = nv;
		}
		if ((pc = fedrpc_ctx_alloc(ctx, sizeof(*pc))) == NULL)
			return SQ_NOMEM(st);
		fedrpc__federation__v1__pub_client__init(pc);
		pc->id           = sq_col_u64(s, 0);
		pc->client_class = sqlite3_column_int(s, 1);
		v[(*n)++]        = pc;
	}
	if (rc < 0)
		return st->code;
	sqlite3_reset(s);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), pub_cmp);
	*out = v;
	return FEDRPC_OK;
}

fedrpc_code
sq_client_ids(sq_conn *c, fedrpc_ctx *ctx, const char *user, uint64_t **out,
    size_t *n, fedrpc_status *st)
{
	Fedrpc__Federation__V1__PubClient **pcs;
	fedrpc_code                         rc;

	*out = NULL;
	if ((rc = sq_client_list(c, ctx, user, &pcs, n, st)) != FEDRPC_OK)
		return rc;
	if ((*out = fedrpc_ctx_alloc(ctx, (*n ? *n : 1) * sizeof(uint64_t))) ==
	    NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = pcs[i]->id;
	return FEDRPC_OK;
}

static fedrpc_code
run_user_client(sq_conn *c, const char *sql, const char *user,
    uint64_t client, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, sql, st);

	if (s == NULL)
		return st->code;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	return sq_run(c, s, st);
}

fedrpc_code
sq_client_delete(
    sq_conn *c, const char *user, uint64_t client, fedrpc_status *st)
{
	if (run_user_client(c, SQL_DELETE, user, client, st) != FEDRPC_OK)
		return st->code;
	if (sq_changes(c) == 0)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "user %s has no client %llx", user,
		    (unsigned long long) client);
	if (run_user_client(c, SQL_DELETE_PREKEYS, user, client, st) !=
	        FEDRPC_OK ||
	    run_user_client(c, SQL_DELETE_INBOX, user, client, st) !=
	        FEDRPC_OK)
		return st->code;
	return FEDRPC_OK;
}

fedrpc_code
sq_client_delete_all(sq_conn *c, const char *user, fedrpc_status *st)
{
	const char *const sqls[] = {
	    SQL_DELETE_ALL, SQL_DELETE_ALL_PREKEYS, SQL_DELETE_ALL_INBOX};

	for (size_t i = 0; i < 3; i++) {
		sqlite3_stmt *s = sq_stmt(c, sqls[i], st);

		if (s == NULL)
			return st->code;
		sq_bind_str(s, 1, user);
		if (sq_run(c, s, st) != FEDRPC_OK)
			return st->code;
	}
	return FEDRPC_OK;
}

int
sq_prekey_claim(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    uint64_t client, sq_prekey **out, fedrpc_status *st)
{
	sqlite3_stmt *s = sq_stmt(c, SQL_PREKEY_PICK, st);
	sq_prekey    *pk;
	const void   *blob;
	int           rc, len;

	*out = NULL;
	if (s == NULL)
		return -1;
	sq_bind_str(s, 1, user);
	sq_bind_u64(s, 2, client);
	if ((rc = sq_step(c, s, st)) < 0)
		return -1;
	if (rc == SQLITE_DONE)
		return 0;
	if ((pk = fedrpc_ctx_alloc(ctx, sizeof(*pk))) == NULL) {
		SQ_NOMEM(st);
		return -1;
	}
	fedrpc__federation__v1__prekey__init(pk);
	pk->id       = (uint32_t) sqlite3_column_int(s, 0);
	blob         = sqlite3_column_blob(s, 1);
	len          = sqlite3_column_bytes(s, 1);
	pk->key.len  = (size_t) len;
	pk->key.data = fedrpc_ctx_alloc(ctx, (size_t) len);
	if (pk->key.data == NULL) {
		SQ_NOMEM(st);
		return -1;
	}
	if (len > 0)
		memcpy(pk->key.data, blob, (size_t) len);
	sqlite3_reset(s);
	if (pk->id != ADP_LAST_PREKEY) {
		if ((s = sq_stmt(c, SQL_PREKEY_DELETE, st)) == NULL)
			return -1;
		sq_bind_str(s, 1, user);
		sq_bind_u64(s, 2, client);
		sqlite3_bind_int(s, 3, (int) pk->id);
		if (sq_run(c, s, st) != FEDRPC_OK)
			return -1;
	}
	*out = pk;
	return 1;
}

/* A ClientPrekey for client, its prekey claimed now (or left NULL). */
sq_client_prekey *
sq_claim_one(sq_conn *c, fedrpc_ctx *ctx, const char *user, uint64_t client,
    fedrpc_status *st)
{
	sq_client_prekey *cp = fedrpc_ctx_alloc(ctx, sizeof(*cp));

	if (cp == NULL) {
		SQ_NOMEM(st);
		return NULL;
	}
	fedrpc__federation__v1__client_prekey__init(cp);
	cp->client = client;
	if (sq_prekey_claim(c, ctx, user, client, &cp->prekey, st) < 0)
		return NULL;
	return cp;
}

/* One prekey for every client of user that has one. */
fedrpc_code
sq_claim_bundle(sq_conn *c, fedrpc_ctx *ctx, const char *user,
    sq_client_prekey ***out, size_t *n, fedrpc_status *st)
{
	uint64_t *ids;
	size_t    nids;

	*n = 0;
	if (sq_client_ids(c, ctx, user, &ids, &nids, st) != FEDRPC_OK)
		return st->code;
	if ((*out = adp_ptrs(ctx, nids)) == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < nids; i++) {
		sq_client_prekey *cp = sq_claim_one(c, ctx, user, ids[i], st);

		if (cp == NULL)
			return st->code;
		if (cp->prekey != NULL)
			(*out)[(*n)++] = cp;
	}
	return FEDRPC_OK;
}
