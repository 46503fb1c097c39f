/*
 * The PostgreSQL database of the store: a pool of libpq connections (the
 * service runs handlers and delivery workers on several threads; a
 * connection serves one transaction at a time), each with its prepared
 * statements, that reconnects by itself after the server went away; the
 * schema migrations at open; and the checks of a connection string.
 *
 * Isolation. A writing transaction is SERIALIZABLE: the service reads and
 * then writes on what it read (a handle is free, a prekey is the lowest,
 * a member may post, a conversation is at version n), and under snapshot
 * isolation two such transactions could both commit on what the other
 * changed (write skew). SERIALIZABLE makes PostgreSQL refuse one of them
 * with a serialization failure (40001), which is FEDRPC_STORE_CONFLICT:
 * fedrpc_store_run() runs it again, as it does for SQLite's busy
 * database. A read-only transaction is REPEATABLE READ READ ONLY: one
 * consistent snapshot, no predicate locks, never refused (a read-only
 * SERIALIZABLE one could be, and DEFERRABLE would wait).
 *
 * Unavailability. A lost connection, a server shutting down (57P01..03)
 * or not yet accepting connections fails the call with UNAVAILABLE; the
 * connection is dropped and made afresh at the next begin, so that the
 * daemon serves again as soon as the database does. A transaction whose
 * commit saw the connection fail is reported UNAVAILABLE, never OK:
 * nothing is acknowledged that PostgreSQL did not confirm.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "backends/postgresql/pg.h"

#define POOL_SIZE 8
#define CACHE_MAX 96
/* Used when the connection string names no connect_timeout (seconds): a
 * database host that does not answer fails a call in bounded time. */
#define CONNECT_TIMEOUT "5"
/* Held by the transaction that migrates, so that instances starting at
 * once migrate one after the other ("fedrpc" in ASCII). */
#define MIGRATION_LOCK "6665647270630001"

struct pg_conn {
	PGconn     *pc;     /* NULL until connected, or after it broke */
	pg_db      *pool;
	const char *prepared[CACHE_MAX]; /* statement i is "s<i>" */
	int         n_prepared;
	bool        failed; /* a statement of this transaction failed */
	pg_conn    *next_free;
};

struct pg_db {
	char           *conninfo;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	pg_conn         conns[POOL_SIZE];
	pg_conn        *free_list;
};

/* libpq prints server notices to stderr unless told otherwise. */
static void
notice(void *arg, const char *message)
{
	(void) arg;
	FEDRPC_LOG_DEBUG("postgresql store: %s", message);
}

/* Runs a statement without parameters on a bare connection. */
static fedrpc_code
exec_plain(PGconn *pc, const char *sql, const char *what, fedrpc_status *st)
{
	PGresult   *r = PQexec(pc, sql);
	fedrpc_code rc = FEDRPC_OK;

	if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK &&
	                     PQresultStatus(r) != PGRES_TUPLES_OK))
		rc = pg_error(pc, r, what, st);
	PQclear(r);
	return rc;
}

/* A new libpq connection; connect_timeout defaults to CONNECT_TIMEOUT
 * (the string's own settings come later and win). */
static PGconn *
connect_db(const char *conninfo, fedrpc_status *st)
{
	const char *const keys[] = {"connect_timeout", "dbname", NULL};
	const char *const vals[] = {CONNECT_TIMEOUT, conninfo, NULL};
	PGconn           *pc     = PQconnectdbParams(keys, vals, 1);
	char              buf[512];

	if (pc == NULL) {
		fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "postgresql store: out of memory connecting");
		return NULL;
	}
	if (PQstatus(pc) != CONNECTION_OK) {
		fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "postgresql store: cannot connect to the database: %s",
		    pg_trim_message(PQerrorMessage(pc), buf, sizeof(buf)));
		PQfinish(pc);
		return NULL;
	}
	PQsetNoticeProcessor(pc, notice, NULL);
	return pc;
}

static void
conn_drop(pg_conn *c)
{
	if (c->pc != NULL)
		PQfinish(c->pc);
	c->pc         = NULL;
	c->n_prepared = 0;
}

static fedrpc_code
conn_ensure(pg_conn *c, fedrpc_status *st)
{
	if (c->pc != NULL && PQstatus(c->pc) == CONNECTION_OK)
		return FEDRPC_OK;
	conn_drop(c);
	if ((c->pc = connect_db(c->pool->conninfo, st)) == NULL)
		return st->code;
	return FEDRPC_OK;
}

/* Brings the schema up to the newest migration, in one transaction that
 * holds the migration lock. */
