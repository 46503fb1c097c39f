/*
 * What the PostgreSQL store does beyond the conformance suite, on a real
 * server (support/postgres.h): a database restarted under a running store
 * fails calls with UNAVAILABLE and then serves again by itself, with
 * nothing that was committed lost; a malformed connection string and an
 * unreachable database are told apart, each naming what is wrong; a
 * schema newer than the build is refused.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/postgresql/postgresql_store.h"
#include "postgres.h"
#include "testutil.h"





/* What the stores return, freed together by results_free(). */
static void **results;
static size_t n_results, cap_results;

static void *
al_alloc(void *data, size_t size)
{
	void *p;

	(void) data;
	if (n_results == cap_results) {
		cap_results = cap_results ? 2 * cap_results : 64;
		results     = realloc(results, cap_results * sizeof(*results));
		cr_assert_not_null(results);
	}
	p = calloc(1, size ? size : 1);
	if (p != NULL)
		results[n_results++] = p;
	return p;
}

static void
al_keep(void *data, void *p)
{
	(void) data;
	(void) p;
}

static void
results_free(void)
{
	for (size_t i = 0; i < n_results; i++)
		free(results[i]);
	free(results);
	results     = NULL;
	n_results   = 0;
	cap_results = 0;
}

static ProtobufCAllocator al = {al_alloc, al_keep, NULL};

static tpg_server *
server_or_skip(void)
{
	const char *why;
	tpg_server *s;

	if (!tpg_available(&why))
		cr_skip_test("%s", why);
	cr_assert_not_null(s = tpg_start(), "cannot start PostgreSQL");
	return s;
}

#define UID "00000000-0000-4000-8000-000000000001"

static fedrpc_code
add_ann(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	(void) arg;
	return tx->ops->user_insert(tx, UID, "ann", "Ann", 1, st);
}

static fedrpc_code
read_ann(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	fedrpc_store_user u;
	bool              found;

	if (tx->ops->user_get(tx, UID, &u, &found, st) != FEDRPC_OK)
		return st->code;
	*(bool *) arg = found && strcmp(u.handle, "ann") == 0;
	return FEDRPC_OK;
}

static bool
ann_readable(fedrpc_store *store)
{
	fedrpc_status st    = {0};
	bool          found = false;

	return fedrpc_store_run(store, &al, FEDRPC_STORE_READ_ONLY, read_ann,
	           &found, &st) == FEDRPC_OK &&
	    found;
}

/* Opens n transactions at once, so that n pooled connections are made. */
static void
hold_connections(fedrpc_store *store, int n, fedrpc_code want)
{
	fedrpc_store_tx tx[4];
	fedrpc_status   st = {0};

	for (int i = 0; i < n; i++) {
		fedrpc_code rc;

		memset(&tx[i], 0, sizeof(tx[i]));
		tx[i].al = &al;
		rc = store->ops->begin(store, FEDRPC_STORE_READ_ONLY, &tx[i], &st);
		cr_assert_eq(rc, want, "begin %d: %s, not %s (%s)", i,
		    fedrpc_code_name(rc), fedrpc_code_name(want), st.message);
		if (rc != FEDRPC_OK)
			n = i;
	}
	for (int i = 0; i < n; i++)
		tx[i].ops->rollback(&tx[i]);
}

