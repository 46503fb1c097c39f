/*
 * fedctl as users run it (tests/support/fedctl_run.h), against two real
 * federator daemons (a.example and b.example, tests/support/daemons.h) on
 * 127.0.0.1 with mutual TLS, each with its own SQLite file and local
 * ipc:// socket. Each reaches the other through a TCP relay
 * (tests/support/relay.h) that records every byte crossing from one
 * backend to the other, so the tests can show that the plaintext of a
 * message is nowhere on the servers: not in their databases (main file,
 * -wal, -shm), not in their logs, and not on the wire. The text output and
 * the --json forms (parsed with jansson) are what is checked, and so are
 * the exit codes: 2 for usage errors, 3 when another domain is unreachable
 * or refuses.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include <fedrpc/log.h>

#include "daemons.h"
#include "testutil.h"

typedef struct user {
	char home[512];   /* FEDCTL_HOME */
	char qid[128];    /* "uuid@domain" */
	char domain[32];
} user;

static td *T;

/* Each backend lets the other search by exact handle, and is reached
 * only through its relay, named by a static discovery entry. */
static void
setup(void)
{
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	T = td_new(2, NULL);
	for (int i = 0; i < 2; i++) {
		snprintf(T->f[i].policy, sizeof(T->f[i].policy),
		    "exact_handle_search");
		td_relay(T, i);
	}
	td_start(T, 0, NULL);
	td_start(T, 1, NULL);
}

static void
teardown(void)
{
	td_free(T); /* never asserts: it runs after failures too */
	T = NULL;
}

TestSuite(fedctl_user, .init = setup, .fini = teardown, .timeout = 120);

#define A (T->f[0])
#define B (T->f[1])
#define A_IN (*T->relays[0]) /* what b.example dials to reach a.example */
#define B_IN (*T->relays[1])

#define EXPECT(want, home, ...) FR_EXPECT(T->dir, want, home, __VA_ARGS__)
#define FEDCTL_JSON(want, home, ...) FR_JSON(T->dir, want, home, __VA_ARGS__)
#define FEDCTL_RUN(home, ...) FR_RUN(T->dir, home, __VA_ARGS__)

/* ---- scenario steps ---- */

/* Registers handle on f with a client; fills u. */
static void
user_make(user *u, const td_fed *f, const char *handle, const char *name)
{
	json_t *j;

	snprintf(u->home, sizeof(u->home), "%s/home-%s", T->dir, handle);
	snprintf(u->domain, sizeof(u->domain), "%s", f->domain);
	j = FEDCTL_JSON(0, u->home, "user", "register", handle, name,
	    "--socket", f->sock);
	cr_assert_str_eq(fr_str(j, "user.domain"), f->domain);
	cr_assert_str_eq(fr_str(j, "user.handle"), handle);
	cr_assert_not(fr_bool(j, "user.federated"));
	snprintf(u->qid, sizeof(u->qid), "%s", fr_str(j, "user.qualified_id"));
	json_decref(j);
	j = FEDCTL_JSON(0, u->home, "client", "add", "--prekeys", "8");
	cr_assert_eq(json_integer_value(json_object_get(
	                 json_object_get(j, "client"), "one_time_prekeys")),
	    8);
	json_decref(j);
}

/* alice@a and bob@b, connected, in a conversation of alice's. */
typedef struct pair {
	user alice, bob;
	char conv[128]; /* its qualified id */
} pair;

static void
pair_make(pair *p, const char *conv_name)
{
	json_t *j;
	fr_run  r;

	user_make(&p->alice, &A, "alice", "Alice Liddell");
	user_make(&p->bob, &B, "bob", "Bob Builder");
	r = EXPECT(0, p->alice.home, "connect", "bob@b.example");
	fr_free(&r);
	r = EXPECT(0, p->bob.home, "accept", "alice@a.example");
	cr_assert(strstr(r.out, "accepted") != NULL, "%s", r.out);
	fr_free(&r);
	j = FEDCTL_JSON(0, p->alice.home, "conv", "create", conv_name,
	    "bob@b.example");
	snprintf(p->conv, sizeof(p->conv), "%s",
	    fr_str(j, "conversation.qualified_id"));
	json_decref(j);
}

/* The text of the first message event in an inbox --json answer. */
static const char *
first_message(json_t *inbox, json_t **ev_out)
{
	json_t *evs = json_object_get(inbox, "events"), *ev;
	size_t  i;

	json_array_foreach (evs, i, ev) {
		if (strcmp(fr_str(ev, "type"), "message") != 0)
			continue;
		cr_assert(fr_bool(ev, "decrypted"), "not decrypted: %s",
		    json_dumps(ev, 0));
		if (ev_out != NULL)
			*ev_out = ev;
		return fr_str(ev, "text");
	}
	cr_assert_fail("no message in:\n%s", json_dumps(inbox, JSON_INDENT(2)));
	return NULL;
}

/* ---- the tests ---- */

