/*
 * What the store conformance suite stands on: the stores it runs against
 * (a table of factories: SQLite, or with SF_POSTGRESQL defined the
 * PostgreSQL store on the server programs/pg_suite_main.c started, each
 * check in a schema of its own), a scratch folder and an open store per check, an arena for what
 * operations return, and short forms for transactions and expected
 * results. Only the store interface (backends/reference/store.h) is used.
 */
#ifndef FEDRPC_TESTS_STORE_FIXTURE_H
#define FEDRPC_TESTS_STORE_FIXTURE_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/reference/store.h"
#include "backends/sqlite/sqlite_store.h"
#include "testutil.h"

/*
 * A store under test. open() makes a store on the data kept in dir; a
 * second call on the same dir opens a second store on the same data (as
 * two federator instances of one domain share one database).
 */
typedef struct sf_factory {
	const char *name;
	fedrpc_code (*open)(const char *dir, fedrpc_store **out,
	    fedrpc_status *st);
} sf_factory;

static inline fedrpc_code
sf_open_sqlite(const char *dir, fedrpc_store **out, fedrpc_status *st)
{
	return fedrpc_store_sqlite_open(tu_path(dir, "store.db"), out, st);
}

#ifdef SF_POSTGRESQL
#include <ctype.h>

#include <libpq-fe.h>

#include "backends/postgresql/postgresql_store.h"

/* The server's connection string, set by programs/pg_suite_main.c. */
#define SF_PG_ENV "FEDRPC_TEST_PG_CONNINFO"

/* The store on the schema named after dir (made if missing): a second
 * open on the same dir shares its data. */
static inline fedrpc_code
sf_open_pg(const char *dir, fedrpc_store **out, fedrpc_status *st)
{
	const char *base = getenv(SF_PG_ENV);
	const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char        schema[64], sql[160], conninfo[1024];
	size_t      k = 0;
	PGconn     *c;
	PGresult   *r;
	bool        ok;

	cr_assert_not_null(base, "%s is not set", SF_PG_ENV);
	k += (size_t) snprintf(schema, sizeof(schema), "sf_");
	for (; *name && k + 1 < sizeof(schema); name++)
		schema[k++] = isalnum((unsigned char) *name)
		    ? (char) tolower((unsigned char) *name)
		    : '_';
	schema[k] = '\0';
	snprintf(sql, sizeof(sql),
	    "SET client_min_messages = warning; "
	    "CREATE SCHEMA IF NOT EXISTS %s",
	    schema);
	c = PQconnectdb(base);
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	cr_assert(ok, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	snprintf(conninfo, sizeof(conninfo), "%s options='-csearch_path=%s'",
	    base, schema);
	return fedrpc_store_postgresql_open(conninfo, out, st);
}

static const sf_factory sf_factories[] = {
	{"postgresql", sf_open_pg},
};
#else
static const sf_factory sf_factories[] = {
	{"sqlite", sf_open_sqlite},
};
#endif
#define SF_N_FACTORIES (sizeof(sf_factories) / sizeof(sf_factories[0]))

/* Memory for results: malloc'd blocks freed together. Not thread-safe:
 * one per thread. */
typedef struct sf_arena {
	ProtobufCAllocator al;
	void             **blocks;
	size_t             n, cap;
} sf_arena;

static inline void *
sf_arena_alloc(void *data, size_t size)
{
	sf_arena *a = data;
	void     *p;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		void **nb  = realloc(a->blocks, cap * sizeof(*nb));

		if (nb == NULL)
			return NULL;
		a->blocks = nb;
		a->cap    = cap;
	}
	if ((p = malloc(size ? size : 1)) != NULL)
		a->blocks[a->n++] = p;
	return p;
}

static inline void
sf_arena_keep(void *data, void *p)
{
	(void) data; /* freed with the arena */
	(void) p;
}

static inline void
sf_arena_init(sf_arena *a)
{
	memset(a, 0, sizeof(*a));
	a->al.alloc          = sf_arena_alloc;
	a->al.free           = sf_arena_keep;
	a->al.allocator_data = a;
}

