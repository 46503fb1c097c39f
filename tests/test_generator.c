/*
 * protoc-gen-fedrpc, run the way users run it: protoc with the plugin on
 * the schemas in tests/data/generator/, then the output compared with the
 * committed golden files, searched for the expected names, compiled with
 * the system cc, and linked against a fake runtime to check its behaviour.
 *
 * To accept a deliberate change of the generated code, rerun with
 * FEDRPC_UPDATE_GOLDEN=1: the golden test then rewrites
 * tests/data/generator/golden/golden.fedrpc.[ch] (review the diff, commit).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "testutil.h"

#define DATA_DIR   FEDRPC_SOURCE_DIR "/tests/data/generator"
#define GOLDEN_DIR DATA_DIR "/golden"

/* Bounds for one child process; generous for an ASan build under load. */
#define PROTOC_TIMEOUT_MS 30000
#define CC_TIMEOUT_MS     120000

/* The warnings the project builds with, as errors. */
#define CC_WARNINGS "-Wall", "-Wextra", "-Wshadow", "-Werror"

static char *tmp;

static void
setup(void)
{
	tmp = tu_tmpdir("generator");
	cr_assert_not_null(tmp);
}

static void
teardown(void)
{
	tu_rmrf(tmp);
	free(tmp);
}

/*
 * Runs argv (argv[0] a path) with its output in log, within timeout_ms.
 * Returns its exit code, or -1 when it died by a signal or ran too long.
 */
static int
run(char *const argv[], const char *log, int timeout_ms)
{
	bool late;
	int  rc = tu_run_log(argv, log, (unsigned) timeout_ms, &late);

	cr_assert_not(late, "%s ran longer than %d ms", argv[0], timeout_ms);
	return rc;
}