Test(fedctl_user, register_find_connect_converse)
{
	user    alice, bob;
	json_t *j, *ev, *members, *m;
	fr_run  r;
	size_t  i;
	bool    saw_bob = false;

	/* Registering: the user with its qualified id, no marker (ours). */
	snprintf(alice.home, sizeof(alice.home), "%s/home-alice", T->dir);
	r = EXPECT(0, alice.home, "user", "register", "alice", "Alice Liddell",
	    "--socket", A.sock);
	cr_assert(strstr(r.out, "registered @alice") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "@a.example") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "federated"), "%s", r.out);
	cr_assert_null(strstr(r.out, "\033["), "colour in a pipe: %s", r.out);
	fr_free(&r);
	r = EXPECT(0, alice.home, "client", "add");
	fr_free(&r);
	j = FEDCTL_JSON(0, alice.home, "user", "show");
	snprintf(alice.qid, sizeof(alice.qid), "%s",
	    fr_str(j, "user.qualified_id"));
	json_decref(j);
	user_make(&bob, &B, "bob", "Bob Builder");

	/* Finding bob on b.example: b's policy for a.example is exact
	 * handle search. Text: the federated marker; JSON: the domain. */
	r = EXPECT(0, alice.home, "find", "bob@b.example");
	cr_assert(strstr(r.out, "@bob") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, bob.qid) != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "[federated: b.example]") != NULL, "%s", r.out);
	fr_free(&r);
	j = FEDCTL_JSON(0, alice.home, "find", "bob@b.example");
	cr_assert_str_eq(fr_str(j, "user.domain"), "b.example");
	cr_assert_str_eq(fr_str(j, "user.qualified_id"), bob.qid);
	cr_assert_str_eq(fr_str(j, "user.handle"), "bob");
	cr_assert_str_eq(fr_str(j, "user.name"), "Bob Builder");
	cr_assert(fr_bool(j, "user.federated"));
	json_decref(j);
	/* A local user: no marker. */
	r = EXPECT(0, alice.home, "find", "alice");
	cr_assert(strstr(r.out, alice.qid) != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "[federated"), "%s", r.out);
	fr_free(&r);
	/* Exact handle search: the handle, and nothing for a prefix. */
	j = FEDCTL_JSON(0, alice.home, "search", "bob", "--domain", "b.example");
	cr_assert_str_eq(fr_str(j, "search_policy"), "exact_handle_search");
	cr_assert_eq(json_array_size(json_object_get(j, "users")), 1);
	json_decref(j);
	j = FEDCTL_JSON(0, alice.home, "search", "bo", "--domain", "b.example");
	cr_assert_eq(json_array_size(json_object_get(j, "users")), 0);
	json_decref(j);
	/* Nobody by that handle: exit 1. */
	r = EXPECT(1, alice.home, "find", "nobody@b.example");
	fr_free(&r);

	/* Connecting across domains. */
	j = FEDCTL_JSON(0, alice.home, "connect", "bob@b.example");
	cr_assert_str_eq(fr_str(j, "connection.relation"), "sent");
	cr_assert_str_eq(fr_str(j, "connection.to.domain"), "b.example");
	json_decref(j);
	r = EXPECT(0, bob.home, "inbox");
	cr_assert(strstr(r.out, "pending") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, alice.qid) != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "[federated: a.example]") != NULL, "%s", r.out);
	fr_free(&r);
	r = EXPECT(0, bob.home, "accept", alice.qid);
	cr_assert(strstr(r.out, "accepted") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "@alice") != NULL, "%s", r.out);
	fr_free(&r);
	j = FEDCTL_JSON(0, alice.home, "connections");
	ev = json_array_get(json_object_get(j, "connections"), 0);
	cr_assert_str_eq(fr_str(ev, "relation"), "accepted");
	cr_assert_str_eq(fr_str(ev, "to.qualified_id"), bob.qid);
	cr_assert(fr_bool(ev, "to.federated"));
	json_decref(j);

	/* A conversation of a.example with bob. */
	j = FEDCTL_JSON(0, alice.home, "conv", "create", "Tea Party",
	    "bob@b.example");
	cr_assert_str_eq(fr_str(j, "conversation.domain"), "a.example");
	cr_assert_not(fr_bool(j, "conversation.federated"));
	members = json_object_get(json_object_get(j, "conversation"), "members");
	json_array_foreach (members, i, m)
		if (strcmp(fr_str(m, "qualified_id"), bob.qid) == 0) {
			saw_bob = true;
			cr_assert(fr_bool(m, "federated"));
			cr_assert_str_eq(fr_str(m, "domain"), "b.example");
		}
	cr_assert(saw_bob);
	json_decref(j);
	/* For bob it is remote: marked with its domain. */
	r = EXPECT(0, bob.home, "conv", "list");
	cr_assert(strstr(r.out, "Tea Party") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "[federated: a.example]") != NULL, "%s", r.out);
	fr_free(&r);
	j = FEDCTL_JSON(0, bob.home, "conv", "list");
	ev = json_array_get(json_object_get(j, "conversations"), 0);
	cr_assert_str_eq(fr_str(ev, "domain"), "a.example");
	cr_assert(fr_bool(ev, "federated"));
	json_decref(j);

	/* Messages both ways, each decrypted to exactly what was sent. */
	r = EXPECT(0, alice.home, "send", "Tea Party",
	    "Why is a raven like a writing-desk?");
	cr_assert(strstr(r.out, "sent to 1 client") != NULL, "%s", r.out);
	fr_free(&r);
	j = FEDCTL_JSON(0, bob.home, "inbox");
	cr_assert_str_eq(first_message(j, &ev),
	    "Why is a raven like a writing-desk?");
	cr_assert_str_eq(fr_str(ev, "sender.qualified_id"), alice.qid);
	cr_assert(fr_bool(ev, "sender.federated"));
	cr_assert_str_eq(fr_str(ev, "conversation.domain"), "a.example");
	json_decref(j);
	r = EXPECT(0, bob.home, "inbox", "--ack");
	cr_assert(strstr(r.out, "Why is a raven like a writing-desk?") != NULL,
	    "%s", r.out);
	fr_free(&r);
	r = EXPECT(0, bob.home, "send", "Tea Party", "I haven't the slightest idea");
	fr_free(&r);
	j = FEDCTL_JSON(0, alice.home, "inbox", "--ack");
	cr_assert_str_eq(first_message(j, &ev), "I haven't the slightest idea");
	cr_assert_str_eq(fr_str(ev, "sender.qualified_id"), bob.qid);
	cr_assert(fr_bool(ev, "sender.federated"));
	cr_assert_str_eq(fr_str(ev, "sender.domain"), "b.example");
	json_decref(j);
	r = EXPECT(0, alice.home, "inbox");
	cr_assert(strstr(r.out, "no new events") != NULL, "%s", r.out);
	fr_free(&r);
}