static inline void
sf_arena_free(sf_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
	memset(a, 0, sizeof(*a));
}

/* One check's store, transaction and status. */
typedef struct sf {
	const sf_factory *factory;
	char             *dir;
	fedrpc_store     *store;
	sf_arena          arena;
	fedrpc_store_tx   tx; /* the open transaction */
	fedrpc_status     st;
} sf;

/* The store's table, and the open transaction, in the checks. */
#define OPS(f) ((f)->store->ops)
#define TX(f) (&(f)->tx)

/* A call's result must be `want` (the message names store and call). */
#define SF_EXPECT(f, want, call)                                          \
	do {                                                              \
		fedrpc_code rc_;                                          \
		fedrpc_status_reset(&(f)->st);                            \
		rc_ = (call);                                             \
		cr_assert_eq(rc_, (want), "[%s] %s: %s, not %s (%s)",     \
		    (f)->factory->name, #call, fedrpc_code_name(rc_),     \
		    fedrpc_code_name(want), (f)->st.message);             \
	} while (0)
#define SF_OK(f, call) SF_EXPECT(f, FEDRPC_OK, call)

/* A scratch folder in memory-backed /dev/shm when there is one: SQLite
 * syncs every commit, which is slow on disks shared with parallel builds
 * and says nothing more here. */
static inline char *
sf_scratch(void)
{
	char *dir = NULL;

	if (access("/dev/shm", W_OK) == 0 &&
	    (dir = strdup("/dev/shm/fedrpc-store-XXXXXX")) != NULL &&
	    mkdtemp(dir) == NULL) {
		free(dir);
		dir = NULL;
	}
	return dir != NULL ? dir : tu_tmpdir("store");
}

static inline sf *
sf_new(const sf_factory *factory)
{
	sf *f = calloc(1, sizeof(*f));

	cr_assert_not_null(f);
	f->factory = factory;
	f->dir     = sf_scratch();
	sf_arena_init(&f->arena);
	SF_OK(f, factory->open(f->dir, &f->store, &f->st));
	return f;
}

static inline void
sf_free(sf *f)
{
	fedrpc_store_close(f->store);
	sf_arena_free(&f->arena);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
}

static inline void
sf_begin(sf *f, fedrpc_store_mode mode)
{
	memset(&f->tx, 0, sizeof(f->tx));
	f->tx.al = &f->arena.al;
	SF_OK(f, OPS(f)->begin(f->store, mode, &f->tx, &f->st));
}

static inline void
sf_commit(sf *f)
{
	SF_OK(f, f->tx.ops->commit(&f->tx, &f->st));
}

static inline void
sf_rollback(sf *f)
{
	f->tx.ops->rollback(&f->tx);
}

/* Runs check once for every store, each on a fresh, empty one. */
static inline void
sf_each(void (*check)(sf *f))
{
	for (size_t i = 0; i < SF_N_FACTORIES; i++) {
		sf *f = sf_new(&sf_factories[i]);

		check(f);
		sf_free(f);
	}
}

/* A lower-case UUID made from n, in a per-thread ring of 64 (copy one
 * that must outlive many more calls). */
static inline const char *
sf_uuid(unsigned n)
{
	static __thread char ring[64][37];
	static __thread int  next;
	char                *buf = ring[next++ & 63];

	snprintf(buf, sizeof(ring[0]), "00000000-0000-4000-8000-%012x", n);
	return buf;
}

/* A qualified id (strings borrowed). */
static inline fedrpc_store_qid
sf_qid(const char *domain, const char *id)
{
	fedrpc_store_qid q = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;

	q.domain = (char *) domain;
	q.id     = (char *) id;
	return q;
}

static inline ProtobufCBinaryData
sf_bytes(const void *p, size_t n)
{
	ProtobufCBinaryData b = {n, (uint8_t *) p};

	return b;
}

static inline bool
sf_bytes_eq(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

#endif
