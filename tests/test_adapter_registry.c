/*
 * Finding adapters: built-in ones by name, shared objects by path (built
 * here with the system C compiler from small sources: a good adapter, one
 * for another ABI version, one without the entry symbol), and the errors
 * each case gives.
 */
#include <sqlite3.h>
#include <sys/wait.h>

#include "adapter_fixture.h"

/* A third-party adapter: counts its instances in a global. */
static const char good_src[] =
    "#include <fedrpc/adapter.h>\n"
    "#include <stdlib.h>\n"
    "int mod_open_count;\n"
    "static fedrpc_code op(const fedrpc_adapter_env *e, const char *c,\n"
    "    void **inst, fedrpc_status *st) {\n"
    "  (void) e; (void) st;\n"
    "  if (c && c[0] == '!') { st->code = FEDRPC_UNAVAILABLE; return st->code; }\n"
    "  *inst = malloc(1); mod_open_count++; return FEDRPC_OK; }\n"
    "static void cl(void *i) { free(i); mod_open_count--; }\n"
    "static fedrpc_code rg(void *i, fedrpc_server *a, fedrpc_server *b,\n"
    "    fedrpc_status *st) {\n"
    "  (void) i; (void) a; (void) b; (void) st; return FEDRPC_OK; }\n"
    "static const fedrpc_adapter A = {ABI, \"module\", op, cl, rg};\n"
    "const fedrpc_adapter *fedrpc_adapter_entry(void) { return &A; }\n";
static const char nosym_src[] = "int something_else(void) { return 1; }\n";

/* Compiles src into dir/name.so; false when no compiler is at hand. */
static bool
build_so(const char *dir, const char *name, const char *src, const char *abi)
{
	char  c[512], so[512], cmd[2048];
	FILE *fp;

	snprintf(c, sizeof(c), "%s/%s.c", dir, name);
	snprintf(so, sizeof(so), "%s/%s.so", dir, name);
	cr_assert_not_null(fp = fopen(c, "w"));
	fputs(src, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd),
	    "cc -shared -fPIC -DABI=%s -I%s -I%s/include -I%s/gen "
	    "$(pkg-config --cflags libprotobuf-c) -o %s %s 2>%s/%s.log",
	    abi, FEDRPC_SOURCE_DIR, FEDRPC_SOURCE_DIR, FEDRPC_SOURCE_DIR, so,
	    c, dir, name);
	return system(cmd) == 0;
}

static const fedrpc_adapter_env env = {.domain = "a.example"};

