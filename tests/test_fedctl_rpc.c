/*
 * fedctl rpc against real federator daemons (tests/support/daemons.h):
 * every federation method of Users called by a.example's operator on
 * b.example over mutual TLS with JSON, the schemas found through b's
 * reflection service (and, once, through --protoset); list and describe
 * through reflection, of a domain and of the local API; a static
 * --address with certificates given on the command line; and JSON that
 * does not fit the schema refused before anything is sent, naming the
 * field.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "daemons.h"
#include "testutil.h"

#define FEDCTL FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"
#define REPO_SET FEDRPC_BINARY_DIR "/schema/current.binpb"

static void
quiet(void)
{
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
}

TestSuite(fedctl_rpc, .init = quiet, .timeout = 180);

typedef struct run_result {
	int   code;
	char *out, *err;
} run_result;

/* Runs fedctl with exactly args (NULL-terminated). */
static run_result
run(td *t, const char *const *args)
{
	const char *argv[48] = {FEDCTL};
	char        out[600], err[600];
	static int  seq;
	run_result  r;
	pid_t       pid;
	int         n = 1, status;

	for (; args[n - 1] != NULL && n < 46; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/rpc-%d.out", t->dir, seq);
	snprintf(err, sizeof(err), "%s/rpc-%d.err", t->dir, seq++);
	if ((pid = fork()) == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o  = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e  = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		unsetenv("FEDRPC_SOCKET");
		execv(FEDCTL, (char *const *) argv);
		_exit(127);
	}
	cr_assert_gt(pid, 0);
	status = tu_stop(pid, 0, TD_WAIT_MS);
	r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r.out  = tu_read_file(out);
	r.err  = tu_read_file(err);
	cr_assert_not_null(r.out);
	cr_assert_not_null(r.err);
	return r;
}

static void
run_free(run_result *r)
{
	free(r->out);
	free(r->err);
}

/* a.example calls b.example's method with data; returns the reply
 * (--json: status, metadata, reply), requiring status OK. */
static json_t *
call_b(td *t, const char *method, const char *data)
{
	const char *args[] = {"rpc", "call", "b.example", method, "--data", data,
	    "--config", t->f[0].conf, "--json", NULL};
	run_result  r      = run(t, args);
	json_t     *root, *reply;

	cr_assert_eq(r.code, 0, "%s %s: exit %d\n%s\n%s", method, data, r.code,
	    r.out, r.err);
	root = json_loads(r.out, 0, NULL);
	cr_assert_not_null(root, "%s: not JSON: %s", method, r.out);
	cr_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(root, "status"), "code")),
	    "OK");
	cr_assert(json_is_object(json_object_get(root, "metadata")));
	reply = json_incref(json_object_get(root, "reply"));
	cr_assert(json_is_object(reply), "%s: no reply: %s", method, r.out);
	json_decref(root);
	run_free(&r);
	return reply;
}

/* The string at a path of keys and indexes ("profile", "id", "id"). */
static const char *
str_at(json_t *v, const char *const *path)
{
	for (; *path != NULL && v != NULL; path++) {
		char *end;
		long  i = strtol(*path, &end, 10);

		v = *end == '\0' ? json_array_get(v, (size_t) i)
				 : json_object_get(v, *path);
	}
	return json_is_string(v) ? json_string_value(v) : NULL;
}

#define STR_AT(v, ...) str_at((v), (const char *const[]){__VA_ARGS__, NULL})

static void
expect_str(json_t *v, const char *want, const char *const *path)
{
	const char *got = str_at(v, path);
	char       *all = json_dumps(v, 0);

	cr_expect(got != NULL && strcmp(got, want) == 0,
	    "%s: want \"%s\" at %s...", all, want, path[0]);
	free(all);
}

#define EXPECT_STR(v, want, ...) \
	expect_str((v), (want), (const char *const[]){__VA_ARGS__, NULL})

