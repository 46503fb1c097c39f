/*
 * fedrpc-schema-check, run as scripts/test.sh runs it: protoc makes
 * descriptor sets of tests/data/schema/base (the "released" schema) and of
 * one changed copy per case, and the checker must fail on every breaking
 * change with a message naming the file, the message, enum or service and
 * the field, value or method, and pass additions and new package versions.
 * A break of the real schemas against proto-baseline/ fails too.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define DATA_DIR FEDRPC_SOURCE_DIR "/tests/data/schema"
#define RUN_TIMEOUT_MS 60000

static char *tmp;

static void
setup(void)
{
	tmp = tu_tmpdir("schema");
	cr_assert_not_null(tmp);
}

static void
teardown(void)
{
	tu_rmrf(tmp);
	free(tmp);
}

TestSuite(schema_check, .init = setup, .fini = teardown);

/* Runs argv with its output in log; its exit code (-1: signal). */
static int
run(char *const argv[], const char *log)
{
	bool late;
	int  rc = tu_run_log(argv, log, RUN_TIMEOUT_MS, &late);

	cr_assert_not(late, "%s ran longer than %d ms", argv[0],
	    RUN_TIMEOUT_MS);
	return rc;
}

/* The .proto files under dir, relative to it (at most max). */
static int
protos_of(const char *dir, char **out, int max)
{
	char  cmd[1024], line[512];
	FILE *p;
	int   n = 0;

	snprintf(cmd, sizeof(cmd), "cd '%s' && find . -name '*.proto' | sort", dir);
	cr_assert_not_null(p = popen(cmd, "r"));
	while (n < max && fgets(line, sizeof(line), p) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		out[n++] = strdup(line + 2); /* without "./" */
	}
	pclose(p);
	return n;
}

/* A descriptor set of every schema under dir, at out. */
static void
descriptor_set(const char *dir, const char *out, bool source_info)
{
	char *argv[64], *files[48], inc[PATH_MAX + 8], set[PATH_MAX + 32];
	int   n = 0, nf = protos_of(dir, files, 48);

	cr_assert_gt(nf, 0, "no schemas in %s", dir);
	snprintf(inc, sizeof(inc), "-I%s", dir);
	snprintf(set, sizeof(set), "--descriptor_set_out=%s", out);
	argv[n++] = FEDRPC_PROTOC;
	argv[n++] = inc;
	argv[n++] = "--include_imports";
	if (source_info)
		argv[n++] = "--include_source_info";
	argv[n++] = set;
	for (int i = 0; i < nf; i++)
		argv[n++] = files[i];
	argv[n] = NULL;
	cr_assert_eq(run(argv, tu_path(tmp, "protoc.log")), 0,
	    "protoc failed on %s: %s", dir, tu_read_file(tu_path(tmp, "protoc.log")));
	for (int i = 0; i < nf; i++)
		free(files[i]);
}

/* Runs the checker; *log receives what it printed (caller frees). */
static int
check(const char *released, const char *base, const char *cur, char **log)
{
	char *argv[] = {FEDRPC_SCHEMA_CHECK, "--released", (char *) released,
	    (char *) base, (char *) cur, NULL};
	char  path[600];
	int   rc;

	snprintf(path, sizeof(path), "%s/check-%ld.log", tmp, (long) tu_now_ms());
	unlink(path);
	rc   = run(argv, path);
	*log = tu_read_file(path);
	cr_assert_not_null(*log);
	return rc;
}

/* One case: the checker's exit code and what its output must say. */
static void
expect_case(const char *name, int want_rc, const char *const *says)
{
	char  base[600], cur[600], dir[600], *log;
	int   rc;

	snprintf(base, sizeof(base), "%s/base.binpb", tmp);
	snprintf(cur, sizeof(cur), "%s/%s.binpb", tmp, name);
	snprintf(dir, sizeof(dir), "%s/%s", DATA_DIR, name);
	descriptor_set(DATA_DIR "/base", base, false);
	descriptor_set(dir, cur, true);
	rc = check(DATA_DIR "/released", base, cur, &log);
	cr_assert_eq(rc, want_rc, "case %s: exit %d, not %d:\n%s", name, rc,
	    want_rc, log);
	for (; *says != NULL; says++)
		cr_assert_not_null(strstr(log, *says),
		    "case %s: the output does not say\n  %s\nbut:\n%s", name, *says,
		    log);
	free(log);
}