static fedrpc_code
migrate(PGconn *pc, fedrpc_status *st)
{
	PGresult   *r;
	int         have;
	fedrpc_code rc;

	if ((rc = exec_plain(pc, "BEGIN", "migrate", st)) != FEDRPC_OK)
		return rc;
	if ((rc = exec_plain(pc,
	         "SELECT pg_advisory_xact_lock(x'" MIGRATION_LOCK
	         "'::bigint)",
	         "migration lock", st)) != FEDRPC_OK ||
	    (rc = exec_plain(pc,
	         "CREATE TABLE IF NOT EXISTS schema_version ("
	         " version integer NOT NULL)",
	         "schema version", st)) != FEDRPC_OK)
		goto fail;
	r = PQexec(pc, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_error(pc, r, "schema version", st);
		PQclear(r);
		goto fail;
	}
	have = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (have > pg_n_migrations) {
		rc = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "postgresql store: the database has schema version %d, "
		    "newer than this federator knows (%d)",
		    have, pg_n_migrations);
		goto fail;
	}
	for (int v = have + 1; v <= pg_n_migrations; v++) {
		char sql[96], what[48];

		snprintf(what, sizeof(what), "schema migration %d", v);
		if ((rc = exec_plain(pc, pg_migrations[v - 1], what, st)) !=
		    FEDRPC_OK)
			goto fail;
		snprintf(sql, sizeof(sql),
		    "INSERT INTO schema_version (version) VALUES (%d)", v);
		if ((rc = exec_plain(pc, sql, what, st)) != FEDRPC_OK)
			goto fail;
	}
	return exec_plain(pc, "COMMIT", "migrate", st);

fail:
	PQclear(PQexec(pc, "ROLLBACK"));
	return rc;
}

fedrpc_code
pg_db_open(const char *conninfo, pg_db **out, fedrpc_status *st)
{
	pg_db *db;

	*out = NULL;
	if (fedrpc_store_postgresql_check_string(conninfo, st) != FEDRPC_OK)
		return st->code;
	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->conninfo = strdup(conninfo)) == NULL) {
		free(db);
		return pg_nomem(st);
	}
	pthread_mutex_init(&db->mtx, NULL);
	pthread_cond_init(&db->cv, NULL);
	for (int i = POOL_SIZE - 1; i >= 0; i--) {
		db->conns[i].pool      = db;
		db->conns[i].next_free = db->free_list;
		db->free_list          = &db->conns[i];
	}
	/* The first connection is made now: a database that does not
	 * answer at start is told at once. */
	if (conn_ensure(&db->conns[0], st) != FEDRPC_OK ||
	    migrate(db->conns[0].pc, st) != FEDRPC_OK) {
		pg_db_close(db);
		return st->code;
	}
	*out = db;
	return FEDRPC_OK;
}

void
pg_db_close(pg_db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < POOL_SIZE; i++)
		conn_drop(&db->conns[i]);
	pthread_cond_destroy(&db->cv);
	pthread_mutex_destroy(&db->mtx);
	free(db->conninfo);
	free(db);
}

/* Connected ones first: they are taken from the head, given back to it. */
static pg_conn *
pool_take(pg_db *db)
{
	pg_conn *c;

	pthread_mutex_lock(&db->mtx);
	while ((c = db->free_list) == NULL)
		pthread_cond_wait(&db->cv, &db->mtx);
	db->free_list = c->next_free;
	pthread_mutex_unlock(&db->mtx);
	return c;
}

static void
pool_give(pg_conn *c)
{
	pg_db *db = c->pool;

	pthread_mutex_lock(&db->mtx);
	c->next_free  = db->free_list;
	db->free_list = c;
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mtx);
}

