/*
 * The SQLite database of the store: a small pool of connections (handlers
 * run on several worker threads; a connection is used by one transaction
 * at a time), pragmas, migrations, a per-connection cache of prepared
 * statements, and how SQLite's result codes read as store results.
 *
 * Writes go through one connection of their own, one transaction at a
 * time (writers wait for each other here, woken as soon as the last one
 * ends, rather than in SQLite's busy handler, which sleeps 1, 2, 5, 10 ...
 * ms between tries), and since no other connection writes, its page cache
 * stays valid from one write to the next; reads use the pool.
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

#include "backends/sqlite/db_private.h"
#include "backends/sqlite/sq.h"

#define POOL_SIZE 4
#define BUSY_TIMEOUT_MS 5000
#define CACHE_MAX 96
/* Page cache per connection, in KiB (SQLite's default is 2000): with the
 * default, a 100-recipient message read most of its pages again with
 * pread(2), about 550 calls per transaction; with this, about 17. The
 * memory is taken as pages are used. */
#define PAGE_CACHE_KIB "16384"

/* One pooled connection. Owned by the pool; used by one thread at a time. */
struct sq_conn {
	sqlite3 *db;
	sq_db   *pool;      /* where it goes back */
	bool     read_only; /* in a read-only transaction */
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
	/* The writers' connection (conns[0], never in the free list), or
	 * NULL when writes take one from the pool (":memory:", a single
	 * connection). */
	sq_conn        *writer;
	bool            writing;   /* a write transaction has it */
	pthread_cond_t  write_cv;  /* signalled when it ends */
};

fedrpc_code
sq_error(sqlite3 *db, int rc, const char *what, fedrpc_status *st)
{
	const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return fedrpc_status_set(st, FEDRPC_STORE_CONFLICT,
		    "sqlite store: database busy (%s): %s", what, msg);
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return fedrpc_status_set(st, FEDRPC_STORE_DUPLICATE,
			    "sqlite store: %s: %s", what, msg);
		break;
	case SQLITE_FULL:
	case SQLITE_NOMEM:
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "sqlite store: %s: %s", what, msg);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
		    "sqlite store: %s: %s", what, msg);
	}
	return fedrpc_status_set(
	    st, FEDRPC_INTERNAL, "sqlite store: %s: %s", what, msg);
}

static fedrpc_code
exec(sqlite3 *db, const char *sql, fedrpc_status *st)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? FEDRPC_OK : sq_error(db, rc, sql, st);
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
	    exec(c->db, "PRAGMA foreign_keys=OFF", st) != FEDRPC_OK ||
	    exec(c->db, "PRAGMA cache_size=-" PAGE_CACHE_KIB, st) != FEDRPC_OK)
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
		rc = sq_error(db, sqlite3_errcode(db), "schema version", st);
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
	size_t n = POOL_SIZE + 1; /* the writer and the readers' pool */

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "the sqlite adapter needs a database path");
	/* Each connection to ":memory:" is a database of its own. */
	if (strcmp(path, ":memory:") == 0)
		n = 1;
	/* Its files are the daemon user's alone, whatever the umask. */
	if (sq_db_private(path, st) != FEDRPC_OK)
		return st->code;
	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->conns = calloc(n, sizeof(sq_conn))) == NULL) {
		free(db);
		return sq_nomem(st);
	}
	pthread_mutex_init(&db->mtx, NULL);
	pthread_cond_init(&db->cv, NULL);
	pthread_cond_init(&db->write_cv, NULL);
	db->n_conns = n;
	for (size_t i = 0; i < n; i++) {
		db->conns[i].pool = db;
		if (conn_open(path, &db->conns[i], st) != FEDRPC_OK)
			goto fail;
		if (i == 0 && migrate(db->conns[0].db, path, st) != FEDRPC_OK)
			goto fail;
		if (i == 0 && n > 1) {
			db->writer = &db->conns[0];
			continue;
		}
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
	pthread_cond_destroy(&db->write_cv);
	pthread_cond_destroy(&db->cv);
	pthread_mutex_destroy(&db->mtx);
	free(db->conns);
	free(db);
}

static sq_conn *
pool_take(sq_db *db)
{
	sq_conn *c;

	pthread_mutex_lock(&db->mtx);
	while ((c = db->free_list) == NULL)
		pthread_cond_wait(&db->cv, &db->mtx);
	db->free_list = c->next_free;
	pthread_mutex_unlock(&db->mtx);
	return c;
}