#define FILE_ "fedrpc/example/v1/example.proto:"
#define ITEM "message fedrpc.example.v1.Item: "

Test(schema_check, removed_field)
{
	const char *const says[] = {FILE_ "14: " ITEM "field \"name\" (2) was removed",
	    "1 breaking change to released packages", NULL};

	expect_case("remove_field", 1, says);
}

Test(schema_check, renumbered_field)
{
	const char *const says[] = {
	    FILE_ "16: " ITEM "field \"name\" changed number from 2 to 13", NULL};

	expect_case("renumber_field", 1, says);
}

Test(schema_check, renamed_field)
{
	const char *const says[] = {
	    FILE_ "16: " ITEM "field \"name\" (2) was renamed to \"title\"", NULL};

	expect_case("rename_field", 1, says);
}

Test(schema_check, changed_type)
{
	const char *const says[] = {
	    FILE_ "16: " ITEM "field \"name\" (2) changed type from string to bytes",
	    FILE_ "18: " ITEM "field \"color\" (4) changed type from "
	          "fedrpc.example.v1.Color to int32",
	    "2 breaking changes", NULL};

	expect_case("change_type", 1, says);
}

Test(schema_check, changed_label)
{
	const char *const says[] = {
	    FILE_ "17: " ITEM "field \"tags\" (3) changed label from repeated to "
	          "singular",
	    FILE_ "23: " ITEM "field \"note\" (7) changed label from optional to "
	          "singular",
	    NULL};

	expect_case("change_label", 1, says);
}

Test(schema_check, field_left_its_oneof)
{
	const char *const says[] = {
	    FILE_ "19: " ITEM "field \"cents\" (5) moved out of oneof \"price\"",
	    NULL};

	expect_case("change_oneof", 1, says);
}

Test(schema_check, removed_message)
{
	const char *const says[] = {
	    "fedrpc/example/v1/example.proto: message fedrpc.example.v1.Note was "
	    "removed",
	    NULL};

	expect_case("remove_message", 1, says);
}

Test(schema_check, removed_enum_value)
{
	const char *const says[] = {FILE_ "6: enum fedrpc.example.v1.Color: value "
	                            "COLOR_BLUE (2) was removed",
	    NULL};

	expect_case("remove_enum_value", 1, says);
}

Test(schema_check, removed_method)
{
	const char *const says[] = {FILE_ "50: service fedrpc.example.v1.Store: "
	                            "method ListItems was removed",
	    NULL};

	expect_case("remove_method", 1, says);
}

Test(schema_check, renamed_method)
{
	const char *const says[] = {FILE_ "50: service fedrpc.example.v1.Store: "
	                            "method GetItem was removed (renaming a method "
	                            "removes it too)",
	    NULL};

	expect_case("rename_method", 1, says);
}

Test(schema_check, removed_service)
{
	const char *const says[] = {"fedrpc/example/v1/example.proto: service "
	                            "fedrpc.example.v1.Admin was removed",
	    NULL};

	expect_case("remove_service", 1, says);
}

Test(schema_check, renamed_service)
{
	const char *const says[] = {"fedrpc/example/v1/example.proto: service "
	                            "fedrpc.example.v1.Admin was removed (renaming "
	                            "it",
	    NULL};

	expect_case("rename_service", 1, says);
}

Test(schema_check, changed_request_type)
{
	const char *const says[] = {
	    FILE_ "51: service fedrpc.example.v1.Store: method GetItem changed its "
	          "request type from fedrpc.example.v1.GetItemRequest to "
	          "fedrpc.example.v1.ListItemsRequest",
	    NULL};

	expect_case("change_request", 1, says);
}