/* Reads a whole binary file; *len its size (0 if missing). */
static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE    *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t   cap = 0, n = 0, got;

	*len = 0;
	if (f == NULL)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* Whether `what` occurs in the file (which must exist if must_exist). */
static bool
file_has(const char *path, const char *what, bool must_exist)
{
	size_t   n;
	uint8_t *buf = read_all(path, &n);
	bool     found;

	if (must_exist)
		cr_assert_not_null(buf, "%s does not exist", path);
	found = buf != NULL && memmem(buf, n, what, strlen(what)) != NULL;
	free(buf);
	return found;
}

/* Every file that holds a backend's data: the SQLite file and its
 * write-ahead log and shared-memory index. */
static void
assert_not_in_db(const td_fed *f, const char *plain)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char                     path[600];
	size_t                   existing = 0;

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", f->db, suffix[i]);
		existing += access(path, F_OK) == 0;
		cr_assert_not(file_has(path, plain, false),
		    "the plaintext \"%s\" is in %s", plain, path);
	}
	cr_assert_geq(existing, 1, "no database files for %s", f->domain);
}

/* Whether any of a backend's database files contains `what`. */
static bool
db_has(const td_fed *f, const char *what)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char                     path[600];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", f->db, suffix[i]);
		if (file_has(path, what, false))
			return true;
	}
	return false;
}

static void
assert_not_on_wire(relay *r, const char *plain, const char *which)
{
	pthread_mutex_lock(&r->mtx);
	cr_assert_null(memmem(r->rec, r->n, plain, strlen(plain)),
	    "the plaintext \"%s\" crossed the wire %s", plain, which);
	pthread_mutex_unlock(&r->mtx);
}

Test(fedctl_user, plaintext_never_on_servers)
{
	pair        p;
	json_t     *j;
	char        to_bob[128], to_alice[128], room[64];
	unsigned    tag;
	fr_run      r;
	const char *logs[2] = {A.log, B.log};

	/* Random markers, so that no other run or fixture holds them. */
	tag = (unsigned) getpid() ^ (unsigned) tu_now_ms();
	snprintf(to_bob, sizeof(to_bob), "canary-to-bob-%08x-off-with-her-head",
	    tag);
	snprintf(to_alice, sizeof(to_alice),
	    "canary-to-alice-%08x-painting-the-roses-red", tag);
	snprintf(room, sizeof(room), "room-%08x", tag);
	pair_make(&p, room);

	r = EXPECT(0, p.alice.home, "send", p.conv, to_bob);
	fr_free(&r);
	r = EXPECT(0, p.bob.home, "send", room, to_alice);
	fr_free(&r);
	j = FEDCTL_JSON(0, p.bob.home, "inbox");
	cr_assert_str_eq(first_message(j, NULL), to_bob);
	json_decref(j);
	j = FEDCTL_JSON(0, p.alice.home, "inbox");
	cr_assert_str_eq(first_message(j, NULL), to_alice);
	json_decref(j);

	/* Federation traffic went through the relays, as TLS: every
	 * connection that carried bytes opened with a handshake record
	 * (others are the channels' bare reachability probes), and data
	 * went as application-data records. Else this test proves nothing. */
	pthread_mutex_lock(&B_IN.mtx);
	cr_assert_geq(B_IN.talked, 1, "a.example never dialed b.example");
	cr_assert_eq(B_IN.tls_starts, B_IN.talked);
	cr_assert_geq(B_IN.app_records, 4);
	cr_assert_gt(B_IN.n, 1000);
	pthread_mutex_unlock(&B_IN.mtx);
	pthread_mutex_lock(&A_IN.mtx);
	cr_assert_geq(A_IN.talked, 1, "b.example never dialed a.example");
	cr_assert_eq(A_IN.tls_starts, A_IN.talked);
	cr_assert_geq(A_IN.app_records, 4);
	pthread_mutex_unlock(&A_IN.mtx);

	/* While the daemons run, and after they stopped (checkpointed). */
	for (int pass = 0; pass < 2; pass++) {
		assert_not_in_db(&A, to_bob);
		assert_not_in_db(&A, to_alice);
		assert_not_in_db(&B, to_bob);
		assert_not_in_db(&B, to_alice);
		/* The search reads what the backends store in clear: the
		 * conversation's name is there, on both sides. */
		cr_assert(db_has(&A, room), "%s not in a's database", room);
		cr_assert(db_has(&B, room), "%s not in b's database", room);
		if (pass == 0) {
			td_stop(T, 0);
			td_stop(T, 1);
		}
	}
	assert_not_on_wire(&B_IN, to_bob, "from a.example to b.example");
	assert_not_on_wire(&B_IN, to_alice, "between a.example and b.example");
	assert_not_on_wire(&A_IN, to_bob, "between b.example and a.example");
	assert_not_on_wire(&A_IN, to_alice, "from b.example to a.example");
	/* Nor in the logs, nor in either user's key store. */
	for (int i = 0; i < 2; i++) {
		cr_assert_not(file_has(logs[i], to_bob, true));
		cr_assert_not(file_has(logs[i], to_alice, true));
	}
	{
		char ks[700];

		snprintf(ks, sizeof(ks), "%s/alice@a.example.json", p.alice.home);
		cr_assert_not(file_has(ks, to_bob, true));
		cr_assert_not(file_has(ks, to_alice, true));
		snprintf(ks, sizeof(ks), "%s/bob@b.example.json", p.bob.home);
		cr_assert_not(file_has(ks, to_bob, true));
		cr_assert_not(file_has(ks, to_alice, true));
	}
}

