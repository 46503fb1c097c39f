/*
 * The SQLite database of the adapter: a small pool of connections (handlers
 * run on several worker threads; a connection is used by one at a time),
 * pragmas, migrations, a per-connection cache of prepared statements, and
 * one transaction per operation.
 *
 * Durability: WAL with synchronous=FULL. In WAL mode NORMAL already
 * survives a killed process (committed frames are in the WAL file, only the
 * fsync is deferred), but not a power loss or kernel crash; FULL syncs the
 * WAL at every commit, so whatever we acknowledged is on disk. The cost is
 * one fsync per write transaction, and writes are few next to reads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "backends/sqlite/sq.h"

#define POOL_SIZE 4
#define BUSY_TIMEOUT_MS 5000
#define CACHE_MAX 96

/* One pooled connection. Owned by the pool; used by one thread at a time. */
struct sq_conn {
	sqlite3 *db;
	struct {
		const char   *sql;  /* key: the literal's address */
		sqlite3_stmt *stmt; /* owned */
	} cache[CACHE_MAX];
	size_t   n_cache;
	sq_conn *next_free; /* free list link */
};

struct sq_db {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;        /* signalled when a connection is freed */
	sq_conn        *conns;     /* n_conns, owned */
	size_t          n_conns;
	sq_conn        *free_list; /* idle connections */
};

static fedrpc_code
db_error(sqlite3 *db, int rc, const char *what, fedrpc_status *st)
{
	int base = rc & 0xff;

	if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "database busy (%s): %s", what, sqlite3_errmsg(db));
	if (base == SQLITE_FULL || base == SQLITE_NOMEM)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "database %s: %s", what, sqlite3_errmsg(db));
	return fedrpc_status_set(st, FEDRPC_INTERNAL, "database %s: %s", what,
	    sqlite3_errmsg(db));
}

static fedrpc_code
exec(sqlite3 *db, const char *sql, fedrpc_status *st)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? FEDRPC_OK : db_error(db, rc, sql, st);
}

static fedrpc_code
conn_open(const char *path, sq_conn *c, fedrpc_status *st)
{
	int rc;

	rc = sqlite3_open_v2(path, &c->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK) {
		fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "cannot open database %s: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		c->db = NULL;
		return st->code;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(c->db, 1);
	if (exec(c->db, "PRAGMA journal_mode=WAL", st) != FEDRPC_OK ||
	    exec(c->db, "PRAGMA synchronous=FULL", st) != FEDRPC_OK ||
	    exec(c->db, "PRAGMA foreign_keys=OFF", st) != FEDRPC_OK)
		return st->code;
	return FEDRPC_OK;
}

static void
conn_close(sq_conn *c)
{
	for (size_t i = 0; i < c->n_cache; i++)
		sqlite3_finalize(c->cache[i].stmt);
	c->n_cache = 0;
	if (c->db != NULL)
		sqlite3_close(c->db);
	c->db = NULL;
}

/* Brings the schema up to the newest migration, in one transaction. */
static fedrpc_code
migrate(sqlite3 *db, const char *path, fedrpc_status *st)
{
	sqlite3_stmt *s = NULL;
	int           have = 0;
	fedrpc_code   rc;

	if ((rc = exec(db, "BEGIN IMMEDIATE", st)) != FEDRPC_OK)
		return rc;
	if ((rc = exec(db,
	         "CREATE TABLE IF NOT EXISTS schema_version ("
	         " version INTEGER NOT NULL)",
	         st)) != FEDRPC_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM "
	                           "schema_version",
	        -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		rc = db_error(db, sqlite3_errcode(db), "schema version", st);
		goto fail;
	}
	have = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (have > sq_n_migrations) {
		rc = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "database %s has schema version %d, newer than this "
		    "federator knows (%d)",
		    path, have, sq_n_migrations);
		goto fail;
	}
	for (int v = have + 1; v <= sq_n_migrations; v++) {
		char sql[96];

		if ((rc = exec(db, sq_migrations[v - 1], st)) != FEDRPC_OK)
			goto fail;
		snprintf(sql, sizeof(sql),
		    "INSERT INTO schema_version(version) VALUES (%d)", v);
		if ((rc = exec(db, sql, st)) != FEDRPC_OK)
			goto fail;
	}
	return exec(db, "COMMIT", st);

fail:
	sqlite3_finalize(s);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

fedrpc_code
sq_db_open(const char *path, sq_db **out, fedrpc_status *st)
{
	sq_db *db;
	size_t n = POOL_SIZE;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "the sqlite adapter needs a database path");
	/* Each connection to ":memory:" is a database of its own. */
	if (strcmp(path, ":memory:") == 0)
		n = 1;
	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->conns = calloc(n, sizeof(sq_conn))) == NULL) {
		free(db);
		return SQ_NOMEM(st);
	}
	pthread_mutex_init(&db->mtx, NULL);
	pthread_cond_init(&db->cv, NULL);
	db->n_conns = n;
	for (size_t i = 0; i < n; i++) {
		if (conn_open(path, &db->conns[i], st) != FEDRPC_OK)
			goto fail;
		if (i == 0 && migrate(db->conns[0].db, path, st) != FEDRPC_OK)
			goto fail;
		db->conns[i].next_free = db->free_list;
		db->free_list          = &db->conns[i];
	}
	*out = db;
	return FEDRPC_OK;