fedrpc_code
pg_db_begin(pg_db *db, bool write, pg_conn **out, fedrpc_status *st)
{
	const char *sql = write
	    ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
	    : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	pg_conn    *c   = pool_take(db);

	*out = NULL;
	/* A connection that broke since its last use (the server
	 * restarted) is only found out now: made afresh once. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (conn_ensure(c, st) != FEDRPC_OK)
			break;
		if (exec_plain(c->pc, sql, "begin", st) == FEDRPC_OK) {
			c->failed = false;
			*out      = c;
			return FEDRPC_OK;
		}
		if (PQstatus(c->pc) == CONNECTION_OK)
			break;
		conn_drop(c);
	}
	if (c->pc != NULL && PQstatus(c->pc) != CONNECTION_OK)
		conn_drop(c);
	pool_give(c);
	return st->code;
}

fedrpc_code
pg_db_end(pg_conn *c, fedrpc_code rc, fedrpc_status *st)
{
	if (c->pc != NULL && PQstatus(c->pc) == CONNECTION_OK) {
		if (rc == FEDRPC_OK && c->failed) {
			rc = fedrpc_status_set(st, FEDRPC_INTERNAL,
			    "postgresql store: commit of a transaction whose "
			    "statement failed");
		}
		if (rc == FEDRPC_OK) {
			PGresult *r = PQexec(c->pc, "COMMIT");

			if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
				rc = pg_error(c->pc, r, "commit", st);
			else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
				rc = fedrpc_status_set(st, FEDRPC_INTERNAL,
				    "postgresql store: commit: the server "
				    "rolled the transaction back");
			PQclear(r);
		}
		if (rc != FEDRPC_OK && c->pc != NULL &&
		    PQstatus(c->pc) == CONNECTION_OK &&
		    PQtransactionStatus(c->pc) != PQTRANS_IDLE)
			PQclear(PQexec(c->pc, "ROLLBACK"));
	} else if (rc == FEDRPC_OK) {
		rc = fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "postgresql store: the database is unavailable (commit): "
		    "the connection was lost");
	}
	if (c->pc != NULL && PQstatus(c->pc) != CONNECTION_OK)
		conn_drop(c);
	c->failed = false;
	pool_give(c);
	return rc;
}

/* The name of sql's prepared statement on c, preparing it first. */
static const char *
prepared(pg_conn *c, const char *sql, int n_params, char *name,
    size_t size, fedrpc_status *st)
{
	PGresult *r;
	int       i;

	for (i = 0; i < c->n_prepared; i++)
		if (c->prepared[i] == sql)
			break;
	snprintf(name, size, "s%d", i);
	if (i < c->n_prepared)
		return name;
	if (i == CACHE_MAX) {
		/* Should not happen: the store has fewer statements. */
		FEDRPC_LOG_WARN("postgresql store: statement cache full");
		return NULL;
	}
	r = PQprepare(c->pc, name, sql, n_params, NULL);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_error(c->pc, r, "prepare", st);
		FEDRPC_LOG_ERROR("postgresql store: cannot prepare '%s': %s",
		    sql, st->message);
		PQclear(r);
		return NULL;
	}
	PQclear(r);
	c->prepared[c->n_prepared++] = sql;
	return name;
}

static PGresult *
run(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    ExecStatusType want, fedrpc_status *st)
{
	static const pg_params none;
	pg_conn               *c = tx->impl;
	char                   name[16];
	const char            *vals[PG_MAX_PARAMS];
	PGresult              *r;

	if (p == NULL)
		p = &none;
	if (c->pc == NULL) {
		fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "postgresql store: the database is unavailable: the "
		    "connection was lost");
		return NULL;
	}
	if (prepared(c, sql, p->n, name, sizeof(name), st) == NULL) {
		if (st->code == FEDRPC_OK)
			fedrpc_status_set(st, FEDRPC_INTERNAL,
			    "postgresql store: too many statements");
		c->failed = true;
		return NULL;
	}
	for (int i = 0; i < p->n; i++)
		vals[i] = p->v[i] != NULL ? p->v[i] : p->num[i];
	r = PQexecPrepared(
	    c->pc, name, p->n, vals, p->len, p->fmt, 0 /* text results */);
	if (r == NULL || PQresultStatus(r) != want) {
		pg_error(c->pc, r, "statement", st);
		PQclear(r);
		c->failed = true;
		return NULL;
	}
	return r;
}

PGresult *
pg_query(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    fedrpc_status *st)
{
	return run(tx, sql, p, PGRES_TUPLES_OK, st);
}

fedrpc_code
pg_cmd(fedrpc_store_tx *tx, const char *sql, const pg_params *p,
    uint64_t *changed, fedrpc_status *st)
{
	PGresult *r = run(tx, sql, p, PGRES_COMMAND_OK, st);

	if (r == NULL)
		return st->code;
	if (changed != NULL)
		*changed = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_store_postgresql_check_string(const char *conninfo, fedrpc_status *st)
{
	char             *err = NULL;
	PQconninfoOption *opts;

	if (conninfo == NULL || conninfo[0] == '\0')
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "the postgresql adapter needs a connection string "
		    "(storage.conninfo)");
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		char buf[512];

		fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "storage.conninfo is not a valid PostgreSQL connection "
		    "string: %s",
		    pg_trim_message(err != NULL ? err : "out of memory", buf,
		        sizeof(buf)));
		PQfreemem(err);
		return st->code;
	}
	PQconninfoFree(opts);
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_store_postgresql_check(const char *conninfo, bool connect,
    fedrpc_status *st)
{
	PGconn *pc;

	if (fedrpc_store_postgresql_check_string(conninfo, st) != FEDRPC_OK)
		return st->code;
	if (!connect)
		return FEDRPC_OK;
	if ((pc = connect_db(conninfo, st)) == NULL)
		return st->code;
	if (exec_plain(pc, "SELECT 1", "check", st) != FEDRPC_OK) {
		PQfinish(pc);
		return st->code;
	}
	PQfinish(pc);
	return FEDRPC_OK;
}