Test(fedctl_user, usage_errors_exit_2)
{
	static const char *const cmds[] = {"user", "client", "find", "search",
		"profile", "connect", "accept", "block", "connections", "conv",
		"send", "inbox", "ack"};
	char home[600];
	fr_run r;

	snprintf(home, sizeof(home), "%s/home-nobody", T->dir);
	r = EXPECT(0, home, "--help");
	cr_assert(strstr(r.out, "exit codes") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "  3  ") != NULL, "exit code 3 undocumented");
	cr_assert(strstr(r.out, "conv") != NULL, "%s", r.out);
	fr_free(&r);
	/* Every user command has --help, naming exit code 3 too. */
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = EXPECT(0, home, cmds[i], "--help");
		cr_assert(strstr(r.out, "usage: fedctl") != NULL, "%s: %s",
		    cmds[i], r.out);
		cr_assert(strstr(r.out, "--json") != NULL, "%s", cmds[i]);
		cr_assert(strstr(r.out, "3 another") != NULL, "%s", cmds[i]);
		fr_free(&r);
	}
	r = EXPECT(0, home, "conv", "create", "--help");
	fr_free(&r);

	r = EXPECT(2, home, "find");
	cr_assert(strstr(r.err, "fedctl find") != NULL, "%s", r.err);
	fr_free(&r);
	r = EXPECT(2, home, "send", "--frobnicate", "x", "y");
	cr_assert(strstr(r.err, "unknown option") != NULL, "%s", r.err);
	fr_free(&r);
	r = EXPECT(2, home, "conv", "rename", "x");
	fr_free(&r);
	r = EXPECT(2, home, "conv");
	fr_free(&r);
	r = EXPECT(2, home, "find", "Not A Handle!", "--socket", A.sock);
	fr_free(&r);
	r = EXPECT(2, home, "client", "add", "--prekeys", "0");
	fr_free(&r);
	r = EXPECT(2, home, "inbox", "--timeout", "soon");
	fr_free(&r);
	r = EXPECT(2, home, "search", "x", "--domain");
	fr_free(&r);
	/* --json says so too, and usage errors stay exit 2 with it. */
	r = EXPECT(2, home, "send", "only-a-conversation", "--json");
	fr_free(&r);
	/* Not usage errors: no user yet (1), no daemon there (1). */
	r = EXPECT(1, home, "inbox");
	cr_assert(strstr(r.err, "user register") != NULL, "%s", r.err);
	fr_free(&r);
	r = EXPECT(1, home, "find", "bob", "--socket", "/nonexistent/x.sock");
	cr_assert(strstr(r.err, "is the federator running") != NULL, "%s",
	    r.err);
	fr_free(&r);
}

Test(fedctl_user, remote_failure_exits_3)
{
	pair    p;
	json_t *j, *err;
	fr_run  r;

	pair_make(&p, "Croquet");
	/* A domain the allow list refuses: a federation refusal. */
	r = EXPECT(3, p.alice.home, "find", "cat@c.example");
	cr_assert(strstr(r.err, "c.example") != NULL, "%s", r.err);
	fr_free(&r);

	/* b.example goes away (daemon and its address). */
	td_stop(T, 1);
	relay_stop(&B_IN);
	r = EXPECT(3, p.alice.home, "find", "bob@b.example");
	cr_assert(strstr(r.err, "b.example") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "UNAVAILABLE") != NULL, "%s", r.err);
	fr_free(&r);
	j = FEDCTL_JSON(3, p.alice.home, "find", "bob@b.example");
	err = json_object_get(j, "error");
	cr_assert_not_null(err);
	cr_assert(fr_bool(err, "remote"));
	cr_assert_eq(json_integer_value(json_object_get(err, "exit_code")), 3);
	cr_assert_str_eq(fr_str(err, "status"), "UNAVAILABLE");
	json_decref(j);
	/* Sending to a conversation with bob: nothing reaches b.example,
	 * and the answer does not claim otherwise. */
	j = FEDCTL_JSON(3, p.alice.home, "send", "Croquet", "anyone there?");
	cr_assert_not(fr_bool(j, "sent"), "%s", json_dumps(j, 0));
	cr_assert_eq(json_array_size(json_object_get(j, "delivered")), 0);
	cr_assert_geq(json_array_size(json_object_get(j, "failed_to_send")), 1);
	cr_assert_str_eq(fr_str(json_array_get(json_object_get(j,
				  "failed_to_send"), 0),
			     "user.domain"),
	    "b.example");
	json_decref(j);
	r = EXPECT(3, p.alice.home, "profile", "bob@b.example");
	fr_free(&r);
	/* What needs only our own backend still works. */
	r = EXPECT(0, p.alice.home, "conv", "list");
	cr_assert(strstr(r.out, "Croquet") != NULL, "%s", r.out);
	fr_free(&r);
}