Test(schema_check, changed_response_type_and_streaming)
{
	const char *const says[] = {
	    FILE_ "51: service fedrpc.example.v1.Store: method GetItem changed its "
	          "response type from fedrpc.example.v1.GetItemResponse to "
	          "fedrpc.example.v1.ListItemsResponse",
	    FILE_ "52: service fedrpc.example.v1.Store: method ListItems changed "
	          "from unary to server streaming",
	    NULL};

	expect_case("change_response", 1, says);
}

Test(schema_check, reused_reserved_number)
{
	const char *const says[] = {FILE_ "24: " ITEM "field \"sku\" uses number 8, "
	                                   "which the released schema reserves",
	    "1 breaking change", NULL};

	expect_case("reuse_reserved_number", 1, says);
}

Test(schema_check, reused_reserved_name)
{
	const char *const says[] = {
	    FILE_ "24: " ITEM "field \"legacy\" (13) uses a name the released "
	          "schema reserves",
	    FILE_ "10: enum fedrpc.example.v1.Color: value COLOR_GREEN uses number "
	          "3, which the released schema reserves",
	    FILE_ "10: enum fedrpc.example.v1.Color: value COLOR_GREEN (3) uses a "
	          "name the released schema reserves",
	    "3 breaking changes", NULL};

	expect_case("reuse_reserved_name", 1, says);
}

Test(schema_check, dropped_reservation)
{
	const char *const says[] = {
	    FILE_ "14: " ITEM "reserved numbers 10 to 12 are no longer reserved",
	    NULL};

	expect_case("unreserve", 1, says);
}

Test(schema_check, removed_package)
{
	const char *const says[] = {"package fedrpc.example.v1 was removed", NULL};

	expect_case("remove_package", 1, says);
}

/* New fields, values, messages, methods and services; a message moved to
 * another file of its package; an unreleased package changed. */
Test(schema_check, additions_pass)
{
	const char *const says[] = {"no breaking change to the 1 released "
	                            "package",
	    NULL};

	expect_case("additions", 0, says);
}

/* The documented way to break on purpose: a new package version. */
Test(schema_check, new_package_version_passes)
{
	const char *const says[] = {"no breaking change", NULL};

	expect_case("new_version", 0, says);
}

/* The real guard: proto/ copied, one field of a released package changed,
 * checked against the committed baseline. */
Test(schema_check, real_schemas_against_the_baseline)
{
	char  copy[600], cmd[1500], cur[600], *text, *at, *log;
	char  common[700];
	FILE *f;

	snprintf(copy, sizeof(copy), "%s/proto", tmp);
	snprintf(cmd, sizeof(cmd), "cp -r '%s/proto' '%s'", FEDRPC_SOURCE_DIR, copy);
	cr_assert_eq(system(cmd), 0);
	snprintf(cur, sizeof(cur), "%s/current.binpb", tmp);
	descriptor_set(copy, cur, true);
	cr_assert_eq(check(FEDRPC_SOURCE_DIR "/proto-baseline/released",
	                 FEDRPC_SOURCE_DIR "/proto-baseline/fedrpc.binpb", cur, &log),
	    0, "proto/ breaks the baseline:\n%s", log);
	free(log);

	snprintf(common, sizeof(common),
	    "%s/fedrpc/federation/v1/common.proto", copy);
	cr_assert_not_null(text = tu_read_file(common));
	cr_assert_not_null(at = strstr(text, "string handle = 3;"));
	memcpy(at, "bytes  handle = 3;", 18);
	cr_assert_not_null(f = fopen(common, "w"));
	fputs(text, f);
	fclose(f);
	free(text);
	descriptor_set(copy, cur, true);
	cr_assert_eq(check(FEDRPC_SOURCE_DIR "/proto-baseline/released",
	                 FEDRPC_SOURCE_DIR "/proto-baseline/fedrpc.binpb", cur, &log),
	    1);
	cr_assert_not_null(strstr(log, "fedrpc/federation/v1/common.proto:"),
	    "%s", log);
	cr_assert_not_null(strstr(log, "message fedrpc.federation.v1.UserProfile: "
	                               "field \"handle\" (3) changed type from "
	                               "string to bytes"),
	    "%s", log);
	free(log);
}