Test(fedctl_rpc, every_users_method_round_trips_as_json)
{
	td     *t = td_new(2, NULL);
	td_user alice, bob;
	char    bobq[160], aliceq[160], client[24], data[600];
	json_t *r;

	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	alice = td_register(t, 0, "alice");
	bob   = td_register(t, 1, "bob");
	snprintf(bobq, sizeof(bobq), "{\"id\": \"%s\", \"domain\": \"b.example\"}",
	    bob.id);
	snprintf(aliceq, sizeof(aliceq),
	    "{\"id\": \"%s\", \"domain\": \"a.example\"}", alice.id);
	snprintf(client, sizeof(client), "%llu", (unsigned long long) bob.client);

	r = call_b(t, "fedrpc.federation.v1.Users/GetUserByHandle",
	    "{\"handle\": \"bob\"}");
	EXPECT_STR(r, "bob", "profile", "handle");
	EXPECT_STR(r, bob.id, "profile", "id", "id");
	EXPECT_STR(r, "b.example", "profile", "id", "domain");
	json_decref(r);

	snprintf(data, sizeof(data), "{\"users\": [%s]}", bobq);
	r = call_b(t, "fedrpc.federation.v1.Users/GetUsersByIds", data);
	EXPECT_STR(r, "bob", "profiles", "0", "handle");
	json_decref(r);

	r = call_b(t, "fedrpc.federation.v1.Users/SearchUsers",
	    "{\"term\": \"bob\"}");
	EXPECT_STR(r, "SEARCH_POLICY_EXACT_HANDLE_SEARCH", "searchPolicy");
	EXPECT_STR(r, bob.id, "contacts", "0", "id", "id");
	json_decref(r);

	snprintf(data, sizeof(data), "{\"users\": [%s]}", bobq);
	r = call_b(t, "fedrpc.federation.v1.Users/GetUserClients", data);
	/* a 64-bit id is a string, an enum its value's name */
	EXPECT_STR(r, client, "users", "0", "clients", "0", "id");
	EXPECT_STR(r, "CLIENT_CLASS_DESKTOP", "users", "0", "clients", "0",
	    "clientClass");
	json_decref(r);

	/* the schema's own field names are accepted too */
	snprintf(data, sizeof(data), "{\"user\": %s, \"client\": \"%s\"}", bobq,
	    client);
	r = call_b(t, "fedrpc.federation.v1.Users/ClaimPrekey", data);
	EXPECT_STR(r, client, "prekey", "client");
	EXPECT_STR(r, "azE=", "prekey", "prekey", "key"); /* "k1", base64 */
	cr_expect_eq(json_integer_value(json_object_get(
	                 json_object_get(json_object_get(r, "prekey"), "prekey"),
	                 "id")),
	    1);
	json_decref(r);

	snprintf(data, sizeof(data), "{\"user\": %s}", bobq);
	r = call_b(t, "fedrpc.federation.v1.Users/ClaimPrekeyBundle", data);
	EXPECT_STR(r, bob.id, "user", "id");
	EXPECT_STR(r, client, "clients", "0", "client");
	EXPECT_STR(r, "bGFzdA==", "clients", "0", "prekey", "key"); /* "last" */
	json_decref(r);

	snprintf(data, sizeof(data),
	    "{\"users\": [{\"user\": %s, \"clients\": [\"%s\"]}]}", bobq, client);
	r = call_b(t, "fedrpc.federation.v1.Users/ClaimMultiPrekeyBundle", data);
	EXPECT_STR(r, bob.id, "users", "0", "user", "id");
	EXPECT_STR(r, "bGFzdA==", "users", "0", "clients", "0", "prekey", "key");
	json_decref(r);

	snprintf(data, sizeof(data),
	    "{\"from\": %s, \"to\": %s, \"action\": \"CONNECTION_ACTION_CONNECT\"}",
	    aliceq, bobq);
	r = call_b(t, "fedrpc.federation.v1.Users/SendConnectionAction", data);
	EXPECT_STR(r, "RESULT_OK", "result");
	json_decref(r);

	snprintf(data, sizeof(data), "{\"user\": %s, \"connections\": [%s]}",
	    aliceq, bobq);
	r = call_b(t, "fedrpc.federation.v1.Users/OnUserDeletedConnections", data);
	cr_expect_eq(json_object_size(r), 0);
	json_decref(r);

	/* the same through a descriptor set made by protoc, no reflection */
	{
		const char *args[] = {"rpc", "call", "b.example",
		    "fedrpc.federation.v1.Users/GetUserByHandle", "--data",
		    "{\"handle\": \"bob\"}", "--config", t->f[0].conf,
		    "--protoset", REPO_SET, NULL};
		run_result  rr = run(t, args);
		json_t     *j;

		cr_assert_eq(rr.code, 0, "%s\n%s", rr.out, rr.err);
		/* text mode: the reply alone on stdout, the status on stderr */
		cr_assert_not_null(j = json_loads(rr.out, 0, NULL), "%s", rr.out);
		EXPECT_STR(j, "bob", "profile", "handle");
		cr_expect(strstr(rr.err, "status    OK") != NULL, "%s", rr.err);
		json_decref(j);
		run_free(&rr);
	}
	td_finish(t);
}