Test(fedctl_user, key_store_is_private_and_prekeys_forgotten_on_ack)
{
	pair        p;
	char        ks[700];
	struct stat sb;
	json_t     *j, *state, *pks;
	fr_run      r;
	size_t      before, after;

	pair_make(&p, "Keys");
	snprintf(ks, sizeof(ks), "%s/bob@b.example.json", p.bob.home);
	cr_assert_eq(stat(ks, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "key store mode %o",
	    sb.st_mode & 0777);
	cr_assert_eq(stat(p.bob.home, &sb), 0);
	cr_assert_eq(sb.st_mode & 077, 0, "home mode %o", sb.st_mode & 0777);

	/* Readable by others: refused, with the fix named. */
	cr_assert_eq(chmod(ks, 0640), 0);
	r = EXPECT(1, p.bob.home, "inbox");
	cr_assert(strstr(r.err, "refusing") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "chmod 600") != NULL, "%s", r.err);
	fr_free(&r);
	r = EXPECT(1, p.bob.home, "client", "list");
	fr_free(&r);
	cr_assert_eq(chmod(ks, 0604), 0);
	r = EXPECT(1, p.bob.home, "send", "Keys", "x");
	fr_free(&r);
	cr_assert_eq(chmod(ks, 0600), 0);

	/* A one-time prekey is used by one message, kept until the message
	 * is acknowledged (a second fetch still opens it), then forgotten. */
	state = json_load_file(ks, 0, NULL);
	pks   = json_object_get(json_array_get(json_object_get(state,
				  "clients"), 0),
	      "prekeys");
	before = json_array_size(pks);
	json_decref(state);
	r = EXPECT(0, p.alice.home, "send", "Keys", "read me twice");
	fr_free(&r);
	for (int i = 0; i < 2; i++) {
		j = FEDCTL_JSON(0, p.bob.home, "inbox");
		cr_assert_str_eq(first_message(j, NULL), "read me twice");
		json_decref(j);
	}
	r = EXPECT(0, p.bob.home, "ack");
	cr_assert(strstr(r.out, "acknowledged") != NULL, "%s", r.out);
	fr_free(&r);
	state = json_load_file(ks, 0, NULL);
	cr_assert_not_null(state);
	pks = json_object_get(json_array_get(json_object_get(state, "clients"),
			          0),
	    "prekeys");
	after = json_array_size(pks);
	json_decref(state);
	cr_assert_eq(after, before - 1, "prekeys %zu -> %zu", before, after);
	cr_assert_eq(stat(ks, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
}

Test(fedctl_user, colour_only_on_a_terminal)
{
	pair  p;
	char *out;
	fr_run r;

	pair_make(&p, "Colours");
	out = fr_fedctl_tty(p.alice.home, NULL,
	    (const char *const[]){"find", "bob@b.example", NULL});
	cr_assert(strstr(out, "\033[1;33m[federated: b.example]\033[0m") != NULL,
	    "no coloured marker on a terminal: %s", out);
	free(out);
	out = fr_fedctl_tty(p.alice.home, "NO_COLOR=1",
	    (const char *const[]){"find", "bob@b.example", NULL});
	cr_assert(strstr(out, "[federated: b.example]") != NULL, "%s", out);
	cr_assert_null(strstr(out, "\033["), "colour despite NO_COLOR: %s", out);
	free(out);
	/* Piped: plain. */
	r = EXPECT(0, p.bob.home, "conv", "list");
	cr_assert(strstr(r.out, "[federated: a.example]") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "\033["), "%s", r.out);
	fr_free(&r);
}

/* How many conversations a user lists. */
static size_t
conv_count(const user *u)
{
	json_t *j = FEDCTL_JSON(0, u->home, "conv", "list");
	size_t  n = json_array_size(json_object_get(j, "conversations"));

	json_decref(j);
	return n;
}

Test(fedctl_user, membership_leave_and_block)
{
	pair    p;
	json_t *j;
	fr_run  r;

	pair_make(&p, "Court");
	/* A second conversation, bob added and removed by its owner. */
	j = FEDCTL_JSON(0, p.alice.home, "conv", "create", "Garden");
	cr_assert_eq(json_array_size(json_object_get(
	                 json_object_get(j, "conversation"), "members")),
	    1);
	json_decref(j);
	cr_assert_eq(conv_count(&p.bob), 1);
	j = FEDCTL_JSON(0, p.alice.home, "conv", "add", "Garden",
	    "bob@b.example");
	cr_assert_eq(json_array_size(json_object_get(
	                 json_object_get(j, "conversation"), "members")),
	    2);
	json_decref(j);
	cr_assert_eq(conv_count(&p.bob), 2);
	r = EXPECT(0, p.bob.home, "conv", "show", "Garden");
	cr_assert(strstr(r.out, "[federated: a.example]") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "@alice") != NULL, "%s", r.out);
	fr_free(&r);
	/* Only the owner changes members. */
	r = EXPECT(1, p.bob.home, "conv", "remove", "Garden", "alice@a.example");
	cr_assert(strstr(r.err, "owned by a.example") != NULL, "%s", r.err);
	fr_free(&r);
	r = EXPECT(0, p.alice.home, "conv", "remove", "Garden", p.bob.qid);
	fr_free(&r);
	cr_assert_eq(conv_count(&p.bob), 1);

	/* bob leaves alice's conversation from his side (a remote leave). */
	r = EXPECT(0, p.bob.home, "conv", "leave", "Court");
	cr_assert(strstr(r.out, "left") != NULL, "%s", r.out);
	fr_free(&r);
	cr_assert_eq(conv_count(&p.bob), 0);
	j = FEDCTL_JSON(0, p.alice.home, "conv", "show", "Court");
	cr_assert_eq(json_array_size(json_object_get(
	                 json_object_get(j, "conversation"), "members")),
	    1);
	json_decref(j);
	r = EXPECT(0, p.alice.home, "inbox");
	cr_assert(strstr(r.out, "members left") != NULL, "%s", r.out);
	fr_free(&r);
	r = EXPECT(1, p.bob.home, "send", "Court", "let me back in");
	cr_assert(strstr(r.err, "no conversation") != NULL, "%s", r.err);
	fr_free(&r);

	/* Blocking is bob's side only; alice is not told. */
	j = FEDCTL_JSON(0, p.bob.home, "block", "alice@a.example");
	cr_assert_str_eq(fr_str(j, "connection.relation"), "blocked");
	json_decref(j);
	j = FEDCTL_JSON(0, p.alice.home, "connections");
	cr_assert_str_eq(fr_str(json_array_get(json_object_get(j,
				  "connections"), 0),
			     "relation"),
	    "accepted");
	json_decref(j);
}