/* The full path of a program found on PATH. */
static char *
which(const char *prog)
{
	const char *path = getenv("PATH");
	char       *copy, *dir, *save = NULL, *found = NULL;

	copy = strdup(path != NULL ? path : "/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir != NULL && found == NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p;

		if (asprintf(&p, "%s/%s", dir, prog) < 0)
			break;
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	cr_assert_not_null(found, "%s is not on PATH", prog);
	return found;
}

/*
 * Runs protoc on the named schemas of tests/data/generator with our plugin
 * (and protoc-c when with_c), output into tmp and protoc's messages into
 * tmp/protoc.log. Returns protoc's exit code.
 */
static int
protoc(bool with_c, const char *fedrpc_opt, const char *const *protos)
{
	char *argv[32];
	int   n = 0, rc;
	char *plugin, *out, *c_out = NULL, *opt = NULL;

	cr_assert(asprintf(&plugin, "--plugin=protoc-gen-fedrpc=%s",
	              FEDRPC_PLUGIN) > 0);
	cr_assert(asprintf(&out, "--fedrpc_out=%s", tmp) > 0);
	argv[n++] = FEDRPC_PROTOC;
	argv[n++] = "-I" DATA_DIR;
	argv[n++] = "-I/usr/include"; /* protobuf-c/protobuf-c.proto */
	argv[n++] = plugin;
	argv[n++] = out;
	if (with_c) {
		cr_assert(asprintf(&c_out, "--c_out=%s", tmp) > 0);
		argv[n++] = c_out;
	}
	if (fedrpc_opt != NULL) {
		cr_assert(asprintf(&opt, "--fedrpc_opt=%s", fedrpc_opt) > 0);
		argv[n++] = opt;
	}
	for (; *protos != NULL && n < 31; protos++)
		argv[n++] = (char *) *protos;
	argv[n] = NULL;
	rc = run(argv, tu_path(tmp, "protoc.log"), PROTOC_TIMEOUT_MS);
	free(plugin);
	free(out);
	free(c_out);
	free(opt);
	return rc;
}

/* protoc's messages from the last run. */
static char *
protoc_log(void)
{
	char *log = tu_read_file(tu_path(tmp, "protoc.log"));

	return log != NULL ? log : strdup("");
}

static char *
read_output(const char *name)
{
	char *text = tu_read_file(tu_path(tmp, name));

	cr_assert_not_null(text, "protoc made no %s", name);
	return text;
}

/* Compiles src (relative to tmp, or absolute) with strict warnings. */
static void
compile(const char *cc, const char *src)
{
	char *argv[] = {(char *) cc, CC_WARNINGS, "-I" FEDRPC_SOURCE_DIR "/include",
	    "-I" FEDRPC_SOURCE_DIR "/gen", "-I", tmp, "-c", (char *) src, "-o",
	    (char *) tu_path(tmp, "out.o"), NULL};
	int   rc;

	rc = run(argv, tu_path(tmp, "cc.log"), CC_TIMEOUT_MS);
	if (rc != 0) {
		char *log = tu_read_file(tu_path(tmp, "cc.log"));

		cr_expect_fail("cc failed on %s:\n%s", src, log ? log : "");
		free(log);
	}
}

/* The line number where a and b first differ, or 0 when equal. */
static int
first_difference(const char *a, const char *b, const char **at_a,
    const char **at_b)
{
	int line = 1;

	for (*at_a = a, *at_b = b; *a != '\0' && *a == *b; a++, b++) {
		if (*a == '\n') {
			line++;
			*at_a = a + 1;
			*at_b = b + 1;
		}
	}
	return *a == *b ? 0 : line;
}

static void
check_golden(const char *name)
{
	char       *got  = read_output(name);
	char       *path = strdup(tu_path(GOLDEN_DIR, name));
	char       *want;
	const char *ga, *wa;
	int         line;

	if (getenv("FEDRPC_UPDATE_GOLDEN") != NULL &&
	    strcmp(getenv("FEDRPC_UPDATE_GOLDEN"), "1") == 0) {
		cr_assert(tu_write_file(path, got), "cannot write %s", path);
		cr_log_warn("rewrote %s", path);
	}
	want = tu_read_file(path);
	cr_assert_not_null(want, "no golden file %s (FEDRPC_UPDATE_GOLDEN=1 "
	                         "makes it)", path);
	line = first_difference(got, want, &ga, &wa);
	cr_expect_eq(line, 0,
	    "%s differs from %s at line %d:\n  got:  %.*s\n  want: %.*s\n"
	    "(FEDRPC_UPDATE_GOLDEN=1 rewrites the golden files)",
	    name, path, line, (int) strcspn(ga, "\n"), ga,
	    (int) strcspn(wa, "\n"), wa);
	free(got);
	free(want);
	free(path);
}

/* True when tmp holds any *.fedrpc.[ch] file. */
static bool
any_fedrpc_output(void)
{
	DIR           *d = opendir(tmp);
	struct dirent *e;
	bool           found = false;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".fedrpc.") != NULL)
			found = true;
	closedir(d);
	return found;
}

#define expect_has(text, what)                                               \
	cr_expect(strstr((text), (what)) != NULL, "missing: %s", (what))

/* A refusal must still be a clean exit of the plugin (no sanitizer report). */
#define expect_clean_refusal(log)                                            \
	cr_expect(strstr((log), "Sanitizer") == NULL, "plugin: %s", (log))

TestSuite(generator, .init = setup, .fini = teardown, .timeout = 240);

Test(generator, golden_output_matches_committed_files)
{
	const char *protos[] = {"golden.proto", NULL};

	cr_assert_eq(protoc(false, NULL, protos), 0, "protoc: %s", protoc_log());
	check_golden("golden.fedrpc.h");
	check_golden("golden.fedrpc.c");
}