Test(store_postgresql, restart_under_a_running_store)
{
	tpg_server   *s = server_or_skip();
	fedrpc_store *store;
	fedrpc_status st = {0};
	fedrpc_code   rc;
	bool          found = false;
	uint64_t      t0;

	cr_assert_eq(fedrpc_store_postgresql_open(s->conninfo, &store, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_store_run(store, &al, FEDRPC_STORE_READ_WRITE,
	                 add_ann, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	hold_connections(store, 3, FEDRPC_OK);

	cr_assert(tpg_stop(s), "pg_ctl stop");
	t0 = tu_now_ms();
	rc = fedrpc_store_run(
	    store, &al, FEDRPC_STORE_READ_ONLY, read_ann, &found, &st);
	cr_assert_eq(rc, FEDRPC_UNAVAILABLE, "with the database down: %s (%s)",
	    fedrpc_code_name(rc), st.message);
	cr_assert(strstr(st.message, "unavailable") != NULL ||
	        strstr(st.message, "cannot connect") != NULL,
	    "the message says the database is unavailable: %s", st.message);
	cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS,
	    "a database that is down is told at once");
	hold_connections(store, 1, FEDRPC_UNAVAILABLE);

	cr_assert(tpg_restart(s), "pg_ctl start");
	cr_assert(TU_WAIT_FOR(ann_readable(store), TU_WAIT_MS),
	    "the store serves again after the restart, with what was "
	    "committed before it");
	/* Every pooled connection was made afresh. */
	hold_connections(store, 3, FEDRPC_OK);
	fedrpc_store_close(store);
	tpg_destroy(s);
	results_free();
}

Test(store_postgresql, malformed_conninfo)
{
	const char *const bad[] = {"host='unterminated", "nosuchsetting=1",
	    ""};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fedrpc_store *store = NULL;
		fedrpc_status st    = {0};
		fedrpc_code   rc = fedrpc_store_postgresql_open(bad[i], &store, &st);

		cr_assert_eq(rc, FEDRPC_INVALID_ARGUMENT, "'%s': %s (%s)", bad[i],
		    fedrpc_code_name(rc), st.message);
		cr_assert_null(store);
		cr_assert(strstr(st.message, "storage.conninfo") != NULL,
		    "the message names the setting: %s", st.message);
		cr_assert_eq(fedrpc_store_postgresql_check(bad[i], false, &st),
		    FEDRPC_INVALID_ARGUMENT, "check '%s'", bad[i]);
	}
}

Test(store_postgresql, unreachable_database)
{
	char         *dir = tu_tmpdir("pg-none");
	char          conninfo[600];
	fedrpc_store *store = NULL;
	fedrpc_status st    = {0};
	fedrpc_code   rc;

	snprintf(conninfo, sizeof(conninfo), "host=%s port=%d dbname=fedrpc",
	    dir, tu_free_port());
	cr_assert_eq(fedrpc_store_postgresql_check(conninfo, false, &st),
	    FEDRPC_OK, "a well-formed string: %s", st.message);
	rc = fedrpc_store_postgresql_check(conninfo, true, &st);
	cr_assert_eq(rc, FEDRPC_UNAVAILABLE, "%s (%s)", fedrpc_code_name(rc),
	    st.message);
	rc = fedrpc_store_postgresql_open(conninfo, &store, &st);
	cr_assert_eq(rc, FEDRPC_UNAVAILABLE, "%s (%s)", fedrpc_code_name(rc),
	    st.message);
	cr_assert(strstr(st.message, "cannot connect") != NULL, "%s",
	    st.message);
	cr_assert_null(store);
	tu_rmrf(dir);
	free(dir);
}

Test(store_postgresql, answering_database_and_newer_schema)
{
	tpg_server   *s     = server_or_skip();
	fedrpc_store *store = NULL;
	fedrpc_status st    = {0};
	fedrpc_code   rc;

	cr_assert_eq(fedrpc_store_postgresql_check(s->conninfo, true, &st),
	    FEDRPC_OK, "%s", st.message);
	/* Opening twice migrates once; the second finds it done. */
	cr_assert_eq(fedrpc_store_postgresql_open(s->conninfo, &store, &st),
	    FEDRPC_OK, "%s", st.message);
	fedrpc_store_close(store);
	cr_assert_eq(fedrpc_store_postgresql_open(s->conninfo, &store, &st),
	    FEDRPC_OK, "%s", st.message);
	fedrpc_store_close(store);
	cr_assert(tpg_exec(s, "INSERT INTO schema_version VALUES (999)"));
	store = NULL;
	rc    = fedrpc_store_postgresql_open(s->conninfo, &store, &st);
	cr_assert_eq(rc, FEDRPC_FAILED_PRECONDITION, "%s (%s)",
	    fedrpc_code_name(rc), st.message);
	cr_assert(strstr(st.message, "999") != NULL, "%s", st.message);
	cr_assert_null(store);
	tpg_destroy(s);
}

/* federator --check-config FILE [--check-database] on a file naming the
 * PostgreSQL store: exit status and what it said. */
static int
check_config(const char *dir, const char *conninfo, bool check_db,
    char **out)
{
	char  conf[600], log[600], text[1400];
	pid_t pid;
	int   status;

	snprintf(conf, sizeof(conf), "%s/pg.conf", dir);
	snprintf(log, sizeof(log), "%s/check.log", dir);
	snprintf(text, sizeof(text),
	    "domain = \"b.example\";\n"
	    "federation = { enabled = false; };\n"
	    "storage = {\n"
	    "  adapter = \"postgresql\";\n"
	    "  conninfo = \"%s\";\n"
	    "};\n",
	    conninfo);
	cr_assert(tu_write_file(conf, text));
	unlink(log);
	{
		char *const argv[] = {FEDRPC_BINARY_DIR "/federator",
		    "--check-config", conf, check_db ? "--check-database" : NULL,
		    NULL};

		cr_assert_gt(pid = tu_spawn(argv, log), 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	*out = tu_read_file(log);
	cr_assert_not_null(*out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(store_postgresql, check_config_and_check_database)
{
	tpg_server *s   = server_or_skip();
	char       *dir = tu_tmpdir("pg-check");
	char       *out, down[600];
	int         rc;

	rc = check_config(dir, "host='unterminated", false, &out);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "pg.conf: storage: storage.conninfo is not a "
	                      "valid PostgreSQL connection string") != NULL,
	    "%s", out);
	free(out);

	snprintf(down, sizeof(down), "host=%s port=%d dbname=fedrpc", dir,
	    tu_free_port());
	rc = check_config(dir, down, false, &out);
	cr_assert_eq(rc, 0, "a well-formed string passes without the "
	                    "database: exit %d: %s",
	    rc, out);
	free(out);
	rc = check_config(dir, down, true, &out);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "cannot connect to the database") != NULL, "%s",
	    out);
	free(out);

	rc = check_config(dir, s->conninfo, true, &out);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "the PostgreSQL database answers") != NULL, "%s",
	    out);
	free(out);
	tu_rmrf(dir);
	free(dir);
	tpg_destroy(s);
}