Test(fedctl_user, wrong_keys_cannot_read)
{
	pair        p;
	char        ks[700];
	json_t     *state, *pks, *pk, *j, *ev;
	size_t      i, n;
	const char *first;
	char       *saved;
	fr_run      r;

	pair_make(&p, "Mirror");
	/* Rotate bob's private prekeys by one: each public key now pairs
	 * with another's private key, as if the key store were not his. */
	snprintf(ks, sizeof(ks), "%s/bob@b.example.json", p.bob.home);
	cr_assert_not_null(state = json_load_file(ks, 0, NULL));
	pks = json_object_get(json_array_get(json_object_get(state, "clients"),
			          0),
	    "prekeys");
	n = json_array_size(pks);
	cr_assert_gt(n, 2);
	first = json_string_value(
	    json_object_get(json_array_get(pks, 0), "private"));
	saved = strdup(first);
	json_array_foreach (pks, i, pk) {
		json_t *next = json_array_get(pks, (i + 1) % n);

		json_object_set_new(pk, "private",
		    json_string(i + 1 < n ? json_string_value(json_object_get(
						next, "private"))
					  : saved));
	}
	free(saved);
	cr_assert_eq(json_dump_file(state, ks, JSON_INDENT(2)), 0);
	cr_assert_eq(chmod(ks, 0600), 0);
	json_decref(state);

	r = EXPECT(0, p.alice.home, "send", "Mirror", "through the looking glass");
	fr_free(&r);
	j = FEDCTL_JSON(1, p.bob.home, "inbox");
	cr_assert_eq(json_integer_value(json_object_get(j, "undecryptable")), 1);
	json_array_foreach (json_object_get(j, "events"), i, ev)
		if (strcmp(fr_str(ev, "type"), "message") == 0) {
			cr_assert_not(fr_bool(ev, "decrypted"));
			cr_assert_null(json_object_get(ev, "text"));
			cr_assert(strstr(fr_str(ev, "error"), "wrong key") != NULL);
		}
	json_decref(j);
	r = EXPECT(1, p.bob.home, "inbox");
	cr_assert(strstr(r.out, "[cannot decrypt") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "looking glass"), "%s", r.out);
	cr_assert(strstr(r.err, "could not be decrypted") != NULL, "%s", r.err);
	fr_free(&r);
}

/* ---- sessions ---- */

/* The sessions of the first client in a user's key store (a new
 * reference), after checking the file is still private. */