Test(generator, output_is_deterministic)
{
	const char *protos[] = {"golden.proto", NULL};
	char       *first_h, *first_c, *again_h, *again_c;

	cr_assert_eq(protoc(false, NULL, protos), 0, "protoc: %s", protoc_log());
	first_h = read_output("golden.fedrpc.h");
	first_c = read_output("golden.fedrpc.c");
	cr_assert_eq(protoc(false, NULL, protos), 0, "protoc: %s", protoc_log());
	again_h = read_output("golden.fedrpc.h");
	again_c = read_output("golden.fedrpc.c");
	cr_expect_str_eq(first_h, again_h);
	cr_expect_str_eq(first_c, again_c);
	{
		const char *banner = "/* Generated by protoc-gen-fedrpc from "
		                     "golden.proto. DO NOT EDIT. */\n";

		cr_expect(strncmp(first_h, banner, strlen(banner)) == 0);
		cr_expect(strncmp(first_c, banner, strlen(banner)) == 0);
	}
	free(first_h);
	free(first_c);
	free(again_h);
	free(again_c);
}

Test(generator, several_services_in_a_nested_package)
{
	const char *protos[] = {"multi.proto", NULL};
	char       *h, *c;

	cr_assert_eq(protoc(false, NULL, protos), 0, "protoc: %s", protoc_log());
	h = read_output("multi.fedrpc.h");
	c = read_output("multi.fedrpc.c");
	expect_has(h, "#include \"multi.pb-c.h\"");
	/* every service, prefixed by the package in snake_case */
	expect_has(h, "extern const fedrpc_service acme_chat_federation_v2_users_service;");
	expect_has(h, "extern const fedrpc_service acme_chat_federation_v2_conversations_service;");
	expect_has(h, "extern const fedrpc_service acme_chat_federation_v2_http_gateway_service;");
	expect_has(h, "extern const fedrpc_service acme_chat_federation_v2_empty_service;");
	/* methods in snake_case, acronyms and digits kept together */
	expect_has(h, "fedrpc_code acme_chat_federation_v2_users_get_user_by_handle(");
	expect_has(h, "fedrpc_code acme_chat_federation_v2_users_claim_prekeys_async(");
	expect_has(h, "acme_chat_federation_v2_conversations_v1_beta_sync(");
	expect_has(h, "acme_chat_federation_v2_http_gateway_http_thing(");
	expect_has(h, "ACME_CHAT_FEDERATION_V2_CONVERSATIONS_LEAVE_INDEX = 2,");
	expect_has(h, "ACME_CHAT_FEDERATION_V2_CONVERSATIONS_N_METHODS = 3");
	expect_has(h, "ACME_CHAT_FEDERATION_V2_EMPTY_N_METHODS = 0");
	expect_has(h, "} acme_chat_federation_v2_users_handlers;");
	expect_has(h, "acme_chat_federation_v2_conversations_create_conversation_handler_fn create_conversation;");
	expect_has(h, "fedrpc_code acme_chat_federation_v2_http_gateway_register(");
	/* a service without methods has a descriptor and nothing to call */
	expect_has(c, ".methods   = NULL,");
	cr_expect(strstr(h, "acme_chat_federation_v2_empty_register") == NULL);
	/* wire names keep the schema's spelling */
	expect_has(c, "\"acme.chat.federation.v2.Users/GetUserByHandle\"");
	expect_has(c, "\"acme.chat.federation.v2.HTTPGateway/HTTPThing\"");
	expect_has(c, ".full_name = \"acme.chat.federation.v2.Conversations\",");
	expect_has(c, "&acme__chat__federation__v2__ping__descriptor");
	free(h);
	free(c);
}