Test(fedctl_rpc, list_and_describe_through_reflection)
{
	td        *t = td_new(2, NULL);
	run_result r;
	char       addr[64], ca[600], cert[600], key[600];
	json_t    *j;

	td_start(t, 0, NULL);
	td_start(t, 1, NULL);

	/* b.example's federation listener */
	r = run(t, (const char *const[]){"rpc", "list", "--domain", "b.example",
	               "--config", t->f[0].conf, "--json", NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_assert_not_null(j = json_loads(r.out, 0, NULL), "%s", r.out);
	cr_expect(strstr(r.out, "\"fedrpc.federation.v1.Users\"") != NULL, "%s",
	    r.out);
	cr_expect(strstr(r.out, "\"fedrpc.reflection.v1.Reflection\"") != NULL,
	    "%s", r.out);
	cr_expect(strstr(r.out, "fedrpc.local.") == NULL,
	    "the local API is not on the federation listener: %s", r.out);
	json_decref(j);
	run_free(&r);

	/* a's local API */
	r = run(t, (const char *const[]){"rpc", "list", "--socket", t->f[0].sock,
	               NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.out, "fedrpc.local.v1.Users\n") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "fedrpc.health.v1.Health\n") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "fedrpc.federation.v1.Users\n") == NULL, "%s",
	    r.out);
	run_free(&r);

	r = run(t, (const char *const[]){"rpc", "list",
	               "fedrpc.federation.v1.Users", "--domain", "b.example",
	               "--config", t->f[0].conf, NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.out, "fedrpc.federation.v1.Users/ClaimPrekey\n") !=
	              NULL,
	    "%s", r.out);
	run_free(&r);

	r = run(t, (const char *const[]){"rpc", "describe",
	               "fedrpc.federation.v1.Users/ClaimPrekey", "--domain",
	               "b.example", "--config", t->f[0].conf, NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.out, "rpc ClaimPrekey(fedrpc.federation.v1."
	                        "ClaimPrekeyRequest) returns") != NULL,
	    "%s", r.out);
	cr_expect(strstr(r.out, "uint64 client = 2;  // JSON \"client\"") != NULL,
	    "%s", r.out);
	run_free(&r);

	r = run(t, (const char *const[]){"rpc", "describe",
	               "fedrpc.federation.v1.QualifiedId", "--socket",
	               t->f[0].sock, NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.out, "string domain = 2;") != NULL, "%s", r.out);
	run_free(&r);

	/* a symbol nobody defines */
	r = run(t, (const char *const[]){"rpc", "describe", "no.such.Thing",
	               "--socket", t->f[0].sock, NULL});
	cr_expect_eq(r.code, 1, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.err, "does not describe no.such.Thing") != NULL, "%s",
	    r.err);
	run_free(&r);

	/* the local API's health, with --local, the request from a file;
	 * its counters come back as reply metadata */
	{
		char data[600];

		snprintf(data, sizeof(data), "%s/health.json", t->dir);
		cr_assert(tu_write_file(data, "{\"service\": \"\"}\n"));
		snprintf(data, sizeof(data), "@%s/health.json", t->dir);
		r = run(t, (const char *const[]){"rpc", "call", "--local",
		               "fedrpc.health.v1.Health/Check", "--data", data,
		               "--metadata", "x-test=1", "--socket", t->f[0].sock,
		               "--json", NULL});
	}
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_assert_not_null(j = json_loads(r.out, 0, NULL), "%s", r.out);
	EXPECT_STR(j, "SERVING", "reply", "status");
	EXPECT_STR(j, "serving", "metadata", "federation-listener");
	cr_expect(json_is_string(json_object_get(json_object_get(j, "metadata"),
	              "federation-admitted")),
	    "%s", r.out);
	json_decref(j);
	run_free(&r);
	/* text mode: the metadata on stderr */
	r = run(t, (const char *const[]){"rpc", "call", "--local",
	               "fedrpc.health.v1.Health/Check", "--socket", t->f[0].sock,
	               NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.err, "metadata  federation-listener: serving\n") != NULL,
	    "%s", r.err);
	run_free(&r);

	/* a static address with the certificates on the command line */
	snprintf(addr, sizeof(addr), "localhost:%d", t->f[1].port);
	snprintf(ca, sizeof(ca), "%s/ca.crt", t->dir);
	snprintf(cert, sizeof(cert), "%s/a.crt", t->dir);
	snprintf(key, sizeof(key), "%s/a.key", t->dir);
	r = run(t, (const char *const[]){"rpc", "call", "b.example",
	               "fedrpc.federation.v1.Version/Get", "--address", addr,
	               "--ca", ca, "--cert", cert, "--key", key, "--origin",
	               "a.example", "--json", NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.out, "\"supported\": [") != NULL, "%s", r.out);
	run_free(&r);

	/* a descriptor set of a test schema, no server at all */
	r = run(t, (const char *const[]){"rpc", "list", "--protoset",
	               FEDRPC_RPC_PROTOSET, NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_expect_str_eq(r.out, "fedrpc.test.rpc.Things\n");
	run_free(&r);
	r = run(t, (const char *const[]){"rpc", "describe",
	               "fedrpc.test.rpc.Color", "--protoset", FEDRPC_RPC_PROTOSET,
	               NULL});
	cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.out, "COLOR_NEGATIVE = -1;") != NULL, "%s", r.out);
	run_free(&r);
	td_finish(t);
}