static json_t *
stored_sessions(const user *u, const char *handle)
{
	char        ks[700];
	struct stat sb;
	json_t     *state, *ss;

	snprintf(ks, sizeof(ks), "%s/%s@%s.json", u->home, handle, u->domain);
	cr_assert_eq(stat(ks, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "%s: mode %o", ks,
	    sb.st_mode & 0777);
	cr_assert_not_null(state = json_load_file(ks, 0, NULL));
	cr_assert_eq(fr_int(state, "version"), 2);
	ss = json_object_get(
	    json_array_get(json_object_get(state, "clients"), 0), "sessions");
	cr_assert(json_is_array(ss));
	json_incref(ss);
	json_decref(state);
	return ss;
}

/* The one user entry of a send report's list, checking it names user
 * and exactly client. */
static void
expect_only(json_t *report, const char *list, const char *qid,
    const char *client)
{
	json_t *l = json_object_get(report, list), *cs;

	cr_assert_eq(json_array_size(l), 1, "%s: %s", list,
	    json_dumps(report, JSON_INDENT(2)));
	cr_assert_str_eq(fr_str(json_array_get(l, 0), "user.qualified_id"), qid);
	cs = json_object_get(json_array_get(l, 0), "clients");
	cr_assert_eq(json_array_size(cs), 1, "%s", list);
	cr_assert_str_eq(json_string_value(json_array_get(cs, 0)), client);
}

/* Whether `fedctl find` from home finds who (exit 0). */
static bool
find_ok(const char *home, const char *who)
{
	fr_run r  = FEDCTL_RUN(home, "find", who);
	bool ok = r.code == 0;

	fr_free(&r);
	return ok;
}

/* Whether home's inbox holds the decrypted message `text` (what it
 * fetched is acknowledged). */
static bool
inbox_has(const char *home, const char *text)
{
	json_t *j = FEDCTL_JSON(0, home, "inbox", "--ack");
	json_t *ev;
	size_t  i;
	bool    found = false;

	json_array_foreach (json_object_get(j, "events"), i, ev)
		if (strcmp(fr_str(ev, "type"), "message") == 0 &&
		    fr_bool(ev, "decrypted") &&
		    strcmp(fr_str(ev, "text"), text) == 0)
			found = true;
	json_decref(j);
	return found;
}

Test(fedctl_user, a_session_encrypts_while_the_recipients_backend_is_down)
{
	pair        p;
	json_t     *j, *enc, *ss, *ev;
	fr_run      r;
	char        bob_client[20];
	size_t      i, seen = 0;
	const char *order[] = {
	    "during the outage", "still down", "after the outage"};

	pair_make(&p, "Outage");
	/* The first message sets a session up from a claimed prekey. */
	j = FEDCTL_JSON(0, p.alice.home, "send", "Outage", "before the outage");
	cr_assert(fr_bool(j, "sent"));
	enc = json_object_get(j, "encryption");
	cr_assert_eq(fr_int(enc, "sessions_started"), 1);
	cr_assert_eq(fr_int(enc, "sessions_used"), 0);
	snprintf(bob_client, sizeof(bob_client), "%s",
	    json_string_value(json_array_get(json_object_get(json_array_get(
	        json_object_get(j, "delivered"), 0), "clients"), 0)));
	expect_only(j, "delivered", p.bob.qid, bob_client);
	json_decref(j);
	j = FEDCTL_JSON(0, p.bob.home, "inbox", "--ack");
	cr_assert_str_eq(first_message(j, NULL), "before the outage");
	json_decref(j);
	ss = stored_sessions(&p.alice, "alice");
	cr_assert_eq(json_array_size(ss), 1);
	cr_assert_str_eq(fr_str(json_array_get(ss, 0), "role"), "initiator");
	cr_assert_str_eq(fr_str(json_array_get(ss, 0), "peer"), p.bob.qid);
	cr_assert_str_eq(fr_str(json_array_get(ss, 0), "peer_client"), bob_client);
	json_decref(ss);

	/* b.example goes down: its relay still takes connections, and
	 * closes them. Alice still encrypts for bob's client on the session,
	 * asking b.example nothing; a.example, the owner, queues the message
	 * for b.example, and alice is told the truth: nobody got it yet, it
	 * is queued for b.example, and bob's client was taken on trust. */
	td_stop(T, 1);
	j = FEDCTL_JSON(3, p.alice.home, "send", "Outage", "during the outage");
	cr_assert_not(fr_bool(j, "sent"), "%s", json_dumps(j, JSON_INDENT(2)));
	cr_assert_eq(json_array_size(json_object_get(j, "delivered")), 0);
	expect_only(j, "recipients", p.bob.qid, bob_client);
	cr_assert_eq(json_array_size(json_object_get(j, "failed_to_send")), 0);
	cr_assert_eq(json_array_size(json_object_get(j, "queued_for")), 1);
	cr_assert_str_eq(json_string_value(json_array_get(
	                     json_object_get(j, "queued_for"), 0)),
	    "b.example");
	expect_only(j, "failed_to_confirm_clients", p.bob.qid, bob_client);
	cr_assert_str_eq(fr_str(json_array_get(json_object_get(j, "deliveries"), 0),
	                     "state"),
	    "queued");
	enc = json_object_get(j, "encryption");
	cr_assert_eq(fr_int(enc, "sessions_used"), 1);
	cr_assert_eq(fr_int(enc, "sessions_started"), 0);
	cr_assert_eq(json_array_size(
	                 json_object_get(enc, "claim_unreachable_domains")),
	    0, "a prekey was claimed: %s", json_dumps(enc, 0));
	json_decref(j);
	r = EXPECT(3, p.alice.home, "send", "Outage", "still down");
	cr_assert(strstr(r.out, "queued for b.example") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "not delivered to anyone yet") != NULL, "%s",
	    r.out);
	cr_assert(strstr(r.out, "not confirmed") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "sent to"), "%s", r.out);
	cr_assert_null(strstr(r.err, "claim"), "%s", r.err);
	fr_free(&r);
	/* The chain moved on with each message, and was kept. */
	ss = stored_sessions(&p.alice, "alice");
	cr_assert_eq(json_array_size(ss), 1);
	cr_assert_eq(fr_int(json_object_get(json_array_get(ss, 0), "send"), "n"),
	    3);
	json_decref(ss);

	/* b.example is back; once a.example reaches it again, a message on
	 * the same session arrives and opens. */
	td_start(T, 1, NULL);
	cr_assert(TU_WAIT_FOR(find_ok(p.alice.home, "bob@b.example"), TU_WAIT_MS),
	    "b.example unreachable after its restart");
	j = FEDCTL_JSON(0, p.alice.home, "send", "Outage", "after the outage");
	cr_assert(fr_bool(j, "sent"));
	expect_only(j, "delivered", p.bob.qid, bob_client);
	cr_assert_eq(json_array_size(json_object_get(j, "failed_to_send")), 0);
	enc = json_object_get(j, "encryption");
	cr_assert_eq(fr_int(enc, "sessions_used"), 1);
	cr_assert_eq(fr_int(enc, "sessions_started"), 0);
	json_decref(j);
	/* What waited for b.example arrived first, in order, and opens on
	 * the session like the rest. */
	j = FEDCTL_JSON(0, p.bob.home, "inbox");
	cr_assert_eq(fr_int(j, "undecryptable"), 0);
	json_array_foreach (json_object_get(j, "events"), i, ev)
		if (strcmp(fr_str(ev, "type"), "message") == 0) {
			cr_assert(fr_bool(ev, "decrypted"));
			cr_assert_lt(seen, 3, "%s", json_dumps(j, JSON_INDENT(2)));
			cr_assert_str_eq(fr_str(ev, "text"), order[seen], "%s",
			    json_dumps(j, JSON_INDENT(2)));
			seen++;
		}
	cr_assert_eq(seen, 3, "%s", json_dumps(j, JSON_INDENT(2)));
	json_decref(j);

	/* bob answers on the session alice set up: no prekey of hers. */
	j = FEDCTL_JSON(0, p.bob.home, "send", "Outage", "welcome back");
	cr_assert(fr_bool(j, "sent"));
	enc = json_object_get(j, "encryption");
	cr_assert_eq(fr_int(enc, "sessions_used"), 1);
	cr_assert_eq(fr_int(enc, "sessions_started"), 0);
	json_decref(j);
	j = FEDCTL_JSON(0, p.alice.home, "inbox", "--ack");
	cr_assert_str_eq(first_message(j, NULL), "welcome back");
	json_decref(j);
	ss = stored_sessions(&p.bob, "bob");
	cr_assert_eq(json_array_size(ss), 1);
	cr_assert_str_eq(fr_str(json_array_get(ss, 0), "role"), "responder");
	json_decref(ss);

	/* Now the conversation's owner, a.example, is down: bob's message
	 * waits for it on b.example, and alice reads it once a.example is
	 * back. */
	td_stop(T, 0);
	r = EXPECT(3, p.bob.home, "send", "Outage", "while the owner was away");
	cr_assert(strstr(r.out, "queued for a.example") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "sent to"), "%s", r.out);
	fr_free(&r);
	td_start(T, 0, NULL);
	cr_assert(TU_WAIT_FOR(find_ok(p.bob.home, "alice@a.example"), TU_WAIT_MS),
	    "a.example unreachable after its restart");
	cr_assert(TU_WAIT_FOR(inbox_has(p.alice.home,
	                          "while the owner was away"),
	              TU_WAIT_MS),
	    "alice never got the message that waited for a.example");
}