fail:
	sq_db_close(db);
	return st->code;
}

void
sq_db_close(sq_db *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < db->n_conns; i++)
		conn_close(&db->conns[i]);
	pthread_cond_destroy(&db->cv);
	pthread_mutex_destroy(&db->mtx);
	free(db->conns);
	free(db);
}

fedrpc_code
sq_begin(sq_db *db, bool write, sq_conn **out, fedrpc_status *st)
{
	sq_conn *c;

	pthread_mutex_lock(&db->mtx);
	while ((c = db->free_list) == NULL)
		pthread_cond_wait(&db->cv, &db->mtx);
	db->free_list = c->next_free;
	pthread_mutex_unlock(&db->mtx);
	if (exec(c->db, write ? "BEGIN IMMEDIATE" : "BEGIN", st) !=
	    FEDRPC_OK) {
		pthread_mutex_lock(&db->mtx);
		c->next_free  = db->free_list;
		db->free_list = c;
		pthread_cond_signal(&db->cv);
		pthread_mutex_unlock(&db->mtx);
		*out = NULL;
		return st->code;
	}
	*out = c;
	return FEDRPC_OK;
}

fedrpc_code
sq_end(sq_db *db, sq_conn *c, fedrpc_code rc, fedrpc_status *st)
{
	/* Statements left mid-result would keep the read snapshot open. */
	for (size_t i = 0; i < c->n_cache; i++)
		if (sqlite3_stmt_busy(c->cache[i].stmt))
			sqlite3_reset(c->cache[i].stmt);
	if (rc == FEDRPC_OK) {
		int r = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);

		if (r != SQLITE_OK) {
			rc = db_error(c->db, r, "commit", st);
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		}
	} else if (!sqlite3_get_autocommit(c->db)) {
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_lock(&db->mtx);
	c->next_free  = db->free_list;
	db->free_list = c;
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mtx);
	return rc;
}

sqlite3_stmt *
sq_stmt(sq_conn *c, const char *sql, fedrpc_status *st)
{
	sqlite3_stmt *s;
	int           rc;

	for (size_t i = 0; i < c->n_cache; i++) {
		if (c->cache[i].sql == sql) {
			s = c->cache[i].stmt;
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return s;
		}
	}
	rc = sqlite3_prepare_v3(
	    c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK) {
		db_error(c->db, rc, "prepare", st);
		FEDRPC_LOG_ERROR("sqlite adapter: cannot prepare '%s': %s", sql,
		    sqlite3_errmsg(c->db));
		return NULL;
	}
	if (c->n_cache < CACHE_MAX) {
		c->cache[c->n_cache].sql  = sql;
		c->cache[c->n_cache].stmt = s;
		c->n_cache++;
	} else {
		/* Should not happen: the adapter has fewer statements. */
		FEDRPC_LOG_WARN("sqlite adapter: statement cache full");
		sqlite3_finalize(c->cache[0].stmt);
		c->cache[0].sql  = sql;
		c->cache[0].stmt = s;
	}
	return s;
}

int
sq_step(sq_conn *c, sqlite3_stmt *s, fedrpc_status *st)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	db_error(c->db, rc, "step", st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		st->code = FEDRPC_ALREADY_EXISTS;
	sqlite3_reset(s);
	return -1;
}

fedrpc_code
sq_run(sq_conn *c, sqlite3_stmt *s, fedrpc_status *st)
{
	int rc;

	while ((rc = sq_step(c, s, st)) == SQLITE_ROW)
		;
	if (rc < 0)
		return st->code;
	sqlite3_reset(s);
	return FEDRPC_OK;
}

int
sq_changes(sq_conn *c)
{
	return sqlite3_changes(c->db);
}

char *
sq_col_str(fedrpc_ctx *ctx, sqlite3_stmt *s, int col)
{
	const char *v = (const char *) sqlite3_column_text(s, col);

	return fedrpc_ctx_strdup(ctx, v != NULL ? v : "");
}

void
sq_bind_str(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

void
sq_bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	sqlite3_bind_int64(s, i, (sqlite3_int64) v);
}

uint64_t
sq_col_u64(sqlite3_stmt *s, int col)
{
	return (uint64_t) sqlite3_column_int64(s, col);
}