Test(generator, no_package_and_c_package)
{
	const char *protos[] = {"nopackage.proto", "cpackage.proto", NULL};
	char       *h, *c;

	cr_assert_eq(protoc(false, NULL, protos), 0, "protoc: %s", protoc_log());
	h = read_output("nopackage.fedrpc.h");
	c = read_output("nopackage.fedrpc.c");
	expect_has(h, "fedrpc_code greeter_say_hello(fedrpc_channel *ch, "
	              "const HelloRequest *req,\n    HelloReply **resp,");
	expect_has(c, ".full_name = \"Greeter/SayHello\",");
	expect_has(c, "&hello_request__descriptor");
	free(h);
	free(c);
	/* protoc-c's c_package renames C types; the wire keeps the package */
	h = read_output("cpackage.fedrpc.h");
	c = read_output("cpackage.fedrpc.c");
	expect_has(h, "fedrpc_code acme_c_side_things_fetch(");
	expect_has(h, "const Acme__CSide__Thing *req");
	expect_has(h, "Acme__CSide__Thing__Part **resp");
	expect_has(c, "&acme__c_side__thing__part__descriptor");
	expect_has(c, ".full_name = \"acme.wire.v1.Things/Fetch\",");
	free(h);
	free(c);
}

Test(generator, server_streaming_is_refused)
{
	const char *protos[] = {"streaming_server.proto", NULL};
	char       *log;

	cr_expect_neq(protoc(false, NULL, protos), 0);
	log = protoc_log();
	expect_has(log, "fedrpc: method Clock.Watch in streaming_server.proto "
	                "is server-streaming; fedrpc supports unary methods "
	                "only");
	cr_expect_not(any_fedrpc_output());
	expect_clean_refusal(log);
	free(log);
}

Test(generator, client_streaming_is_refused)
{
	const char *protos[] = {"streaming_client.proto", NULL};
	char       *log;

	cr_expect_neq(protoc(false, NULL, protos), 0);
	log = protoc_log();
	expect_has(log, "fedrpc: method Upload.Send in streaming_client.proto "
	                "is client-streaming; fedrpc supports unary methods "
	                "only");
	cr_expect_not(any_fedrpc_output());
	expect_clean_refusal(log);
	free(log);
}

Test(generator, clashing_c_names_are_refused)
{
	const char *protos[] = {"clash.proto", NULL};
	char       *log;

	cr_expect_neq(protoc(false, NULL, protos), 0);
	log = protoc_log();
	expect_has(log, "fedrpc: in clash.proto, service Accounts and method "
	                "Accounts.Register both make the C name "
	                "fedrpc_refused_v1_accounts_register");
	expect_clean_refusal(log);
	free(log);
}

Test(generator, unknown_parameter_is_refused)
{
	const char *protos[] = {"golden.proto", NULL};
	char       *log;

	cr_expect_neq(protoc(false, "colour=blue", protos), 0);
	log = protoc_log();
	expect_has(log, "fedrpc: unknown parameter \"colour=blue\"");
	expect_clean_refusal(log);
	free(log);
}

Test(generator, file_without_services_makes_only_its_schema)
{
	const char *protos[] = {"messages_only.proto", NULL};
	struct stat sb;
	char       *c;

	cr_assert_eq(protoc(true, NULL, protos), 0, "protoc: %s", protoc_log());
	/* protoc did run (protoc-c wrote its part) ... */
	cr_expect_eq(stat(tu_path(tmp, "messages_only.pb-c.h"), &sb), 0);
	/* ... and we wrote no stubs, only the schema as data */
	cr_expect_not(any_fedrpc_output());
	c = read_output("messages_only.schema.c");
	expect_has(c, "const fedrpc_schema_file fedrpc_schema_messages_only = {");
	expect_has(c, ".name           = \"messages_only.proto\",");
	expect_has(c, ".methods        = NULL,");
	free(c);
	c = which("cc");
	compile(c, tu_path(tmp, "messages_only.schema.c"));
	free(c);
}

/* Each file's schema: its descriptor, the names it defines, its
 * imports' schemas; it compiles warning-free, also without a package. */
Test(generator, schemas_name_their_symbols_and_imports)
{
	const char *protos[] = {"golden.proto", "golden_types.proto",
	    "nopackage.proto", NULL};
	char       *c;

	cr_assert_eq(protoc(true, NULL, protos), 0, "protoc: %s", protoc_log());
	c = read_output("golden.schema.c");
	expect_has(c, "extern const fedrpc_schema_file fedrpc_schema_golden_types;");
	expect_has(c, "\t&fedrpc_schema_golden_types,\n");
	expect_has(c, "static const uint8_t descriptor[] = {");
	free(c);
	c = which("cc");
	compile(c, tu_path(tmp, "golden.schema.c"));
	compile(c, tu_path(tmp, "golden_types.schema.c"));
	compile(c, tu_path(tmp, "nopackage.schema.c"));
	free(c);
}