static void
pool_give(sq_conn *c)
{
	sq_db *db = c->pool;

	pthread_mutex_lock(&db->mtx);
	c->next_free  = db->free_list;
	db->free_list = c;
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mtx);
}

/* The writers' connection, once the write before has ended. */
static sq_conn *
writer_take(sq_db *db)
{
	pthread_mutex_lock(&db->mtx);
	while (db->writing)
		pthread_cond_wait(&db->write_cv, &db->mtx);
	db->writing = true;
	pthread_mutex_unlock(&db->mtx);
	return db->writer;
}

/* A connection back where it came from. */
static void
conn_give(sq_conn *c)
{
	sq_db *db = c->pool;

	if (c != db->writer) {
		pool_give(c);
		return;
	}
	pthread_mutex_lock(&db->mtx);
	db->writing = false;
	pthread_cond_signal(&db->write_cv);
	pthread_mutex_unlock(&db->mtx);
}

/* BEGIN IMMEDIATE for a writer, so that it never has to upgrade a read
 * lock (which SQLite could only refuse); another process may still hold
 * the write lock, and then SQLite's busy handler waits. */
fedrpc_code
sq_db_begin(sq_db *db, bool write, sq_conn **out, fedrpc_status *st)
{
	sq_conn *c = write && db->writer != NULL ? writer_take(db)
						 : pool_take(db);

	*out = NULL;
	if (exec(c->db, write ? "BEGIN IMMEDIATE" : "BEGIN", st) !=
	    FEDRPC_OK) {
		conn_give(c);
		return st->code;
	}
	c->read_only = !write;
	*out         = c;
	return FEDRPC_OK;
}

fedrpc_code
sq_db_end(sq_conn *c, fedrpc_code rc, fedrpc_status *st)
{
	/* Statements left mid-result would keep the read snapshot open. */
	for (size_t i = 0; i < c->n_cache; i++)
		if (sqlite3_stmt_busy(c->cache[i].stmt))
			sqlite3_reset(c->cache[i].stmt);
	if (rc == FEDRPC_OK) {
		int r = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);

		if (r != SQLITE_OK) {
			rc = sq_error(c->db, r, "commit", st);
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		}
	} else if (!sqlite3_get_autocommit(c->db)) {
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	}
	c->read_only = false;
	conn_give(c);
	return rc;
}

/* A read-only transaction runs no statement that writes (as PostgreSQL's
 * READ ONLY transactions refuse them). */
static sqlite3_stmt *
check_mode(sq_conn *c, sqlite3_stmt *s, fedrpc_status *st)
{
	if (c->read_only && !sqlite3_stmt_readonly(s)) {
		fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "sqlite store: a read-only transaction cannot run '%.80s'",
		    sqlite3_sql(s));
		return NULL;
	}
	return s;
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
			return check_mode(c, s, st);
		}
	}
	rc = sqlite3_prepare_v3(
	    c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK) {
		sq_error(c->db, rc, "prepare", st);
		FEDRPC_LOG_ERROR("sqlite store: cannot prepare '%s': %s", sql,
		    sqlite3_errmsg(c->db));
		return NULL;
	}
	if (c->n_cache < CACHE_MAX) {
		c->cache[c->n_cache].sql  = sql;
		c->cache[c->n_cache].stmt = s;
		c->n_cache++;
	} else {
		/* Should not happen: the store has fewer statements. */
		FEDRPC_LOG_WARN("sqlite store: statement cache full");
		sqlite3_finalize(c->cache[0].stmt);
		c->cache[0].sql  = sql;
		c->cache[0].stmt = s;
	}
	return check_mode(c, s, st);
}

int
sq_step(sq_conn *c, sqlite3_stmt *s, fedrpc_status *st)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	sq_error(c->db, rc, "step", st);
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

int64_t
sq_last_rowid(sq_conn *c)
{
	return (int64_t) sqlite3_last_insert_rowid(c->db);
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

/* A zero-length blob binds as an empty blob, not NULL. */
void
sq_bind_blob(sqlite3_stmt *s, int i, const ProtobufCBinaryData *v)
{
	static const uint8_t empty[1];

	sqlite3_bind_blob(s, i, v->len > 0 ? v->data : empty, (int) v->len,
	    SQLITE_STATIC);
}

uint64_t
sq_col_u64(sqlite3_stmt *s, int col)
{
	return (uint64_t) sqlite3_column_int64(s, col);
}