/* JSON that does not fit: exit 2, the field named, nothing sent. */
static void
expect_refused(td *t, const char *method, const char *data, const char *path,
    const char *what)
{
	run_result r = run(t, (const char *const[]){"rpc", "call", "b.example",
	                          method, "--data", data, "--config",
	                          t->f[0].conf, NULL});

	cr_expect_eq(r.code, 2, "%s: exit %d\n%s", data, r.code, r.err);
	cr_expect(strstr(r.err, path) != NULL && strstr(r.err, what) != NULL,
	    "%s: stderr does not name %s (%s): %s", data, path, what, r.err);
	cr_expect_str_eq(r.out, "");
	run_free(&r);
}

Test(fedctl_rpc, json_that_does_not_fit_is_refused_naming_the_field)
{
	td        *t = td_new(2, NULL);
	run_result r;
	json_t    *j;

	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	expect_refused(t, "fedrpc.federation.v1.Users/GetUsersByIds",
	    "{\"users\": [{\"id\": \"x\", \"domian\": \"b.example\"}]}",
	    "$.users[0].domian", "unknown field \"domian\" in "
	                         "fedrpc.federation.v1.QualifiedId");
	expect_refused(t, "fedrpc.federation.v1.Users/GetUserByHandle",
	    "{\"handle\": 5}", "$.handle", "expected a string, got an integer");
	expect_refused(t, "fedrpc.federation.v1.Users/ClaimPrekey",
	    "{\"client\": \"twelve\"}", "$.client", "is not a uint64");
	expect_refused(t, "fedrpc.federation.v1.Users/SendConnectionAction",
	    "{\"action\": \"CONNECTION_ACTION_MAYBE\"}", "$.action",
	    "is not a value of fedrpc.federation.v1.ConnectionAction");
	expect_refused(t, "fedrpc.federation.v1.Users/GetUserByHandle",
	    "{\"handle\": ", "not JSON", "line 1");

	/* the server's refusal: its status, exit 3 */
	r = run(t, (const char *const[]){"rpc", "call", "b.example",
	               "fedrpc.federation.v1.Users/GetUserByHandle", "--data",
	               "{\"handle\": \"NOT valid\"}", "--config", t->f[0].conf,
	               "--json", NULL});
	cr_expect_eq(r.code, 3, "%s\n%s", r.out, r.err);
	cr_assert_not_null(j = json_loads(r.out, 0, NULL), "%s", r.out);
	EXPECT_STR(j, "INVALID_ARGUMENT", "status", "code");
	cr_expect_null(json_object_get(j, "reply"));
	json_decref(j);
	run_free(&r);

	/* a method the schema does not have */
	r = run(t, (const char *const[]){"rpc", "call", "b.example",
	               "fedrpc.federation.v1.Users/Nope", "--config", t->f[0].conf,
	               NULL});
	cr_expect_eq(r.code, 1, "%s\n%s", r.out, r.err);
	cr_expect(strstr(r.err, "no method fedrpc.federation.v1.Users/Nope") !=
	              NULL,
	    "%s", r.err);
	run_free(&r);
	td_finish(t);
}