/* A send repeated with the same --id (as after a crash of the backend
 * before its answer) is answered as the first one and goes out once. */
Test(fedctl_user, a_send_repeated_with_its_id_goes_out_once)
{
	pair    p;
	json_t *j, *ev;
	size_t  i, n = 0;
	fr_run  r;

	pair_make(&p, "Once");
	j = FEDCTL_JSON(0, p.alice.home, "send", "Once", "only once", "--id",
	    "msg-0001");
	cr_assert(fr_bool(j, "sent"));
	cr_assert_not(fr_bool(j, "repeated"));
	cr_assert_str_eq(fr_str(j, "message_id"), "msg-0001");
	json_decref(j);
	j = FEDCTL_JSON(0, p.alice.home, "send", "Once", "only once", "--id",
	    "msg-0001");
	cr_assert(fr_bool(j, "repeated"), "%s", json_dumps(j, JSON_INDENT(2)));
	cr_assert_str_eq(fr_str(j, "message_id"), "msg-0001");
	cr_assert_str_eq(fr_str(json_array_get(json_object_get(j, "deliveries"), 0),
	                     "state"),
	    "delivered");
	json_decref(j);
	r = EXPECT(0, p.alice.home, "send", "Once", "only once", "--id",
	    "msg-0001");
	cr_assert(strstr(r.out, "already sent as msg-0001") != NULL, "%s",
	    r.out);
	fr_free(&r);
	j = FEDCTL_JSON(0, p.bob.home, "inbox");
	json_array_foreach (json_object_get(j, "events"), i, ev)
		n += strcmp(fr_str(ev, "type"), "message") == 0;
	cr_assert_eq(n, 1, "%s", json_dumps(j, JSON_INDENT(2)));
	json_decref(j);
	/* The id is checked before anything is sent. */
	r = EXPECT(2, p.alice.home, "send", "Once", "x", "--id", "has space");
	fr_free(&r);
	r = EXPECT(2, p.alice.home, "send", "Once", "x", "--id", "");
	fr_free(&r);
}