Test(adapter_registry, builtin_by_name)
{
	fedrpc_adapter_instance *inst;
	fedrpc_status            st = {0};
	char                    *dir = tu_tmpdir("registry");

	cr_assert_not_null(fedrpc_adapter_builtin("sqlite"));
	cr_assert_str_eq(fedrpc_adapter_builtin("sqlite")->name, "sqlite");
	cr_assert_null(fedrpc_adapter_builtin("postgres-ish"));
	cr_assert_eq(fedrpc_adapter_open("nosuch", &env, "x", &inst, &st),
	    FEDRPC_NOT_FOUND);
	cr_assert(strstr(st.message, "nosuch"), "%s", st.message);
	cr_assert_null(inst);

	cr_assert_eq(fedrpc_adapter_open("sqlite", &env, tu_path(dir, "a.db"),
	                 &inst, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(fedrpc_adapter_instance_adapter(inst)->name, "sqlite");
	fedrpc_adapter_close(inst);

	/* A bad domain and a missing database folder are refused. */
	{
		fedrpc_adapter_env bad = {.domain = "a..example"};

		cr_assert_eq(fedrpc_sqlite_adapter_open(
		                 tu_path(dir, "b.db"), &bad, &inst, &st),
		    FEDRPC_INVALID_ARGUMENT);
		cr_assert_str_eq(st.message,
		    "reference backend: domain: 'a..example' is not a valid "
		    "domain name: empty label");
		cr_assert_eq(fedrpc_sqlite_adapter_open(
		                 "/nonexistent/dir/x.db", &env, &inst, &st),
		    FEDRPC_UNAVAILABLE);
		cr_assert(strstr(st.message, "/nonexistent/dir/x.db"), "%s",
		    st.message);
		cr_assert_eq(fedrpc_sqlite_adapter_open(":memory:", &env, &inst,
		                 &st),
		    FEDRPC_OK, "%s", st.message);
		fedrpc_adapter_close(inst);
	}
	fedrpc_adapter_close(NULL);
	tu_rmrf(dir);
	free(dir);
}

Test(adapter_registry, newer_schema_refused)
{
	fedrpc_adapter_instance *inst;
	fedrpc_status            st  = {0};
	char                    *dir = tu_tmpdir("registry");
	sqlite3                 *db;

	cr_assert_eq(fedrpc_sqlite_adapter_open(
	                 tu_path(dir, "a.db"), &env, &inst, &st),
	    FEDRPC_OK, "%s", st.message);
	fedrpc_adapter_close(inst);
	/* Reopening migrates nothing and works. */
	cr_assert_eq(fedrpc_sqlite_adapter_open(
	                 tu_path(dir, "a.db"), &env, &inst, &st),
	    FEDRPC_OK, "%s", st.message);
	fedrpc_adapter_close(inst);
	/* A newer federator wrote this file. */
	cr_assert_eq(sqlite3_open(tu_path(dir, "a.db"), &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	cr_assert_eq(fedrpc_sqlite_adapter_open(
	                 tu_path(dir, "a.db"), &env, &inst, &st),
	    FEDRPC_FAILED_PRECONDITION);
	cr_assert(strstr(st.message, "99"), "%s", st.message);
	tu_rmrf(dir);
	free(dir);
}

Test(adapter_registry, shared_objects)
{
	char                    *dir = tu_tmpdir("registry");
	fedrpc_adapter_instance *inst;
	fedrpc_status            st = {0};
	char                     path[600];

	if (!build_so(dir, "good", good_src, "FEDRPC_ADAPTER_ABI_VERSION")) {
		tu_rmrf(dir);
		free(dir);
		cr_skip_test("no C compiler to build a test adapter");
	}
	cr_assert(build_so(dir, "old", good_src, "0"));
	cr_assert(build_so(dir, "nosym", nosym_src, "0"));

	snprintf(path, sizeof(path), "%s/good.so", dir);
	cr_assert_eq(fedrpc_adapter_open(path, &env, "cfg", &inst, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(fedrpc_adapter_instance_adapter(inst)->name, "module");
	cr_assert_eq(fedrpc_adapter_register(inst, NULL, NULL, &st), FEDRPC_OK);
	/* peer_heard is optional: a table without it is called safely. */
	fedrpc_adapter_peer_heard(inst, "b.example");
	fedrpc_adapter_close(inst);
	/* The adapter's own open error comes back as it is. */
	cr_assert_eq(fedrpc_adapter_open(path, &env, "!", &inst, &st),
	    FEDRPC_UNAVAILABLE);
	cr_assert_null(inst);

	snprintf(path, sizeof(path), "%s/old.so", dir);
	cr_assert_eq(fedrpc_adapter_open(path, &env, "cfg", &inst, &st),
	    FEDRPC_FAILED_PRECONDITION);
	{
		char want[32];

		snprintf(want, sizeof(want), "ABI %u", FEDRPC_ADAPTER_ABI_VERSION);
		cr_assert(strstr(st.message, "ABI 0") && strstr(st.message, want),
		    "%s", st.message);
	}

	snprintf(path, sizeof(path), "%s/nosym.so", dir);
	cr_assert_eq(fedrpc_adapter_open(path, &env, "cfg", &inst, &st),
	    FEDRPC_FAILED_PRECONDITION);
	cr_assert(strstr(st.message, FEDRPC_ADAPTER_ENTRY_SYMBOL), "%s",
	    st.message);

	snprintf(path, sizeof(path), "%s/missing.so", dir);
	cr_assert_eq(fedrpc_adapter_open(path, &env, "cfg", &inst, &st),
	    FEDRPC_NOT_FOUND);
	cr_assert(strstr(st.message, "missing.so"), "%s", st.message);
	tu_rmrf(dir);
	free(dir);
}
