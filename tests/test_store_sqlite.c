/*
 * What only the SQLite store does: bringing a database of an older schema
 * up to date without losing what it holds, and reporting a database that
 * another connection keeps locked as FEDRPC_STORE_CONFLICT (which the
 * service retries) instead of a failure. The conformance suite
 * (test_store_conformance.c) checks everything every store must do.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <string.h>

#include "backends/sqlite/sq.h"
#include "backends/sqlite/sqlite_store.h"
#include "store_fixture.h"

static int
schema_version(const char *path)
{
	sqlite3      *db;
	sqlite3_stmt *s;
	int           v;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db,
	                 "SELECT max(version) FROM schema_version", -1, &s, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* A database as the first schema left it, with one user. */
static void
write_version_1(const char *path)
{
	sqlite3 *db;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
	                 "CREATE TABLE schema_version (version INTEGER NOT NULL);"
	                 "INSERT INTO schema_version VALUES (1)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sq_migrations[0], NULL, NULL, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
	                 "INSERT INTO users (id, handle, name, created_ms) "
	                 "VALUES ('00000000-0000-4000-8000-000000000001', "
	                 "'ann', 'Ann', 1)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
}

Test(store_sqlite, migrates_older_schema)
{
	char               *dir  = tu_tmpdir("sqlite-store");
	const char         *path = tu_path(dir, "store.db");
	fedrpc_store       *store;
	fedrpc_status       st = {0};
	sf_arena            arena;
	fedrpc_store_tx     tx;
	fedrpc_store_user   u;
	ProtobufCBinaryData item = {4, (uint8_t *) "item"};
	uint64_t            seq;
	bool                found;

	cr_assert_gt(sq_n_migrations, 1);
	write_version_1(path);
	cr_assert_eq(fedrpc_store_sqlite_open(path, &store, &st), FEDRPC_OK,
	    "%s", st.message);
	cr_assert_eq(schema_version(path), sq_n_migrations);

	sf_arena_init(&arena);
	memset(&tx, 0, sizeof(tx));
	tx.al = &arena.al;
	cr_assert_eq(store->ops->begin(store, FEDRPC_STORE_READ_WRITE, &tx, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(tx.ops->user_get(&tx, "00000000-0000-4000-8000-000000000001",
	                 &u, &found, &st),
	    FEDRPC_OK);
	cr_assert(found, "the user of version 1 is still there");
	cr_assert_str_eq(u.handle, "ann");
	cr_assert_eq(tx.ops->outbox_append(&tx, "b.example", &item, 1, &seq, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(tx.ops->commit(&tx, &st), FEDRPC_OK, "%s", st.message);
	fedrpc_store_close(store);

	/* Opening again migrates nothing. */
	cr_assert_eq(fedrpc_store_sqlite_open(path, &store, &st), FEDRPC_OK,
	    "%s", st.message);
	fedrpc_store_close(store);
	cr_assert_eq(schema_version(path), sq_n_migrations);
	sf_arena_free(&arena);
	tu_rmrf(dir);
	free(dir);
}

Test(store_sqlite, locked_database_is_a_conflict)
{
	char           *dir  = tu_tmpdir("sqlite-store");
	const char     *path = tu_path(dir, "store.db");
	fedrpc_store   *store;
	fedrpc_status   st = {0};
	sf_arena        arena;
	fedrpc_store_tx tx;
	sqlite3        *other;
	fedrpc_code     rc;

	cr_assert_eq(fedrpc_store_sqlite_open(path, &store, &st), FEDRPC_OK,
	    "%s", st.message);
	/* Another process's writer holds the database for longer than the
	 * store waits for it. */
	cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	sf_arena_init(&arena);
	memset(&tx, 0, sizeof(tx));
	tx.al = &arena.al;
	rc    = store->ops->begin(store, FEDRPC_STORE_READ_WRITE, &tx, &st);
	cr_assert_eq(rc, FEDRPC_STORE_CONFLICT, "%s: %s", fedrpc_code_name(rc),
	    st.message);
	cr_assert(strstr(st.message, "busy"), "%s", st.message);
	/* Readers are not held up by a writer. */
	cr_assert_eq(store->ops->begin(store, FEDRPC_STORE_READ_ONLY, &tx, &st),
	    FEDRPC_OK, "%s", st.message);
	tx.ops->rollback(&tx);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);

	/* Once it is free again, writing works. */
	cr_assert_eq(store->ops->begin(store, FEDRPC_STORE_READ_WRITE, &tx, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(tx.ops->commit(&tx, &st), FEDRPC_OK, "%s", st.message);
	fedrpc_store_close(store);
	sf_arena_free(&arena);
	tu_rmrf(dir);
	free(dir);
}