Test(generator, generated_code_compiles_warning_free)
{
	const char *protos[] = {"golden.proto", "golden_types.proto",
	    "multi.proto", "nopackage.proto", "cpackage.proto", NULL};
	const char *sources[] = {"golden.fedrpc.c", "multi.fedrpc.c",
	    "nopackage.fedrpc.c", "cpackage.fedrpc.c"};
	char       *cc = which("cc");

	cr_assert_eq(protoc(true, NULL, protos), 0, "protoc: %s", protoc_log());
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		compile(cc, tu_path(tmp, sources[i]));
	free(cc);
}

/* Every *.fedrpc.c under gen/, collected by nftw(). */
static char  *gen_sources[256];
static size_t n_gen_sources;

static int
collect_gen_source(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	size_t n = strlen(path), m = strlen(".fedrpc.c");

	(void) sb;
	(void) ftw;
	if (type == FTW_F && n > m && strcmp(path + n - m, ".fedrpc.c") == 0 &&
	    n_gen_sources < sizeof(gen_sources) / sizeof(gen_sources[0]))
		gen_sources[n_gen_sources++] = strdup(path);
	return 0;
}

Test(generator, committed_gen_compiles_warning_free)
{
	char *cc     = which("cc");
	bool  health = false;

	cr_assert_eq(nftw(FEDRPC_SOURCE_DIR "/gen", collect_gen_source, 16,
	                 FTW_PHYS),
	    0);
	for (size_t i = 0; i < n_gen_sources; i++) {
		compile(cc, gen_sources[i]);
		health = health || strstr(gen_sources[i],
		                       "/gen/fedrpc/health/v1/health.fedrpc.c");
		free(gen_sources[i]);
	}
	cr_expect(health, "gen/fedrpc/health/v1/health.fedrpc.c is missing");
	free(cc);
}

Test(generator, stubs_behave_against_a_fake_runtime)
{
	const char *protos[] = {"golden.proto", "golden_types.proto", NULL};
	char       *cc       = which("cc");
	char       *exe, *log;
	int         rc;

	cr_assert_eq(protoc(true, NULL, protos), 0, "protoc: %s", protoc_log());
	exe = strdup(tu_path(tmp, "stub_driver"));
	{
		char *argv[] = {cc, CC_WARNINGS, "-g",
		    "-fsanitize=address,undefined",
		    "-fno-sanitize-recover=undefined",
		    "-I" FEDRPC_SOURCE_DIR "/include", "-I", tmp,
		    DATA_DIR "/stub_driver.c",
		    (char *) tu_path(tmp, "golden.fedrpc.c"),
		    (char *) tu_path(tmp, "golden.pb-c.c"),
		    (char *) tu_path(tmp, "golden_types.pb-c.c"), "-lprotobuf-c",
		    "-o", exe, NULL};

		rc = run(argv, tu_path(tmp, "cc.log"), CC_TIMEOUT_MS);
	}
	log = tu_read_file(tu_path(tmp, "cc.log"));
	cr_assert_eq(rc, 0, "building the driver failed:\n%s", log ? log : "");
	free(log);
	{
		char *argv[] = {exe, NULL};

		rc = run(argv, tu_path(tmp, "driver.log"), PROTOC_TIMEOUT_MS);
	}
	log = tu_read_file(tu_path(tmp, "driver.log"));
	cr_expect_eq(rc, 0, "the driver failed:\n%s", log ? log : "");
	cr_expect(log != NULL && strstr(log, "all checks passed") != NULL);
	free(log);
	free(exe);
	free(cc);
}
